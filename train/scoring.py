"""Scoring predicted documents against gold ones, and the ``evaluate`` job.

Scores come from the local ``evaluate`` metric module ``train/metrics/event_span_f1``
(strict and relaxed entity-level P/R/F1 on character spans); nothing is fetched
from a hub. The report of a data set (:func:`write_report`) puts together the
document bootstrap (:mod:`train.bootstrap`), the error analysis
(:mod:`train.error_analysis`), the plots (:mod:`train.plots`) and the comparison
with the lexicon baseline (:mod:`train.baselines`) and a previous run
(:mod:`train.comparison`).
"""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path
from typing import Any, Sequence

from .labels import EVENT_TYPES
from .matching import METRIC_DIR, check_pairing, span_dicts
from .records import Document

log = logging.getLogger(__name__)



@functools.lru_cache(maxsize=1)
def span_metric() -> Any:
    """The local ``event_span_f1`` metric (``evaluate.load`` on a directory: offline)."""
    import evaluate as hf_evaluate

    return hf_evaluate.load(str(METRIC_DIR))


def score_documents(predicted: Sequence[Document], gold: Sequence[Document], mode: str = "strict") -> dict[str, Any]:
    """Entity-level P/R/F1 of ``predicted`` against ``gold`` (paired by position, ids must agree).

    Returns:
        The metric's dict (``micro_*``, ``macro_*``, ``tp``/``fp``/``fn``, ``per_type``), every
        type of :data:`EVENT_TYPES` present in ``per_type``.

    Raises:
        ValueError: if the two lists do not pair up document by document.
    """
    check_pairing(predicted, gold)
    return span_metric().compute(
        predictions=[span_dicts(d) for d in predicted],
        references=[span_dicts(d) for d in gold],
        mode=mode,
        types=list(EVENT_TYPES),
    )


def _ci_text(ci: list[float] | None) -> str:
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "–"


def metrics_markdown(name: str, metrics: dict[str, Any]) -> str:
    """Render a report dict (as written by :func:`write_report`) as Markdown.

    Sections: strict and relaxed P/R/F1/support per type, micro and macro, with the F1
    bootstrap intervals when present; type confusions; false positives on negative
    documents; recall by modality; error kinds; the comparison with the lexicon baseline
    and the previous run (:func:`train.comparison.dataset_comparison_markdown`).
    """
    from .comparison import dataset_comparison_markdown

    lines = [f"# {name}", "", f"{metrics['documents']} documents, {metrics['gold_spans']} gold spans, {metrics['predicted_spans']} predicted.", ""]
    boot = metrics.get("bootstrap")
    if boot:
        lines += [f"Intervals: {boot['confidence']:.0%} percentile bootstrap over documents ({boot['samples']} samples, seed {boot['seed']})"
                  + ("; none with a single document." if metrics["documents"] < 2 else "."), ""]
    for mode in ("strict", "relaxed"):
        m = metrics[mode]
        ci = (metrics.get("ci") or {}).get(mode) or {}
        lines += [f"## {mode.capitalize()} matching", "", "| type | precision | recall | F1 | F1 95% CI | support |", "| --- | ---: | ---: | ---: | --- | ---: |"]
        for t, v in m["per_type"].items():
            lines.append(f"| {t} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {_ci_text(((ci.get('per_type') or {}).get(t) or {}).get('f1'))} | {v['support']} |")
        lines.append(f"| **micro** | {m['micro_precision']:.3f} | {m['micro_recall']:.3f} | **{m['micro_f1']:.3f}** | {_ci_text(ci.get('micro_f1'))} | {m['tp'] + m['fn']} |")
        lines.append(f"| **macro** | {m['macro_precision']:.3f} | {m['macro_recall']:.3f} | {m['macro_f1']:.3f} | {_ci_text(ci.get('macro_f1'))} | |")
        lines.append("")
    lines.append(f"Gold spans the model could not represent (alignment/window loss): {metrics['gold_spans_not_representable']}.")
    if "type_confusions" in metrics:
        conf = metrics["type_confusions"]
        lines += ["", "## Type confusions", "", "Predicted spans overlapping a gold span of another type (one-to-one alignment; see errors.md)."]
        lines += (["", "| gold | predicted | count |", "| --- | --- | ---: |"] + [f"| {c['gold']} | {c['predicted']} | {c['count']} |" for c in conf]) if conf else ["", "None."]
    neg = metrics.get("negative_documents")
    if neg:
        per = ", ".join(f"{t} {n}" for t, n in neg["per_type"].items() if n) or "none"
        lines += ["", "## False positives on documents with no gold event", "",
                  f"{neg['false_positives']} predicted span(s) in {neg['documents_with_predictions']} of {neg['documents']} negative document(s) (by type: {per})."]
    mod = metrics.get("modality")
    if mod:
        lines += ["", "## Recall by modality", "",
                  "The model does not predict modality, so predictions cannot be split: only recall of the gold spans of each group is reported.", "",
                  "| gold modality | support | strict recall | relaxed recall |", "| --- | ---: | ---: | ---: |"]
        rows = [(g, v) for g, v in mod["groups"].items()] + [(f"&nbsp;&nbsp;{k}", v) for k, v in mod["by_value"].items() if k != "asserted"]
        for g, v in rows:
            r = lambda x: "–" if x is None else f"{x:.3f}"  # noqa: E731
            lines.append(f"| {g} | {v['support']} | {r(v['strict_recall'])} | {r(v['relaxed_recall'])} |")
    err = metrics.get("errors")
    if err:
        lines += ["", "## Error kinds (strict)", "", "| kind | count |", "| --- | ---: |"] + [f"| {k} | {n} |" for k, n in err["kinds"].items()]
        lines += ["", "Every error, with context, is in `errors.md` / `errors.jsonl`; plots: `per_type.png`, `confusion.png`, `pr_curve.png`."]
    if metrics.get("lexicon_baseline") or metrics.get("previous"):
        lines += ["", dataset_comparison_markdown(metrics).rstrip()]
    return "\n".join(lines) + "\n"


