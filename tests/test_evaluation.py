"""Evaluation reports: hand-computed matching, confusions, bootstrap, lexicon baseline, errors, plots, deltas, seeds, notebook."""

from __future__ import annotations

import copy
import json
import logging
import subprocess

import numpy as np
import pytest

from train.baselines import LexiconBaseline
from train.bootstrap import bootstrap_ci, replicate_counts, scores_from_counts
from train.comparison import deltas, headline, load_previous, summary_table
from train.error_analysis import confusion_matrix, find_errors, modality_recall, negative_document_false_positives, pr_curves, type_confusions
from train.matching import align_document, document_counts
from train.records import Document, EventMention

from conftest import FIXTURES, REPO, make_tiny_config, require_shared_eval

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def ev(text: str, start: int, end: int, etype: str, modality: str | None = None, score: float | None = None) -> EventMention:
    return EventMention(start, end, etype, text[start:end], modality, score)


# The hand-made evaluation set. Offsets are literals; each is checked against its word by `ev`.
T1 = "Seoul warned Moscow and sent troops on a visit."
T2 = "Forecasters warned of rain."
T3 = "The annexation of Crimea was condemned."
T4 = "Troops were deployed."
T5 = "Nothing happened."
GOLD = [
    Document("d1", T1, (ev(T1, 6, 12, "WARNING", "asserted"), ev(T1, 24, 28, "DEPLOYMENT", "asserted"), ev(T1, 41, 46, "VISIT", "asserted"))),
    Document("d2", T2, ()),                                           # a negative document
    Document("d3", T3, (ev(T3, 4, 14, "ANNEXATION", "planned"),)),
    Document("d4", T4, (ev(T4, 12, 20, "DEPLOYMENT", "asserted"),)),
    Document("d5", T5, ()),                                           # negative, nothing predicted
]
PRED = [
    Document("d1", T1, (ev(T1, 6, 12, "WARNING", score=0.9),         # exact
                        ev(T1, 24, 35, "DEPLOYMENT", score=0.8),     # partial overlap ("sent troops")
                        ev(T1, 41, 46, "DEPLOYMENT", score=0.7))),   # wrong type
    Document("d2", T2, (ev(T2, 12, 18, "WARNING", score=0.4),)),     # false positive on a negative document
    Document("d3", T3, (ev(T3, 4, 9, "ANNEXATION", score=0.6),       # nested fragments of one gold span
                        ev(T3, 9, 14, "ANNEXATION", score=0.3))),
    Document("d4", T4, ()),                                           # empty prediction
    Document("d5", T5, ()),
]


def test_hand_made_set_offsets_are_the_words():
    assert [e.trigger for e in GOLD[0].events] == ["warned", "sent", "visit"]
    assert PRED[0].events[1].trigger == "sent troops" and [e.trigger for e in PRED[2].events] == ["annex", "ation"]


def test_strict_and_relaxed_counts_by_hand():
    from train.scoring import score_documents

    strict = score_documents(PRED, GOLD, "strict")
    # d1: 1 TP, 2 FP, 2 FN; d2: 1 FP; d3: 2 FP, 1 FN; d4: 1 FN
    assert (strict["tp"], strict["fp"], strict["fn"]) == (1, 5, 4)
    assert strict["micro_precision"] == pytest.approx(1 / 6) and strict["micro_recall"] == pytest.approx(1 / 5)
    assert strict["micro_f1"] == pytest.approx(2 / 11)
    assert strict["per_type"]["WARNING"] == {"precision": 0.5, "recall": 1.0, "f1": pytest.approx(2 / 3), "support": 1, "tp": 1, "fp": 1, "fn": 0}
    assert (strict["per_type"]["DEPLOYMENT"]["fp"], strict["per_type"]["DEPLOYMENT"]["fn"]) == (2, 2)
    assert (strict["per_type"]["ANNEXATION"]["fp"], strict["per_type"]["ANNEXATION"]["fn"]) == (2, 1)
    relaxed = score_documents(PRED, GOLD, "relaxed")
    # partial overlap and one nested fragment become TPs; the wrong type and the second fragment stay FPs
    assert (relaxed["tp"], relaxed["fp"], relaxed["fn"]) == (3, 3, 2)
    assert relaxed["micro_f1"] == pytest.approx(6 / 11)


