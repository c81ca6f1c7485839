"""doccano sequence-labelling JSONL <-> our records.

Source format: https://doccano.github.io/doccano/tutorial/ (dataset import/export,
"Sequence Labeling", JSONL). One JSON object per line::

    {"id": 12, "text": "Seoul warned Moscow.", "label": [[6, 12, "Warn"]]}
    {"text": "...", "entities": [{"start_offset": 6, "end_offset": 12, "label": "Warn"}]}

Spans are ``label`` or ``entities``, each ``[start, end, label]`` or an object with
``start_offset``/``end_offset``/``label``; offsets are code points (Python ``str``
indices), ``end`` exclusive. The document id is ``id`` when it is a string, else
``"<file stem>-<id>"`` (doccano numbers examples per project), else
``"<file stem>-<line>"``; a ``meta`` object is kept. Other keys are ignored.
doccano has no span attributes, so the writer cannot keep ``modality`` (logged).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Iterable

from ..records import Document, Problem, _lines
from .common import ImportReport, LabelMap, RawSpan, build_document

log = logging.getLogger(__name__)


def _span(item: Any) -> tuple[Any, Any, Any]:
    if isinstance(item, (list, tuple)) and len(item) == 3:
        return item[0], item[1], item[2]
    if isinstance(item, dict):
        return item.get("start_offset"), item.get("end_offset"), item.get("label")
    return None, None, None


def read_doccano(path: Path, labels: LabelMap, report: ImportReport) -> list[Document]:
    """Read one doccano JSONL export (format above).

    Returns:
        The imported documents in line order (``source = "path:line"``). Invalid JSON, a
        record without string ``text`` or with both ``label`` and ``entities`` go to
        ``report.errors``; malformed or unusable spans are drops.
    """
    file = str(path)
    docs = []
    for n, line, decode_error in _lines(path):
        if decode_error:
            report.errors.append(Problem(file, n, None, decode_error))
            continue
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            report.errors.append(Problem(file, n, None, f"invalid JSON ({exc.msg} at column {exc.colno})"))
            continue
        if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
            report.errors.append(Problem(file, n, None, "record needs a string 'text'"))
            continue
        if "label" in rec and "entities" in rec:
            report.errors.append(Problem(file, n, None, "record has both 'label' and 'entities'"))
            continue
        rid = rec.get("id")
        doc_id = rid if isinstance(rid, str) else f"{path.stem}-{rid if rid is not None else n}"
        items = rec.get("label", rec.get("entities", []))
        if not isinstance(items, list):
            report.errors.append(Problem(file, n, doc_id, f"'label'/'entities' must be a list, got {type(items).__name__}"))
            continue
        spans = []
        for k, item in enumerate(items):
            s, e, lab = _span(item)
            sp = RawSpan(s if isinstance(s, int) else -1, e if isinstance(e, int) else -1, str(lab), file, n, f"span {k}")
            if not (isinstance(s, int) and isinstance(e, int) and isinstance(lab, str)):
                sp.error = f"not a [start, end, label] span: {item!r}"
            spans.append(sp)
        meta = rec.get("meta") if isinstance(rec.get("meta"), dict) else {}
        doc = build_document(report, doc_id, rec["text"], spans, labels, meta, f"{file}:{n}", file, n)
        if doc is not None:
            docs.append(doc)
    return docs


def doccano_record(doc: Document) -> dict[str, Any]:
    """One doccano JSONL object: ``id``, ``text``, ``label`` (``[start, end, TYPE]``) and ``meta`` when set."""
    rec: dict[str, Any] = {"id": doc.id, "text": doc.text, "label": [[e.start, e.end, e.type] for e in doc.events]}
    if doc.meta:
        rec["meta"] = doc.meta
    return rec


def write_doccano(docs: Iterable[Document], path: str | Path | None = None) -> str:
    """Our records as doccano JSONL; ``modality`` cannot be kept (the count is logged).

    Returns:
        The JSONL text; also written to ``path`` when given.
    """
    docs = list(docs)
    lost = sum(e.modality is not None for d in docs for e in d.events)
    if lost:
        log.warning("doccano has no span attributes: %d modality value(s) not written", lost)
    text = "".join(json.dumps(doccano_record(d), ensure_ascii=False) + "\n" for d in docs)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")
    return text
