"""Model card (``README.md`` of the exported bundle) with real evaluation results.

Every number comes from the evaluate job's reports (``metrics.json`` per data set: scores,
bootstrap intervals, lexicon baseline) and the fit job's ``run_info.json`` (base model,
documents, multi-seed selection); the training data summary is read from the configured
training files. A section whose source is missing is left out rather than filled with a
placeholder.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import yaml

from .labels import EVENT_TYPES, LABELS, MODALITIES, TAGGING_SCHEME

_DATASET_NAMES = {
    "validation": "conflict-news corpus, validation split",
    "test": "conflict-news corpus, test split",
    "seed_gold": "seed article (the news article the project started from)",
    "voa_dev": "Voice of America news articles (VOA dev)",
    "plover_gsr": "PLOVER gold-standard sentences",
    "maven_ood": "MAVEN Wikipedia sentences (out of domain)",
}


def dataset_name(name: str) -> str:
    """Human-readable name of a report's data set (the report name itself when unknown)."""
    return _DATASET_NAMES.get(name, name)


def _ordered(metrics: dict[str, Any]) -> dict[str, Any]:
    """The reports in reading order: validation, test, then the external sets by name."""
    first = [n for n in ("validation", "test") if n in metrics]
    return {n: metrics[n] for n in first + sorted(n for n in metrics if n not in first)}


