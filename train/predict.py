"""Inference: raw texts -> event mentions, with the same windows and decoding as training."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from .alignment import tokenize_windows, window_word_ids
from .decoding import SpanDecoder, softmax
from .labels import ID2LABEL
from .modeling import check_label_maps, load_tokenizer
from .records import Document, EventMention, Problem, DataError, write_jsonl

#: File in an exported model directory holding the window settings used in training.
INFERENCE_FILE = "inference.json"
#: Runtimes of :class:`Predictor`: PyTorch eager, or the bundle's ``model.onnx`` / ``model.int8.onnx`` (onnxruntime, CPU).
BACKENDS = ("torch", "onnx", "onnx-int8")


def read_inference_settings(model_dir: str | Path) -> dict[str, Any]:
    """Window settings saved with a model (``max_length``, ``stride``); defaults if absent."""
    path = Path(model_dir) / INFERENCE_FILE
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    return {"max_length": 512, "stride": 128}


class Predictor:
    """Runs a token-classification model over whole documents.

    Args:
        model_dir: a ``save_pretrained`` directory (or hub id) with a fast tokenizer.
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
        batch_size: windows per forward pass.
        max_length / stride: window settings; default to the model's ``inference.json``.
        backend: one of :data:`BACKENDS`; the ONNX ones run ``model.onnx`` / ``model.int8.onnx``
            of ``model_dir`` on the CPU with onnxruntime (``device`` is then ignored).
        onnx_threads: onnxruntime intra-op threads (0 = its default, one per physical core).

    Raises:
        ModelError: the model's label maps are not this project's, or its tokenizer is not fast.
        ValueError: unknown backend.  FileNotFoundError: the backend's ONNX file is missing.
    """

    def __init__(self, model_dir: str | Path, device: str = "cpu", batch_size: int = 32, max_length: int | None = None, stride: int | None = None, backend: str = "torch", onnx_threads: int = 0):
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r} (one of {BACKENDS})")
        settings = read_inference_settings(model_dir)
        self.max_length = max_length or settings["max_length"]
        self.stride = stride if stride is not None else settings["stride"]
        self.batch_size = batch_size
        self.backend = backend
        self.tokenizer = load_tokenizer(str(model_dir))
        if backend != "torch":
            from transformers import AutoConfig

            from .onnx_export import BACKEND_FILES, OnnxLogits

            self.model, self.session = None, OnnxLogits(Path(model_dir) / BACKEND_FILES[backend], onnx_threads)
            config = AutoConfig.from_pretrained(str(model_dir))
            check_label_maps(config, str(model_dir))
            self.id2label = {int(k): v for k, v in config.id2label.items()}
            return
        import torch
        from transformers import AutoModelForTokenClassification

        self.session = None
        self.model = AutoModelForTokenClassification.from_pretrained(str(model_dir))
        check_label_maps(self.model.config, str(model_dir))
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.model.to(self.device).eval()
        self.id2label = {int(k): v for k, v in self.model.config.id2label.items()}

    def _forward(self, batch: list[dict[str, list[int]]]) -> np.ndarray:
        if self.session is not None:
            return self.session(self.tokenizer.pad(batch, return_tensors="np"))
        import torch

        padded = self.tokenizer.pad(batch, return_tensors="pt")
        with torch.inference_mode():
            logits = self.model(**{k: v.to(self.device) for k, v in padded.items()}).logits
        return logits.float().cpu().numpy()

    def predict(self, texts: Sequence[str], docs_per_chunk: int = 64) -> Iterator[list[EventMention]]:
        """Yield the predicted spans of each text, in order (sorted by start, with ``score``).

        Texts are tokenised ``docs_per_chunk`` at a time and windows run ``batch_size`` at a
        time; a document's spans are yielded once all its windows are decoded.
        """
        names = self.tokenizer.model_input_names
        for c in range(0, len(texts), docs_per_chunk):
            chunk = list(texts[c:c + docs_per_chunk])
            dec = SpanDecoder(self.id2label)
            enc = tokenize_windows(self.tokenizer, chunk, self.max_length, self.stride)
            n = len(enc["input_ids"])
            for b in range(0, n, self.batch_size):
                idx = range(b, min(b + self.batch_size, n))
                logits = self._forward([{k: enc[k][i] for k in names if k in enc} for i in idx])
                for row, i in enumerate(idx):
                    offs = enc["offset_mapping"][i]
                    dec.add(enc["overflow_to_sample_mapping"][i], offs, window_word_ids(enc, i), softmax(logits[row, : len(offs)].astype(np.float64)))
            for d, text in enumerate(chunk):
                yield dec.pop(d, text)

    def predict_documents(self, docs: Sequence[Document]) -> list[Document]:
        """Return copies of ``docs`` whose ``events`` are the model's predictions."""
        return [Document(d.id, d.text, tuple(spans), d.meta, d.source) for d, spans in zip(docs, self.predict([d.text for d in docs]))]


def read_texts(path: str | Path) -> list[Document]:
    """Read prediction input: a ``.txt`` file (one document, id = file stem) or a ``.jsonl`` of records with ``text``.

    JSONL records need a string ``text``; ``id`` defaults to ``line-<n>``; ``events`` are ignored.

    Raises:
        FileNotFoundError: missing file.
        DataError: undecodable file, invalid JSON line or a record without ``text`` (file and line named).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"input file not found: {path}")
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError([Problem(str(path), None, None, f"not valid UTF-8 ({exc.reason} at byte {exc.start})")]) from None
    if path.suffix.lower() != ".jsonl":
        return [Document(path.stem, raw, (), {}, str(path))]
    docs, problems = [], []
    for n, line in enumerate(raw.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Problem(str(path), n, None, f"invalid JSON ({exc.msg} at column {exc.colno})"))
            continue
        if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
            problems.append(Problem(str(path), n, rec.get("id") if isinstance(rec, dict) else None, "record needs a string 'text'"))
            continue
        docs.append(Document(str(rec.get("id", f"line-{n}")), rec["text"], (), rec.get("meta") or {}, f"{path}:{n}"))
    if problems:
        raise DataError(problems)
    return docs


def predict_file(model_dir: str | Path, input_path: str | Path, output: str | Path | None = None, device: str = "cpu", batch_size: int = 32, backend: str = "torch") -> list[Document]:
    """The ``predict`` job: tag every document of ``input_path`` and write schema JSONL.

    Args:
        model_dir: exported model directory.
        input_path: ``.txt`` (one document) or ``.jsonl`` (records with ``text``).
        output: JSONL path, or ``None`` for stdout.
        backend: ``"torch"``, ``"onnx"`` or ``"onnx-int8"`` (see :class:`Predictor`).

    Returns:
        The predicted documents (``events`` with ``start``, ``end``, ``type``, ``trigger``, ``score``).
    """
    docs = read_texts(input_path)
    out = Predictor(model_dir, device=device, batch_size=batch_size, backend=backend).predict_documents(docs)
    text = write_jsonl(out, output)
    if output is None:
        sys.stdout.write(text)
    return out
