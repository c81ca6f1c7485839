"""Corpus statistics: trigger lemmas, confuser sentences, lengths, provenance and annotation consistency.

Everything here is a pure function of loaded :class:`~train.records.Document`
objects, so the report (:mod:`train.corpus_report`), the tests and the
exploration notebook share one implementation.

Definitions (also in ``data/README.md``):

- **trigger lemma** (:func:`trigger_lemma`): a trigger lower-cased, curly
  quotes made straight, each word mapped by a short table of irregular verbs
  (:data:`IRREGULAR`: sent -> send, flew/flown -> fly, ...) and then stripped of
  inflectional endings (-ies/-ied -> -y, plural -s, -ing, -ed, a final -e,
  a doubled final consonant), so warned/warning/warns -> ``warn`` and
  travelled/travels -> ``travel``. Derivational endings are kept:
  deploy/deployment and annex/annexation are different forms.
- **confuser sentence**: a sentence holding, outside every annotated span, a
  match of :data:`CONFUSERS` (the schema's "not this type" column: weather or
  travel warnings, withdrawals, arms deliveries, building annexes, capture
  without incorporation, meetings without a trip, ... and any word of a type's
  own vocabulary left unannotated).
- **negative sentence**: a confuser sentence or a sentence with no event.
- **inconsistency** (:func:`find_inconsistencies`): a lower-cased word form
  that is annotated as a trigger of type T somewhere and occurs unannotated
  elsewhere (outside every span), unless an allowlist row gives the reason.
"""

from __future__ import annotations

import csv
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from .hygiene import split_sentences
from .labels import EVENT_TYPES, MODALITIES
from .records import Document

#: irregular inflections mapped to their base before suffix stripping
IRREGULAR = {
    "sent": "send", "flew": "fly", "flown": "fly", "went": "go", "gone": "go", "came": "come",
    "made": "make", "took": "take", "taken": "take", "held": "hold", "met": "meet", "left": "leave",
    "brought": "bring", "gave": "give", "given": "give", "told": "tell", "said": "say", "says": "say",
    "led": "lead", "rode": "ride", "drove": "drive", "driven": "drive", "swept": "sweep", "threw": "throw",
    "thrown": "throw", "stood": "stand", "swore": "swear", "sworn": "swear", "spoke": "speak",
    "spoken": "speak", "kept": "keep", "withdrew": "withdraw", "withdrawn": "withdraw",
    "overran": "overrun", "began": "begin", "begun": "begin", "became": "become", "been": "be",
    "was": "be", "were": "be", "is": "be", "are": "be", "has": "have", "had": "have", "won": "win",
    "sought": "seek", "fought": "fight", "struck": "strike", "ran": "run", "sailed": "sail",
}

#: eras used for stratification checks: (label, first year, last year)
ERAS: tuple[tuple[str, int, int], ...] = (
    ("before 1946", 0, 1945),
    ("1946-1991", 1946, 1991),
    ("1992-2013", 1992, 2013),
    ("2014 on", 2014, 9999),
)

#: meta keys every record must carry (provenance)
PROVENANCE_KEYS = ("source", "license", "topic", "country", "date")

_QUOTES = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"'})
_WORD = re.compile(r"\w+(?:['’]\w+)*")

#: confuser patterns per type, from the schema's "not this type" column (matched case-insensitively,
#: outside annotated spans). The ``own words`` entries are the type's vocabulary left unannotated.
CONFUSERS: dict[str, dict[str, str]] = {
    "WARNING": {
        "non-political warning": r"\b(?:weather|storm|flood|heat|health|travel|product|tsunami|cyclone|typhoon|hurricane|"
                                 r"gale|drought|famine|disease|safety|avalanche)\s+(?:warnings?|alerts?|advisor(?:y|ies))\b",
        "warning signs": r"\bwarning\s+signs?\b",
        "own words": r"\b(?:warn\w*|caution\w*|threat\w*|ultimatums?|alert(?:s|ed)?)\b",
    },
    "DEPLOYMENT": {
        "withdrawal": r"\b(?:withdr[ae]w\w*|withdrawals?|withdrawn|pull(?:ed|ing|s)?[- ](?:out|back)|pull-?outs?|retreat\w*|evacuat\w*)\b",
        "arms delivery": r"\b(?:(?:arms|weapons?|munitions|ammunition|military aid)\s+(?:sales?|deliver(?:y|ies)|shipments?|transfers?|packages?)|deliver(?:s|ed|ing|y|ies)?)\b",
        "readiness": r"\b(?:alert levels?|high(?:est)? alert|(?:combat )?readiness)\b",
        "invasion or combat": r"\b(?:invad\w*|invasions?|offensives?|incursions?)\b",
        "own words": r"\b(?:deploy\w*|dispatch\w*|station(?:s|ed|ing)?|sen[dt]|sending|sends|reinforc\w*)\b",
    },
    "VISIT": {
        "website, tourism, concerts": r"\b(?:website|web|online|page|site)\s+visit\w*|\btouris\w*|\bconcerts?\b|\bvisiting\s+(?:professor|scholar|fellow|lecturer)\b",
        "meeting without a trip": r"\b(?:met|meetings?|talks|(?:tele)?phone\s+calls?|by\s+phone|video\s*(?:calls?|link|conference))\b",
        "own words": r"\b(?:visit\w*|trips?|tour(?:s|ed|ing)?|travel\w*|host(?:s|ed|ing)?)\b",
    },
    "ANNEXATION": {
        "capture or occupation": r"\b(?:captur\w*|seiz\w*|occup\w*|overr[au]n\w*|conquer\w*|took\s+control|taken\s+control|fell\s+to)\b",
        "own words": r"\b(?:annex\w*|incorporat\w*)\b",
    },
}
_CONFUSER_RE = {(t, label): re.compile(p, re.I) for t, d in CONFUSERS.items() for label, p in d.items()}


