"""The shipped corpus: size, balance, languages, and no near-duplicates."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from router.understand.secrets import find_secrets

DATA = Path(__file__).resolve().parents[1] / "training_data"


def _rows() -> list[dict[str, str]]:
    rows = []
    for path in sorted(DATA.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.append(json.loads(line))
    return rows


def _shingles(text: str, k: int = 5) -> set[str]:
    text = text.lower()
    return {text[i : i + k] for i in range(max(1, len(text) - k + 1))}


def test_corpus_size_balance_and_languages() -> None:
    rows = _rows()
    labels = Counter(r["label"] for r in rows)
    langs = Counter(r["lang"] for r in rows)
    assert len(rows) >= 1500
    assert set(labels) == {"security", "compliance", "general"}
    assert min(labels.values()) >= 400, labels
    assert langs["zh"] / len(rows) >= 0.40, langs


def test_corpus_has_traditional_chinese() -> None:
    from router.understand.language import detect

    scripts = Counter(detect(r["subject"] + "\n" + r["text"])[1] for r in _rows() if r["lang"] == "zh")
    assert scripts["hant"] >= 100, scripts


def test_no_near_duplicates() -> None:
    """No two texts with Jaccard similarity of character 5-shingles above 0.8."""
    rows = _rows()
    sets = [_shingles(r["subject"] + "\n" + r["text"]) for r in rows]
    # Index shingles to compare only pairs that share some: all-pairs is 2M+ pairs.
    index: dict[str, list[int]] = {}
    for i, s in enumerate(sets):
        for sh in s:
            index.setdefault(sh, []).append(i)
    common_df = 200  # a shingle in more texts than this says nothing about duplication
    common = [sum(1 for sh in s if len(index[sh]) > common_df) for s in sets]
    offenders = []
    for i, s in enumerate(sets):
        shared: Counter[int] = Counter()
        for sh in s:
            postings = index[sh]
            if len(postings) > common_df:
                continue
            shared.update(j for j in postings if j > i)
        for j, n in shared.items():
            # The intersection is at most the rare shingles shared plus the fewer common
            # ones, and Jaccard > 0.8 needs it above 0.8 of the larger set (the union is
            # at least that): pairs below that bound cannot be near-duplicates.
            if n + min(common[i], common[j]) <= 0.8 * max(len(s), len(sets[j])):
                continue
            union = len(s | sets[j])
            if union and len(s & sets[j]) / union > 0.8:
                offenders.append((i, j, rows[i]["text"][:60]))
    assert not offenders, offenders[:5]


def test_no_secret_values_in_training_data() -> None:
    leaks = [(r["text"][:60], h.kind) for r in _rows() for h in find_secrets(r["subject"] + "\n" + r["text"])]
    assert not leaks, leaks[:5]
