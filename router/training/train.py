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
import json
import pickle
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from router.classify import MODEL_FORMAT, Classifier
from router.errors import DataError
from router.training.dataset import Example, data_hash
from router.understand import compromise

DEFAULT_PARAMS: dict[str, Any] = {
    "word_ngrams": (1, 2),
    "char_ngrams": (1, 4),
    "char_min_df": 2,
    "C": 1.0,
    "calibration_folds": 5,
}
SECURITY_RECALL_TARGET = 0.98
# At most this share of non-security mail may go to security or review to reach it.
SECURITY_COST_CAP = 0.08
# And at most this share may go to review through the security review band (a
# reviewer's minute is cheaper than a security analyst's escalation).  The band
# takes the narrowest edge that reaches the recall target; the cap only stops a
# band that would read most mail.  At 10 % it bound below the target (CV recall
# 0.971 on 3,958 mails), so the 0.98 that issue 12 asks for gave way to a cost
# limit of our own making; 15 % lets the band reach it.
REVIEW_COST_CAP = 0.15

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


# The grids reach past the corpus's best: at 3,638 mails writer-out CV chose
# the fast C=2 and the careful (2, 2), at 4,258 the fast C=4 and the careful
# (4, 2), each on the edge of the grid then, so the grids now reach C=8.  The
# first entry of each is the default when the search is off; after it come the
# latest winners, because a grid cut by the time budget keeps its head (_oof).
# Candidates that never won on this corpus (C=0.5, embedding weight 1) are gone:
# every configuration costs a fit in each writer-out fold (41 on the shipped corpus).
FAST_GRID: tuple[float, ...] = (1.0, 4.0, 2.0, 8.0)  # C of the fast model, most likely first
CAREFUL_GRID: tuple[tuple[float, float], ...] = (
    (1.0, 2.0), (4.0, 2.0), (2.0, 2.0), (8.0, 2.0), (4.0, 4.0),
)  # (C, embedding weight)
# Steps of 0.025 where the zh/en share climbs fastest: with steps of 0.1 the
# 15 % budget fell between 0.5 (6 % of zh/en mail careful) and 0.6 (25 %), so
# the shipped model left most of the budget, and its accuracy, unspent.
CAREFUL_THRESHOLDS: tuple[float, ...] = (0.0, 0.5, 0.525, 0.55, 0.575, 0.6, 0.625, 0.65, 0.675, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.01)
# Budget of ordinary (zh/en) mail the careful model may read: see choose_careful_threshold.
CAREFUL_MAX_SHARE = 0.15
# Seconds for the hyperparameter search: the shipped corpus's 41-fold writer-out
# search takes 25-30 min on two cores, and a first fold slowed by a busy machine
# must not project past the budget and cut the grid (_oof).
DEFAULT_BUDGET_S = 3600.0
CV_CALIBRATION_FOLDS = 3  # inside a CV training fold: fewer fits, same kind of model


def _calibrated(C: float, folds: int, seed: int) -> CalibratedClassifierCV:
    return CalibratedClassifierCV(LinearSVC(C=C, random_state=seed), method="sigmoid", cv=folds)


def _careful_features(tfidf: Any, emb: np.ndarray, weight: float) -> Any:
    import scipy.sparse as sp

    return sp.hstack([sp.csr_matrix(tfidf), sp.csr_matrix(emb * np.float32(weight))], format="csr")


