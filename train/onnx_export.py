"""ONNX export of the token classifier, int8 quantization, and the parity checks.

The optimum exporter does not support transformers 5, so the model is exported
with ``torch.onnx.export`` (TorchScript-based exporter, ``dynamo=False``), opset
17 or later. The graph has named inputs matching the model's ``forward``
signature (``input_ids``, ``attention_mask`` and ``token_type_ids`` when the
model and its tokenizer use them) and one output, ``logits``; every input and
the output have symbolic ``batch`` and ``sequence`` dimensions.

``model.int8.onnx`` is ``onnxruntime.quantization.quantize_dynamic`` with
``QInt8`` weights: weights stored as int8 (one scale per output channel, 7-bit
range), activations quantized per call
(https://onnxruntime.ai/docs/performance/model-optimizations/quantization.html).

Parity is checked by the export itself (:func:`add_onnx_to_bundle`), and it fails
loudly (:class:`OnnxParityError`) when:

- logits: PyTorch vs ONNX fp32 differ by ``>= tolerance`` (default 1e-4) anywhere
  on a non-padding position of padded batches of mixed lengths (batch sizes 1
  and 3, lengths 5 to 512);
- spans: decoding the ONNX fp32 output gives any document-level span different
  from PyTorch's on the validation split;
- int8: strict micro-F1 of ``model.int8.onnx`` on the validation split is more
  than ``max_f1_drop`` (default 0.01 = one point) below PyTorch's.
"""

from __future__ import annotations

import inspect
import json
import logging
import time
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

log = logging.getLogger(__name__)

#: fp32 graph written into the bundle.
ONNX_FILE = "model.onnx"
#: dynamically quantized (int8 weights) graph written into the bundle.
ONNX_INT8_FILE = "model.int8.onnx"
#: parity report written into the bundle (and copied to the reports directory).
PARITY_FILE = "onnx_parity.json"
#: ``Predictor`` backend name -> file in the bundle.
BACKEND_FILES = {"onnx": ONNX_FILE, "onnx-int8": ONNX_INT8_FILE}
#: lowest opset accepted (``scaled_dot_product_attention`` and LayerNorm export cleanly from 17).
MIN_OPSET = 17
#: the inputs a token classifier may take, in the order they are exported.
CANDIDATE_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
#: the padded batches of the logits check: one tuple of sequence lengths per batch (sizes 1 and 3).
PARITY_BATCHES: tuple[tuple[int, ...], ...] = ((5,), (512,), (5, 200, 512), (512, 37, 5))


class OnnxParityError(RuntimeError):
    """The ONNX graph does not reproduce the PyTorch model (logits, spans or int8 F1)."""


def model_input_names(model: Any, tokenizer: Any | None = None) -> list[str]:
    """The graph inputs: ``CANDIDATE_INPUTS`` that ``model.forward`` takes (and the tokenizer produces).

    Args:
        model: a transformers token-classification model.
        tokenizer: its tokenizer; when given, inputs it does not produce (``model_input_names``)
            are left out, so the graph needs only what the tokenizer gives.

    Returns:
        Input names in ``forward`` signature order, e.g. ``["input_ids", "attention_mask", "token_type_ids"]``.
    """
    params = list(inspect.signature(model.forward).parameters)
    names = [p for p in params if p in CANDIDATE_INPUTS]
    if tokenizer is not None:
        names = [n for n in names if n in tokenizer.model_input_names]
    if "input_ids" not in names:
        raise ValueError(f"{type(model).__name__}.forward takes no input_ids; cannot export")
    return names


def _dummy_inputs(names: Sequence[str], vocab_size: int) -> tuple[Any, ...]:
    """A padded (2, 16) batch: the second row has 6 padding positions, so the mask path is traced."""
    import torch

    g = torch.Generator().manual_seed(0)
    ids = torch.randint(low=min(1000, vocab_size - 1), high=vocab_size, size=(2, 16), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 10:] = 0
    values = {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}
    return tuple(values[n] for n in names)