def test_document_counts_sum_to_the_metric():
    from train.scoring import score_documents

    for mode in ("strict", "relaxed"):
        counts = document_counts(PRED, GOLD, mode)
        assert counts.shape == (5, 4, 3)
        m = score_documents(PRED, GOLD, mode)
        assert counts.sum(axis=(0, 1)).tolist() == [m["tp"], m["fp"], m["fn"]]
        for k, t in enumerate(("WARNING", "DEPLOYMENT", "VISIT", "ANNEXATION")):
            assert counts[:, k].sum(axis=0).tolist() == [m["per_type"][t][c] for c in ("tp", "fp", "fn")]


def test_alignment_confusion_matrix_and_type_confusions():
    a = align_document(PRED[2], GOLD[2])
    assert (a.exact, a.same_type, a.other_type, a.unaligned_pred, a.unaligned_gold) == ((), ((0, 0),), (), (1,), ())
    m = confusion_matrix(PRED, GOLD)
    assert m["rows"] == ["WARNING", "DEPLOYMENT", "VISIT", "ANNEXATION", "spurious"]
    assert m["columns"] == ["WARNING", "DEPLOYMENT", "VISIT", "ANNEXATION", "missed"]
    assert m["counts"] == [
        [1, 0, 0, 0, 0],  # WARNING: exact
        [0, 1, 0, 0, 1],  # DEPLOYMENT: boundary pair (d1), missed (d4)
        [0, 1, 0, 0, 0],  # VISIT predicted as DEPLOYMENT
        [0, 0, 0, 1, 0],  # ANNEXATION: boundary pair (d3)
        [1, 0, 0, 1, 0],  # spurious: warned on d2, second fragment on d3
    ]
    assert type_confusions(m) == [{"gold": "VISIT", "predicted": "DEPLOYMENT", "count": 1}]


def test_false_positives_on_negative_documents():
    assert negative_document_false_positives(PRED, GOLD) == {
        "documents": 2, "documents_with_predictions": 1, "false_positives": 1,
        "per_type": {"WARNING": 1, "DEPLOYMENT": 0, "VISIT": 0, "ANNEXATION": 0},
    }


def test_modality_split_is_recall_only():
    out = modality_recall(PRED, GOLD)
    asserted, other = out["groups"]["asserted"], out["groups"]["other"]
    # asserted gold: warned (hit), sent (relaxed hit only), visit (miss), deployed (miss)
    assert (asserted["support"], asserted["strict_recall"], asserted["relaxed_recall"]) == (4, 0.25, 0.5)
    assert (other["support"], other["strict_recall"], other["relaxed_recall"]) == (1, 0.0, 1.0)
    assert out["by_value"]["planned"]["support"] == 1 and out["not_annotated"] == 0
    assert modality_recall(PRED, [Document(d.id, d.text, tuple(EventMention(e.start, e.end, e.type, e.trigger) for e in d.events)) for d in GOLD]) is None


def test_pr_curve_by_hand():
    curves = pr_curves(PRED, GOLD)
    w = curves["WARNING"]
    assert (w["thresholds"], w["precision"], w["recall"]) == ([0.9, 0.4], [1.0, 0.5], [1.0, 1.0])
    assert w["average_precision"] == 1.0
    assert curves["VISIT"]["predictions"] == 0 and curves["VISIT"]["average_precision"] == 0.0
    assert curves["DEPLOYMENT"]["precision"] == [0.0, 0.0]


