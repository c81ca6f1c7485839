"""The ``bench`` job (``make bench``): speed, memory and FLOPs utilisation on this machine.

One run on the same inputs (the test split plus a generated ~2,000-word document
cut from train-split text) measures:

- **training**: tokens/s over ``bench.train_steps`` AdamW steps (after
  ``bench.warmup_steps`` untimed ones) of the bundle's model on train-split
  windows (batch ``train.batch_size``, fixed order), and the share of step time
  spent outside forward + backward (batch collation, optimizer step, zeroing);
- **inference** for PyTorch eager, ONNX fp32 and ONNX int8 through
  :class:`~train.predict.Predictor` (same windows and decoding as ``predict``):

  - ``batch1``: each document alone, one window per forward pass; latency =
    wall time of ``predict`` for that document; throughput = all tokens / the sum
    of the latencies;
  - ``batched``: latency per document alone with ``bench.batch_size`` windows per
    forward pass (only documents longer than a window differ from batch 1);
    throughput = one ``predict`` call over all documents, windows of different
    documents batched together;

- **peak resident memory** of each backend and of training: every measurement
  runs in a fresh Python subprocess (``bench.isolate``), and its peak is the
  process's ``ru_maxrss`` (``getrusage``, the kernel's high-water mark of resident
  memory) at the end; ``baseline_rss_mb`` is the resident size once the libraries
  are imported but before the model is loaded (transformers imports torch even
  for the ONNX backends, whose tokenizer comes from transformers), so
  ``peak - baseline`` is what the model and its runtime add;
- **model FLOPs utilisation** (MFU) of training: achieved FLOP/s =
  ``6 * N * T / t`` where ``N`` is the number of non-embedding parameters
  (embedding tables are lookups, not matrix multiplies; Kaplan et al. 2020,
  "Scaling Laws for Neural Language Models", sec. 2.1), ``T`` the tokens
  processed including padding (the work actually done) and ``t`` the wall time
  of the timed steps; attention score FLOPs are left out. The peak is measured
  on the same machine and threads: the best of several ``torch.matmul`` of two
  ``n x n`` fp32 matrices (``2 n^3`` FLOPs each). ``mfu_all_params`` uses all
  parameters instead of ``N``.

Results are printed as a table and written to ``<eval.reports_dir>/bench.json``.
Timings are of the CPU (the bench does not use accelerators). Nothing here is
asserted in tests beyond the report's keys.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .config import Config, load_config, to_yaml
from .onnx_export import BACKEND_FILES
from .predict import BACKENDS
from .records import Document

log = logging.getLogger(__name__)

BENCH_FILE = "bench.json"


def bundle_dir(cfg: Config) -> Path:
    """The bundle measured: ``bench.model_dir`` or ``export.model_dir``.

    Raises:
        FileNotFoundError: no bundle, or it lacks ``model.onnx`` / ``model.int8.onnx``.
    """
    path = Path(cfg.bench.model_dir or cfg.export.model_dir)
    for name in ("config.json", *BACKEND_FILES.values()):
        if not (path / name).is_file():
            raise FileNotFoundError(f"{path / name} not found: `make bench` measures an exported bundle with ONNX files (run `make train` or `make export`)")
    return path


def long_document(texts: Sequence[str], words: int) -> str:
    """A document of exactly ``words`` whitespace-separated words cut from ``texts`` joined by blank lines.

    The texts are repeated if they hold fewer words. Raises ValueError if they hold none.
    """
    joined = "\n\n".join(t.strip() for t in texts if t.strip())
    if not joined:
        raise ValueError("no text to build the long document from")
    while len(joined.split()) < words:
        joined = joined + "\n\n" + joined
    ends = [m.end() for m in re.finditer(r"\S+", joined)]
    return joined[: ends[words - 1]]


def bench_documents(cfg: Config) -> list[Document]:
    """The inference inputs: the test split (validation if no test files) plus the long document (last)."""
    from .data import read_split

    docs = read_split(list(cfg.data.test_files or cfg.data.validation_files))
    train = read_split(list(cfg.data.train_files))
    return docs + [Document("bench-long", long_document([d.text for d in train], cfg.bench.long_doc_words))]


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _peak_rss_mb() -> float:
    """The process's resident-memory high-water mark (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def _set_threads(n: int) -> None:
    import torch

    if n:
        torch.set_num_threads(n)