def trigger_lemma(trigger: str) -> str:
    """The trigger form that inflections share (see the module docstring for the rule).

    >>> [trigger_lemma(w) for w in ("warned", "warning", "warns", "Travelled", "annexes", "sent")]
    ['warn', 'warn', 'warn', 'travel', 'annex', 'send']
    """
    return " ".join(_word_lemma(w) for w in trigger.translate(_QUOTES).lower().split())


def _word_lemma(w: str) -> str:
    if w.endswith("'s"):
        w = w[:-2]
    if w in IRREGULAR:
        w = IRREGULAR[w]
    elif len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if w in IRREGULAR.values():
        pass
    elif len(w) > 4 and w.endswith("ied"):
        w = w[:-3] + "y"
    elif len(w) >= 6 and w.endswith("ing"):
        w = w[:-3]
    elif len(w) >= 5 and w.endswith("ed"):
        w = w[:-2]
    if len(w) >= 4 and w.endswith("e"):
        w = w[:-1]
    if len(w) >= 4 and w[-1] == w[-2] and w[-1] not in "aeiouy":
        w = w[:-1]
    return w


def era_of(date: str | None) -> str | None:
    """The :data:`ERAS` label of a ``meta.date`` such as ``"2013-01"`` (``None`` without a year)."""
    m = re.match(r"\s*(\d{4})", str(date or ""))
    if not m:
        return None
    year = int(m.group(1))
    return next(label for label, lo, hi in ERAS if lo <= year <= hi)


def countries_of(meta: dict) -> list[str]:
    """Countries or territories named by ``meta.country`` (``;``-separated; ``global`` is none)."""
    return [c.strip() for c in str(meta.get("country", "")).split(";") if c.strip() and c.strip().lower() != "global"]


