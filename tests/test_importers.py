"""Importers (Label Studio, doccano, brat, CoNLL), their writers, export-tasks and config use.

The fixtures in tests/fixtures/importers/ are hand-written; expected offsets are
literals computed by hand (see the comments), not by the code under test.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from train.importers import import_files, parse_label_map, source_sha256, write_brat, write_conll, write_doccano, write_label_studio
from train.records import DataError, Document, validate_document

F = Path(__file__).parent / "fixtures" / "importers"
LS_MAP = "Warn=WARNING,Troop deployment=DEPLOYMENT"


def ev(start, end, type_, trigger, modality=None):
    d = {"start": start, "end": end, "type": type_, "trigger": trigger}
    if modality:
        d["modality"] = modality
    return d


def doc(id_, text, events, meta=None) -> Document:
    out, errors = validate_document({"id": id_, "text": text, "events": events, "meta": meta or {}})
    assert not errors, errors
    return out


def dicts(docs):
    return [d.to_dict() for d in docs]


# -- Label Studio -------------------------------------------------------------------------------

def test_label_studio_emoji_offsets_are_converted_to_code_points():
    docs, report = import_files([F / "label_studio_emoji.json"], "label-studio", LS_MAP)
    # "🚀 Moscow warned Kyiv 🇺🇦 after troops were sent to the border."
    # 🚀 is one code point but two UTF-16 units, so Label Studio's "warned" [10, 16) is [9, 15) here;
    # the flag 🇺🇦 is two code points of two units each, so "sent" [45, 49) is [42, 46).
    assert dicts(docs) == [
        {"id": "label_studio_emoji-101", "text": "🚀 Moscow warned Kyiv 🇺🇦 after troops were sent to the border.",
         "events": [ev(9, 15, "WARNING", "warned", "asserted"), ev(42, 46, "DEPLOYMENT", "sent")]},
        {"id": "label_studio_emoji-103", "text": "A quiet day 🌧 in Seoul.", "events": []},  # annotated negative
    ]
    assert report.drops == [] and report.trims == []
    assert [("task 2" in n.message and "skipped" in n.message) for n in report.notes] == [True]  # the cancelled task


def test_unmapped_label_is_an_error_naming_file_record_and_label():
    with pytest.raises(DataError) as err:
        import_files([F / "label_studio_emoji.json"], "label-studio")
    msg = str(err.value)
    assert "label_studio_emoji.json" in msg and "task 1 (id 101), region r1" in msg
    assert "unknown label 'Warn'" in msg and "unknown label 'Troop deployment'" in msg


def test_label_map_rejects_unknown_targets_and_allows_ignoring():
    assert parse_label_map("Warn=WARNING, Troop deployment = DEPLOYMENT,Person=") == {"Warn": "WARNING", "Troop deployment": "DEPLOYMENT", "Person": None}
    with pytest.raises(DataError, match="not one of"):
        parse_label_map("Warn=WARN")
    docs, report = import_files([F / "label_studio_emoji.json"], "label-studio", "Warn=WARNING,Troop deployment=")
    assert [e.type for e in docs[0].events] == ["WARNING"]
    assert any("ignored by the label map" in n.message for n in report.notes)


def test_label_studio_offset_inside_a_surrogate_pair_is_dropped(tmp_path):
    # "😀 warned": 😀 = UTF-16 units 0-1, so offset 1 is half an emoji
    task = {"id": 1, "data": {"text": "😀 warned"}, "annotations": [{"id": 1, "result": [
        {"id": "a", "type": "labels", "value": {"start": 1, "end": 9, "text": "? warned", "labels": ["WARNING"]}}]}]}
    path = tmp_path / "ls.json"
    path.write_text(json.dumps([task]), encoding="utf-8")
    with pytest.raises(DataError, match="surrogate pair"):
        import_files([path], "label-studio")
    docs, report = import_files([path], "label-studio", allow_drops=True)
    assert docs[0].events == () and len(report.drops) == 1


# -- brat ---------------------------------------------------------------------------------------

def test_brat_discontinuous_span_is_rejected_and_reported():
    with pytest.raises(DataError) as err:
        import_files([F / "brat"], "brat")
    assert "hanoi.ann:3" in str(err.value) and "discontinuous span (35 39;48 52)" in str(err.value)
    docs, report = import_files([F / "brat" / "hanoi.ann"], "brat", allow_drops=True)
    # "The minister visited Hanoi. ...": "visited" = [13, 20)
    assert dicts(docs) == [{"id": "hanoi", "text": "The minister visited Hanoi. Troops were quickly sent north.",
                            "events": [ev(13, 20, "VISIT", "visited", "asserted")]}]
    assert len(report.drops) == 1 and report.drops[0].line == 3
    assert any("'#' line" in n.message for n in report.notes)  # the AnnotatorNotes line is not silently skipped


# -- CoNLL --------------------------------------------------------------------------------------

IOB1_EXPECTED = [
    # "Seoul warned Moscow on Tuesday .\nRussia would extend sovereignty annexing the region ."
    #  0     6     12     19 22       30 33     40    46     53          65
    {"id": "iob1-1", "text": "Seoul warned Moscow on Tuesday .\nRussia would extend sovereignty annexing the region .",
     "events": [ev(6, 12, "WARNING", "warned"), ev(46, 64, "ANNEXATION", "extend sovereignty"), ev(65, 73, "ANNEXATION", "annexing")]},
    {"id": "conll-deploy", "text": "Troops were sent to the border .", "events": [ev(12, 16, "DEPLOYMENT", "sent")]},
]


def test_conll_iob1_tags_rebuild_text_and_offsets():
    docs, report = import_files([F / "iob1.conll"], "conll", scheme="iob1")
    assert dicts(docs) == IOB1_EXPECTED
    assert report.notes == [] and report.drops == []


def test_conll_read_with_the_wrong_scheme_reports_every_repair():
    docs, report = import_files([F / "iob1.conll"], "conll", scheme="iob2")
    assert dicts(docs) == IOB1_EXPECTED
    assert [n.line for n in report.notes] == [4, 12, 24]  # each I- that opens a span


def test_conll_bioes_and_a_tag_outside_the_scheme(tmp_path):
    path = tmp_path / "b.conll"
    path.write_text("Kim\tO\nvisited\tS-VISIT\nand\tO\nextend\tB-ANNEXATION\nsovereignty\tE-ANNEXATION\n\n", encoding="utf-8")
    docs, _ = import_files([path], "conll", scheme="bioes")
    assert dicts(docs) == [{"id": "b-1", "text": "Kim visited and extend sovereignty",
                            "events": [ev(4, 11, "VISIT", "visited"), ev(16, 34, "ANNEXATION", "extend sovereignty")]}]
    with pytest.raises(DataError, match=r"b.conll:2.*'S-VISIT' is not IOB2"):
        import_files([path], "conll", scheme="iob2")


# -- doccano ------------------------------------------------------------------------------------

def test_doccano_span_starting_on_a_space_is_trimmed_and_reported():
    docs, report = import_files([F / "doccano_space.jsonl"], "doccano")
    # "Beijing warned Tokyo and sent ships.": [24, 29) is " sent" -> [25, 29)
    assert dicts(docs) == [
        {"id": "doccano_space-1", "text": "Beijing warned Tokyo and sent ships.", "events": [ev(8, 14, "WARNING", "warned"), ev(25, 29, "DEPLOYMENT", "sent")]},
        {"id": "dc-2", "text": "The president visited Kyiv.", "events": [ev(14, 21, "VISIT", "visited")]},
    ]
    assert len(report.trims) == 1
    t = report.trims[0]
    assert (t.path, t.line, t.doc_id) == (str(F / "doccano_space.jsonl"), 1, "doccano_space-1")
    assert "' sent' trimmed to [25, 29)" in t.message


def test_overlapping_spans_are_dropped_naming_the_kept_one(tmp_path):
    path = tmp_path / "o.jsonl"
    path.write_text(json.dumps({"id": "o", "text": "troops were redeployed", "label": [[12, 22, "DEPLOYMENT"], [14, 22, "DEPLOYMENT"]]}) + "\n")
    with pytest.raises(DataError, match=r"overlaps the kept span DEPLOYMENT \[12, 22\)"):
        import_files([path], "doccano")


def test_allow_drops_imports_the_rest_and_prints_the_count(tmp_path, capsys):
    from train.cli import main

    src = F / "doccano_drops.jsonl"
    out = tmp_path / "out.jsonl"
    assert main(["import", "--format", "doccano", str(src), "--output", str(out)]) == 2
    err = capsys.readouterr().err
    assert "unknown label 'PLACE'" in err and "out of range" in err and not out.exists()
    assert main(["import", "--format", "doccano", str(src), "--output", str(out), "--allow-drops"]) == 0
    assert "2 dropped" in capsys.readouterr().err
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ["doccano_drops-1", "doccano_drops-2"]


# -- round trips: our records -> tool format -> our records ------------------------------------

EMOJI_DOCS = [
    doc("rt-1", "🚀 Seoul warned Moscow 🇺🇦 after troops were sent.", [ev(8, 14, "WARNING", "warned", "asserted"), ev(43, 47, "DEPLOYMENT", "sent", "planned")], {"source": "test"}),
    doc("rt-2", "A quiet day.", []),
    doc("rt-3", "Putin’s visit to Pyongyang\nended.", [ev(8, 13, "VISIT", "visit")]),
]
TOKEN_DOCS = [
    doc("tok-1", "Seoul warned Moscow .\nRussia would extend sovereignty annexing the region .",
        [ev(6, 12, "WARNING", "warned"), ev(35, 53, "ANNEXATION", "extend sovereignty"), ev(54, 62, "ANNEXATION", "annexing")]),
    doc("tok-2", "No event here .", []),
]


@pytest.mark.parametrize("fmt", ["label-studio", "doccano", "brat", "conll-iob2", "conll-iob1", "conll-bioes"])
def test_round_trip(fmt, tmp_path):
    if fmt == "label-studio":
        docs = EMOJI_DOCS
        write_label_studio(docs, tmp_path / "x.json")
        back, _ = import_files([tmp_path / "x.json"], "label-studio")
    elif fmt == "doccano":
        docs = [doc(d.id, d.text, [ev(e.start, e.end, e.type, e.trigger) for e in d.events], d.meta) for d in EMOJI_DOCS]  # no modality in doccano
        write_doccano(docs, tmp_path / "x.jsonl")
        back, _ = import_files([tmp_path / "x.jsonl"], "doccano")
    elif fmt == "brat":
        docs = [doc(d.id, d.text, [e.to_dict() for e in d.events]) for d in EMOJI_DOCS]  # no meta in brat
        write_brat(docs, tmp_path / "brat")
        back, _ = import_files([tmp_path / "brat"], "brat")
    else:
        scheme = fmt.split("-")[1]
        docs = TOKEN_DOCS
        write_conll(docs, tmp_path / "x.conll", scheme=scheme)
        back, report = import_files([tmp_path / "x.conll"], "conll", scheme=scheme)
        assert report.notes == []
        if scheme == "iob1":  # adjacent spans of one type are the only place IOB1 writes B-
            assert "annexing\tB-ANNEXATION" in (tmp_path / "x.conll").read_text()
    assert dicts(back) == dicts(docs)


# -- export-tasks -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tagger_dir(tiny_model_dir, tmp_path_factory):
    """The tiny encoder with our label maps and a head scaled up so word confidences differ clearly."""
    import torch

    from train.labels import LABEL2ID
    from train.modeling import build_model, load_tokenizer

    torch.manual_seed(1)
    model = build_model(str(tiny_model_dir))
    with torch.no_grad():
        model.classifier.weight.mul_(60.0)
        model.classifier.bias[LABEL2ID["B-WARNING"]] += 3.0
    out = tmp_path_factory.mktemp("tagger")
    model.save_pretrained(str(out))
    load_tokenizer(str(tiny_model_dir)).save_pretrained(str(out))
    return out


def _uncertainty(model_dir: Path, text: str) -> float:
    """1 - min over words of the max label probability of the word's first sub-token (one window)."""
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModelForTokenClassification.from_pretrained(str(model_dir)).eval()
    enc = tok(text, return_tensors="pt")
    with torch.no_grad():
        probs = torch.softmax(model(**enc).logits[0].double(), -1).numpy()
    words = enc.word_ids(0)
    firsts = [j for j, w in enumerate(words) if w is not None and (j == 0 or words[j - 1] != w)]
    return 1.0 - float(np.min(probs[firsts].max(-1)))


