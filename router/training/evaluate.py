"""Evaluate a model on labelled examples: a pure function returning metrics.

Besides accuracy and macro-F1, it reports per-class and per-language figures
and, for the router's three categories, what the review thresholds do:
how many messages go to review and how many security messages are caught.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from router.classify import Classifier
from router.training.dataset import Example


@contextmanager
def cached_embeddings(clf: Classifier) -> Iterator[None]:
    """The careful model reads the on-disk embedding cache while labelled data is scored.

    Evaluation sets are scored again and again (MASSIVE zh-TW: 11,514
    queries, ~10 minutes to embed on two busy cores); the vectors are the
    same, so only the first run pays.  The daemon keeps embedding afresh.
    """
    careful = clf.careful
    if careful is None or hasattr(careful.embedder, "inner"):
        yield
        return
    from router import embeddings

    inner = careful.embedder
    careful.embedder = embeddings.CachedEmbedder(inner)
    try:
        yield
    finally:
        careful.embedder = inner


def evaluate(clf: Classifier, examples: Sequence[Example]) -> dict[str, Any]:
    texts = [e.text for e in examples]
    y = [e.label for e in examples]
    with cached_embeddings(clf):
        preds = clf.predict_texts(texts, [e.lang for e in examples])
    p = [pr.category for pr in preds]
    labels = sorted(set(y) | set(clf.labels))
    prec, rec, f1, sup = precision_recall_fscore_support(y, p, labels=labels, zero_division=0)
    result: dict[str, Any] = {
        "model_version": clf.version,
        "n": len(examples),
        "accuracy": float(accuracy_score(y, p)),
        "macro_f1": float(f1_score(y, p, labels=sorted(set(y)), average="macro", zero_division=0)),
        "labels": labels,
        "per_class": {
            lab: {"precision": float(prec[i]), "recall": float(rec[i]), "f1": float(f1[i]), "support": int(sup[i])}
            for i, lab in enumerate(labels)
        },
        "confusion": confusion_matrix(y, p, labels=labels).tolist(),
        "per_language": _per_language(examples, p),
        "stages": {s: sum(1 for pr in preds if pr.stage == s) for s in sorted({pr.stage for pr in preds})},
    }
    below = np.array([pr.below_threshold or pr.security_review for pr in preds])
    result["review_rate"] = float(below.mean()) if len(below) else 0.0
    if "security" in labels:
        sec = np.array([t == "security" for t in y])
        caught = sec & (np.array([c == "security" for c in p]) | below)
        result["security_recall_with_review"] = float(caught.sum() / sec.sum()) if sec.sum() else None
    return result


def _per_language(examples: Sequence[Example], preds: list[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for lang in sorted({e.lang for e in examples}):
        idx = [i for i, e in enumerate(examples) if e.lang == lang]
        y = [examples[i].label for i in idx]
        p = [preds[i] for i in idx]
        out[lang] = {
            "n": len(idx),
            "accuracy": float(accuracy_score(y, p)),
            "macro_f1": float(f1_score(y, p, labels=sorted(set(y)), average="macro", zero_division=0)),
        }
    return out


def format_report(m: dict[str, Any]) -> str:
    lines = [
        f"model {m['model_version']}  n={m['n']}  accuracy={m['accuracy']:.4f}  macro-F1={m['macro_f1']:.4f}",
    ]
    if m.get("security_recall_with_review") is not None:
        lines.append(f"security recall (with review)={m['security_recall_with_review']:.4f}  review rate={m['review_rate']:.4f}")
    if m.get("stages"):
        lines.append("decided by: " + ", ".join(f"{k or 'fast'} {v}" for k, v in m["stages"].items()))
    lines.append("")
    lines.append(f"{'class':<24}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}")
    for lab, v in m["per_class"].items():
        lines.append(f"{lab:<24}{v['precision']:>10.4f}{v['recall']:>10.4f}{v['f1']:>10.4f}{v['support']:>9}")
    lines.append("")
    lines.append(f"{'language':<24}{'accuracy':>10}{'macro-F1':>10}{'n':>9}")
    for lang, v in m["per_language"].items():
        lines.append(f"{lang:<24}{v['accuracy']:>10.4f}{v['macro_f1']:>10.4f}{v['n']:>9}")
    if len(m["labels"]) <= 12:
        lines.append("")
        lines.append("confusion (rows: true, columns: predicted)")
        width = max(len(lab) for lab in m["labels"]) + 2
        lines.append(" " * width + "".join(f"{lab[:10]:>12}" for lab in m["labels"]))
        for lab, row in zip(m["labels"], m["confusion"]):
            lines.append(f"{lab:<{width}}" + "".join(f"{v:>12}" for v in row))
    for section in ("corrections",):
        if section in m:
            c = m[section]
            acc = f"{c['accuracy']:.4f}" if c.get("accuracy") is not None else "n/a"
            lines.append("")
            lines.append(f"corrections: n={c['n']} accuracy={acc} "
                         f"(analysts' corrections recorded after the model was made{' (' + c['since'] + ')' if c.get('since') else ''}, "
                         "so not in its training data)")
    return "\n".join(lines)


def plot_confusion(m: dict[str, Any], out: Path) -> None:
    """Draw the confusion matrix to a PNG with matplotlib (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, cm = m["labels"], np.array(m["confusion"])
    size = max(5.0, 0.45 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels=labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels=labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{m['model_version']} (n={m['n']})\naccuracy {m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f}", fontsize=10)
    if len(labels) <= 20:
        top = cm.max() or 1
        for i in range(len(labels)):
            for j in range(len(labels)):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", color="white" if cm[i, j] > top / 2 else "black")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def evaluate_corrections(clf: Classifier, state_path: Path) -> dict[str, Any]:
    """Accuracy on the analysts' corrections the model has not seen (drift).

    Only corrections recorded after the model was made (its `created` time,
    and after the newest correction it was trained on) count: older ones
    may be in its training data.
    """
    import datetime as dt

    from router.training.dataset import corrections

    created = clf.metadata.get("created")
    since: float | None = None
    if created:
        try:
            since = dt.datetime.fromisoformat(str(created)).timestamp()
        except ValueError:
            since = None
    until = clf.metadata.get("corrections_until")
    if until is not None:
        since = max(since or 0.0, float(until))
    examples, _skipped = corrections(state_path, clf.labels or None, since=since)
    out: dict[str, Any] = {
        "n": len(examples),
        "accuracy": None,
        "since": created,
        "note": "corrections recorded after the model was made (not in its training data)",
    }
    if examples:
        preds = clf.predict_texts([e.text for e in examples])
        out["accuracy"] = float(np.mean([p.category == e.label for p, e in zip(preds, examples)]))
    return out