def _covered(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(s < end and start < e for s, e in spans)


def percentiles(values: list[int]) -> dict[str, float]:
    """min, p25, median, p75, p90, max and mean of a list of numbers (empty dict for none)."""
    if not values:
        return {}
    v = sorted(values)

    def q(p: float) -> float:
        return float(v[min(len(v) - 1, int(round(p * (len(v) - 1))))])

    return {"min": float(v[0]), "p25": q(0.25), "median": q(0.5), "p75": q(0.75), "p90": q(0.9), "max": float(v[-1]),
            "mean": round(statistics.fmean(v), 1)}


@dataclass(frozen=True)
class SentenceInfo:
    """A sentence with its event types and the confuser labels found outside its spans."""

    split: str
    doc_id: str
    start: int
    end: int
    event_types: tuple[str, ...]
    confusers: tuple[str, ...]


def sentence_infos(split: str, doc: Document) -> list[SentenceInfo]:
    """Split ``doc`` into sentences and note, per sentence, its event types and confusers (``"TYPE: label"``)."""
    spans = [(e.start, e.end) for e in doc.events]
    out = []
    for s in split_sentences(doc.id, doc.text):
        types = tuple(sorted({e.type for e in doc.events if s.start <= e.start < s.end}))
        found = []
        for (etype, label), rx in _CONFUSER_RE.items():
            if any(not _covered(s.start + m.start(), s.start + m.end(), spans) for m in rx.finditer(s.text)):
                found.append(f"{etype}: {label}")
        out.append(SentenceInfo(split, doc.id, s.start, s.end, types, tuple(found)))
    return out


def corpus_statistics(splits: dict[str, list[Document]], count_tokens: Callable[[str], int], long_doc: int = 512) -> dict:
    """Counts of a corpus as plain JSON-able data.

    Args:
        splits: split name -> documents.
        count_tokens: tokens of a document text (the default tokenizer, special tokens included).
        long_doc: documents with more tokens than this are "long".

    Returns:
        ``documents``, ``mentions``, ``trigger_forms``, ``lengths``, ``sentences`` and
        ``provenance`` sections (see ``data/README.md`` for what each number means).
    """
    docs = [(s, d) for s, ds in splits.items() for d in ds]
    n_docs = len(docs)
    per_split = {s: len(ds) for s, ds in splits.items()}
    mentions = [(s, d, e) for s, d in docs for e in d.events]
    per_type = Counter({t: 0 for t in EVENT_TYPES}) + Counter(e.type for _, _, e in mentions)
    per_type = {t: per_type.get(t, 0) for t in EVENT_TYPES}
    modality = Counter(e.modality or "asserted" for _, _, e in mentions)
    per_type_modality = {t: {m: sum(1 for _, _, e in mentions if e.type == t and (e.modality or "asserted") == m) for m in MODALITIES}
                         for t in EVENT_TYPES}
    lemmas = {t: Counter(trigger_lemma(e.trigger) for _, _, e in mentions if e.type == t) for t in EVENT_TYPES}
    tokens = {d.id: count_tokens(d.text) for _, d in docs}
    words = {d.id: len(d.text.split()) for _, d in docs}
    sents = [si for s, d in docs for si in sentence_infos(s, d)]
    no_event = sum(1 for si in sents if not si.event_types)
    confuser = sum(1 for si in sents if si.confusers)
    negative = sum(1 for si in sents if si.confusers or not si.event_types)
    countries = Counter(c for _, d in docs for c in countries_of(d.meta))
    eras = {label: {s: sum(1 for s2, d in docs if s2 == s and era_of(d.meta.get("date")) == label) for s in splits} for label, _, _ in ERAS}
    missing = [{"id": d.id, "missing": [k for k in PROVENANCE_KEYS if not str(d.meta.get(k, "")).strip()]} for _, d in docs]
    return {
        "documents": {
            "total": n_docs,
            "per_split": per_split,
            "split_share": {s: _share(n, n_docs) for s, n in per_split.items()},
            "without_events": sum(1 for _, d in docs if not d.events),
            "without_events_share": _share(sum(1 for _, d in docs if not d.events), n_docs),
        },
        "mentions": {
            "total": len(mentions),
            "per_type": per_type,
            "per_split_type": {s: {t: sum(1 for d in ds for e in d.events if e.type == t) for t in EVENT_TYPES} for s, ds in splits.items()},
            "per_modality": {m: modality.get(m, 0) for m in MODALITIES},
            "per_type_modality": per_type_modality,
            "non_asserted_share": _share(len(mentions) - modality.get("asserted", 0), len(mentions)),
            "multiword_per_type": {t: sum(1 for _, _, e in mentions if e.type == t and len(e.trigger.split()) > 1) for t in EVENT_TYPES},
            "docs_repeating_a_type": sum(1 for _, d in docs if any(n > 1 for n in Counter(e.type for e in d.events).values())),
        },
        "trigger_forms": {t: {"distinct_lemmas": len(lemmas[t]), "distinct_surface_forms": len({e.trigger.lower() for _, _, e in mentions if e.type == t}),
                              "lemmas": dict(lemmas[t].most_common())} for t in EVENT_TYPES},
        "lengths": {
            "tokens": percentiles(list(tokens.values())),
            "words": percentiles(list(words.values())),
            "long_threshold": long_doc,
            "over_long": sum(1 for n in tokens.values() if n > long_doc),
            "over_long_share": _share(sum(1 for n in tokens.values() if n > long_doc), n_docs),
            "per_doc_tokens": tokens,
            "per_doc_words": words,
        },
        "sentences": {
            "total": len(sents),
            "with_event": len(sents) - no_event,
            "without_event": no_event,
            "with_confuser": confuser,
            "negative": negative,
            "negative_share": _share(negative, len(sents)),
            "confusers_by_label": dict(Counter(c for si in sents for c in si.confusers).most_common()),
        },
        "provenance": {
            "countries": dict(countries.most_common()),
            "n_countries": len(countries),
            "eras_per_split": eras,
            "genres": dict(Counter(str(d.meta.get("genre", "?")) for _, d in docs).most_common()),
            "missing_meta": [m for m in missing if m["missing"]],
        },
    }


def _share(n: int, total: int) -> float:
    return round(n / total, 4) if total else 0.0


# --- consistency ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AllowRule:
    """One row of the consistency allowlist (see :func:`read_allowlist`)."""

    form: str
    type: str
    docs: str
    context: str
    reason: str
    line: int

    def matches(self, occ: dict) -> bool:
        """Whether this row explains an unannotated occurrence (a dict from :func:`find_inconsistencies`)."""
        if self.form not in ("*", occ["form"]) or self.type not in ("*", occ["type"]):
            return False
        if self.docs != "*" and occ["doc_id"] not in {d.strip() for d in self.docs.split(",")}:
            return False
        return self.context == "*" or re.search(self.context, occ["context"], re.I) is not None


def read_allowlist(path: str | Path | None) -> list[AllowRule]:
    """Read ``data/consistency_allowlist.tsv``: tab-separated ``form type docs context reason``.

    ``form`` is the lower-cased trigger form, ``type`` an event type, ``docs`` a comma-separated
    list of document ids, ``context`` a regular expression searched (case-insensitively) in the
    occurrence's context window; ``*`` matches anything in the first four columns. ``reason`` is
    required. Lines starting with ``#`` and blank lines are skipped; the first other line is the header.

    Raises:
        ValueError: on a row without five columns, a bad regex or an empty reason.
    """
    if path is None or not Path(path).is_file():
        return []
    rules: list[AllowRule] = []
    rows = [(n, line) for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1)
            if line.strip() and not line.startswith("#")]
    for n, line in rows[1:]:
        cols = next(csv.reader([line], delimiter="\t", quoting=csv.QUOTE_NONE))
        if len(cols) != 5 or not cols[4].strip():
            raise ValueError(f"{path}:{n}: expected 5 tab-separated columns (form, type, docs, context, reason), got {line!r}")
        if cols[3] != "*":
            try:
                re.compile(cols[3])
            except re.error as exc:
                raise ValueError(f"{path}:{n}: bad context regex {cols[3]!r}: {exc}") from None
        rules.append(AllowRule(cols[0].strip().lower(), cols[1].strip(), cols[2].strip(), cols[3], cols[4].strip(), n))
    return rules