def _with_ci(predicted: Sequence[Document], gold: Sequence[Document], n_samples: int, seed: int, confidence: float) -> dict[str, Any]:
    """Strict and relaxed scores of a prediction set, with their document-bootstrap intervals."""
    from .bootstrap import bootstrap_ci
    from .matching import document_counts

    out: dict[str, Any] = {mode: score_documents(predicted, gold, mode) for mode in ("strict", "relaxed")}
    out["ci"] = {mode: bootstrap_ci(document_counts(predicted, gold, mode), n_samples, seed, confidence) for mode in ("strict", "relaxed")}
    for mode in ("strict", "relaxed"):
        for key in ("method", "unit", "samples", "seed", "confidence"):
            out["ci"][mode].pop(key)
    return out


def write_report(
    out_dir: str | Path,
    name: str,
    predicted: Sequence[Document],
    gold: Sequence[Document],
    lost_spans: int,
    *,
    lexicon: Sequence[Document] | None = None,
    previous: dict[str, Any] | None = None,
    previous_source: str = "",
    bootstrap_samples: int = 1000,
    bootstrap_seed: int = 12345,
    confidence: float = 0.95,
    context_chars: int = 60,
) -> dict[str, Any]:
    """Score one data set and write its report into ``out_dir``.

    Files: ``metrics.json`` and ``metrics.md`` (see :func:`metrics_markdown`), ``errors.jsonl``
    and ``errors.md`` (:func:`train.error_analysis.find_errors`), ``pr_curves.json`` and the
    plots ``per_type.png``, ``confusion.png``, ``pr_curve.png`` (:mod:`train.plots`).

    Args:
        predicted / gold: documents paired by position (same ids).
        lost_spans: gold spans no window could represent (counted as misses in the scores).
        lexicon: the lexicon baseline's predictions for the same documents (compared when given).
        previous: a previous run's report for this data set (``BASELINE=``); deltas are this minus it.
        previous_source: where ``previous`` was read from (shown in the tables).
        bootstrap_samples / bootstrap_seed / confidence: the document bootstrap (:mod:`train.bootstrap`).
        context_chars: context either side of an error span.

    Returns:
        The metrics dict that was written: ``dataset``, ``documents``, ``gold_spans``,
        ``predicted_spans``, ``gold_spans_not_representable``, ``strict`` / ``relaxed`` (the
        metric's dicts, scores 0-1), ``ci`` (``{mode: {micro_f1: [lo, hi], ..., per_type}}``),
        ``bootstrap`` (settings), ``confusion_matrix``, ``type_confusions``,
        ``negative_documents``, ``modality`` (``None`` without modality annotations),
        ``errors`` (kind counts), ``average_precision`` (strict, per type), and when given
        ``lexicon_baseline`` and ``previous`` (``{source, metrics, delta}``).

    Raises:
        ValueError: the predicted and gold documents do not pair up.
    """
    from .comparison import deltas
    from .error_analysis import confusion_matrix, error_summary, find_errors, modality_recall, negative_document_false_positives, pr_curves, type_confusions, write_errors
    from .plots import write_plots

    boot = (bootstrap_samples, bootstrap_seed, confidence)
    scored = _with_ci(predicted, gold, *boot)
    matrix = confusion_matrix(predicted, gold)
    errors = find_errors(predicted, gold, context_chars)
    curves = pr_curves(predicted, gold)
    metrics: dict[str, Any] = {
        "dataset": name,
        "documents": len(gold),
        "gold_spans": sum(len(d.events) for d in gold),
        "predicted_spans": sum(len(d.events) for d in predicted),
        "gold_spans_not_representable": lost_spans,
        "strict": scored["strict"],
        "relaxed": scored["relaxed"],
        "ci": scored["ci"],
        "bootstrap": {"method": "percentile", "unit": "document", "samples": bootstrap_samples, "seed": bootstrap_seed, "confidence": confidence},
        "confusion_matrix": matrix,
        "type_confusions": type_confusions(matrix),
        "negative_documents": negative_document_false_positives(predicted, gold),
        "modality": modality_recall(predicted, gold),
        "errors": error_summary(errors),
        "average_precision": {t: c["average_precision"] for t, c in curves.items()},
    }
    if lexicon is not None:
        metrics["lexicon_baseline"] = {"predicted_spans": sum(len(d.events) for d in lexicon), **_with_ci(lexicon, gold, *boot)}
    if previous is not None:
        prev = {k: previous[k] for k in ("strict", "relaxed", "ci") if k in previous}
        metrics["previous"] = {"source": previous_source, "metrics": prev, "delta": deltas(metrics, prev)}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    (out / "metrics.md").write_text(metrics_markdown(name, metrics), encoding="utf-8")
    (out / "pr_curves.json").write_text(json.dumps(curves, indent=2) + "\n", encoding="utf-8")
    write_errors(out, name, errors)
    write_plots(out, metrics, matrix, curves)
    return metrics


