"""Load the trained model and predict a category with a probability.

A joblib file is executable code when loaded, so models are loaded only from
the configured path (or a path an analyst names on the command line), never
from mail or the network.  The file holds a dict: {"format", "pipeline",
"metadata", "careful"}; the metadata is also written beside it as JSON for people.

Two stages (issue 12): the fast TF-IDF pipeline decides the mails it is sure
about; a mail whose top probability is below `careful_threshold` (chosen by
writer-out cross-validation) or whose language is neither zh nor en goes to
the careful model, a calibrated linear model on TF-IDF features joined with
weighted sentence embeddings (router.embeddings).  The careful part names the
embedding backend and version it needs; loading it without that backend is a
one-line ModelError.
"""

from __future__ import annotations

import json
import logging
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from router.errors import ModelError
from router.records import Prediction
from router.text import normalize, split_reply, to_simplified

MODEL_FORMAT = "router-model/1"
log = logging.getLogger(__name__)


def model_text(subject: str, body: str, *, already_split: bool = False) -> str:
    """The one text the model reads: subject + new text, normalised and folded.

    Training and prediction both go through here, so the model sees the same
    thing offline and in the daemon.
    """
    new = body if already_split else split_reply(body)
    return to_simplified(normalize(f"{subject}\n{new}"))[:20000]


@dataclass
class CarefulModel:
    """Calibrated linear model on [TF-IDF of the fast pipeline, weight * embedding]."""

    classifier: Any
    weight: float
    embedder: Any  # router.embeddings.Embedder
    _compiled: Any = field(default=None, repr=False, compare=False)

    def compile(self) -> Any:
        """The calibrated classifier's compiled form (fastpredict), made once."""
        if self._compiled is None:
            from router.fastpredict import CompiledCalibrated

            self._compiled = CompiledCalibrated(self.classifier)
        return self._compiled

    def predict_proba(self, tfidf: Any, texts: list[str]) -> Any:
        import numpy as np
        import scipy.sparse as sp

        compiled = self.compile()
        emb = self.embedder.embed(texts)
        X = sp.hstack([sp.csr_matrix(tfidf), sp.csr_matrix(emb * np.float32(self.weight))], format="csr")
        return compiled.predict_proba_features(X)


