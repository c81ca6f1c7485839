"""Hostile inputs: each gets a clear error (CLI: exit 2, one line, no traceback) or correct handling.

Record-level cases of the training loader (truncated JSON line, UTF-8 decoding error, BOM,
CRLF, empty file, empty text) are in test_records.py and the alignment of odd characters in
test_alignment.py; here are the prediction input, the prediction path end to end, configs,
label sets and model directories.
"""

from __future__ import annotations

import json
import shutil
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from conftest import FIXTURES, REPO, make_tiny_config
from train.labels import LABEL2ID, LABELS, TAGGING_SCHEME
from train.modeling import ModelError
from train.records import DataError


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, tiny_model_dir) -> Path:
    """An exported bundle (manifest.json with sha256 of every file) of the tiny model with a seeded, untrained head."""
    import torch

    from train.export import export
    from train.modeling import build_model, load_tokenizer

    root = tmp_path_factory.mktemp("hostile")
    torch.manual_seed(0)
    best = root / "run" / "best"
    build_model(str(tiny_model_dir)).save_pretrained(str(best))
    load_tokenizer(str(tiny_model_dir)).save_pretrained(str(best))
    (best / "inference.json").write_text(json.dumps({"max_length": 64, "stride": 16, "tagging_scheme": TAGGING_SCHEME, "labels": LABELS}))
    return export(make_tiny_config(root, tiny_model_dir, "export.onnx=false"), source=best)


def keyword_predictor(bundle: Path, **kwargs):
    """A Predictor whose model tags every "warned" token B-WARNING and everything else O.

    Everything but the network runs for real (windows, offsets, decoding), and the correct
    output is known exactly: one WARNING span per word "warned".
    """
    from train.predict import Predictor

    p = Predictor(bundle, **kwargs)
    warned = p.tokenizer.convert_tokens_to_ids("warned")

    def forward(batch):
        length = max(len(b["input_ids"]) for b in batch)
        x = np.zeros((len(batch), length, len(LABEL2ID)), dtype=np.float32)
        x[:, :, LABEL2ID["O"]] = 5.0
        for r, b in enumerate(batch):
            x[r, [j for j, t in enumerate(b["input_ids"]) if t == warned], LABEL2ID["B-WARNING"]] = 10.0
        return x

    p._forward = forward
    return p


def occurrences(text: str, word: str = "warned") -> list[tuple[int, int, str, str]]:
    out, i = [], text.find(word)
    while i >= 0:
        out.append((i, i + len(word), "WARNING", word))
        i = text.find(word, i + 1)
    return out


def spans(events) -> list[tuple[int, int, str, str]]:
    return [(e.start, e.end, e.type, e.trigger) for e in events]


def cli(capsys, *argv) -> tuple[int, str]:
    """Run ``python -m train`` in-process; returns (exit code, the stderr lines that start with "error:")."""
    from train.cli import main

    code = main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, [line for line in err.splitlines() if line.startswith("error:")]


# ---- prediction input files -------------------------------------------------------------------

def test_predict_input_files(tmp_path):
    from train.predict import read_texts

    def write(name, raw: bytes) -> Path:
        (tmp_path / name).write_bytes(raw)
        return tmp_path / name

    docs = read_texts(write("a.jsonl", b'\xef\xbb\xbf{"id": "a", "text": "Seoul warned."}\r\n\r\n{"text": "x\\r\\ny"}\r\n'))
    assert [(d.id, d.text) for d in docs] == [("a", "Seoul warned."), ("line-3", "x\r\ny")]  # BOM and CRLF tolerated
    (doc,) = read_texts(write("b.txt", b"\xef\xbb\xbfline one\r\nline two\r\n"))
    assert doc.text == "line one\r\nline two\r\n"  # BOM dropped; the text is otherwise kept byte for byte
    assert read_texts(write("e.jsonl", b'{"id": "e", "text": ""}\n'))[0].text == ""  # an empty text is a document without events
    for name, raw, needle in [
        ("t.jsonl", b'{"id": "a", "text": "ok"}\n{"id": "b", "te', "t.jsonl:2"),
        ("u.jsonl", b'{"id": "a", "text": "caf\xe9"}\n', "not valid UTF-8"),
        ("u.txt", b"caf\xe9 \xff", "not valid UTF-8"),
        ("n.jsonl", b'{"id": "a"}\n', "needs a string 'text'"),
        ("z.jsonl", b"", "holds no records"),
        ("z.txt", b"\xef\xbb\xbf", "is empty"),
    ]:
        with pytest.raises(DataError, match=needle):
            read_texts(write(name, raw))


