"""Bootstrap confidence intervals for span P/R/F1, resampling documents.

Method: the nonparametric bootstrap with percentile intervals (Efron & Tibshirani,
*An Introduction to the Bootstrap*, Chapman & Hall 1993, ch. 6 and 13). The unit
resampled is the **document**, not the span: spans of one document share its
topic, source and writer, so they are not independent, and resampling spans
would give intervals that are too narrow. One replicate draws ``n_documents``
documents with replacement, sums their per-type ``(tp, fp, fn)`` counts and
computes the scores exactly as the metric does (P, R, F1 = 0 when a denominator
is 0; macro averages over the types with any span in that replicate). The
interval is the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles
of the replicate scores (numpy's linear interpolation). The random generator is
``numpy.random.default_rng(seed)``, so the same counts, samples and seed always
give the same interval. With fewer than two documents there is nothing to
resample (every replicate is the data set itself), so no interval is given.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .labels import EVENT_TYPES


def scores_from_counts(counts: np.ndarray) -> dict[str, np.ndarray]:
    """P/R/F1 from summed counts, vectorised over leading axes.

    Args:
        counts: shape ``(..., n_types, 3)``, last axis ``(tp, fp, fn)``.

    Returns:
        ``precision``/``recall``/``f1`` of shape ``(..., n_types)``; ``micro_precision``,
        ``micro_recall``, ``micro_f1`` and ``macro_f1`` of shape ``(...)``. A score whose
        denominator is 0 is 0.0; the macro average is over types with ``tp + fp + fn > 0``
        (0.0 when there is none), as in the metric module.
    """
    counts = np.asarray(counts, dtype=np.float64)

    def prf(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with np.errstate(divide="ignore", invalid="ignore"):
            p = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
            r = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
            f = np.where(p + r > 0, 2 * p * r / (p + r), 0.0)
        return p, r, f

    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    p, r, f = prf(tp, fp, fn)
    mp, mr, mf = prf(tp.sum(-1), fp.sum(-1), fn.sum(-1))
    active = (tp + fp + fn) > 0
    n_active = active.sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        macro = np.where(n_active > 0, (f * active).sum(-1) / np.maximum(n_active, 1), 0.0)
    return {"precision": p, "recall": r, "f1": f, "micro_precision": mp, "micro_recall": mr, "micro_f1": mf, "macro_f1": macro}


def replicate_counts(counts: np.ndarray, n_samples: int, seed: int, chunk: int = 100) -> np.ndarray:
    """Summed counts of ``n_samples`` bootstrap replicates of the documents.

    Args:
        counts: per-document counts, shape ``(n_documents, n_types, 3)`` (:func:`train.matching.document_counts`).
        n_samples: number of replicates.
        seed: seed of ``numpy.random.default_rng``.
        chunk: replicates summed at a time (memory only; the result does not depend on it).

    Returns:
        int64 array of shape ``(n_samples, n_types, 3)``.
    """
    counts = np.asarray(counts, dtype=np.int64)
    n_docs = counts.shape[0]
    idx = np.random.default_rng(seed).integers(0, n_docs, size=(n_samples, n_docs))
    out = np.empty((n_samples,) + counts.shape[1:], dtype=np.int64)
    for c in range(0, n_samples, chunk):
        out[c:c + chunk] = counts[idx[c:c + chunk]].sum(axis=1)
    return out


def bootstrap_ci(counts: np.ndarray, n_samples: int = 1000, seed: int = 0, confidence: float = 0.95, types: Sequence[str] = EVENT_TYPES) -> dict[str, Any]:
    """Percentile bootstrap intervals of micro P/R/F1, macro-F1 and per-type P/R/F1.

    Args:
        counts: per-document counts, shape ``(n_documents, len(types), 3)``, last axis ``(tp, fp, fn)``.
        n_samples: bootstrap replicates (>= 1; 1000 is the usual choice for 95% percentile intervals).
        seed: seed of the random generator; same inputs and seed give the same intervals.
        confidence: coverage of the interval, in (0, 1).
        types: names of axis 1.

    Returns:
        ``{"method": "percentile", "unit": "document", "samples", "seed", "confidence",
        "micro_f1": [low, high], "micro_precision": [...], "micro_recall": [...], "macro_f1": [...],
        "per_type": {type: {"precision": [...], "recall": [...], "f1": [...]} or None}}``; scores
        on the 0-1 scale. A type with no gold and no predicted span in the whole set gets
        ``None``; with fewer than two documents every interval is ``None``.

    Raises:
        ValueError: ``counts`` has the wrong shape, ``n_samples < 1`` or ``confidence`` outside (0, 1).
    """
    counts = np.asarray(counts, dtype=np.int64)
    if counts.ndim != 3 or counts.shape[1:] != (len(types), 3):
        raise ValueError(f"counts must have shape (n_documents, {len(types)}, 3), got {counts.shape}")
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    out: dict[str, Any] = {"method": "percentile", "unit": "document", "samples": int(n_samples), "seed": int(seed), "confidence": float(confidence)}
    keys = ("micro_f1", "micro_precision", "micro_recall", "macro_f1")
    if counts.shape[0] < 2:
        out.update({k: None for k in keys})
        out["per_type"] = {t: None for t in types}
        return out
    scores = scores_from_counts(replicate_counts(counts, n_samples, seed))
    q = [100 * (1 - confidence) / 2, 100 * (1 + confidence) / 2]

    def interval(values: np.ndarray) -> list[float]:
        lo, hi = np.percentile(values, q)
        return [float(lo), float(hi)]

    out.update({k: interval(scores[k]) for k in keys})
    present = counts.sum(axis=0).sum(axis=-1) > 0
    out["per_type"] = {
        t: ({m: interval(scores[m][:, k]) for m in ("precision", "recall", "f1")} if present[k] else None) for k, t in enumerate(types)
    }
    return out