@dataclass
class Classifier:
    pipeline: Any
    metadata: dict[str, Any]
    path: Path | None = None
    careful: CarefulModel | None = None
    _compiled: Any = field(default=None, repr=False, compare=False)
    serving_only: bool = field(default=False, repr=False, compare=False)  # see `compile`: cannot be saved

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", "unknown"))

    @property
    def labels(self) -> list[str]:
        return list(self.metadata.get("labels", []))

    def predict_texts(self, texts: list[str], langs: list[str] | None = None) -> list[Prediction]:
        """Predict for prepared texts (see model_text).

        Scoring goes through the compiled form (fastpredict) when the
        pipeline has the shape `router train` makes; it gives the same
        probabilities without scikit-learn's per-call overhead.  Uncertain
        mails and mails in other languages go to the careful model.
        """
        import numpy as np

        compiled = self._compiled_pipeline()
        tfidf = compiled.features(texts) if compiled is not None else None
        if compiled is not None:
            probs = compiled.calibrated.predict_proba_features(tfidf)
        else:
            probs = self.pipeline.predict_proba(texts)
        stages = ["fast"] * len(texts)
        if self.careful is not None and texts:
            hard = self.hard_cases(probs, texts, langs)
            if len(hard):
                feats = tfidf[hard] if tfidf is not None else self.pipeline.named_steps["features"].transform([texts[i] for i in hard])
                probs = np.array(probs, dtype=float)
                probs[hard] = self.careful.predict_proba(feats, [texts[i] for i in hard])
                for i in hard:
                    stages[i] = "careful"
        elif self.metadata.get("fast_only_reason"):
            stages = [f"fast ({self.metadata['fast_only_reason']})"] * len(texts)
        return self._predictions(probs, stages)

    def _compiled_pipeline(self) -> Any:
        """The fast pipeline's compiled form, made on first use; None when it has another shape."""
        if self._compiled is None:
            from router.fastpredict import compile_pipeline

            self._compiled = compile_pipeline(self.pipeline) or False
        return self._compiled or None

    def compile(self, *, serving_only: bool = False) -> None:
        """Make the compiled forms of both stages now (their first use would).

        With `serving_only` (the daemon), the fitted vectorizers then drop
        their vocabularies, about 26 MiB of Python objects that only the
        compiled form's compact copy is read from (fastpredict.Vocabulary):
        the daemon and its forked workers no longer hold, and copy, them.
        The pipeline can then no longer turn text into features itself
        (scikit-learn says it is not fitted); scoring goes through the
        compiled form, as it always does for a pipeline `router train` made.
        """
        compiled = self._compiled_pipeline()
        if self.careful is not None:
            self.careful.compile()
        if serving_only and compiled is not None:
            for _name, vec in self.pipeline.named_steps["features"].transformer_list:
                if hasattr(vec, "vocabulary_"):
                    del vec.vocabulary_
            self.serving_only = True

    def hard_cases(self, probs: Any, texts: list[str], langs: list[str] | None) -> Any:
        """Rows for the careful model: unsure, or in a language outside zh/en."""
        import numpy as np

        from router.understand.language import detect

        threshold = float(self.metadata.get("careful_threshold", 0.0))
        langs = langs or [detect(t)[0] for t in texts]
        unsure = np.asarray(probs).max(axis=1) < threshold
        other = np.array([lang not in ("zh", "en") for lang in langs])
        return np.flatnonzero(unsure | other)

    def _predictions(self, probs: Any, stages: list[str]) -> list[Prediction]:
        classes = [str(c) for c in self.pipeline.classes_]
        thresholds = self.metadata.get("thresholds", {})
        security_t = self.metadata.get("security_threshold")
        sec = classes.index("security") if "security" in classes and security_t is not None else None
        review_t = self.metadata.get("security_review_threshold")
        out = []
        for row, stage in zip(probs, stages):
            best = int(row.argmax())
            # Security first by cost (issue 12): above the CV-chosen threshold on
            # P(security) the model says security even when another class is larger.
            if sec is not None and security_t is not None and float(row[sec]) >= float(security_t):
                best = sec
            label, conf = classes[best], float(row[best])
            below = conf < float(thresholds.get(label, 0.0)) and best != sec
            # Below the security threshold but above the review band: a person reads it (issue 12).
            doubt = sec is not None and best != sec and review_t is not None and float(row[sec]) >= float(review_t)
            out.append(
                Prediction(
                    category=label,
                    confidence=conf,
                    version=self.version,
                    probabilities={c: float(p) for c, p in zip(classes, row)},
                    below_threshold=below,
                    stage=stage,
                    security_review=doubt,
                )
            )
        return out

    def warm_up(self) -> None:
        """Load everything the first mail would otherwise wait for.

        The compiled pipeline, py3langid's model (about 1-2 s) and the careful
        model's embedder (its weights load on first use) are loaded here, at
        start, so the IDLE push of the first mail after a restart is not the
        one that waits (issue 12: APPEND-to-forward latency).
        """
        from router.understand import language

        language.preload()
        self.predict_texts(["warm up"], ["en"])
        if self.careful is not None:
            self.careful.embedder.embed(["warm up"])

    def warm_up_in_background(self) -> threading.Thread:
        """warm_up() on a daemon thread: start-up goes on (login, folders) while the models load.

        A mail that needs a model before the thread is done loads it itself;
        the loaders are idempotent and the embedder's is locked.
        """
        thread = threading.Thread(target=self._warm_up_quietly, name="model-warm-up", daemon=True)
        thread.start()
        return thread

    def _warm_up_quietly(self) -> None:
        try:
            self.warm_up()
        except Exception as exc:  # the first mail will meet the same error and report it in its record
            log.warning("model warm-up failed: %s", exc)

    def predict(self, subject: str, new_text: str, lang: str | None = None) -> Prediction:
        text = model_text(subject, new_text, already_split=True)
        return self.predict_texts([text], [lang] if lang else None)[0]


