"""The local span metric: hand-computed cases, and seqeval (strict IOB2) as an independent route."""

from __future__ import annotations

import random

import pytest

from train.scoring import span_metric


def S(start, end, t):
    return {"start": start, "end": end, "type": t}


@pytest.fixture(scope="module")
def metric():
    return span_metric()


def test_exact_partial_wrong_type_and_missing(metric):
    gold = [[S(0, 5, "VISIT"), S(10, 16, "WARNING"), S(20, 24, "DEPLOYMENT")]]
    pred = [[S(0, 5, "VISIT"),        # exact: TP
             S(10, 14, "WARNING"),     # partial overlap: FP + FN (strict), TP (relaxed)
             S(20, 24, "VISIT")]]      # wrong type: FP(VISIT) + FN(DEPLOYMENT) in both modes
    strict = metric.compute(predictions=pred, references=gold, mode="strict")
    assert (strict["tp"], strict["fp"], strict["fn"]) == (1, 2, 2)
    assert strict["micro_precision"] == pytest.approx(1 / 3)
    assert strict["micro_recall"] == pytest.approx(1 / 3)
    assert strict["micro_f1"] == pytest.approx(1 / 3)
    # per type: VISIT tp1 fp1 fn0 -> P .5 R 1 F 2/3; WARNING tp0 fp1 fn1 -> 0; DEPLOYMENT fn1 -> 0
    assert strict["per_type"]["VISIT"]["f1"] == pytest.approx(2 / 3)
    assert strict["per_type"]["DEPLOYMENT"]["support"] == 1
    assert strict["macro_f1"] == pytest.approx((2 / 3 + 0 + 0) / 3)
    relaxed = metric.compute(predictions=pred, references=gold, mode="relaxed")
    assert (relaxed["tp"], relaxed["fp"], relaxed["fn"]) == (2, 1, 1)
    assert relaxed["per_type"]["WARNING"]["f1"] == 1.0


def test_nested_and_duplicate_predictions_match_once(metric):
    gold = [[S(0, 20, "ANNEXATION")]]
    pred = [[S(0, 6, "ANNEXATION"), S(7, 20, "ANNEXATION")]]
    relaxed = metric.compute(predictions=pred, references=gold, mode="relaxed")
    assert (relaxed["tp"], relaxed["fp"], relaxed["fn"]) == (1, 1, 0)
    strict = metric.compute(predictions=pred, references=gold, mode="strict")
    assert (strict["tp"], strict["fp"], strict["fn"]) == (0, 2, 1)


def test_empty_gold_empty_prediction_and_false_positive_only_document(metric):
    both_empty = metric.compute(predictions=[[]], references=[[]])
    assert both_empty["micro_f1"] == 0.0 and both_empty["tp"] + both_empty["fp"] + both_empty["fn"] == 0
    no_pred = metric.compute(predictions=[[], []], references=[[S(0, 3, "VISIT")], []])
    assert (no_pred["micro_precision"], no_pred["micro_recall"], no_pred["fn"]) == (0.0, 0.0, 1)
    fp_only = metric.compute(predictions=[[S(0, 3, "VISIT")], [S(1, 4, "WARNING")]], references=[[S(0, 3, "VISIT")], []])
    assert (fp_only["tp"], fp_only["fp"], fp_only["fn"]) == (1, 1, 0)
    assert fp_only["micro_precision"] == 0.5 and fp_only["micro_recall"] == 1.0
    assert fp_only["micro_f1"] == pytest.approx(2 / 3)


def test_types_argument_lists_absent_types(metric):
    out = metric.compute(predictions=[[]], references=[[S(0, 1, "VISIT")]], types=["VISIT", "ANNEXATION"])
    assert set(out["per_type"]) == {"VISIT", "ANNEXATION"}
    assert out["macro_f1"] == 0.0  # ANNEXATION has no spans on either side: left out of the macro average


def test_unknown_mode_is_refused(metric):
    with pytest.raises(ValueError, match="mode"):
        metric.compute(predictions=[[]], references=[[]], mode="lenient")


def _char_tags(spans, n):
    tags = ["O"] * n
    for s in spans:
        tags[s["start"]] = "B-" + s["type"]
        for k in range(s["start"] + 1, s["end"]):
            tags[k] = "I-" + s["type"]
    return tags


def _random_spans(rng, n):
    spans, pos = [], 0
    while True:
        pos += rng.randint(0, 6)
        length = rng.randint(1, 4)
        if pos + length > n:
            return spans
        spans.append(S(pos, pos + length, rng.choice(["WARNING", "DEPLOYMENT", "VISIT", "ANNEXATION"])))
        pos += length


def test_strict_mode_agrees_with_seqeval_on_random_documents(metric):
    """Independent route: character-level IOB2 tags scored by seqeval in strict mode."""
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    rng = random.Random(7)
    n = 60
    gold, pred = [], []
    for _ in range(40):
        g = _random_spans(rng, n)
        p = [s for s in g if rng.random() < 0.6] + [s for s in _random_spans(rng, n) if rng.random() < 0.2]
        p = sorted({(s["start"], s["end"], s["type"]): s for s in p}.values(), key=lambda s: s["start"])
        # keep predictions non-overlapping, as the decoder guarantees
        kept, end = [], -1
        for s in p:
            if s["start"] >= end:
                kept.append(s)
                end = s["end"]
        gold.append(g)
        pred.append(kept)
    ours = metric.compute(predictions=pred, references=gold, mode="strict")
    ref = classification_report([_char_tags(g, n) for g in gold], [_char_tags(p, n) for p in pred], mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    assert ours["micro_f1"] == pytest.approx(ref["micro avg"]["f1-score"])
    assert ours["micro_precision"] == pytest.approx(ref["micro avg"]["precision"])
    for t, v in ours["per_type"].items():
        assert v["f1"] == pytest.approx(ref[t]["f1-score"]), t
        assert v["support"] == ref[t]["support"]
