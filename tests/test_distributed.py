"""Scaling out: launcher configs, the GPU recipe, and a real 2-process CPU training (gloo).

The 2-process run goes through ``accelerate launch --config_file configs/accelerate/cpu_multi.yaml``,
the command ``make train ACCELERATE_CONFIG=configs/accelerate/cpu_multi.yaml`` runs.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import FIXTURES, REPO

ACCELERATE_DIR = REPO / "configs" / "accelerate"
ACCELERATE_CONFIGS = sorted(ACCELERATE_DIR.glob("*.yaml"))
#: Keys that are training hyperparameters: they belong in the run configs, never in a launcher config.
HYPERPARAMETER_KEYS = re.compile(
    r"(learning_rate|^lr$|batch_size|micro_batch|^epochs?$|num_train_epochs|max_steps|^seed$|weight_decay|warmup|"
    r"gradient_accumulation|gradient_clipping|max_grad_norm|^optimizer$|^scheduler$|^optim$|dropout|label_smoothing)"
)


def _keys(d, prefix=""):
    for k, v in d.items():
        yield f"{prefix}{k}", str(k)
        if isinstance(v, dict):
            yield from _keys(v, f"{prefix}{k}.")


def test_the_six_launcher_configs_exist():
    assert {p.name for p in ACCELERATE_CONFIGS} == {
        "cpu_single.yaml", "cpu_multi.yaml", "gpu_single_bf16.yaml", "multi_gpu_ddp.yaml", "fsdp.yaml", "deepspeed_zero2.yaml"}


@pytest.mark.parametrize("path", ACCELERATE_CONFIGS, ids=lambda p: p.name)
def test_launcher_config_parses_with_accelerate_and_holds_no_hyperparameters(path):
    import yaml
    from accelerate.commands.config.config_args import ClusterConfig, load_config_from_file
    from accelerate.utils import DistributedType

    cfg = load_config_from_file(str(path))  # accelerate's own loader: unknown keys raise
    assert isinstance(cfg, ClusterConfig)
    assert cfg.num_processes >= 1 and cfg.num_machines >= 1
    assert cfg.mixed_precision in ("no", "bf16")
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    bad = [full for full, k in _keys(raw) if HYPERPARAMETER_KEYS.search(k)]
    assert not bad, f"{path.name} holds hyperparameters {bad}: they belong in configs/*.yaml"
    if path.name.startswith("cpu_"):
        assert cfg.use_cpu and cfg.mixed_precision == "no"
    else:
        assert not cfg.use_cpu and cfg.mixed_precision == "bf16"
    expected = {"cpu_single.yaml": (DistributedType.NO, 1), "cpu_multi.yaml": (DistributedType.MULTI_GPU, 2),
                "gpu_single_bf16.yaml": (DistributedType.NO, 1), "multi_gpu_ddp.yaml": (DistributedType.MULTI_GPU, None),
                "fsdp.yaml": (DistributedType.FSDP, None), "deepspeed_zero2.yaml": (DistributedType.DEEPSPEED, None)}[path.name]
    assert cfg.distributed_type == expected[0]
    if expected[1] is not None:
        assert cfg.num_processes == expected[1]
    if cfg.distributed_type == DistributedType.FSDP:
        assert cfg.fsdp_config["fsdp_state_dict_type"] == "FULL_STATE_DICT"  # best/ and the bundle load without FSDP
    if cfg.distributed_type == DistributedType.DEEPSPEED:
        assert cfg.deepspeed_config["zero_stage"] == 2


def test_make_train_launches_through_accelerate_with_the_cpu_default():
    out = subprocess.run(["make", "-n", "train", "RESUME=1"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert "accelerate launch" in out and "--config_file configs/accelerate/cpu_single.yaml" in out and "-m train run" in out
    assert "train.resume=true" in out
    out = subprocess.run(["make", "-n", "train", "ACCELERATE_CONFIG=configs/accelerate/cpu_multi.yaml"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert "--config_file configs/accelerate/cpu_multi.yaml" in out and "train.resume" not in out


def test_gpu_recipe_maps_to_trainer_arguments():
    """configs/gpu.yaml validates on the CPU and asks the Trainer for bf16, fused AdamW and a larger batch."""
    from train.config import load_config
    from train.fit import training_arguments

    default, gpu = load_config(REPO / "configs/default.yaml"), load_config(REPO / "configs/gpu.yaml")
    args = training_arguments(gpu)
    assert args["bf16"] is True and args["optim"] == "adamw_torch_fused" and args["use_cpu"] is False
    assert args["per_device_train_batch_size"] > default.train.batch_size
    assert args["torch_compile"] is False and training_arguments(load_config(REPO / "configs/gpu.yaml", ["train.torch_compile=true"]))["torch_compile"] is True
    assert gpu.data == default.data and gpu.model == default.model and gpu.window == default.window
    every = training_arguments(load_config(REPO / "configs/debug.yaml", ["train.save_steps=5"]))
    assert every["save_strategy"] == every["eval_strategy"] == "steps" and every["save_steps"] == every["eval_steps"] == 5


def test_bf16_on_the_cpu_is_refused(monkeypatch):
    from train.config import ConfigError, load_config
    from train.fit import check_launcher

    check_launcher(load_config(REPO / "configs/default.yaml"))
    with pytest.raises(ConfigError, match="train.bf16"):
        check_launcher(load_config(REPO / "configs/default.yaml", ["train.bf16=true"]))
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "bf16")  # gpu_single_bf16.yaml with the CPU run config
    with pytest.raises(ConfigError, match="mixed_precision bf16"):
        check_launcher(load_config(REPO / "configs/default.yaml"))
    check_launcher(load_config(REPO / "configs/gpu.yaml"))


def test_gathered_windows_are_checked():
    """Duplicates, losses and reordering of evaluation windows are errors, not a silently wrong F1."""
    from train.fit import check_gathered_windows

    gold = [[-100, 0, 1, -100], [-100, 0, -100], [-100, 2, 0, 0, -100]]
    padded = np.full((3, 5), -100)
    for i, g in enumerate(gold):
        padded[i, : len(g)] = g
    logits = np.zeros((3, 5, 9))
    check_gathered_windows(logits, padded, gold, 3)
    with pytest.raises(RuntimeError, match="gathered 4 windows for 3"):
        check_gathered_windows(np.zeros((4, 5, 9)), np.vstack([padded, padded[:1]]), gold, 3)
    with pytest.raises(RuntimeError, match="gathered 2 windows for 3"):
        check_gathered_windows(logits[:2], padded[:2], gold, 3)
    with pytest.raises(RuntimeError, match="out of order"):
        check_gathered_windows(logits, padded[[1, 0, 2]], gold, 3)


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory, tiny_model_dir):
    """``run`` (fit -> evaluate -> export) of the tiny model under ``accelerate launch`` with 2 CPU processes."""
    out = tmp_path_factory.mktemp("ddp")
    val = out / "validation.jsonl"  # the tiny validation set + the training sentences (ids renamed): a non-trivial F1
    lines = (FIXTURES / "tiny_validation.jsonl").read_text(encoding="utf-8").splitlines()
    lines += [json.dumps({**json.loads(l), "id": json.loads(l)["id"] + "-v"}) for l in (FIXTURES / "tiny_train.jsonl").read_text(encoding="utf-8").splitlines()]
    val.write_text("\n".join(lines) + "\n", encoding="utf-8")
    overrides = [
        f"model.name_or_path={tiny_model_dir}",
        f"data.train_files=[{FIXTURES / 'tiny_train.jsonl'}]",
        f"data.validation_files=[{val}]",
        f"data.test_files=[{FIXTURES / 'tiny_validation.jsonl'}]",
        f"data.cache_dir={out / 'cache'}",
        f"train.output_dir={out / 'run'}",
        f"eval.reports_dir={out / 'reports'}",
        f"export.model_dir={out / 'model'}",
        "train.epochs=10", "train.batch_size=2", "train.eval_batch_size=2", "train.learning_rate=1.5e-02",
        "train.warmup_ratio=0.0", "train.save_total_limit=1", "export.onnx=false",
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1"}
    cmd = [str(Path(sys.executable).with_name("accelerate")), "launch", "--config_file", str(ACCELERATE_DIR / "cpu_multi.yaml"),
           "-m", "train", "run", "--config", str(REPO / "configs" / "debug.yaml"), *overrides]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    from train.config import load_config

    return load_config(REPO / "configs" / "debug.yaml", overrides), proc


@pytest.mark.slow
def test_two_process_run_trains_evaluates_and_exports(two_process_run):
    from train.predict import Predictor

    cfg, _ = two_process_run
    info = json.loads((Path(cfg.train.output_dir) / "run_info.json").read_text())
    assert info["processes"] == 2 and info["distributed_backend"] == "gloo"
    losses = [h["loss"] for h in info["log_history"] if "loss" in h]
    assert losses[-1] < losses[0] * 0.8, losses
    evals = [h for h in info["log_history"] if "eval_micro_f1" in h]
    assert len(evals) == cfg.train.epochs
    # the evaluation's last batch is uneven across the 2 processes (padded, then deduplicated)
    assert info["windows"]["validation"] % (2 * cfg.train.eval_batch_size) != 0
    assert 0 < info["best_validation_strict_micro_f1"] <= 1
    for split in ("validation", "test"):
        assert (Path(cfg.eval.reports_dir) / split / "metrics.json").is_file()
    bundle = Path(cfg.export.model_dir)
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert "model.safetensors" in manifest["files"]
    Predictor(bundle)  # loads: every file matches the manifest (one writer)
    assert not [p.name for p in bundle.parent.iterdir() if p.name.startswith(".")]  # no temporary bundle left behind


@pytest.mark.slow
def test_two_process_metrics_equal_a_one_process_evaluation(two_process_run):
    """F1 of the best checkpoint gathered from 2 processes == a 1-process evaluation of the same weights."""
    from transformers import AutoModelForTokenClassification, DataCollatorForTokenClassification, Trainer, TrainingArguments

    from train.data import prepare
    from train.fit import META_COLUMNS, make_compute_metrics
    from train.modeling import load_tokenizer

    cfg, _ = two_process_run
    run = Path(cfg.train.output_dir)
    info = json.loads((run / "run_info.json").read_text())
    best_step = int(info["best_checkpoint"].rsplit("-", 1)[1])
    (gathered,) = [h for h in info["log_history"] if "eval_micro_f1" in h and h["step"] == best_step]
    tokenizer = load_tokenizer(str(run / "best"))
    data = prepare(cfg, tokenizer, ("train", "validation"))
    args = TrainingArguments(output_dir=str(run / "one-process-eval"), per_device_eval_batch_size=cfg.train.eval_batch_size, use_cpu=True, report_to="none")
    trainer = Trainer(model=AutoModelForTokenClassification.from_pretrained(str(run / "best")), args=args,
                      eval_dataset=data.windows["validation"].remove_columns(META_COLUMNS),
                      data_collator=DataCollatorForTokenClassification(tokenizer),
                      compute_metrics=make_compute_metrics(data.docs["validation"], data.windows["validation"]))
    single = trainer.evaluate()
    for key in [k for k in gathered if k.startswith("eval_") and ("f1" in k or "precision" in k or "recall" in k)]:
        assert single[key] == gathered[key], key
    assert single["eval_micro_f1"] == info["best_validation_strict_micro_f1"] > 0
    report = json.loads((Path(cfg.eval.reports_dir) / "validation" / "metrics.json").read_text())
    assert report["strict"]["micro_f1"] == pytest.approx(single["eval_micro_f1"], abs=1e-12)  # the Predictor path agrees
