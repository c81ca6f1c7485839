"""The record format of ``shared/spec/event_schema.md`` and its validating loader.

A record is one JSON object per line::

    {"id": "doc-0001", "text": "...", "events": [{"start": 6, "end": 12,
     "type": "WARNING", "trigger": "warned", "modality": "asserted"}], "meta": {...}}

Offsets are 0-based Python ``str`` indices (Unicode code points), ``end``
exclusive, and ``text[start:end] == trigger``. The loader checks every rule
and never repairs or drops a span: a bad record raises :class:`DataError`
naming the file, the line and the document id. Importers for other formats
(:mod:`train.importers`, later) produce :class:`Document` objects and run the
same :func:`validate_document` check.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from .labels import EVENT_TYPES, MODALITIES

_EVENT_KEYS = {"start", "end", "type", "trigger", "modality", "score"}
_RECORD_KEYS = {"id", "text", "events", "meta"}


@dataclass(frozen=True)
class EventMention:
    """One annotated (or predicted) event mention: a character span with a type.

    Attributes:
        start: first character, 0-based code-point index into the document text.
        end: one past the last character (exclusive).
        type: one of :data:`train.labels.EVENT_TYPES`.
        trigger: ``text[start:end]``.
        modality: one of :data:`train.labels.MODALITIES`, or ``None`` when not annotated.
        score: model confidence in [0, 1] for predictions, ``None`` for gold.
    """

    start: int
    end: int
    type: str
    trigger: str
    modality: str | None = None
    score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the schema's JSON form (optional fields only when set)."""
        d: dict[str, Any] = {"start": self.start, "end": self.end, "type": self.type, "trigger": self.trigger}
        if self.modality is not None:
            d["modality"] = self.modality
        if self.score is not None:
            d["score"] = round(float(self.score), 6)
        return d


@dataclass(frozen=True)
class Document:
    """One annotated document (or sentence) of the schema.

    Attributes:
        id: unique document id.
        text: the raw text, exactly as stored (no normalisation).
        events: event mentions sorted by ``start``; empty for a negative document.
        meta: free-form provenance.
        source: ``"path:line"`` the record was read from (for error messages), or ``""``.
    """

    id: str
    text: str
    events: tuple[EventMention, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the schema's JSON form of the record."""
        d: dict[str, Any] = {"id": self.id, "text": self.text, "events": [e.to_dict() for e in self.events]}
        if self.meta:
            d["meta"] = self.meta
        return d


@dataclass(frozen=True)
class Problem:
    """One validation failure, located as precisely as possible."""

    path: str
    line: int | None
    doc_id: str | None
    message: str

    def __str__(self) -> str:
        where = self.path + (f":{self.line}" if self.line is not None else "")
        who = f" [id={self.doc_id}]" if self.doc_id is not None else ""
        return f"{where}{who}: {self.message}"


class DataError(ValueError):
    """Raised when input data breaks the schema. ``problems`` lists every failure found."""

    def __init__(self, problems: list[Problem], limit: int = 25):
        self.problems = problems
        shown = "\n".join(f"  {p}" for p in problems[:limit])
        more = f"\n  ... and {len(problems) - limit} more" if len(problems) > limit else ""
        super().__init__(f"{len(problems)} data problem(s):\n{shown}{more}")


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def parse_event(raw: Any, text: str) -> tuple[EventMention | None, list[str]]:
    """Check one raw event object against ``text``.

    Returns:
        ``(mention, [])`` when valid, else ``(None, [messages])``.
    """
    if not isinstance(raw, dict):
        return None, [f"event must be an object, got {type(raw).__name__}"]
    errors: list[str] = []
    unknown = set(raw) - _EVENT_KEYS
    if unknown:
        errors.append(f"unknown event key(s) {sorted(unknown)}")
    missing = [k for k in ("start", "end", "type", "trigger") if k not in raw]
    if missing:
        return None, errors + [f"event is missing {missing}"]
    start, end, etype, trigger = raw["start"], raw["end"], raw["type"], raw["trigger"]
    if not (_is_int(start) and _is_int(end)):
        return None, errors + [f"start/end must be integers, got {start!r}/{end!r}"]
    if not 0 <= start < end <= len(text):
        errors.append(f"span [{start}, {end}) is out of range for a text of {len(text)} characters")
    elif text[start:end] != trigger:
        errors.append(f"text[{start}:{end}] is {text[start:end]!r} but trigger is {trigger!r}")
    elif trigger != trigger.strip():
        errors.append(f"span [{start}, {end}) {trigger!r} has whitespace at its edge (spans are minimal)")
    if etype not in EVENT_TYPES:
        errors.append(f"unknown type {etype!r} (expected one of {list(EVENT_TYPES)})")
    modality = raw.get("modality")
    if modality is not None and modality not in MODALITIES:
        errors.append(f"unknown modality {modality!r} (expected one of {list(MODALITIES)})")
    score = raw.get("score")
    if score is not None and not (isinstance(score, (int, float)) and not isinstance(score, bool) and 0.0 <= score <= 1.0):
        errors.append(f"score must be a number in [0, 1], got {score!r}")
    if errors:
        return None, errors
    return EventMention(start, end, etype, trigger, modality, None if score is None else float(score)), []


def validate_document(raw: Any) -> tuple[Document | None, list[str]]:
    """Check one decoded record against the schema.

    Returns:
        ``(document, [])`` when valid (events sorted by start), else ``(None, [messages])``.
        Nothing is repaired: a bad span makes the whole record invalid.
    """
    if not isinstance(raw, dict):
        return None, [f"record must be a JSON object, got {type(raw).__name__}"]
    errors: list[str] = []
    unknown = set(raw) - _RECORD_KEYS
    if unknown:
        errors.append(f"unknown record key(s) {sorted(unknown)}")
    doc_id, text = raw.get("id"), raw.get("text")
    if not isinstance(doc_id, str) or not doc_id.strip():
        errors.append(f"'id' must be a non-empty string, got {doc_id!r}")
    if not isinstance(text, str):
        return None, errors + [f"'text' must be a string, got {type(text).__name__}"]
    if not text.strip():
        errors.append("'text' is empty or only whitespace")
    events_raw = raw.get("events")
    if not isinstance(events_raw, list):
        return None, errors + ["'events' must be a list ([] marks an annotated negative)"]
    meta = raw.get("meta", {})
    if not isinstance(meta, dict):
        errors.append(f"'meta' must be an object, got {type(meta).__name__}")
    events: list[EventMention] = []
    for k, ev in enumerate(events_raw):
        mention, errs = parse_event(ev, text)
        errors += [f"event {k}: {e}" for e in errs]
        if mention is not None:
            events.append(mention)
    events.sort(key=lambda e: (e.start, e.end))
    for a, b in zip(events, events[1:]):
        if b.start < a.end:
            errors.append(f"spans overlap: [{a.start}, {a.end}) {a.trigger!r} {a.type} and [{b.start}, {b.end}) {b.trigger!r} {b.type}")
    if errors:
        return None, errors
    return Document(doc_id, text, tuple(events), meta), []


def _lines(path: Path) -> Iterator[tuple[int, str | None, str | None]]:
    """Yield ``(line_number, line, decode_error)``; tolerates a UTF-8 BOM and CRLF."""
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, start=1):
            if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                yield n, raw.decode("utf-8"), None
            except UnicodeDecodeError as exc:
                yield n, None, f"not valid UTF-8 ({exc.reason} at byte {exc.start})"


