"""Data hygiene: sentence splitting, exact and near-duplicate sentences, overlap with outside text.

Two sentences are compared on their *normalised* text (:func:`normalise`:
Unicode NFKC, lower case, curly quotes made straight, every run of characters
that are not letters or digits made one space). Their similarity is the
Jaccard index of their sets of character 5-grams (:data:`SHINGLE`). A pair is a
**near duplicate** when that index is at least :data:`NEAR_DUP_THRESHOLD`
(0.6: editing one or two words of a 100-character sentence still scores about
0.7-0.85, while paraphrases of the same fact in the corpus score about 0.3-0.6),
and an **exact duplicate** when the normalised texts are equal. Sentences whose
normalised text is shorter than :data:`MIN_CHARS` characters ("He declined to
comment.") are not compared.

Candidate pairs come from MinHash signatures (128 hash functions) banded for
locality-sensitive hashing (32 bands of 4 rows, so pairs at Jaccard 0.6 are
found with probability > 0.99); every candidate is then checked with the exact
Jaccard index, so there are no false positives.

Overlap with outside text (``../shared/eval``) is reported by ids, offsets and
similarity only, never by the outside text itself.
"""

from __future__ import annotations

import json
import re
import unicodedata
import zlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

#: character n-gram size of the similarity measure
SHINGLE = 5
#: Jaccard index of character 5-gram sets at or above which two sentences are near duplicates
NEAR_DUP_THRESHOLD = 0.6
#: normalised sentences shorter than this many characters are not compared
MIN_CHARS = 30
#: MinHash signature length and LSH banding (BANDS * ROWS == NUM_PERM)
NUM_PERM, BANDS, ROWS = 128, 32, 4
_PRIME = 4294967311  # smallest prime above 2**32

#: abbreviations after which a full stop does not end a sentence
ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof gen lt col capt maj sgt adm cmdr brig gov sen rep rev st mt no vs etc jr sr "
    "jan feb mar apr jun jul aug sep sept oct nov dec u.s u.n u.k e.u".split()
)
_BOUNDARY = re.compile(r"[.!?][\"”’')\]]*\s+(?=[\"“‘'(\[]?[A-Z0-9])")
_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-"})


@dataclass(frozen=True)
class Sentence:
    """A sentence of a document, located by character offsets into the document text."""

    doc_id: str
    start: int
    end: int
    text: str


def split_sentences(doc_id: str, text: str) -> list[Sentence]:
    """Split a document into sentences.

    Rule: every line is split separately (a headline or live-blog entry is its own
    line); inside a line a sentence ends at ``.``, ``!`` or ``?`` (plus closing quotes
    or brackets) followed by white space and an upper-case letter, digit or opening
    quote, unless the word before the full stop is a single letter (an initial) or
    one of :data:`ABBREVIATIONS`.

    Returns:
        Sentences with ``text == document_text[start:end]``, stripped, in order.
    """
    out: list[Sentence] = []
    pos = 0
    for line in text.split("\n"):
        cuts = [0]
        for m in _BOUNDARY.finditer(line):
            word = re.search(r"(\S+)$", line[: m.start()])
            w = word.group(1).lower().strip("(\"“‘'") if word else ""
            if m.group(0)[0] == "." and (len(w) == 1 or w in ABBREVIATIONS):
                continue
            cuts.append(m.end())
        cuts.append(len(line))
        for a, b in zip(cuts, cuts[1:]):
            seg = line[a:b]
            if seg.strip():
                lead = len(seg) - len(seg.lstrip())
                s, e = pos + a + lead, pos + a + len(seg.rstrip())
                out.append(Sentence(doc_id, s, e, text[s:e]))
        pos += len(line) + 1
    return out


def normalise(text: str) -> str:
    """NFKC, lower case, straight quotes, and every non-alphanumeric run collapsed to one space."""
    t = unicodedata.normalize("NFKC", text).translate(_QUOTES).lower()
    return re.sub(r"[^\w]+|_", " ", t).strip()


def shingles(norm: str, k: int = SHINGLE) -> frozenset[str]:
    """The set of character ``k``-grams of a normalised text (the text itself when shorter)."""
    return frozenset(norm[i:i + k] for i in range(max(1, len(norm) - k + 1)))


def jaccard(a: frozenset, b: frozenset) -> float:
    """Jaccard index ``|a & b| / |a | b|`` (0.0 for two empty sets)."""
    return len(a & b) / len(a | b) if a or b else 0.0


