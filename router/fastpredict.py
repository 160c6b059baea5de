"""A compiled form of the trained pipeline for one-message-at-a-time scoring.

scikit-learn validates inputs and dispatches through joblib on every call,
which costs ~9 ms when the daemon scores one message (measured with
bench/triage.py). The arithmetic itself is tiny: tf-idf lookups, a few sparse
dot products and sigmoid calibration. This module replays exactly that
arithmetic with numpy and scipy from the fitted objects, and a test checks
that its probabilities equal the pipeline's own.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp


class Vocabulary:
    """A fitted vectorizer's term -> column map, held as three arrays and one bytes object.

    `TfidfVectorizer.vocabulary_` is a dict of about 100,000 str -> int, some
    26 MiB of small Python objects for the two vectorizers.  A forked triage
    worker that looks a term up writes the reference count of the int it
    gets back, which copies that page out of the memory it shares with the
    router; the daemon drops the dicts once this form is built (see
    `Classifier.compile`).  Here a term is found by its str hash (sorted,
    binary search over all of a text's terms at once) and then compared with
    its UTF-8 bytes, so a lookup answers exactly as the dict does.  str hashes
    are per process: a process builds its own (a fork inherits the seed).
    """

    def __init__(self, vocab: dict[str, int]) -> None:
        terms = list(vocab)
        hashes = np.fromiter((hash(t) for t in terms), dtype=np.int64, count=len(terms))
        order = np.argsort(hashes, kind="stable")
        self.hashes = hashes[order]
        self.columns = np.fromiter((vocab[terms[i]] for i in order.tolist()), dtype=np.int64, count=len(terms))
        encoded = [terms[i].encode("utf-8", "surrogatepass") for i in order.tolist()]
        self.offsets = np.zeros(len(terms) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=self.offsets[1:])
        self.blob = b"".join(encoded)
        self.size = len(terms)
        # CPython hashes a str's stored bytes, so "j0" (UCS-1) and "な" (UCS-2,
        # the same two bytes) share a hash: a hundred pairs in a vocabulary
        # that mixes Chinese and Latin n-grams.  Those positions are scanned.
        same = self.hashes[1:] == self.hashes[:-1]
        self._shared = np.zeros(len(terms), dtype=bool)
        self._shared[:-1] |= same
        self._shared[1:] |= same

    def __len__(self) -> int:
        return self.size

    def __getstate__(self) -> None:
        """Never pickled: its str hashes hold only in this process (and its forks); another
        process's lookups would all miss, silently.  Pickle the scikit-learn model instead."""
        raise TypeError("fastpredict.Vocabulary holds this process's str hashes and cannot be pickled")

    def lookup(self, terms: list[str]) -> np.ndarray:
        """The column of each term, -1 for a term outside the vocabulary."""
        out = np.full(len(terms), -1, dtype=np.int64)
        if not terms or not self.size:
            return out
        h = np.fromiter((hash(t) for t in terms), dtype=np.int64, count=len(terms))
        pos = np.minimum(np.searchsorted(self.hashes, h), self.size - 1)
        hit = np.flatnonzero(self.hashes[pos] == h)
        if not len(hit):
            return out
        shared = self._shared[pos[hit]]
        if shared.any():  # terms of the vocabulary that share this hash: compare with each of them
            for k, p in zip(hit[shared].tolist(), pos[hit[shared]].tolist()):
                out[k] = self._scan(terms[k], int(h[k]), p)
            hit = hit[~shared]
        at = pos[hit]
        blob = self.blob
        same = [
            blob[start:end] == terms[k].encode("utf-8", "surrogatepass")
            for k, start, end in zip(hit.tolist(), self.offsets[at].tolist(), self.offsets[at + 1].tolist())
        ]
        keep = np.asarray(same, dtype=bool)
        out[hit[keep]] = self.columns[at[keep]]
        return out

    def _scan(self, term: str, h: int, p: int) -> int:
        want = term.encode("utf-8", "surrogatepass")
        while p < self.size and int(self.hashes[p]) == h:  # equal hashes sit side by side
            if self.blob[int(self.offsets[p]) : int(self.offsets[p + 1])] == want:
                return int(self.columns[p])
            p += 1
        return -1


class _Tfidf:
    def __init__(self, vec: Any) -> None:
        if vec.norm != "l2" or not vec.use_idf or vec.binary:
            raise TypeError("unsupported TfidfVectorizer settings")
        self.analyze: Callable[[str], list[str]] = vec.build_analyzer()
        self.vocab = Vocabulary(vec.vocabulary_)
        self.idf = np.asarray(vec.idf_, dtype=np.float64)
        self.sublinear = bool(vec.sublinear_tf)
        self.size = len(self.vocab)

    def row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        counts = Counter(self.analyze(text))
        found = self.vocab.lookup(list(counts))
        known = found >= 0
        cols = found[known]
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))[known]
        if self.sublinear:
            tf = np.log(tf) + 1.0
        w = tf * self.idf[cols]
        norm = np.sqrt((w * w).sum())
        if norm > 0:
            w = w / norm
        return cols, w


