"""`router promote MODEL`: make a model current, only if it is not worse."""

from __future__ import annotations

import argparse
from pathlib import Path

from router import classify
from router.commands.common import load_settings
from router.commands.evaluate import evaluation_examples
from router.errors import ModelError, RouterError
from router.training.evaluate import evaluate

COMPARED = ("macro_f1", "accuracy", "security_recall_with_review")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "promote",
        help="make a trained model the one the daemon uses",
        description="Evaluate MODEL and the current model on the same evaluation set; copy MODEL to the configured path only if it is not worse.",
    )
    p.add_argument("model", type=Path, metavar="MODEL")
    p.add_argument("--force", action="store_true", help="promote even if it is worse (the comparison is still printed)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    candidate = classify.load(args.model)
    target = settings.model_path
    examples = evaluation_examples(settings, candidate, None, "text", "label")
    new = evaluate(candidate, examples)
    try:
        current = classify.load(target) if target.exists() else None
    except ModelError as exc:
        print(f"current model unusable ({exc}); promoting")
        current = None
    if current is not None:
        if current.labels != candidate.labels and not args.force:
            raise RouterError(f"label sets differ (current {current.labels}, candidate {candidate.labels}); use --force")
        old = evaluate(current, examples)
        worse = [
            f"{k} {new[k]:.4f} < {old[k]:.4f}"
            for k in COMPARED
            if new.get(k) is not None and old.get(k) is not None and new[k] < old[k] - 1e-9
        ]
        print(f"evaluation set: {new['n']} messages")
        for k in COMPARED:
            if new.get(k) is not None and old.get(k) is not None:
                print(f"  {k:<28} current {old[k]:.4f}  candidate {new[k]:.4f}")
        if worse and not args.force:
            raise RouterError(f"not promoted: candidate is worse than the current model ({'; '.join(worse)})")
    classify.save(candidate, target)
    print(f"promoted {args.model} -> {target} (version {candidate.version})")
    return 0
