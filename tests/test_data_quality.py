"""The corpus report (`python -m train validate-data`): counts, hygiene, consistency and thresholds.

The tiny corpus below is written by hand and every expected number is counted by
hand (see the comments), so a change in a definition shows up here.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from train.corpus_report import THRESHOLDS, cross_split_duplicates, eval_overlap, load_splits, validate_data, write_report
from train.corpus_stats import corpus_statistics, find_inconsistencies, read_allowlist, trigger_lemma
from train.hygiene import Item, similar_pairs, split_sentences
from train.records import Document

from conftest import REPO

META = {"source": "test", "license": "CC-BY-4.0", "topic": "t", "country": "South Korea", "date": "2024-01"}


def ev(text: str, trigger: str, etype: str, modality: str = "asserted") -> dict:
    start = text.index(trigger)
    return {"start": start, "end": start + len(trigger), "type": etype, "trigger": trigger, "modality": modality}


T1 = "Seoul warned Moscow on Tuesday. Troops were sent to the border."  # 11 words, 2 sentences, 2 events
T2 = "Forecasters warned of heavy rain. The band's tour was cancelled."  # 10 words, 2 sentences, no event
T3 = "The minister will visit Hanoi next week."  # 7 words, 1 sentence, 1 event
T4 = "Russia annexed Crimea in 2014. Analysts warned of more."  # 9 words, 2 sentences, 1 event
TINY = {
    "train": [
        {"id": "d1", "text": T1, "events": [ev(T1, "warned", "WARNING"), ev(T1, "sent", "DEPLOYMENT", "planned")], "meta": META},
        {"id": "d2", "text": T2, "events": [], "meta": {**META, "country": "global", "date": "1939-05"}},
    ],
    "validation": [{"id": "d3", "text": T3, "events": [ev(T3, "visit", "VISIT", "planned")], "meta": {**META, "country": "Vietnam"}}],
    "test": [{"id": "d4", "text": T4, "events": [ev(T4, "annexed", "ANNEXATION")], "meta": {**META, "country": "Ukraine"}}],
}


def words(text: str) -> int:
    return len(text.split())


@pytest.fixture()
def tiny_files(tmp_path):
    files = {}
    for split, records in TINY.items():
        path = tmp_path / f"{split}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        files[split] = [str(path)]
    return files


def test_counts_on_a_hand_made_corpus(tiny_files):
    stats = corpus_statistics(load_splits(tiny_files), words, long_doc=9)
    d, m, s = stats["documents"], stats["mentions"], stats["sentences"]
    assert d["total"] == 4 and d["per_split"] == {"train": 2, "validation": 1, "test": 1}
    assert d["without_events"] == 1 and d["without_events_share"] == 0.25  # d2
    assert m["per_type"] == {"WARNING": 1, "DEPLOYMENT": 1, "VISIT": 1, "ANNEXATION": 1}
    assert m["per_modality"] == {"asserted": 2, "planned": 2, "hypothetical": 0, "negated": 0}
    assert m["non_asserted_share"] == 0.5
    assert m["per_split_type"]["train"] == {"WARNING": 1, "DEPLOYMENT": 1, "VISIT": 0, "ANNEXATION": 0}
    assert stats["trigger_forms"]["WARNING"]["lemmas"] == {"warn": 1}
    # 2 + 2 + 1 + 2 sentences; events in d1 (both), d3, d4's first
    assert (s["total"], s["with_event"], s["without_event"]) == (7, 4, 3)
    # confusers: "Forecasters warned", "tour" (d2), "Analysts warned" (d4); all three have no event
    assert s["with_confuser"] == 3 and s["negative"] == 3 and s["negative_share"] == round(3 / 7, 4)
    assert stats["lengths"]["per_doc_tokens"] == {"d1": 11, "d2": 10, "d3": 7, "d4": 9}
    assert stats["lengths"]["over_long"] == 2 and stats["lengths"]["over_long_share"] == 0.5  # d1, d2 > 9
    assert stats["lengths"]["tokens"]["median"] == 10.0
    assert stats["provenance"]["countries"] == {"South Korea": 1, "Vietnam": 1, "Ukraine": 1}  # "global" is no country
    assert stats["provenance"]["eras_per_split"]["before 1946"] == {"train": 1, "validation": 0, "test": 0}
    assert stats["provenance"]["missing_meta"] == []


def test_trigger_lemmas_merge_inflections_only():
    assert {trigger_lemma(w) for w in ("warned", "warning", "warns", "Warned")} == {"warn"}
    assert {trigger_lemma(w) for w in ("travelled", "travels", "travelling")} == {"travel"}
    assert {trigger_lemma(w) for w in ("sent", "sends", "sending", "send")} == {"send"}
    assert trigger_lemma("deployment") != trigger_lemma("deployed")  # derivation is a different form
    assert trigger_lemma("annexes") == trigger_lemma("annexed") == "annex"


def test_sentence_splitter_keeps_abbreviations_and_initials():
    text = "Gen. Tiani met U.S. officials in Niamey. He left.\n09:30 — J. Smith said “no”. Talks ended!"
    got = [s.text for s in split_sentences("x", text)]
    assert got == ["Gen. Tiani met U.S. officials in Niamey.", "He left.", "09:30 — J. Smith said “no”.", "Talks ended!"]
    assert all(text[s.start:s.end] == s.text for s in split_sentences("x", text))


def test_near_duplicates_catch_a_light_edit_and_ignore_distinct_sentences():
    base = "The defence ministry said the troops would stay in the region until the end of March."
    items = [
        Item("train", "a", 0, len(base), base),
        Item("test", "b", 0, 90, "The defence ministry said its troops would stay in the region until the end of April."),
        Item("test", "c", 0, 70, "Heavy rain fell over the capital on Sunday, flooding several streets."),
        Item("validation", "d", 5, 95, "THE DEFENCE MINISTRY SAID THE TROOPS WOULD STAY IN THE REGION UNTIL THE END OF MARCH!"),
        Item("train", "e", 0, 90, "The defence ministry said its troops would stay in the region until the end of April."),
    ]
    pairs = {(m.a.key, m.b.key): m for m in similar_pairs(items)}
    assert ("a", "b") in pairs and not pairs[("a", "b")].exact and pairs[("a", "b")].similarity >= 0.6
    assert pairs[("a", "d")].exact and pairs[("a", "d")].similarity == 1.0  # case and punctuation are normalised
    assert not any("c" in k for k in pairs)  # a different sentence
    be = pairs.get(("b", "e")) or pairs.get(("e", "b"))  # same text in different splits
    assert be is not None and be.exact
    assert all(m.a.group != m.b.group for m in pairs.values())  # same-split pairs are not compared


def test_cross_split_duplicates_on_documents():
    s = "Tokyo lodged a protest through diplomatic channels over the missile launch."
    splits = {"train": [Document("a", s)], "test": [Document("b", "Officials said. " + s.replace("launch", "launches"))]}
    found = cross_split_duplicates(splits)
    assert found["near"] == 1 and found["pairs"][0]["b"] == {"group": "test", "id": "b", "start": 16, "end": 16 + len(s) + 2,
                                                             "text": s.replace("launch", "launches")}


def test_inconsistency_detection_finds_the_planted_case(tiny_files, tmp_path):
    found = find_inconsistencies(load_splits(tiny_files))
    occ = [(o["form"], o["type"], o["doc_id"]) for o in found["occurrences"]]
    assert sorted(occ) == [("warned", "WARNING", "d2"), ("warned", "WARNING", "d4")]
    assert "Analysts [warned] of more." in next(o["context"] for o in found["occurrences"] if o["doc_id"] == "d4")
    allow = tmp_path / "allow.tsv"
    allow.write_text("# comment\nform\ttype\tdocs\tcontext\treason\nwarned\tWARNING\t*\tForecasters \\[warned\\]\tweather warning\n", encoding="utf-8")
    report = validate_data(tiny_files, thresholds=True, eval_dir=None, allowlist=allow, count_tokens=words)
    left = report.consistency["unexplained"]
    assert [(o["doc_id"], o["form"]) for o in left] == [("d4", "warned")]
    assert report.consistency["rules"][0]["matched"] == 1
    assert next(c for c in report.checks if c.name == "unexplained inconsistencies").passed is False


def test_allowlist_rows_need_a_reason(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("form\ttype\tdocs\tcontext\treason\nwarned\tWARNING\t*\t*\t\n", encoding="utf-8")
    with pytest.raises(ValueError, match="5 tab-separated"):
        read_allowlist(bad)


def test_the_shipped_allowlist_parses_with_a_reason_per_row():
    rules = read_allowlist(REPO / "data" / "consistency_allowlist.tsv")
    assert len(rules) > 20 and all(r.reason for r in rules)


def test_thresholds_fail_on_a_small_corpus(tiny_files, tmp_path):
    report = validate_data(tiny_files, eval_dir=None, allowlist=None, count_tokens=words)
    failed = {c.name for c in report.failures}
    assert not report.passed
    assert {"documents", "mentions WARNING", "trigger lemmas VISIT", "countries or territories", "split ratio", "every era in every split"} <= failed
    assert "non-asserted mentions" not in failed  # 50% >= 15%
    skipped = validate_data(tiny_files, thresholds=False, eval_dir=None, allowlist=None, count_tokens=words)
    assert skipped.passed and all(c.passed is None for c in skipped.checks if c.kind == "threshold")
    j, md = write_report(report, tmp_path / "out")
    data = json.loads(j.read_text(encoding="utf-8"))
    assert data["passed"] is False and data["documents"]["total"] == 4
    assert "**FAIL**" in md.read_text(encoding="utf-8") and THRESHOLDS["documents"] == 500


def test_eval_overlap_skips_cleanly_when_shared_is_absent(tiny_files, tmp_path):
    splits = load_splits(tiny_files)
    result = eval_overlap(splits, tmp_path / "no-such-shared" / "eval")
    assert result["status"] == "skipped" and result["sentences"] == [] and "absent" in result["message"]
    report = validate_data(tiny_files, thresholds=False, eval_dir=tmp_path / "absent", allowlist=None, count_tokens=words)
    check = next(c for c in report.checks if c.name == "overlap with shared eval")
    assert check.passed is None and report.passed


def test_eval_overlap_reports_ids_and_offsets_never_the_outside_text(tiny_files, tmp_path):
    outside = "Seoul warned Moscow on Tuesday afternoon. Troops were sent to the border area, officials said on Tuesday."
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "x.jsonl").write_text(json.dumps({"id": "x-1", "text": outside, "events": []}) + "\n", encoding="utf-8")
    (tmp_path / "eval" / "seed.txt").write_text("Nothing in common with the corpus sentences at all, really nothing here.", encoding="utf-8")
    result = eval_overlap(load_splits(tiny_files), tmp_path / "eval", passage_words=5)
    assert result["status"] == "checked" and result["outside_texts"] == 2
    assert {(p["a"]["id"], p["b"]["id"]) for p in result["sentences"]} == {("d1", "x-1")}
    assert result["passages"] and result["passages"][0]["eval_id"] == "x-1"
    dumped = json.dumps(result)
    assert "afternoon" not in dumped and "border area" not in dumped and "text" not in json.dumps(result["sentences"])


def test_cli_writes_the_reports_and_exits_zero_without_thresholds(tiny_files, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for split, paths in tiny_files.items():
        (corpus / f"{split}.jsonl").write_bytes(open(paths[0], "rb").read())
    args = [sys.executable, "-m", "train", "validate-data", "--corpus", str(corpus), "--shared-eval", str(tmp_path / "absent"), "--out", str(tmp_path / "out")]
    ok = subprocess.run(args + ["--no-thresholds"], cwd=REPO, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "skipped" in ok.stdout and (tmp_path / "out" / "data_report.json").is_file() and (tmp_path / "out" / "data_report.md").is_file()
    failing = subprocess.run(args, cwd=REPO, capture_output=True, text=True)
    assert failing.returncode == 1 and "FAILED" in failing.stdout and "documents (4, target >= 500)" in failing.stdout
