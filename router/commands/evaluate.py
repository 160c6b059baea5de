"""`router evaluate`: metrics of a model on labelled data, or of the whole pipeline on evaluation/triage/."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from router import classify
from router.commands.common import load_settings, print_json
from router.config import Settings
from router.training import dataset
from router.training.evaluate import (
    evaluate,
    evaluate_corrections,
    format_report,
    plot_confusion,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="measure a model on labelled data",
        description="Accuracy, macro-F1, per-class and per-language report and confusion matrix. "
        "On evaluation/triage/ (rows with buried_security, eml.jsonl) the whole decision pipeline is scored. "
        "On the model's own training data the cross-validated figures (stratified and writer-out) are shown. "
        "Default data: the model's held-out split, else its training data.",
    )
    p.add_argument("--model", type=Path, metavar="MODEL", help="model file (default: [model] path)")
    p.add_argument("--data", nargs="+", type=Path, metavar="PATH", help="labelled data (default: the model's held-out split)")
    p.add_argument("--text-column", default="text", metavar="C")
    p.add_argument("--label-column", default="label", metavar="C")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--plot", type=Path, metavar="PNG", help="draw the confusion matrix to this PNG file")
    p.set_defaults(func=run)


def evaluation_examples(settings: Settings, clf: classify.Classifier, paths: list[Path] | None, text_column: str, label_column: str) -> list[dataset.Example]:
    """--data as given, else the held-out split the model was not trained on (else its training data)."""
    if paths:
        return dataset.load(paths, text_column, label_column)
    fraction = float(clf.metadata.get("holdout_fraction", 0.2))
    data_paths = [Path(p) for p in clf.metadata.get("data_paths", [])] or [settings.training_data]
    data_paths = [p if p.exists() else settings.training_data for p in data_paths]
    examples = dataset.load(data_paths, clf.metadata.get("text_column", "text"), clf.metadata.get("label_column", "label"))
    if fraction <= 0:
        return examples
    _, held = dataset.split(examples, fraction)
    return held + (dataset.load(list(settings.evaluation_data)) if settings.evaluation_data else [])


def cv_figures(clf: classify.Classifier) -> dict[str, Any]:
    """The cross-validated estimates kept in the model's metadata by `router train`."""
    cv = clf.metadata.get("cv_metrics") or {}
    return {k: cv[k] for k in ("selection", "stratified", "writer_out") if k in cv}


def format_cv(cv: dict[str, Any]) -> str:
    lines = ["cross-validated estimate (the model was trained on this data; in-sample figures below are not an estimate):"]
    for name in ("stratified", "writer_out"):
        if name not in cv:
            continue
        d = cv[name]
        for stage in ("fast", "careful", "deployed"):
            if stage in d:
                v = d[stage]
                extra = f"  careful share={v['careful_share']:.3f}" if "careful_share" in v else ""
                lines.append(f"  {name.replace('_', '-'):<11} {stage:<9} accuracy={v['accuracy']:.4f} macro-F1={v['macro_f1']:.4f}{extra}")
        if "security" in d:
            s = d["security"]
            lines.append(f"  {name.replace('_', '-'):<11} security recall counting review={s['recall_with_review']:.4f}; "
                         f"{s['non_security_to_security']} non-security to security, {s['non_security_to_review']} to review "
                         f"(of {s['non_security']})")
    if cv.get("selection"):
        lines.append(f"  (hyperparameters and thresholds chosen by {cv['selection'].replace('_', '-')} CV)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    clf = classify.load(args.model or settings.model_path)
    if args.data:
        from router.training import triage_eval

        if triage_eval.is_triage_set(args.data):
            to = next(iter(settings.own_addresses), "support@exchange.example")
            m = triage_eval.evaluate_triage(settings, clf, triage_eval.load_cases(args.data, to))
            print_json(m) if args.json else print(triage_eval.format_triage(m))
            return 0
    examples = evaluation_examples(settings, clf, args.data, args.text_column, args.label_column)
    metrics = evaluate(clf, examples)
    if dataset.data_hash([e for e in examples if e.source != "corrections"]) == clf.metadata.get("training_data_hash") or (
        not args.data and float(clf.metadata.get("holdout_fraction", 0.2)) <= 0
    ):
        metrics["cross_validation"] = cv_figures(clf)
    metrics["corrections"] = evaluate_corrections(clf, settings.state_path)
    if args.plot:
        plot_confusion(metrics, args.plot)
    if args.json:
        print_json(metrics)
    else:
        if metrics.get("cross_validation"):
            print(format_cv(metrics["cross_validation"]))
            print()
        print(format_report(metrics))
        if args.plot:
            print(f"\nconfusion matrix drawn to {args.plot}")
    return 0