def matmul_peak(n: int, repeats: int = 5) -> dict[str, Any]:
    """Measured fp32 matrix-multiply peak: best time of ``repeats`` ``torch.matmul`` of ``n x n`` matrices.

    Returns:
        ``{"n", "repeats", "best_seconds", "gflops"}`` with ``gflops = 2 n^3 / best / 1e9``.
    """
    import torch

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
    torch.matmul(a, b)  # warm-up (thread pool, caches)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - t)
    return {"n": n, "repeats": repeats, "best_seconds": best, "gflops": 2 * n**3 / best / 1e9}


def parameter_counts(model: Any) -> dict[str, int]:
    """``{"all": ..., "non_embedding": ...}``: trainable parameters, and those outside ``nn.Embedding`` tables."""
    import torch

    total = sum(p.numel() for p in model.parameters() if p.requires_grad)
    emb = sum(p.numel() for m in model.modules() if isinstance(m, torch.nn.Embedding) for p in m.parameters() if p.requires_grad)
    return {"all": total, "non_embedding": total - emb}


def measure_training(cfg: Config, bundle: Path) -> dict[str, Any]:
    """Time ``bench.train_steps`` optimizer steps of the bundle's model (CPU, fp32, AdamW).

    Batches are ``train.batch_size`` windows of the train split in file order (cycled),
    padded by ``DataCollatorForTokenClassification``; one step = collate, forward +
    backward, ``optimizer.step()`` + ``zero_grad()``.

    Returns:
        ``steps``, ``batch_size``, ``tokens`` / ``padded_tokens`` (timed steps), ``seconds``,
        ``tokens_per_s`` (non-padding tokens), ``padded_tokens_per_s``, ``step_ms``,
        ``seconds_by_phase`` (``data``, ``forward_backward``, ``optimizer``),
        ``share_outside_forward_backward``, ``parameters`` and ``achieved_gflops``
        (``6 * non_embedding * padded_tokens / seconds``).
    """
    import torch
    from transformers import AutoModelForTokenClassification, DataCollatorForTokenClassification

    from .data import build_windows, read_split
    from .modeling import load_tokenizer
    from .predict import read_inference_settings

    settings = read_inference_settings(bundle)
    tokenizer = load_tokenizer(str(bundle))
    docs = read_split(list(cfg.data.train_files))
    cols, _ = build_windows(docs, tokenizer, settings["max_length"], settings["stride"], cfg.window.subtoken_labels)
    names = [k for k in tokenizer.model_input_names if k in cols]
    features = [{**{k: cols[k][i] for k in names}, "labels": cols["labels"][i]} for i in range(len(cols["labels"]))]
    collate = DataCollatorForTokenClassification(tokenizer)
    torch.manual_seed(cfg.train.seed)
    model = AutoModelForTokenClassification.from_pretrained(str(bundle)).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.train.learning_rate, weight_decay=cfg.train.weight_decay)
    bs, steps, warm = cfg.train.batch_size, cfg.bench.train_steps, cfg.bench.warmup_steps
    phases = {"data": 0.0, "forward_backward": 0.0, "optimizer": 0.0}
    tokens = padded = 0
    for step in range(warm + steps):
        t0 = time.perf_counter()
        batch = collate([features[(step * bs + i) % len(features)] for i in range(bs)])
        t1 = time.perf_counter()
        model(**batch).loss.backward()
        t2 = time.perf_counter()
        opt.step()
        opt.zero_grad(set_to_none=True)
        t3 = time.perf_counter()
        if step >= warm:
            phases["data"] += t1 - t0
            phases["forward_backward"] += t2 - t1
            phases["optimizer"] += t3 - t2
            tokens += int(batch["attention_mask"].sum())
            padded += int(batch["attention_mask"].numel())
    seconds = sum(phases.values())
    params = parameter_counts(model)
    return {
        "steps": steps,
        "warmup_steps": warm,
        "batch_size": bs,
        "max_length": settings["max_length"],
        "tokens": tokens,
        "padded_tokens": padded,
        "seconds": seconds,
        "tokens_per_s": tokens / seconds,
        "padded_tokens_per_s": padded / seconds,
        "step_ms": 1000 * seconds / steps,
        "seconds_by_phase": phases,
        "share_outside_forward_backward": 1 - phases["forward_backward"] / seconds,
        "parameters": params,
        "achieved_gflops": 6 * params["non_embedding"] * padded / seconds / 1e9,
        "achieved_gflops_all_params": 6 * params["all"] * padded / seconds / 1e9,
    }


def _latency_stats(latencies: Sequence[float], tokens: int) -> dict[str, Any]:
    lat = np.asarray(latencies)
    return {
        "documents": len(lat),
        "seconds": float(lat.sum()),
        "tokens_per_s": tokens / float(lat.sum()),
        "docs_per_s": len(lat) / float(lat.sum()),
        "p50_ms": float(np.percentile(lat, 50) * 1000),
        "p95_ms": float(np.percentile(lat, 95) * 1000),
        "long_doc_ms": float(lat[-1] * 1000),
    }


