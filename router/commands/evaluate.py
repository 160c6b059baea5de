"""`router evaluate`: metrics of a model on labelled data."""

from __future__ import annotations

import argparse
from pathlib import Path

from router import classify
from router.commands.common import load_settings, print_json
from router.config import Settings
from router.training import dataset
from router.training.evaluate import evaluate, evaluate_corrections, format_report, plot_confusion


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="measure a model on labelled data",
        description="Accuracy, macro-F1, per-class and per-language report and confusion matrix. "
        "Default data: the held-out split of training_data/ that the model was not trained on.",
    )
    p.add_argument("--model", type=Path, metavar="MODEL", help="model file (default: [model] path)")
    p.add_argument("--data", nargs="+", type=Path, metavar="PATH", help="labelled data (default: the model's held-out split)")
    p.add_argument("--text-column", default="text", metavar="C")
    p.add_argument("--label-column", default="label", metavar="C")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plot", type=Path, metavar="PNG", help="draw the confusion matrix to this PNG file")
    p.set_defaults(func=run)


def evaluation_examples(settings: Settings, clf: classify.Classifier, paths: list[Path] | None, text_column: str, label_column: str) -> list[dataset.Example]:
    """--data as given, else the held-out split the model was not trained on."""
    if paths:
        return dataset.load(paths, text_column, label_column)
    fraction = float(clf.metadata.get("holdout_fraction", 0.2)) or 0.2
    data_paths = [Path(p) for p in clf.metadata.get("data_paths", [])] or [settings.training_data]
    data_paths = [p if p.exists() else settings.training_data for p in data_paths]
    examples = dataset.load(data_paths, clf.metadata.get("text_column", "text"), clf.metadata.get("label_column", "label"))
    _, held = dataset.split(examples, fraction)
    return held + (dataset.load(list(settings.evaluation_data)) if settings.evaluation_data else [])


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    clf = classify.load(args.model or settings.model_path)
    examples = evaluation_examples(settings, clf, args.data, args.text_column, args.label_column)
    metrics = evaluate(clf, examples)
    metrics["corrections"] = evaluate_corrections(clf, settings.state_path)
    if args.plot:
        plot_confusion(metrics, args.plot)
    if args.json:
        print_json(metrics)
    else:
        print(format_report(metrics))
        if args.plot:
            print(f"\nconfusion matrix drawn to {args.plot}")
    return 0
