"""Load the trained model and predict a category with a probability.

A joblib file is executable code when loaded, so models are loaded only from
the configured path (or a path an analyst names on the command line), never
from mail or the network.  The file holds a dict: {"format", "pipeline",
"metadata"}; the metadata is also written beside it as JSON for people.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from router.errors import ModelError
from router.records import Prediction
from router.text import normalize, split_reply, to_simplified

MODEL_FORMAT = "router-model/1"


def model_text(subject: str, body: str, *, already_split: bool = False) -> str:
    """The one text the model reads: subject + new text, normalised and folded.

    Training and prediction both go through here, so the model sees the same
    thing offline and in the daemon.
    """
    new = body if already_split else split_reply(body)
    return to_simplified(normalize(f"{subject}\n{new}"))[:20000]


@dataclass
class Classifier:
    pipeline: Any
    metadata: dict[str, Any]
    path: Path | None = None
    _compiled: Any = field(default=None, repr=False, compare=False)

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", "unknown"))

    @property
    def labels(self) -> list[str]:
        return list(self.metadata.get("labels", []))

    def predict_texts(self, texts: list[str]) -> list[Prediction]:
        """Predict for prepared texts (see model_text).

        Scoring goes through the compiled form (fastpredict) when the
        pipeline has the shape `router train` makes; it gives the same
        probabilities without scikit-learn's per-call overhead.
        """
        if self._compiled is None:
            from router.fastpredict import compile_pipeline

            self._compiled = compile_pipeline(self.pipeline) or self.pipeline
        probs = self._compiled.predict_proba(texts)
        classes = [str(c) for c in self.pipeline.classes_]
        thresholds = self.metadata.get("thresholds", {})
        out = []
        for row in probs:
            best = int(row.argmax())
            label, conf = classes[best], float(row[best])
            out.append(
                Prediction(
                    category=label,
                    confidence=conf,
                    version=self.version,
                    probabilities={c: float(p) for c, p in zip(classes, row)},
                    below_threshold=conf < float(thresholds.get(label, 0.0)),
                )
            )
        return out

    def predict(self, subject: str, new_text: str) -> Prediction:
        return self.predict_texts([model_text(subject, new_text, already_split=True)])[0]


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
    return Classifier(pipeline=blob["pipeline"], metadata=meta, path=path)


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

    path.parent.mkdir(parents=True, exist_ok=True)
    blob = {"format": MODEL_FORMAT, "pipeline": clf.pipeline, "metadata": clf.metadata}
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
