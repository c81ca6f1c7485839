"""The shipped corpus: frozen split files equal the compiled sources and meet the starter-corpus bar."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import pytest

from train.corpus import CORPUS_DIR, render_corpus
from train.labels import EVENT_TYPES
from train.markup import read_markup_file
from train.records import read_jsonl

from conftest import FIXTURES, REPO


@pytest.fixture(scope="module")
def splits():
    return {s: read_jsonl(REPO / CORPUS_DIR / f"{s}.jsonl") for s in ("train", "validation", "test")}


def test_committed_corpus_is_the_compiled_sources(monkeypatch):
    monkeypatch.chdir(REPO)
    for name, content in render_corpus().items():
        assert (CORPUS_DIR / name).read_text(encoding="utf-8") == content, f"data/corpus/{name} is stale: run `make data`"


def test_checksums_match_files():
    for line in (REPO / CORPUS_DIR / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        assert hashlib.sha256((REPO / CORPUS_DIR / name).read_bytes()).hexdigest() == digest


def test_size_types_and_splits(splits):
    assert sum(len(d) for d in splits.values()) >= 80
    for split, docs in splits.items():
        types = Counter(e.type for d in docs for e in d.events)
        assert set(types) == set(EVENT_TYPES), f"{split} lacks a type: {types}"
    modalities = Counter(e.modality for d in splits["train"] for e in d.events)
    assert modalities["planned"] + modalities["hypothetical"] + modalities["negated"] > 0
    assert any(not d.events for d in splits["train"]), "no negative documents"


def test_some_documents_exceed_the_model_window(splits, tokenizer_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    lengths = [len(tok(d.text)["input_ids"]) for docs in splits.values() for d in docs]
    assert sum(n > 512 for n in lengths) >= 3


def test_tiny_fixtures_are_the_compiled_markup():
    pairs = read_markup_file(FIXTURES / "tiny.txt")
    for split in ("train", "validation"):
        docs = read_jsonl(FIXTURES / f"tiny_{split}.jsonl")
        assert [(d.id, d.text, d.events) for d in docs] == [(d.id, d.text, d.events) for s, d in pairs if s == split]
