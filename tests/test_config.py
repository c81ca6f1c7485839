"""Every config file loads; bad configs fail at load time naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from train.config import Config, ConfigError, config_hash, load_config, to_yaml

REPO = Path(__file__).resolve().parents[1]
RUN_CONFIGS = sorted(p for p in (REPO / "configs").rglob("*.yaml") if "accelerate" not in p.parts)


def test_there_are_run_configs():
    assert {p.name for p in RUN_CONFIGS} >= {"default.yaml", "debug.yaml"}


@pytest.mark.parametrize("path", RUN_CONFIGS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_run_config_loads_and_its_files_exist(path):
    cfg = load_config(path)
    assert isinstance(cfg, Config)
    for key in ("train_files", "validation_files", "test_files"):
        for f in getattr(cfg.data, key):
            name = f.split(":", 1)[-1] if ":" in f and not Path(f).exists() else f
            assert (REPO / name).exists(), f"{path.name}: data.{key} names missing {f}"


def test_debug_extends_default():
    default, debug = load_config(REPO / "configs/default.yaml"), load_config(REPO / "configs/debug.yaml")
    assert debug.window.max_length == 32 and debug.model == default.model
    assert debug.train.seed == default.train.seed


def test_overrides_are_typed():
    cfg = load_config(None, ["train.epochs=2", "window.stride=16", "train.report_to=[]", "data.train_files=[a.jsonl,b.jsonl]"])
    assert cfg.train.epochs == 2.0 and cfg.window.stride == 16 and cfg.train.report_to == [] and cfg.data.train_files == ["a.jsonl", "b.jsonl"]


@pytest.mark.parametrize(
    "overrides, needle",
    [
        (["train.epochz=2"], "train.epochz"),
        (["train.epochs=many"], "train.epochs"),
        (["window.max_length=4096"], "window.max_length"),
        (["window.stride=200"], "window.stride"),
        (["window.subtoken_labels=first"], "window.subtoken_labels"),
        (["train.device=tpu"], "train.device"),
        (["model.sha256=abc"], "model.sha256"),
        (["eval.splits=[dev]"], "eval.splits"),
        (["train.epochs"], "not key=value"),
    ],
)
def test_bad_values_name_the_key(overrides, needle):
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")):
        load_config(None, overrides)


def test_unknown_key_in_file_names_file_and_key(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("train:\n  lr: 0.1\n")
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    assert str(p) in str(exc.value) and "train.lr" in str(exc.value)


def test_missing_file_and_extends_cycle(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "none.yaml")
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_config(tmp_path / "a.yaml")


def test_resolved_yaml_round_trips(tmp_path):
    cfg = load_config(REPO / "configs/debug.yaml", ["train.seed=7"])
    p = tmp_path / "resolved.yaml"
    p.write_text(to_yaml(cfg))
    again = load_config(p)
    assert again == cfg and config_hash(again) == config_hash(cfg)
