"""`router train`: fit a model on labelled data and write it with metadata."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from router import classify
from router.commands.common import load_settings
from router.training import dataset
from router.training.train import train

DEFAULT_HOLDOUT = 0.2


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a model from labelled data",
        description="Train from training_data/ (default) or --data files: CSV or JSONL with a text and a label column, or folders of .eml per label. "
        "A deterministic share of the data (--holdout) is kept out for `router evaluate` and `router promote`.",
    )
    p.add_argument("--data", nargs="+", type=Path, metavar="PATH", help="data files or folders (default: [model] training_data)")
    p.add_argument("--text-column", default="text", metavar="C", help="text column (default: text)")
    p.add_argument("--label-column", default="label", metavar="C", help="label column (default: label)")
    p.add_argument("--out", type=Path, metavar="MODEL", help="model file to write (default: candidate.joblib beside the configured model)")
    p.add_argument("--holdout", type=float, default=DEFAULT_HOLDOUT, metavar="F", help="fraction kept out for evaluation (default 0.2; 0 trains on everything)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-corrections", action="store_true",
                   help="leave out the analysts' corrections recorded in the state store (included by default)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    settings = load_settings(args)
    if not 0 <= args.holdout < 1:
        raise SystemExit("router: error: --holdout must be in [0, 1)")
    paths = args.data or [settings.training_data]
    out = args.out or settings.model_path.with_name("candidate.joblib")
    bar = tqdm(total=4, desc="train", unit="step", file=sys.stderr, disable=args.no_progress, leave=True)
    bar.set_postfix_str("loading data")
    examples = dataset.load(paths, args.text_column, args.label_column)
    train_set, held = dataset.split(examples, args.holdout)
    # Analysts' corrections are always trained on (never held out): they are few and are
    # exactly what the model got wrong.  Only categories the data knows are used.
    fixes, skipped = ([], 0) if args.no_corrections else dataset.corrections(settings.state_path, {e.label for e in examples})
    train_set += fixes
    bar.update(1)

    def progress(msg: str) -> None:
        bar.set_postfix_str(msg)
        bar.update(1)

    result = train(
        train_set,
        seed=args.seed,
        progress=progress,
        extra_metadata={
            "holdout_fraction": args.holdout,
            "holdout_n": len(held),
            "data_paths": [str(p) for p in paths],
            "text_column": args.text_column,
            "label_column": args.label_column,
            "n_corrections": len(fixes),
            "corrections_until": max((e.ts for e in fixes), default=None),
            "corrections_included": not args.no_corrections,
        },
    )
    if held:
        from router.training.evaluate import evaluate

        m = evaluate(result.classifier, held)
        result.classifier.metadata["holdout_metrics"] = {k: m[k] for k in ("n", "accuracy", "macro_f1", "per_language", "security_recall_with_review", "review_rate") if k in m}
    bar.set_postfix_str("saving")
    classify.save(result.classifier, out)
    bar.update(bar.total - bar.n)
    bar.close()
    meta = result.classifier.metadata
    cv = result.cv_metrics
    print(f"wrote {out} (version {meta['version']}, {len(train_set)} examples, {len(meta['labels'])} labels, {len(held)} held out)")
    if args.no_corrections:
        print("corrections: left out (--no-corrections)")
    else:
        print(f"corrections: {len(fixes)} used from the state store {settings.state_path}"
              + (f" ({skipped} skipped: their category is not a label of this data)" if skipped else ""))
    if cv:
        print(f"cross-validation: accuracy={cv['accuracy']:.4f} macro-F1={cv['macro_f1']:.4f}")
    if meta.get("holdout_metrics"):
        h = meta["holdout_metrics"]
        print(f"held-out split: accuracy={h['accuracy']:.4f} macro-F1={h['macro_f1']:.4f} (n={h['n']}; `router evaluate` shows the full report)")
    if any(meta["thresholds"].values()):
        print("review thresholds: " + ", ".join(f"{k}={v:.3f}" for k, v in meta["thresholds"].items()))
    return 0