def _writer_splits(y: np.ndarray, groups: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Leave-one-writer-slice-out folds, or None when the data has fewer than 3 slices.

    A fold whose training part lacks a label cannot be fitted; such a slice is skipped.
    """
    names = sorted(set(groups))
    if len(names) < 3:
        return None
    out = []
    labels = set(y)
    for name in names:
        test = np.flatnonzero(groups == name)
        train = np.flatnonzero(groups != name)
        if set(y[train]) == labels:
            out.append((train, test))
    return out or None


def _oof(
    texts: list[str],
    y: np.ndarray,
    emb: np.ndarray | None,
    splits: list[tuple[np.ndarray, np.ndarray]],
    params: dict[str, Any],
    fast_grid: Sequence[float],
    careful_grid: Sequence[tuple[float, float]],
    seed: int,
    budget_s: float,
    say: Progress,
) -> tuple[dict[float, np.ndarray], dict[tuple[float, float], np.ndarray], list[str]]:
    """Out-of-fold probabilities of every configuration, one vectoriser fit per fold.

    The grid is cut after the first fold when the projected time exceeds the budget.
    """
    labels = sorted(set(y))
    n = len(texts)
    fast = {c: np.zeros((n, len(labels))) for c in fast_grid}
    careful = {k: np.zeros((n, len(labels))) for k in (careful_grid if emb is not None else ())}
    notes: list[str] = []
    started = time.monotonic()
    for k, (tr, te) in enumerate(splits):
        features = build_pipeline(params, seed).named_steps["features"]
        Xtr = features.fit_transform([texts[i] for i in tr])
        Xte = features.transform([texts[i] for i in te])
        inner = max(2, min(CV_CALIBRATION_FOLDS, int(min(np.unique(y[tr], return_counts=True)[1]))))
        for c in list(fast):
            fast[c][te] = _fit_proba(_calibrated(c, inner, seed), Xtr, y[tr], Xte, labels)
        for key in list(careful):
            c, w = key
            assert emb is not None
            model = _calibrated(c, inner, seed)
            careful[key][te] = _fit_proba(model, _careful_features(Xtr, emb[tr], w), y[tr], _careful_features(Xte, emb[te], w), labels)
        elapsed = time.monotonic() - started
        say(f"cross-validation fold {k + 1}/{len(splits)} ({elapsed:.0f} s)")
        if k == 0 and len(splits) > 1:
            projected = elapsed * len(splits)
            if projected > budget_s:
                per_config = elapsed / max(1, len(fast) + len(careful))
                keep = max(2, int(budget_s / len(splits) / per_config))
                kept_fast = list(fast)[: max(1, keep // 2)]
                kept_careful = list(careful)[: max(1, keep - len(kept_fast))] if careful else []
                dropped = [f"fast C={c}" for c in fast if c not in kept_fast] + [f"careful C={c} w={w}" for c, w in careful if (c, w) not in kept_careful]
                if dropped:
                    notes.append(f"time budget {budget_s:.0f} s: left out {', '.join(dropped)}")
                fast = {c: fast[c] for c in kept_fast}
                careful = {key: careful[key] for key in kept_careful}
    return fast, careful, notes


def _fit_proba(model: CalibratedClassifierCV, X: Any, y: np.ndarray, Xte: Any, labels: list[str]) -> np.ndarray:
    model.fit(X, y)
    out = np.zeros((Xte.shape[0], len(labels)))
    proba = model.predict_proba(Xte)
    for j, c in enumerate(model.classes_):
        out[:, labels.index(str(c))] = proba[:, j]
    return out


def _scores(y: np.ndarray, proba: np.ndarray, labels: list[str]) -> dict[str, float]:
    pred = np.array(labels)[proba.argmax(axis=1)]
    return {"accuracy": round(float(accuracy_score(y, pred)), 4), "macro_f1": round(float(f1_score(y, pred, average="macro")), 4)}


def _combine(fast: np.ndarray, careful: np.ndarray | None, langs: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """The two-stage prediction: careful rows are unsure or not zh/en."""
    if careful is None:
        return fast, np.zeros(len(fast), dtype=bool)
    hard = (fast.max(axis=1) < threshold) | ~np.isin(langs, ["zh", "en"])
    return np.where(hard[:, None], careful, fast), hard


CAREFUL_TOLERANCE = 0.002  # macro-F1 the careful threshold may give up for speed


def choose_careful_threshold(y: np.ndarray, fast: np.ndarray, careful: np.ndarray, langs: np.ndarray, labels: list[str],
                             max_share: float = CAREFUL_MAX_SHARE, tolerance: float = CAREFUL_TOLERANCE) -> tuple[float, dict[str, Any]]:
    """Smallest threshold within `tolerance` macro-F1 of the best, sending at most `max_share` of zh/en mail careful.

    The careful model's embedder costs about 60-150 ms a mail on this
    class of machine against ~2.5 ms for the fast path, so the share of
    ordinary (zh/en) mail it reads is a budget fixed up front, not a free
    parameter: without it, writer-out CV picks 0.85 and sends 70 % of all
    mail through the embedder for a point of macro-F1.  Mail in other
    languages always goes careful (the char n-grams barely know them).
    Public intent benchmarks lift both (max_share 1, tolerance 0: the most
    accurate threshold, possibly every query careful).
    """
    zh_en = np.isin(langs, ["zh", "en"])
    curve = []  # every threshold's CV figures, kept in the metadata so an analyst sees what the budget costs
    rows = []
    for t in CAREFUL_THRESHOLDS:
        proba, hard = _combine(fast, careful, langs, t)
        ordinary_share = float((hard & zh_en).sum() / max(1, zh_en.sum()))
        f1 = _scores(y, proba, labels)["macro_f1"]
        curve.append({"threshold": t, "macro_f1": f1, "careful_share": round(float(hard.mean()), 4),
                      "careful_share_zh_en": round(ordinary_share, 4)})
        if ordinary_share <= max_share or t == CAREFUL_THRESHOLDS[0]:
            rows.append((t, f1, float(hard.mean()), ordinary_share))
    best = max(r[1] for r in rows)
    t, f1, share, ordinary = next(r for r in rows if r[1] >= best - tolerance)
    return t, {"macro_f1": f1, "careful_share": round(share, 4), "careful_share_zh_en": round(ordinary, 4), "max_share_zh_en": max_share,
               "curve": curve}


def train(
    examples: Sequence[Example],
    params: dict[str, Any] | None = None,
    *,
    seed: int = 0,
    progress: Progress | None = None,
    cv_folds: int = 5,
    extra_metadata: dict[str, Any] | None = None,
    embeddings: str | None = None,
    budget_s: float = DEFAULT_BUDGET_S,
    search: bool = True,
    careful_grid: Sequence[tuple[float, float]] | None = None,
    careful_tolerance: float = CAREFUL_TOLERANCE,
    careful_max_share: float = CAREFUL_MAX_SHARE,
) -> TrainResult:
    """Choose hyperparameters and thresholds by CV, then fit on all the data given.

    Model selection uses leave-one-writer-slice-out CV when the data has
    writer slices (training_data/), else stratified CV; both figures are
    kept in the metadata.  Without an embedding backend the fast model is
    trained alone and the metadata says why.  `careful_grid` replaces the
    careful model's (C, embedding weight) candidates, searched or not: the
    default grid suits a few thousand mails, while short public intent sets
    (BANKING77, MASSIVE) want heavier embedding weights (bench/).
    `careful_tolerance` is the CV macro-F1 the careful threshold may give up
    to spare the careful model work (0: the most accurate threshold);
    `careful_max_share` caps the share of zh/en mail it may send careful.
    """
    say = progress or (lambda _msg: None)
    started = time.monotonic()
    labels = sorted({e.label for e in examples})
    if len(labels) < 2:
        raise DataError(f"need at least two labels to train, found {labels or 'none'}")
    counts = {lab: sum(1 for e in examples if e.label == lab) for lab in labels}
    texts = [e.text for e in examples]
    y = np.array([e.label for e in examples])
    langs = np.array([e.lang for e in examples])
    groups = np.array([e.writer or "" for e in examples])
    ruled = rule_security(texts)
    params = {**DEFAULT_PARAMS, **(params or {})}
    emb, backend_info, fast_only_reason = _embed(texts, embeddings, say)
    folds = min(cv_folds, min(counts.values()))
    cv_metrics: dict[str, Any] = {}
    thresholds = {lab: 0.0 for lab in labels}
    fast_c, careful_key, careful_t, security_t = float(params["C"]), None, 1.01, None
    review_t: float | None = None
    if folds >= 2 and cv_folds > 0 and min(counts.values()) >= 3:
        stratified = list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(texts, y))
        writer = _writer_splits(y, groups)
        selection_name, selection = ("writer_out", writer) if writer else ("stratified", stratified)
        fast_grid = FAST_GRID if search else (fast_c,)
        fixed = (float(params.get("careful_C", CAREFUL_GRID[0][0])), float(params.get("careful_weight", CAREFUL_GRID[0][1])))
        careful_grid = tuple(careful_grid) if careful_grid else (CAREFUL_GRID if search else (fixed,))
        say(f"model selection by {selection_name} CV ({len(selection)} folds)")
        f_oof, c_oof, notes = _oof(texts, y, emb, selection, params, fast_grid, careful_grid, seed, budget_s, say)
        fast_scores = {c: _scores(y, p, labels) for c, p in f_oof.items()}
        careful_scores = {k: _scores(y, p, labels) for k, p in c_oof.items()}
        fast_c = max(fast_scores, key=lambda c: fast_scores[c]["macro_f1"])
        fast_p = f_oof[fast_c]
        careful_p = None
        careful_info: dict[str, Any] = {}
        if careful_scores:
            careful_key = max(careful_scores, key=lambda k: careful_scores[k]["macro_f1"])
            careful_p = c_oof[careful_key]
            careful_t, careful_info = choose_careful_threshold(y, fast_p, careful_p, langs, labels, careful_max_share, careful_tolerance)
        combined, hard = _combine(fast_p, careful_p, langs, careful_t)
        cv_metrics = {
            "selection": selection_name,
            "search": {
                "fast": {f"C={c}": v for c, v in fast_scores.items()},
                "careful": {f"C={c} w={w}": v for (c, w), v in careful_scores.items()},
                "notes": notes,
                **({"careful_threshold": {"threshold": careful_t, **careful_info}} if careful_info else {}),
            },
            selection_name: {
                "fast": fast_scores[fast_c],
                **({"careful": careful_scores[careful_key]} if careful_key else {}),
                "deployed": {**_scores(y, combined, labels), "careful_share": round(float(hard.mean()), 4), "folds": len(selection)},
            },
        }
        threshold_oof = combined
        if selection_name == "writer_out":
            say("stratified CV of the chosen models")
            f2, c2, _ = _oof(texts, y, emb, stratified, params, (fast_c,), [careful_key] if careful_key else [], seed, float("inf"), say)
            comb2, hard2 = _combine(f2[fast_c], c2[careful_key] if careful_key else None, langs, careful_t)
            cv_metrics["stratified"] = {
                "fast": _scores(y, f2[fast_c], labels),
                **({"careful": _scores(y, c2[careful_key], labels)} if careful_key else {}),
                "deployed": {**_scores(y, comb2, labels), "careful_share": round(float(hard2.mean()), 4), "folds": len(stratified)},
            }
            threshold_oof = comb2
        if "security" in labels:
            # Thresholds come from stratified folds even when the models were chosen
            # writer-out: six of the writer slices hold one label each, so holding one
            # out removes most of a class and biases every P(class) of its mails
            # downwards; a threshold fitted to that bias sends half the other mail to
            # security (measured: docs/benchmarks.md).  Writer-out figures are reported.
            security_t, thresholds, sec_info = choose_security(y, threshold_oof, labels, ruled=ruled)
            review_t = choose_security_review(y, threshold_oof, labels, security_t, thresholds, ruled)
            if review_t is not None:
                sec_info = {**sec_info, "review_threshold": review_t, "review_max_cost": REVIEW_COST_CAP,
                            **security_cost(y, threshold_oof, labels, security_t, thresholds, ruled, review_t)}
            cv_metrics["stratified" if selection_name == "writer_out" else selection_name]["security"] = sec_info
            if selection_name == "writer_out":
                cv_metrics["writer_out"]["security"] = security_cost(y, combined, labels, security_t, thresholds, ruled, review_t)
        # Flat figures kept for older readers of the metadata (status, promote).
        chosen = cv_metrics[selection_name]["deployed"]
        cv_metrics.update({"accuracy": chosen["accuracy"], "macro_f1": chosen["macro_f1"], "folds": len(selection)})
        if "security" in cv_metrics[selection_name]:
            s = cv_metrics[selection_name]["security"]
            cv_metrics.update({"security_recall_with_review": s["recall_with_review"], "review_rate": s["review_rate"]})
    say(f"fitting on {len(examples)} examples")
    final_params = {**params, "C": fast_c, "calibration_folds": min(params["calibration_folds"], min(counts.values()))}
    if careful_key is not None:
        final_params.update({"careful_C": careful_key[0], "careful_weight": careful_key[1]})
    pipe = build_pipeline(final_params, seed)
    pipe.fit(texts, y)
    careful_model = None
    if emb is not None and careful_key is not None:
        from router import embeddings as emb_mod
        from router.classify import CarefulModel

        c, w = careful_key
        X = _careful_features(pipe.named_steps["features"].transform(texts), emb, w)
        model = _calibrated(c, final_params["calibration_folds"], seed).fit(X, y)
        careful_model = CarefulModel(classifier=model, weight=w, embedder=emb_mod.backend(backend_info["backend"]))
    elif emb is not None and fast_only_reason is None:
        fast_only_reason = "too few examples per label to choose the careful model by cross-validation"
    metadata = {
        "format": MODEL_FORMAT,
        "model": "careful" if careful_model else "fast",
        "labels": labels,
        "label_counts": counts,
        "n_examples": len(examples),
        "languages": _lang_counts(examples),
        "writers": sorted(set(groups) - {""}),
        "sklearn_version": sklearn.__version__,
        "training_data_hash": data_hash(examples),
        "params": {k: list(v) if isinstance(v, tuple) else v for k, v in final_params.items()},
        "seed": seed,
        "thresholds": thresholds,
        "security_threshold": security_t,
        "security_review_threshold": review_t,
        "security_recall_target": SECURITY_RECALL_TARGET if "security" in labels else None,
        "careful_threshold": careful_t if careful_model else None,
        "careful_params": {"C": careful_key[0], "weight": careful_key[1]} if careful_model and careful_key else None,
        "embeddings": backend_info if careful_model else None,
        "fast_only_reason": None if careful_model else fast_only_reason,
        "cv_metrics": cv_metrics,
        "training_seconds": round(time.monotonic() - started, 1),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    metadata.update(extra_metadata or {})
    metadata["version"] = model_version(metadata)
    return TrainResult(Classifier(pipeline=pipe, metadata=metadata, careful=careful_model), cv_metrics)


def _embed(texts: list[str], spec: str | None, say: Progress) -> tuple[np.ndarray | None, dict[str, str], str | None]:
    """Cached embeddings of every text, or None and the reason the fast model is alone."""
    if not spec:
        return None, {}, "no embedding backend configured (--embeddings none)"
    from router import embeddings

    try:
        inner = embeddings.backend(spec)
    except embeddings.EmbeddingUnavailable as exc:
        return None, {}, str(exc)
    cache = embeddings.CachedEmbedder(inner)
    say(f"embedding {len(texts)} texts with {inner.version} (cached in {cache.path})")
    return cache.embed(texts), {"backend": inner.spec, "version": inner.version}, None


def rule_security(texts: Sequence[str]) -> np.ndarray:
    """Which model texts the daemon calls security by rule, before any model.

    The compromise lexicon (SPEC 2: any sign of compromise is security) runs
    ahead of the model in the daemon, so a security mail it catches is caught
    whatever the model says: the security threshold only has to reach the
    recall target on the rest, instead of flooding the security team with
    general mail to catch what the rules already catch.
    """
    return np.array([compromise.find(t.lower()) is not None for t in texts], dtype=bool)


def choose_security(y: np.ndarray, proba: np.ndarray, labels: list[str], target: float = SECURITY_RECALL_TARGET,
                    ruled: np.ndarray | None = None, max_cost: float = SECURITY_COST_CAP) -> tuple[float, dict[str, float], dict[str, Any]]:
    """Threshold on P(security) plus review thresholds, cheapest in non-security mail.

    Above the security threshold a mail is security whatever its subject
    type.  A security mail counts as caught when a rule or the model calls it
    security or it goes to review.  Every candidate threshold gets the review
    thresholds that reach the target (choose_thresholds); the pair that sends
    the fewest non-security mails to security or review wins.  No pair may
    send more than `max_cost` of the non-security mail there: past that the
    security team drowns in general mail, so the target gives way and the
    recall reached is what the metadata reports.
    """
    sec = labels.index("security")
    p_sec = proba[:, sec]
    is_sec = (y == "security") & (~ruled if ruled is not None else True)
    cands = sorted(set(np.round(np.quantile(p_sec[is_sec], np.linspace(0.0, 0.5, 51)), 4)) | {0.5}) if is_sec.any() else [0.5]
    n_other = max(1, int((y != "security").sum()))
    best: tuple[tuple[bool, float, int], float, dict[str, float]] | None = None
    for t in cands:
        thresholds, _recall, _rate = choose_thresholds(y, proba, labels, target, security_threshold=float(t), ruled=ruled)
        cost = security_cost(y, proba, labels, float(t), thresholds, ruled)
        spent = cost["non_security_to_security"] + cost["non_security_to_review"]
        if spent > max_cost * n_other:
            thresholds = {lab: 0.0 for lab in labels}  # the review thresholds alone cost too much: none
            cost = security_cost(y, proba, labels, float(t), thresholds, ruled)
            spent = cost["non_security_to_security"]
            if spent > max_cost * n_other:
                continue
        # reaching the target first, then recall, then the cheapest
        key = (cost["recall_with_review"] >= target, cost["recall_with_review"] if cost["recall_with_review"] < target else 0.0, -spent)
        if best is None or key > best[0]:
            best = (key, float(t), thresholds)
    if best is None:
        t = 0.5
        thresholds = {lab: 0.0 for lab in labels}
    else:
        _, t, thresholds = best
    return t, thresholds, {"threshold": t, "max_cost": max_cost, **security_cost(y, proba, labels, t, thresholds, ruled)}


def choose_security_review(y: np.ndarray, proba: np.ndarray, labels: list[str], security_threshold: float,
                           thresholds: dict[str, float], ruled: np.ndarray | None = None,
                           target: float = SECURITY_RECALL_TARGET, max_cost: float = REVIEW_COST_CAP) -> float | None:
    """The review band's lower edge on P(security), below the security threshold.

    Mails in the band go to review: a person, not the security team, reads
    them.  The highest edge that reaches the recall target wins; when no edge
    within `max_cost` (share of non-security mail sent to review) reaches it,
    the lowest edge within the cap, which catches the most.  None when no
    security mail is left to catch or no edge fits the cap.
    """
    if "security" not in labels:
        return None
    p_sec = proba[:, labels.index("security")]
    base = security_cost(y, proba, labels, security_threshold, thresholds, ruled)
    if base["recall_with_review"] >= target:
        return None
    pred, _conf = _decided(proba, labels, security_threshold)
    if ruled is not None:
        pred = np.where(ruled, "security", pred)
    missed = (y == "security") & (pred != "security") & (p_sec < security_threshold)
    cands = sorted({round(float(v), 4) for v in p_sec[missed]}, reverse=True)
    n_other = max(1, int((y != "security").sum()))
    chosen = None
    for r in cands:
        cost = security_cost(y, proba, labels, security_threshold, thresholds, ruled, review_threshold=r)
        if cost["non_security_to_review"] > max_cost * n_other:
            break
        chosen = r
        if cost["recall_with_review"] >= target:
            break
    return chosen


def _decided(proba: np.ndarray, labels: list[str], security_threshold: float | None) -> tuple[np.ndarray, np.ndarray]:
    """(predicted label, its probability) with the security override applied."""
    pred_idx = proba.argmax(axis=1)
    if security_threshold is not None and "security" in labels:
        sec = labels.index("security")
        pred_idx = np.where(proba[:, sec] >= security_threshold, sec, pred_idx)
    return np.array(labels)[pred_idx], proba[np.arange(len(proba)), pred_idx]


def security_cost(y: np.ndarray, proba: np.ndarray, labels: list[str], security_threshold: float | None, thresholds: dict[str, float],
                  ruled: np.ndarray | None = None, review_threshold: float | None = None) -> dict[str, Any]:
    """Security recall counting review (and the compromise rules), and what it costs in other mail."""
    pred, conf = _decided(proba, labels, security_threshold)
    if ruled is not None:
        pred = np.where(ruled, "security", pred)
    review = np.array([p != "security" and c < thresholds.get(p, 0.0) for p, c in zip(pred, conf)], dtype=bool)
    if review_threshold is not None and "security" in labels:
        review |= (pred != "security") & (proba[:, labels.index("security")] >= review_threshold)
    is_sec = y == "security"
    caught = is_sec & ((pred == "security") | review)
    return {
        "recall_with_review": round(float(caught.sum() / max(1, is_sec.sum())), 4),
        "recall_without_review": round(float((is_sec & (pred == "security")).sum() / max(1, is_sec.sum())), 4),
        "non_security_to_security": int((~is_sec & (pred == "security")).sum()),
        "non_security_to_review": int((~is_sec & review).sum()),
        "non_security": int((~is_sec).sum()),
        "review_rate": round(float(review.mean()), 4),
    }


# Metadata that changes what a model decides beyond its data and parameters:
# two models trained on the same data with another --careful-tolerance or
# --careful-max-share differ only in their careful threshold, and must not
# share a version (a correction or a decision record names the model by it).
_DECIDING_METADATA = ("seed", "thresholds", "security_threshold", "security_review_threshold",
                      "careful_threshold", "careful_params", "embeddings")


def model_version(metadata: dict[str, Any]) -> str:
    """A short id that changes with the data, the parameters, the library or any threshold the model decides by."""
    h = hashlib.sha256()
    h.update(metadata["training_data_hash"].encode())
    h.update(repr(sorted(metadata["params"].items())).encode())
    h.update(metadata["sklearn_version"].encode())
    deciding = {k: metadata.get(k) for k in _DECIDING_METADATA}
    h.update(json.dumps(deciding, sort_keys=True, default=str).encode())
    return "m-" + h.hexdigest()[:10]


def choose_thresholds(
    y: np.ndarray, proba: np.ndarray, labels: list[str], target: float = SECURITY_RECALL_TARGET,
    security_threshold: float | None = None, ruled: np.ndarray | None = None,
) -> tuple[dict[str, float], float, float]:
    """Per-class review thresholds keeping security recall >= target.

    A security message counts as caught when it is predicted security or
    sent to review (a person reads it).  A prediction of another class below
    that class's threshold goes to review.  Thresholds are raised greedily,
    each step taking the class where catching one more missed security
    message sends the fewest other messages to review.
    """
    pred, conf = _decided(proba, labels, security_threshold)
    if ruled is not None:  # called security by a rule before the model: caught
        pred = np.where(ruled, "security", pred)
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
