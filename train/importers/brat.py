"""brat standoff (``.txt`` + ``.ann`` pairs) <-> our records.

Source format: https://brat.nlplab.org/standoff.html. The ``.ann`` file beside
``NAME.txt`` holds tab-separated annotation lines; offsets are code points of the
``.txt`` (read as UTF-8, newlines kept as stored), ``end`` exclusive::

    T1	Warn 6 12	warned
    T2	Deploy 20 25;30 36	troops moved
    A1	Modality T1 asserted

- ``T`` (text-bound) lines become spans; a *discontinuous* span (fragments joined
  by ``;``) cannot be one minimal event mention, so it is dropped and reported,
  never guessed;
- ``A<n>	Modality T<k> VALUE`` sets the span's modality; other attributes and all
  other line kinds (``E``, ``R``, ``N``, ``M``, ``#``, ``*``) are noted and ignored;
- the document id is the file stem; ``meta`` is empty.

An input path is a ``.ann`` file, its ``.txt``, or a directory of pairs (every
``*.ann``, sorted; a ``.txt`` without ``.ann`` is noted as not annotated and skipped).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Iterable

from ..records import DataError, Document, Problem
from .common import ImportReport, LabelMap, RawSpan, build_document

log = logging.getLogger(__name__)

_SAFE_ID = re.compile(r"^[\w.\-]+$")
_WS = re.compile(r"\s")


def brat_files(path: Path) -> list[Path]:
    """The ``.ann`` files an input path stands for (a directory: every ``*.ann``, sorted).

    Raises:
        FileNotFoundError: the path does not exist.
    """
    if path.is_dir():
        return sorted(path.glob("*.ann"))
    if not path.exists() and not path.with_suffix(".ann").exists():
        raise FileNotFoundError(f"brat input not found: {path}")
    return [path.with_suffix(".ann")]


def _read(p: Path) -> str:
    with open(p, encoding="utf-8", newline="") as fh:  # newline="": offsets count "\r\n" as 2
        return fh.read()


def read_brat(path: Path, labels: LabelMap, report: ImportReport) -> list[Document]:
    """Read brat standoff from a ``.ann``/``.txt`` file or a directory of pairs (format above).

    Returns:
        One document per ``.ann`` (``source = "NAME.ann"``). A missing ``.txt`` or an
        undecodable file goes to ``report.errors``; malformed ``T`` lines are drops.
    """
    if path.is_dir():
        for txt in sorted(path.glob("*.txt")):
            if not txt.with_suffix(".ann").exists():
                report.notes.append(Problem(str(txt), None, txt.stem, "no .ann beside this .txt: not annotated, skipped"))
    docs = []
    for ann in brat_files(path):
        txt = ann.with_suffix(".txt")
        try:
            text, lines = _read(txt), [x.rstrip("\r") for x in _read(ann).lstrip("\ufeff").split("\n")]
        except FileNotFoundError as exc:
            report.errors.append(Problem(str(ann), None, ann.stem, f"missing file {exc.filename}"))
            continue
        except UnicodeDecodeError as exc:
            report.errors.append(Problem(str(ann), None, ann.stem, f"not valid UTF-8 ({exc.reason})"))
            continue
        doc = _document(ann, text, lines, labels, report)
        if doc is not None:
            docs.append(doc)
    return docs


def _document(ann: Path, text: str, lines: list[str], labels: LabelMap, report: ImportReport) -> Document | None:
    file, doc_id = str(ann), ann.stem
    spans: dict[str, RawSpan] = {}
    attrs: list[tuple[int, str, str, str]] = []
    ignored: dict[str, int] = {}
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        ident, _, rest = line.partition("\t")
        if ident.startswith("T"):
            body, _, span_text = rest.partition("\t")
            label, _, offsets = body.partition(" ")
            sp = RawSpan(-1, -1, label, file, n, ident, span_text)
            frags = offsets.split(";")
            try:
                pairs = [tuple(int(x) for x in f.split()) for f in frags]
                if any(len(p) != 2 for p in pairs):
                    raise ValueError
            except ValueError:
                sp.error = f"malformed T line {line!r}"
            else:
                if len(pairs) > 1:
                    sp.error = f"discontinuous span ({offsets}) rejected: an event mention is one contiguous span; split it into separate T lines or keep one fragment"
                else:
                    (sp.start, sp.end) = pairs[0]
                    stored = text[sp.start:sp.end]
                    # brat writes a multi-line span's text with spaces for the line breaks
                    sp.text = stored if _WS.sub(" ", stored) == span_text or not span_text else span_text
            spans[ident] = sp
        elif ident.startswith("A") and rest.split(" ")[0] == "Modality":
            parts = rest.split(" ")
            attrs.append((n, parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else "", line))
        else:
            kind = ident[:1] or "?"
            ignored[kind] = ignored.get(kind, 0) + 1
    for n, target, value, line in attrs:
        if target not in spans or not value:
            report.drops.append(Problem(file, n, doc_id, f"attribute {line!r} names no T line or has no value"))
        else:
            spans[target].modality = value
    for kind, count in sorted(ignored.items()):
        report.notes.append(Problem(file, None, doc_id, f"{count} '{kind}' line(s) ignored (only T lines and Modality attributes are read)"))
    return build_document(report, doc_id, text, list(spans.values()), labels, {}, file, file)


def write_brat(docs: Iterable[Document], directory: str | Path) -> list[Path]:
    """Write each record as ``<id>.txt`` + ``<id>.ann`` in ``directory`` (modality as ``Modality`` attributes).

    Returns:
        The ``.ann`` paths written. ``meta`` is not representable in brat (the count is logged).

    Raises:
        DataError: a document id that is not a safe file name (letters, digits, ``_ . -``).
    """
    directory = Path(directory)
    docs = list(docs)
    bad = [Problem(str(directory), None, d.id, "id is not a safe brat file name") for d in docs if not _SAFE_ID.match(d.id)]
    if bad:
        raise DataError(bad)
    if any(d.meta for d in docs):
        log.warning("brat has no document metadata: meta of %d document(s) not written", sum(bool(d.meta) for d in docs))
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for d in docs:
        lines, a = [], 0
        for k, e in enumerate(d.events, start=1):
            lines.append(f"T{k}\t{e.type} {e.start} {e.end}\t{_WS.sub(' ', e.trigger)}")
            if e.modality is not None:
                a += 1
                lines.append(f"A{a}\tModality T{k} {e.modality}")
        with open(directory / f"{d.id}.txt", "w", encoding="utf-8", newline="") as fh:
            fh.write(d.text)
        (directory / f"{d.id}.ann").write_text("".join(x + "\n" for x in lines), encoding="utf-8")
        out.append(directory / f"{d.id}.ann")
    return out
