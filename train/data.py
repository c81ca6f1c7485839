"""Prepared splits: documents -> tokenised, labelled windows in a cached ``DatasetDict``."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .alignment import AlignmentReport, label_windows, tokenize_windows, window_word_ids
from .config import Config
from .importers import SOURCE_FORMATS, read_source, source_sha256
from .records import DataError, Document, Problem, check_unique_ids, read_jsonl

log = logging.getLogger(__name__)

#: Bump when alignment or window building changes, so cached windows are rebuilt.
ALIGNMENT_VERSION = "1"

#: Readers by file suffix; annotation-tool exports (:mod:`train.importers`) are read strictly:
#: ``.json`` Label Studio, ``.conll`` CoNLL IOB2, ``.ann`` brat. A data file may also be written
#: ``FORMAT:PATH`` (``doccano:a.jsonl``, ``conll-iob1:b.conll``, ``brat:dir``; see train.importers) or be a brat directory.
READERS: dict[str, Callable[[Path], list[Document]]] = {".jsonl": read_jsonl, ".json": read_source, ".conll": read_source, ".ann": read_source}


def read_documents(path: str | Path) -> list[Document]:
    """Read one data file (or ``FORMAT:PATH`` spec, or brat directory) with the reader registered for it.

    Raises:
        FileNotFoundError: missing file.
        DataError: bad records (file, line, id named), spans an import would drop, or an unsupported suffix.
    """
    prefix, sep, _ = str(path).partition(":")
    if (sep and prefix in SOURCE_FORMATS) or Path(path).is_dir():
        return read_source(path)
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise DataError([Problem(str(path), None, None, f"no reader for '{path.suffix}' files (supported: {sorted(READERS)})")])
    return reader(path)


def read_split(files: list[str]) -> list[Document]:
    """Read and concatenate the files of one split; ids must be unique across them."""
    groups = [read_documents(f) for f in files]
    check_unique_ids(groups)
    return [d for g in groups for d in g]


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """sha256 of the tokenizer's full serialisation (vocab, normaliser, pre-tokeniser)."""
    return hashlib.sha256(tokenizer.backend_tokenizer.to_str().encode("utf-8")).hexdigest()


@dataclass
class PreparedData:
    """Documents and windows of every configured split.

    Attributes:
        docs: split -> documents (file order).
        windows: ``datasets.DatasetDict``; split -> one row per window with ``input_ids``,
            ``attention_mask`` (``token_type_ids``), ``labels``, ``offset_mapping``,
            ``word_ids`` (-1 = special token) and ``doc_index`` (into ``docs[split]``).
        reports: split -> alignment report.
        file_hashes: data file path -> sha256.
        fingerprint: cache key of the windows.
    """

    docs: dict[str, list[Document]]
    windows: Any
    reports: dict[str, AlignmentReport]
    file_hashes: dict[str, str]
    fingerprint: str


def build_windows(docs: list[Document], tokenizer: Any, max_length: int, stride: int, subtoken_labels: str) -> tuple[dict[str, list], AlignmentReport]:
    """Tokenise and label the documents of one split.

    Returns:
        ``(columns, report)``: column name -> one value per window, and the alignment report.
    """
    enc = tokenize_windows(tokenizer, [d.text for d in docs], max_length, stride)
    labels, report = label_windows(docs, enc, subtoken_labels)
    columns: dict[str, list] = {k: list(enc[k]) for k in tokenizer.model_input_names if k in enc}
    columns["labels"] = labels
    columns["offset_mapping"] = [[list(o) for o in offs] for offs in enc["offset_mapping"]]
    columns["word_ids"] = [window_word_ids(enc, i) for i in range(len(enc["input_ids"]))]
    columns["doc_index"] = list(enc["overflow_to_sample_mapping"])
    return columns, report


def prepare(cfg: Config, tokenizer: Any, splits: tuple[str, ...] = ("train", "validation", "test")) -> PreparedData:
    """Load the configured splits and build (or reuse) their tokenised windows.

    The windows are cached under ``cfg.data.cache_dir`` keyed by the sha256 of every
    data file, the tokenizer serialisation and the window settings, so they are rebuilt
    exactly when one of those changes.

    Raises:
        DataError: a bad record, or a document id present in two splits.
    """
    from datasets import Dataset, DatasetDict, load_from_disk

    files = {s: list(getattr(cfg.data, f"{s}_files")) for s in splits}
    docs = {s: read_split(f) if f else [] for s, f in files.items()}
    check_unique_ids([docs[s] for s in splits])
    hashes = {f: source_sha256(f) for fs in files.values() for f in fs}
    key = json.dumps(
        {
            "files": {s: [hashes[f] for f in fs] for s, fs in files.items()},
            "tokenizer": tokenizer_fingerprint(tokenizer),
            "window": [cfg.window.max_length, cfg.window.stride, cfg.window.subtoken_labels],
            "version": ALIGNMENT_VERSION,
        },
        sort_keys=True,
    )
    fingerprint = hashlib.sha256(key.encode()).hexdigest()
    cache = Path(cfg.data.cache_dir) / f"windows-{fingerprint[:16]}"
    if (cache / "reports.json").is_file():
        log.info("reusing cached windows %s", cache)
        windows = load_from_disk(str(cache / "windows"))
        raw = json.loads((cache / "reports.json").read_text())
        reports = {s: _report_from_dict(r) for s, r in raw.items()}
    else:
        built = {}
        reports = {}
        for s in splits:
            if not docs[s]:
                continue
            cols, reports[s] = build_windows(docs[s], tokenizer, cfg.window.max_length, cfg.window.stride, cfg.window.subtoken_labels)
            built[s] = Dataset.from_dict(cols)
        windows = DatasetDict(built)
        # one temporary folder per process: processes of a multi-node run may build the same cache at once
        tmp = cache.with_name(f"{cache.name}.tmp-{socket.gethostname()}-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        windows.save_to_disk(str(tmp / "windows"))
        (tmp / "reports.json").write_text(json.dumps({s: r.to_dict() for s, r in reports.items()}, indent=1))
        try:
            tmp.rename(cache)
        except OSError:
            if not (cache / "reports.json").is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another process finished the same cache first
    for s, r in reports.items():
        (log.warning if r.lost else log.info)("%s: %s", s, r.summary())
    return PreparedData(docs, windows, reports, hashes, fingerprint)


def _report_from_dict(d: dict) -> AlignmentReport:
    from .alignment import LostSpan

    return AlignmentReport(d["documents"], d["windows"], d["spans"], [LostSpan(**x) for x in d["lost"]])
