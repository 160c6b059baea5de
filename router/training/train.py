"""Train the classifier: one scikit-learn Pipeline for Chinese and English.

No segmenter: word uni/bi-grams catch English, character n-grams (within
word boundaries) catch Chinese and misspellings; a linear SVM is calibrated
with sigmoid scaling so that confidences mean something and per-class review
thresholds can be chosen on them.  Everything is seeded: the same data gives
the same model.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from router.classify import MODEL_FORMAT, Classifier
from router.errors import DataError
from router.training.dataset import Example, data_hash

DEFAULT_PARAMS: dict[str, Any] = {
    "word_ngrams": (1, 2),
    "char_ngrams": (1, 4),
    "char_min_df": 2,
    "C": 1.0,
    "calibration_folds": 5,
}
SECURITY_RECALL_TARGET = 0.98

Progress = Callable[[str], None]


def build_pipeline(params: dict[str, Any], seed: int = 0) -> Pipeline:
    p = {**DEFAULT_PARAMS, **params}
    features = FeatureUnion(
        [
            (
                "word",
                TfidfVectorizer(
                    analyzer="word",
                    token_pattern=r"(?u)\b\w+\b",
                    ngram_range=tuple(p["word_ngrams"]),
                    sublinear_tf=True,
                    lowercase=True,
                    dtype=np.float32,
                ),
            ),
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=tuple(p["char_ngrams"]),
                    min_df=p["char_min_df"],
                    sublinear_tf=True,
                    lowercase=True,
                    dtype=np.float32,
                ),
            ),
        ]
    )
    svm = LinearSVC(C=p["C"], random_state=seed)
    clf = CalibratedClassifierCV(svm, method="sigmoid", cv=p["calibration_folds"])
    return Pipeline([("features", features), ("clf", clf)])


@dataclass
class TrainResult:
    classifier: Classifier
    cv_metrics: dict[str, Any]


def train(
    examples: Sequence[Example],
    params: dict[str, Any] | None = None,
    *,
    seed: int = 0,
    progress: Progress | None = None,
    cv_folds: int = 5,
    extra_metadata: dict[str, Any] | None = None,
) -> TrainResult:
    """Fit the pipeline; choose review thresholds by cross-validation."""
    say = progress or (lambda _msg: None)
    labels = sorted({e.label for e in examples})
    if len(labels) < 2:
        raise DataError(f"need at least two labels to train, found {labels or 'none'}")
    counts = {lab: sum(1 for e in examples if e.label == lab) for lab in labels}
    texts = [e.text for e in examples]
    y = np.array([e.label for e in examples])
    params = {**DEFAULT_PARAMS, **(params or {})}
    folds = min(cv_folds, min(counts.values()))
    if min(counts.values()) < 3:
        folds = 0  # too few examples per class to cross-validate or calibrate within folds
    cv_metrics: dict[str, Any] = {}
    thresholds = {lab: 0.0 for lab in labels}
    if folds >= 2 and cv_folds > 0:
        say(f"cross-validating ({folds} folds)")
        # Calibration runs inside each CV training fold, which holds fewer examples per class.
        inner = max(2, min(params["calibration_folds"], min(counts.values()) * (folds - 1) // folds))
        pipe = build_pipeline({**params, "calibration_folds": inner}, seed)
        skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        proba = cross_val_predict(pipe, texts, y, cv=skf, method="predict_proba")
        pred = np.array(labels)[proba.argmax(axis=1)]
        cv_metrics = {
            "accuracy": float(accuracy_score(y, pred)),
            "macro_f1": float(f1_score(y, pred, average="macro")),
            "folds": folds,
        }
        if "security" in labels:
            thresholds, recall, review_rate = choose_thresholds(y, proba, labels)
            cv_metrics.update({"security_recall_with_review": recall, "review_rate": review_rate})
    say(f"fitting on {len(examples)} examples")
    pipe = build_pipeline({**params, "calibration_folds": min(params["calibration_folds"], min(counts.values()))}, seed)
    pipe.fit(texts, y)
    metadata = {
        "format": MODEL_FORMAT,
        "labels": labels,
        "label_counts": counts,
        "n_examples": len(examples),
        "languages": _lang_counts(examples),
        "sklearn_version": sklearn.__version__,
        "training_data_hash": data_hash(examples),
        "params": {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()},
        "seed": seed,
        "thresholds": thresholds,
        "security_recall_target": SECURITY_RECALL_TARGET if "security" in labels else None,
        "cv_metrics": cv_metrics,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    metadata.update(extra_metadata or {})
    metadata["version"] = model_version(pipe, metadata)
    return TrainResult(Classifier(pipeline=pipe, metadata=metadata), cv_metrics)


def model_version(pipe: Pipeline, metadata: dict[str, Any]) -> str:
    """A short id that changes with the data, the parameters or the library."""
    h = hashlib.sha256()
    h.update(metadata["training_data_hash"].encode())
    h.update(repr(sorted(metadata["params"].items())).encode())
    h.update(metadata["sklearn_version"].encode())
    return "m-" + h.hexdigest()[:10]


def choose_thresholds(
    y: np.ndarray, proba: np.ndarray, labels: list[str], target: float = SECURITY_RECALL_TARGET
) -> tuple[dict[str, float], float, float]:
    """Per-class review thresholds keeping security recall >= target.

    A security message counts as caught when it is predicted security or
    sent to review (a person reads it).  A prediction of another class below
    that class's threshold goes to review.  Thresholds are raised greedily,
    each step taking the class where catching one more missed security
    message sends the fewest other messages to review.
    """
    conf = proba.max(axis=1)
    pred = np.array(labels)[proba.argmax(axis=1)]
    is_sec = y == "security"
    total = int(is_sec.sum())
    thresholds = {lab: 0.0 for lab in labels}
    if total == 0:
        return thresholds, 1.0, 0.0

    def missed() -> np.ndarray:
        m = np.zeros(len(y), dtype=bool)
        for lab in labels:
            if lab != "security":
                m |= (pred == lab) & (conf >= thresholds[lab])
        return m & is_sec

    while (total - int(missed().sum())) / total < target:
        best: tuple[float, str, float] | None = None
        for lab in labels:
            if lab == "security":
                continue
            cands = conf[(pred == lab) & is_sec & (conf >= thresholds[lab])]
            if not len(cands):
                continue
            new_t = float(np.nextafter(cands.min(), 1.0))
            cost = int(((pred == lab) & ~is_sec & (conf >= thresholds[lab]) & (conf < new_t)).sum())
            if best is None or cost < best[0]:
                best = (cost, lab, new_t)
        if best is None:
            break
        thresholds[best[1]] = best[2]
    caught = (total - int(missed().sum())) / total
    review = np.zeros(len(y), dtype=bool)
    for lab in labels:
        review |= (pred == lab) & (conf < thresholds[lab])
    return {k: round(v, 6) for k, v in thresholds.items()}, float(caught), float(review.mean())


def _lang_counts(examples: Sequence[Example]) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in examples:
        out[e.lang] = out.get(e.lang, 0) + 1
    return out


def fingerprint(clf: Classifier) -> str:
    """Hash of the fitted pipeline's pickled bytes (for reproducibility checks)."""
    buf = io.BytesIO()
    pickle.dump(clf.pipeline, buf, protocol=4)
    return hashlib.sha256(buf.getvalue()).hexdigest()
