"""MASSIVE zh-CN / zh-TW / en-US through the router's own training code path: fast vs careful.

A model trained on zh-CN train (11,514 utterances, 60 intents) is scored on
zh-CN test and on all of zh-TW (Traditional Chinese, folded to Simplified by
`router.classify.model_text` as in the daemon: the model never saw
Traditional text); a model trained on en-US train is scored on en-US test.
Each is trained twice as `router train` trains it: the fast TF-IDF model
alone, and the two-stage model whose careful (C, embedding weight) is chosen
by stratified CV on the training split only.  The CLI equivalent:

    router train --no-corrections --no-search --data $D/massive/zh-CN/train.csv --out mzh.joblib \\
        --careful-C 0.5 1 --careful-weight 2 4 --cv-folds 3 --careful-tolerance 0 --careful-max-share 1
    router evaluate --model mzh.joblib --data $D/massive/zh-CN/test.csv
    router evaluate --model mzh.joblib --data $D/massive/zh-TW/train.csv

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/massive.py [--locale zh-CN|en-US] [--fast-only]

The first run embeds about 40,000 utterances (30-40 minutes on two busy
cores); later runs read them from ~/.cache/router/embeddings.sqlite.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from intents import fit_both, machine, parse_args, table

from router.training import dataset

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "massive"
TESTS = {"zh-CN": [("zh-CN", "test"), ("zh-TW", "train")], "en-US": [("en-US", "test")]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--locale", choices=sorted(TESTS), action="append", help="training locale (default: both)")
    args = parse_args(ap, DATA, "MASSIVE", [0.5, 1.0], [2.0, 4.0])
    grid = [(c, w) for c in args.careful_C for w in args.careful_weight]
    print(machine())
    print(f"careful candidates (C, w) {grid} by {args.cv_folds}-fold CV on each training split")
    for locale in args.locale or sorted(TESTS, reverse=True):
        tr = dataset.load([args.data / locale / "train.csv"])
        tests = {f"{loc} {split}": dataset.load([args.data / loc / f"{split}.csv"]) for loc, split in TESTS[locale]}
        print(f"\n{locale} train ({len(tr)} utterances, {len({e.label for e in tr})} intents)")
        models = fit_both(tr, grid, args.cv_folds, args.fast_only, budget_s=7200.0, tolerance=args.careful_tolerance)
        table(models, tests, args.sample)


if __name__ == "__main__":
    main()
