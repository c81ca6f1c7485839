"""End to end on the tiny model: fit lowers the loss, evaluate writes reports, export reloads."""

from __future__ import annotations

import json

import pytest

from train.labels import ID2LABEL

pytestmark = pytest.mark.slow


@pytest.fixture()
def trained(tiny_config):
    """The whole main job on the tiny model and corpus; returns (config, bundle dir)."""
    from train.pipeline import run

    tiny_config.train.epochs = 8
    return tiny_config, run(tiny_config)


def test_fit_lowers_the_loss(trained):
    cfg, _ = trained
    info = json.loads((cfg.train.output_dir and (__import__("pathlib").Path(cfg.train.output_dir) / "run_info.json")).read_text())
    losses = [h["loss"] for h in info["log_history"] if "loss" in h]
    assert len(losses) >= 4
    assert losses[-1] < losses[0] * 0.8, losses


def test_bundle_files_and_label_maps(trained):
    from transformers import AutoConfig

    cfg, bundle = trained
    expected = {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "inference.json", "config.yaml", "run_info.json", "metrics.json", "README.md", "manifest.json"}
    assert expected <= {p.name for p in bundle.iterdir()}
    conf = AutoConfig.from_pretrained(str(bundle))
    assert {int(k): v for k, v in conf.id2label.items()} == ID2LABEL
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["labels"] == [ID2LABEL[i] for i in range(len(ID2LABEL))]
    metrics = json.loads((bundle / "metrics.json").read_text())
    assert set(metrics) == {"validation", "test"}
    assert metrics["validation"]["gold_spans"] == 4
