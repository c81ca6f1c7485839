"""Span matching per document: the metric's own matcher, per-document counts, and a one-to-one alignment.

Everything that scores spans goes through the functions of the local metric module
``train/metrics/event_span_f1`` (loaded here by file path, so there is a single
definition of strict and relaxed matching). On top of it this module adds:

- :func:`document_counts`: the ``(tp, fp, fn)`` counts of every type in every document,
  the unit that the document bootstrap (:mod:`train.bootstrap`) resamples;
- :func:`align_document`: a one-to-one alignment of predicted and gold spans used by
  the error analysis and the confusion matrix (:mod:`train.error_analysis`).
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Sequence

import numpy as np

from .labels import EVENT_TYPES
from .records import Document, EventMention

#: The local ``evaluate`` metric module (a directory ``evaluate.load`` accepts offline).
METRIC_DIR = Path(__file__).parent / "metrics" / "event_span_f1"


@functools.lru_cache(maxsize=1)
def metric_module() -> ModuleType:
    """The metric module itself (``match_document``, ``score_spans``), imported from its file."""
    spec = importlib.util.spec_from_file_location("train_event_span_f1", METRIC_DIR / "event_span_f1.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_pairing(predicted: Sequence[Document], gold: Sequence[Document]) -> None:
    """Raise ``ValueError`` unless ``predicted`` and ``gold`` hold the same document ids in the same order."""
    if [d.id for d in predicted] != [d.id for d in gold]:
        raise ValueError("predicted and gold documents are not in the same order")


def span_dicts(doc: Document) -> list[dict[str, Any]]:
    """The metric's input form of a document's events: ``[{"start", "end", "type"}, ...]``."""
    return [{"start": e.start, "end": e.end, "type": e.type} for e in doc.events]


def matched_pairs(pred: Document, gold: Document, mode: str) -> list[tuple[int, int]]:
    """``(pred_index, gold_index)`` pairs that count as true positives in ``mode`` ("strict" or "relaxed")."""
    return metric_module().match_document(span_dicts(pred), span_dicts(gold), mode)


def document_counts(predicted: Sequence[Document], gold: Sequence[Document], mode: str, types: Sequence[str] = EVENT_TYPES) -> np.ndarray:
    """Per-document, per-type true-positive, false-positive and false-negative counts.

    Args:
        predicted / gold: documents paired by position.
        mode: "strict" or "relaxed" (see the metric module).
        types: the type order of axis 1.

    Returns:
        int64 array of shape ``(n_documents, len(types), 3)``, last axis ``(tp, fp, fn)``.
        Summed over documents it equals the metric's per-type ``tp``/``fp``/``fn``, because
        both matching modes pair spans within a document only.

    Raises:
        ValueError: the documents do not pair up by id, or a span has a type outside ``types``.
    """
    check_pairing(predicted, gold)
    index = {t: k for k, t in enumerate(types)}
    out = np.zeros((len(gold), len(types), 3), dtype=np.int64)
    for i, (p, g) in enumerate(zip(predicted, gold)):
        pairs = matched_pairs(p, g, mode)
        mp, mg = {k for k, _ in pairs}, {k for _, k in pairs}
        try:
            for k, e in enumerate(p.events):
                out[i, index[e.type], 0 if k in mp else 1] += 1
            for k, e in enumerate(g.events):
                if k not in mg:
                    out[i, index[e.type], 2] += 1
        except KeyError as exc:
            raise ValueError(f"document {g.id}: type {exc.args[0]!r} is not one of {list(types)}") from None
    return out


def overlaps(a: EventMention, b: EventMention) -> bool:
    """True when the half-open character spans of ``a`` and ``b`` share at least one character."""
    return a.start < b.end and b.start < a.end


@dataclass(frozen=True)
class Alignment:
    """One-to-one alignment of a document's predicted and gold spans (indices into ``events``).

    Attributes:
        exact: pairs with equal start, end and type (the strict true positives).
        same_type: overlapping pairs of the same type with different offsets (boundary errors).
        other_type: overlapping pairs of different types (type confusions).
        unaligned_pred: predictions aligned with no gold span (spurious).
        unaligned_gold: gold spans aligned with no prediction (missed).
    """

    exact: tuple[tuple[int, int], ...]
    same_type: tuple[tuple[int, int], ...]
    other_type: tuple[tuple[int, int], ...]
    unaligned_pred: tuple[int, ...]
    unaligned_gold: tuple[int, ...]


def align_document(pred: Document, gold: Document) -> Alignment:
    """Align predicted and gold spans one to one, in three greedy passes.

    1. exact: the metric's strict matching (same start, end and type);
    2. same type: each remaining prediction, in order of start offset, takes the first
       remaining gold span of its type that it overlaps;
    3. other type: the same with a gold span of any other type.

    Every span is in at most one pair. Hence, per document, strict false positives =
    ``len(same_type) + len(other_type) + len(unaligned_pred)`` and strict false negatives =
    ``len(same_type) + len(other_type) + len(unaligned_gold)``. A second prediction inside an
    already aligned gold span (a fragment or duplicate) stays unaligned, i.e. spurious.
    """
    exact = matched_pairs(pred, gold, "strict")
    free_p = [k for k in range(len(pred.events)) if k not in {a for a, _ in exact}]
    free_g = set(range(len(gold.events))) - {b for _, b in exact}
    passes: list[list[tuple[int, int]]] = [[], []]
    for n, same in enumerate((True, False)):
        for k in sorted(list(free_p), key=lambda i: (pred.events[i].start, pred.events[i].end)):
            p = pred.events[k]
            for g in sorted(free_g, key=lambda i: (gold.events[i].start, gold.events[i].end)):
                q = gold.events[g]
                if (q.type == p.type) == same and overlaps(p, q):
                    passes[n].append((k, g))
                    free_p.remove(k)
                    free_g.discard(g)
                    break
    return Alignment(tuple(sorted(exact)), tuple(sorted(passes[0])), tuple(sorted(passes[1])), tuple(sorted(free_p)), tuple(sorted(free_g)))
