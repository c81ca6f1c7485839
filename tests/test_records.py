"""The schema loader: one test per kind of bad record, each error naming file, line and id."""

from __future__ import annotations

import json

import pytest

from train.records import DataError, read_jsonl, write_jsonl

GOOD = {"id": "d1", "text": "Seoul warned Moscow.", "events": [{"start": 6, "end": 12, "type": "WARNING", "trigger": "warned"}]}


def write(tmp_path, *records, raw: bytes | None = None):
    p = tmp_path / "data.jsonl"
    if raw is not None:
        p.write_bytes(raw)
    else:
        p.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records), encoding="utf-8")
    return p


def error_of(path) -> DataError:
    with pytest.raises(DataError) as exc:
        read_jsonl(path)
    return exc.value


def with_event(**changes):
    ev = {**GOOD["events"][0], **changes}
    return {**GOOD, "events": [ev]}


def test_good_record_loads_with_source_location(tmp_path):
    p = write(tmp_path, GOOD)
    (doc,) = read_jsonl(p)
    assert doc.id == "d1" and doc.events[0].trigger == "warned" and doc.source == f"{p}:1"


@pytest.mark.parametrize(
    "record, needle",
    [
        (with_event(start=6, end=99, trigger="warned"), "out of range"),
        (with_event(start=-1), "out of range"),
        (with_event(trigger="warns"), "but trigger is 'warns'"),
        (with_event(type="ATTACK"), "unknown type 'ATTACK'"),
        (with_event(modality="maybe"), "unknown modality 'maybe'"),
        (with_event(start="6"), "must be integers"),
        (with_event(start=5, trigger=" warned"), "whitespace at its edge"),
        ({**GOOD, "events": [{"start": 6, "end": 12, "type": "WARNING"}]}, "missing ['trigger']"),
        ({**GOOD, "events": [{**GOOD["events"][0], "typ": "X"}]}, "unknown event key"),
        ({**GOOD, "text": ""}, "empty or only whitespace"),
        ({**GOOD, "text": "   \n", "events": []}, "empty or only whitespace"),
        ({"text": "x", "events": []}, "'id' must be a non-empty string"),
        ({**GOOD, "events": None}, "'events' must be a list"),
        ({**GOOD, "extra": 1}, "unknown record key"),
    ],
)
def test_bad_record_is_named(tmp_path, record, needle):
    p = write(tmp_path, GOOD | {"id": "d0"}, record)
    err = error_of(p)
    assert len(err.problems) >= 1
    prob = err.problems[0]
    assert prob.path == str(p) and prob.line == 2
    assert needle in str(err)
    if isinstance(record.get("id"), str):
        assert prob.doc_id == record["id"] and f"[id={record['id']}]" in str(err)


def test_overlapping_spans(tmp_path):
    rec = {"id": "o", "text": "Seoul warned Moscow.", "events": [
        {"start": 6, "end": 12, "type": "WARNING", "trigger": "warned"},
        {"start": 10, "end": 19, "type": "VISIT", "trigger": "ed Moscow"}]}
    err = error_of(write(tmp_path, rec))
    assert "spans overlap" in str(err) and err.problems[0].doc_id == "o"


def test_duplicate_id_names_both_lines(tmp_path):
    err = error_of(write(tmp_path, GOOD, GOOD))
    assert err.problems[0].line == 2 and "first seen on line 1" in str(err)


def test_truncated_json_line(tmp_path):
    line = json.dumps(GOOD)
    err = error_of(write(tmp_path, GOOD | {"id": "a"}, line[: len(line) // 2]))
    assert err.problems[0].line == 2 and "invalid JSON" in str(err)


def test_undecodable_bytes(tmp_path):
    raw = (json.dumps(GOOD) + "\n").encode() + b'{"id": "x\xff"}\n'
    err = error_of(write(tmp_path, raw=raw))
    assert err.problems[0].line == 2 and "not valid UTF-8" in str(err)


def test_empty_file(tmp_path):
    assert "holds no records" in str(error_of(write(tmp_path, raw=b"")))


def test_bom_and_crlf_are_accepted(tmp_path):
    raw = b"\xef\xbb\xbf" + json.dumps(GOOD).encode() + b"\r\n\r\n" + json.dumps(GOOD | {"id": "d2"}).encode() + b"\r\n"
    docs = read_jsonl(write(tmp_path, raw=raw))
    assert [d.id for d in docs] == ["d1", "d2"]
    assert docs[0].text == GOOD["text"]


def test_every_problem_is_listed(tmp_path):
    err = error_of(write(tmp_path, with_event(type="X"), {**GOOD, "id": "d2", "text": ""}, "{"))
    assert sorted({p.line for p in err.problems}) == [1, 2, 3]


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="data file not found"):
        read_jsonl(tmp_path / "nope.jsonl")


def test_non_bmp_offsets_are_code_points(tmp_path):
    text = "😀 Seoul warned Moscow."
    rec = {"id": "e", "text": text, "events": [{"start": 8, "end": 14, "type": "WARNING", "trigger": "warned"}]}
    (doc,) = read_jsonl(write(tmp_path, rec))
    assert text[doc.events[0].start:doc.events[0].end] == "warned"


def test_write_read_round_trip(tmp_path):
    rec = {"id": "r", "text": "“Quoted” visit — done", "events": [{"start": 9, "end": 14, "type": "VISIT", "trigger": "visit", "modality": "planned"}], "meta": {"k": "v"}}
    docs = read_jsonl(write(tmp_path, rec))
    out = tmp_path / "out.jsonl"
    write_jsonl(docs, out)
    assert json.loads(out.read_text(encoding="utf-8")) == rec