def _model_index(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """``model-index`` results: test and every external set (validation selected the model, so it is left out)."""
    results = []
    for name, m in metrics.items():
        if name == "validation":
            continue
        s = m["strict"]
        results.append(
            {
                "task": {"type": "token-classification", "name": "Event trigger detection"},
                "dataset": {"name": dataset_name(name), "type": name, "split": "test" if name == "test" else "evaluation"},
                "metrics": [
                    {"type": "f1", "value": round(s["micro_f1"], 4), "name": "strict micro-F1"},
                    {"type": "precision", "value": round(s["micro_precision"], 4), "name": "strict micro precision"},
                    {"type": "recall", "value": round(s["micro_recall"], 4), "name": "strict micro recall"},
                    {"type": "f1", "value": round(m["relaxed"]["micro_f1"], 4), "name": "relaxed micro-F1"},
                ],
            }
        )
    return [{"name": "conflict-event-tagger", "results": results}]


def _n(k: int, noun: str) -> str:
    return f"{k} {noun}" + ("" if k == 1 else "s")


def _pts(x: float) -> str:
    return f"{100 * x:.1f}"


def _ci(metrics: dict[str, Any], mode: str, t: str | None = None) -> str:
    ci = (metrics.get("ci") or {}).get(mode) or {}
    iv = ((ci.get("per_type") or {}).get(t) or {}).get("f1") if t else ci.get("micro_f1")
    if iv:
        return f"[{_pts(iv[0])}, {_pts(iv[1])}]"
    return "n/a (one document)" if metrics.get("documents", 2) < 2 else "n/a (no spans)"


def _training_summary(cfg: Any, run_info: dict[str, Any]) -> list[str]:
    """Lines describing the training data: documents per split and gold spans per type and modality."""
    from .data import read_split

    docs = run_info.get("documents") or {}
    try:
        train = read_split(cfg.data.train_files)
    except Exception:  # the card is still written when the training files moved; the counts come from run_info
        train = None
    lines = ["News-style documents written and annotated for this project under the conflict-news event schema v1.1."]
    counts = []
    for split in ("train", "validation", "test"):
        n = len(train) if split == "train" and train is not None else docs.get(split)
        if n is not None:
            counts.append(f"{n} {split}")
    if counts:
        lines[0] += f" Documents: {', '.join(counts)}."
    if train is not None:
        by_type = Counter(e.type for d in train for e in d.events)
        by_mod = Counter(e.modality or "unannotated" for d in train for e in d.events)
        negatives = sum(1 for d in train if not d.events)
        lines += [
            "",
            "| training spans | " + " | ".join(EVENT_TYPES) + " | total |",
            "| --- |" + " ---: |" * (len(EVENT_TYPES) + 1),
            "| count | " + " | ".join(str(by_type.get(t, 0)) for t in EVENT_TYPES) + f" | {sum(by_type.values())} |",
            "",
            f"Modality of the training spans: {', '.join(f'{m} {by_mod[m]}' for m in (*MODALITIES, 'unannotated') if by_mod.get(m))}. "
            f"{negatives} training documents have no event (annotated negatives).",
        ]
    lines += ["", "The best checkpoint was chosen on validation strict micro-F1; the test split and the external sets were never used for selection. "
              "Data file checksums are in `manifest.json`."]
    return lines


def _multi_seed(run_info: dict[str, Any]) -> list[str]:
    ms = run_info.get("multi_seed")
    if not ms:
        return []
    lines = [
        "## Multi-seed training",
        "",
        f"One model was trained per seed ({', '.join(map(str, ms['seeds']))}); this bundle is **seed {ms['selected_seed']}**, "
        f"the {ms['selection']}. Mean ± sample standard deviation over the seeds (points):",
        "",
        "| data set | strict micro-F1 | relaxed micro-F1 |",
        "| --- | ---: | ---: |",
    ]
    for name, stats in ms["mean_std"].items():
        s, r = stats.get("strict_micro_f1"), stats.get("relaxed_micro_f1")
        if s and r:
            lines.append(f"| {dataset_name(name)} | {_pts(s[0])} ± {_pts(s[1])} | {_pts(r[0])} ± {_pts(r[1])} |")
    lines += ["", "All seeds' numbers: `seeds.md` in the reports folder.", ""]
    return lines


def render_model_card(cfg: Any, run_info: dict[str, Any], metrics: dict[str, Any]) -> str:
    """Render the card: YAML metadata (``model-index`` with the real scores) + Markdown body.

    Args:
        cfg: the resolved run config.
        run_info: the fit job's ``run_info.json`` (base model, documents, hashes; ``multi_seed``
            when the bundle is the best of several seeds).
        metrics: dataset -> report dict from the evaluate job (:func:`train.scoring.write_report`).

    Returns:
        The Markdown text (front matter, description, labels, use, training data, evaluation
        with per-type tables and 95% bootstrap intervals, lexicon baseline, intended use and
        limitations).
    """
    metrics = _ordered(metrics)
    base_info = run_info.get("base_model") or {}
    base = base_info.get("name_or_path") or cfg.model.name_or_path
    meta = {
        "language": ["en"],
        "license": "apache-2.0",
        "library_name": "transformers",
        "pipeline_tag": "token-classification",
        "tags": ["event-extraction", "event-detection", "conflict", "news", "token-classification"],
        "base_model": "sentence-transformers/all-MiniLM-L6-v2" if base.startswith("embedded:") else base,
        "model-index": _model_index(metrics),
    }
    sha = base_info.get("sha256")
    lines = [
        "---",
        yaml.safe_dump(meta, sort_keys=False).rstrip(),
        "---",
        "",
        "# Conflict-news event tagger",
        "",
        f"A token classifier that marks event mentions (triggers) of four types in English news text: "
        f"{', '.join(f'`{t}`' for t in EVENT_TYPES)}. It was fine-tuned from `{meta['base_model']}`"
        + (f" (base weights sha256 `{sha}`)." if sha else "."),
        "",
        "## Labels",
        "",
        f"Tagging scheme {TAGGING_SCHEME} over words; `id2label` in `config.json`: {', '.join(f'`{l}`' for l in LABELS)}. "
        "Spans are minimal triggers (the word that carries the event, e.g. `warned`, `visit`, `deployed`), never overlapping, one type each.",
        f"Documents longer than {cfg.window.max_length} tokens are read in windows with a stride of {cfg.window.stride} tokens; "
        "each word takes the label of its first sub-token from the window where it is most central (`inference.json`). "
        "A span's score is the mean probability of its words' labels.",
        "",
        "## Use",
        "",
        "```python",
        "from transformers import pipeline",
        'tagger = pipeline("token-classification", model="artifacts/model", aggregation_strategy="first")',
        'tagger("Seoul warned Moscow after the minister\'s visit to Pyongyang.")',
        "```",
        "",
        "The pipeline truncates at 512 tokens; for long documents use `python -m train predict --model artifacts/model --input FILE`, "
        "which windows the whole document and returns character offsets.",
        "",
        "## Training data",
        "",
        *_training_summary(cfg, run_info),
        "",
        *_multi_seed(run_info),
        "## Evaluation",
        "",
        "Strict matching: a predicted span counts only if its start, end (character offsets) and type equal a gold span's. "
        "Relaxed: an overlapping span of the same type counts. Scores in points (0-100); brackets hold 95% percentile bootstrap "
        "intervals over documents. The lexicon baseline tags every trigger form seen in training with its most frequent type "
        "(case-insensitive, whole words, longest match first).",
        "",
    ]
    if metrics:
        lines += ["| data set | documents | gold spans | strict micro-F1 | relaxed micro-F1 | lexicon baseline strict F1 |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for name, m in metrics.items():
            lex = m.get("lexicon_baseline")
            lex_s = f"{_pts(lex['strict']['micro_f1'])} {_ci(lex, 'strict')}" if lex else "not scored"
            lines.append(f"| {dataset_name(name)} | {m['documents']} | {m['gold_spans']} | {_pts(m['strict']['micro_f1'])} {_ci(m, 'strict')} | {_pts(m['relaxed']['micro_f1'])} {_ci(m, 'relaxed')} | {lex_s} |")
        lines.append("")
    for name, m in metrics.items():
        s = m["strict"]
        lines += [
            f"### {dataset_name(name)} ({m['documents']} documents, {m['gold_spans']} gold spans)",
            "",
            "| type | P | R | F1 (strict) | 95% CI | F1 (relaxed) | support |",
            "| --- | ---: | ---: | ---: | --- | ---: | ---: |",
        ]
        for t, v in s["per_type"].items():
            lines.append(f"| {t} | {_pts(v['precision'])} | {_pts(v['recall'])} | {_pts(v['f1'])} | {_ci(m, 'strict', t)} | {_pts(m['relaxed']['per_type'][t]['f1'])} | {v['support']} |")
        lines.append(f"| micro | {_pts(s['micro_precision'])} | {_pts(s['micro_recall'])} | {_pts(s['micro_f1'])} | {_ci(m, 'strict')} | {_pts(m['relaxed']['micro_f1'])} | {s['tp'] + s['fn']} |")
        neg = m.get("negative_documents")
        if neg and neg["documents"]:
            lines += ["", f"False positives on the {_n(neg['documents'], 'document')} without any event: "
                      f"{_n(neg['false_positives'], 'span')} in {_n(neg['documents_with_predictions'], 'document')}."]
        lines.append("")
    lines += [
        "## Intended use and limitations",
        "",
        "- For finding mentions of warnings/threats, military deployments, official visits and annexations in English news, "
        "as a first pass for analysts; review its output before relying on it.",
        "- Four event types only; other events (attacks, protests, talks without travel) are not tagged. English only: "
        "the training data and the base model's vocabulary are English.",
        "- Trained on a modest corpus written for the project; expect lower scores on text far from news style "
        "(encyclopaedic history, social media) and on rare trigger words. The external sets above show the size of that drop.",
        "- It tags triggers, not arguments: who warned whom, or where troops went, is not extracted. Modality (planned, "
        "hypothetical, negated) is not predicted: a tagged span may be an event that did not happen.",
        "- The intervals cover test-set sampling only; on small sets they are wide, so differences of a few points between models "
        "may not be real.",
        "",
    ]
    return "\n".join(lines)