def export_onnx(model: Any, path: str | Path, input_names: Sequence[str], opset: int = MIN_OPSET) -> Path:
    """Export a token classifier's logits to an ONNX file.

    Uses ``torch.onnx.export(..., dynamo=False)``; the traced example batch is padded so
    the attention-mask path is in the graph. ``batch`` and ``sequence`` are symbolic on
    every input (int64, shape ``(batch, sequence)``) and on ``logits`` (float32, shape
    ``(batch, sequence, num_labels)``).

    Args:
        model: a transformers token-classification model (put in eval mode here).
        path: output ``.onnx`` file.
        input_names: from :func:`model_input_names`.
        opset: ONNX opset, at least :data:`MIN_OPSET`.

    Returns:
        ``path``.

    Raises:
        ValueError: opset below :data:`MIN_OPSET`.
    """
    import torch

    if opset < MIN_OPSET:
        raise ValueError(f"opset {opset} < {MIN_OPSET}")
    names = list(input_names)

    class _Logits(torch.nn.Module):
        # Positional inputs in ``names`` order -> logits only (no loss, no hidden states).
        def __init__(self, inner: Any):
            super().__init__()
            self.inner = inner

        def forward(self, *args: Any) -> Any:
            return self.inner(**dict(zip(names, args)), return_dict=True).logits

    # eval() on the wrapper: the exporter restores the wrapper's training flag afterwards,
    # and a fresh wrapper is in training mode, which would switch dropout back on in `model`.
    wrapper = _Logits(model.eval()).eval()
    path = Path(path)
    axes = {n: {0: "batch", 1: "sequence"} for n in names + ["logits"]}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # TracerWarnings about shape-dependent Python branches
        torch.onnx.export(
            wrapper,
            _dummy_inputs(names, model.config.vocab_size),
            str(path),
            dynamo=False,
            opset_version=opset,
            input_names=names,
            output_names=["logits"],
            dynamic_axes=axes,
            do_constant_folding=True,
        )
    return path