def test_errors_records_kinds_order_and_content():
    errors = find_errors(PRED, GOLD, context_chars=10)
    assert [(e["kind"], e["doc_id"], e["type"]) for e in errors] == [
        ("spurious", "d3", "ANNEXATION"), ("spurious", "d2", "WARNING"),        # 2 spurious, 2 boundary: ties go to the fixed kind order
        ("boundary", "d3", "ANNEXATION"), ("boundary", "d1", "DEPLOYMENT"),
        ("missed", "d4", "DEPLOYMENT"), ("wrong_type", "d1", "VISIT->DEPLOYMENT"),
    ]
    assert sum(e["fp"] for e in errors) == 5 and sum(e["fn"] for e in errors) == 4  # every strict FP and FN once
    assert errors[4] == {
        "kind": "missed", "doc_id": "d4", "type": "DEPLOYMENT", "form": "deployed", "start": 12, "end": 20,
        "gold": {"start": 12, "end": 20, "type": "DEPLOYMENT", "trigger": "deployed", "modality": "asserted"},
        "predicted": None, "score": None, "fp": False, "fn": True, "context": "…oops were [[deployed]].",
    }
    boundary = errors[3]
    assert (boundary["start"], boundary["end"], boundary["score"]) == (24, 35, 0.8)
    assert boundary["predicted"]["trigger"] == "sent troops" and boundary["gold"]["trigger"] == "sent"
    assert boundary["context"] == "…oscow and [[sent troops]] on a visi…"


def test_write_report_files_plots_and_markdown(tmp_path):
    from train.scoring import write_report

    m = write_report(tmp_path, "hand", PRED, GOLD, 0, bootstrap_samples=200, bootstrap_seed=1)
    assert m["errors"]["kinds"] == {"missed": 1, "spurious": 2, "wrong_type": 1, "boundary": 2}
    assert m["type_confusions"] == [{"gold": "VISIT", "predicted": "DEPLOYMENT", "count": 1}]
    assert m["negative_documents"]["false_positives"] == 1
    assert m["ci"]["strict"]["micro_f1"][0] <= m["strict"]["micro_f1"] <= m["ci"]["strict"]["micro_f1"][1]
    assert m["ci"]["strict"]["per_type"]["VISIT"]["f1"] == [0.0, 0.0]
    for name in ("metrics.json", "metrics.md", "errors.jsonl", "errors.md", "pr_curves.json", "per_type.png", "confusion.png", "pr_curve.png"):
        assert (tmp_path / name).is_file(), name
    for name in ("per_type.png", "confusion.png", "pr_curve.png"):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 5000
        import matplotlib.image

        h, w = matplotlib.image.imread(str(tmp_path / name)).shape[:2]
        assert h > 200 and w > 200
    lines = (tmp_path / "errors.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(l) for l in lines] == json.loads(json.dumps(find_errors(PRED, GOLD)))
    md = (tmp_path / "metrics.md").read_text(encoding="utf-8")
    assert "| VISIT | DEPLOYMENT | 1 |" in md and "1 predicted span(s) in 1 of 2 negative document(s)" in md
    assert "F1 95% CI" in md and "Recall by modality" in md
    assert "## boundary (2)" in (tmp_path / "errors.md").read_text(encoding="utf-8")


# ---------------------------------------------------------------- bootstrap


def test_bootstrap_is_deterministic_and_contains_the_point_estimate():
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 4, size=(60, 4, 3))
    a, b = bootstrap_ci(counts, 500, seed=3), bootstrap_ci(counts, 500, seed=3)
    assert a == b
    assert bootstrap_ci(counts, 500, seed=4)["micro_f1"] != a["micro_f1"]
    point = scores_from_counts(counts.sum(axis=0))
    lo, hi = a["micro_f1"]
    assert lo < float(point["micro_f1"]) < hi
    for k, t in enumerate(("WARNING", "DEPLOYMENT", "VISIT", "ANNEXATION")):
        lo, hi = a["per_type"][t]["f1"]
        assert lo <= float(point["f1"][k]) <= hi
    assert np.array_equal(replicate_counts(counts, 50, 9, chunk=7), replicate_counts(counts, 50, 9, chunk=100))


