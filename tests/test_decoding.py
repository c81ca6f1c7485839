"""Window merging and IOB2 reading of the span decoder, on hand-made probabilities."""

from __future__ import annotations

import numpy as np

from train.decoding import SpanDecoder
from train.labels import LABEL2ID

N = len(LABEL2ID)


def probs(*labels, p=0.9):
    out = np.full((len(labels), N), (1 - p) / (N - 1))
    for j, lab in enumerate(labels):
        out[j, LABEL2ID[lab]] = p
    return out


TEXT = "aa bb cc dd ee"  # words at 0, 3, 6, 9, 12


def offsets(*words):
    return [(3 * w, 3 * w + 2) for w in words]


def test_iob2_reading_and_scores():
    dec = SpanDecoder()
    dec.add(0, offsets(0, 1, 2, 3, 4), [0, 1, 2, 3, 4], probs("B-VISIT", "I-VISIT", "O", "I-WARNING", "B-WARNING", p=0.8))
    spans = dec.spans(0, TEXT)
    # orphan I-WARNING opens a span; B-WARNING right after it opens another
    assert [(s.start, s.end, s.type, s.trigger) for s in spans] == [(0, 5, "VISIT", "aa bb"), (9, 11, "WARNING", "dd"), (12, 14, "WARNING", "ee")]
    assert all(abs(s.score - 0.8) < 1e-9 for s in spans)


def test_most_central_window_wins():
    dec = SpanDecoder()
    # window 1 covers words 0-3 (word 3 at its edge), window 2 covers words 2-4 (word 3 central-ish)
    dec.add(0, offsets(0, 1, 2, 3), [0, 1, 2, 3], probs("O", "O", "O", "O"))
    dec.add(0, offsets(1, 2, 3, 4), [1, 2, 3, 4], probs("O", "O", "B-DEPLOYMENT", "O"))
    assert [(s.start, s.type) for s in dec.spans(0, TEXT)] == [(9, "DEPLOYMENT")]
    # word 1 is central in window 1 (distance 1) and at the edge of window 2 (distance 0): window 1 decides
    dec2 = SpanDecoder()
    dec2.add(0, offsets(0, 1, 2, 3), [0, 1, 2, 3], probs("O", "B-VISIT", "O", "O"))
    dec2.add(0, offsets(1, 2, 3, 4), [1, 2, 3, 4], probs("O", "O", "O", "O"))
    assert [(s.start, s.type) for s in dec2.spans(0, TEXT)] == [(3, "VISIT")]


def test_first_subtoken_decides_and_word_extends_over_pieces():
    text = "redeployed now"
    dec = SpanDecoder()
    dec.add(0, [(0, 3), (3, 5), (5, 7), (7, 10), (11, 14)], [0, 0, 0, 0, 1], probs("B-DEPLOYMENT", "O", "O", "O", "O"))
    (span,) = dec.spans(0, text)
    assert (span.start, span.end, span.trigger) == (0, 10, "redeployed")


def test_special_tokens_and_padding_rows_are_ignored():
    dec = SpanDecoder()
    p = probs("B-VISIT", "B-VISIT", "O", "B-VISIT")  # [CLS], word 0, [SEP], padding row
    dec.add(0, [(0, 0), (0, 2), (0, 0)], [-1, 0, -1], p)
    assert [(s.start, s.end) for s in dec.spans(0, TEXT)] == [(0, 2)]


def test_pop_forgets_the_document():
    dec = SpanDecoder()
    dec.add(3, offsets(0), [0], probs("B-VISIT"))
    assert len(dec.pop(3, TEXT)) == 1 and dec.spans(3, TEXT) == []


def test_punctuation_only_spans_are_not_emitted():
    text = "aa . bb"
    dec = SpanDecoder()
    dec.add(0, [(0, 2), (3, 4), (5, 7)], [0, 1, 2], probs("O", "B-ANNEXATION", "B-VISIT"))
    assert [(s.start, s.trigger) for s in dec.spans(0, text)] == [(5, "bb")]
