"""Inline-markup authoring format for the corpus and for test fixtures.

Writing character offsets by hand is error-prone, so documents are authored as
text with inline mentions and compiled to schema records (offsets computed by
this module, then checked by :func:`train.records.validate_document`)::

    Seoul [[warned|WARNING]] Moscow; troops will be [[sent|DEPLOYMENT|planned]].

A mention is ``[[surface|TYPE]]`` or ``[[surface|TYPE|modality]]``; the
modality defaults to ``asserted``. ``[[`` and ``]]`` may not appear otherwise.

A source file holds documents, each opened by a header block::

    === id: cn-0001
    split: train
    country: Ukraine
    topic: troop rotation
    date: 2022-09
    genre: report

    First paragraph ...
    Second paragraph ...

Header keys other than ``id`` and ``split`` go into ``meta``; the body runs to
the next ``===`` line, outer blank lines removed, inner lines kept verbatim.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from .labels import MODALITIES
from .records import DataError, Document, Problem, validate_document

_MENTION = re.compile(r"\[\[([^\[\]|]+)\|([A-Z]+)(?:\|([a-z]+))?\]\]")
SPLITS = ("train", "validation", "test")
#: ``meta`` written into every compiled record, besides the header keys.
DEFAULT_META = {"source": "written for this project", "license": "CC-BY-4.0"}


def parse_markup(marked: str, doc_id: str = "doc", meta: dict | None = None) -> Document:
    """Compile one marked-up text into a validated :class:`Document`.

    Args:
        marked: text with ``[[surface|TYPE(|modality)]]`` mentions.
        doc_id: id of the resulting record.
        meta: provenance to store in ``meta``.

    Returns:
        The document; ``text`` is ``marked`` with the markup removed.

    Raises:
        ValueError: on stray ``[[``/``]]`` or an unknown modality/type, naming the offending snippet.
    """
    parts: list[str] = []
    events = []
    pos = 0
    length = 0
    for m in _MENTION.finditer(marked):
        before = marked[pos:m.start()]
        parts.append(before)
        length += len(before)
        surface, etype, modality = m.group(1), m.group(2), m.group(3) or "asserted"
        if modality not in MODALITIES:
            raise ValueError(f"{doc_id}: unknown modality {modality!r} in {m.group(0)!r}")
        events.append({"start": length, "end": length + len(surface), "type": etype, "trigger": surface, "modality": modality})
        parts.append(surface)
        length += len(surface)
        pos = m.end()
    parts.append(marked[pos:])
    text = "".join(parts)
    for bad in ("[[", "]]"):
        k = text.find(bad)
        if k >= 0:
            raise ValueError(f"{doc_id}: malformed mention near {text[max(0, k - 30):k + 30]!r}")
    doc, errors = validate_document({"id": doc_id, "text": text, "events": events, "meta": meta or {}})
    if errors:
        raise ValueError(f"{doc_id}: " + "; ".join(errors))
    return doc


def read_markup_file(path: str | Path) -> list[tuple[str, Document]]:
    """Parse a source file of marked-up documents.

    Returns:
        ``(split, document)`` pairs in file order; ``document.source`` is ``"path:line"``
        of the document's ``===`` header.

    Raises:
        DataError: listing every bad document (missing id or split, bad markup, bad span).
    """
    path = Path(path)
    lines = path.read_text(encoding="utf-8").split("\n")
    blocks: list[tuple[int, list[str]]] = []
    for n, line in enumerate(lines, start=1):
        if line.startswith("=== "):
            blocks.append((n, [line[4:]]))
        elif blocks:
            blocks[-1][1].append(line)
        elif line.strip():
            raise DataError([Problem(str(path), n, None, "text before the first '=== id: ...' header")])
    out: list[tuple[str, Document]] = []
    problems: list[Problem] = []
    for n, block in blocks:
        header: dict[str, str] = {}
        k = 0
        while k < len(block) and block[k].strip():
            key, sep, value = block[k].partition(":")
            if not sep:
                problems.append(Problem(str(path), n + k, None, f"header line without ':': {block[k]!r}"))
            header[key.strip()] = value.strip()
            k += 1
        doc_id = header.pop("id", None)
        split = header.pop("split", None)
        if not doc_id:
            problems.append(Problem(str(path), n, None, "document header has no 'id'"))
            continue
        if split not in SPLITS:
            problems.append(Problem(str(path), n, doc_id, f"split must be one of {SPLITS}, got {split!r}"))
            continue
        body = "\n".join(block[k:]).strip("\n")
        try:
            doc = parse_markup(body, doc_id, {**DEFAULT_META, **header})
        except ValueError as exc:
            problems.append(Problem(str(path), n, doc_id, str(exc)))
            continue
        out.append((split, Document(doc.id, doc.text, doc.events, doc.meta, f"{path}:{n}")))
    if problems:
        raise DataError(problems)
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m train.markup FILE...``: check source files and print per-file counts."""
    from collections import Counter

    status = 0
    for p in argv if argv is not None else sys.argv[1:]:
        try:
            pairs = read_markup_file(p)
        except DataError as exc:
            print(exc)
            status = 1
            continue
        types = Counter(e.type for _, d in pairs for e in d.events)
        splits = Counter(s for s, _ in pairs)
        words = sum(len(d.text.split()) for _, d in pairs)
        print(f"{p}: {len(pairs)} docs, {words} words, splits {dict(splits)}, mentions {dict(types)}")
    return status


if __name__ == "__main__":
    sys.exit(main())