def measure_inference(cfg: Config, bundle: Path, backend: str, docs: Sequence[Document]) -> dict[str, Any]:
    """Latency and throughput of one backend on ``docs`` (the long document last).

    Returns:
        ``{"batch1": stats, "batched": stats}``; stats: ``batch_size``, ``documents``,
        ``seconds``, ``tokens_per_s``, ``docs_per_s``, ``p50_ms``, ``p95_ms`` (per-document
        latency), ``long_doc_ms``; ``batched`` also ``throughput_seconds`` (all documents in
        one ``predict`` call, which gives its ``tokens_per_s`` and ``docs_per_s``).
    """
    from .alignment import tokenize_windows
    from .predict import Predictor

    texts = [d.text for d in docs]
    predictor = Predictor(bundle, backend=backend, batch_size=1, onnx_threads=cfg.bench.threads)
    enc = tokenize_windows(predictor.tokenizer, texts, predictor.max_length, predictor.stride)
    tokens = sum(len(ids) for ids in enc["input_ids"])
    list(predictor.predict(texts[:2]))  # warm-up
    list(predictor.predict(texts[-1:]))
    out: dict[str, Any] = {"tokens": tokens, "windows": len(enc["input_ids"])}
    for mode, bs in (("batch1", 1), ("batched", cfg.bench.batch_size)):
        predictor.batch_size = bs
        lat = []
        for text in texts:
            t = time.perf_counter()
            list(predictor.predict([text]))
            lat.append(time.perf_counter() - t)
        stats = {"batch_size": bs, **_latency_stats(lat, tokens)}
        if mode == "batched":
            t = time.perf_counter()
            list(predictor.predict(texts))
            total = time.perf_counter() - t
            stats.update(throughput_seconds=total, tokens_per_s=tokens / total, docs_per_s=len(texts) / total)
        out[mode] = stats
    return out


def _measure(kind: str, cfg: Config) -> dict[str, Any]:
    """One measurement (``"train"`` or a backend) in the current process, with its memory figures."""
    import onnxruntime  # noqa: F401  (imported before the baseline so every kind pays for the same libraries)
    import torch  # noqa: F401
    import transformers  # noqa: F401

    _set_threads(cfg.bench.threads)
    baseline = _rss_mb()
    bundle = bundle_dir(cfg)
    if kind == "train":
        result = {"matmul_peak": matmul_peak(cfg.bench.matmul_size), **measure_training(cfg, bundle)}
    else:
        result = measure_inference(cfg, bundle, kind, bench_documents(cfg))
    result.update(baseline_rss_mb=baseline, peak_rss_mb=_peak_rss_mb())
    return result