#: The repository root (external evaluation paths are resolved against it).
REPO_ROOT = Path(__file__).resolve().parents[1]


def external_sets(cfg: Any) -> dict[str, Path]:
    """The external evaluation files: every ``*.jsonl`` in ``cfg.eval.external_dir``.

    A relative ``external_dir`` is resolved against the repository root (default
    ``../shared/eval``: the read-only folder beside the checkout). An unset or absent
    folder is skipped with a log line. Data-set names are the file stems; a stem equal to
    a configured split name is prefixed ``external-``.

    Returns:
        ``{name: path}`` in file-name order (empty when skipped).
    """
    raw = cfg.eval.external_dir
    if not raw:
        return {}
    folder = Path(raw) if Path(raw).is_absolute() else REPO_ROOT / raw
    if not folder.is_dir():
        log.info("external evaluation folder %s is absent: scoring the configured splits only", folder)
        return {}
    out = {}
    for f in sorted(folder.glob("*.jsonl")):
        name = f.stem if f.stem not in ("train", "validation", "test") else f"external-{f.stem}"
        out[name] = f
    log.info("external evaluation sets in %s: %s", folder, ", ".join(out) or "none")
    return out


def _lexicon_baseline(cfg: Any) -> Any:
    """The lexicon baseline fitted on ``cfg.data.train_files``, or ``None`` (logged) when they cannot be read."""
    from .baselines import LexiconBaseline
    from .data import read_split
    from .records import DataError

    try:
        baseline = LexiconBaseline.fit(read_split(cfg.data.train_files))
    except (FileNotFoundError, DataError) as exc:
        log.warning("no lexicon baseline: the training files cannot be read (%s)", str(exc).splitlines()[0])
        return None
    log.info("lexicon baseline: %d trigger forms from %s", len(baseline), ", ".join(cfg.data.train_files))
    return baseline


