"""Inference: raw texts -> event mentions, with the same windows and decoding as training."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
from safetensors import SafetensorError

from .alignment import tokenize_windows, window_word_ids
from .decoding import SpanDecoder, softmax
from .modeling import ModelError, check_label_maps, load_tokenizer, verify_model_dir
from .records import Document, EventMention, Problem, DataError, write_jsonl

#: File in an exported model directory holding the window settings used in training.
INFERENCE_FILE = "inference.json"
#: Documents longer than this many characters are tokenised in overlapping pieces of about
#: this size (see :meth:`Predictor.predict`), so memory stays bounded whatever their length.
PIECE_CHARS = 50_000
#: Runtimes of :class:`Predictor`: PyTorch eager, or the bundle's ``model.onnx`` / ``model.int8.onnx`` (onnxruntime, CPU).
BACKENDS = ("torch", "onnx", "onnx-int8")


def read_inference_settings(model_dir: str | Path) -> dict[str, Any]:
    """Window settings saved with a model (``max_length``, ``stride``); defaults if absent.

    Raises:
        ModelError: the file exists but is not a JSON object with integer ``max_length`` and ``stride``.
    """
    path = Path(model_dir) / INFERENCE_FILE
    if not path.is_file():
        return {"max_length": 512, "stride": 128}
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: unreadable ({exc}); re-export the model") from None
    if not isinstance(settings, dict) or not all(isinstance(settings.get(k), int) for k in ("max_length", "stride")):
        raise ModelError(f"{path}: needs integer 'max_length' and 'stride'; re-export the model")
    return settings


def _cut(text: str, pos: int, lo: int) -> int:
    """A cut point in ``(lo, pos]``: just after the last whitespace, else after the last non-alphanumeric character, else ``pos``."""
    for test in (str.isspace, lambda c: not c.isalnum()):
        for i in range(pos, lo, -1):
            if test(text[i - 1]):
                return i
    return pos


def text_pieces(text: str, piece_chars: int = PIECE_CHARS, overlap: int = 4096) -> list[tuple[int, int]]:
    """Cut a long text into overlapping ``(start, end)`` character ranges of at most ``piece_chars``.

    Cuts fall just after whitespace where there is any, so a word is never split; consecutive
    pieces share about ``overlap`` characters (clipped to a quarter of ``piece_chars``), so each
    word near a cut is also seen with context in the other piece. A text of at most
    ``piece_chars`` characters is one piece.
    """
    n = len(text)
    if n <= piece_chars:
        return [(0, n)]
    overlap = max(1, min(overlap, piece_chars // 4 - 1))
    out, start = [], 0
    while True:
        end = n if start + piece_chars >= n else _cut(text, start + piece_chars, start + piece_chars // 2)
        out.append((start, end))
        if end >= n:
            return out
        start = max(start + 1, _cut(text, end - overlap, max(start + 1, end - 2 * overlap)))


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
        ModelError: the model's label maps are not this project's, its tokenizer is not fast, a
            file is missing, a file does not match the sha256 in the bundle's ``manifest.json``
            (:func:`train.modeling.verify_model_dir`), or the files do not load.
        ValueError: unknown backend.  FileNotFoundError: the backend's ONNX file is missing.
    """

    def __init__(self, model_dir: str | Path, device: str = "cpu", batch_size: int = 32, max_length: int | None = None, stride: int | None = None, backend: str = "torch", onnx_threads: int = 0):
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r} (one of {BACKENDS})")
        verify_model_dir(model_dir, backend)
        settings = read_inference_settings(model_dir)
        self.max_length = max_length or settings["max_length"]
        self.stride = stride if stride is not None else settings["stride"]
        self.batch_size = batch_size
        self.backend = backend
        try:
            self._load(model_dir, device, backend, onnx_threads)
        except (OSError, ValueError, RuntimeError, KeyError, SafetensorError) as exc:
            if isinstance(exc, (ModelError, FileNotFoundError)):
                raise
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ModelError(f"{model_dir}: cannot load the model ({type(exc).__name__}: {first})") from exc

    def _load(self, model_dir: str | Path, device: str, backend: str, onnx_threads: int) -> None:
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

    def predict(self, texts: Sequence[str], docs_per_chunk: int = 64, piece_chars: int = PIECE_CHARS) -> Iterator[list[EventMention]]:
        """Yield the predicted spans of each text, in order (sorted by start, with ``score``).

        See :meth:`predict_with_confidence` for how texts are windowed.
        """
        for spans, _ in self._predict(texts, docs_per_chunk, piece_chars, confidence=False):
            yield spans

    def predict_with_confidence(self, texts: Sequence[str], docs_per_chunk: int = 64, piece_chars: int = PIECE_CHARS) -> Iterator[tuple[list[EventMention], float]]:
        """Yield ``(spans, confidence)`` per text, in order: the spans of :meth:`predict` and the
        least confident word's top-label probability (:meth:`SpanDecoder.min_confidence`).

        Texts are tokenised a group at a time (at most ``docs_per_chunk`` texts and about
        ``piece_chars`` characters) and windows run ``batch_size`` at a time; a document's spans
        are yielded once all its windows are decoded. A text longer than ``piece_chars`` is
        tokenised in overlapping pieces (:func:`text_pieces`) whose windows feed one decoder, so
        memory beyond the per-word label probabilities does not grow with the document's
        length. Shorter texts get exactly the windows of training.
        """
        yield from self._predict(texts, docs_per_chunk, piece_chars, confidence=True)

    def _predict(self, texts: Sequence[str], docs_per_chunk: int, piece_chars: int, confidence: bool) -> Iterator[tuple[list[EventMention], float | None]]:
        """The loop of :meth:`predict_with_confidence`; the per-word confidence pass runs only when ``confidence``."""
        names = self.tokenizer.model_input_names
        overlap = max(2048, 16 * self.max_length)
        dec = SpanDecoder(self.id2label)
        group: list[tuple[int, int, int, bool]] = []  # (doc, start, end, whole document)
        pending: dict[int, str] = {}
        size = 0

        def flush() -> Iterator[tuple[list[EventMention], float | None]]:
            nonlocal group, size
            if group:
                self._decode_group(dec, group, pending, names)
            done = [d for d, _, end, _ in group if end == len(pending[d])]
            group, size = [], 0
            for d in done:
                least = dec.min_confidence(d) if confidence else None
                yield dec.pop(d, pending.pop(d)), least

        for d, text in enumerate(texts):
            pending[d] = text
            for start, end in text_pieces(text, piece_chars, overlap):
                if group and (len(group) >= docs_per_chunk or size + end - start > piece_chars):
                    yield from flush()
                group.append((d, start, end, end - start == len(text)))
                size += end - start
        yield from flush()

    def _decode_group(self, dec: SpanDecoder, group: list[tuple[int, int, int, bool]], texts: dict[int, str], names: Sequence[str]) -> None:
        """Tokenise one group of documents / pieces, run its windows and feed them to ``dec``.

        Words of a whole document are keyed by their word index; words of a piece by their
        first character in the document, so the same word seen in two overlapping pieces is
        one word (its most central window wins). The first word of a piece that does not
        start the document, and its last word unless it ends it, are left to the neighbour.
        """
        enc = tokenize_windows(self.tokenizer, [texts[d][s:e] for d, s, e, _ in group], self.max_length, self.stride)
        sample = enc["overflow_to_sample_mapping"]
        n = len(enc["input_ids"])
        last_word: dict[int, int] = {}
        for i in range(n):
            if not group[sample[i]][3]:
                last_word[sample[i]] = max(window_word_ids(enc, i))
        first_char: dict[int, int] = {}
        for b in range(0, n, self.batch_size):
            idx = range(b, min(b + self.batch_size, n))
            logits = self._forward([{k: enc[k][i] for k in names if k in enc} for i in idx])
            for row, i in enumerate(idx):
                d, base, end, whole = group[sample[i]]
                offs = enc["offset_mapping"][i]
                words = window_word_ids(enc, i)
                probs = softmax(logits[row, : len(offs)].astype(np.float64))
                if whole:
                    dec.add(d, offs, words, probs)
                    continue
                if i == 0 or sample[i - 1] != sample[i]:
                    first_char = {}
                offs = [(s + base, e + base) for s, e in offs]
                keys = []
                for j, w in enumerate(words):
                    if w < 0 or (w == 0 and base > 0) or (w == last_word[sample[i]] and end < len(texts[d])):
                        keys.append(-1)
                        continue
                    keys.append(first_char.setdefault(w, offs[j][0]))
                dec.add(d, offs, keys, probs)

    def predict_documents(self, docs: Sequence[Document]) -> list[Document]:
        """Return copies of ``docs`` whose ``events`` are the model's predictions."""
        return [Document(d.id, d.text, tuple(spans), d.meta, d.source) for d, spans in zip(docs, self.predict([d.text for d in docs]))]


def read_texts(path: str | Path) -> list[Document]:
    """Read prediction input: a ``.txt`` file (one document, id = file stem) or a ``.jsonl`` of records with ``text``.

    JSONL records need a string ``text``; ``id`` defaults to ``line-<n>``; ``events`` are ignored.

    Raises:
        FileNotFoundError: missing file.
        DataError: undecodable file, invalid JSON line, a record without ``text`` (file and line named),
            or an empty file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"input file not found: {path}")
    try:
        raw = path.read_bytes().decode("utf-8-sig")  # no newline translation: offsets index the file's own text (CRLF kept)
    except UnicodeDecodeError as exc:
        raise DataError([Problem(str(path), None, None, f"not valid UTF-8 ({exc.reason} at byte {exc.start})")]) from None
    if path.suffix.lower() != ".jsonl":
        if not raw:
            raise DataError([Problem(str(path), None, None, "file is empty (a document of whitespace is tagged, an empty file is refused)")])
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
    if not docs and not problems:
        problems.append(Problem(str(path), None, None, "file holds no records"))
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