def _run_isolated(kind: str, cfg_path: Path, out: Path) -> dict[str, Any]:
    """Run :func:`_measure` in a fresh interpreter (``python -m train.bench --worker``); returns its JSON."""
    cmd = [sys.executable, "-m", "train.bench", "--worker", kind, str(cfg_path), str(out)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"bench worker {kind!r} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(out.read_text())


def format_table(report: dict[str, Any]) -> str:
    """The bench report as a plain-text table (what ``make bench`` prints)."""
    tr, mfu = report["training"], report["mfu"]
    lines = [
        f"inputs: {report['inputs']['documents']} documents ({report['inputs']['tokens']} tokens, {report['inputs']['windows']} windows of <= {report['inputs']['max_length']}), "
        f"incl. one of {report['inputs']['long_document_words']} words; threads: torch {report['machine']['torch_threads']}, onnxruntime {report['machine']['onnxruntime_threads']}; "
        f"load average {report['machine']['load_average_1m']['start']} -> {report['machine']['load_average_1m']['end']} on {report['machine']['cpu_count']} CPUs",
        "",
        f"{'backend':<10} {'mode':<8} {'batch':>5} {'tokens/s':>9} {'docs/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'long ms':>8} {'peak RSS MB':>11} {'(+model)':>9}",
    ]
    for b, r in report["inference"].items():
        for mode in ("batch1", "batched"):
            s = r[mode]
            lines.append(
                f"{b:<10} {mode:<8} {s['batch_size']:>5} {s['tokens_per_s']:>9.0f} {s['docs_per_s']:>7.2f} {s['p50_ms']:>8.1f} {s['p95_ms']:>8.1f} {s['long_doc_ms']:>8.1f} "
                f"{r['peak_rss_mb']:>11.0f} {r['peak_rss_mb'] - r['baseline_rss_mb']:>+9.0f}"
            )
    lines += [
        "",
        f"training: {tr['tokens_per_s']:.0f} tokens/s ({tr['padded_tokens_per_s']:.0f} incl. padding), {tr['step_ms']:.0f} ms/step over {tr['steps']} steps of "
        f"{tr['batch_size']} x <= {tr['max_length']}; {100 * tr['share_outside_forward_backward']:.1f}% of step time outside forward/backward; "
        f"peak RSS {tr['peak_rss_mb']:.0f} MB ({tr['peak_rss_mb'] - tr['baseline_rss_mb']:+.0f})",
        f"MFU: {mfu['achieved_gflops']:.1f} GFLOP/s achieved / {mfu['peak_gflops']:.1f} GFLOP/s fp32 matmul peak = {100 * mfu['mfu']:.1f}% "
        f"({mfu['formula']}; all parameters: {100 * mfu['mfu_all_params']:.1f}%)",
    ]
    return "\n".join(lines)


def bench(cfg: Config) -> dict[str, Any]:
    """The ``bench`` job: measure training and inference, print the table, write ``bench.json``.

    Args:
        cfg: the run config (``bench.*`` knobs; data splits; ``train.batch_size``,
            ``train.learning_rate``; ``eval.reports_dir`` for the output).

    Returns:
        The report: ``created``, ``machine``, ``model``, ``inputs``, ``training``,
        ``matmul_peak``, ``mfu``, ``inference`` (backend -> ``batch1`` / ``batched`` /
        ``peak_rss_mb`` / ``baseline_rss_mb``) and ``memory_method``.

    Raises:
        FileNotFoundError: no bundle with ONNX files (see :func:`bundle_dir`).
        RuntimeError: a measurement subprocess failed (its stderr is in the message).
    """
    import onnxruntime
    import torch

    bundle = bundle_dir(cfg)
    load_before = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        cfg_path = Path(tmp) / "config.yaml"
        cfg_path.write_text(to_yaml(cfg), encoding="utf-8")
        for kind in ("train", *BACKENDS):
            log.info("bench: measuring %s%s", kind, " in a subprocess" if cfg.bench.isolate else "")
            results[kind] = _run_isolated(kind, cfg_path, Path(tmp) / f"{kind}.json") if cfg.bench.isolate else _measure(kind, cfg)
    training = results.pop("train")
    peak = training.pop("matmul_peak")
    first = next(iter(results.values()))
    report = {
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "torch_threads": cfg.bench.threads or torch.get_num_threads(),
            "onnxruntime_threads": cfg.bench.threads or "default (physical cores)",
            "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__,
            # other work on the machine slows every figure; a 1-minute load above the core count means contention
            "load_average_1m": {"start": load_before, "end": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None},
        },
        "model": {"dir": str(bundle), "parameters": training["parameters"], "files_bytes": {f: (bundle / f).stat().st_size for f in ("model.safetensors", *BACKEND_FILES.values()) if (bundle / f).is_file()}},
        "inputs": {
            "documents": first["batch1"]["documents"],
            "long_document_words": cfg.bench.long_doc_words,
            "tokens": first["tokens"],
            "windows": first["windows"],
            "max_length": training["max_length"],
        },
        "training": training,
        "matmul_peak": peak,
        "mfu": {
            "formula": "6 * non-embedding params * padded tokens / step wall time",
            "achieved_gflops": training["achieved_gflops"],
            "peak_gflops": peak["gflops"],
            "mfu": training["achieved_gflops"] / peak["gflops"],
            "mfu_all_params": training["achieved_gflops_all_params"] / peak["gflops"],
        },
        "inference": results,
        "memory_method": (
            "each measurement in a fresh subprocess; peak_rss_mb = getrusage(RUSAGE_SELF).ru_maxrss at its end; "
            "baseline_rss_mb = resident size after importing torch, transformers and onnxruntime, before loading the model"
            if cfg.bench.isolate
            else "bench.isolate=false: all measurements in one process, so peak_rss_mb is cumulative (not separable)"
        ),
    }
    out = Path(cfg.eval.reports_dir) / BENCH_FILE
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(format_table(report))
    print(f"\nwritten {out}")
    return report


def _worker_main(argv: list[str]) -> int:
    """``python -m train.bench --worker KIND CONFIG.yaml OUT.json``: one isolated measurement."""
    if len(argv) != 4 or argv[0] != "--worker":
        print(_worker_main.__doc__, file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING)
    kind, cfg_path, out = argv[1:]
    result = _measure(kind, load_config(cfg_path))
    Path(out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
