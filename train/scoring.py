"""Scoring predicted documents against gold ones, and the ``evaluate`` job.

Scores come from the local ``evaluate`` metric module ``train/metrics/event_span_f1``
(strict and relaxed entity-level P/R/F1 on character spans); nothing is fetched
from a hub.
"""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path
from typing import Any, Sequence

from .labels import EVENT_TYPES
from .records import Document

log = logging.getLogger(__name__)

METRIC_DIR = Path(__file__).parent / "metrics" / "event_span_f1"


@functools.lru_cache(maxsize=1)
def span_metric() -> Any:
    """The local ``event_span_f1`` metric (``evaluate.load`` on a directory: offline)."""
    import evaluate as hf_evaluate

    return hf_evaluate.load(str(METRIC_DIR))


def _spans(doc: Document) -> list[dict[str, Any]]:
    return [{"start": e.start, "end": e.end, "type": e.type} for e in doc.events]


def score_documents(predicted: Sequence[Document], gold: Sequence[Document], mode: str = "strict") -> dict[str, Any]:
    """Entity-level P/R/F1 of ``predicted`` against ``gold`` (paired by position, ids must agree).

    Returns:
        The metric's dict (``micro_*``, ``macro_*``, ``tp``/``fp``/``fn``, ``per_type``), every
        type of :data:`EVENT_TYPES` present in ``per_type``.

    Raises:
        ValueError: if the two lists do not pair up document by document.
    """
    if [d.id for d in predicted] != [d.id for d in gold]:
        raise ValueError("predicted and gold documents are not in the same order")
    return span_metric().compute(
        predictions=[_spans(d) for d in predicted],
        references=[_spans(d) for d in gold],
        mode=mode,
        types=list(EVENT_TYPES),
    )


def metrics_markdown(name: str, metrics: dict[str, Any]) -> str:
    """Render a metrics dict (as written by :func:`write_report`) as a Markdown table."""
    lines = [f"# {name}", "", f"{metrics['documents']} documents, {metrics['gold_spans']} gold spans, {metrics['predicted_spans']} predicted.", ""]
    for mode in ("strict", "relaxed"):
        m = metrics[mode]
        lines += [f"## {mode.capitalize()} matching", "", "| type | precision | recall | F1 | support |", "| --- | ---: | ---: | ---: | ---: |"]
        for t, v in m["per_type"].items():
            lines.append(f"| {t} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |")
        lines.append(f"| **micro** | {m['micro_precision']:.3f} | {m['micro_recall']:.3f} | **{m['micro_f1']:.3f}** | {m['tp'] + m['fn']} |")
        lines.append(f"| **macro** | {m['macro_precision']:.3f} | {m['macro_recall']:.3f} | {m['macro_f1']:.3f} | |")
        lines.append("")
    lines.append(f"Gold spans the model could not represent (alignment/window loss): {metrics['gold_spans_not_representable']}.")
    return "\n".join(lines) + "\n"


def write_report(out_dir: str | Path, name: str, predicted: Sequence[Document], gold: Sequence[Document], lost_spans: int) -> dict[str, Any]:
    """Score and write ``metrics.json`` and ``metrics.md`` into ``out_dir``.

    Args:
        lost_spans: gold spans no window could represent (counted as misses in the scores).

    Returns:
        The metrics dict that was written.
    """
    metrics = {
        "dataset": name,
        "documents": len(gold),
        "gold_spans": sum(len(d.events) for d in gold),
        "predicted_spans": sum(len(d.events) for d in predicted),
        "gold_spans_not_representable": lost_spans,
        "strict": score_documents(predicted, gold, "strict"),
        "relaxed": score_documents(predicted, gold, "relaxed"),
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    (out / "metrics.md").write_text(metrics_markdown(name, metrics), encoding="utf-8")
    return metrics


def evaluate(cfg: Any, model_dir: str | Path | None = None, data_files: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    """The ``evaluate`` job: score a model on the configured splits or on given schema files.

    Args:
        cfg: the run :class:`~train.config.Config` (reports dir, splits, batch size, device).
        model_dir: model to score; default: the best model of the run (``<train.output_dir>/best``)
            if it exists, else the exported bundle (``export.model_dir``).
        data_files: schema files to score instead of the configured splits; each is
            reported under its file stem.

    Returns:
        dataset name -> metrics dict; also written to ``<eval.reports_dir>/<name>/``
        (``metrics.json``, ``metrics.md``, ``predictions.jsonl``).

    Raises:
        DataError: a bad gold file.  FileNotFoundError: no model to score.
    """
    from .alignment import label_windows, tokenize_windows
    from .data import read_documents, read_split
    from .predict import Predictor
    from .records import write_jsonl

    if model_dir is None:
        best = Path(cfg.train.output_dir) / "best"
        model_dir = best if best.is_dir() else Path(cfg.export.model_dir)
    if not Path(model_dir).is_dir():
        raise FileNotFoundError(f"no model to evaluate at {model_dir} (run `make train` first, or pass --model)")
    if data_files:
        sets = {Path(f).stem: read_documents(f) for f in data_files}
    else:
        sets = {s: read_split(getattr(cfg.data, f"{s}_files")) for s in cfg.eval.splits if getattr(cfg.data, f"{s}_files")}
    predictor = Predictor(model_dir, device="cpu" if cfg.train.device == "cpu" else "auto", batch_size=cfg.eval.batch_size)
    results = {}
    for name, gold in sets.items():
        enc = tokenize_windows(predictor.tokenizer, [d.text for d in gold], predictor.max_length, predictor.stride)
        _, report = label_windows(gold, enc)
        if report.lost:
            log.warning("%s: %s", name, report.summary())
        predicted = predictor.predict_documents(gold)
        out = Path(cfg.eval.reports_dir) / name
        results[name] = write_report(out, name, predicted, gold, len(report.lost))
        write_jsonl(predicted, out / "predictions.jsonl")
        s = results[name]["strict"]
        log.info("%s: strict micro P %.3f R %.3f F1 %.3f (%d docs)", name, s["micro_precision"], s["micro_recall"], s["micro_f1"], len(gold))
    summary = Path(cfg.eval.reports_dir) / "summary.json"
    previous = json.loads(summary.read_text()) if summary.is_file() else {}
    previous.update({k: {"model": str(model_dir), "strict_micro_f1": v["strict"]["micro_f1"], "relaxed_micro_f1": v["relaxed"]["micro_f1"]} for k, v in results.items()})
    summary.parent.mkdir(parents=True, exist_ok=True)
    summary.write_text(json.dumps(previous, indent=2) + "\n")
    return results
