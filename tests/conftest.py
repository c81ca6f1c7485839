"""Shared fixtures: offline settings, a tiny locally built model, the tiny corpus."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
SHARED = REPO.parent / "shared"
SHARED_EVAL = SHARED / "eval"


def pytest_collection_modifyitems(config, items):
    """Nothing to change; kept so markers stay declared in pyproject.toml."""


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory) -> Path:
    """A directory holding only the embedded model's tokenizer files (uncased WordPiece)."""
    from train.modeling import embedded_model_dir

    src = embedded_model_dir()
    out = tmp_path_factory.mktemp("tokenizer")
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (src / name).exists():
            shutil.copy(src / name, out / name)
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tokenizer_dir) -> Path:
    """A tiny randomly initialised BERT encoder (2 layers, hidden 32) saved with the real tokenizer.

    Built locally with ``from_config``: no download. Its classifier head is added by ``build_model``.
    """
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, max_position_embeddings=512)
    out = tmp_path_factory.mktemp("tiny-bert")
    BertModel(config).save_pretrained(str(out))
    tok.save_pretrained(str(out))
    return out


def make_tiny_config(out_dir: Path, model_dir: Path, *overrides: str):
    """``configs/debug.yaml`` with the given model, the tiny corpus, and every output under ``out_dir``."""
    from train.config import load_config

    return load_config(
        REPO / "configs" / "debug.yaml",
        [
            f"model.name_or_path={model_dir}",
            f"data.train_files=[{FIXTURES / 'tiny_train.jsonl'}]",
            f"data.validation_files=[{FIXTURES / 'tiny_validation.jsonl'}]",
            f"data.test_files=[{FIXTURES / 'tiny_validation.jsonl'}]",
            f"data.cache_dir={out_dir / 'cache'}",
            f"train.output_dir={out_dir / 'run'}",
            f"eval.reports_dir={out_dir / 'reports'}",
            f"export.model_dir={out_dir / 'model'}",
            *overrides,
        ],
    )


@pytest.fixture()
def tiny_config(tmp_path, tiny_model_dir):
    """``configs/debug.yaml`` with the tiny model and every output under ``tmp_path``."""
    return make_tiny_config(tmp_path, tiny_model_dir)


@pytest.fixture(scope="session")
def overfit_bundle(tmp_path_factory, tiny_model_dir):
    """An exported tiny model trained until it reproduces the tiny training corpus (seeded, CPU).

    Returns ``(config, bundle_dir)``. Used to check that served outputs give the right offsets.
    """
    from train.pipeline import run

    import json

    out = tmp_path_factory.mktemp("overfit")
    # select the epoch on the training sentences themselves (ids renamed: splits may not share ids)
    val = out / "train_as_validation.jsonl"
    lines = (FIXTURES / "tiny_train.jsonl").read_text(encoding="utf-8").splitlines()
    val.write_text("".join(json.dumps({**json.loads(l), "id": json.loads(l)["id"] + "-v"}) + "\n" for l in lines), encoding="utf-8")
    cfg = make_tiny_config(out, tiny_model_dir, "train.epochs=60", "train.learning_rate=3.0e-03", "train.warmup_ratio=0.0",
                           "window.max_length=64", "window.stride=16", f"data.validation_files=[{val}]")
    return cfg, run(cfg)


def require_shared_eval() -> Path:
    """Skip the calling test when ``../shared/eval`` is absent (users' clones do not have it)."""
    if not SHARED_EVAL.is_dir():
        pytest.skip(f"{SHARED_EVAL} is absent (shared evaluation data is only beside the CI checkout)")
    return SHARED_EVAL