# ---- the prediction path ------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text",
    [
        "Seoul\u00a0warned\u200bMoscow.",                # NBSP, zero-width space
        "a\x07warned\x00b 👩\u200d👩 \u200dwarned\u2060x\u200c",  # control characters, zero-width (non-)joiners, word joiner
        "\ufeffwarned\r\nSeoul warned\r\n",              # BOM inside the text, CRLF
        "مرحبا \u200fwarned\u200f שלום \u202ewarned\u202c",  # right-to-left text and bidi marks
        "😀 warned 🚀 and 👍🏽 warned.",                     # emoji (non-BMP, modifiers) next to spans
        "北京warned東京，他warned。",                        # CJK glued to a span (each CJK character is a word)
        "“warned” (warned) [warned]-warned",             # punctuation glued to spans
    ],
)
def test_odd_characters_next_to_spans_keep_exact_offsets(bundle, text):
    p = keyword_predictor(bundle)
    assert spans(next(p.predict([text]))) == occurrences(text)


@pytest.mark.parametrize("text", ["", " ", "   \n\t\u00a0\u3000 \r\n", "\u200b\u200b", "...!!! ,,, ??? --- ;;", "。！？", "\x00\x01\x02"])
def test_whitespace_or_punctuation_only_documents(bundle, text):
    from train.predict import Predictor

    assert next(keyword_predictor(bundle).predict([text])) == []
    got = next(Predictor(bundle).predict([text]))
    for e in got:  # the real (untrained) model: whatever it tags is a valid span
        assert 0 <= e.start < e.end <= len(text) and text[e.start:e.end] == e.trigger == e.trigger.strip()
    if not text.strip():
        assert got == []


@pytest.mark.slow
def test_million_character_document_streams_in_bounded_memory(bundle):
    """1,000,000 characters through Predictor.predict: every span found, and the memory beyond what the
    decoder keeps per word stays a few MB (the windows are built a 50,000-character piece at a time).

    About 7 s of work; 25-35 s with tracemalloc tracing every allocation.
    """
    from train import decoding

    rng = np.random.default_rng(0)
    words = np.array("the committee met again and discussed the budget , Seoul warned Moscow 北京 😀 . مرحبا 1,200".split())
    text = " ".join(rng.choice(words, size=220_000))[:1_000_000]
    assert len(text) == 1_000_000
    p = keyword_predictor(bundle, max_length=128, stride=32)
    retained = {}
    pop = decoding.SpanDecoder.pop

    def measured_pop(self, doc, t):
        retained["bytes"] = tracemalloc.get_traced_memory()[0]  # what the decoder keeps: per-word probabilities
        return pop(self, doc, t)

    decoding.SpanDecoder.pop = measured_pop
    tracemalloc.start()
    try:
        got = next(p.predict([text]))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        decoding.SpanDecoder.pop = pop
    assert spans(got) == occurrences(text)  # nothing lost or doubled where the pieces overlap
    extra = peak - retained["bytes"]
    assert extra < 16e6, f"peak {peak / 1e6:.1f} MB, of which {extra / 1e6:.1f} MB beyond the per-word state"


def test_long_document_pieces_with_the_real_model(bundle):
    from train.predict import Predictor, text_pieces

    text = (" ".join(json.loads(line)["text"] for line in (FIXTURES / "tiny_train.jsonl").read_text().splitlines()) + "\n") * 12
    pieces = text_pieces(text, 2000, 400)
    assert len(pieces) > 3 and pieces[0][0] == 0 and pieces[-1][1] == len(text)
    assert all(a[0] < b[0] < a[1] <= b[1] for a, b in zip(pieces, pieces[1:]))  # overlapping, advancing
    assert all(text[s - 1].isspace() for s, _ in pieces[1:])  # cut after whitespace: no word is split
    for e in next(Predictor(bundle).predict([text], piece_chars=2000)):
        assert text[e.start:e.end] == e.trigger == e.trigger.strip()
    unspaced = "x" * 10_000
    assert text_pieces(unspaced, 3000, 500)[-1][1] == len(unspaced)  # no whitespace at all: still terminates


# ---- configs and label sets ----------------------------------------------------------------------

def test_bad_configs_exit_2_with_one_line(capsys, tmp_path):
    debug = str(REPO / "configs" / "debug.yaml")
    code, err = cli(capsys, "prepare", "--config", str(tmp_path / "missing.yaml"))
    assert code == 2 and len(err) == 1 and f"config file not found: {tmp_path / 'missing.yaml'}" in err[0]
    code, err = cli(capsys, "fit", "--config", debug, "train.epochz=2")
    assert code == 2 and len(err) == 1 and "train.epochz" in err[0]
    for override, key in [("train.batch_size=big", "train.batch_size"), ("train.resume=maybe", "train.resume"),
                          ("train.optim=sgd", "train.optim"), ("train.save_steps=-5", "train.save_steps")]:
        code, err = cli(capsys, "fit", "--config", debug, override)
        assert code == 2 and len(err) == 1 and key in err[0], (override, err)


