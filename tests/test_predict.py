"""Served outputs: the exported bundle through transformers.pipeline and through `python -m train predict`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from train.records import read_jsonl

from conftest import FIXTURES, REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gold():
    return read_jsonl(FIXTURES / "tiny_train.jsonl")


def test_overfit_model_reproduces_training_spans(overfit_bundle, gold):
    from train.predict import Predictor

    _, bundle = overfit_bundle
    predicted = Predictor(bundle).predict_documents(gold)
    assert [[(e.start, e.end, e.type) for e in d.events] for d in predicted] == [[(e.start, e.end, e.type) for e in d.events] for d in gold]


def test_pipeline_gives_correct_character_offsets(overfit_bundle, gold):
    from transformers import pipeline

    _, bundle = overfit_bundle
    tagger = pipeline("token-classification", model=str(bundle), aggregation_strategy="first", device="cpu")
    for doc in gold:
        got = [(r["start"], r["end"], r["entity_group"]) for r in tagger(doc.text)]
        assert got == [(e.start, e.end, e.type) for e in doc.events], doc.id
        for r in tagger(doc.text):
            assert doc.text[r["start"]:r["end"]].lower() == r["word"].replace(" ", "").lower() or r["word"]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "train", *args], cwd=REPO, capture_output=True, text=True, timeout=300)


def test_predict_cli_txt_and_jsonl(overfit_bundle, gold, tmp_path):
    _, bundle = overfit_bundle
    txt = tmp_path / "note.txt"
    txt.write_text(gold[0].text, encoding="utf-8")
    proc = run_cli("predict", "--model", str(bundle), "--input", str(txt))
    assert proc.returncode == 0, proc.stderr
    (rec,) = [json.loads(line) for line in proc.stdout.splitlines()]
    assert rec["id"] == "note" and rec["text"] == gold[0].text
    assert [(e["start"], e["end"], e["type"], e["trigger"]) for e in rec["events"]] == [(e.start, e.end, e.type, e.trigger) for e in gold[0].events]
    assert all(0.0 <= e["score"] <= 1.0 for e in rec["events"])

    out = tmp_path / "pred.jsonl"
    proc = run_cli("predict", "--model", str(bundle), "--input", str(FIXTURES / "tiny_train.jsonl"), "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    predicted = read_jsonl(out)  # the output is itself valid schema JSONL
    assert [d.id for d in predicted] == [d.id for d in gold]
    assert [[(e.start, e.end, e.type) for e in d.events] for d in predicted] == [[(e.start, e.end, e.type) for e in d.events] for d in gold]


def test_evaluate_cli_scores_a_schema_file(overfit_bundle, tmp_path):
    cfg, bundle = overfit_bundle
    proc = run_cli("evaluate", "--config", "configs/debug.yaml", "--model", str(bundle), "--data", str(FIXTURES / "tiny_train.jsonl"),
                   f"eval.reports_dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((tmp_path / "tiny_train" / "metrics.json").read_text())
    assert metrics["strict"]["micro_f1"] == 1.0 and metrics["gold_spans"] == 11
    assert metrics["gold_spans_not_representable"] == 0
    assert (tmp_path / "tiny_train" / "metrics.md").is_file()


def test_bad_input_exits_2_with_file_and_line(overfit_bundle, tmp_path):
    _, bundle = overfit_bundle
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "ok"}\n{"id": "b"\n', encoding="utf-8")
    proc = run_cli("predict", "--model", str(bundle), "--input", str(bad))
    assert proc.returncode == 2
    assert f"{bad}:2" in proc.stderr and "Traceback" not in proc.stderr
