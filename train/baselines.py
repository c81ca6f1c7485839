"""A lexicon baseline: tag every trigger form seen in training with its most frequent type.

The baseline a trained model must beat to be worth its cost. It learns nothing but a
table, so its scores show how much of a test set is solved by remembering trigger words.

Rules (all deterministic):

- **Forms**: every gold trigger of the training documents, lower-cased, with runs of
  whitespace collapsed to one space ("Warned" and "warned" are one form).
- **Type**: the form's most frequent gold type in training; a tie goes to the type that
  comes first in :data:`train.labels.EVENT_TYPES`.
- **Matching**: case-insensitive, on word boundaries (the character before and after a
  match is not a letter, digit or underscore, i.e. not ``\\w`` in Python's Unicode
  ``re``), whitespace inside a multi-word form matching any run of whitespace. The text
  is scanned left to right; at each position the **longest** form that matches wins, and
  matches never overlap (a leftmost-longest scan: one regex alternation ordered by
  decreasing length).
- **Score** of a tagged span: the form's precision in training, i.e. the number of its
  training occurrences annotated with the chosen type divided by the number of all its
  occurrences found by the same scan of the training texts (at most 1.0). It orders the
  baseline's spans for a precision-recall curve; it does not filter them.

Context, modality and negation are ignored: "Forecasters warned of rain" is tagged
``WARNING`` because "warned" is a ``WARNING`` trigger in training.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Iterable, Sequence

from .labels import EVENT_TYPES
from .records import Document, EventMention


def normalise_form(trigger: str) -> str:
    """The lexicon key of a trigger: lower-cased, whitespace runs collapsed to one space, stripped."""
    return " ".join(trigger.lower().split())


class LexiconBaseline:
    """Trigger-form lexicon tagger (see the module docstring for the exact rules).

    Usage::

        baseline = LexiconBaseline.fit(train_docs)
        predicted = baseline.predict_documents(test_docs)

    Attributes:
        types: form -> its type in the lexicon.
        type_counts: form -> Counter of gold types in training.
        scores: form -> training precision of the form (in [0, 1]).
    """

    def __init__(self, type_counts: dict[str, Counter]):
        order = {t: k for k, t in enumerate(EVENT_TYPES)}
        self.type_counts = {f: Counter(c) for f, c in type_counts.items() if f}
        self.types = {f: min(c, key=lambda t: (-c[t], order.get(t, len(order)), t)) for f, c in self.type_counts.items()}
        self.scores = {f: 1.0 for f in self.types}
        self._folded = {f.casefold(): f for f in self.types}
        forms = sorted(self.types, key=lambda f: (-len(f), f))
        if forms:
            alternation = "|".join(r"\s+".join(re.escape(w) for w in f.split(" ")) for f in forms)
            self.pattern: re.Pattern[str] | None = re.compile(rf"(?<!\w)(?:{alternation})(?!\w)", re.IGNORECASE)
        else:
            self.pattern = None

    @classmethod
    def fit(cls, docs: Iterable[Document]) -> "LexiconBaseline":
        """Build the lexicon from gold documents and set each form's training precision.

        Args:
            docs: training documents (their ``events`` are read; texts are scanned for the scores).

        Returns:
            The fitted baseline; an empty lexicon (tags nothing) when there are no events.
        """
        docs = list(docs)
        counts: dict[str, Counter] = defaultdict(Counter)
        for d in docs:
            for e in d.events:
                counts[normalise_form(e.trigger)][e.type] += 1
        baseline = cls(counts)
        found: Counter = Counter()
        for d in docs:
            for m in baseline._matches(d.text):
                found[baseline._form(m.group(0))] += 1
        for f, t in baseline.types.items():
            baseline.scores[f] = min(1.0, baseline.type_counts[f][t] / found[f]) if found[f] else 1.0
        return baseline

    def _matches(self, text: str) -> Iterable[re.Match[str]]:
        return self.pattern.finditer(text) if self.pattern is not None else ()

    def _form(self, matched: str) -> str | None:
        """The lexicon form a regex match stands for (``None`` for a case-folding oddity the lexicon lacks)."""
        key = normalise_form(matched)
        return key if key in self.types else self._folded.get(key.casefold())

    def tag(self, text: str) -> list[EventMention]:
        """The lexicon's spans in ``text``, sorted by start (non-overlapping, ``score`` set, no modality)."""
        out = []
        for m in self._matches(text):
            form = self._form(m.group(0))
            if form is None:
                continue
            out.append(EventMention(m.start(), m.end(), self.types[form], m.group(0), None, self.scores[form]))
        return out

    def predict_documents(self, docs: Sequence[Document]) -> list[Document]:
        """Return copies of ``docs`` whose ``events`` are the lexicon's spans."""
        return [Document(d.id, d.text, tuple(self.tag(d.text)), d.meta, d.source) for d in docs]

    def __len__(self) -> int:
        return len(self.types)
