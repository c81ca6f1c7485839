"""Bring your own annotations: Label Studio, doccano, brat and CoNLL exports <-> our records.

Every reader returns :class:`~train.records.Document` objects that passed
:func:`~train.records.validate_document`, after the shared span rules of
:mod:`train.importers.common` (label mapping, range and text checks, edge-whitespace
trimming, overlap). Whatever cannot be imported is listed in an
:class:`~train.importers.common.ImportReport` with file, record and reason, and the
import fails unless ``allow_drops=True``; even then the count is logged.

Formats (modules, with the source of each format in their docstrings):

============== ==================================== ===================== ==============
name           input                                offsets               module
============== ==================================== ===================== ==============
label-studio   JSON export (array of tasks)         UTF-16 code units     label_studio
doccano        JSONL, ``label``/``entities``        code points           doccano
brat           ``.ann`` + ``.txt``, or a directory  code points           brat
conll          token/tag columns (iob2/iob1/bioes)  rebuilt from tokens   conll
============== ==================================== ===================== ==============

**Data files in a config** (``data.train_files`` etc., read by
:func:`train.data.read_documents`) name their format by a prefix or by suffix:

- ``FORMAT:PATH`` with FORMAT one of :data:`SOURCE_FORMATS`: ``jsonl`` (our schema),
  ``label-studio``, ``doccano``, ``brat`` (a ``.ann`` file or a directory of pairs),
  ``conll`` / ``conll-iob2``, ``conll-iob1``, ``conll-bioes``;
- without a prefix, the suffix decides: ``.jsonl`` our schema, ``.json`` Label Studio,
  ``.conll`` CoNLL IOB2, ``.ann`` brat; a directory is read as brat.

doccano files end in ``.jsonl`` like ours, so they always need the ``doccano:`` prefix.
Config imports are strict (no drops allowed) and take labels as they are (our type
names); to rename labels, run ``python -m train import --labels ...`` once and train
on the JSONL it writes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable, Iterable, Mapping

from ..records import DataError, Document, Problem, read_jsonl, write_jsonl
from .brat import brat_files, read_brat, write_brat
from .common import ImportReport, build_document, check_ids, parse_label_map, utf16_offsets, utf16_to_codepoints
from .conll import SCHEMES, read_conll, write_conll
from .doccano import read_doccano, write_doccano
from .label_studio import read_label_studio, write_label_studio

__all__ = [
    "FORMATS", "SCHEMES", "SOURCE_FORMATS", "ImportReport", "import_files", "import_to_jsonl", "parse_label_map", "read_source",
    "source_files", "split_source", "write_brat", "write_conll", "write_doccano", "write_label_studio",
    "utf16_offsets", "utf16_to_codepoints", "build_document",
]

#: Import formats: name -> reader(path, labels, report, scheme).
FORMATS: dict[str, Callable[..., list[Document]]] = {
    "label-studio": lambda p, labels, report, scheme: read_label_studio(p, labels, report),
    "doccano": lambda p, labels, report, scheme: read_doccano(p, labels, report),
    "brat": lambda p, labels, report, scheme: read_brat(p, labels, report),
    "conll": lambda p, labels, report, scheme: read_conll(p, labels, report, scheme),
}

#: Prefixes allowed in a data-file spec ``FORMAT:PATH``: name -> (format, CoNLL scheme).
SOURCE_FORMATS: dict[str, tuple[str, str]] = {
    "jsonl": ("jsonl", ""),
    "label-studio": ("label-studio", ""),
    "doccano": ("doccano", ""),
    "brat": ("brat", ""),
    "conll": ("conll", "iob2"),
    "conll-iob2": ("conll", "iob2"),
    "conll-iob1": ("conll", "iob1"),
    "conll-bioes": ("conll", "bioes"),
}

#: Format by suffix when a data-file spec has no prefix.
SUFFIX_FORMATS: dict[str, str] = {".jsonl": "jsonl", ".json": "label-studio", ".conll": "conll", ".ann": "brat"}


def import_files(paths: Iterable[str | Path], fmt: str, labels: str | Mapping[str, str | None] | None = None,
                 allow_drops: bool = False, scheme: str = "iob2") -> tuple[list[Document], ImportReport]:
    """Import annotation-tool exports into validated records.

    Args:
        paths: export files (brat: ``.ann``/``.txt`` files or directories of pairs).
        fmt: one of :data:`FORMATS`.
        labels: label map, ``"Warn=WARNING,Troop deployment=DEPLOYMENT"`` or a dict
            (see :func:`~train.importers.common.parse_label_map`); labels equal to our type names need no entry.
        allow_drops: import what can be imported even when spans or records must be dropped
            (they are still listed in the report and their count is logged).
        scheme: CoNLL tagging scheme, one of :data:`SCHEMES` (ignored by other formats).

    Returns:
        ``(documents, report)``: documents of all files in order, ``source`` naming file and record.

    Raises:
        FileNotFoundError: a path does not exist.
        ValueError: unknown ``fmt`` or ``scheme``.
        DataError: format errors or duplicate ids (always), or drops when ``allow_drops`` is false;
            every problem names its file, record and reason.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown import format {fmt!r} (expected one of {sorted(FORMATS)})")
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tagging scheme {scheme!r} (expected one of {SCHEMES})")
    label_map = parse_label_map(labels)
    report = ImportReport(fmt)
    docs: list[Document] = []
    for p in map(Path, paths):
        if not p.exists() and not (fmt == "brat" and p.with_suffix(".ann").exists()):
            raise FileNotFoundError(f"import input not found: {p}")
        docs += FORMATS[fmt](p, label_map, report, scheme)
    check_ids(report, docs)
    report.finish(allow_drops)
    return docs, report


