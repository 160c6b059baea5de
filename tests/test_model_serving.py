"""The daemon's form of the model: compact vocabularies, scikit-learn's dicts dropped, the same answers.

`Classifier.compile(serving_only=True)` is what the daemon and its triage
workers run before they fork (router/workers.py); these tests prove that it
changes no feature and no probability, and that the dicts are gone.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from router import classify
from router.fastpredict import Vocabulary, compile_pipeline

MODEL = Path(__file__).resolve().parents[1] / "models" / "current.joblib"
TEXTS = [
    classify.model_text("Withdrawal Failed - UID 12345678", "My USDT withdrawal failed yesterday, please check."),
    classify.model_text("account hacked", "Someone logged in to my account and changed my 2FA, please freeze it."),
    classify.model_text("充值未到账 UID 23456789", "我昨天充值的USDT还没有到账，请帮忙查一下。"),
    classify.model_text("帳戶被凍結", "我的帳戶被凍結了，請幫忙處理。"),
    classify.model_text("subpoena", "We are law enforcement and request records for the account of a customer."),
    classify.model_text("Frage", "Mein Konto wurde gesperrt, bitte helfen Sie mir schnell."),
    classify.model_text("", ""),
    classify.model_text("emoji 🚀🚀", "zero\u200bwidth, ｆｕｌｌｗｉｄｔｈ and ümlauts"),
]


@pytest.fixture(scope="module")
def shipped() -> classify.Classifier:
    return classify.load(MODEL)


def test_vocabulary_answers_as_the_dict(shipped: classify.Classifier) -> None:
    rng = random.Random(7)
    for _name, vec in shipped.pipeline.named_steps["features"].transformer_list:
        d = vec.vocabulary_
        vocab = Vocabulary(d)
        terms = list(d)
        unknown = ["".join(rng.choice("abcxyz 充值帳戶ü🚀") for _ in range(rng.randint(1, 6))) for _ in range(5000)]
        probe = rng.sample(terms, 5000) + unknown + ["", "\ud800"]
        assert vocab.lookup(probe).tolist() == [d.get(t, -1) for t in probe]
        assert vocab.lookup(terms).tolist() == [d[t] for t in terms]
        assert len(vocab) == len(d)
        assert vocab._shared.any(), "CPython gives some Chinese and Latin n-grams one hash: both paths are exercised"
    assert Vocabulary({}).lookup(["a"]).tolist() == [-1]
    assert Vocabulary({"a": 0}).lookup([]).tolist() == []


def test_vocabulary_terms_sharing_a_hash_are_told_apart_by_their_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    from router import fastpredict

    monkeypatch.setattr(fastpredict, "hash", lambda term: len(term) % 2, raising=False)  # every term collides
    d = {"ab": 3, "cd": 0, "x": 1, "充值": 2, "ü": 4}
    vocab = Vocabulary(d)
    assert vocab._shared.all()
    probe = ["ab", "cd", "ef", "x", "y", "充值", "提现", "ü", "u", ""]
    assert vocab.lookup(probe).tolist() == [d.get(t, -1) for t in probe]


def test_compiled_features_equal_scikit_learns(shipped: classify.Classifier) -> None:
    compiled = compile_pipeline(shipped.pipeline)
    assert compiled is not None
    ours = compiled.features(TEXTS).toarray()
    theirs = shipped.pipeline.named_steps["features"].transform(TEXTS).toarray()
    assert np.allclose(ours, theirs, atol=1e-6)


def test_serving_only_drops_the_dicts_and_changes_no_probability(shipped: classify.Classifier) -> None:
    served = classify.load(MODEL)
    served.compile(serving_only=True)
    vectorizers = [v for _, v in served.pipeline.named_steps["features"].transformer_list]
    assert not any(hasattr(v, "vocabulary_") for v in vectorizers)
    assert served.careful is not None and served.careful._compiled is not None
    before = shipped.predict_texts(TEXTS)
    after = served.predict_texts(TEXTS)
    assert [p.probabilities for p in after] == [p.probabilities for p in before]
    assert [(p.category, p.stage, p.below_threshold, p.security_review) for p in after] == [
        (p.category, p.stage, p.below_threshold, p.security_review) for p in before
    ]
    assert {p.stage for p in after} == {"fast", "careful"}, "both stages are exercised"


def test_a_model_compiled_for_serving_is_not_saved(tmp_path: Path) -> None:
    served = classify.load(MODEL)
    served.compile(serving_only=True)
    with pytest.raises(classify.ModelError, match="compiled for serving"):
        classify.save(served, tmp_path / "m.joblib")
    assert not (tmp_path / "m.joblib").exists()


def test_a_compiled_vocabulary_refuses_to_be_pickled() -> None:
    """Its str hashes are this process's (PYTHONHASHSEED): in another process every lookup would miss."""
    import pickle

    from router.fastpredict import Vocabulary

    vocab = Vocabulary({"账户": 0, "frozen": 1})
    assert vocab.lookup(["frozen", "账户", "other"]).tolist() == [1, 0, -1]
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(vocab)
