"""Error analysis of predicted spans against gold: error kinds, confusions, threshold curves.

All of it rests on the one-to-one alignment of :func:`train.matching.align_document`
(exact pairs first, then overlapping pairs of the same type, then overlapping pairs of
different types). Every strict false positive and false negative falls into exactly one
**error kind**:

- ``missed``: a gold span that no prediction is aligned with (1 FN);
- ``spurious``: a prediction aligned with no gold span (1 FP) -- including a second
  fragment or duplicate inside a gold span that another prediction is already aligned with;
- ``wrong_type``: a prediction overlapping a gold span of another type (1 FP + 1 FN),
  whether or not the offsets also differ;
- ``boundary``: a prediction overlapping a gold span of the same type with different
  offsets (1 FP + 1 FN; a true positive under relaxed matching).

So, per data set, ``FP = spurious + wrong_type + boundary`` and
``FN = missed + wrong_type + boundary`` under strict matching.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .baselines import normalise_form
from .labels import EVENT_TYPES
from .matching import align_document, check_pairing, matched_pairs
from .records import Document, EventMention

#: Error kinds, in the order used to break ties between equally frequent kinds.
ERROR_KINDS = ("missed", "spurious", "wrong_type", "boundary")
#: Extra row / column of the confusion matrix: predictions without gold / gold without prediction.
SPURIOUS, MISSED = "spurious", "missed"
#: Modality groups of the recall split.
ASSERTED, OTHER = "asserted", "other"


def _span(e: EventMention, gold: bool) -> dict[str, Any]:
    d: dict[str, Any] = {"start": e.start, "end": e.end, "type": e.type, "trigger": e.trigger}
    if gold:
        d["modality"] = e.modality
    else:
        d["score"] = None if e.score is None else round(float(e.score), 6)
    return d


def context_window(text: str, start: int, end: int, chars: int = 60) -> str:
    """``chars`` characters either side of ``text[start:end]``, the span marked ``[[...]]``.

    Newlines and tabs become spaces; ``…`` marks a cut at either end. Returns one line.
    """
    lo, hi = max(0, start - chars), min(len(text), end + chars)
    s = ("…" if lo > 0 else "") + text[lo:start] + "[[" + text[start:end] + "]]" + text[end:hi] + ("…" if hi < len(text) else "")
    return s.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def find_errors(predicted: Sequence[Document], gold: Sequence[Document], context_chars: int = 60) -> list[dict[str, Any]]:
    """Every strict false positive and false negative, as error records, most common kinds first.

    Args:
        predicted / gold: documents paired by position (same ids).
        context_chars: characters of context either side (:func:`context_window`).

    Returns:
        One dict per error: ``kind`` (one of :data:`ERROR_KINDS`), ``doc_id``, ``type`` (the gold
        type; the predicted type for ``spurious``; ``"GOLD->PRED"`` for ``wrong_type``), ``form``
        (lower-cased trigger of the gold span, else of the prediction), ``start``/``end`` (the
        union of the spans involved), ``gold`` and ``predicted`` (``{start, end, type, trigger,
        modality | score}`` or ``None``), ``score`` (the prediction's score; ``None`` for
        ``missed``: the model proposed no span there), ``fp``/``fn`` (the strict false positive /
        negative the record accounts for) and ``context``.
        Sorted by: frequency of the kind, then of the kind's ``type``, then of its ``form``
        (all descending), then document order and offset.

    Raises:
        ValueError: the documents do not pair up by id.
    """
    check_pairing(predicted, gold)
    errors: list[dict[str, Any]] = []
    for n, (p, g) in enumerate(zip(predicted, gold)):
        a = align_document(p, g)
        items: list[tuple[str, EventMention | None, EventMention | None]] = []
        items += [("boundary", p.events[i], g.events[j]) for i, j in a.same_type]
        items += [("wrong_type", p.events[i], g.events[j]) for i, j in a.other_type]
        items += [("spurious", p.events[i], None) for i in a.unaligned_pred]
        items += [("missed", None, g.events[j]) for j in a.unaligned_gold]
        for kind, pe, ge in items:
            ref = ge if ge is not None else pe
            assert ref is not None
            start = min(e.start for e in (pe, ge) if e is not None)
            end = max(e.end for e in (pe, ge) if e is not None)
            etype = f"{ge.type}->{pe.type}" if kind == "wrong_type" and pe and ge else ref.type
            errors.append({
                "kind": kind,
                "doc_id": g.id,
                "type": etype,
                "form": normalise_form(ref.trigger),
                "start": start,
                "end": end,
                "gold": _span(ge, True) if ge is not None else None,
                "predicted": _span(pe, False) if pe is not None else None,
                "score": None if pe is None or pe.score is None else round(float(pe.score), 6),
                "fp": pe is not None,
                "fn": ge is not None,
                "context": context_window(g.text, start, end, context_chars),
                "_order": (n, start, end),
            })
    kinds = Counter(e["kind"] for e in errors)
    types = Counter((e["kind"], e["type"]) for e in errors)
    forms = Counter((e["kind"], e["form"]) for e in errors)
    rank = {k: i for i, k in enumerate(ERROR_KINDS)}
    errors.sort(key=lambda e: (-kinds[e["kind"]], rank[e["kind"]], -types[(e["kind"], e["type"])], e["type"], -forms[(e["kind"], e["form"])], e["form"], e["_order"]))
    for e in errors:
        del e["_order"]
    return errors


def error_summary(errors: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Counts of :func:`find_errors` records: ``{"kinds": {kind: n}, "false_positives", "false_negatives"}``."""
    kinds = Counter(e["kind"] for e in errors)
    return {"kinds": {k: kinds.get(k, 0) for k in ERROR_KINDS}, "false_positives": sum(e["fp"] for e in errors), "false_negatives": sum(e["fn"] for e in errors)}