def read_jsonl(path: str | Path) -> list[Document]:
    """Load and validate a schema JSONL file.

    Args:
        path: file of JSON Lines records; blank lines are skipped.

    Returns:
        The documents in file order, each with ``source="path:line"``.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        DataError: listing every problem (file, line, id): undecodable bytes,
            invalid JSON, schema violations, duplicate ids, or an empty file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    problems: list[Problem] = []
    docs: list[Document] = []
    seen: dict[str, int] = {}
    for n, line, decode_error in _lines(path):
        if decode_error:
            problems.append(Problem(str(path), n, None, decode_error))
            continue
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Problem(str(path), n, None, f"invalid JSON ({exc.msg} at column {exc.colno}); truncated line?"))
            continue
        doc_id = raw.get("id") if isinstance(raw, dict) else None
        doc, errors = validate_document(raw)
        problems += [Problem(str(path), n, doc_id if isinstance(doc_id, str) else None, e) for e in errors]
        if doc is None:
            continue
        if doc.id in seen:
            problems.append(Problem(str(path), n, doc.id, f"duplicate id (first seen on line {seen[doc.id]})"))
            continue
        seen[doc.id] = n
        docs.append(Document(doc.id, doc.text, doc.events, doc.meta, f"{path}:{n}"))
    if not docs and not problems:
        problems.append(Problem(str(path), None, None, "file holds no records"))
    if problems:
        raise DataError(problems)
    return docs


def check_unique_ids(groups: Iterable[list[Document]]) -> None:
    """Raise :class:`DataError` if a document id occurs in more than one of ``groups`` (e.g. files or splits)."""
    first: dict[str, str] = {}
    problems = []
    for docs in groups:
        for d in docs:
            if d.id in first:
                problems.append(Problem(d.source or "?", None, d.id, f"duplicate id (also in {first[d.id]})"))
            else:
                first[d.id] = d.source
    if problems:
        raise DataError(problems)


def write_jsonl(docs: Iterable[Document], path: str | Path | None = None) -> str:
    """Serialise documents as JSON Lines (UTF-8, non-ASCII kept as is).

    Returns:
        The JSONL text; also written to ``path`` when given.
    """
    text = "".join(json.dumps(d.to_dict(), ensure_ascii=False) + "\n" for d in docs)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")
    return text