def test_export_tasks_orders_by_uncertainty_with_utf16_offsets(tagger_dir, tmp_path):
    from train.cli import main
    from train.importers.tasks import export_tasks

    texts = {
        "a": "Seoul warned Moscow on Tuesday after troops were sent to the border.",
        "b": "🚀🚀 Envoys visited Hanoi 🇻🇳 and warned Beijing about the deployment of warships.",
        "c": "The minister's visit to Hanoi followed a warning from Beijing.",
        "d": "Russia annexed the region.",
    }
    folder = tmp_path / "texts"
    folder.mkdir()
    for name, text in texts.items():
        (folder / f"{name}.txt").write_text(text, encoding="utf-8")
    out = tmp_path / "tasks.json"
    assert main(["export-tasks", "--model", str(tagger_dir), "--input", str(folder), "--output", str(out)]) == 0
    tasks = json.loads(out.read_text(encoding="utf-8"))
    expected = {k: _uncertainty(tagger_dir, t) for k, t in texts.items()}
    assert [t["data"]["id"] for t in tasks] == sorted(texts, key=lambda k: -expected[k])
    assert len(set(round(u, 4) for u in expected.values())) == 4  # no near-ties: the order is meaningful
    regions_after_emoji = 0
    for t in tasks:
        text, pred = t["data"]["text"], t["predictions"][0]
        assert t["data"]["uncertainty"] == pytest.approx(expected[t["data"]["id"]], abs=1e-5)
        assert pred["score"] == pytest.approx(1 - t["data"]["uncertainty"], abs=1e-5)
        units = text.encode("utf-16-le")
        for r in pred["result"]:
            v = r["value"]
            assert units[2 * v["start"]:2 * v["end"]].decode("utf-16-le") == v["text"]  # JavaScript indices
            assert 0 <= r["score"] <= 1 and len(v["labels"]) == 1
            cp = len(units[:2 * v["start"]].decode("utf-16-le"))
            assert text[cp:cp + len(v["text"])] == v["text"]
            regions_after_emoji += cp != v["start"]
    assert regions_after_emoji > 0  # some predicted spans sit after emoji, where the two units differ

    rows = export_tasks(tagger_dir, folder, tmp_path / "tasks.jsonl", fmt="doccano")
    lines = [json.loads(x) for x in (tmp_path / "tasks.jsonl").read_text(encoding="utf-8").splitlines()]
    assert lines == rows and [r["id"] for r in rows] == [t["data"]["id"] for t in tasks]
    for r in rows:  # doccano offsets are code points
        assert all(r["text"][s:e].strip() == r["text"][s:e] != "" for s, e, _ in r["label"])


