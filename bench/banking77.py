"""BANKING77 through the router's own training code path.

Hyperparameters are chosen by 3-fold cross-validation on the training split
only; the chosen configuration is then trained on the whole training split by
router.training.train.train (the function `router train` calls) and scored on
test.csv (3,080 queries, 77 intents).  Prints a table beside the published
results of Casanueva et al. 2020.

    .venv/bin/python bench/banking77.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold, cross_val_score

from router.training import dataset
from router.training.train import build_pipeline, train

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "banking77"
PUBLISHED = [
    ("BERT-Fixed", 87.19),
    ("USE", 92.81),
    ("ConveRT", 93.01),
    ("USE+ConveRT", 93.36),
    ("BERT-Large (fine-tuned)", 93.66),
]
GRID = [
    {"C": 0.5, "char_ngrams": (1, 4)},
    {"C": 1.0, "char_ngrams": (1, 4)},
    {"C": 1.0, "char_ngrams": (1, 5)},
    {"C": 1.0, "char_ngrams": (1, 4), "char_min_df": 1},
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="skip the CV search, use the router's defaults")
    args = ap.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"BANKING77 not found at {DATA} (../shared/datasets beside the checkout)")
    tr = dataset.load([DATA / "train.csv"], "text", "category")
    te = dataset.load([DATA / "test.csv"], "text", "category")
    X, y = [e.text for e in tr], [e.label for e in tr]

    chosen: dict = {}
    search_s = 0.0
    if not args.quick:
        t0 = time.perf_counter()
        skf = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
        best = -1.0
        for params in GRID:
            score = cross_val_score(build_pipeline({**params, "calibration_folds": 3}), X, y, cv=skf, n_jobs=2).mean()
            print(f"  cv {params}: {score * 100:.2f}", flush=True)
            if score > best:
                best, chosen = score, params
        search_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    clf = train(tr, chosen, seed=0, cv_folds=0).classifier
    train_s = time.perf_counter() - t0
    texts = [e.text for e in te]
    t0 = time.perf_counter()
    preds = clf.predict_texts(texts)
    pred_s = time.perf_counter() - t0
    acc = float(np.mean([p.category == e.label for p, e in zip(preds, te)])) * 100

    print()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"train {len(tr)} / test {len(te)} queries, {len(clf.labels)} intents; chosen by 3-fold CV on train: {chosen or 'defaults'} (search {search_s:.0f} s)")
    print()
    print(f"{'model':<40}{'accuracy %':>12}")
    for name, score in PUBLISHED:
        print(f"{name + ' (Casanueva et al. 2020)':<40}{score:>12.2f}")
    print(f"{'router (word+char tf-idf, calibrated SVM)':<40}{acc:>12.2f}")
    print()
    print(f"training time: {train_s:.1f} s   predictions: {len(texts) / pred_s:,.0f} /s")


if __name__ == "__main__":
    main()