def confusion_matrix(predicted: Sequence[Document], gold: Sequence[Document], types: Sequence[str] = EVENT_TYPES) -> dict[str, Any]:
    """Gold type x predicted type counts over the aligned pairs, plus missed and spurious spans.

    Returns:
        ``{"rows": [*types, "spurious"], "columns": [*types, "missed"], "counts": [[int]]}``:
        ``counts[i][j]`` for ``i, j < len(types)`` is the number of aligned pairs with gold type
        ``rows[i]`` and predicted type ``columns[j]`` (exact and boundary pairs on the diagonal,
        type confusions off it); the last column holds missed gold spans, the last row spurious
        predictions; the bottom-right cell is always 0. Row sums (but the last) are the gold
        supports; column sums (but the last) are the predicted counts per type.
    """
    check_pairing(predicted, gold)
    k = {t: i for i, t in enumerate(types)}
    n = len(types)
    m = np.zeros((n + 1, n + 1), dtype=np.int64)
    for p, g in zip(predicted, gold):
        a = align_document(p, g)
        for i, j in a.exact + a.same_type + a.other_type:
            m[k[g.events[j].type], k[p.events[i].type]] += 1
        for j in a.unaligned_gold:
            m[k[g.events[j].type], n] += 1
        for i in a.unaligned_pred:
            m[n, k[p.events[i].type]] += 1
    return {"rows": [*types, SPURIOUS], "columns": [*types, MISSED], "counts": m.tolist()}


def type_confusions(matrix: dict[str, Any]) -> list[dict[str, Any]]:
    """The off-diagonal type cells of a :func:`confusion_matrix`: ``[{gold, predicted, count}]``, most frequent first."""
    n = len(matrix["rows"]) - 1
    cells = [{"gold": matrix["rows"][i], "predicted": matrix["columns"][j], "count": matrix["counts"][i][j]} for i in range(n) for j in range(n) if i != j and matrix["counts"][i][j]]
    return sorted(cells, key=lambda c: (-c["count"], c["gold"], c["predicted"]))


