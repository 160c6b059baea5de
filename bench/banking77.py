"""BANKING77 through the router's own training code path: fast vs careful.

The fast TF-IDF model and the two-stage model (TF-IDF, then TF-IDF joined
with weighted multilingual-e5-small embeddings for the mails it is unsure
about) are trained on train.csv (10,003 queries, 77 intents) exactly as
`router train` trains them; the careful model's (C, embedding weight) is
chosen among the candidates by stratified CV on the training split only.
Scored on test.csv (3,080 queries) beside the published results of
Casanueva et al. 2020.  The CLI equivalent:

    router train --no-corrections --no-search --data $D/banking77/train.csv --out b77.joblib \\
        --careful-C 0.5 --careful-weight 4 6 --cv-folds 3 --careful-tolerance 0 --careful-max-share 1
    router evaluate --model b77.joblib --data $D/banking77/test.csv

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/banking77.py [--fast-only]

Embedding the 13,083 queries the first time takes 10-15 minutes on two busy
cores (then they come from ~/.cache/router/embeddings.sqlite).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from intents import fit_both, machine, parse_args, table

from router.training import dataset

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "banking77"
PUBLISHED = [
    ("BERT-Fixed", 87.19),
    ("USE", 92.81),
    ("ConveRT", 93.01),
    ("USE+ConveRT", 93.36),
    ("BERT-Large (fine-tuned)", 93.66),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    args = parse_args(ap, DATA, "BANKING77", [0.5], [4.0, 6.0])
    tr = dataset.load([args.data / "train.csv"], "text", "category")
    te = dataset.load([args.data / "test.csv"], "text", "category")
    grid = [(c, w) for c in args.careful_C for w in args.careful_weight]
    print(machine())
    print(f"train {len(tr)} / test {len(te)} queries; careful candidates (C, w) {grid} by {args.cv_folds}-fold CV on train")
    print()
    models = fit_both(tr, grid, args.cv_folds, args.fast_only, budget_s=7200.0, tolerance=args.careful_tolerance)
    table(models, {"test": te}, args.sample)
    print()
    print(f"{'published (Casanueva et al. 2020)':<44}{'test acc %':>12}")
    for name, score in PUBLISHED:
        print(f"{name:<44}{score:>12.2f}")


if __name__ == "__main__":
    main()
