"""ONNX serving artifacts on the tiny model: logits and span parity, the reference
decoder, ``predict --backend``, atomic export and the bench report."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import FIXTURES, REPO, make_tiny_config
from train.labels import LABELS, TAGGING_SCHEME


def _config(root: Path, tiny_model_dir: Path, *extra: str):
    """The tiny debug config, with the bundle one level down (the atomic-swap tests need a parent of its own)."""
    return make_tiny_config(root, tiny_model_dir, f"export.model_dir={root / 'bundles' / 'model'}", *extra)


def _long_text() -> str:
    """~150 words of fixture text: several 32-token windows."""
    texts = [json.loads(line)["text"] for line in (FIXTURES / "tiny_train.jsonl").read_text().splitlines() if line.strip()]
    return " ".join((texts * 20))[:900]


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("onnx")


@pytest.fixture(scope="module")
def classifier_dir(root, tiny_model_dir) -> Path:
    """The tiny encoder with a seeded, untrained classifier head, saved like ``fit`` saves ``best/``."""
    import torch

    from train.modeling import build_model, load_tokenizer

    torch.manual_seed(0)
    out = root / "run" / "best"
    build_model(str(tiny_model_dir)).save_pretrained(str(out))
    load_tokenizer(str(tiny_model_dir)).save_pretrained(str(out))
    (out / "inference.json").write_text(json.dumps({"max_length": 32, "stride": 8, "tagging_scheme": TAGGING_SCHEME, "labels": LABELS}))
    return out


@pytest.fixture(scope="module")
def bundle(root, tiny_model_dir, classifier_dir):
    """``export`` of the tiny classifier with ONNX fp32 + int8 (parity checked by the export itself)."""
    from train.export import export

    cfg = _config(root, tiny_model_dir)
    return cfg, export(cfg, source=classifier_dir)


def test_graph_inputs_and_symbolic_dims(bundle):
    import onnx

    _, path = bundle
    for name in ("model.onnx", "model.int8.onnx"):
        model = onnx.load(str(path / name))
        assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
        dims = {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in list(model.graph.input) + list(model.graph.output)}
        assert [i.name for i in model.graph.input] == ["input_ids", "attention_mask", "token_type_ids"]
        for n in ("input_ids", "attention_mask", "token_type_ids"):
            assert dims[n] == ["batch", "sequence"]
        assert dims["logits"] == ["batch", "sequence", len(LABELS)]


def test_logits_parity_on_padded_mixed_batches(bundle):
    from transformers import AutoModelForTokenClassification

    from train.modeling import load_tokenizer
    from train.onnx_export import OnnxLogits, logits_parity, parity_batches

    _, path = bundle
    model = AutoModelForTokenClassification.from_pretrained(str(path)).eval()
    lengths = [(5,), (512,), (77,), (5, 131, 512), (300, 5, 64)]
    batches = parity_batches(load_tokenizer(str(path)), 512, lengths, seed=1)
    assert sorted({b["input_ids"].shape[0] for b in batches}) == [1, 3]
    rows = logits_parity(model, {"fp32": OnnxLogits(path / "model.onnx")}, batches)
    assert [r["lengths"] for r in rows] == [list(x) for x in lengths]
    assert all(r["fp32"] < 1e-4 for r in rows), rows
    onnx = json.loads((path / "manifest.json").read_text())["onnx"]
    assert onnx["logits_fp32_max_abs_diff"] < 1e-4 and onnx["logits_tolerance"] == 1e-4


def test_span_parity_is_in_manifest_and_report(bundle):
    from train.modeling import sha256_file

    cfg, path = bundle
    manifest = json.loads((path / "manifest.json").read_text())
    for name in ("model.onnx", "model.int8.onnx", "onnx_parity.json"):
        assert manifest["files"][name] == sha256_file(path / name)
    val = manifest["onnx"]["spans"]["validation"]
    assert val["fp32_identical"] is True
    assert val["int8_f1_delta_points"] >= -1.0
    report = json.loads((Path(cfg.eval.reports_dir) / "onnx_parity.json").read_text())
    assert report == json.loads((path / "onnx_parity.json").read_text())
    assert report["spans"]["validation"]["torch_spans"] > 0  # the untrained head predicts spans: the comparison is not vacuous


def test_span_parity_on_a_multi_window_document(bundle):
    from train.onnx_export import span_parity
    from train.records import Document

    _, path = bundle
    res = span_parity(path, {"long": [Document("long", _long_text())]}, batch_size=3)["long"]
    assert res["fp32_identical"] and res["torch_spans"] > 0, res


def test_parity_failures_are_loud(bundle, tmp_path, monkeypatch):
    from train import onnx_export
    from train.onnx_export import OnnxParityError, add_onnx_to_bundle
    from train.records import Document

    _, path = bundle
    docs = {"validation": [Document("d", "Tokyo warned Beijing after ships were sent.")]}
    work = tmp_path / "b"
    shutil.copytree(path, work, ignore=shutil.ignore_patterns("manifest.json"))  # like the export's temporary directory
    with pytest.raises(OnnxParityError, match="logits differ"):
        add_onnx_to_bundle(work, docs, tolerance=1e-12)
    real = onnx_export.span_parity

    def broken(*args, **kwargs):
        res = real(*args, **kwargs)
        res["validation"].update(fp32_identical=False, fp32_mismatched_documents=["d"])
        return res

    monkeypatch.setattr(onnx_export, "span_parity", broken)
    with pytest.raises(OnnxParityError, match="spans differ"):
        add_onnx_to_bundle(work, docs)

    def int8_loses(*args, **kwargs):
        res = real(*args, **kwargs)
        res["validation"].update(int8_f1_delta_points=-1.5, int8_strict_micro_f1=0.5, torch_strict_micro_f1=0.515)
        return res

    monkeypatch.setattr(onnx_export, "span_parity", int8_loses)
    with pytest.raises(OnnxParityError, match="int8 strict micro-F1"):
        add_onnx_to_bundle(work, docs)


def test_reference_decoder_matches_predict(bundle, tmp_path):
    """``onnx_decoder.py``, copied alone and run without this package, gives ``python -m train predict``'s spans."""
    from tokenizers import Tokenizer

    _, path = bundle
    edge = "Il a visite\u0301 Kigali; a\u200bwarned\x07b \U0001F600 troops sent \u5317\u4eac re\u0301union \u00a0annexed."
    texts = [json.loads(line)["text"] for line in (FIXTURES / "tiny_validation.jsonl").read_text().splitlines() if line.strip()] + [edge, _long_text()]
    assert len(Tokenizer.from_file(str(path / "tokenizer.json")).encode(texts[-1]).ids) > 3 * 32
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps({"id": f"doc-{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
    out = tmp_path / "out.jsonl"
    subprocess.run([sys.executable, "-m", "train", "predict", "--model", str(path), "--input", str(inp), "--output", str(out)], check=True, cwd=REPO)
    expected = [json.loads(line)["events"] for line in out.read_text().splitlines()]

    copy = tmp_path / "serving"
    copy.mkdir()
    shutil.copy(REPO / "train" / "onnx_decoder.py", copy / "onnx_decoder.py")
    script = (
        "import json, sys\n"
        "from onnx_decoder import OnnxSpanTagger\n"
        f"tagger = OnnxSpanTagger({str(path)!r}, batch_size=2)\n"
        f"spans = [tagger.predict(t) for t in json.load(open({str(tmp_path / 'texts.json')!r}))]\n"
        "foreign = sorted({m.split('.')[0] for m in sys.modules} & {'train', 'torch', 'transformers'})\n"
        "print(json.dumps({'spans': spans, 'foreign': foreign}))\n"
    )
    (tmp_path / "texts.json").write_text(json.dumps(texts))
    got = json.loads(subprocess.run([sys.executable, "-c", script], check=True, cwd=copy, capture_output=True, text=True).stdout)
    assert got["foreign"] == []
    assert sum(len(s) for s in expected) > 0
    for exp, ref in zip(expected, got["spans"], strict=True):
        assert [(e["start"], e["end"], e["type"], e["trigger"]) for e in exp] == [(r["start"], r["end"], r["type"], r["trigger"]) for r in ref]
        assert np.allclose([e["score"] for e in exp], [r["score"] for r in ref], atol=1e-4)


def test_predict_backend_selection(bundle, tmp_path):
    from train.cli import main
    from train.predict import Predictor

    _, path = bundle
    inp = FIXTURES / "tiny_validation.jsonl"
    spans = {}
    for backend in ("torch", "onnx", "onnx-int8"):
        out = tmp_path / f"{backend}.jsonl"
        assert main(["predict", "--model", str(path), "--input", str(inp), "--output", str(out), "--backend", backend]) == 0
        spans[backend] = [[(e["start"], e["end"], e["type"]) for e in json.loads(line)["events"]] for line in out.read_text().splitlines()]
    assert spans["onnx"] == spans["torch"]
    assert len(spans["onnx-int8"]) == len(spans["torch"])
    p = Predictor(path, backend="onnx-int8")
    assert p.model is None and p.session.path.name == "model.int8.onnx"
    with pytest.raises(ValueError, match="unknown backend"):
        Predictor(path, backend="tensorflow")
    with pytest.raises(SystemExit):
        main(["predict", "--model", str(path), "--input", str(inp), "--backend", "tensorflow"])
    partial = tmp_path / "no-int8"
    shutil.copytree(path, partial, ignore=shutil.ignore_patterns("model.int8.onnx"))
    assert main(["predict", "--model", str(partial), "--input", str(inp), "--backend", "onnx-int8"]) == 2


@pytest.mark.parametrize("where", ["onnx_export.quantize_int8", "export._verify_bundle"])
def test_interrupted_export_keeps_the_previous_bundle(bundle, tiny_model_dir, classifier_dir, tmp_path, monkeypatch, where):
    import importlib

    from train.export import export
    from train.modeling import sha256_file

    _, good = bundle
    dest = tmp_path / "bundles" / "model"
    shutil.copytree(good, dest)
    before = {p.name: sha256_file(p) for p in dest.iterdir()}
    module, attr = where.split(".")

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt(f"interrupted in {attr}")

    monkeypatch.setattr(importlib.import_module(f"train.{module}"), attr, interrupt)
    cfg = _config(tmp_path, tiny_model_dir)
    with pytest.raises(KeyboardInterrupt):
        export(cfg, source=classifier_dir)
    assert [p.name for p in dest.parent.iterdir()] == ["model"]  # no .model.tmp-* / .model.old-* left
    assert {p.name: sha256_file(p) for p in dest.iterdir()} == before


def test_bench_runs_and_writes_json(bundle, tmp_path):
    from train.bench import bench

    cfg, path = bundle
    cfg = _config(
        tmp_path,
        cfg.model.name_or_path,
        f"export.model_dir={path}",
        "bench.train_steps=2",
        "bench.warmup_steps=1",
        "bench.matmul_size=128",
        "bench.long_doc_words=300",
        "bench.batch_size=4",
    )
    report = bench(cfg)
    saved = json.loads((tmp_path / "reports" / "bench.json").read_text())
    assert saved == json.loads(json.dumps(report))
    assert {"machine", "model", "inputs", "training", "matmul_peak", "mfu", "inference", "memory_method"} <= set(saved)
    assert {"tokens_per_s", "share_outside_forward_backward", "step_ms", "peak_rss_mb", "achieved_gflops"} <= set(saved["training"])
    assert {"achieved_gflops", "peak_gflops", "mfu", "formula"} <= set(saved["mfu"])
    assert set(saved["inference"]) == {"torch", "onnx", "onnx-int8"}
    for r in saved["inference"].values():
        assert {"batch1", "batched", "peak_rss_mb", "baseline_rss_mb"} <= set(r)
        for mode in ("batch1", "batched"):
            assert {"tokens_per_s", "p50_ms", "p95_ms", "docs_per_s", "long_doc_ms"} <= set(r[mode])
    assert saved["inputs"]["documents"] == 4  # 3 test documents + the long one


@pytest.mark.slow
def test_trained_tiny_model_onnx_parity(tiny_config):
    """After real training, the export's own checks pass: identical fp32 spans, int8 within one F1 point."""
    from train.export import export
    from train.fit import fit

    tiny_config.train.epochs = 8
    bundle = export(tiny_config, source=fit(tiny_config).best_dir)
    onnx = json.loads((bundle / "manifest.json").read_text())["onnx"]
    val = onnx["spans"]["validation"]
    assert val["fp32_identical"] is True
    assert val["int8_f1_delta_points"] >= -1.0
