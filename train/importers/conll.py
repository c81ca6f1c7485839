"""CoNLL token columns (IOB2, IOB1 or BIOES tags) <-> our records.

Source format: the CoNLL-2003 shared task files (Tjong Kim Sang & De Meulder 2003):
one token per line, whitespace-separated columns, the token first and the tag
last; a blank line ends a sentence; a ``-DOCSTART-`` line starts a document.
Tagging schemes (Ramshaw & Marcus 1995; Ratinov & Roth 2009):

- ``iob2``: every span starts with ``B-X``, continues with ``I-X``;
- ``iob1``: spans are ``I-X`` runs; ``B-X`` only starts a span right after another ``X`` span
  (the original CoNLL-2003 files);
- ``bioes``: ``S-X`` single-token span, else ``B-X I-X* E-X`` (``U-``/``L-`` of BILOU read as ``S-``/``E-``).

Text is rebuilt from the tokens: one space between the tokens of a sentence and
``\\n`` between the sentences of a document, so offsets are exact in the rebuilt
text (the original spacing is not in the file). With ``-DOCSTART-`` lines, each
section is one document; without them, each sentence is one. A comment line
``# id = NAME`` names the document it precedes (else ``"<file stem>-<n>"``); other
``#`` comment lines with ``=`` are ignored. Tag sequences the scheme does not
allow (``I-X`` after ``O`` in IOB2, an unclosed ``B-X`` in BIOES) are read leniently,
as the start or end of a span, and each repair is noted in the report.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Iterable

from ..records import DataError, Document, Problem, _lines
from .common import ImportReport, LabelMap, RawSpan, build_document

log = logging.getLogger(__name__)

#: Tagging schemes read and written by this module.
SCHEMES = ("iob2", "iob1", "bioes")
_PREFIXES = {"iob2": "BI", "iob1": "BI", "bioes": "BIES"}
_COMMENT = re.compile(r"^#\s*([\w-]+)\s*=\s*(.*?)\s*$")


def _parse_tag(tag: str, scheme: str) -> tuple[str, str] | None:
    """``"B-VISIT" -> ("B", "VISIT")``, ``"O" -> ("O", "")``; ``None`` when not a tag of ``scheme``."""
    if tag == "O":
        return "O", ""
    prefix, sep, etype = tag.partition("-")
    if scheme == "bioes":
        prefix = {"U": "S", "L": "E"}.get(prefix, prefix)
    if not sep or not etype or prefix not in _PREFIXES[scheme]:
        return None
    return prefix, etype


class _Doc:
    def __init__(self, line: int):
        self.line, self.id = line, None
        self.tokens: list[tuple[str, str, str, int, int]] = []  # token, prefix, type, line, sentence
        self.sentences = 0


def read_conll(path: Path, labels: LabelMap, report: ImportReport, scheme: str = "iob2") -> list[Document]:
    """Read one CoNLL column file with tags in ``scheme`` (format above).

    Returns:
        The rebuilt documents (``source = "path:line"`` of the first line). Lines with fewer
        than two columns and tags that are not of ``scheme`` go to ``report.errors``.

    Raises:
        ValueError: ``scheme`` is not one of :data:`SCHEMES`.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tagging scheme {scheme!r} (expected one of {SCHEMES})")
    file = str(path)
    docs: list[_Doc] = []
    by_docstart = False
    cur: _Doc | None = None
    pending_id: str | None = None
    sentence_open = False
    for n, line, decode_error in _lines(path):
        if decode_error:
            report.errors.append(Problem(file, n, None, decode_error))
            continue
        cols = line.split()
        m = _COMMENT.match(line.strip())
        if m:
            if m.group(1) == "id":
                if cur is not None and by_docstart and not cur.tokens:
                    cur.id = m.group(2)
                else:
                    pending_id = m.group(2)
            continue
        if cols and cols[0] == "-DOCSTART-":
            by_docstart = True
            cur = _Doc(n)
            docs.append(cur)
            sentence_open = False
            continue
        if not cols:
            if sentence_open and cur is not None:
                cur.sentences += 1
            sentence_open = False
            continue
        if len(cols) < 2:
            report.errors.append(Problem(file, n, None, f"expected a token and a tag column, got {line.strip()!r}"))
            continue
        tag = _parse_tag(cols[-1], scheme)
        if tag is None:
            report.errors.append(Problem(file, n, None, f"tag {cols[-1]!r} is not {scheme.upper()} (use --scheme {'/'.join(SCHEMES)})"))
            continue
        if not by_docstart and not sentence_open:
            cur = _Doc(n)
            docs.append(cur)
        if cur is None:  # tokens before the first -DOCSTART- cannot happen once by_docstart is set
            cur = _Doc(n)
            docs.append(cur)
        if pending_id is not None and not cur.tokens:
            cur.id, pending_id = pending_id, None
        sentence_open = True
        cur.tokens.append((cols[0], tag[0], tag[1], n, cur.sentences))
    out = []
    for k, d in enumerate(docs, start=1):
        if not d.tokens:
            report.notes.append(Problem(file, d.line, d.id, "document without tokens skipped"))
            continue
        doc_id = d.id or f"{path.stem}-{k}"
        text, spans = _rebuild(d, scheme, file, doc_id, report)
        doc = build_document(report, doc_id, text, spans, labels, {}, f"{file}:{d.line}", file, d.line)
        if doc is not None:
            out.append(doc)
    return out


