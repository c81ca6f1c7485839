"""Span <-> token alignment and window decoding, on the real (embedded) tokenizer."""

from __future__ import annotations

import numpy as np
import pytest

from train.alignment import label_windows, tokenize_windows, window_word_ids
from train.decoding import decode_windows
from train.labels import ID2LABEL, IGNORE_INDEX, LABEL2ID
from train.markup import parse_markup


@pytest.fixture(scope="module")
def tok(tokenizer_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tokenizer_dir))


def align(tok, marked, max_length=512, stride=0, subtoken_labels="inside"):
    doc = parse_markup(marked)
    enc = tokenize_windows(tok, [doc.text], max_length, stride)
    labels, report = label_windows([doc], enc, subtoken_labels)
    return doc, enc, labels, report


def named(tok, enc, labels, i=0):
    """[(token, label name)] of window i, specials skipped."""
    toks = tok.convert_ids_to_tokens(enc["input_ids"][i])
    return [(t, "-" if l == IGNORE_INDEX else ID2LABEL[l]) for t, l, w in zip(toks, labels[i], window_word_ids(enc, i)) if w >= 0]


def one_hot_logits(labels):
    """Logits that put all mass on the gold label (zeros where the label is ignored)."""
    out = []
    for lab in labels:
        x = np.zeros((len(lab), len(ID2LABEL)))
        for j, l in enumerate(lab):
            if l != IGNORE_INDEX:
                x[j, l] = 10.0
        out.append(x)
    return out


def round_trip(docs, enc, labels):
    spans = decode_windows([d.text for d in docs], enc["overflow_to_sample_mapping"], enc["offset_mapping"],
                           [window_word_ids(enc, i) for i in range(len(labels))], one_hot_logits(labels))
    return [[(e.start, e.end, e.type) for e in s] for s in spans]


def test_basic_iob2_and_specials(tok):
    doc, enc, labels, report = align(tok, "Seoul [[warned|WARNING]] Moscow [[on|VISIT]] [[Tuesday visit|VISIT]].")
    assert labels[0][0] == IGNORE_INDEX and labels[0][-1] == IGNORE_INDEX  # [CLS], [SEP]
    assert named(tok, enc, labels) == [
        ("seoul", "O"), ("warned", "B-WARNING"), ("moscow", "O"), ("on", "B-VISIT"),
        ("tuesday", "B-VISIT"), ("visit", "I-VISIT"), (".", "O")]
    assert report.spans == 3 and not report.lost


def test_continuation_subtokens_inside_or_ignored(tok):
    # WordPiece splits "redeployed" into red ##ep ##lo ##yed and "Pyongyang" into p ##yon ##gy ##ang
    marked = "Troops were [[redeployed|DEPLOYMENT]] to Pyongyang."
    _, enc, inside, _ = align(tok, marked)
    _, _, ignore, _ = align(tok, marked, subtoken_labels="ignore")
    assert named(tok, enc, inside) == [
        ("troops", "O"), ("were", "O"), ("red", "B-DEPLOYMENT"), ("##ep", "I-DEPLOYMENT"), ("##lo", "I-DEPLOYMENT"),
        ("##yed", "I-DEPLOYMENT"), ("to", "O"), ("p", "O"), ("##yon", "O"), ("##gy", "O"), ("##ang", "O"), (".", "O")]
    assert [l for _, l in named(tok, enc, ignore)] == [
        "O", "O", "B-DEPLOYMENT", "-", "-", "-", "O", "O", "-", "-", "-", "O"]


