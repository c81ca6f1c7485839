"""Entity-level precision, recall and F1 on document-level character spans.

A local ``evaluate`` metric module (load it with
``evaluate.load("<path to this folder>")``; nothing is fetched from a hub).

Matching modes:

- ``strict``: a predicted span is a true positive iff a gold span has the same
  ``start``, ``end`` and ``type`` (the CoNLL-2003 exact-match criterion, as in
  seqeval's strict IOB2 mode, but on characters rather than tokens).
- ``relaxed``: a predicted span is a true positive iff it overlaps a gold span
  of the same type; each gold span matches at most one prediction (greedy, in
  order of start offset), so duplicates count as false positives.

Precision = TP / (TP + FP), recall = TP / (TP + FN), F1 = their harmonic mean;
each is 0.0 when its denominator is 0. Micro scores pool the counts of all
types; macro scores average the per-type scores over the types that have gold
or predicted spans.
"""

import datasets
import evaluate

_DESCRIPTION = __doc__
_KWARGS_DESCRIPTION = """
Args:
    predictions: one list per document of spans, each a dict with int ``start``, int ``end`` (exclusive) and str ``type``.
    references: the gold spans, same structure and document order.
    mode: "strict" (default) or "relaxed".
    types: optional list of types to report even when absent from both sides.
Returns:
    dict with ``micro_precision``, ``micro_recall``, ``micro_f1``, ``macro_precision``, ``macro_recall``,
    ``macro_f1``, ``tp``, ``fp``, ``fn`` and ``per_type``: {type: {precision, recall, f1, support, tp, fp, fn}}.
Examples:
    >>> m = evaluate.load("train/metrics/event_span_f1")
    >>> m.compute(predictions=[[{"start": 0, "end": 5, "type": "VISIT"}]],
    ...           references=[[{"start": 0, "end": 5, "type": "VISIT"}]])["micro_f1"]
    1.0
"""
_SPAN = {"start": datasets.Value("int64"), "end": datasets.Value("int64"), "type": datasets.Value("string")}


def _prf(tp, fp, fn):
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def match_document(pred, gold, mode="strict"):
    """Return the list of ``(pred_index, gold_index)`` matches for one document."""
    if mode == "strict":
        index = {(g["start"], g["end"], g["type"]): k for k, g in enumerate(gold)}
        pairs = []
        used = set()
        for k, p in enumerate(pred):
            g = index.get((p["start"], p["end"], p["type"]))
            if g is not None and g not in used:
                used.add(g)
                pairs.append((k, g))
        return pairs
    if mode != "relaxed":
        raise ValueError(f"mode must be 'strict' or 'relaxed', got {mode!r}")
    pairs = []
    used = set()
    for k in sorted(range(len(pred)), key=lambda i: (pred[i]["start"], pred[i]["end"])):
        p = pred[k]
        best = None
        for g in sorted(range(len(gold)), key=lambda i: (gold[i]["start"], gold[i]["end"])):
            q = gold[g]
            if g in used or q["type"] != p["type"]:
                continue
            if p["start"] < q["end"] and q["start"] < p["end"]:
                best = g
                break
        if best is not None:
            used.add(best)
            pairs.append((k, best))
    return pairs


def score_spans(predictions, references, mode="strict", types=None):
    """Pure-Python scorer behind the metric (see module docstring)."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} prediction lists for {len(references)} reference lists")
    counts = {}
    for t in types or []:
        counts[t] = [0, 0, 0]
    for pred, gold in zip(predictions, references):
        pairs = match_document(pred, gold, mode)
        matched_p = {k for k, _ in pairs}
        matched_g = {g for _, g in pairs}
        for k, p in enumerate(pred):
            c = counts.setdefault(p["type"], [0, 0, 0])
            c[0 if k in matched_p else 1] += 1
        for g, q in enumerate(gold):
            if g not in matched_g:
                counts.setdefault(q["type"], [0, 0, 0])[2] += 1
    per_type = {}
    for t in sorted(counts):
        tp, fp, fn = counts[t]
        p, r, f = _prf(tp, fp, fn)
        per_type[t] = {"precision": p, "recall": r, "f1": f, "support": tp + fn, "tp": tp, "fp": fp, "fn": fn}
    tp = sum(c[0] for c in counts.values())
    fp = sum(c[1] for c in counts.values())
    fn = sum(c[2] for c in counts.values())
    p, r, f = _prf(tp, fp, fn)
    active = [v for v in per_type.values() if v["tp"] + v["fp"] + v["fn"] > 0]
    n = len(active)
    return {
        "micro_precision": p,
        "micro_recall": r,
        "micro_f1": f,
        "macro_precision": sum(v["precision"] for v in active) / n if n else 0.0,
        "macro_recall": sum(v["recall"] for v in active) / n if n else 0.0,
        "macro_f1": sum(v["f1"] for v in active) / n if n else 0.0,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "per_type": per_type,
    }


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class EventSpanF1(evaluate.Metric):
    """Entity-level span P/R/F1 (strict or relaxed) for event mentions."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.List(_SPAN), "references": datasets.List(_SPAN)}
            ),
        )

    def _compute(self, predictions, references, mode="strict", types=None):
        return score_spans(predictions, references, mode=mode, types=types)