# -- config: data files of any supported format -------------------------------------------------

def test_config_lists_imported_files_and_prepares(tiny_config, tiny_model_dir, tmp_path):
    from train.data import prepare
    from train.modeling import load_tokenizer

    ls = tmp_path / "validation.json"
    write_label_studio(EMOJI_DOCS, ls)  # suffix .json -> Label Studio
    brat = tmp_path / "brat"
    write_brat([doc("b-1", "Troops were sent to the border.", [ev(12, 16, "DEPLOYMENT", "sent")])], brat)
    tiny_config.data.train_files = [f"conll-iob1:{F / 'iob1.conll'}", f"doccano:{F / 'doccano_space.jsonl'}", str(brat)]
    tiny_config.data.validation_files = [str(ls)]
    tiny_config.data.test_files = []
    tok = load_tokenizer(str(tiny_model_dir))
    prepared = prepare(tiny_config, tok, splits=("train", "validation"))
    assert [d.id for d in prepared.docs["train"]] == ["iob1-1", "conll-deploy", "doccano_space-1", "dc-2", "b-1"]
    assert prepared.reports["train"].spans == 4 + 3 + 1 and prepared.reports["validation"].spans == 3
    assert len(prepared.windows["train"]) >= 5
    # the brat directory's hash covers its .txt, so an edited text rebuilds the windows
    before = source_sha256(str(brat))
    (brat / "b-1.txt").write_text("Troops were sent to the border!", encoding="utf-8")
    assert source_sha256(str(brat)) != before
    # strict: a file whose spans would be dropped fails the config
    tiny_config.data.train_files = [f"brat:{F / 'brat'}"]
    with pytest.raises(DataError, match="discontinuous"):
        prepare(tiny_config, tok, splits=("train",))
