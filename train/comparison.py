"""Headline numbers of a report, and comparison tables: model vs lexicon baseline vs a previous run.

A *headline* is the flat set of numbers a change is judged by (strict and relaxed micro
P/R/F1, macro-F1 and per-type F1), read from a report dict written by
:func:`train.scoring.write_report`. The multi-seed summary (:mod:`train.seeds`) averages
the same keys.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MODES = ("strict", "relaxed")
_MICRO = ("micro_precision", "micro_recall", "micro_f1", "macro_f1")


def headline(metrics: dict[str, Any]) -> dict[str, float]:
    """Flat headline numbers of one report, 0-1 scale, in a fixed order.

    Keys: ``<mode>_micro_precision``, ``<mode>_micro_recall``, ``<mode>_micro_f1``,
    ``<mode>_macro_f1`` and ``<mode>_f1_<TYPE>`` for ``mode`` in strict, relaxed.
    """
    out: dict[str, float] = {}
    for mode in MODES:
        m = metrics[mode]
        out.update({f"{mode}_{k}": float(m[k]) for k in _MICRO})
        out.update({f"{mode}_f1_{t}": float(v["f1"]) for t, v in m["per_type"].items()})
    return out


def deltas(current: dict[str, Any], previous: dict[str, Any]) -> dict[str, float]:
    """``headline(current) - headline(previous)`` for every key the two share (0-1 scale)."""
    a, b = headline(current), headline(previous)
    return {k: a[k] - b[k] for k in a if k in b}


def load_previous(path: str | Path) -> dict[str, dict[str, Any]]:
    """Read a previous run's metrics for ``BASELINE=``: ``{dataset: report}``.

    Accepts one report's ``metrics.json`` (keyed by its ``dataset`` field), a bundle's
    ``metrics.json`` (``{dataset: report}``), or a reports directory (every
    ``<dir>/<dataset>/metrics.json``).

    Raises:
        FileNotFoundError: nothing at ``path``.  ValueError: the file is not a metrics file.
    """
    path = Path(path)
    if path.is_dir():
        found = {p.parent.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(path.glob("*/metrics.json"))}
        if not found:
            raise FileNotFoundError(f"no <dataset>/metrics.json under {path}")
        return found
    if not path.is_file():
        raise FileNotFoundError(f"baseline metrics not found: {path}")
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict) and "strict" in data and "relaxed" in data:
        return {str(data.get("dataset") or path.parent.name): data}
    if isinstance(data, dict) and data and all(isinstance(v, dict) and "strict" in v for v in data.values()):
        return data
    raise ValueError(f"{path}: not a metrics.json (expected a report with 'strict' and 'relaxed', or a mapping of them)")


def _fmt(x: float | None, ci: list[float] | None = None) -> str:
    if x is None:
        return "–"
    return f"{100 * x:.1f}" + (f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else "")


def _signed(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:+.1f}"


def _ci(metrics: dict[str, Any], mode: str, key: str = "micro_f1") -> list[float] | None:
    return ((metrics.get("ci") or {}).get(mode) or {}).get(key)


def dataset_comparison_markdown(metrics: dict[str, Any]) -> str:
    """Markdown section comparing a report's model with its lexicon baseline and previous run (if present).

    Reads ``metrics["lexicon_baseline"]`` and ``metrics["previous"]`` as set by
    :func:`train.scoring.write_report`; scores in points (0-100), intervals in brackets,
    deltas are this model minus the other system.
    """
    rows = [("model", metrics, None)]
    if metrics.get("lexicon_baseline"):
        rows.append(("lexicon baseline", metrics["lexicon_baseline"], deltas(metrics, metrics["lexicon_baseline"])))
    if metrics.get("previous"):
        prev = metrics["previous"]
        rows.append((f"previous run (`{prev['source']}`)", prev["metrics"], prev["delta"]))
    lines = [
        "## Comparison",
        "",
        "Scores in points (0-100), 95% bootstrap intervals in brackets; Δ = this model minus the system of the row.",
        "",
        "| system | strict P | strict R | strict F1 | relaxed F1 | strict macro-F1 | Δ strict F1 | Δ relaxed F1 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, m, d in rows:
        s, r = m["strict"], m["relaxed"]
        lines.append(
            f"| {label} | {_fmt(s['micro_precision'])} | {_fmt(s['micro_recall'])} | {_fmt(s['micro_f1'], _ci(m, 'strict'))} | "
            f"{_fmt(r['micro_f1'], _ci(m, 'relaxed'))} | {_fmt(s['macro_f1'])} | {_signed(d['strict_micro_f1']) if d else ''} | {_signed(d['relaxed_micro_f1']) if d else ''} |"
        )
    types = list(metrics["strict"]["per_type"])
    others = [(label, d) for label, _, d in rows[1:]]
    if others:
        lines += ["", "Per-type strict F1 delta (points):", "", "| type | " + " | ".join(f"Δ vs {label}" for label, _ in others) + " |", "| --- |" + " ---: |" * len(others)]
        for t in types:
            lines.append(f"| {t} | " + " | ".join(_signed(d.get(f"strict_f1_{t}")) for _, d in others) + " |")
    return "\n".join(lines) + "\n"


def summary_table(results: dict[str, dict[str, Any]]) -> str:
    """Markdown table over data sets: model vs lexicon baseline (and previous run), strict and relaxed micro-F1 with CIs.

    Args:
        results: dataset -> report dict (as returned by :func:`train.scoring.evaluate`).
    """
    has_prev = any(m.get("previous") for m in results.values())
    head = "| data set | docs | gold spans | model strict F1 | model relaxed F1 | lexicon strict F1 | lexicon relaxed F1 | Δ strict vs lexicon |"
    sep = "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    if has_prev:
        head += " previous strict F1 | Δ strict vs previous |"
        sep += " ---: | ---: |"
    lines = [
        "# Evaluation summary",
        "",
        "Micro-F1 in points (0-100) with 95% bootstrap intervals (documents resampled); strict = same start, end and type, "
        "relaxed = overlapping span of the same type. Lexicon baseline: training trigger forms tagged with their most frequent type.",
        "",
        head,
        sep,
    ]
    for name, m in results.items():
        lex = m.get("lexicon_baseline")
        row = (
            f"| {name} | {m['documents']} | {m['gold_spans']} | {_fmt(m['strict']['micro_f1'], _ci(m, 'strict'))} | {_fmt(m['relaxed']['micro_f1'], _ci(m, 'relaxed'))} | "
            + (f"{_fmt(lex['strict']['micro_f1'], _ci(lex, 'strict'))} | {_fmt(lex['relaxed']['micro_f1'], _ci(lex, 'relaxed'))} | {_signed(m['strict']['micro_f1'] - lex['strict']['micro_f1'])} |" if lex else "– | – | – |")
        )
        if has_prev:
            prev = m.get("previous")
            row += f" {_fmt(prev['metrics']['strict']['micro_f1'])} | {_signed(prev['delta']['strict_micro_f1'])} |" if prev else " – | – |"
        lines.append(row)
    return "\n".join(lines) + "\n"