class CompiledCalibrated:
    """CalibratedClassifierCV(sigmoid, linear estimator) replayed on a feature matrix."""

    def __init__(self, clf: Any) -> None:
        self.classes_ = clf.classes_
        self.n_classes = len(self.classes_)
        self.members: list[tuple[np.ndarray, np.ndarray, list[tuple[int, float, float]]]] = []
        for cc in clf.calibrated_classifiers_:
            est = cc.estimator
            coef = np.asarray(est.coef_, dtype=np.float64)
            intercept = np.asarray(est.intercept_, dtype=np.float64)
            cals = []
            for k, cal in enumerate(cc.calibrators):
                if not hasattr(cal, "a_"):
                    raise TypeError("only sigmoid calibration is compiled")
                cls_idx = int(np.searchsorted(self.classes_, est.classes_[k if self.n_classes > 2 else 1]))
                cals.append((cls_idx, float(cal.a_), float(cal.b_)))
            self.members.append((coef, intercept, cals))

    def predict_proba_features(self, X: Any) -> np.ndarray:
        n = X.shape[0]
        total = np.zeros((n, self.n_classes))
        for coef, intercept, cals in self.members:
            decision = np.asarray(X @ coef.T) + intercept
            proba = np.zeros_like(total)
            for j, (cls_idx, a, b) in enumerate(cals):
                d = decision[:, j] if decision.ndim > 1 and decision.shape[1] > 1 else decision.ravel()
                proba[:, cls_idx] = 1.0 / (1.0 + np.exp(a * d + b))
            if self.n_classes == 2:
                proba[:, 0] = 1.0 - proba[:, 1]
            else:
                denom = proba.sum(axis=1, keepdims=True)
                uniform = denom[:, 0] == 0
                proba = np.divide(proba, denom, out=np.full_like(proba, 1.0 / self.n_classes), where=denom != 0)
                proba[uniform] = 1.0 / self.n_classes
            np.clip(proba, 0.0, 1.0, out=proba)
            total += proba
        return total / len(self.members)


class CompiledPipeline:
    """features (FeatureUnion of TfidfVectorizers) -> CalibratedClassifierCV(sigmoid, linear)."""

    def __init__(self, pipeline: Any) -> None:
        union = pipeline.named_steps["features"]
        if getattr(union, "transformer_weights", None):
            raise TypeError("weighted feature unions are not compiled")
        self.parts = [_Tfidf(t) for _, t in union.transformer_list]
        self.width = sum(p.size for p in self.parts)
        self.offsets = [sum(p.size for p in self.parts[:i]) for i in range(len(self.parts))]
        self.calibrated = CompiledCalibrated(pipeline.named_steps["clf"])
        self.classes_ = self.calibrated.classes_

    def features(self, texts: list[str]) -> sp.csr_matrix:
        indices, data, indptr = [], [], [0]
        for text in texts:
            for offset, part in zip(self.offsets, self.parts):
                c, v = part.row(text)
                indices.append(c + offset)
                data.append(v)
            indptr.append(indptr[-1] + sum(len(c) for c in indices[len(indices) - len(self.parts):]))
        if not texts:
            return sp.csr_matrix((0, self.width))
        return sp.csr_matrix(
            (np.concatenate(data), np.concatenate(indices), np.asarray(indptr)), shape=(len(texts), self.width)
        )

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return self.calibrated.predict_proba_features(self.features(texts))


def compile_pipeline(pipeline: Any) -> CompiledPipeline | None:
    """The compiled form, or None when the pipeline has another shape."""
    try:
        return CompiledPipeline(pipeline)
    except (TypeError, AttributeError, KeyError):
        return None