_rng = np.random.default_rng(20260101)
_A = _rng.integers(1, 2**31 - 1, size=NUM_PERM, dtype=np.uint64)
_B = _rng.integers(0, 2**31 - 1, size=NUM_PERM, dtype=np.uint64)


def minhash(grams: Iterable[str]) -> np.ndarray:
    """MinHash signature (``NUM_PERM`` values) of a set of shingles, with CRC32 as base hash."""
    x = np.fromiter((zlib.crc32(g.encode("utf-8")) for g in grams), dtype=np.uint64)
    return ((_A[:, None] * x[None, :] + _B[:, None]) % _PRIME).min(axis=1)


@dataclass(frozen=True)
class Item:
    """A sentence to compare: ``group`` (split or source file), ``key`` (doc id), offsets and its text."""

    group: str
    key: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Match:
    """A pair of similar sentences from different groups; ``exact`` when the normalised texts are equal."""

    a: Item
    b: Item
    similarity: float
    exact: bool

    def to_dict(self, with_text: bool = True) -> dict:
        """JSON form; ``with_text=False`` leaves out both texts (for pairs with outside text)."""

        def side(it: Item, keep: bool) -> dict:
            d = {"group": it.group, "id": it.key, "start": it.start, "end": it.end}
            if keep:
                d["text"] = it.text
            return d

        return {"a": side(self.a, with_text), "b": side(self.b, with_text), "similarity": round(self.similarity, 3), "exact": self.exact}


def similar_pairs(items: list[Item], threshold: float = NEAR_DUP_THRESHOLD, min_chars: int = MIN_CHARS,
                  pair_ok=lambda a, b: a.group != b.group) -> list[Match]:
    """Pairs of items that ``pair_ok`` accepts (default: different groups) with similarity >= ``threshold``.

    Args:
        items: sentences to compare.
        threshold: Jaccard index of character 5-gram sets (see the module docstring).
        min_chars: items whose normalised text is shorter are skipped.
        pair_ok: which pairs count, e.g. ``lambda a, b: a.group == "corpus" != b.group``.

    Returns:
        Matches sorted by decreasing similarity; each unordered pair once.
    """
    norms = [normalise(it.text) for it in items]
    keep = [i for i, n in enumerate(norms) if len(n) >= min_chars]
    grams = {i: shingles(norms[i]) for i in keep}
    buckets: dict[tuple[int, bytes], list[int]] = defaultdict(list)
    for i in keep:
        sig = minhash(grams[i])
        for band in range(BANDS):
            buckets[(band, sig[band * ROWS:(band + 1) * ROWS].tobytes())].append(i)
    seen: set[tuple[int, int]] = set()
    out: list[Match] = []
    for members in buckets.values():
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                i, j = members[x], members[y]
                if (i, j) in seen or not (pair_ok(items[i], items[j]) or pair_ok(items[j], items[i])):
                    continue
                seen.add((i, j))
                sim = jaccard(grams[i], grams[j])
                if sim >= threshold:
                    a, b = (items[i], items[j]) if pair_ok(items[i], items[j]) else (items[j], items[i])
                    out.append(Match(a, b, sim, norms[i] == norms[j]))
    return sorted(out, key=lambda m: (-m.similarity, m.a.key, m.a.start, m.b.key, m.b.start))


def read_outside_texts(eval_dir: str | Path) -> list[tuple[str, str, str]]:
    """``(file name, record id, text)`` for every ``*.jsonl`` record and ``*.txt`` file in ``eval_dir``.

    Records are read as plain JSON (only ``id`` and ``text`` are used); a ``.txt`` file is
    one text whose id is the file name.
    """
    out = []
    for path in sorted(Path(eval_dir).glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                rec = json.loads(line)
                out.append((path.name, str(rec.get("id", f"line{n}")), rec.get("text", "")))
    for path in sorted(Path(eval_dir).glob("*.txt")):
        out.append((path.name, path.name, path.read_text(encoding="utf-8")))
    return out


def word_ngrams(text: str, n: int) -> list[tuple[int, int, tuple[str, ...]]]:
    """``(start, end, words)`` for every run of ``n`` consecutive words (lower-cased, straight quotes)."""
    words = [(m.start(), m.end(), m.group(0)) for m in re.finditer(r"\w+(?:['’]\w+)*", text)]
    toks = [(s, e, unicodedata.normalize("NFKC", w).translate(_QUOTES).lower()) for s, e, w in words]
    return [(toks[i][0], toks[i + n - 1][1], tuple(t[2] for t in toks[i:i + n])) for i in range(len(toks) - n + 1)]