def evaluate(cfg: Any, model_dir: str | Path | None = None, data_files: Sequence[str] | None = None, baseline: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """The ``evaluate`` job: score a model on the configured splits and external sets, or on given schema files.

    Args:
        cfg: the run :class:`~train.config.Config` (reports dir, splits, external folder,
            bootstrap settings, batch size, device).
        model_dir: model to score; default: the best model of the run (``<train.output_dir>/best``)
            if it exists, else the exported bundle (``export.model_dir``).
        data_files: schema files to score instead of the configured splits and external sets;
            each is reported under its file stem.
        baseline: a previous run's ``metrics.json`` (one report, a bundle's, or a reports
            directory; :func:`train.comparison.load_previous`) to show deltas against.

    Returns:
        dataset name -> metrics dict; each written to ``<eval.reports_dir>/<name>/`` (see
        :func:`write_report`, plus ``predictions.jsonl``), with ``summary.json`` and
        ``comparison.md`` / ``comparison.json`` (model vs lexicon baseline vs previous run,
        every data set of this call) in ``<eval.reports_dir>``.

    Raises:
        DataError: a bad gold file.  FileNotFoundError: no model to score, or no ``baseline`` file.
    """
    from .alignment import label_windows, tokenize_windows
    from .comparison import load_previous, summary_table
    from .data import read_documents, read_split
    from .predict import Predictor
    from .records import write_jsonl

    if model_dir is None:
        best = Path(cfg.train.output_dir) / "best"
        model_dir = best if best.is_dir() else Path(cfg.export.model_dir)
    if not Path(model_dir).is_dir():
        raise FileNotFoundError(f"no model to evaluate at {model_dir} (run `make train` first, or pass --model)")
    previous = load_previous(baseline) if baseline else {}  # read before any report is overwritten
    if data_files:
        sets = {Path(f).stem: read_documents(f) for f in data_files}
    else:
        sets = {s: read_split(getattr(cfg.data, f"{s}_files")) for s in cfg.eval.splits if getattr(cfg.data, f"{s}_files")}
        sets.update({name: read_documents(f) for name, f in external_sets(cfg).items()})
    lexicon = _lexicon_baseline(cfg)
    predictor = Predictor(model_dir, device="cpu" if cfg.train.device == "cpu" else "auto", batch_size=cfg.eval.batch_size)
    results = {}
    e = cfg.eval
    for name, gold in sets.items():
        enc = tokenize_windows(predictor.tokenizer, [d.text for d in gold], predictor.max_length, predictor.stride)
        _, report = label_windows(gold, enc)
        if report.lost:
            log.warning("%s: %s", name, report.summary())
        predicted = predictor.predict_documents(gold)
        out = Path(e.reports_dir) / name
        results[name] = write_report(
            out, name, predicted, gold, len(report.lost),
            lexicon=lexicon.predict_documents(gold) if lexicon is not None else None,
            previous=previous.get(name), previous_source=str(baseline or ""),
            bootstrap_samples=e.bootstrap_samples, bootstrap_seed=e.bootstrap_seed, confidence=e.confidence, context_chars=e.context_chars,
        )
        write_jsonl(predicted, out / "predictions.jsonl")
        s, ci = results[name]["strict"], results[name]["ci"]["strict"]["micro_f1"] or [float("nan")] * 2
        log.info("%s: strict micro P %.3f R %.3f F1 %.3f [%.3f, %.3f] (%d docs)", name, s["micro_precision"], s["micro_recall"], s["micro_f1"], ci[0], ci[1], len(gold))
    if baseline and not any(m.get("previous") for m in results.values()):
        log.warning("BASELINE %s has none of the data sets scored here (%s)", baseline, ", ".join(results))
    reports = Path(e.reports_dir)
    summary = reports / "summary.json"
    prior = json.loads(summary.read_text()) if summary.is_file() else {}
    prior.update({k: {"model": str(model_dir), "strict_micro_f1": v["strict"]["micro_f1"], "relaxed_micro_f1": v["relaxed"]["micro_f1"]} for k, v in results.items()})
    reports.mkdir(parents=True, exist_ok=True)
    summary.write_text(json.dumps(prior, indent=2) + "\n")
    (reports / "comparison.md").write_text(summary_table(results), encoding="utf-8")
    (reports / "comparison.json").write_text(json.dumps({"model": str(model_dir), "baseline": str(baseline) if baseline else None, "datasets": {
        k: {"strict_micro_f1": v["strict"]["micro_f1"], "strict_micro_f1_ci": v["ci"]["strict"]["micro_f1"],
            "relaxed_micro_f1": v["relaxed"]["micro_f1"], "relaxed_micro_f1_ci": v["ci"]["relaxed"]["micro_f1"],
            "lexicon_baseline": {m: {"micro_f1": v["lexicon_baseline"][m]["micro_f1"], "micro_f1_ci": v["lexicon_baseline"]["ci"][m]["micro_f1"]} for m in ("strict", "relaxed")} if v.get("lexicon_baseline") else None,
            "previous_delta": v["previous"]["delta"] if v.get("previous") else None}
        for k, v in results.items()}}, indent=2) + "\n", encoding="utf-8")
    return results
