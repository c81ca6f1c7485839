"""Reference decoder for the exported ONNX event tagger: text -> character spans.

A self-contained recipe for serving teams: copy this one file. It needs only
``numpy``, ``tokenizers`` and ``onnxruntime`` (plus the standard library) and
none of the training package, torch or transformers.

It reads from a model bundle directory (``make export``):

- ``tokenizer.json``: the tokenizer (normaliser, pre-tokeniser, WordPiece, special tokens);
- ``inference.json``: ``max_length`` and ``stride`` of the windows, ``labels`` in id order
  (falls back to ``id2label`` of ``config.json``);
- ``model.onnx`` or ``model.int8.onnx``: inputs ``input_ids``, ``attention_mask``
  (``token_type_ids``), int64 ``(batch, sequence)``; output ``logits``, float32
  ``(batch, sequence, num_labels)``.

The recipe, identical to the training package's ``Predictor`` + ``SpanDecoder``:

0. Text view: the tokenizer is given the text with zero-width spaces, word joiners,
   BOMs and control characters (other than tab, newline, CR) replaced by spaces (same
   length, so offsets still index the raw text), and token ends are moved past the
   combining marks that the uncased normaliser drops (``train.alignment``).
1. Windows: the document is tokenised whole and cut into windows of ``max_length``
   tokens (special tokens included), consecutive windows sharing ``stride`` tokens:
   ``tokenizer.enable_truncation(max_length, stride=stride)`` and the encoding's
   ``overflowing`` list (Hugging Face ``return_overflowing_tokens`` semantics).
2. Logits: windows are padded to the longest of their batch (attention mask 0 on
   padding) and run through the graph; padding rows are dropped.
3. Words: every word (``word_ids`` of the pre-tokeniser) takes the softmax (float64)
   of its *first* sub-token (the ``aggregation_strategy="first"`` rule of the
   transformers token-classification pipeline), from the window in which that
   sub-token is farthest from a window edge (most central), so overlapping windows
   never vote twice.
4. Spans: word labels (argmax) are read as IOB2; an ``I-X`` that does not continue an
   ``X`` span opens a new span (the pipeline's lenient reading). A span runs from its
   first word's first character to its last word's last character; its ``score`` is the
   mean probability of its words' labels.

Documents are tokenised whole. (The training package's ``Predictor`` tokenises a text
over 50,000 characters in overlapping character pieces to bound memory; for such texts
the two may differ near a piece join. Below that size the windows are identical.)

Usage::

    tagger = OnnxSpanTagger("artifacts/model")            # or model_file="model.int8.onnx"
    tagger.predict("Russia warned on Monday that ...")
    # [{"start": 7, "end": 13, "type": "WARNING", "trigger": "warned", "score": 0.98}]

    python onnx_decoder.py artifacts/model input.txt       # one JSON list of spans
    python onnx_decoder.py artifacts/model input.jsonl     # records with "text" -> JSON lines
"""

from __future__ import annotations

import json
import os
import re
import sys
import unicodedata

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

__all__ = ["OnnxSpanTagger", "decode_spans", "softmax"]