def metadata_path(model_path: Path) -> Path:
    return model_path.with_suffix(".json")


def load(path: Path) -> Classifier:
    """Load a model file; every failure becomes a one-line ModelError."""
    import joblib
    import sklearn

    if not path.exists():
        raise ModelError(f"model file {path} does not exist (train one with `router train`)")
    if path.is_dir():
        raise ModelError(f"model path {path} is a directory, not a model file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", category=UserWarning)  # InconsistentVersionWarning
            blob = joblib.load(path)
    except Exception as exc:  # noqa: BLE001 - corrupt pickles raise anything
        name = type(exc).__name__
        if "InconsistentVersion" in name or "version" in str(exc).lower():
            raise ModelError(
                f"model file {path} was made by another scikit-learn version; "
                f"this is {sklearn.__version__}: retrain it with `router train`"
            ) from None
        raise ModelError(f"model file {path} is not a router model ({name})") from None
    if not isinstance(blob, dict) or blob.get("format") != MODEL_FORMAT:
        raise ModelError(f"model file {path} is not a router model (format {MODEL_FORMAT} expected)")
    meta = blob.get("metadata") or {}
    made_with = str(meta.get("sklearn_version", ""))
    if _minor(made_with) != _minor(sklearn.__version__):
        raise ModelError(
            f"model file {path} was made with scikit-learn {made_with or 'unknown'}; "
            f"this is {sklearn.__version__}: retrain it with `router train`"
        )
    return Classifier(pipeline=blob["pipeline"], metadata=meta, path=path, careful=_careful(blob.get("careful"), meta, path))


def _careful(part: Any, meta: dict[str, Any], path: Path) -> CarefulModel | None:
    """The careful stage with its embedding backend; ModelError when that backend is absent."""
    if not part:
        return None
    from router import embeddings

    need = meta.get("embeddings") or {}
    spec, version = str(need.get("backend", "")), str(need.get("version", ""))
    try:
        embedder = embeddings.backend(spec)
    except embeddings.EmbeddingUnavailable as exc:
        raise ModelError(f"model file {path} needs embedding backend {spec} ({version}): {exc}") from None
    if embedder.version != version:
        raise ModelError(
            f"model file {path} was made with embeddings {version}, this backend is {embedder.version}: "
            "retrain it with `router train`"
        )
    return CarefulModel(classifier=part["classifier"], weight=float(part["weight"]), embedder=embedder)


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def read_metadata(path: Path) -> dict[str, Any] | None:
    """The JSON sidecar, for status displays that must not unpickle."""
    try:
        return json.loads(metadata_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def save(clf: Classifier, path: Path) -> None:
    """Write the model and its JSON metadata atomically (temp file + rename)."""
    import os
    import tempfile

    import joblib

    if clf.serving_only:
        raise ModelError("this model was compiled for serving and dropped its vocabularies; save the one `router train` made")
    path.parent.mkdir(parents=True, exist_ok=True)
    blob: dict[str, Any] = {"format": MODEL_FORMAT, "pipeline": clf.pipeline, "metadata": clf.metadata}
    if clf.careful is not None:
        blob["careful"] = {"classifier": clf.careful.classifier, "weight": clf.careful.weight}
    for target, writer in (
        (path, lambda f: joblib.dump(blob, f, compress=3)),
        (metadata_path(path), lambda f: f.write(json.dumps(clf.metadata, indent=2, ensure_ascii=False, sort_keys=True).encode() + b"\n")),
    ):
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "wb") as f:
                writer(f)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    clf.path = path