def test_bootstrap_tiny_case_by_hand():
    # doc A: one exact hit; doc B: one miss and one false positive (same type)
    counts = np.zeros((2, 4, 3), dtype=int)
    counts[0, 0] = [1, 0, 0]
    counts[1, 0] = [0, 1, 1]
    # a replicate holds A k times, k ~ Binomial(2, 1/2): k=0 -> F1 0, k=1 -> F1 1/2, k=2 -> F1 1
    f1 = scores_from_counts(replicate_counts(counts, 4000, seed=0))["micro_f1"]
    assert set(np.round(f1, 6)) == {0.0, 0.5, 1.0}
    assert np.mean(f1 == 1.0) == pytest.approx(0.25, abs=0.03) and np.mean(f1 == 0.5) == pytest.approx(0.5, abs=0.03)
    ci = bootstrap_ci(counts, 4000, seed=0)
    assert ci["micro_f1"] == [0.0, 1.0]
    assert ci["per_type"]["DEPLOYMENT"] is None  # no span of that type at all
    assert np.all(scores_from_counts(replicate_counts(counts[:1], 100, seed=0))["micro_f1"] == 1.0)  # one document: every replicate is it
    single = bootstrap_ci(counts[:1], 100, seed=0)  # ... so no interval is given
    assert single["micro_f1"] is None and single["per_type"]["WARNING"] is None


def test_bootstrap_rejects_bad_arguments():
    with pytest.raises(ValueError, match="shape"):
        bootstrap_ci(np.zeros((3, 2, 3)))
    with pytest.raises(ValueError, match="n_samples"):
        bootstrap_ci(np.zeros((3, 4, 3)), n_samples=0)
    empty = bootstrap_ci(np.zeros((0, 4, 3)))
    assert empty["micro_f1"] is None


# ---------------------------------------------------------------- lexicon baseline

TRAIN = [
    Document("t1", "Seoul warned Moscow.", (EventMention(6, 12, "WARNING", "warned"),)),
    Document("t2", "Troops were sent to the border.", (EventMention(12, 16, "DEPLOYMENT", "sent"),)),
    Document("t3", "The minister was sent on a visit.", (EventMention(17, 21, "VISIT", "sent"), EventMention(27, 32, "VISIT", "visit"))),
    Document("t4", "Warships were Sent.", (EventMention(14, 18, "DEPLOYMENT", "Sent"),)),
    Document("t5", "A state visit began.", (EventMention(2, 13, "VISIT", "state visit"),)),
    Document("t6", "Marines landed; the envoy landed for talks.", (EventMention(8, 14, "DEPLOYMENT", "landed"), EventMention(26, 32, "VISIT", "landed"))),
    Document("t7", "Beijing moved to extend sovereignty over the reef.", (EventMention(17, 35, "ANNEXATION", "extend sovereignty"),)),
    Document("t8", "Forecasters warned of rain.", ()),
]


def test_lexicon_baseline_on_a_hand_made_corpus():
    b = LexiconBaseline.fit(TRAIN)
    assert b.types == {"warned": "WARNING", "sent": "DEPLOYMENT", "visit": "VISIT", "state visit": "VISIT", "landed": "DEPLOYMENT", "extend sovereignty": "ANNEXATION"}
    text = "WARNED again: troops sent,  the State  Visit and a revisit; they landed. Extend sovereignty!"
    got = [(e.start, e.end, e.type, e.trigger) for e in b.tag(text)]
    assert got == [
        (0, 6, "WARNING", "WARNED"),                # case-insensitive
        (21, 25, "DEPLOYMENT", "sent"),             # majority type (2 DEPLOYMENT vs 1 VISIT)
        (32, 44, "VISIT", "State  Visit"),          # longest match first; any whitespace run inside a form
        (65, 71, "DEPLOYMENT", "landed"),           # 1-1 tie: the first type of EVENT_TYPES; "revisit" is not a word match
        (73, 91, "ANNEXATION", "Extend sovereignty"),
    ]
    scores = {e.trigger.lower(): e.score for e in b.tag(text)}
    # "warned": 1 annotated of 2 occurrences; "sent": 2 DEPLOYMENT of 3; "landed": 1 DEPLOYMENT of 2
    assert scores["warned"] == 0.5 and scores["sent"] == pytest.approx(2 / 3) and scores["landed"] == 0.5
    assert scores["state  visit"] == 1.0
    docs = b.predict_documents([Document("x", text)])
    assert docs[0].id == "x" and len(docs[0].events) == 5
    assert LexiconBaseline.fit([]).tag(text) == []