def import_to_jsonl(inputs: Iterable[str | Path], fmt: str, output: str | Path, labels: str | None = None,
                    allow_drops: bool = False, scheme: str = "iob2") -> ImportReport:
    """The ``import`` job: :func:`import_files` then write the records as schema JSONL to ``output``.

    Returns:
        The import report (the CLI prints its summary). Raises like :func:`import_files`;
        nothing is written when the import fails.
    """
    docs, report = import_files(inputs, fmt, labels, allow_drops, scheme)
    write_jsonl(docs, output)
    return report


def split_source(spec: str | Path) -> tuple[str, str, Path]:
    """Resolve a data-file spec (module docstring) to ``(format, conll scheme, path)``.

    Raises:
        DataError: no prefix and a suffix no reader is registered for.
    """
    text = str(spec)
    prefix, sep, rest = text.partition(":")
    if sep and prefix in SOURCE_FORMATS:
        fmt, scheme = SOURCE_FORMATS[prefix]
        return fmt, scheme, Path(rest)
    path = Path(text)
    if path.is_dir():
        return "brat", "", path
    fmt = SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError([Problem(text, None, None, f"no reader for '{path.suffix}' files: use a suffix {sorted(SUFFIX_FORMATS)} or a prefix FORMAT:PATH with FORMAT in {sorted(SOURCE_FORMATS)}")])
    return fmt, "iob2" if fmt == "conll" else "", path


def read_source(spec: str | Path) -> list[Document]:
    """Read one data-file spec strictly: drops are errors, labels must be our type names.

    Trims and notes are logged. Raises like :func:`import_files` (and :func:`split_source`).
    """
    fmt, scheme, path = split_source(spec)
    if fmt == "jsonl":
        return read_jsonl(path)
    return import_files([path], fmt, scheme=scheme or "iob2")[0]


def source_files(spec: str | Path) -> list[Path]:
    """Every file a data-file spec reads (brat: each ``.ann`` and its ``.txt``), for hashing.

    Raises:
        FileNotFoundError: the spec's path does not exist.
    """
    fmt, _, path = split_source(spec)
    if fmt == "brat":
        return [f for ann in brat_files(path) for f in (ann, ann.with_suffix(".txt"))]
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    return [path]


def source_sha256(spec: str | Path) -> str:
    """sha256 identifying a data-file spec's content: the file's own sha256 for one plain file,
    else the sha256 of ``"<format>\\n"`` plus ``"<name> <sha256>\\n"`` per file read."""
    fmt, scheme, _ = split_source(spec)
    files = source_files(spec)
    digests = [hashlib.sha256(f.read_bytes()).hexdigest() if f.exists() else "missing" for f in files]
    if len(files) == 1 and ":" not in str(spec):
        return digests[0]
    h = hashlib.sha256(f"{fmt}{'-' + scheme if scheme else ''}\n".encode())
    for f, d in zip(files, digests):
        h.update(f"{f.name} {d}\n".encode())
    return h.hexdigest()