def quantize_int8(src: str | Path, dst: str | Path) -> Path:
    """Dynamic int8 quantization of an ONNX graph (``quantize_dynamic``, ``QuantType.QInt8`` weights).

    ``per_channel=True`` (a scale per output channel of each weight matrix) and
    ``reduce_range=True`` (7-bit weights, which onnxruntime recommends for CPUs without
    VNNI, where u8 x s8 products can saturate). On the fine-tuned MiniLM of this project
    the per-tensor defaults lost 0.7 (validation) and 1.2 (test) points of strict
    micro-F1 against PyTorch; these settings lost none (+0.1, +0.0), at the same speed
    and size (23 MB).

    Returns:
        ``dst``.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))  # silence the "consider pre-processing" hint
    try:
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True)
    finally:
        root.setLevel(level)
    return Path(dst)


class OnnxLogits:
    """An onnxruntime CPU session that maps padded model inputs to logits.

    Args:
        path: ``.onnx`` file.
        threads: intra-op threads (0 = onnxruntime's default, one per physical core).

    Raises:
        FileNotFoundError: no file at ``path``.
    """

    def __init__(self, path: str | Path, threads: int = 0):
        import onnxruntime as ort

        if not Path(path).is_file():
            raise FileNotFoundError(f"no ONNX model at {path} (run `make export` with export.onnx=true)")
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        self.path = Path(path)
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]

    def __call__(self, inputs: Mapping[str, Any]) -> np.ndarray:
        """Run the graph.

        Args:
            inputs: at least the graph's inputs, each of shape ``(batch, sequence)`` (any integer dtype).

        Returns:
            float32 logits of shape ``(batch, sequence, num_labels)``.

        Raises:
            KeyError: a graph input is missing.
        """
        missing = [n for n in self.input_names if n not in inputs]
        if missing:
            raise KeyError(f"{self.path}: inputs {missing} missing (got {sorted(inputs)})")
        feed = {n: np.asarray(inputs[n], dtype=np.int64) for n in self.input_names}
        return self.session.run(["logits"], feed)[0]


def parity_batches(
    tokenizer: Any, max_positions: int = 512, lengths: Sequence[Sequence[int]] = PARITY_BATCHES, seed: int = 0, vocab_size: int | None = None
) -> list[dict[str, np.ndarray]]:
    """Padded batches of random token ids for the logits check.

    Each sequence is ``[CLS] random ids [SEP]`` (the tokenizer's own specials), padded with
    its pad id to the longest of its batch; lengths are capped at ``max_positions`` and ids
    at ``vocab_size`` (the model's embedding rows, when smaller than the tokenizer's vocabulary).

    Returns:
        One dict per batch with int64 ``input_ids``, ``attention_mask``, ``token_type_ids``,
        each of shape ``(batch, max length)``.
    """
    rng = np.random.default_rng(seed)
    vocab = min(len(tokenizer), vocab_size or len(tokenizer))
    low = min(max(tokenizer.all_special_ids) + 1, vocab - 1)
    first = tokenizer.cls_token_id if tokenizer.cls_token_id is not None else tokenizer.bos_token_id
    last = tokenizer.sep_token_id if tokenizer.sep_token_id is not None else tokenizer.eos_token_id
    pad = tokenizer.pad_token_id or 0
    out = []
    for lens in lengths:
        lens = [min(n, max_positions) for n in lens]
        width = max(lens)
        ids = np.full((len(lens), width), pad, dtype=np.int64)
        mask = np.zeros_like(ids)
        for i, n in enumerate(lens):
            ids[i, :n] = rng.integers(low, vocab, n)
            if first is not None:
                ids[i, 0] = first
            if last is not None:
                ids[i, n - 1] = last
            mask[i, :n] = 1
        out.append({"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})
    return out


def logits_parity(model: Any, graphs: Mapping[str, OnnxLogits], batches: Sequence[Mapping[str, np.ndarray]]) -> list[dict[str, Any]]:
    """Max absolute logit difference, PyTorch vs each ONNX graph, on non-padding positions.

    Args:
        model: the PyTorch token classifier (CPU, eval mode).
        graphs: name -> :class:`OnnxLogits`.
        batches: from :func:`parity_batches`.

    Returns:
        Per batch ``{"lengths": [...], <name>: max |diff|, ...}``.
    """
    import torch

    rows = []
    for batch in batches:
        mask = batch["attention_mask"].astype(bool)
        with torch.inference_mode():
            feed = {k: torch.from_numpy(v) for k, v in batch.items() if k in inspect.signature(model.forward).parameters}
            ref = model(**feed).logits.float().numpy()
        row: dict[str, Any] = {"lengths": mask.sum(axis=1).tolist()}
        for name, graph in graphs.items():
            row[name] = float(np.abs(graph(batch) - ref)[mask].max())
        rows.append(row)
    return rows


def span_parity(bundle_dir: str | Path, splits: Mapping[str, Sequence[Any]], batch_size: int = 32, int8: bool = True) -> dict[str, dict[str, Any]]:
    """Decode each split with PyTorch, ONNX fp32 (and int8) and compare document-level spans.

    All backends go through :class:`~train.predict.Predictor` (same windows, same
    :class:`~train.decoding.SpanDecoder`); only the logits differ.

    Args:
        bundle_dir: a bundle holding the ``save_pretrained`` files and the ONNX graphs.
        splits: name -> gold documents.
        batch_size: windows per forward pass.
        int8: also decode with ``model.int8.onnx``.

    Returns:
        Per split: ``documents``, ``fp32_identical`` (every document's ``(start, end, type)``
        spans equal to PyTorch's), ``fp32_mismatched_documents`` (ids), ``fp32_max_score_diff``,
        ``torch_strict_micro_f1``, ``onnx_strict_micro_f1`` and, with ``int8``,
        ``int8_strict_micro_f1``, ``int8_f1_delta_points`` (100 x (int8 - torch); negative = loss)
        and ``int8_identical_documents``.
    """
    from .predict import Predictor
    from .scoring import score_documents

    backends = ["torch", "onnx"] + (["onnx-int8"] if int8 else [])
    predictors = {b: Predictor(bundle_dir, backend=b, batch_size=batch_size) for b in backends}

    def key(doc: Any) -> list[tuple[int, int, str]]:
        return [(e.start, e.end, e.type) for e in doc.events]

    out = {}
    for name, gold in splits.items():
        preds = {b: p.predict_documents(list(gold)) for b, p in predictors.items()}
        f1 = {b: score_documents(preds[b], list(gold), "strict")["micro_f1"] for b in backends}
        ref, fp32 = preds["torch"], preds["onnx"]
        mismatched = [r.id for r, o in zip(ref, fp32) if key(r) != key(o)]
        score_diffs = [abs(a.score - b.score) for r, o in zip(ref, fp32) if key(r) == key(o) for a, b in zip(r.events, o.events)]
        res: dict[str, Any] = {
            "documents": len(gold),
            "torch_spans": sum(len(d.events) for d in ref),
            "fp32_identical": not mismatched,
            "fp32_mismatched_documents": mismatched,
            "fp32_max_score_diff": max(score_diffs, default=0.0),
            "torch_strict_micro_f1": f1["torch"],
            "onnx_strict_micro_f1": f1["onnx"],
        }
        if int8:
            res["int8_strict_micro_f1"] = f1["onnx-int8"]
            res["int8_f1_delta_points"] = round(100 * (f1["onnx-int8"] - f1["torch"]), 4)
            res["int8_identical_documents"] = sum(key(r) == key(q) for r, q in zip(ref, preds["onnx-int8"]))
        out[name] = res
    return out


def add_onnx_to_bundle(
    bundle_dir: str | Path,
    splits: Mapping[str, Sequence[Any]],
    *,
    int8: bool = True,
    opset: int = MIN_OPSET,
    tolerance: float = 1e-4,
    max_f1_drop: float = 0.01,
    gate_split: str = "validation",
    batch_size: int = 32,
) -> dict[str, Any]:
    """Write ``model.onnx`` (and ``model.int8.onnx``) into a bundle and check them; the export job's ONNX step.

    Steps: load the PyTorch model from ``bundle_dir``, export it (:func:`export_onnx`),
    quantize it (:func:`quantize_int8`), compare logits (:func:`logits_parity`, fp32 gated
    by ``tolerance``; int8 reported only), compare spans (:func:`span_parity`) and write
    ``onnx_parity.json`` into the bundle.

    Args:
        bundle_dir: directory with the ``save_pretrained`` files, tokenizer and ``inference.json``.
        splits: name -> gold documents for the span check (the gate uses ``gate_split``).
        int8: also write and check ``model.int8.onnx``.
        opset: ONNX opset (>= 17).
        tolerance: logits max |PyTorch - ONNX fp32| allowed on non-padding positions.
        max_f1_drop: strict micro-F1 (0-1 scale) that int8 may lose against PyTorch on ``gate_split``.
        gate_split: the split whose spans must be identical and whose F1 gates int8.
        batch_size: windows per forward pass in the span check.

    Returns:
        The parity report (also in ``<bundle_dir>/onnx_parity.json``).

    Raises:
        OnnxParityError: a parity check failed (the message gives the measured figure).
    """
    from transformers import AutoModelForTokenClassification

    from .modeling import load_tokenizer

    bundle = Path(bundle_dir)
    started = time.time()
    tokenizer = load_tokenizer(str(bundle))
    model = AutoModelForTokenClassification.from_pretrained(str(bundle)).eval()
    names = model_input_names(model, tokenizer)
    export_onnx(model, bundle / ONNX_FILE, names, opset)
    if int8:
        quantize_int8(bundle / ONNX_FILE, bundle / ONNX_INT8_FILE)
    exported = time.time()
    graphs = {"fp32": OnnxLogits(bundle / ONNX_FILE)}
    if int8:
        graphs["int8"] = OnnxLogits(bundle / ONNX_INT8_FILE)
    rows = logits_parity(model, graphs, parity_batches(tokenizer, model.config.max_position_embeddings, vocab_size=model.config.vocab_size))
    worst = max(r["fp32"] for r in rows)
    report: dict[str, Any] = {
        "opset": opset,
        "inputs": names,
        "outputs": ["logits"],
        "dynamic_axes": {"batch": 0, "sequence": 1},
        "files": {f: (bundle / f).stat().st_size for f in (ONNX_FILE, ONNX_INT8_FILE) if (bundle / f).is_file()},
        "logits": {
            "tolerance": tolerance,
            "fp32_max_abs_diff": worst,
            "int8_max_abs_diff": max(r["int8"] for r in rows) if int8 else None,
            "batches": rows,
        },
    }
    del model, graphs
    if not worst < tolerance:
        raise OnnxParityError(f"ONNX fp32 logits differ from PyTorch by {worst:.3g} (tolerance {tolerance:g}) on non-padding positions: {rows}")
    report["spans"] = span_parity(bundle, splits, batch_size=batch_size, int8=int8)
    report["int8_max_f1_drop_points"] = 100 * max_f1_drop if int8 else None
    report["seconds"] = {"export": round(exported - started, 1), "checks": round(time.time() - exported, 1)}
    (bundle / PARITY_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    gate = report["spans"].get(gate_split)
    if gate is not None:
        if not gate["fp32_identical"]:
            raise OnnxParityError(f"ONNX fp32 spans differ from PyTorch on {gate_split} documents {gate['fp32_mismatched_documents']}")
        if int8 and -gate["int8_f1_delta_points"] > 100 * max_f1_drop + 1e-9:
            raise OnnxParityError(
                f"int8 strict micro-F1 on {gate_split} is {gate['int8_strict_micro_f1']:.4f} vs PyTorch {gate['torch_strict_micro_f1']:.4f} "
                f"({gate['int8_f1_delta_points']:+.2f} points; at most -{100 * max_f1_drop:g} allowed). "
                "Export without it with export.int8=false, or allow more with export.int8_max_f1_drop"
            )
    log.info(
        "ONNX export: logits max |diff| fp32 %.2g%s; %s",
        worst,
        f", int8 {report['logits']['int8_max_abs_diff']:.2g}" if int8 else "",
        "; ".join(f"{k}: fp32 spans identical={v['fp32_identical']}" + (f", int8 F1 {v['int8_f1_delta_points']:+.2f} points" if int8 else "") for k, v in report["spans"].items()),
    )
    return report


def manifest_summary(report: Mapping[str, Any]) -> dict[str, Any]:
    """The part of the parity report recorded in ``manifest.json`` (no per-batch detail)."""
    logits = report["logits"]
    return {
        "opset": report["opset"],
        "inputs": report["inputs"],
        "files": sorted(report["files"]),
        "logits_tolerance": logits["tolerance"],
        "logits_fp32_max_abs_diff": logits["fp32_max_abs_diff"],
        "logits_int8_max_abs_diff": logits["int8_max_abs_diff"],
        "int8_max_f1_drop_points": report.get("int8_max_f1_drop_points"),
        "spans": {
            k: {f: v[f] for f in ("documents", "fp32_identical", "torch_strict_micro_f1", "int8_strict_micro_f1", "int8_f1_delta_points") if f in v}
            for k, v in report.get("spans", {}).items()
        },
    }


def onnx_step(cfg: Any, bundle_dir: str | Path) -> dict[str, Any]:
    """The export job's ONNX step: :func:`add_onnx_to_bundle` with the run config's settings.

    Spans are compared on the validation split (the gate) and, when configured, on the
    test split (reported only).

    Args:
        cfg: the run :class:`~train.config.Config` (``export.*`` settings, data files, ``eval.batch_size``).
        bundle_dir: the bundle being built (the export job's temporary directory).

    Returns:
        The parity report.

    Raises:
        OnnxParityError: a parity check failed.
    """
    from .data import read_split

    splits = {"validation": read_split(list(cfg.data.validation_files))}
    if cfg.data.test_files:
        splits["test"] = read_split(list(cfg.data.test_files))
    e = cfg.export
    return add_onnx_to_bundle(
        bundle_dir,
        splits,
        int8=e.int8,
        opset=e.opset,
        tolerance=e.logits_tolerance,
        max_f1_drop=e.int8_max_f1_drop,
        batch_size=cfg.eval.batch_size,
    )
