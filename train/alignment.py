"""Character spans <-> token labels: strided windows over whole documents.

Documents are tokenised on their raw text with the fast tokenizer's offset
mapping, cut into overlapping windows (``max_length`` tokens, ``stride`` tokens
shared by neighbours, Hugging Face ``return_overflowing_tokens`` semantics) and
labelled in IOB2 (Ramshaw & Marcus 1995, as in CoNLL-2003):

- the first token of a span gets ``B-TYPE``; the span's other tokens ``I-TYPE``
  (continuation sub-tokens ``I-TYPE`` or ``-100``, see ``subtoken_labels``);
- tokens outside spans get ``O`` (continuation sub-tokens ``O`` or ``-100``);
- special tokens and padding get ``-100``;
- tokens of a span that a window cuts (it starts before or ends after the
  window) get ``-100`` in that window: the neighbouring window, which holds
  the span whole thanks to the stride, teaches it.

A gold span is *representable* when some window holds it whole and it starts
at a word start and ends at a word end of the tokenizer's pre-tokenisation
(decoding works on words, so only such spans can be predicted exactly). Every
span that is not is listed in the :class:`AlignmentReport`: nothing is lost
silently.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Sequence

from .labels import IGNORE_INDEX, LABEL2ID
from .records import Document, EventMention


@dataclass(frozen=True)
class LostSpan:
    """A gold span the model cannot be trained on or predict exactly."""

    doc_id: str
    source: str
    start: int
    end: int
    type: str
    trigger: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source or self.doc_id} [id={self.doc_id}] {self.type} {self.trigger!r} [{self.start}, {self.end}): {self.reason}"


@dataclass
class AlignmentReport:
    """What alignment did to the gold spans of a set of documents."""

    documents: int = 0
    windows: int = 0
    spans: int = 0
    lost: list[LostSpan] = field(default_factory=list)

    @property
    def represented(self) -> int:
        """Gold spans that some window holds whole on word boundaries."""
        return self.spans - len(self.lost)

    def to_dict(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "windows": self.windows,
            "spans": self.spans,
            "represented": self.represented,
            "lost": [vars(x) for x in self.lost],
        }

    def summary(self) -> str:
        head = f"{self.documents} documents -> {self.windows} windows; {self.represented}/{self.spans} gold spans representable"
        if not self.lost:
            return head
        return head + f"; {len(self.lost)} NOT representable:\n" + "\n".join(f"  {x}" for x in self.lost)


#: Characters the BERT normaliser deletes although they separate words (zero-width
#: space, word joiner, BOM) and C0/C1 controls other than tab/newline/CR: replaced by
#: a space in the text the tokenizer sees (same length, so offsets are unchanged).
_SEPARATORS = re.compile("[\u200b\u2060\ufeff\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def tokenization_view(text: str) -> str:
    """The string handed to the tokenizer: ``text`` with invisible word separators as spaces.

    Same length as ``text``, so every offset refers to the raw text too.
    """
    return _SEPARATORS.sub(" ", text)


def extend_over_marks(text: str, end: int) -> int:
    """Move ``end`` past combining marks that follow it (normalisers that strip accents drop them
    from the tokens, which would otherwise end a span before its last code point)."""
    while end < len(text) and unicodedata.combining(text[end]):
        end += 1
    return end


def tokenize_windows(tokenizer: Any, texts: Sequence[str], max_length: int, stride: int) -> Any:
    """Tokenise whole documents into overlapping windows.

    Args:
        tokenizer: a fast (tokenizers-backed) Hugging Face tokenizer.
        texts: raw document texts.
        max_length: tokens per window including special tokens.
        stride: tokens shared by consecutive windows.

    Returns:
        A ``BatchEncoding`` with one row per window: ``input_ids``, ``attention_mask``
        (and ``token_type_ids`` if the model uses them), ``offset_mapping`` (character
        ``(start, end)`` per token, ``(0, 0)`` for special tokens),
        ``overflow_to_sample_mapping`` (window -> document index) and ``word_ids(i)``.
        Token ends are moved past combining marks the normaliser dropped
        (:func:`extend_over_marks`); the tokenizer sees :func:`tokenization_view` of each text.
    """
    enc = tokenizer(
        [tokenization_view(t) for t in texts],
        max_length=max_length,
        stride=stride,
        truncation=True,
        padding=False,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    doc_of = enc["overflow_to_sample_mapping"]
    enc["offset_mapping"] = [
        [(s, extend_over_marks(texts[doc_of[i]], e)) if e > s else (s, e) for s, e in offs]
        for i, offs in enumerate(enc["offset_mapping"])
    ]
    return enc


def window_word_ids(encoding: Any, i: int) -> list[int]:
    """Word index of every token of window ``i`` (document-level, -1 for special tokens)."""
    return [-1 if w is None else w for w in encoding.word_ids(i)]


def _span_at(spans: list[EventMention], starts: list[int], s: int, e: int) -> tuple[EventMention | None, bool]:
    """Return ``(span containing [s, e), partial)`` where ``partial`` flags a token that crosses a span edge."""
    k = bisect.bisect_right(starts, s) - 1
    for j in (k, k + 1):
        if 0 <= j < len(spans):
            sp = spans[j]
            if sp.start <= s and e <= sp.end:
                return sp, False
            if s < sp.end and e > sp.start:
                return sp, True
    return None, False


def label_windows(
    docs: Sequence[Document],
    encoding: Any,
    subtoken_labels: str = "inside",
    label2id: dict[str, int] = LABEL2ID,
) -> tuple[list[list[int]], AlignmentReport]:
    """Give every token of every window its IOB2 label id and check each gold span.

    Args:
        docs: the documents that ``encoding`` was built from (same order).
        encoding: output of :func:`tokenize_windows`.
        subtoken_labels: ``"inside"`` labels continuation sub-tokens like their word
            (``I-``/``O``); ``"ignore"`` gives them ``-100``.
        label2id: IOB2 label -> id.

    Returns:
        ``(labels, report)``: one list of label ids per window (same length as its
        ``input_ids``) and the alignment report listing every non-representable span.
    """
    offsets_all = encoding["offset_mapping"]
    doc_of = encoding["overflow_to_sample_mapping"]
    sorted_spans = [sorted(d.events, key=lambda e: e.start) for d in docs]
    span_starts = [[sp.start for sp in spans] for spans in sorted_spans]
    ok: set[tuple[int, int, int]] = set()  # (doc, start, end) held whole on word edges by some window
    misaligned: dict[tuple[int, int, int], str] = {}
    all_labels: list[list[int]] = []
    for i, offsets in enumerate(offsets_all):
        d = doc_of[i]
        spans, starts = sorted_spans[d], span_starts[d]
        words = window_word_ids(encoding, i)
        real = [j for j, w in enumerate(words) if w >= 0]
        win_start = offsets[real[0]][0] if real else 0
        win_end = offsets[real[-1]][1] if real else 0
        labels = [IGNORE_INDEX] * len(offsets)
        for j in real:
            s, e = offsets[j]
            first_of_word = j == 0 or words[j - 1] != words[j]
            sp, partial = _span_at(spans, starts, s, e)
            if sp is None:
                labels[j] = label2id["O"] if (first_of_word or subtoken_labels == "inside") else IGNORE_INDEX
                continue
            key = (d, sp.start, sp.end)
            if partial:
                misaligned[key] = f"span edge falls inside token {(s, e)} ({docs[d].text[s:e]!r})"
                continue
            if sp.start < win_start or sp.end > win_end:
                continue  # cut by this window's edge: the overlapping window teaches it
            if s == sp.start:
                labels[j] = label2id[f"B-{sp.type}"]
                # word-boundary check for the whole span, once per window
                last = max(k for k in real if offsets[k][1] <= sp.end)
                start_ok = first_of_word
                end_ok = last + 1 >= len(words) or words[last + 1] != words[last]
                if start_ok and end_ok and offsets[last][1] == sp.end:
                    ok.add(key)
                elif not start_ok:
                    misaligned.setdefault(key, "span starts inside a word")
                else:
                    misaligned.setdefault(key, "span ends inside a word")
            elif first_of_word or subtoken_labels == "inside":
                labels[j] = label2id[f"I-{sp.type}"]
        all_labels.append(labels)
    report = AlignmentReport(documents=len(docs), windows=len(offsets_all), spans=sum(len(s) for s in sorted_spans))
    for d, doc in enumerate(docs):
        for sp in sorted_spans[d]:
            key = (d, sp.start, sp.end)
            if key in ok:
                continue
            reason = misaligned.get(key) or "no window holds the whole span (raise window.max_length or window.stride) or it has no tokens"
            report.lost.append(LostSpan(doc.id, doc.source, sp.start, sp.end, sp.type, sp.trigger, reason))
    return all_labels, report
