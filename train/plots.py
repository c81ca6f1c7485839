"""PNG plots of an evaluation report (matplotlib, Agg canvas: no display needed).

Figures are built with :class:`matplotlib.figure.Figure` and rendered by the Agg canvas
directly, so nothing touches pyplot's global state or the configured backend; the
functions are safe to call from scripts, tests and threads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

#: File names written by :func:`write_plots`.
PLOT_FILES = {"per_type": "per_type.png", "confusion": "confusion.png", "pr_curve": "pr_curve.png"}


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def plot_per_type(metrics: dict[str, Any], path: str | Path) -> Path:
    """Bars of precision, recall and F1 per type (and micro), strict and relaxed, F1 with its CI.

    Args:
        metrics: a report dict of :func:`train.scoring.write_report` (``strict``, ``relaxed``,
            optional ``ci`` with ``[low, high]`` intervals on the 0-1 scale).
        path: PNG file to write.

    Returns:
        ``path``.
    """
    fig = _figure(12, 4.2)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, mode in zip(axes, ("strict", "relaxed")):
        m = metrics[mode]
        types = list(m["per_type"])
        labels = types + ["micro"]
        vals = {
            "precision": [m["per_type"][t]["precision"] for t in types] + [m["micro_precision"]],
            "recall": [m["per_type"][t]["recall"] for t in types] + [m["micro_recall"]],
            "F1": [m["per_type"][t]["f1"] for t in types] + [m["micro_f1"]],
        }
        ci = (metrics.get("ci") or {}).get(mode) or {}
        intervals = [((ci.get("per_type") or {}).get(t) or {}).get("f1") for t in types] + [ci.get("micro_f1")]
        x = np.arange(len(labels))
        w = 0.27
        for k, (name, v) in enumerate(vals.items()):
            ax.bar(x + (k - 1) * w, v, w, label=name)
        f1 = np.array(vals["F1"])
        lo = np.array([f - iv[0] if iv else 0.0 for f, iv in zip(f1, intervals)])
        hi = np.array([iv[1] - f if iv else 0.0 for f, iv in zip(f1, intervals)])
        ax.errorbar(x + w, f1, yerr=np.clip(np.vstack([lo, hi]), 0, None), fmt="none", ecolor="black", capsize=3, label="F1 95% CI")
        ax.set_xticks(x, labels, rotation=20)
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{mode} matching")
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("score")
    axes[1].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.suptitle(f"{metrics.get('dataset', '')}: per-type precision, recall and F1")
    return _save(fig, path)


def plot_confusion(matrix: dict[str, Any], path: str | Path, title: str = "") -> Path:
    """Heat map of a :func:`train.error_analysis.confusion_matrix` (gold rows, predicted columns), counts written in the cells."""
    counts = np.array(matrix["counts"], dtype=float)
    n = counts.shape[0]
    fig = _figure(6.5, 5.5)
    ax = fig.subplots()
    shown = counts.copy()
    shown[n - 1, n - 1] = np.nan  # spurious x missed: no such span
    im = ax.imshow(np.log1p(shown), cmap="Blues")
    vmax = np.nanmax(np.log1p(shown)) if np.isfinite(np.nanmax(np.log1p(shown))) else 0.0
    for i in range(n):
        for j in range(n):
            if i == n - 1 and j == n - 1:
                continue
            ax.text(j, i, str(int(counts[i, j])), ha="center", va="center", color="white" if vmax and np.log1p(counts[i, j]) > vmax / 2 else "black")
    ax.set_xticks(range(n), matrix["columns"], rotation=30, ha="right")
    ax.set_yticks(range(n), matrix["rows"])
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title or "confusion matrix (aligned spans)")
    fig.colorbar(im, ax=ax, label="log(1 + count)")
    return _save(fig, path)


def plot_pr_curves(curves: dict[str, Any], path: str | Path, title: str = "") -> Path:
    """Strict precision-recall curve per type over the score threshold (:func:`train.error_analysis.pr_curves`)."""
    fig = _figure(6.5, 5)
    ax = fig.subplots()
    for t, c in curves.items():
        if not c["recall"]:
            ax.plot([], [], label=f"{t} (no predictions, support {c['support']})")
            continue
        ap = c["average_precision"]
        label = f"{t} (AP {ap:.3f}, support {c['support']})" if ap is not None else f"{t} (no gold spans)"
        ax.step([0.0] + c["recall"], [c["precision"][0]] + c["precision"], where="post", label=label, marker=".", markersize=3)
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("recall (strict)")
    ax.set_ylabel("precision (strict)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title(title or "precision-recall over the score threshold")
    return _save(fig, path)


def write_plots(out_dir: str | Path, metrics: dict[str, Any], matrix: dict[str, Any], curves: dict[str, Any]) -> dict[str, Path]:
    """Write the three plots of a report into ``out_dir``; returns ``{kind: path}`` (:data:`PLOT_FILES`)."""
    out = Path(out_dir)
    name = metrics.get("dataset", "")
    return {
        "per_type": plot_per_type(metrics, out / PLOT_FILES["per_type"]),
        "confusion": plot_confusion(matrix, out / PLOT_FILES["confusion"], f"{name}: gold vs predicted type (aligned spans)"),
        "pr_curve": plot_pr_curves(curves, out / PLOT_FILES["pr_curve"], f"{name}: precision-recall over the score threshold"),
    }
