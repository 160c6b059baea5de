"""`router train` options for public intent benchmarks: the careful model's grid and the CV folds.

Short intent queries (BANKING77, MASSIVE) want a heavier embedding weight
than the built-in grid holds, and 10,000-query files want fewer CV folds;
these options let the CLI choose among given candidates by CV by itself.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from router import embeddings
from router.cli import main
from router.commands.train import careful_grid
from router.training import dataset
from router.training.evaluate import evaluate
from router.training.train import CAREFUL_GRID, choose_careful_threshold, model_version, train


class HashEmbedder:
    """Deterministic bag-of-words hash vectors (no model needed)."""

    spec = "hash"
    version = "hash-1"
    dim = 16
    calls = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += len(texts)
        out = np.zeros((len(texts), 16), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                out[i, int(hashlib.sha256(w.encode()).hexdigest(), 16) % 16] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[HashEmbedder]:
    monkeypatch.setenv("ROUTER_EMBEDDING_CACHE", str(tmp_path / "cache.sqlite"))
    made = HashEmbedder()
    monkeypatch.setitem(embeddings._BACKENDS, "hash", made)
    yield made


_INTENTS = {
    "card_lost": ["lost my card", "card stolen", "cannot find my card", "card missing"],
    "refund": ["money back please", "refund the order", "refund not arrived", "refund time"],
    "top_up": ["top up failed", "balance unchanged after top up", "top-up pending", "cannot add funds"],
}


def _examples(per: int = 15, seed: int = 0) -> list[dataset.Example]:
    rnd = random.Random(seed)
    return [dataset.Example(f"{rnd.choice(['hi', 'hello', ''])} {rnd.choice(words)} #{i}", label, "en", "train.csv", "train")
            for label, words in _INTENTS.items() for i in range(per)]


def test_careful_grid_is_every_pair_of_the_options() -> None:
    assert careful_grid(None, None) is None
    assert careful_grid([0.5, 1.0], [4.0, 8.0]) == [(0.5, 4.0), (0.5, 8.0), (1.0, 4.0), (1.0, 8.0)]
    # One option alone keeps the built-in default of the other.
    assert careful_grid(None, [8.0]) == [(CAREFUL_GRID[0][0], 8.0)]
    assert careful_grid([2.0], None) == [(2.0, CAREFUL_GRID[0][1])]


def test_a_given_careful_grid_is_searched_even_without_search(hashed: HashEmbedder) -> None:
    result = train(_examples(), embeddings="hash", search=False, careful_grid=[(1.0, 3.0), (0.5, 7.0)], cv_folds=3)
    meta = result.classifier.metadata
    assert set(meta["cv_metrics"]["search"]["careful"]) == {"C=1.0 w=3.0", "C=0.5 w=7.0"}
    assert (meta["careful_params"]["C"], meta["careful_params"]["weight"]) in {(1.0, 3.0), (0.5, 7.0)}
    assert meta["cv_metrics"]["stratified"]["deployed"]["folds"] == 3
    # Without a grid, --no-search trains the single default pair as before.
    default = train(_examples(), embeddings="hash", search=False).classifier.metadata
    assert list(default["cv_metrics"]["search"]["careful"]) == [f"C={CAREFUL_GRID[0][0]} w={CAREFUL_GRID[0][1]}"]
    assert default["cv_metrics"]["stratified"]["deployed"]["folds"] == 5


def test_train_command_takes_the_grid_and_folds(hashed: HashEmbedder, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"text": e.text, "label": e.label}) + "\n" for e in _examples()), encoding="utf-8")
    out = tmp_path / "m.joblib"
    assert main(["train", "--data", str(data), "--out", str(out), "--no-progress", "--no-corrections", "--embeddings", "hash",
                 "--no-search", "--careful-weight", "6", "--careful-C", "0.5", "--cv-folds", "4"]) == 0
    printed = capsys.readouterr().out
    assert "C=0.5, embedding weight 6" in printed
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["careful_params"] == {"C": 0.5, "weight": 6.0}
    assert meta["cv_metrics"]["stratified"]["deployed"]["folds"] == 4


@pytest.mark.parametrize(("extra", "needle"), [
    (["--cv-folds", "1"], "--cv-folds must be at least 2"),
    (["--careful-weight", "0"], "must be positive"),
    (["--careful-max-share", "1.5"], "--careful-max-share must be in"),
])
def test_bad_options_are_one_line_errors(hashed: HashEmbedder, tmp_path: Path, extra: list[str], needle: str) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"text": e.text, "label": e.label}) + "\n" for e in _examples()), encoding="utf-8")
    with pytest.raises(SystemExit, match=needle):
        main(["train", "--data", str(data), "--out", str(tmp_path / "m.joblib"), "--no-progress", "--no-corrections",
              "--embeddings", "hash", *extra])


def test_evaluation_reads_the_embedding_cache_and_the_model_does_not_keep_it(hashed: HashEmbedder) -> None:
    clf = train(_examples(), embeddings="hash", search=False, careful_grid=[(1.0, 4.0)], cv_folds=3).classifier
    assert clf.careful is not None
    new = [dataset.Example(f"never seen {w} query", label, "ko", "test.csv") for label, words in _INTENTS.items() for w in words]
    before = hashed.calls
    first = evaluate(clf, new)
    assert first["stages"] == {"careful": len(new)}  # a language outside zh/en: every row goes careful
    assert hashed.calls == before + len(new)
    assert evaluate(clf, new)["accuracy"] == first["accuracy"] and hashed.calls == before + len(new)  # all from the cache
    assert clf.careful.embedder is hashed  # the daemon's model embeds afresh
    clf.predict_texts([e.text for e in new], [e.lang for e in new])
    assert hashed.calls == before + 2 * len(new)


def test_careful_tolerance_trades_cv_accuracy_for_careful_work() -> None:
    """Tolerance 0 and no share cap take the most accurate threshold; a wide tolerance spares the careful model."""
    labels = ["a", "b"]
    y = np.array(["a", "b"] * 50)
    truth = np.stack([y == "a", y == "b"], axis=1).astype(float)
    # The fast model is sure and right on 90 rows; on ten rows (p=0.95) it is sure and wrong: only
    # sending every row to the careful model (always right) fixes those.
    fast = truth * 0.99 + (1 - truth) * 0.01
    fast[:10] = 1 - (truth[:10] * 0.95 + (1 - truth[:10]) * 0.05)
    careful = truth * 0.9 + (1 - truth) * 0.1
    langs = np.array(["en"] * 100)
    t_all, info_all = choose_careful_threshold(y, fast, careful, langs, labels, max_share=1.0, tolerance=0.0)
    assert t_all > 0.99 and info_all["macro_f1"] == 1.0 and info_all["careful_share"] == 1.0
    # The daemon's default share cap keeps most zh/en mail on the fast path whatever the tolerance.
    t_capped, info_capped = choose_careful_threshold(y, fast, careful, langs, labels, tolerance=0.0)
    assert t_capped < 0.99 and info_capped["careful_share"] <= 0.15
    t_wide, info_wide = choose_careful_threshold(y, fast, careful, langs, labels, max_share=1.0, tolerance=0.2)
    assert t_wide == 0.0 and info_wide["careful_share"] == 0.0 and info_wide["macro_f1"] < 1.0


def test_train_command_takes_the_careful_tolerance(hashed: HashEmbedder, tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"text": e.text, "label": e.label}) + "\n" for e in _examples()), encoding="utf-8")
    with pytest.raises(SystemExit, match="must not be negative"):
        main(["train", "--data", str(data), "--out", str(tmp_path / "m.joblib"), "--no-progress", "--no-corrections",
              "--embeddings", "hash", "--careful-tolerance", "-1"])
    out = tmp_path / "m.joblib"
    # Giving up any accuracy for speed: the fast model decides every zh/en message.
    assert main(["train", "--data", str(data), "--out", str(out), "--no-progress", "--no-corrections", "--embeddings", "hash",
                 "--no-search", "--careful-tolerance", "1", "--careful-max-share", "1"]) == 0
    assert json.loads(out.with_suffix(".json").read_text())["careful_threshold"] == 0.0



def test_models_that_differ_only_in_their_careful_threshold_have_different_versions(hashed: HashEmbedder, tmp_path: Path) -> None:
    """Same data and parameters, another careful threshold (--careful-tolerance, --careful-max-share):
    a decision record or a correction that names the model must tell the two apart."""
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"text": e.text, "label": e.label}) + "\n" for e in _examples()), encoding="utf-8")
    out = tmp_path / "m.joblib"
    assert main(["train", "--data", str(data), "--out", str(out), "--no-progress", "--no-corrections", "--embeddings", "hash",
                 "--no-search", "--careful-tolerance", "1", "--careful-max-share", "1"]) == 0
    meta = json.loads(out.with_suffix(".json").read_text())
    assert model_version(meta) == meta["version"]  # the version is recomputable from the metadata alone
    moved = {**meta, "careful_threshold": 0.5}
    assert model_version(moved) != meta["version"]
    assert model_version({**meta, "created": "another day"}) == meta["version"]  # not every field counts
