"""The ``fit`` job: fine-tune the token classifier with the transformers Trainer."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .config import Config, ConfigError, config_hash, to_yaml
from .data import PreparedData, prepare
from .decoding import decode_windows
from .distributed import CHECKPOINT_RE, latest_checkpoint
from .labels import ID2LABEL, LABELS, TAGGING_SCHEME
from .modeling import build_model, load_tokenizer, resolve_base_model
from .predict import INFERENCE_FILE
from .probe import fit_linear_probe
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
    gold_labels = list(windows["labels"]) if "labels" in windows.column_names else None
    texts = [d.text for d in docs]

    def compute_metrics(eval_pred: Any) -> dict[str, float]:
        logits = eval_pred.predictions
        if isinstance(logits, tuple):
            logits = logits[0]
        check_gathered_windows(logits, eval_pred.label_ids, gold_labels, len(doc_index))
        spans = decode_windows(texts, doc_index, offsets, word_ids, logits)
        predicted = [Document(d.id, d.text, tuple(s)) for d, s in zip(docs, spans)]
        m = score_documents(predicted, docs, "strict")
        out = {"micro_f1": m["micro_f1"], "micro_precision": m["micro_precision"], "micro_recall": m["micro_recall"], "macro_f1": m["macro_f1"]}
        out.update({f"f1_{t}": v["f1"] for t, v in m["per_type"].items()})
        return out

    return compute_metrics


def check_gathered_windows(logits: Any, label_ids: Any, gold_labels: list[list[int]] | None, n_windows: int) -> None:
    """Check that evaluation saw every validation window exactly once, in dataset order.

    Under several processes the Trainer shards the evaluation windows, pads the last uneven
    batch with repeated windows and gathers the logits with ``gather_for_metrics``, which
    drops the repeats. Decoding pairs logits with windows by position, so a duplicate, a
    loss or a reordering would silently corrupt the F1: this check makes it an error.

    Args:
        logits: gathered logits, shape ``(n, L, num_labels)``.
        label_ids: gathered labels, shape ``(n, L)`` padded with -100 (or ``None``).
        gold_labels: the dataset's label rows (unpadded), or ``None`` to check the count only.
        n_windows: windows in the evaluation dataset.

    Raises:
        RuntimeError: the count or the order of the gathered windows is wrong.
    """
    if len(logits) != n_windows:
        raise RuntimeError(f"evaluation gathered {len(logits)} windows for {n_windows} validation windows (duplicates or losses across processes)")
    if label_ids is None or gold_labels is None:
        return
    for i, gold in enumerate(gold_labels):
        got = np.asarray(label_ids[i])
        if len(got) < len(gold) or not np.array_equal(got[: len(gold)], gold) or np.any(got[len(gold):] != -100):
            raise RuntimeError(f"evaluation window {i} does not hold validation window {i}: gathered windows are out of order")


def training_arguments(cfg: Config) -> dict[str, Any]:
    """Keyword arguments of ``transformers.TrainingArguments`` for a run config.

    A pure mapping (no device or process-group set-up), so GPU recipes can be checked on a CPU.
    Validation and checkpoints share one schedule (``load_best_model_at_end`` needs that):
    every ``train.save_steps`` optimizer steps when set, else once per epoch (twice per run
    with ``train.max_steps``). Checkpoints hold the optimizer, scheduler, RNG and trainer
    state, so a run resumes exactly (``train.resume``).
    """
    t = cfg.train
    if t.save_steps > 0:
        strategy, every = "steps", t.save_steps
    elif t.max_steps > 0:
        strategy, every = "steps", max(1, t.max_steps // 2)
    else:
        strategy, every = "epoch", None
    return dict(
        output_dir=str(t.output_dir),
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
        eval_strategy=strategy,
        save_strategy=strategy,
        eval_steps=every,
        save_steps=every,
        load_best_model_at_end=True,
        metric_for_best_model="micro_f1",
        greater_is_better=True,
        save_total_limit=t.save_total_limit,
        logging_steps=t.logging_steps,
        report_to=list(t.report_to) or "none",
        use_cpu=t.device == "cpu",
        bf16=t.bf16,
        optim=t.optim,
        torch_compile=t.torch_compile,
        dataloader_num_workers=0,
        ddp_find_unused_parameters=False,
    )


def check_launcher(cfg: Config) -> None:
    """Refuse a launcher config that contradicts the run config (e.g. bf16 on the CPU).

    Raises:
        ConfigError: the run would train on the CPU (``train.device: cpu`` or a CPU launcher
            config) in bf16 / fp16, which this project's CPUs cannot do at a usable speed.
    """
    mixed = os.environ.get("ACCELERATE_MIXED_PRECISION", "no").lower()
    launcher_cpu = os.environ.get("ACCELERATE_USE_CPU", "false").lower() in ("1", "true", "yes")
    on_cpu = cfg.train.device == "cpu" or launcher_cpu
    if on_cpu and (cfg.train.bf16 or mixed not in ("no", "")):
        where = "train.device is 'cpu'" if cfg.train.device == "cpu" else "the launcher config has use_cpu: true"
        what = "train.bf16 is true" if cfg.train.bf16 else f"the launcher config asks for mixed_precision {mixed}"
        raise ConfigError(f"config key 'train.bf16': {what} but {where}: train in fp32 on CPUs (configs/accelerate/cpu_*.yaml), "
                          "or use configs/gpu.yaml with a GPU launcher config")


def _prepare_output_dir(cfg: Config, out: Path) -> str | None:
    """Find the checkpoint to resume from (``train.resume``), or clear stale checkpoints of an earlier run.

    Returns:
        The checkpoint folder to pass to ``Trainer.train(resume_from_checkpoint=...)``, or ``None``.
    """
    if cfg.train.resume:
        ckpt = latest_checkpoint(out)
        if ckpt is None:
            log.warning("train.resume: no complete checkpoint in %s; training from scratch", out)
            return None
        previous = out / "config.yaml"
        if previous.is_file():
            import yaml

            def flat(d: Any, prefix: str = "") -> dict[str, Any]:
                return {k2: v2 for k, v in d.items() for k2, v2 in (flat(v, f"{prefix}{k}.").items() if isinstance(v, dict) else [(f"{prefix}{k}", v)])}

            old, new = flat(yaml.safe_load(previous.read_text(encoding="utf-8")) or {}), flat(yaml.safe_load(to_yaml(cfg)))
            changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k) and k != "train.resume")
            if changed:
                log.warning("train.resume: the config differs from the interrupted run's in %s; the result will not equal an uninterrupted run", changed)
        log.info("train.resume: continuing from %s", ckpt)
        return str(ckpt)
    stale = [p for p in out.iterdir() if CHECKPOINT_RE.match(p.name) and p.is_dir()] if out.is_dir() else []
    for p in stale:  # an earlier run's checkpoints must not be mixed with (or resumed instead of) this run's
        shutil.rmtree(p, ignore_errors=True)
    if stale:
        log.info("removed %d checkpoint(s) of an earlier run in %s (set train.resume=true to continue one instead)", len(stale), out)
    return None


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


def fit(cfg: Config, callbacks: Any = ()) -> FitResult:
    """Fine-tune the base model on the train split, selecting the best epoch on validation.

    Writes to ``cfg.train.output_dir``: Trainer checkpoints, TensorBoard logs (``runs/``),
    ``config.yaml`` (resolved), ``run_info.json`` and ``best/`` (the selected model with
    its tokenizer and ``inference.json``). Runs unchanged under ``accelerate launch`` /
    ``torchrun`` with several processes: the main process prepares the windows first (the
    others then read its cache) and writes the files; every process trains. With
    ``train.resume`` it continues the latest complete checkpoint of ``output_dir``;
    otherwise checkpoints of an earlier run there are removed first.

    Args:
        cfg: the run config.
        callbacks: extra ``transformers.TrainerCallback`` objects.

    Raises:
        ModelError: base model missing or failing its sha256 check.
        DataError: bad training data.
        ConfigError: the launcher config contradicts the run config (:func:`check_launcher`).
    """
    from transformers import DataCollatorForTokenClassification, Trainer, TrainingArguments, set_seed

    check_launcher(cfg)
    out = Path(cfg.train.output_dir)
    args = TrainingArguments(**training_arguments(cfg))  # sets up the process group under a launcher
    main = args.process_index == 0
    resolved = resolve_base_model(cfg.model)
    log.info("base model %s (sha256 %s, verified=%s)", resolved.location, resolved.sha256, resolved.verified)
    tokenizer = load_tokenizer(resolved.location, cfg.model.revision)
    with args.main_process_first(local=False, desc="output dir and tokenised windows"):
        if main:
            out.mkdir(parents=True, exist_ok=True)
            resume_from = _prepare_output_dir(cfg, out)
            (out / "config.yaml").write_text(to_yaml(cfg), encoding="utf-8")
        else:
            ckpt = latest_checkpoint(out) if cfg.train.resume else None
            resume_from = str(ckpt) if ckpt else None
        data = prepare(cfg, tokenizer, ("train", "validation"))
    info = _run_info(cfg, resolved, data)
    info["processes"] = args.world_size
    info["distributed_backend"] = getattr(args.distributed_state, "backend", None) if args.world_size > 1 else None
    info["resumed_from"] = resume_from
    set_seed(cfg.train.seed)
    model = build_model(resolved.location, cfg.model.revision)
    train_ds = data.windows["train"].remove_columns(META_COLUMNS)
    val_ds = data.windows["validation"].remove_columns(META_COLUMNS)
    collator = DataCollatorForTokenClassification(tokenizer)
    if cfg.train.head_init == "probe" and resume_from is None:
        # every process computes the same probe (deterministic), so no broadcast is needed
        info["linear_probe"] = fit_linear_probe(model, train_ds, collator, cfg.train.probe_steps, cfg.train.probe_learning_rate,
                                                cfg.train.eval_batch_size, cfg.train.seed)
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=val_ds,
        data_collator=collator,
        processing_class=tokenizer,
        compute_metrics=make_compute_metrics(data.docs["validation"], data.windows["validation"]),
        callbacks=list(callbacks) or None,
    )
    started = time.time()
    train_out = trainer.train(resume_from_checkpoint=resume_from)
    info["train_seconds"] = round(time.time() - started, 1)
    info["train_loss"] = train_out.training_loss
    info["log_history"] = trainer.state.log_history
    info["best_checkpoint"] = trainer.state.best_model_checkpoint
    best_f1 = float(trainer.state.best_metric if trainer.state.best_metric is not None else np.nan)
    info["best_validation_strict_micro_f1"] = best_f1
    best = out / "best"
    trainer.save_model(str(best))  # every process takes part (FSDP gathers the shards); the main one writes
    if trainer.is_world_process_zero():
        (best / INFERENCE_FILE).write_text(json.dumps({"max_length": cfg.window.max_length, "stride": cfg.window.stride, "tagging_scheme": TAGGING_SCHEME, "labels": LABELS}, indent=2) + "\n")
        (out / "run_info.json").write_text(json.dumps(info, indent=2, default=str) + "\n")
    trainer.accelerator.wait_for_everyone()
    log.info("best validation strict micro-F1 %.4f (%s)", best_f1, info["best_checkpoint"])
    return FitResult(best, best_f1, info)