def negative_document_false_positives(predicted: Sequence[Document], gold: Sequence[Document], types: Sequence[str] = EVENT_TYPES) -> dict[str, Any]:
    """False positives on documents whose gold ``events`` is empty (annotated negatives).

    Returns:
        ``{"documents": negatives, "documents_with_predictions": n, "false_positives": spans,
        "per_type": {type: spans}}``.
    """
    check_pairing(predicted, gold)
    neg = [p for p, g in zip(predicted, gold) if not g.events]
    per_type = Counter(e.type for d in neg for e in d.events)
    return {
        "documents": len(neg),
        "documents_with_predictions": sum(1 for d in neg if d.events),
        "false_positives": sum(len(d.events) for d in neg),
        "per_type": {t: per_type.get(t, 0) for t in types},
    }


def modality_recall(predicted: Sequence[Document], gold: Sequence[Document], types: Sequence[str] = EVENT_TYPES) -> dict[str, Any] | None:
    """Recall of gold spans split by their ``modality``: ``asserted`` vs ``other``.

    Predictions carry no modality (the model does not predict it), so a predicted span
    cannot be assigned to a group: only recall (and support) can be split, not precision
    or F1. ``other`` pools ``planned``, ``hypothetical`` and ``negated``; ``by_value`` gives
    each value; gold spans without a modality are counted in ``not_annotated``.

    Returns:
        ``None`` when no gold span has a modality; else ``{"groups": {"asserted" | "other":
        {support, strict_tp, strict_recall, relaxed_tp, relaxed_recall, per_type: {type:
        {support, strict_recall, relaxed_recall}}}}, "by_value": {modality: {support,
        strict_recall, relaxed_recall}}, "not_annotated": n}``; a recall with support 0 is ``None``.
    """
    check_pairing(predicted, gold)
    rows: list[tuple[str | None, str, bool, bool]] = []  # (modality, type, strict hit, relaxed hit)
    for p, g in zip(predicted, gold):
        strict = {j for _, j in matched_pairs(p, g, "strict")}
        relaxed = {j for _, j in matched_pairs(p, g, "relaxed")}
        rows += [(e.modality, e.type, j in strict, j in relaxed) for j, e in enumerate(g.events)]
    if not any(m is not None for m, *_ in rows):
        return None

    def stats(sel: list[tuple[str | None, str, bool, bool]], with_types: bool) -> dict[str, Any]:
        n = len(sel)
        st, rt = sum(r[2] for r in sel), sum(r[3] for r in sel)
        out: dict[str, Any] = {"support": n, "strict_tp": st, "strict_recall": st / n if n else None, "relaxed_tp": rt, "relaxed_recall": rt / n if n else None}
        if with_types:
            out["per_type"] = {t: {k: v for k, v in stats([r for r in sel if r[1] == t], False).items() if k in ("support", "strict_recall", "relaxed_recall")} for t in types}
        return out

    groups = {
        ASSERTED: stats([r for r in rows if r[0] == ASSERTED], True),
        OTHER: stats([r for r in rows if r[0] is not None and r[0] != ASSERTED], True),
    }
    values = sorted({r[0] for r in rows if r[0] is not None})
    by_value = {v: {k: x for k, x in stats([r for r in rows if r[0] == v], False).items() if k in ("support", "strict_recall", "relaxed_recall")} for v in values}
    return {"groups": groups, "by_value": by_value, "not_annotated": sum(1 for r in rows if r[0] is None)}