# ---------------------------------------------------------------- previous run (BASELINE=)


def test_previous_run_deltas_and_tables(tmp_path):
    from train.scoring import write_report

    prev_pred = [PRED[0], Document("d2", T2), PRED[2], PRED[3], PRED[4]]  # a "previous model" without the d2 false positive
    prev = write_report(tmp_path / "prev" / "hand", "hand", prev_pred, GOLD, 0, bootstrap_samples=50)
    loaded = load_previous(tmp_path / "prev" / "hand" / "metrics.json")
    assert set(loaded) == {"hand"}
    assert set(load_previous(tmp_path / "prev")) == {"hand"}
    bundle = tmp_path / "bundle_metrics.json"
    bundle.write_text(json.dumps({"hand": prev}))
    assert set(load_previous(bundle)) == {"hand"}
    with pytest.raises(FileNotFoundError):
        load_previous(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"a": 1}')
    with pytest.raises(ValueError):
        load_previous(tmp_path / "bad.json")

    lexicon = LexiconBaseline.fit(TRAIN).predict_documents(GOLD)
    cur = write_report(tmp_path / "cur", "hand", PRED, GOLD, 0, lexicon=lexicon, previous=loaded["hand"], previous_source="prev.json", bootstrap_samples=50)
    d = cur["previous"]["delta"]
    # the previous model had one false positive fewer: strict P 1/5 vs 1/6, same recall
    assert d["strict_micro_f1"] == pytest.approx(2 / 11 - 2 / 10)
    assert d["strict_micro_recall"] == 0.0
    assert d == pytest.approx({k: headline(cur)[k] - headline(prev)[k] for k in headline(cur)})
    assert deltas(cur, cur["lexicon_baseline"])["strict_micro_f1"] == pytest.approx(cur["strict"]["micro_f1"] - cur["lexicon_baseline"]["strict"]["micro_f1"])
    md = (tmp_path / "cur" / "metrics.md").read_text(encoding="utf-8")
    assert "| previous run (`prev.json`) |" in md and "| lexicon baseline |" in md
    assert f"| {100 * d['strict_micro_f1']:+.1f} |" in md
    table = summary_table({"hand": cur})
    assert "previous strict F1" in table and "| hand | 5 | 5 |" in table
    assert "previous" not in cur["previous"]["metrics"]  # no nesting of older runs


# ---------------------------------------------------------------- config, external sets, model card


