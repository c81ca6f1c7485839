"""Pre-annotation tasks: model predictions -> Label Studio import tasks or doccano JSONL.

Documents are ordered by **model uncertainty**, most uncertain first, so that
annotators correct the documents the model knows least about. Uncertainty is the
*least-confidence* score of the document's least sure word:

    uncertainty(doc) = 1 - min over words w of  max over labels y of  p(y | w)

where ``p(. | w)`` is the label distribution the decoder reads for word ``w`` (its
first sub-token, from the window where it is most central; :mod:`train.decoding`).
It lies in ``[0, 1 - 1/9]`` for our 9 IOB2 labels; a document without words has
uncertainty 0. Ties keep input order. Taking the minimum (not the mean) points
at documents with at least one word worth checking, whatever their length.

Label Studio tasks (https://labelstud.io/guide/predictions) carry the predictions as
``predictions[0].result`` with ``labels`` regions whose ``start``/``end`` are UTF-16
code units (JavaScript string indices), a ``score`` per region, and a prediction
``score`` of ``1 - uncertainty``; ``data`` holds ``text``, ``id``, ``meta`` and
``uncertainty``. doccano JSONL holds ``id``, ``text``, ``label`` ``[start, end, TYPE]``
(code points) and ``uncertainty`` (doccano keeps unknown keys as metadata).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator, Sequence

from ..predict import Predictor, read_texts
from ..records import DataError, Document, EventMention, Problem
from .doccano import doccano_record
from .label_studio import label_studio_results, task_data

#: Output formats of :func:`export_tasks`.
TASK_FORMATS = ("label-studio", "doccano")


def predict_with_uncertainty(predictor: Predictor, texts: Sequence[str]) -> Iterator[tuple[list[EventMention], float]]:
    """Yield ``(spans, uncertainty)`` per text, in order: the spans of :meth:`Predictor.predict`
    and the least-confidence uncertainty of the module docstring (1 - the least confident word's
    top-label probability), with the Predictor's own windowing of long texts."""
    for spans, confidence in predictor.predict_with_confidence(texts):
        yield spans, 1.0 - confidence


def rank_by_uncertainty(docs: Sequence[Document], results: Sequence[tuple[list[EventMention], float]]) -> list[tuple[Document, float]]:
    """Pair each document with its predicted spans (as ``events``) and sort most uncertain first (stable).

    Returns:
        ``[(document with predicted events, uncertainty), ...]``.
    """
    paired = [(Document(d.id, d.text, tuple(spans), d.meta, d.source), float(u)) for d, (spans, u) in zip(docs, results)]
    return sorted(paired, key=lambda x: -x[1])


def read_task_inputs(path: str | Path) -> list[Document]:
    """Texts to pre-annotate: a directory of ``.txt`` files (id = file stem, sorted), a ``.txt``
    file (one document) or a ``.jsonl`` of records with ``text`` (:func:`train.predict.read_texts`).

    Raises:
        FileNotFoundError: missing path. DataError: an empty directory, or as ``read_texts``.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.txt"))
        if not files:
            raise DataError([Problem(str(path), None, None, "directory holds no .txt files")])
        return [d for f in files for d in read_texts(f)]
    return read_texts(path)


def label_studio_tasks(ranked: Sequence[tuple[Document, float]], model_version: str, from_name: str = "label", to_name: str = "text") -> list[dict[str, Any]]:
    """Label Studio import tasks with predictions (offsets in UTF-16 units; module docstring)."""
    tasks = []
    for doc, u in ranked:
        data = {**task_data(doc), "uncertainty": round(u, 6)}
        pred = {"model_version": model_version, "score": round(1.0 - u, 6), "result": label_studio_results(doc.text, doc.events, from_name, to_name)}
        tasks.append({"data": data, "predictions": [pred]})
    return tasks


def doccano_tasks(ranked: Sequence[tuple[Document, float]]) -> list[dict[str, Any]]:
    """doccano JSONL objects with predicted spans as ``label`` and an ``uncertainty`` key."""
    return [{**doccano_record(doc), "uncertainty": round(u, 6)} for doc, u in ranked]


def export_tasks(model_dir: str | Path, input_path: str | Path, output: str | Path, fmt: str = "label-studio",
                 device: str = "cpu", batch_size: int = 32, from_name: str = "label", to_name: str = "text") -> list[dict[str, Any]]:
    """The ``export-tasks`` job: predict, rank by uncertainty, write pre-annotation tasks.

    Args:
        model_dir: exported model directory.
        input_path: a directory of ``.txt``, a ``.txt`` or a ``.jsonl`` of records with ``text``.
        output: Label Studio: a JSON array of tasks; doccano: JSONL.
        fmt: one of :data:`TASK_FORMATS`.
        from_name / to_name: names of the ``Labels`` and ``Text`` tags of the Label Studio labeling config.

    Returns:
        The tasks written, most uncertain first.

    Raises:
        ValueError: unknown ``fmt``. FileNotFoundError / DataError: bad input. ModelError: not our label set.
    """
    if fmt not in TASK_FORMATS:
        raise ValueError(f"unknown task format {fmt!r} (expected one of {TASK_FORMATS})")
    docs = read_task_inputs(input_path)
    predictor = Predictor(model_dir, device=device, batch_size=batch_size)
    ranked = rank_by_uncertainty(docs, list(predict_with_uncertainty(predictor, [d.text for d in docs])))
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "label-studio":
        tasks = label_studio_tasks(ranked, Path(model_dir).resolve().name, from_name, to_name)
        out.write_text(json.dumps(tasks, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    else:
        tasks = doccano_tasks(ranked)
        out.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in tasks), encoding="utf-8")
    return tasks
