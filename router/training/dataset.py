"""Labelled examples from CSV, JSON Lines, or folders of .eml per label.

Every example is turned into the model's input by `classify.model_text`, the
same function the daemon uses, so training and serving read the same text.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from router.classify import model_text
from router.errors import DataError
from router.understand.language import detect

DATA_SUFFIXES = (".csv", ".jsonl", ".json")
# Public benchmark files name their label column otherwise (BANKING77: category, MASSIVE: label).
LABEL_FALLBACKS = ("label", "category", "intent")


@dataclass(frozen=True)
class Example:
    text: str  # the model's input (see classify.model_text)
    label: str
    lang: str  # zh | en | other
    source: str  # file it came from
    writer: str = ""  # writer slice: the row's `writer`, else its file's name (for writer-out CV)


def load(paths: Sequence[Path], text_column: str = "text", label_column: str = "label") -> list[Example]:
    """Load every path (file or folder); DataError on empty data or missing columns."""
    examples: list[Example] = []
    for path in paths:
        examples.extend(_load_path(Path(path), text_column, label_column))
    if not examples:
        names = ", ".join(str(p) for p in paths)
        raise DataError(f"no labelled examples found in {names}")
    return examples


def _load_path(path: Path, text_column: str, label_column: str) -> list[Example]:
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in DATA_SUFFIXES and p.is_file())
        if files:
            out: list[Example] = []
            for f in files:
                out.extend(_load_file(f, text_column, label_column))
            return out
        return _load_eml_folders(path)
    return _load_file(path, text_column, label_column)


def _rows(path: Path) -> Iterable[dict[str, object]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text") from None
    if path.suffix == ".csv":
        yield from csv.DictReader(text.splitlines())
        return
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise DataError(f"{path}:{n}: not valid JSON") from None
        if not isinstance(row, dict):
            raise DataError(f"{path}:{n}: each line must be a JSON object")
        yield row


def _load_file(path: Path, text_column: str, label_column: str) -> list[Example]:
    if path.suffix not in DATA_SUFFIXES:
        raise DataError(f"{path}: unsupported data file (use .csv, .jsonl, or a folder of .eml per label)")
    out = []
    for i, row in enumerate(_rows(path)):
        if i == 0:
            if label_column not in row and label_column in LABEL_FALLBACKS:
                label_column = next((c for c in LABEL_FALLBACKS if c in row), label_column)
            for column in (text_column, label_column):
                if column not in row:
                    raise DataError(f"{path}: no column {column!r} (columns: {', '.join(map(str, row))})")
        text = str(row.get(text_column) or "")
        label = str(row.get(label_column) or "").strip()
        if not text.strip() or not label:
            continue
        subject = str(row.get("subject") or "")
        prepared = model_text(subject, text)
        lang = str(row.get("lang") or "") or detect(prepared)[0]
        writer = str(row.get("writer") or "") or path.stem
        out.append(Example(prepared, label, lang, str(path), writer))
    if not out:
        raise DataError(f"{path}: no labelled rows")
    return out


def _load_eml_folders(path: Path) -> list[Example]:
    """A folder whose subfolders are labels and hold .eml files."""
    from router import parse
    from router.config import load as load_config

    limits = load_config(search=False).limits
    out = []
    for label_dir in sorted(p for p in path.iterdir() if p.is_dir()):
        for eml in sorted(label_dir.glob("*.eml")):
            mail = parse.parse(eml.read_bytes(), limits)
            if mail.problem:
                continue
            prepared = model_text(mail.subject, mail.new_text, already_split=True)
            out.append(Example(prepared, label_dir.name, detect(prepared)[0], str(eml)))
    return out


def data_hash(examples: Sequence[Example]) -> str:
    """Order-independent hash of texts and labels: which data made a model."""
    digest = hashlib.sha256()
    for line in sorted(f"{e.label}\t{e.text}" for e in examples):
        digest.update(line.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def is_holdout(example: Example, fraction: float) -> bool:
    """Deterministic held-out membership from the text's hash.

    A hash (not a random draw) keeps an example on the same side when the data
    grows, so a model is never evaluated on what it was trained on.
    """
    if fraction <= 0:
        return False
    h = int.from_bytes(hashlib.sha256(example.text.encode("utf-8")).digest()[:8], "big")
    return (h % 10_000) < fraction * 10_000


def split(examples: Sequence[Example], fraction: float) -> tuple[list[Example], list[Example]]:
    train = [e for e in examples if not is_holdout(e, fraction)]
    held = [e for e in examples if is_holdout(e, fraction)]
    return train, held


@dataclass(frozen=True)
class CorrectionExample(Example):
    """An analyst's correction from the state store (source "corrections")."""

    ts: float = 0.0
    message_id: str = ""


def corrections(state_path: Path, labels: Iterable[str] | None = None, since: float | None = None) -> tuple[list[CorrectionExample], int]:
    """The latest correction of each message as examples, and how many were skipped.

    Label = the corrected category; text = the redacted model text stored with
    it.  With `labels`, corrections whose category is not among them are
    skipped (a model of other labels must not learn router categories).
    """
    from router import corrections as store

    wanted = set(labels) if labels is not None else None
    out: list[CorrectionExample] = []
    skipped = 0
    for row in store.load(state_path, since=since):
        if wanted is not None and row["corrected_category"] not in wanted:
            skipped += 1
            continue
        if not str(row["text"]).strip():
            skipped += 1
            continue
        out.append(CorrectionExample(text=row["text"], label=row["corrected_category"], lang=row["language"],
                                     source="corrections", writer="corrections", ts=float(row["ts"]), message_id=row["message_id"]))
    return out, skipped
