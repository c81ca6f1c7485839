"""Building the shipped corpus: marked-up sources -> frozen split files with checksums."""

from __future__ import annotations

import hashlib
from pathlib import Path

from .markup import SPLITS, read_markup_file
from .records import Document, check_unique_ids, write_jsonl

SOURCE_DIR = Path("data/source")
CORPUS_DIR = Path("data/corpus")
CHECKSUMS = "SHA256SUMS"


def compile_sources(source_dir: str | Path = SOURCE_DIR) -> dict[str, list[Document]]:
    """Compile every ``*.txt`` source file (sorted by name) into split -> documents.

    Raises:
        DataError: bad markup or headers, or a document id used twice.
    """
    out: dict[str, list[Document]] = {s: [] for s in SPLITS}
    for path in sorted(Path(source_dir).glob("*.txt")):
        for split, doc in read_markup_file(path):
            out[split].append(doc)
    check_unique_ids(list(out.values()))
    return out


def render_corpus(source_dir: str | Path = SOURCE_DIR) -> dict[str, str]:
    """File name -> content of the compiled corpus (split JSONL files and ``SHA256SUMS``)."""
    splits = compile_sources(source_dir)
    files = {f"{s}.jsonl": write_jsonl([Document(d.id, d.text, d.events, d.meta) for d in docs]) for s, docs in splits.items()}
    files[CHECKSUMS] = "".join(f"{hashlib.sha256(files[n].encode('utf-8')).hexdigest()}  {n}\n" for n in sorted(files))
    return files


def build_corpus(source_dir: str | Path = SOURCE_DIR, corpus_dir: str | Path = CORPUS_DIR) -> dict[str, str]:
    """Write the compiled corpus to ``corpus_dir``; returns what was written (see :func:`render_corpus`)."""
    files = render_corpus(source_dir)
    Path(corpus_dir).mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (Path(corpus_dir) / name).write_text(content, encoding="utf-8")
    return files
