"""Command line: ``python -m train <job> [--config FILE] [key=value ...]``.

The CLI only parses arguments and calls the job functions; each job takes the
resolved :class:`~train.config.Config`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

DEFAULT_CONFIG = "configs/default.yaml"


def _job_parser(sub: argparse._SubParsersAction, name: str, help: str) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help, description=help)
    p.add_argument("--config", default=DEFAULT_CONFIG, help=f"YAML run config (default {DEFAULT_CONFIG})")
    p.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.epochs=2 window.stride=64")
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m train", description="Conflict-news event extraction: data -> fit -> evaluate -> export.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="job", required=True)
    _job_parser(sub, "run", "the whole job: prepare, fit, evaluate, export")
    _job_parser(sub, "prepare", "validate the data and build the tokenised windows (cached)")
    _job_parser(sub, "fit", "fine-tune the model (best epoch on validation strict micro-F1)")
    p = _job_parser(sub, "evaluate", "score a model on the configured splits or on schema files")
    p.add_argument("--model", help="model directory (default: the run's best model, else export.model_dir)")
    p.add_argument("--data", action="append", metavar="FILE", help="schema JSONL file to score instead of the configured splits and external sets (repeatable)")
    p.add_argument("--baseline", metavar="METRICS_JSON", help="a previous run's metrics.json (or reports dir): the reports show the deltas against it")
    _job_parser(sub, "export", "write the servable bundle to export.model_dir (atomic)")
    p = sub.add_parser("predict", help="tag documents with a trained model", description="Tag documents; writes schema JSONL with scores.")
    p.add_argument("--model", default="artifacts/model", help="model directory (default artifacts/model)")
    p.add_argument("--input", required=True, help=".txt (one document) or .jsonl (records with 'text')")
    p.add_argument("--output", help="output JSONL (default: stdout)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--backend", default="torch", choices=["torch", "onnx", "onnx-int8"], help="runtime: PyTorch, or the bundle's model.onnx / model.int8.onnx with onnxruntime (default torch)")
    _job_parser(sub, "bench", "measure training and inference speed, memory and MFU (artifacts/reports/bench.json)")
    p = _job_parser(sub, "validate-data", "check the corpus: schema, statistics, hygiene and the issue-3 targets (artifacts/reports/data_report.*)")
    from .corpus_report import add_arguments

    add_arguments(p)
    sub.add_parser("build-corpus", help="compile data/source/*.txt into data/corpus/{train,validation,test}.jsonl")
    p = sub.add_parser("import", help="convert annotation-tool exports to schema JSONL", description="Convert Label Studio / doccano / brat / CoNLL exports to schema JSONL; every dropped or trimmed span is reported.")
    p.add_argument("--format", required=True, choices=["label-studio", "doccano", "brat", "conll"])
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="export files (brat: .ann files or directories of .txt/.ann pairs)")
    p.add_argument("--output", required=True, help="schema JSONL to write")
    p.add_argument("--labels", help='label map, e.g. "Warn=WARNING,Troop deployment=DEPLOYMENT" ("Person=" ignores a label)')
    p.add_argument("--allow-drops", action="store_true", help="write what can be imported even if spans must be dropped (they are still listed)")
    p.add_argument("--scheme", default="iob2", choices=["iob2", "iob1", "bioes"], help="CoNLL tagging scheme (default iob2)")
    p = sub.add_parser("export-tasks", help="write pre-annotated Label Studio / doccano tasks, most uncertain first", description="Predict with a model and write annotation tasks ordered by model uncertainty (see train/importers/tasks.py).")
    p.add_argument("--model", default="artifacts/model", help="model directory (default artifacts/model)")
    p.add_argument("--input", required=True, help="a folder of .txt files, a .txt, or a .jsonl of records with 'text'")
    p.add_argument("--output", required=True, help="Label Studio: JSON tasks file; doccano: JSONL")
    p.add_argument("--format", default="label-studio", choices=["label-studio", "doccano"])
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    p.add_argument("--batch-size", type=int, default=32)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code (2 for bad input or config, 1 for other failures)."""
    args = build_parser().parse_args(argv)
    replica = int(os.environ.get("RANK", "0") or 0) > 0  # under accelerate launch / torchrun, only rank 0 logs INFO
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING if replica else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from .config import ConfigError, load_config
    from .modeling import ModelError
    from .records import DataError

    try:
        if args.job == "predict":
            from .predict import predict_file

            predict_file(args.model, args.input, args.output, device=args.device, batch_size=args.batch_size, backend=args.backend)
            return 0
        if args.job == "build-corpus":
            from .corpus import build_corpus

            for name, content in build_corpus().items():
                print(f"data/corpus/{name}: {content.count(chr(10))} lines")
            return 0
        if args.job == "import":
            from .importers import import_to_jsonl

            report = import_to_jsonl(args.inputs, args.format, args.output, args.labels, args.allow_drops, args.scheme)
            print(f"{args.output}: {report.counts()}", file=sys.stderr)
            return 0
        if args.job == "export-tasks":
            from .importers.tasks import export_tasks

            tasks = export_tasks(args.model, args.input, args.output, fmt=args.format, device=args.device, batch_size=args.batch_size)
            print(f"{args.output}: {len(tasks)} tasks, most uncertain first", file=sys.stderr)
            return 0
        cfg = load_config(args.config, args.overrides)
        return _run_job(args, cfg)
    except (ConfigError, DataError, ModelError, FileNotFoundError) as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2


def one_line(exc: BaseException) -> str:
    """An error message on one line: a multi-line message (e.g. a list of data problems) joined with '; '."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    if len(lines) > 1 and lines[0].endswith(":"):
        return lines[0] + " " + "; ".join(lines[1:])
    return "; ".join(lines)


def _run_job(args: argparse.Namespace, cfg) -> int:
    from .distributed import on_main_process  # jobs that write reports or bundles run on one process under a launcher

    if args.job == "prepare":
        from .data import prepare
        from .modeling import load_tokenizer, resolve_base_model

        prepared = prepare(cfg, load_tokenizer(resolve_base_model(cfg.model).location, cfg.model.revision))
        for split, report in prepared.reports.items():
            print(f"{split}: {report.summary()}")
        return 0
    if args.job == "validate-data":
        from .corpus_report import run_cli

        return run_cli(args, cfg)
    if args.job == "bench":
        from .bench import bench

        bench(cfg)
        return 0
    if args.job == "fit":
        from .fit import fit

        fit(cfg)
        return 0
    if args.job == "evaluate":
        from .scoring import evaluate

        on_main_process(evaluate, cfg, model_dir=args.model, data_files=args.data, baseline=args.baseline)
        return 0
    if args.job == "export":
        from .export import export

        on_main_process(export, cfg)
        return 0
    if args.job == "run":
        from .pipeline import run

        run(cfg)
        return 0
    raise AssertionError(args.job)
