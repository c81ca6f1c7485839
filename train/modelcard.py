"""Model card (``README.md`` of the exported bundle) with real evaluation results."""

from __future__ import annotations

from typing import Any

import yaml

from .labels import EVENT_TYPES, LABELS, TAGGING_SCHEME

_DATASET_NAMES = {
    "validation": "conflict-news corpus, validation split",
    "test": "conflict-news corpus, test split",
}


def _model_index(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    results = []
    for name, m in metrics.items():
        s = m["strict"]
        results.append(
            {
                "task": {"type": "token-classification", "name": "Event trigger detection"},
                "dataset": {"name": _DATASET_NAMES.get(name, name), "type": name},
                "metrics": [
                    {"type": "f1", "value": round(s["micro_f1"], 4), "name": "strict micro-F1"},
                    {"type": "precision", "value": round(s["micro_precision"], 4), "name": "strict micro precision"},
                    {"type": "recall", "value": round(s["micro_recall"], 4), "name": "strict micro recall"},
                    {"type": "f1", "value": round(m["relaxed"]["micro_f1"], 4), "name": "relaxed micro-F1"},
                ],
            }
        )
    return [{"name": "conflict-event-tagger", "results": results}]


def render_model_card(cfg: Any, run_info: dict[str, Any], metrics: dict[str, Any]) -> str:
    """Render the card: YAML metadata (``model-index`` with the real scores) + Markdown body.

    Args:
        cfg: the resolved run config.
        run_info: the fit job's ``run_info.json`` (base model, documents, hashes).
        metrics: dataset -> metrics dict from the evaluate job.
    """
    base = (run_info.get("base_model") or {}).get("name_or_path", cfg.model.name_or_path)
    meta = {
        "language": ["en"],
        "license": "apache-2.0",
        "library_name": "transformers",
        "pipeline_tag": "token-classification",
        "tags": ["event-extraction", "event-detection", "conflict", "news", "token-classification"],
        "base_model": "sentence-transformers/all-MiniLM-L6-v2" if base.startswith("embedded:") else base,
        "model-index": _model_index(metrics),
    }
    docs = run_info.get("documents", {})
    lines = [
        "---",
        yaml.safe_dump(meta, sort_keys=False).rstrip(),
        "---",
        "",
        "# Conflict-news event tagger",
        "",
        f"A token classifier that marks event mentions (triggers) of four types in English news text: "
        f"{', '.join(f'`{t}`' for t in EVENT_TYPES)}. It was fine-tuned from `{meta['base_model']}` "
        f"(base weights sha256 `{(run_info.get('base_model') or {}).get('sha256')}`).",
        "",
        "## Labels",
        "",
        f"Tagging scheme {TAGGING_SCHEME}; `id2label` in `config.json`: {', '.join(f'`{l}`' for l in LABELS)}.",
        f"Documents longer than {cfg.window.max_length} tokens are read in windows with a stride of {cfg.window.stride} tokens; "
        "each word takes the label of its first sub-token from the window where it is most central (`inference.json`).",
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
        f"News-style documents written and annotated for this project under the conflict-news event schema v1.1: "
        f"{docs.get('train', '?')} training and {docs.get('validation', '?')} validation documents; the best epoch was chosen on "
        "validation strict micro-F1. Data file checksums are in `manifest.json`.",
        "",
        "## Evaluation",
        "",
        "Strict matching: a predicted span counts only if its start, end (character offsets) and type equal a gold span's. "
        "Relaxed: an overlapping span of the same type counts.",
        "",
    ]
    for name, m in metrics.items():
        s = m["strict"]
        lines += [f"### {_DATASET_NAMES.get(name, name)} ({m['documents']} documents, {m['gold_spans']} gold spans)", "", "| type | P | R | F1 (strict) | F1 (relaxed) | support |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for t, v in s["per_type"].items():
            lines.append(f"| {t} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {m['relaxed']['per_type'][t]['f1']:.3f} | {v['support']} |")
        lines.append(f"| micro | {s['micro_precision']:.3f} | {s['micro_recall']:.3f} | {s['micro_f1']:.3f} | {m['relaxed']['micro_f1']:.3f} | {s['tp'] + s['fn']} |")
        lines.append("")
    lines += [
        "## Intended use and limitations",
        "",
        "- For finding mentions of warnings/threats, military deployments, official visits and annexations in English news, "
        "as a first pass for analysts; review its output before relying on it.",
        "- Four event types only; other events (attacks, protests, talks without travel) are not tagged. English only.",
        "- Trained on a modest corpus written for the project; expect lower scores on text far from news style "
        "(encyclopaedic history, social media) and on rare trigger words.",
        "- It tags triggers, not arguments: who warned whom, or where troops went, is not extracted. Modality is not predicted.",
        "",
    ]
    return "\n".join(lines)
