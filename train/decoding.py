"""Window predictions -> document-level character spans.

Each word takes the label distribution of its first sub-token (the
``aggregation_strategy="first"`` rule of the transformers token-classification
pipeline) from the window in which that sub-token sits farthest from a window
edge, so overlapping windows never vote twice and every word gets the most
context available. Word labels are then read as IOB2; an ``I-X`` that does
not continue an ``X`` span opens a new span (the lenient reading used by the
pipeline), and a span's score is the mean probability of its words' labels.
A span with no letter or digit (stray punctuation, symbols) is not emitted: the
schema's triggers are words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .labels import ID2LABEL, split_tag
from .records import EventMention


def softmax(logits: np.ndarray) -> np.ndarray:
    """Numerically stable softmax over the last axis; shape is kept."""
    z = logits - logits.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z


@dataclass(slots=True)
class _Word:
    start: int
    end: int
    probs: np.ndarray | None = None
    first_tok_start: int = 1 << 62
    centrality: int = -1


class SpanDecoder:
    """Accumulates window predictions per document, then decodes spans.

    Usage::

        dec = SpanDecoder(n_docs)
        for each window i: dec.add(doc_index, offsets_i, word_ids_i, probs_i)
        spans = dec.spans(doc_index, text)

    Memory is proportional to the number of words seen, so a long document can
    be streamed window by window and decoded with :meth:`pop`.
    """

    def __init__(self, id2label: dict[int, str] = ID2LABEL):
        self.id2label = id2label
        self._words: dict[int, dict[int, _Word]] = {}

    def add(self, doc: int, offsets: Sequence[Sequence[int]], word_ids: Sequence[int], probs: np.ndarray) -> None:
        """Add one window.

        Args:
            doc: document index.
            offsets: ``(start, end)`` character offsets per token of the window (unpadded length ``T``).
            word_ids: document-level word index per token, ``-1`` (or ``None``) for special tokens.
            probs: label probabilities, shape ``(>= T, num_labels)``; rows past ``T`` (padding) are ignored.
        """
        words = self._words.setdefault(doc, {})
        real = [j for j, w in enumerate(word_ids) if w is not None and w >= 0]
        if not real:
            return
        lo, hi = real[0], real[-1]
        for j in real:
            w = word_ids[j]
            s, e = int(offsets[j][0]), int(offsets[j][1])
            word = words.get(w)
            if word is None:
                word = words[w] = _Word(s, e)
            else:
                word.start, word.end = min(word.start, s), max(word.end, e)
            centrality = min(j - lo, hi - j)
            if s < word.first_tok_start or (s == word.first_tok_start and centrality > word.centrality):
                word.first_tok_start, word.centrality, word.probs = s, centrality, probs[j]

    def min_confidence(self, doc: int) -> float:
        """Smallest top-label probability over the words of ``doc`` (1.0 when it has none):
        the least-confidence measure of uncertainty sampling (Lewis & Gale 1994)."""
        probs = [float(np.max(w.probs)) for w in self._words.get(doc, {}).values() if w.probs is not None]
        return min(probs) if probs else 1.0

    def pop(self, doc: int, text: str) -> list[EventMention]:
        """Decode and forget document ``doc``; returns its spans sorted by start."""
        spans = self.spans(doc, text)
        self._words.pop(doc, None)
        return spans

    def spans(self, doc: int, text: str) -> list[EventMention]:
        """Decode the spans of document ``doc`` (whose raw text is ``text``)."""
        words = self._words.get(doc, {})
        out: list[EventMention] = []
        cur_type: str | None = None
        cur_start = cur_end = 0
        scores: list[float] = []

        def close() -> None:
            # a trigger is a word: a span of punctuation or symbols alone is never emitted
            if cur_type is not None and any(c.isalnum() for c in text[cur_start:cur_end]):
                out.append(EventMention(cur_start, cur_end, cur_type, text[cur_start:cur_end], None, float(np.mean(scores))))

        for w in sorted(words):
            word = words[w]
            k = int(np.argmax(word.probs))
            prefix, etype = split_tag(self.id2label[k])
            p = float(word.probs[k])
            if prefix == "O":
                close()
                cur_type = None
            elif prefix == "I" and cur_type == etype:
                cur_end = word.end
                scores.append(p)
            else:
                close()
                cur_type, cur_start, cur_end, scores = etype, word.start, word.end, [p]
        close()
        return out


def decode_windows(
    texts: Sequence[str],
    doc_index: Sequence[int],
    offsets: Sequence[Sequence[Sequence[int]]],
    word_ids: Sequence[Sequence[int]],
    logits: Sequence[np.ndarray],
    id2label: dict[int, str] = ID2LABEL,
) -> list[list[EventMention]]:
    """Decode per-window logits into document spans.

    Args:
        texts: the documents' raw texts (indexed by ``doc_index``).
        doc_index: document index of each window.
        offsets: per window, ``(start, end)`` character offsets of its ``T_i`` tokens.
        word_ids: per window, document-level word index per token (``-1`` for special tokens).
        logits: per window, an array of shape ``(>= T_i, num_labels)``; rows past ``T_i`` (padding) are ignored.
        id2label: label id -> IOB2 label.

    Returns:
        For each document, its predicted spans sorted by start (``score`` set, ``modality`` None).
    """
    dec = SpanDecoder(id2label)
    for i, offs in enumerate(offsets):
        n = len(offs)
        dec.add(int(doc_index[i]), offs, word_ids[i], softmax(np.array(logits[i][:n], dtype=np.float64)))
    return [dec.spans(d, t) for d, t in enumerate(texts)]
