"""Label Studio JSON export (``Export -> JSON``) <-> our records.

Source format: https://labelstud.io/guide/export.html#Label-Studio-JSON-format-of-annotated-tasks
and https://labelstud.io/guide/predictions. A file is a JSON array of tasks::

    {"id": 17, "data": {"text": "..."},
     "annotations": [{"id": 3, "was_cancelled": false, "result": [
        {"id": "r1", "from_name": "label", "to_name": "text", "type": "labels",
         "value": {"start": 4, "end": 10, "text": "warned", "labels": ["Warn"]}},
        {"id": "r1", "from_name": "modality", "to_name": "text", "type": "choices",
         "value": {"start": 4, "end": 10, "text": "warned", "choices": ["asserted"]}}]}]}

Label Studio counts ``start``/``end`` in JavaScript string units (UTF-16 code units),
so every character above U+FFFF (emoji, some CJK) counts twice there and once in
Python; offsets are converted, and an offset inside a surrogate pair is a drop.

Reading rules:

- the text is ``data.text`` (or the only string field of ``data``); the document id
  is ``data.id`` when present (``str``), else ``"<file stem>-<task id>"``; ``data.meta``
  (an object) becomes ``meta``;
- the first annotation that is not cancelled is imported; regions of any further
  annotation are drops (one annotation per task, no guessing which is right); a task
  with no completed annotation is skipped and noted (an unannotated task is not a negative);
- ``labels`` regions with exactly one label become spans; a per-region ``choices``
  result with the same region ``id`` whose choice is a modality sets ``modality``;
  other result types are noted and ignored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from ..labels import MODALITIES
from ..records import Document, EventMention, Problem
from .common import ImportReport, LabelMap, RawSpan, build_document, utf16_offsets, utf16_to_codepoints


def _task_text(data: dict) -> str | None:
    if isinstance(data.get("text"), str):
        return data["text"]
    strings = [v for k, v in data.items() if isinstance(v, str) and k != "id"]
    return strings[0] if len(strings) == 1 else None


def read_label_studio(path: Path, labels: LabelMap, report: ImportReport) -> list[Document]:
    """Read one Label Studio JSON export (format above).

    Returns:
        The imported documents in task order (``source = "path:task N"``, N 1-based).
        Drops, trims and notes go to ``report``; JSON or task-structure errors to ``report.errors``.
    """
    file = str(path)
    try:
        tasks = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        report.errors.append(Problem(file, getattr(exc, "lineno", None), None, f"not a Label Studio JSON export: {exc}"))
        return []
    if isinstance(tasks, dict) and "data" in tasks:
        tasks = [tasks]
    if not isinstance(tasks, list):
        report.errors.append(Problem(file, None, None, "expected a JSON array of tasks"))
        return []
    docs = []
    for n, task in enumerate(tasks, start=1):
        where = f"task {n}" + (f" (id {task.get('id')})" if isinstance(task, dict) and "id" in task else "")
        data = task.get("data") if isinstance(task, dict) else None
        text = _task_text(data) if isinstance(data, dict) else None
        if text is None:
            report.errors.append(Problem(file, None, None, f"{where}: needs data.text (a string)"))
            continue
        doc_id = data.get("id")
        doc_id = doc_id if isinstance(doc_id, str) else f"{path.stem}-{task.get('id', n)}"
        annotations = task.get("annotations") or task.get("completions") or []  # "completions": Label Studio < 1.0
        done = [a for a in annotations if isinstance(a, dict) and not a.get("was_cancelled")]
        if not done:
            report.notes.append(Problem(file, None, doc_id, f"{where}: no completed annotation; task skipped (not imported as a negative)"))
            continue
        spans = _regions(done[0], text, file, where)
        for extra in done[1:]:
            for sp in _regions(extra, text, file, where):
                sp.error = f"annotation {extra.get('id')} not imported: the task has {len(done)} annotations and only the first ({done[0].get('id')}) is used"
                spans.append(sp)
        for item in done[0].get("result") or []:
            if isinstance(item, dict) and item.get("type") not in ("labels", "choices"):
                report.notes.append(Problem(file, None, doc_id, f"{where}: result {item.get('id')} of type {item.get('type')!r} ignored"))
        meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
        doc = build_document(report, doc_id, text, spans, labels, meta, f"{file}:task {n}", file)
        if doc is not None:
            docs.append(doc)
    return docs


def _regions(annotation: dict, text: str, file: str, where: str) -> list[RawSpan]:
    """``labels`` regions of one annotation as code-point spans (conversion problems set ``error``)."""
    results = [r for r in annotation.get("result") or [] if isinstance(r, dict)]
    modality = {}
    for r in results:
        v = r.get("value") or {}
        choices = v.get("choices") if isinstance(v, dict) else None
        if r.get("type") == "choices" and isinstance(choices, list) and len(choices) == 1 and choices[0] in MODALITIES:
            modality[r.get("id")] = choices[0]
    u2c = utf16_to_codepoints(text)
    n_units = len(text.encode("utf-16-le")) // 2
    out = []
    for r in results:
        if r.get("type") != "labels":
            continue
        v = r.get("value") if isinstance(r.get("value"), dict) else {}
        labs = v.get("labels")
        us, ue = v.get("start"), v.get("end")
        label = labs[0] if isinstance(labs, list) and len(labs) == 1 and isinstance(labs[0], str) else repr(labs)
        sp = RawSpan(-1, -1, label, file, None, f"{where}, region {r.get('id')} (UTF-16 [{us}, {ue}))", v.get("text") if isinstance(v.get("text"), str) else None, modality.get(r.get("id")))
        if not (isinstance(labs, list) and len(labs) == 1):
            sp.error = f"region must carry exactly one label, has {labs!r}"
        elif not (isinstance(us, int) and isinstance(ue, int)):
            sp.error = f"start/end must be integers, got {us!r}/{ue!r}"
        elif not 0 <= us < ue <= n_units:
            sp.error = f"UTF-16 span [{us}, {ue}) is out of range for a text of {n_units} UTF-16 units"
        elif us not in u2c or ue not in u2c:
            sp.error = f"UTF-16 offset {us if us not in u2c else ue} falls inside a surrogate pair (half an emoji)"
        else:
            sp.start, sp.end = u2c[us], u2c[ue]
        out.append(sp)
    return out


def label_studio_results(text: str, events: Iterable[EventMention], from_name: str = "label", to_name: str = "text",
                         modality_from_name: str = "modality") -> list[dict[str, Any]]:
    """Label Studio ``result`` items for ``events`` of ``text``, offsets in UTF-16 units.

    Each event gives a ``labels`` region (with ``score`` when the event has one) and, when it
    has a modality, a per-region ``choices`` item with the same ``id``.
    """
    u16 = utf16_offsets(text)
    out = []
    for k, ev in enumerate(events):
        value = {"start": u16[ev.start], "end": u16[ev.end], "text": ev.trigger}
        region = {"id": f"e{k}", "from_name": from_name, "to_name": to_name, "type": "labels", "value": {**value, "labels": [ev.type]}}
        if ev.score is not None:
            region["score"] = round(float(ev.score), 6)
        out.append(region)
        if ev.modality is not None:
            out.append({"id": f"e{k}", "from_name": modality_from_name, "to_name": to_name, "type": "choices", "value": {**value, "choices": [ev.modality]}})
    return out


def task_data(doc: Document) -> dict[str, Any]:
    """The ``data`` object of a task: ``text``, ``id`` and (when set) ``meta``."""
    data: dict[str, Any] = {"text": doc.text, "id": doc.id}
    if doc.meta:
        data["meta"] = doc.meta
    return data


def write_label_studio(docs: Iterable[Document], path: str | Path | None = None) -> list[dict[str, Any]]:
    """Our records as a Label Studio JSON export (one completed annotation per task).

    Returns:
        The list of tasks; also written to ``path`` (UTF-8 JSON) when given.
        :func:`read_label_studio` reads it back to the identical records.
    """
    tasks = [{"id": n, "data": task_data(d), "annotations": [{"id": n, "was_cancelled": False, "result": label_studio_results(d.text, d.events)}]}
             for n, d in enumerate(docs, start=1)]
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(tasks, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return tasks