def pr_curves(predicted: Sequence[Document], gold: Sequence[Document], types: Sequence[str] = EVENT_TYPES) -> dict[str, Any]:
    """Strict precision and recall per type as the score threshold sweeps the predictions' scores.

    A prediction is kept at threshold ``t`` when its ``score >= t`` (a missing score counts
    as 1.0). Strict matching pairs exact spans one to one, and predicted spans never overlap,
    so whether a prediction is a true positive does not depend on the threshold; recall's
    denominator is the type's gold support, so the curve ends at the recall of the model
    without threshold.

    Returns:
        ``{type: {"thresholds": [...], "precision": [...], "recall": [...], "support": gold spans,
        "predictions": predicted spans, "average_precision": float | None}}``; thresholds descending
        (one point per distinct score); ``average_precision`` = sum over points of
        ``(R_k - R_{k-1}) * P_k`` (the step-wise area, as scikit-learn's
        ``average_precision_score``), ``None`` when the type has no gold span.
    """
    check_pairing(predicted, gold)
    scored: dict[str, list[tuple[float, bool]]] = {t: [] for t in types}
    support = Counter(e.type for g in gold for e in g.events)
    for p, g in zip(predicted, gold):
        hits = {i for i, _ in matched_pairs(p, g, "strict")}
        for i, e in enumerate(p.events):
            scored.setdefault(e.type, []).append((1.0 if e.score is None else float(e.score), i in hits))
    out = {}
    for t in types:
        pts = sorted(scored.get(t, []), key=lambda x: -x[0])
        thresholds, prec, rec = [], [], []
        tp = 0
        for k, (s, hit) in enumerate(pts):
            tp += hit
            if k + 1 < len(pts) and pts[k + 1][0] == s:
                continue  # one point per distinct score
            thresholds.append(s)
            prec.append(tp / (k + 1))
            rec.append(tp / support[t] if support[t] else 0.0)
        ap = None
        if support[t]:
            ap, last = 0.0, 0.0
            for p_, r_ in zip(prec, rec):
                ap += (r_ - last) * p_
                last = r_
        out[t] = {"thresholds": thresholds, "precision": prec, "recall": rec, "support": support[t], "predictions": len(pts), "average_precision": ap}
    return out


def _cell(x: Any) -> str:
    return str(x).replace("|", "\\|")


def errors_markdown(name: str, errors: Sequence[dict[str, Any]], top: int = 25) -> str:
    """Render error records (:func:`find_errors`) as Markdown: kind counts, top groups, every error by kind."""
    summary = error_summary(errors)
    total = len(errors) or 1
    lines = [
        f"# Errors on {name}",
        "",
        f"Strict matching: {summary['false_positives']} false positives and {summary['false_negatives']} false negatives in {len(errors)} errors. "
        "Kinds: `missed` (gold span with no prediction), `spurious` (prediction with no gold span), "
        "`wrong_type` (overlapping spans of different types), `boundary` (overlapping spans of the same type, different offsets). "
        "Context marks the span(s) with `[[...]]`; score is the model's span score (none for missed spans).",
        "",
        "| kind | errors | share |",
        "| --- | ---: | ---: |",
    ]
    order = list(dict.fromkeys(e["kind"] for e in errors))
    for k in order + [k for k in ERROR_KINDS if k not in order]:
        lines.append(f"| {k} | {summary['kinds'][k]} | {summary['kinds'][k] / total:.1%} |")
    groups = Counter((e["kind"], e["type"], e["form"]) for e in errors)
    lines += ["", f"## Most common errors (kind, type, trigger form; top {top})", "", "| kind | type | form | count |", "| --- | --- | --- | ---: |"]
    for (k, t, f), c in groups.most_common(top):
        lines.append(f"| {k} | {_cell(t)} | {_cell(f)} | {c} |")
    for k in order:
        sel = [e for e in errors if e["kind"] == k]
        lines += ["", f"## {k} ({len(sel)})", "", "| document | offsets | gold | predicted | score | context |", "| --- | --- | --- | --- | ---: | --- |"]
        for e in sel:
            g, p = e["gold"], e["predicted"]
            gs = f"{g['type']} `{_cell(g['trigger'])}` [{g['start']}, {g['end']})" if g else ""
            ps = f"{p['type']} `{_cell(p['trigger'])}` [{p['start']}, {p['end']})" if p else ""
            score = f"{e['score']:.3f}" if e["score"] is not None else ""
            lines.append(f"| {_cell(e['doc_id'])} | {e['start']}-{e['end']} | {gs} | {ps} | {score} | {_cell(e['context'])} |")
    return "\n".join(lines) + "\n"


def write_errors(out_dir: str | Path, name: str, errors: Sequence[dict[str, Any]]) -> None:
    """Write ``errors.jsonl`` (one record per line, in the given order) and ``errors.md`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "errors.jsonl").write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in errors), encoding="utf-8")
    (out / "errors.md").write_text(errors_markdown(name, errors), encoding="utf-8")
