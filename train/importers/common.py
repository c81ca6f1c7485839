"""What every importer shares: label maps, the import report, span checks, UTF-16 offsets.

A format reader only decodes its file into ``(id, text, candidate spans)`` with
offsets already in Python code points; :func:`build_document` then applies the
same rules for every format, in this order:

1. the reader's own conversion error (e.g. a UTF-16 offset inside a surrogate pair);
2. label mapping: a label in the map takes the mapped type (an empty target
   ignores it, reported as a note); a label that is already one of our types is
   kept; anything else is an *unknown label* drop;
3. the span must lie in the text (*out of range*) and, when the format stores
   the span's text, ``text[start:end]`` must equal it (*text mismatch*);
4. whitespace at either edge is trimmed and each trim is reported; a span that
   is only whitespace is dropped;
5. spans are sorted by ``(start, -end)``; a span that overlaps one already kept
   is dropped (*overlap*), naming the kept span (the earlier, longer one wins);
6. the record goes through :func:`train.records.validate_document`.

Drops, trims and notes all land in an :class:`ImportReport`; nothing is removed
silently. Hard format errors (invalid JSON, a record without text, a malformed
tag column, duplicate ids) are collected in ``report.errors`` and always fail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..labels import EVENT_TYPES, MODALITIES
from ..records import DataError, Document, EventMention, Problem, validate_document

log = logging.getLogger(__name__)

#: A parsed label map: tool label -> our event type, or ``None`` to ignore the label on purpose.
LabelMap = Mapping[str, "str | None"]


def parse_label_map(spec: str | Mapping[str, str | None] | None) -> dict[str, str | None]:
    """Parse ``"Warn=WARNING,Troop deployment=DEPLOYMENT"`` into a label map.

    Pairs are separated by ``,``; each is ``TOOL_LABEL=TYPE`` (spaces around names are
    stripped). ``TOOL_LABEL=`` with nothing after ``=`` ignores that label on purpose:
    its spans are counted in the report's notes, not imported and not drops.
    A mapping is checked the same way and returned as a new dict.

    Raises:
        DataError: a pair without ``=``, an empty tool label, a repeated label, or a
            target that is not one of :data:`train.labels.EVENT_TYPES`.
    """
    if spec is None:
        return {}
    pairs: list[tuple[str, str]]
    if isinstance(spec, str):
        pairs = []
        for part in spec.split(","):
            if not part.strip():
                continue
            src, sep, dst = part.partition("=")
            if not sep:
                raise DataError([Problem("--labels", None, None, f"{part.strip()!r} is not TOOL_LABEL=TYPE")])
            pairs.append((src.strip(), dst.strip()))
    else:
        pairs = [(str(k), "" if v is None else str(v)) for k, v in spec.items()]
    out: dict[str, str | None] = {}
    problems = []
    for src, dst in pairs:
        if not src:
            problems.append(Problem("--labels", None, None, f"empty tool label in '={dst}'"))
        elif src in out:
            problems.append(Problem("--labels", None, None, f"label {src!r} is mapped twice"))
        elif dst and dst not in EVENT_TYPES:
            problems.append(Problem("--labels", None, None, f"{src!r} maps to {dst!r}, which is not one of {list(EVENT_TYPES)}"))
        else:
            out[src] = dst or None
    if problems:
        raise DataError(problems)
    return out


@dataclass
class ImportReport:
    """Everything an import did besides copying spans through unchanged.

    Attributes:
        format: the format name (``label-studio``, ``doccano``, ``brat``, ``conll``).
        documents: documents imported.
        spans: spans imported.
        drops: spans (or whole records) that could not be imported, each naming file, record and reason.
        trims: spans whose edge whitespace was trimmed (old and new offsets).
        notes: other things that were not imported on purpose: skipped unannotated
            records, labels mapped to nothing, ignored annotation lines, repaired tag sequences.
        errors: hard format errors; an import with errors always fails.
    """

    format: str
    documents: int = 0
    spans: int = 0
    drops: list[Problem] = field(default_factory=list)
    trims: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)

    def counts(self) -> str:
        """One line: documents and spans imported, and how many were dropped, trimmed or noted."""
        return (f"{self.format}: imported {self.documents} documents, {self.spans} spans; "
                f"{len(self.drops)} dropped, {len(self.trims)} trimmed, {len(self.notes)} notes")

    def summary(self) -> str:
        """Multi-line text: :meth:`counts`, then every drop, trim and note."""
        lines = [self.counts()]
        for title, items in (("dropped", self.drops), ("trimmed", self.trims), ("notes", self.notes)):
            if items:
                lines.append(f"{title}:")
                lines += [f"  {p}" for p in items]
        return "\n".join(lines)

    def finish(self, allow_drops: bool) -> None:
        """Raise on errors, or on drops unless ``allow_drops``; else log :meth:`summary` (a warning
        when anything was dropped or trimmed).

        Raises:
            DataError: ``errors`` is not empty; or ``drops`` is not empty and ``allow_drops`` is false
                (the message lists every drop and says how to accept them).
        """
        if self.errors:
            raise DataError(self.errors)
        if self.drops and not allow_drops:
            hint = Problem("(import)", None, None, f"{len(self.drops)} span(s)/record(s) cannot be imported; fix them, map their labels, or pass --allow-drops (allow_drops=True) to import without them")
            raise DataError(self.drops + [hint])
        (log.warning if self.drops or self.trims else log.info)("%s", self.summary())


@dataclass
class RawSpan:
    """A candidate span as a reader decoded it, offsets already in code points.

    Attributes:
        start / end: code-point offsets into the document text (``end`` exclusive).
        label: the tool's label (mapped by :func:`build_document`).
        file / line: where the span was read (``line`` 1-based, or ``None`` for JSON files).
        where: record locator for messages, e.g. ``"task 2 (id 17), region ab3"`` or ``"T4"``.
        text: the span text stored by the format, checked against the document text; ``None`` if not stored.
        modality: optional modality attribute.
        error: a conversion error found by the reader; the span is dropped with it.
    """

    start: int
    end: int
    label: str
    file: str
    line: int | None
    where: str
    text: str | None = None
    modality: str | None = None
    error: str | None = None


def build_document(report: ImportReport, doc_id: str, text: str, spans: list[RawSpan], labels: LabelMap,
                   meta: dict[str, Any] | None = None, source: str = "", file: str = "", line: int | None = None) -> Document | None:
    """Apply the shared span rules (module docstring) and validate the record.

    Args:
        report: receives drops, trims and notes.
        doc_id / text / meta: the record; ``text`` is kept exactly as given.
        spans: candidates with code-point offsets.
        labels: the label map (:func:`parse_label_map`).
        source: ``Document.source`` of the result (``"path:line"`` or ``"path:task N"``).
        file / line: where the record starts, for record-level messages.

    Returns:
        The validated document, or ``None`` when the whole record is dropped (reported).
    """
    kept: list[tuple[EventMention, RawSpan]] = []
    for sp in spans:
        desc = f"{sp.where}: {sp.label!r}" + (f" [{sp.start}, {sp.end})" if sp.start >= 0 else "")

        def drop(reason: str, sp: RawSpan = sp, desc: str = desc) -> None:
            report.drops.append(Problem(sp.file, sp.line, doc_id, f"{desc}: {reason}"))

        if sp.error:
            drop(sp.error)
            continue
        if sp.label in labels:
            etype = labels[sp.label]
            if etype is None:
                report.notes.append(Problem(sp.file, sp.line, doc_id, f"{desc}: label ignored by the label map"))
                continue
        elif sp.label in EVENT_TYPES:
            etype = sp.label
        else:
            drop(f"unknown label {sp.label!r}: map it to one of {list(EVENT_TYPES)} (e.g. --labels '{sp.label}=TYPE') or ignore it ('{sp.label}=')")
            continue
        s, e = sp.start, sp.end
        if not 0 <= s < e <= len(text):
            drop(f"out of range for a text of {len(text)} characters")
            continue
        if sp.text is not None and text[s:e] != sp.text:
            drop(f"text mismatch after offset conversion: text[{s}:{e}] is {text[s:e]!r} but the export says {sp.text!r}")
            continue
        inner = text[s:e]
        if not inner.strip():
            drop("span is only whitespace")
            continue
        ns = s + (len(inner) - len(inner.lstrip()))
        ne = e - (len(inner) - len(inner.rstrip()))
        if (ns, ne) != (s, e):
            report.trims.append(Problem(sp.file, sp.line, doc_id, f"{desc} {inner!r} trimmed to [{ns}, {ne}) {text[ns:ne]!r}"))
        if sp.modality is not None and sp.modality not in MODALITIES:
            drop(f"unknown modality {sp.modality!r} (expected one of {list(MODALITIES)})")
            continue
        kept.append((EventMention(ns, ne, etype, text[ns:ne], sp.modality), sp))
    kept.sort(key=lambda x: (x[0].start, -x[0].end))
    events: list[EventMention] = []
    for ev, sp in kept:
        if events and ev.start < events[-1].end:
            k = events[-1]
            same = (k.start, k.end, k.type) == (ev.start, ev.end, ev.type)
            why = "duplicate of" if same else "overlaps"
            report.drops.append(Problem(sp.file, sp.line, doc_id, f"{sp.where}: {ev.type} [{ev.start}, {ev.end}) {ev.trigger!r}: {why} the kept span {k.type} [{k.start}, {k.end}) {k.trigger!r} (spans never overlap)"))
            continue
        events.append(ev)
    raw = {"id": doc_id, "text": text, "events": [ev.to_dict() for ev in events], "meta": meta or {}}
    doc, errors = validate_document(raw)
    if doc is None:
        report.drops += [Problem(file, line, doc_id if isinstance(doc_id, str) else None, f"record not imported: {e}") for e in errors]
        return None
    report.documents += 1
    report.spans += len(doc.events)
    return Document(doc.id, doc.text, doc.events, doc.meta, source)


def check_ids(report: ImportReport, docs: list[Document]) -> None:
    """Add an error to ``report`` for every document id seen before in ``docs``."""
    first: dict[str, str] = {}
    for d in docs:
        if d.id in first:
            report.errors.append(Problem(d.source, None, d.id, f"duplicate document id (first in {first[d.id]})"))
        else:
            first[d.id] = d.source


# -- UTF-16 offsets (JavaScript string indices, as Label Studio counts) ------------------------

def utf16_offsets(text: str) -> list[int]:
    """UTF-16 code-unit offset of every code-point position of ``text``.

    Returns:
        A list of ``len(text) + 1`` ints: entry ``i`` is the UTF-16 index of code point ``i``
        (characters above U+FFFF, such as most emoji, take two units).
    """
    out = [0] * (len(text) + 1)
    u = 0
    for i, ch in enumerate(text):
        out[i] = u
        u += 2 if ord(ch) > 0xFFFF else 1
    out[len(text)] = u
    return out


def utf16_to_codepoints(text: str) -> dict[int, int]:
    """Map every UTF-16 offset that falls on a code-point boundary of ``text`` to its code-point index.

    Offsets that fall inside a surrogate pair (or past the end) are absent from the map.
    """
    return {u: i for i, u in enumerate(utf16_offsets(text))}