def test_eval_and_seed_config_keys(tmp_path):
    from train.config import ConfigError, load_config

    cfg = load_config(REPO / "configs" / "default.yaml")
    assert cfg.eval.external_dir == "../shared/eval" and cfg.eval.bootstrap_samples == 1000 and cfg.train.seeds == []
    assert load_config(REPO / "configs" / "debug.yaml").eval.external_dir is None
    assert load_config(None, ["train.seeds=[13,42,7]"]).train.seeds == [13, 42, 7]
    with pytest.raises(ConfigError, match="train.seeds"):
        load_config(None, ["train.seeds=[1,1]"])
    with pytest.raises(ConfigError, match="eval.bootstrap_samples"):
        load_config(None, ["eval.bootstrap_samples=0"])
    out = subprocess.run(["make", "-n", "train", "SEEDS=13 42 7"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert '"train.seeds=[13,42,7]"' in out
    out = subprocess.run(["make", "-n", "eval", "BASELINE=old/metrics.json"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert "--baseline old/metrics.json" in out


def test_external_sets_found_or_skipped(tmp_path, caplog):
    from train.config import load_config
    from train.scoring import REPO_ROOT, external_sets

    assert REPO_ROOT == REPO
    (tmp_path / "b_set.jsonl").write_text("")
    (tmp_path / "test.jsonl").write_text("")
    (tmp_path / "notes.txt").write_text("")
    assert external_sets(load_config(None, [f"eval.external_dir={tmp_path}"])) == {"b_set": tmp_path / "b_set.jsonl", "external-test": tmp_path / "test.jsonl"}
    with caplog.at_level(logging.INFO, logger="train.scoring"):
        assert external_sets(load_config(None, [f"eval.external_dir={tmp_path / 'absent'}"])) == {}
    assert "absent" in caplog.text
    assert external_sets(load_config(None, ["eval.external_dir=null"])) == {}


def test_external_dir_default_is_shared_eval_beside_the_checkout():
    from train.config import load_config
    from train.scoring import external_sets

    shared = require_shared_eval()
    sets = external_sets(load_config(REPO / "configs" / "default.yaml"))
    assert sets and all(p.parent.resolve() == shared.resolve() for p in sets.values())


def test_model_card_has_real_numbers_and_no_placeholders(tmp_path):
    import yaml

    from train.config import load_config
    from train.modelcard import render_model_card
    from train.scoring import write_report

    cfg = load_config(REPO / "configs" / "debug.yaml")
    lexicon = LexiconBaseline.fit(TRAIN).predict_documents(GOLD)
    metrics = {name: write_report(tmp_path / name, name, PRED, GOLD, 0, lexicon=lexicon, bootstrap_samples=50) for name in ("validation", "test", "voa_dev")}
    run_info = {
        "base_model": {"name_or_path": "embedded:all-MiniLM-L6-v2", "sha256": "ab" * 32},
        "documents": {"train": 6, "validation": 3},
        "multi_seed": {"seeds": [13, 42], "selected_seed": 42, "selection": "best validation strict micro-F1",
                       "mean_std": {"test": {"strict_micro_f1": [0.5, 0.1], "relaxed_micro_f1": [0.6, 0.05]}}},
    }
    card = render_model_card(cfg, run_info, metrics)
    front = yaml.safe_load(card.split("---")[1])
    results = front["model-index"][0]["results"]
    assert [r["dataset"]["type"] for r in results] == ["test", "voa_dev"]  # validation selected the model: not reported
    assert results[0]["metrics"][0] == {"type": "f1", "value": round(2 / 11, 4), "name": "strict micro-F1"}
    for needle in ("seed 42", "50.0 ± 10.0", "English only", "Four event types", "IOB2", "| WARNING |", "Voice of America",
                   "training spans", "lexicon baseline", "18.2 [", "False positives on the 2 documents without any event: 1 span in 1 document."):
        assert needle in card, needle
    for bad in ("None", " ? ", "TODO", "{", "nan"):
        assert bad not in card.split("---", 2)[2], bad


# ---------------------------------------------------------------- on the tiny model (slow)


@pytest.fixture(scope="module")
def tiny_reports(overfit_bundle, tmp_path_factory):
    """``evaluate`` of the overfit tiny bundle with an external folder and a previous run; returns the reports dir."""
    from train.scoring import evaluate

    cfg, bundle = overfit_bundle
    out = tmp_path_factory.mktemp("eval-reports")
    ext = out / "external"
    ext.mkdir()
    (ext / "tiny_ext.jsonl").write_text((FIXTURES / "tiny_validation.jsonl").read_text(encoding="utf-8"), encoding="utf-8")
    prev = out / "previous.json"
    prev.write_text(json.dumps({"dataset": "test", "strict": {**{k: 0.5 for k in ("micro_precision", "micro_recall", "micro_f1", "macro_f1")},
                                                               "per_type": {t: {"f1": 0.5} for t in ("ANNEXATION", "DEPLOYMENT", "VISIT", "WARNING")}},
                                "relaxed": {**{k: 0.5 for k in ("micro_precision", "micro_recall", "micro_f1", "macro_f1")},
                                            "per_type": {t: {"f1": 0.5} for t in ("ANNEXATION", "DEPLOYMENT", "VISIT", "WARNING")}}}))
    c = copy.deepcopy(cfg)
    c.eval.reports_dir = str(out / "reports")
    c.eval.external_dir = str(ext)
    c.eval.bootstrap_samples = 200
    evaluate(c, model_dir=bundle, baseline=prev)
    return out / "reports"


@pytest.mark.slow
def test_evaluate_writes_every_report(tiny_reports):
    assert {p.name for p in tiny_reports.iterdir() if p.is_dir()} == {"validation", "test", "tiny_ext"}
    for name in ("validation", "test", "tiny_ext"):
        d = tiny_reports / name
        for f in ("metrics.json", "metrics.md", "errors.jsonl", "errors.md", "predictions.jsonl", "per_type.png", "confusion.png", "pr_curve.png"):
            assert (d / f).is_file(), (name, f)
        m = json.loads((d / "metrics.json").read_text())
        assert m["gold_spans_not_representable"] == 0
        assert m["lexicon_baseline"]["strict"]["micro_f1"] >= 0 and m["ci"]["strict"]["micro_f1"] is not None
    test = json.loads((tiny_reports / "test" / "metrics.json").read_text())
    assert test["previous"]["delta"]["strict_micro_f1"] == pytest.approx(test["strict"]["micro_f1"] - 0.5)
    assert "previous" not in json.loads((tiny_reports / "validation" / "metrics.json").read_text())
    table = (tiny_reports / "comparison.md").read_text()
    assert all(f"| {n} |" in table for n in ("validation", "test", "tiny_ext")) and "lexicon strict F1" in table


@pytest.mark.slow
def test_error_analysis_notebook_runs_on_the_tiny_reports(tiny_reports, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(REPO / "notebooks" / "02-error-analysis.ipynb", as_version=4)
    monkeypatch.setenv("REPORTS_DIR", str(tiny_reports))
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(REPO / "notebooks")}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 9  # 3 plots x 3 data sets
    text = "\n".join(str(o.get("data", {}).get("text/markdown", "")) + o.get("text", "") for o in outputs)
    assert "tiny_ext" in text and "| data set | missed | spurious | wrong_type | boundary |" in text


@pytest.mark.slow
def test_multi_seed_run_on_the_tiny_model(tmp_path, tiny_model_dir):
    from train.pipeline import run

    cfg = make_tiny_config(tmp_path, tiny_model_dir, "train.seeds=[3,5]", "train.epochs=2", "eval.bootstrap_samples=50", "export.onnx=false")
    bundle = run(cfg)
    for s in (3, 5):
        assert (tmp_path / "run" / f"seed-{s}" / "best" / "config.json").is_file()
        assert (tmp_path / "reports" / "seeds" / f"seed-{s}" / "test" / "metrics.json").is_file()
    summary = json.loads((tmp_path / "reports" / "seeds.json").read_text())
    assert summary["seeds"] == [3, 5] and set(summary["datasets"]) == {"validation", "test"}
    f1 = summary["datasets"]["test"]["strict_micro_f1"]
    vals = [f1["values"]["3"], f1["values"]["5"]]
    assert f1["mean"] == pytest.approx(np.mean(vals)) and f1["std"] == pytest.approx(np.std(vals, ddof=1))
    val = summary["datasets"]["validation"]["strict_micro_f1"]["values"]
    chosen = summary["selected_seed"]
    assert val[str(chosen)] == max(val.values()) and (chosen == 3 or val["5"] > val["3"])
    assert "± " in (tmp_path / "reports" / "seeds.md").read_text()
    info = json.loads((bundle / "run_info.json").read_text())
    assert info["multi_seed"]["selected_seed"] == chosen
    assert f"this bundle is **seed {chosen}**" in (bundle / "README.md").read_text()
    import yaml

    assert yaml.safe_load((bundle / "config.yaml").read_text())["train"]["seed"] == chosen
    exported = json.loads((tmp_path / "reports" / "test" / "metrics.json").read_text())
    assert exported["strict"]["micro_f1"] == f1["values"][str(chosen)]