@pytest.mark.parametrize(
    "marked",
    [
        "He said “[[warned|WARNING]]” twice.",                       # curly quotes glued to the span
        "😀😀 Troops were [[sent|DEPLOYMENT]] 🚀 north.",                # emoji (non-BMP) before and after
        "北京 leaders [[visited|VISIT]] 東京 and [[访问|VISIT]] again.",  # CJK: each character is a word
        "Il a [[visité|VISIT]] Paris; ministre [[visite\u0301|VISIT]].",  # precomposed and combining accent
        "Troops\u00a0were  [[deployed|DEPLOYMENT]]\n\tat dawn.",       # NBSP, double space, newline, tab
        "a\u200b[[warned|WARNING]]\u200bb and c\x07[[threat|WARNING]]",  # zero-width space, control char
        "مرحبا Moscow [[annexed|ANNEXATION]] Crimea שלום.",           # right-to-left text around a span
        "The U.S.-[[led|DEPLOYMENT]] force.",
    ],
)
def test_edge_characters_neither_shift_nor_lose_spans(tok, marked):
    doc, enc, labels, report = align(tok, marked)
    assert not report.lost, report.summary()
    assert round_trip([doc], enc, labels) == [[(e.start, e.end, e.type) for e in doc.events]]


def test_span_inside_a_word_is_reported(tok):
    doc, _, _, report = align(tok, "He was fore[[warned|WARNING]] twice.")
    assert report.spans == 1 and report.represented == 0
    (lost,) = report.lost
    assert (lost.start, lost.end, lost.type) == (11, 17, "WARNING") and "inside" in lost.reason


def test_span_past_token_512_is_windowed_and_found(tok):
    filler = " ".join(["The committee met again and discussed the budget."] * 70)  # ~700 tokens
    doc, enc, labels, report = align(tok, filler + " Later Seoul [[warned|WARNING]] Moscow.", max_length=128, stride=32)
    assert len(enc["input_ids"]) > 5
    assert not report.lost
    tokens_before = len(tok(doc.text[: doc.events[0].start], add_special_tokens=False)["input_ids"])
    assert tokens_before > 512
    hits = [i for i, lab in enumerate(labels) if LABEL2ID["B-WARNING"] in lab]
    assert hits and all(i >= 5 for i in hits)
    assert round_trip([doc], enc, labels) == [[(doc.events[0].start, doc.events[0].end, "WARNING")]]


def test_span_cut_by_window_edge_is_ignored_there_and_taught_by_neighbour(tok):
    text_words = ["alpha"] * 20 + ["[[extend sovereignty over|ANNEXATION]]"] + ["beta"] * 20
    doc, enc, labels, report = align(tok, " ".join(text_words), max_length=24, stride=8)
    assert not report.lost
    span = doc.events[0]
    full, cut = 0, 0
    for i, offs in enumerate(enc["offset_mapping"]):
        inside = [j for j, (s, e) in enumerate(offs) if e > s and span.start <= s and e <= span.end]
        if not inside:
            continue
        if {labels[i][j] for j in inside} == {IGNORE_INDEX}:
            cut += 1
        else:
            full += 1
            assert [ID2LABEL[labels[i][j]] for j in inside] == ["B-ANNEXATION", "I-ANNEXATION", "I-ANNEXATION"]
    assert full >= 1
    assert round_trip([doc], enc, labels) == [[(span.start, span.end, "ANNEXATION")]]


def test_span_longer_than_a_window_is_reported(tok):
    marked = "x [[" + " ".join(["visit"] * 30) + "|VISIT]] y"
    _, _, _, report = align(tok, marked, max_length=16, stride=4)
    assert len(report.lost) == 1 and "no window holds the whole span" in report.lost[0].reason


def test_whole_corpus_round_trips_through_windows(tok):
    """Gold spans -> token labels -> one-hot logits -> decoder gives back every gold span exactly."""
    from train.corpus import compile_sources

    docs = [d for split in compile_sources().values() for d in split]
    enc = tokenize_windows(tok, [d.text for d in docs], 256, 64)
    labels, report = label_windows(docs, enc)
    assert not report.lost, report.summary()
    assert round_trip(docs, enc, labels) == [[(e.start, e.end, e.type) for e in d.events] for d in docs]