def test_hostile_training_data_exits_2_with_one_line(capsys, tmp_path, tiny_model_dir):
    debug = str(REPO / "configs" / "debug.yaml")
    good = (FIXTURES / "tiny_train.jsonl").read_bytes()
    for name, raw, needle in [
        ("truncated.jsonl", good + good[:40], "invalid JSON"),
        ("latin1.jsonl", good + b'{"id": "x\xe9"}\n', "not valid UTF-8"),
        ("empty.jsonl", b"", "holds no records"),
    ]:
        (tmp_path / name).write_bytes(raw)
        code, err = cli(capsys, "prepare", "--config", debug, f"model.name_or_path={tiny_model_dir}", f"data.train_files=[{tmp_path / name}]",
                        f"data.cache_dir={tmp_path / 'cache'}")
        assert code == 2 and len(err) == 1 and needle in err[0] and str(tmp_path / name) in err[0], err


def test_label_set_mismatch(bundle, tmp_path, tiny_model_dir, capsys):
    from transformers import BertConfig, BertForTokenClassification

    from train.modeling import build_model
    from train.predict import Predictor

    other = tmp_path / "ner"  # a token classifier trained for other labels
    config = BertConfig.from_pretrained(str(tiny_model_dir))
    config.id2label = {0: "O", 1: "B-PER", 2: "I-PER"}
    config.label2id = {v: k for k, v in config.id2label.items()}
    BertForTokenClassification(config).save_pretrained(str(other))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(bundle / name, other / name)
    with pytest.raises(ModelError, match="does not match this project's labels"):
        Predictor(other)
    with pytest.raises(ModelError, match="head has labels"):
        build_model(str(other))  # fine-tuning it would re-initialise or silently relabel its head
    code, err = cli(capsys, "predict", "--model", str(other), "--input", str(FIXTURES / "tiny_validation.jsonl"))
    assert code == 2 and len(err) == 1 and "id2label" in err[0]
    code, err = cli(capsys, "fit", "--config", str(REPO / "configs" / "debug.yaml"), f"model.name_or_path={other}",
                    f"train.output_dir={tmp_path / 'run'}", f"data.cache_dir={tmp_path / 'cache'}")
    assert code == 2 and len(err) == 1 and "head has labels" in err[0]
    same_size = tmp_path / "same-size"  # same number of labels, other names: must not be relabelled silently
    config.id2label = {i: f"TAG{i}" for i in range(len(LABELS))}
    config.label2id = {v: k for k, v in config.id2label.items()}
    BertForTokenClassification(config).save_pretrained(str(same_size))
    with pytest.raises(ModelError, match="head has labels"):
        build_model(str(same_size))


# ---- model directories -----------------------------------------------------------------------------

def test_tampered_or_incomplete_bundle_refuses_to_load(bundle, tmp_path, capsys):
    from train.predict import Predictor

    Predictor(bundle)  # intact: loads
    inp = str(FIXTURES / "tiny_validation.jsonl")

    def copy(name: str) -> Path:
        return Path(shutil.copytree(bundle, tmp_path / name))

    tampered = copy("tampered")
    weights = bytearray((tampered / "model.safetensors").read_bytes())
    weights[-10] ^= 0xFF  # one flipped bit pattern in the last tensor: still a loadable file
    (tampered / "model.safetensors").write_bytes(bytes(weights))
    with pytest.raises(ModelError, match=r"model\.safetensors has sha256 [0-9a-f]{64}, manifest\.json says"):
        Predictor(tampered)
    code, err = cli(capsys, "predict", "--model", str(tampered), "--input", inp)
    assert code == 2 and len(err) == 1 and "refusing to load" in err[0]

    for missing in ("model.safetensors", "tokenizer.json", "inference.json"):
        d = copy(f"no-{missing}")
        (d / missing).unlink()
        with pytest.raises(ModelError, match=f"{missing.replace('.', '[.]')} listed in manifest.json missing"):
            Predictor(d)
    bare = copy("no-manifest")  # a training run's best/ has no manifest: the required files are still checked
    (bare / "manifest.json").unlink()
    Predictor(bare)
    (bare / "model.safetensors").unlink()
    with pytest.raises(ModelError, match="not a complete model directory: model.safetensors"):
        Predictor(bare)
    (bare / "model.safetensors").write_bytes(b"\x00" * 64)  # garbage weights, no manifest to catch it
    with pytest.raises(ModelError, match="cannot load the model"):
        Predictor(bare)
    (bare / "model.safetensors").write_bytes((bundle / "model.safetensors").read_bytes())
    (bare / "config.json").write_text('{"model_type": "bert", ')
    code, err = cli(capsys, "predict", "--model", str(bare), "--input", inp)
    assert code == 2 and len(err) == 1 and "cannot load the model" in err[0]
    bad_manifest = copy("bad-manifest")
    (bad_manifest / "manifest.json").write_text("{not json")
    with pytest.raises(ModelError, match="manifest.json: unreadable"):
        Predictor(bad_manifest)
    code, err = cli(capsys, "predict", "--model", str(tmp_path / "nowhere"), "--input", inp)
    assert code == 2 and len(err) == 1


def test_manifest_file_names_agree():
    from train import export, modeling

    assert modeling.MANIFEST_FILE == export.MANIFEST_FILE