_SEPARATORS = re.compile("[\u200b\u2060\ufeff\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def tokenization_view(text: str) -> str:
    """``text`` with invisible word separators and control characters as spaces (same length)."""
    return _SEPARATORS.sub(" ", text)


def extend_over_marks(text: str, end: int) -> int:
    """Move a token end past the combining marks that follow it in ``text``."""
    while end < len(text) and unicodedata.combining(text[end]):
        end += 1
    return end


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis in float64; shape ``(..., num_labels)`` is kept."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z


def _read_json(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _split_tag(label: str) -> tuple[str, str | None]:
    """``"B-VISIT" -> ("B", "VISIT")``, ``"O" -> ("O", None)``; raises ValueError otherwise."""
    if label == "O":
        return "O", None
    prefix, sep, etype = label.partition("-")
    if not sep or prefix not in ("B", "I") or not etype:
        raise ValueError(f"not an IOB2 label: {label!r}")
    return prefix, etype


def decode_spans(text: str, windows: list[tuple[list[tuple[int, int]], list[int | None], np.ndarray]], labels: list[str]) -> list[dict]:
    """Turn the windows of one document into character spans (steps 3 and 4 of the recipe).

    Args:
        text: the document's raw text.
        windows: per window ``(offsets, word_ids, probs)``: ``offsets`` the ``(start, end)``
            character offsets of its ``T`` tokens, ``word_ids`` the document-level word index
            per token (``None`` for special tokens), ``probs`` float array ``(T, num_labels)``.
        labels: IOB2 label per id.

    Returns:
        Spans sorted by start: ``{"start", "end", "type", "trigger", "score"}``
        (``end`` exclusive, Python ``str`` indices).
    """
    # word id -> [start, end, first-subtoken start, centrality, probs]
    words: dict[int, list] = {}
    for offsets, word_ids, probs in windows:
        real = [j for j, w in enumerate(word_ids) if w is not None and w >= 0]
        if not real:
            continue
        lo, hi = real[0], real[-1]
        for j in real:
            s, e = int(offsets[j][0]), int(offsets[j][1])
            word = words.get(word_ids[j])
            if word is None:
                word = words[word_ids[j]] = [s, e, 1 << 62, -1, None]
            else:
                word[0], word[1] = min(word[0], s), max(word[1], e)
            centrality = min(j - lo, hi - j)
            if s < word[2] or (s == word[2] and centrality > word[3]):
                word[2], word[3], word[4] = s, centrality, probs[j]
    spans: list[dict] = []
    cur: dict | None = None
    scores: list[float] = []

    def close() -> None:
        # a trigger is a word: a span of punctuation or symbols alone is never emitted
        if cur is not None and any(c.isalnum() for c in text[cur["start"]:cur["end"]]):
            cur["trigger"] = text[cur["start"]:cur["end"]]
            cur["score"] = float(np.mean(scores))
            spans.append(cur)

    for w in sorted(words):
        start, end, _, _, probs = words[w]
        k = int(np.argmax(probs))
        prefix, etype = _split_tag(labels[k])
        if prefix == "O":
            close()
            cur = None
        elif prefix == "I" and cur is not None and cur["type"] == etype:
            cur["end"] = end
            scores.append(float(probs[k]))
        else:
            close()
            cur, scores = {"start": start, "end": end, "type": etype}, [float(probs[k])]
    close()
    return spans


class OnnxSpanTagger:
    """Tag raw texts with an exported ONNX model; output: character spans with scores.

    Args:
        bundle_dir: the model bundle (``tokenizer.json``, ``inference.json``, the ``.onnx`` file).
        model_file: ``"model.onnx"`` (fp32) or ``"model.int8.onnx"``.
        batch_size: windows per ``session.run`` call.
        threads: onnxruntime intra-op threads (0 = its default, one per physical core).

    Raises:
        FileNotFoundError: a bundle file is missing.
        ValueError: the graph wants an input this recipe does not produce.
    """

    def __init__(self, bundle_dir: str, model_file: str = "model.onnx", batch_size: int = 8, threads: int = 0):
        for name in ("tokenizer.json", model_file):
            if not os.path.isfile(os.path.join(bundle_dir, name)):
                raise FileNotFoundError(f"{os.path.join(bundle_dir, name)} not found")
        settings_path = os.path.join(bundle_dir, "inference.json")
        settings = _read_json(settings_path) if os.path.isfile(settings_path) else {}
        self.max_length = int(settings.get("max_length", 512))
        self.stride = int(settings.get("stride", 128))
        labels = settings.get("labels")
        if not labels:
            id2label = _read_json(os.path.join(bundle_dir, "config.json"))["id2label"]
            labels = [id2label[str(i)] for i in range(len(id2label))]
        self.labels = list(labels)
        self.batch_size = batch_size
        self.tokenizer = Tokenizer.from_file(os.path.join(bundle_dir, "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_length, stride=self.stride, strategy="longest_first", direction="right")
        self.pad_id = self._pad_id(bundle_dir)
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(os.path.join(bundle_dir, model_file), opts, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        unknown = set(self.input_names) - {"input_ids", "attention_mask", "token_type_ids"}
        if unknown:
            raise ValueError(f"{model_file} wants inputs {sorted(unknown)} that this decoder does not produce")

    def _pad_id(self, bundle_dir: str) -> int:
        """Id of the pad token named in ``tokenizer_config.json`` (0 when none; padding is masked anyway)."""
        path = os.path.join(bundle_dir, "tokenizer_config.json")
        token = _read_json(path).get("pad_token") if os.path.isfile(path) else None
        if isinstance(token, dict):
            token = token.get("content")
        pad = self.tokenizer.token_to_id(token) if isinstance(token, str) else None
        return 0 if pad is None else pad

    def windows(self, text: str) -> list:
        """The document's windows: ``tokenizers.Encoding`` objects, first window first."""
        enc = self.tokenizer.encode(tokenization_view(text))
        return [enc] + list(enc.overflowing)

    def logits(self, windows: list) -> list[np.ndarray]:
        """Run the graph on windows, ``batch_size`` at a time; returns float32 ``(T_i, num_labels)`` per window."""
        out = []
        for b in range(0, len(windows), self.batch_size):
            batch = windows[b:b + self.batch_size]
            width = max(len(w.ids) for w in batch)
            arrays = {n: np.zeros((len(batch), width), dtype=np.int64) for n in ("input_ids", "attention_mask", "token_type_ids")}
            arrays["input_ids"][:] = self.pad_id
            for i, w in enumerate(batch):
                n = len(w.ids)
                arrays["input_ids"][i, :n] = w.ids
                arrays["attention_mask"][i, :n] = w.attention_mask
                arrays["token_type_ids"][i, :n] = w.type_ids
            logits = self.session.run(["logits"], {n: arrays[n] for n in self.input_names})[0]
            out += [logits[i, :len(w.ids)] for i, w in enumerate(batch)]
        return out

    def predict(self, text: str) -> list[dict]:
        """Spans of one document: ``[{"start", "end", "type", "trigger", "score"}, ...]`` sorted by start."""
        wins = self.windows(text)
        logits = self.logits(wins)
        offsets = [[(s, extend_over_marks(text, e)) if e > s else (s, e) for s, e in w.offsets] for w in wins]
        return decode_spans(text, [(o, w.word_ids, softmax(lg)) for o, w, lg in zip(offsets, wins, logits)], self.labels)


def main(argv: list[str]) -> int:
    """``python onnx_decoder.py BUNDLE_DIR INPUT [model.onnx|model.int8.onnx]``; prints JSON to stdout."""
    if len(argv) not in (2, 3):
        print(main.__doc__, file=sys.stderr)
        return 2
    tagger = OnnxSpanTagger(argv[0], *(argv[2:]))
    with open(argv[1], encoding="utf-8-sig") as fh:
        raw = fh.read()
    if not argv[1].endswith(".jsonl"):
        print(json.dumps(tagger.predict(raw)))
        return 0
    for n, line in enumerate(raw.split("\n"), start=1):
        if line.strip():
            rec = json.loads(line)
            print(json.dumps({"id": rec.get("id", f"line-{n}"), "events": tagger.predict(rec["text"])}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