def _rebuild(d: _Doc, scheme: str, file: str, doc_id: str, report: ImportReport) -> tuple[str, list[RawSpan]]:
    """Text and spans of one document's tokens; tag repairs are noted in ``report``."""
    parts: list[str] = []
    offs: list[tuple[int, int]] = []
    pos, prev_sent = 0, None
    for tok, _, _, _, sent in d.tokens:
        if prev_sent is not None:
            sep = " " if sent == prev_sent else "\n"
            parts.append(sep)
            pos += 1
        parts.append(tok)
        offs.append((pos, pos + len(tok)))
        pos += len(tok)
        prev_sent = sent
    spans: list[RawSpan] = []
    open_: list = []  # [type, first index, last index]

    def close() -> None:
        if open_:
            etype, i, j = open_
            spans.append(RawSpan(offs[i][0], offs[j][1], etype, file, d.tokens[i][3], f"tokens {i + 1}-{j + 1}"))
            open_.clear()

    def note(i: int, msg: str) -> None:
        report.notes.append(Problem(file, d.tokens[i][3], doc_id, f"{scheme.upper()} repair: {msg}"))

    for i, (tok, prefix, etype, line, sent) in enumerate(d.tokens):
        same = bool(open_) and open_[0] == etype and d.tokens[open_[2]][4] == sent
        if open_ and d.tokens[open_[2]][4] != sent:  # spans never cross a sentence break
            close()
        if prefix == "O":
            if open_ and scheme == "bioes":
                note(open_[2], f"span of {open_[0]} ends without E-/S-; closed before 'O'")
            close()
        elif prefix == "S":
            if open_ and scheme == "bioes":
                note(open_[2], f"span of {open_[0]} ends without E-; closed before 'S-{etype}'")
            close()
            open_[:] = [etype, i, i]
            close()
        elif prefix == "B":
            if open_ and scheme == "bioes":
                note(open_[2], f"span of {open_[0]} ends without E-; closed before 'B-{etype}'")
            close()
            open_[:] = [etype, i, i]
        elif prefix == "I" or prefix == "E":
            if same:
                open_[2] = i
            else:
                if scheme != "iob1" or prefix == "E":
                    note(i, f"'{prefix}-{etype}' does not continue a span of {etype}; read as the start of one")
                close()
                open_[:] = [etype, i, i]
            if prefix == "E":
                close()
    if open_ and scheme == "bioes":
        note(open_[2], f"span of {open_[0]} ends without E- at the end of the document")
    close()
    return "".join(parts), spans


def conll_lines(doc: Document, scheme: str = "iob2") -> list[str]:
    """The CoNLL lines of one record: ``-DOCSTART- O``, ``# id = ...``, ``TOKEN<TAB>TAG`` lines, sentences ended by a blank line.

    Raises:
        DataError: the text is not in rebuilt form (tokens separated by single spaces,
            sentences by single ``\\n``, no other whitespace) or a span edge falls inside a token.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tagging scheme {scheme!r} (expected one of {SCHEMES})")
    tokens: list[tuple[int, int, int]] = []  # start, end, sentence
    pos = 0
    for s, sentence in enumerate(doc.text.split("\n")):
        for tok in sentence.split(" "):
            if not tok or any(c.isspace() for c in tok):
                raise DataError([Problem(doc.source or "(export)", None, doc.id, "text is not tokens joined by single spaces and sentences by single newlines; CoNLL cannot hold it exactly")])
            tokens.append((pos, pos + len(tok), s))
            pos += len(tok) + 1
    tags = ["O"] * len(tokens)
    starts = {t[0]: i for i, t in enumerate(tokens)}
    ends = {t[1]: i for i, t in enumerate(tokens)}
    prev_end_type: dict[int, str] = {}  # token index -> type of the span ending there
    for e in doc.events:
        if e.start not in starts or e.end not in ends:
            raise DataError([Problem(doc.source or "(export)", None, doc.id, f"span [{e.start}, {e.end}) {e.trigger!r} does not start and end on token edges")])
        i, j = starts[e.start], ends[e.end]
        for k in range(i, j + 1):
            tags[k] = f"I-{e.type}"
        if scheme == "iob2":
            tags[i] = f"B-{e.type}"
        elif scheme == "iob1":
            if prev_end_type.get(i - 1) == e.type and tokens[i - 1][2] == tokens[i][2]:
                tags[i] = f"B-{e.type}"
        elif i == j:
            tags[i] = f"S-{e.type}"
        else:
            tags[i], tags[j] = f"B-{e.type}", f"E-{e.type}"
        prev_end_type[j] = e.type
    lines = ["-DOCSTART- O", f"# id = {doc.id}", ""]
    for k, (s, e, sent) in enumerate(tokens):
        lines.append(f"{doc.text[s:e]}\t{tags[k]}")
        if k + 1 == len(tokens) or tokens[k + 1][2] != sent:
            lines.append("")
    return lines


def write_conll(docs: Iterable[Document], path: str | Path | None = None, scheme: str = "iob2") -> str:
    """Our records as a CoNLL file in ``scheme``; ``modality`` and ``meta`` cannot be kept (logged).

    Returns:
        The file text; also written to ``path`` when given. Raises :class:`DataError` as :func:`conll_lines`.
    """
    docs = list(docs)
    lost = sum(e.modality is not None for d in docs for e in d.events) + sum(bool(d.meta) for d in docs)
    if lost:
        log.warning("CoNLL has no attributes or metadata: %d modality/meta value(s) not written", lost)
    text = "".join(line + "\n" for d in docs for line in conll_lines(d, scheme))
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")
    return text
