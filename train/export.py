"""The ``export`` job: an atomic, self-describing, servable model bundle."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from .config import Config, config_hash, to_yaml
from .labels import EVENT_TYPES, LABELS, TAGGING_SCHEME
from .modelcard import render_model_card
from .modeling import MANIFEST_FILE, check_label_maps, sha256_file, verify_model_dir
from .onnx_export import PARITY_FILE, manifest_summary, onnx_step

log = logging.getLogger(__name__)

MANIFEST_SCHEMA_VERSION = 1


def code_version(repo: str | Path = ".") -> str:
    """``git describe``-style commit of the code (``<sha>`` or ``<sha>-dirty``), or ``"unknown"`` outside git."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("-dirty" if dirty else "")


def collect_metrics(reports_dir: str | Path) -> dict[str, Any]:
    """Read every ``<reports_dir>/<dataset>/metrics.json`` into ``{dataset: metrics}``."""
    out = {}
    for p in sorted(Path(reports_dir).glob("*/metrics.json")):
        out[p.parent.name] = json.loads(p.read_text(encoding="utf-8"))
    return out


def _verify_bundle(path: Path) -> None:
    """Reload the bundle's config and tokenizer, check the label maps and the manifest's sha256 digests
    (:func:`train.modeling.verify_model_dir`); raises on failure."""
    from transformers import AutoConfig

    from .modeling import load_tokenizer

    check_label_maps(AutoConfig.from_pretrained(str(path)), str(path))
    load_tokenizer(str(path))
    verify_model_dir(path)


def export(cfg: Config, source: str | Path | None = None) -> Path:
    """Write the model bundle to ``cfg.export.model_dir``, atomically.

    The bundle: the ``save_pretrained`` files of ``source`` (default
    ``<train.output_dir>/best``), ``config.yaml`` (resolved run config),
    ``inference.json`` (window settings), ``run_info.json``, ``metrics.json`` (every
    report under ``eval.reports_dir``), ``README.md`` (model card) and ``manifest.json``
    (labels, scheme, base model, config hash, data checksums, code version, sha256 of
    every file). With ``export.onnx`` it also holds ``model.onnx``, ``model.int8.onnx``
    (``export.int8``) and ``onnx_parity.json``, checked against PyTorch before anything is
    swapped in (:func:`train.onnx_export.onnx_step`; the report is also copied to
    ``<eval.reports_dir>/onnx_parity.json``). It is built in a temporary sibling directory,
    verified, and only then swapped in, so a crash leaves the previous bundle intact and
    the temporary directory is removed.

    Returns:
        The bundle directory.

    Raises:
        FileNotFoundError: no trained model at ``source``.
        OnnxParityError: the ONNX graphs do not match the PyTorch model (no bundle is written).
    """
    src = Path(source) if source else Path(cfg.train.output_dir) / "best"
    if not (src / "config.json").is_file():
        raise FileNotFoundError(f"no trained model at {src} (run the fit job first)")
    dest = Path(cfg.export.model_dir)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        shutil.copytree(src, tmp, ignore=shutil.ignore_patterns("training_args.bin", "checkpoint-*", MANIFEST_FILE))  # a source bundle's manifest is rewritten
        run_info_path = Path(cfg.train.output_dir) / "run_info.json"
        run_info = json.loads(run_info_path.read_text()) if run_info_path.is_file() else {}
        run_info.pop("log_history", None)
        metrics = collect_metrics(cfg.eval.reports_dir)
        (tmp / "config.yaml").write_text(to_yaml(cfg), encoding="utf-8")
        (tmp / "run_info.json").write_text(json.dumps(run_info, indent=2, default=str) + "\n")
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        (tmp / "README.md").write_text(render_model_card(cfg, run_info, metrics), encoding="utf-8")
        onnx_report = onnx_step(cfg, tmp) if cfg.export.onnx else None  # model.onnx, model.int8.onnx, onnx_parity.json
        manifest = {
            "schema_version": MANIFEST_SCHEMA_VERSION,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "labels": LABELS,
            "event_types": list(EVENT_TYPES),
            "tagging_scheme": TAGGING_SCHEME,
            "base_model": run_info.get("base_model"),
            "config_sha256": config_hash(cfg),
            "data_files_sha256": run_info.get("data_files_sha256", {}),
            "code_version": code_version(),
            "onnx": manifest_summary(onnx_report) if onnx_report else None,
            "metrics": {k: {"strict_micro_f1": v["strict"]["micro_f1"], "relaxed_micro_f1": v["relaxed"]["micro_f1"]} for k, v in metrics.items()},
            "files": {p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.is_file()},
        }
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
        _verify_bundle(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # never leave a half-written bundle behind
        raise
    old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
    if dest.exists():
        dest.rename(old)
    try:
        tmp.rename(dest)
    except OSError:
        if old.exists():
            old.rename(dest)
        raise
    shutil.rmtree(old, ignore_errors=True)
    if onnx_report:
        reports = Path(cfg.eval.reports_dir)
        reports.mkdir(parents=True, exist_ok=True)
        shutil.copy(dest / PARITY_FILE, reports / PARITY_FILE)
    log.info("exported %s", dest)
    return dest
