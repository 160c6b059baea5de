"""MASSIVE zh-CN / zh-TW / en-US: does folding Traditional to Simplified help?

Trains the router's pipeline on Simplified Chinese (zh-CN train) and scores
it on zh-CN test and on Traditional Chinese (zh-TW), with and without the
Traditional -> Simplified folding that `router.classify.model_text` applies,
plus English (en-US) on its own.

    .venv/bin/python bench/massive.py
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np

from router.text import normalize, to_simplified
from router.training.train import build_pipeline

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "massive"


def rows(locale: str, split: str) -> tuple[list[str], list[str]]:
    with (DATA / locale / f"{split}.csv").open(encoding="utf-8") as f:
        r = list(csv.DictReader(f))
    return [x["text"] for x in r], [x["label"] for x in r]


def fit(texts: list[str], labels: list[str]):  # type: ignore[no-untyped-def]
    from collections import Counter

    folds = max(2, min(5, min(Counter(labels).values())))  # a few MASSIVE intents are tiny
    return build_pipeline({"calibration_folds": folds}).fit(texts, labels)


def accuracy(pipe, texts: list[str], labels: list[str]) -> float:  # type: ignore[no-untyped-def]
    return float(np.mean(pipe.predict(texts) == np.array(labels))) * 100


def main() -> None:
    results = []
    for fold in (False, True):
        prep = (lambda t: to_simplified(normalize(t))) if fold else (lambda t: normalize(t))
        X, y = rows("zh-CN", "train")
        t0 = time.perf_counter()
        pipe = fit([prep(t) for t in X], y)
        secs = time.perf_counter() - t0
        cn_x, cn_y = rows("zh-CN", "test")
        tw_x, tw_y = rows("zh-TW", "train")
        results.append((fold, accuracy(pipe, [prep(t) for t in cn_x], cn_y), accuracy(pipe, [prep(t) for t in tw_x], tw_y), secs))
    ex, ey = rows("en-US", "train")
    tx, ty = rows("en-US", "test")
    en = accuracy(fit([normalize(t) for t in ex], ey), [normalize(t) for t in tx], ty)
    print(f"{'trained on zh-CN train':<34}{'zh-CN test %':>14}{'zh-TW %':>10}{'train s':>9}")
    for fold, cn, tw, secs in results:
        print(f"{('with' if fold else 'without') + ' t2s folding':<34}{cn:>14.2f}{tw:>10.2f}{secs:>9.1f}")
    print(f"\nen-US train -> en-US test: {en:.2f} %  (60 intents)")


if __name__ == "__main__":
    main()
