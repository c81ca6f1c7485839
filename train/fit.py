"""The ``fit`` job: fine-tune the token classifier with the transformers Trainer."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .config import Config, config_hash, to_yaml
from .data import PreparedData, prepare
from .decoding import decode_windows
from .labels import ID2LABEL, LABELS, TAGGING_SCHEME
from .modeling import build_model, load_tokenizer, resolve_base_model
from .predict import INFERENCE_FILE
from .records import Document

log = logging.getLogger(__name__)

#: Columns of the prepared windows that the model does not take.
META_COLUMNS = ["offset_mapping", "word_ids", "doc_index"]


@dataclass
class FitResult:
    """What a training run produced."""

    #: directory of the best model (``save_pretrained`` + tokenizer + inference.json)
    best_dir: Path
    #: validation strict micro-F1 of the best checkpoint
    best_f1: float
    #: run metadata (base model hash, data hashes, alignment, timings), also in run_info.json
    info: dict[str, Any]


def make_compute_metrics(docs: list[Document], windows: Any):
    """Build a Trainer ``compute_metrics`` that scores document-level spans.

    Window logits (``EvalPrediction.predictions``, shape ``(n_windows, L, num_labels)``,
    padded) are decoded back to character spans per document and scored with strict
    matching, so model selection uses the same number as the final evaluation.
    """
    from .scoring import score_documents

    doc_index = windows["doc_index"]
    offsets = windows["offset_mapping"]
    word_ids = windows["word_ids"]
    texts = [d.text for d in docs]

    def compute_metrics(eval_pred: Any) -> dict[str, float]:
        logits = eval_pred.predictions
        if isinstance(logits, tuple):
            logits = logits[0]
        spans = decode_windows(texts, doc_index, offsets, word_ids, logits)
        predicted = [Document(d.id, d.text, tuple(s)) for d, s in zip(docs, spans)]
        m = score_documents(predicted, docs, "strict")
        out = {"micro_f1": m["micro_f1"], "micro_precision": m["micro_precision"], "micro_recall": m["micro_recall"], "macro_f1": m["macro_f1"]}
        out.update({f"f1_{t}": v["f1"] for t, v in m["per_type"].items()})
        return out

    return compute_metrics


def _run_info(cfg: Config, resolved: Any, data: PreparedData) -> dict[str, Any]:
    import torch
    import transformers

    return {
        "config_sha256": config_hash(cfg),
        "base_model": {"name_or_path": resolved.requested, "location": resolved.location, "sha256": resolved.sha256, "verified": resolved.verified},
        "data_files_sha256": data.file_hashes,
        "windows_fingerprint": data.fingerprint,
        "alignment": {s: r.to_dict() for s, r in data.reports.items()},
        "documents": {s: len(d) for s, d in data.docs.items()},
        "windows": {s: len(w) for s, w in data.windows.items()},
        "labels": LABELS,
        "tagging_scheme": TAGGING_SCHEME,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
    }


def fit(cfg: Config) -> FitResult:
    """Fine-tune the base model on the train split, selecting the best epoch on validation.

    Writes to ``cfg.train.output_dir``: Trainer checkpoints, TensorBoard logs (``runs/``),
    ``config.yaml`` (resolved), ``run_info.json`` and ``best/`` (the selected model with
    its tokenizer and ``inference.json``).

    Raises:
        ModelError: base model missing or failing its sha256 check.
        DataError: bad training data.
    """
    from transformers import DataCollatorForTokenClassification, Trainer, TrainingArguments, set_seed

    out = Path(cfg.train.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(to_yaml(cfg), encoding="utf-8")
    resolved = resolve_base_model(cfg.model)
    log.info("base model %s (sha256 %s, verified=%s)", resolved.location, resolved.sha256, resolved.verified)
    tokenizer = load_tokenizer(resolved.location, cfg.model.revision)
    data = prepare(cfg, tokenizer, ("train", "validation"))
    info = _run_info(cfg, resolved, data)
    set_seed(cfg.train.seed)
    model = build_model(resolved.location, cfg.model.revision)
    train_ds = data.windows["train"].remove_columns(META_COLUMNS)
    val_ds = data.windows["validation"].remove_columns(META_COLUMNS)
    t = cfg.train
    args = TrainingArguments(
        output_dir=str(out),
        seed=t.seed,
        data_seed=t.seed,
        num_train_epochs=t.epochs,
        max_steps=t.max_steps,
        learning_rate=t.learning_rate,
        weight_decay=t.weight_decay,
        warmup_steps=t.warmup_ratio,
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.eval_batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        eval_strategy="epoch" if t.max_steps <= 0 else "steps",
        save_strategy="epoch" if t.max_steps <= 0 else "steps",
        eval_steps=None if t.max_steps <= 0 else max(1, t.max_steps // 2),
        save_steps=None if t.max_steps <= 0 else max(1, t.max_steps // 2),
        load_best_model_at_end=True,
        metric_for_best_model="micro_f1",
        greater_is_better=True,
        save_total_limit=t.save_total_limit,
        logging_steps=t.logging_steps,
        report_to=list(t.report_to) or "none",
        use_cpu=t.device == "cpu",
        bf16=t.bf16,
        optim="adamw_torch",
        dataloader_num_workers=0,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=val_ds,
        data_collator=DataCollatorForTokenClassification(tokenizer),
        processing_class=tokenizer,
        compute_metrics=make_compute_metrics(data.docs["validation"], data.windows["validation"]),
    )
    started = time.time()
    train_out = trainer.train()
    info["train_seconds"] = round(time.time() - started, 1)
    info["train_loss"] = train_out.training_loss
    info["log_history"] = trainer.state.log_history
    info["best_checkpoint"] = trainer.state.best_model_checkpoint
    best_f1 = float(trainer.state.best_metric if trainer.state.best_metric is not None else np.nan)
    info["best_validation_strict_micro_f1"] = best_f1
    best = out / "best"
    trainer.save_model(str(best))
    (best / INFERENCE_FILE).write_text(json.dumps({"max_length": cfg.window.max_length, "stride": cfg.window.stride, "tagging_scheme": TAGGING_SCHEME, "labels": LABELS}, indent=2) + "\n")
    (out / "run_info.json").write_text(json.dumps(info, indent=2, default=str) + "\n")
    log.info("best validation strict micro-F1 %.4f (%s)", best_f1, info["best_checkpoint"])
    return FitResult(best, best_f1, info)
