"""``python -m train validate-data``: schema validation, statistics, hygiene and the corpus quality gate.

:func:`validate_data` loads every split file (the full schema check of
:func:`train.records.read_jsonl`; ids unique across splits; ``SHA256SUMS``
verified when it sits beside the files), computes the statistics of
:mod:`train.corpus_stats`, runs the hygiene checks of :mod:`train.hygiene`
(exact and near-duplicate sentences across splits; overlap with
``../shared/eval`` when that folder exists) and the consistency check, and
compares everything with the targets of issue 3 (:data:`THRESHOLDS`).
:func:`write_report` writes ``data_report.json`` and ``data_report.md``.

Checks are of two kinds: *hygiene* checks always gate (a cross-split duplicate
or a sentence shared with evaluation text is always an error); *threshold*
checks (corpus size, diversity, shares, provenance, stratification,
unexplained inconsistencies) are skipped with ``--no-thresholds``, for small
custom corpora.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from .corpus import CHECKSUMS, CORPUS_DIR, SOURCE_DIR, render_corpus
from .corpus_stats import apply_allowlist, corpus_statistics, find_inconsistencies, read_allowlist
from .hygiene import MIN_CHARS, NEAR_DUP_THRESHOLD, Item, Match, read_outside_texts, similar_pairs, split_sentences, word_ngrams
from .labels import EVENT_TYPES
from .markup import SPLITS
from .records import DataError, Document, Problem, check_unique_ids, read_jsonl

#: targets of issue 3; ``split_share`` is the expected share per split, ``split_tolerance`` the allowed deviation
THRESHOLDS: dict[str, Any] = {
    "documents": 500,
    "mentions_per_type": 400,
    "trigger_lemmas_per_type": 40,
    "non_asserted_share": 0.15,
    "negative_sentence_share": 0.25,
    "long_doc_share": 0.10,
    "countries": 30,
    "doc_words": (60, 900),
    "split_share": {"train": 0.70, "validation": 0.15, "test": 0.15},
    "split_tolerance": 0.05,
}
ALLOWLIST = Path("data/consistency_allowlist.tsv")
SHARED_EVAL = Path("../shared/eval")
REPORTS_DIR = Path("artifacts/reports")
#: a run of this many identical consecutive words shared with outside text counts as a copied passage
PASSAGE_WORDS = 10


@dataclass
class Check:
    """One pass/fail line of the report."""

    name: str
    kind: str  # "hygiene" or "threshold"
    passed: bool | None  # None: skipped
    value: str
    target: str
    detail: str = ""

    def to_dict(self) -> dict:
        """JSON form."""
        return {"name": self.name, "kind": self.kind, "passed": self.passed, "value": self.value, "target": self.target, "detail": self.detail}


@dataclass
class DataReport:
    """Everything :func:`validate_data` found; ``passed`` is False when a gating check failed."""

    files: dict[str, list[str]]
    stats: dict
    hygiene: dict
    consistency: dict
    checks: list[Check] = field(default_factory=list)

    @property
    def failures(self) -> list[Check]:
        """Checks that failed (skipped ones excluded)."""
        return [c for c in self.checks if c.passed is False]

    @property
    def passed(self) -> bool:
        """True when no check failed."""
        return not self.failures

    def to_dict(self) -> dict:
        """The JSON report (``data_report.json``)."""
        return {"passed": self.passed, "files": self.files, "checks": [c.to_dict() for c in self.checks], **self.stats,
                "hygiene": self.hygiene, "consistency": self.consistency}


def resolve_files(source: Any) -> dict[str, list[str]]:
    """Split -> files from a :class:`~train.config.Config`, a folder of ``{split}.jsonl`` files, or a mapping.

    A mapping's values may be one path or a list of paths.
    """
    if hasattr(source, "data"):
        d = source.data
        return {"train": list(d.train_files), "validation": list(d.validation_files), "test": list(d.test_files)}
    if isinstance(source, (str, Path)):
        return {s: [str(Path(source) / f"{s}.jsonl")] for s in SPLITS if (Path(source) / f"{s}.jsonl").is_file()}
    return {s: [str(p)] if isinstance(p, (str, Path)) else [str(x) for x in p] for s, p in dict(source).items()}


def load_splits(files: Mapping[str, list[str]]) -> dict[str, list[Document]]:
    """Load and validate every file; ids must be unique across all of them.

    Raises:
        DataError: listing the problems of every file (not only the first bad one).
    """
    problems: list[Problem] = []
    splits: dict[str, list[Document]] = {}
    for split, paths in files.items():
        splits[split] = []
        for p in paths:
            try:
                splits[split] += read_jsonl(p)
            except DataError as exc:
                problems += exc.problems
    if problems:
        raise DataError(problems)
    check_unique_ids(list(splits.values()))
    return splits


def verify_checksums(files: Mapping[str, list[str]]) -> list[str]:
    """Mismatches between split files and a ``SHA256SUMS`` beside them (nothing when there is none)."""
    from .data import file_sha256  # imported here: the CLI imports this module to build its parser

    bad = []
    for paths in files.values():
        for p in map(Path, paths):
            sums = p.parent / CHECKSUMS
            if not sums.is_file():
                continue
            recorded = {name: digest for digest, name in (line.split() for line in sums.read_text().splitlines() if line.strip())}
            if p.name in recorded and file_sha256(p) != recorded[p.name]:
                bad.append(f"{p}: sha256 differs from {sums}")
    return bad


def stale_files(source_dir: str | Path, corpus_dir: str | Path) -> list[str]:
    """Corpus files that differ from a fresh compilation of ``source_dir`` (``make data`` not re-run)."""
    return [name for name, content in render_corpus(source_dir).items()
            if not (Path(corpus_dir) / name).is_file() or (Path(corpus_dir) / name).read_text(encoding="utf-8") != content]


def default_token_counter() -> Callable[[str], int]:
    """Token count (with ``[CLS]``/``[SEP]``) of the default tokenizer, the embedded all-MiniLM-L6-v2 WordPiece."""
    from tokenizers import Tokenizer

    from .modeling import embedded_model_dir

    tok = Tokenizer.from_file(str(embedded_model_dir() / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return lambda text: len(tok.encode(text).ids)


def _sentence_items(splits: dict[str, list[Document]]) -> list[Item]:
    return [Item(s, d.id, x.start, x.end, x.text) for s, ds in splits.items() for d in ds for x in split_sentences(d.id, d.text)]


def _is_outside(item: Item) -> bool:
    return item.group.startswith("eval:")


def sentence_pairs(splits: dict[str, list[Document]], outside: list[tuple[str, str, str]] = (),
                   threshold: float = NEAR_DUP_THRESHOLD) -> tuple[list[Match], list[Match]]:
    """Near-duplicate sentence pairs across splits and between the corpus and ``outside`` texts, in one
    MinHash pass over all sentences (:func:`train.hygiene.similar_pairs`).

    Args:
        splits: split name -> documents.
        outside: ``(file name, record id, text)`` of the outside texts (:func:`train.hygiene.read_outside_texts`).
        threshold: Jaccard index of character 5-gram sets.

    Returns:
        ``(cross_split, with_outside)``: corpus-corpus pairs in different splits, and corpus-outside
        pairs (``a`` the corpus sentence), each sorted as :func:`similar_pairs` sorts.
    """
    items = _sentence_items(splits)
    items += [Item(f"eval:{name}", rid, x.start, x.end, x.text) for name, rid, text in outside for x in split_sentences(rid, text)]
    pairs = similar_pairs(items, threshold, pair_ok=lambda a, b: not _is_outside(a) and (_is_outside(b) or a.group != b.group))
    return [m for m in pairs if not _is_outside(m.b)], [m for m in pairs if _is_outside(m.b)]


def cross_split_duplicates(splits: dict[str, list[Document]], threshold: float = NEAR_DUP_THRESHOLD,
                           pairs: list[Match] | None = None) -> dict:
    """Exact and near-duplicate sentences in different splits (see :mod:`train.hygiene` for the measure).

    ``pairs``: the first list of :func:`sentence_pairs`, when already computed.
    """
    if pairs is None:
        pairs = sentence_pairs(splits, threshold=threshold)[0]
    return {"threshold": threshold, "min_chars": MIN_CHARS, "exact": sum(m.exact for m in pairs),
            "near": sum(not m.exact for m in pairs), "pairs": [m.to_dict() for m in pairs]}


def eval_overlap(splits: dict[str, list[Document]], eval_dir: str | Path | None = SHARED_EVAL,
                 threshold: float = NEAR_DUP_THRESHOLD, passage_words: int = PASSAGE_WORDS,
                 outside: list[tuple[str, str, str]] | None = None, pairs: list[Match] | None = None) -> dict:
    """Sentences and passages the corpus shares with the outside texts in ``eval_dir``.

    Compares every corpus sentence with every sentence of ``eval_dir``'s ``*.jsonl`` records
    and ``*.txt`` files (near-duplicate measure of :mod:`train.hygiene`), and looks for runs of
    ``passage_words`` identical words. Only ids, offsets and similarities are reported, never
    the outside text. Returns ``{"status": "skipped", ...}`` when ``eval_dir`` is absent.
    ``outside`` (the texts of ``eval_dir``) and ``pairs`` (the second list of :func:`sentence_pairs`)
    may be passed when already computed.
    """
    if eval_dir is None or not Path(eval_dir).is_dir():
        return {"status": "skipped", "message": f"{eval_dir} is absent: overlap with the shared evaluation texts not checked", "sentences": [], "passages": []}
    if outside is None:
        outside = read_outside_texts(eval_dir)
    if pairs is None:
        pairs = sentence_pairs(splits, outside, threshold)[1]
    grams: dict[tuple, tuple[str, str, int]] = {}
    for name, rid, text in outside:
        for s, _, g in word_ngrams(text, passage_words):
            grams.setdefault(g, (name, rid, s))
    passages = []
    for split, ds in splits.items():
        for d in ds:
            last_end = -1
            for s, e, g in word_ngrams(d.text, passage_words):
                if g not in grams:
                    continue
                if passages and passages[-1]["id"] == d.id and s < last_end:
                    passages[-1]["end"] = e
                else:
                    name, rid, at = grams[g]
                    passages.append({"split": split, "id": d.id, "start": s, "end": e, "eval_file": name, "eval_id": rid, "eval_start": at})
                last_end = e
    return {"status": "checked", "eval_dir": str(eval_dir), "outside_texts": len(outside), "threshold": threshold,
            "passage_words": passage_words, "sentences": [m.to_dict(with_text=False) for m in pairs], "passages": passages}


def consistency_report(splits: dict[str, list[Document]], allowlist: str | Path | None = ALLOWLIST) -> dict:
    """Unannotated occurrences of trigger forms, less those the allowlist explains (see :mod:`train.corpus_stats`)."""
    found = find_inconsistencies(splits)
    rules = read_allowlist(allowlist)
    left, used = apply_allowlist(found["occurrences"], rules)
    return {
        "allowlist": str(allowlist) if allowlist else None,
        "forms_checked": len(found["forms"]),
        "unannotated_occurrences": len(found["occurrences"]),
        "explained": len(found["occurrences"]) - len(left),
        "unexplained": left,
        "rules": [{"line": r.line, "form": r.form, "type": r.type, "docs": r.docs, "context": r.context, "reason": r.reason,
                   "matched": used.get(r.line, 0)} for r in rules],
        "type_conflicts": found["type_conflicts"],
    }


def evaluate_thresholds(stats: dict, consistency: dict, thresholds: dict = THRESHOLDS) -> list[Check]:
    """The issue-3 targets as :class:`Check` lines (kind ``threshold``)."""
    t = thresholds
    checks = []

    def add(name: str, passed: bool, value: str, target: str, detail: str = "") -> None:
        checks.append(Check(name, "threshold", bool(passed), value, target, detail))

    n = stats["documents"]["total"]
    add("documents", n >= t["documents"], str(n), f">= {t['documents']}")
    for ty, c in stats["mentions"]["per_type"].items():
        add(f"mentions {ty}", c >= t["mentions_per_type"], str(c), f">= {t['mentions_per_type']}")
    for ty, f in stats["trigger_forms"].items():
        add(f"trigger lemmas {ty}", f["distinct_lemmas"] >= t["trigger_lemmas_per_type"], str(f["distinct_lemmas"]), f">= {t['trigger_lemmas_per_type']}")
    na = stats["mentions"]["non_asserted_share"]
    add("non-asserted mentions", na >= t["non_asserted_share"], f"{na:.1%}", f">= {t['non_asserted_share']:.0%}")
    neg = stats["sentences"]["negative_share"]
    add("confuser or no-event sentences", neg >= t["negative_sentence_share"], f"{neg:.1%}", f">= {t['negative_sentence_share']:.0%}")
    lg = stats["lengths"]["over_long_share"]
    add(f"documents > {stats['lengths']['long_threshold']} tokens", lg >= t["long_doc_share"], f"{lg:.1%}", f">= {t['long_doc_share']:.0%}")
    nc = stats["provenance"]["n_countries"]
    add("countries or territories", nc >= t["countries"], str(nc), f">= {t['countries']}")
    lo, hi = t["doc_words"]
    off = [i for i, w in stats["lengths"]["per_doc_words"].items() if not lo <= w <= hi]
    add("document length in words", not off, f"{len(off)} outside", f"all in [{lo}, {hi}]", ", ".join(off[:20]))
    missing = stats["provenance"]["missing_meta"]
    add("provenance meta keys", not missing, f"{len(missing)} records lacking keys", "none",
        "; ".join(f"{m['id']}: {','.join(m['missing'])}" for m in missing[:10]))
    shares = stats["documents"]["split_share"]
    bad = {s: v for s, v in shares.items() if abs(v - t["split_share"].get(s, 0)) > t["split_tolerance"]}
    add("split ratio", not bad, " / ".join(f"{shares.get(s, 0):.0%}" for s in t["split_share"]),
        " / ".join(f"{v:.0%}" for v in t["split_share"].values()) + f" +- {t['split_tolerance']:.0%}")
    gaps = [f"{s} lacks {ty}" for s, c in stats["mentions"]["per_split_type"].items() for ty in EVENT_TYPES if not c[ty]]
    add("every type in every split", not gaps, f"{len(gaps)} gaps", "none", "; ".join(gaps))
    gaps = [f"{s} lacks {era}" for era, per in stats["provenance"]["eras_per_split"].items() for s, c in per.items() if not c]
    add("every era in every split", not gaps, f"{len(gaps)} gaps", "none", "; ".join(gaps))
    k = len(consistency["unexplained"])
    add("unexplained inconsistencies", k == 0, str(k), "0 (or listed in the allowlist with a reason)")
    return checks


def validate_data(source: Any, *, thresholds: bool = True, eval_dir: str | Path | None = SHARED_EVAL,
                  allowlist: str | Path | None = ALLOWLIST, source_dir: str | Path | None = None,
                  count_tokens: Callable[[str], int] | None = None) -> DataReport:
    """Validate a corpus and build its report.

    Args:
        source: a :class:`~train.config.Config` (its ``data.*_files``), a folder holding
            ``{train,validation,test}.jsonl``, or a mapping split -> path(s).
        thresholds: check the issue-3 targets (False: hygiene checks only).
        eval_dir: outside texts to check for overlap; skipped (and said so) when absent.
        allowlist: the consistency allowlist (TSV, see :func:`train.corpus_stats.read_allowlist`).
        source_dir: marked-up sources the files must be compiled from (checked when given).
        count_tokens: document length function; default :func:`default_token_counter`.

    Returns:
        The :class:`DataReport`; ``report.passed`` tells whether every gating check passed.

    Raises:
        DataError: a file breaks the schema, or an id occurs twice (every problem listed).
    """
    files = resolve_files(source)
    splits = load_splits(files)
    stats = corpus_statistics(splits, count_tokens or default_token_counter())
    outside = read_outside_texts(eval_dir) if eval_dir is not None and Path(eval_dir).is_dir() else []
    cross, with_outside = sentence_pairs(splits, outside)  # one MinHash pass for both checks
    hygiene = {"cross_split": cross_split_duplicates(splits, pairs=cross),
               "eval_overlap": eval_overlap(splits, eval_dir, outside=outside, pairs=with_outside),
               "checksums": verify_checksums(files)}
    consistency = consistency_report(splits, allowlist)
    cs, ev = hygiene["cross_split"], hygiene["eval_overlap"]
    checks = [
        Check("schema validation", "hygiene", True, f"{sum(len(p) for p in files.values())} files, {stats['documents']['total']} records", "no errors"),
        Check("checksums", "hygiene", not hygiene["checksums"], f"{len(hygiene['checksums'])} mismatches", "0", "; ".join(hygiene["checksums"])),
        Check("cross-split duplicate sentences", "hygiene", not cs["pairs"], f"{cs['exact']} exact, {cs['near']} near", "0",
              f"Jaccard of character 5-grams >= {cs['threshold']}"),
    ]
    if ev["status"] == "skipped":
        checks.append(Check("overlap with shared eval", "hygiene", None, "skipped", "0", ev["message"]))
    else:
        checks.append(Check("overlap with shared eval", "hygiene", not ev["sentences"] and not ev["passages"],
                            f"{len(ev['sentences'])} sentences, {len(ev['passages'])} passages", "0",
                            f"{ev['outside_texts']} outside texts; passages = {ev['passage_words']} identical words"))
    if source_dir is not None:
        corpus_dirs = {str(Path(p).parent) for ps in files.values() for p in ps}
        stale = [n for d in corpus_dirs for n in stale_files(source_dir, d)]
        checks.append(Check("corpus compiled from sources", "hygiene", not stale, f"{len(stale)} stale files", "0",
                            ("run `make data`: " + ", ".join(stale)) if stale else ""))
    report = DataReport(files, stats, hygiene, consistency, checks)
    limits = evaluate_thresholds(stats, consistency)
    if not thresholds:
        for c in limits:
            c.passed, c.detail = None, "skipped (--no-thresholds)"
    report.checks += limits
    return report


# --- rendering ------------------------------------------------------------------------------


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return out + ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]


def render_markdown(report: DataReport, max_items: int = 40) -> str:
    """The human-readable report (``data_report.md``, also printed by the CLI)."""
    s = report.stats
    mark = {True: "pass", False: "**FAIL**", None: "skipped"}
    L = [f"# Corpus report: {'PASSED' if report.passed else 'FAILED'}", ""]
    L += ["Files: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in report.files.items()), ""]
    L += ["## Checks", ""] + _table(["check", "kind", "result", "value", "target", "detail"],
                                     [[c.name, c.kind, mark[c.passed], c.value, c.target, c.detail[:200]] for c in report.checks])
    d, m = s["documents"], s["mentions"]
    L += ["", "## Documents and mentions", ""]
    L += _table(["split", "documents", "share"] + list(EVENT_TYPES) + ["mentions"],
                [[sp, d["per_split"][sp], f"{d['split_share'][sp]:.1%}"] + [m["per_split_type"][sp][t] for t in EVENT_TYPES]
                 + [sum(m["per_split_type"][sp].values())] for sp in d["per_split"]]
                + [["all", d["total"], "100%"] + [m["per_type"][t] for t in EVENT_TYPES] + [m["total"]]])
    L += ["", f"Documents without events: {d['without_events']} ({d['without_events_share']:.1%}). "
              f"Documents with a type mentioned more than once: {m['docs_repeating_a_type']}.", ""]
    mods = list(m["per_modality"])
    L += _table(["type"] + mods + ["non-asserted", "multi-word", "trigger lemmas", "surface forms"],
                [[t] + [m["per_type_modality"][t][x] for x in mods]
                 + [f"{1 - m['per_type_modality'][t]['asserted'] / max(1, m['per_type'][t]):.1%}", m["multiword_per_type"][t],
                    s["trigger_forms"][t]["distinct_lemmas"], s["trigger_forms"][t]["distinct_surface_forms"]] for t in EVENT_TYPES])
    L += ["", f"Non-asserted mentions: {m['non_asserted_share']:.1%} of {m['total']}.", ""]
    for t in EVENT_TYPES:
        lem = s["trigger_forms"][t]["lemmas"]
        L.append(f"- **{t}** lemmas ({len(lem)}): " + ", ".join(f"{k} {v}" for k, v in list(lem.items())[:60]) + (" ..." if len(lem) > 60 else ""))
    ln = s["lengths"]
    L += ["", "## Lengths", ""] + _table(["measure"] + list(ln["tokens"]), [["tokens"] + list(ln["tokens"].values()), ["words"] + list(ln["words"].values())])
    L += ["", f"Documents over {ln['long_threshold']} tokens: {ln['over_long']} ({ln['over_long_share']:.1%}).", ""]
    se = s["sentences"]
    L += ["## Negatives", "", f"Sentences: {se['total']}; with an event {se['with_event']}, without {se['without_event']}, "
          f"holding a confuser {se['with_confuser']}; confuser or no event: {se['negative']} ({se['negative_share']:.1%}).", ""]
    L += _table(["confuser", "sentences"], [[k, v] for k, v in se["confusers_by_label"].items()])
    p = s["provenance"]
    L += ["", "## Provenance", "", f"{p['n_countries']} countries or territories: "
          + ", ".join(f"{k} {v}" for k, v in p["countries"].items()), ""]
    L += _table(["era"] + list(d["per_split"]), [[e] + [p["eras_per_split"][e][sp] for sp in d["per_split"]] for e in p["eras_per_split"]])
    L += ["", "Genres: " + ", ".join(f"{k} {v}" for k, v in p["genres"].items()), ""]
    L += _hygiene_md(report.hygiene, max_items) + _consistency_md(report.consistency, max_items)
    return "\n".join(L) + "\n"


def _hygiene_md(h: dict, max_items: int) -> list[str]:
    cs, ev = h["cross_split"], h["eval_overlap"]
    L = ["## Hygiene", "", f"Cross-split sentence pairs with Jaccard >= {cs['threshold']} (character 5-grams, "
         f"sentences of >= {cs['min_chars']} normalised characters): {cs['exact']} exact, {cs['near']} near.", ""]
    if cs["pairs"]:
        L += _table(["sim", "a", "b", "a text", "b text"],
                    [[p["similarity"], f"{p['a']['group']}:{p['a']['id']}@{p['a']['start']}", f"{p['b']['group']}:{p['b']['id']}@{p['b']['start']}",
                      p["a"]["text"][:90], p["b"]["text"][:90]] for p in cs["pairs"][:max_items]]) + [""]
    if ev["status"] == "skipped":
        L += [f"Shared evaluation overlap: skipped ({ev['message']}).", ""]
    else:
        L += [f"Shared evaluation overlap ({ev['outside_texts']} outside texts; outside text is never shown): "
              f"{len(ev['sentences'])} similar sentences, {len(ev['passages'])} passages of >= {ev['passage_words']} identical words.", ""]
        rows = [[p["similarity"], f"{p['a']['id']}@{p['a']['start']}-{p['a']['end']}", f"{p['b']['group']}:{p['b']['id']}@{p['b']['start']}"] for p in ev["sentences"]]
        rows += [["passage", f"{p['id']}@{p['start']}-{p['end']}", f"eval:{p['eval_file']}:{p['eval_id']}@{p['eval_start']}"] for p in ev["passages"]]
        if rows:
            L += _table(["similarity", "corpus", "outside"], rows[:max_items]) + [""]
    return L


def _consistency_md(c: dict, max_items: int) -> list[str]:
    L = ["## Consistency", "", f"{c['forms_checked']} trigger forms; {c['unannotated_occurrences']} unannotated occurrences, "
         f"{c['explained']} explained by {c['allowlist']}, {len(c['unexplained'])} unexplained.", ""]
    if c["unexplained"]:
        by_form: dict[tuple, list] = defaultdict(list)
        for o in c["unexplained"]:
            by_form[(o["form"], o["type"])].append(o)
        rows = [[f, t, len(os_), o["doc_id"], o["context"]] for (f, t), os_ in sorted(by_form.items(), key=lambda kv: -len(kv[1])) for o in os_[:3]]
        L += ["Unexplained (up to 3 per form; all in the JSON report):", ""] + _table(["form", "type", "n", "doc", "context"], rows[:max_items * 3]) + [""]
    unused = [r for r in c["rules"] if not r["matched"]]
    if unused:
        L += ["Allowlist rows that matched nothing (stale?): " + ", ".join(f"line {r['line']} ({r['form']} {r['type']})" for r in unused), ""]
    if c["type_conflicts"]:
        L += ["Forms annotated with more than one type: " + "; ".join(f"{f} {v}" for f, v in list(c["type_conflicts"].items())[:max_items]), ""]
    return L


def write_report(report: DataReport, out_dir: str | Path = REPORTS_DIR) -> tuple[Path, Path]:
    """Write ``data_report.json`` and ``data_report.md`` to ``out_dir``; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    j, md = out / "data_report.json", out / "data_report.md"
    j.write_text(json.dumps(report.to_dict(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    md.write_text(render_markdown(report), encoding="utf-8")
    return j, md


# --- command line ---------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``python -m train validate-data``."""
    p.add_argument("--corpus", help="folder of {train,validation,test}.jsonl (default: the config's data files)")
    p.add_argument("--no-thresholds", action="store_true", help="skip the issue-3 size and diversity targets (small custom corpora)")
    p.add_argument("--shared-eval", default=str(SHARED_EVAL), help=f"outside texts to check for overlap (default {SHARED_EVAL}; skipped when absent)")
    p.add_argument("--allowlist", default=str(ALLOWLIST), help=f"consistency allowlist TSV (default {ALLOWLIST})")
    p.add_argument("--out", default=str(REPORTS_DIR), help=f"where data_report.json/.md go (default {REPORTS_DIR})")


def run_cli(args: argparse.Namespace, cfg: Any) -> int:
    """Run the job for parsed ``args``; prints the Markdown report and returns 0 (passed) or 1 (failed)."""
    source = args.corpus or cfg
    files = resolve_files(source)
    default = all(Path(p).parent.resolve() == CORPUS_DIR.resolve() for ps in files.values() for p in ps)
    source_dir = SOURCE_DIR if default and SOURCE_DIR.is_dir() else None
    report = validate_data(source, thresholds=not args.no_thresholds, eval_dir=args.shared_eval, allowlist=args.allowlist, source_dir=source_dir)
    print(render_markdown(report))
    j, md = write_report(report, args.out)
    fails = report.failures
    print(f"wrote {j} and {md}")
    if fails:
        print(f"FAILED: {len(fails)} check(s): " + "; ".join(f"{c.name} ({c.value}, target {c.target})" for c in fails))
        return 1
    return 0