def _words(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group(0).translate(_QUOTES).lower()) for m in _WORD.finditer(text)]


def find_inconsistencies(splits: dict[str, list[Document]], window: int = 60) -> dict:
    """Unannotated occurrences of annotated trigger forms, and forms annotated with more than one type.

    A trigger form is the lower-cased trigger as a word sequence (hyphens and spaces
    alike). Every occurrence of a form of type T that overlaps no annotated span
    is listed once per type T.

    Returns:
        ``{"forms": {form: {type: annotated count}}, "occurrences": [{"form", "type", "doc_id",
        "split", "start", "end", "context"}], "type_conflicts": {form: {type: count}}}``.
    """
    forms: dict[tuple[str, ...], Counter] = defaultdict(Counter)
    for ds in splits.values():
        for d in ds:
            for e in d.events:
                key = tuple(w for _, _, w in _words(e.trigger))
                if key:
                    forms[key][e.type] += 1
    by_first: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for key in forms:
        by_first[key[0]].append(key)
    occurrences = []
    for split, ds in splits.items():
        for d in ds:
            spans = [(e.start, e.end) for e in d.events]
            words = _words(d.text)
            for i, (s, _, w) in enumerate(words):
                for key in by_first.get(w, ()):
                    if tuple(x[2] for x in words[i:i + len(key)]) != key:
                        continue
                    e = words[i + len(key) - 1][1]
                    if _covered(s, e, spans):
                        continue
                    context = (d.text[max(0, s - window):s] + "[" + d.text[s:e] + "]" + d.text[e:e + window]).replace("\n", " ")
                    for etype in sorted(forms[key]):
                        occurrences.append({"form": " ".join(key), "type": etype, "doc_id": d.id, "split": split,
                                            "start": s, "end": e, "context": context})
    return {
        "forms": {" ".join(k): dict(v) for k, v in sorted(forms.items())},
        "occurrences": occurrences,
        "type_conflicts": {" ".join(k): dict(v) for k, v in sorted(forms.items()) if len(v) > 1},
    }


def apply_allowlist(occurrences: Iterable[dict], rules: list[AllowRule]) -> tuple[list[dict], dict[int, int]]:
    """Split occurrences into those no rule explains and a count of explained ones per rule line."""
    left, used = [], Counter()
    for occ in occurrences:
        rule = next((r for r in rules if r.matches(occ)), None)
        if rule is None:
            left.append(occ)
        else:
            used[rule.line] += 1
    return left, dict(used)
