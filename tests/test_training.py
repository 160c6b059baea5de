"""The analysts' CLI: train, evaluate, promote, and their one-line errors."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest

from router import classify
from router.cli import main
from router.commands.evaluate import cv_figures
from router.training import dataset
from router.training.train import fingerprint, train

REPO = Path(__file__).resolve().parents[1]

_TOPICS = {
    "card_lost": ["lost my card", "card was stolen from my wallet", "cannot find my debit card", "my card is missing since friday"],
    "refund": ["want my money back", "please refund the order", "refund has not arrived", "how long does a refund take"],
    "top_up": ["top up failed", "added money but balance unchanged", "top-up by bank transfer pending", "cannot add funds with apple pay"],
}


def _write_csv(path: Path, n_per: int = 30, seed: int = 1) -> None:
    rnd = random.Random(seed)
    fillers = ["hi", "hello team", "urgent:", "please help,", "", "quick question:", "good morning,"]
    tails = ["thanks", "asap", "what do I do?", "", "regards", "this is annoying", "today"]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["utterance", "intent"])
        for label, phrases in _TOPICS.items():
            for i in range(n_per):
                w.writerow([f"{rnd.choice(fillers)} {rnd.choice(phrases)} {rnd.choice(tails)} #{i}", label])


def test_train_and_evaluate_other_labels_from_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "intents.csv"
    _write_csv(data)
    model = tmp_path / "m.joblib"
    assert main(["train", "--data", str(data), "--text-column", "utterance", "--label-column", "intent",
                 "--out", str(model), "--no-progress"]) == 0
    meta = json.loads(model.with_suffix(".json").read_text())
    assert meta["labels"] == sorted(_TOPICS)
    assert meta["training_data_hash"] and meta["sklearn_version"] and meta["created"]
    capsys.readouterr()
    assert main(["evaluate", "--model", str(model), "--data", str(data), "--text-column", "utterance",
                 "--label-column", "intent", "--json", "--plot", str(tmp_path / "cm.png")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 90 and out["labels"] == sorted(_TOPICS)
    assert out["accuracy"] > 0.9 and len(out["confusion"]) == 3
    assert (tmp_path / "cm.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_train_from_eml_folders(tmp_path: Path) -> None:
    for label, words in (("a", "refund money back"), ("b", "card lost stolen")):
        folder = tmp_path / "data" / label
        folder.mkdir(parents=True)
        for i in range(6):
            (folder / f"{i}.eml").write_bytes(
                f"From: x{i}@mail.example\r\nSubject: {words} {i}\r\nMessage-ID: <{label}{i}@x>\r\n\r\n{words} please {i}\r\n".encode()
            )
    out = tmp_path / "m.joblib"
    assert main(["train", "--data", str(tmp_path / "data"), "--out", str(out), "--no-progress", "--holdout", "0"]) == 0
    assert classify.load(out).labels == ["a", "b"]


@pytest.mark.parametrize(
    "setup, needle",
    [
        ("empty", "no labelled"),
        ("nocolumn", "no column 'text'"),
        ("missing", "no such file"),
    ],
)
def test_bad_data_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str], setup: str, needle: str) -> None:
    data = tmp_path / "d.csv"
    if setup == "empty":
        data.write_text("text,label\n", encoding="utf-8")
    elif setup == "nocolumn":
        data.write_text("body,label\nhello,a\n", encoding="utf-8")
    rc = main(["train", "--data", str(data), "--out", str(tmp_path / "m.joblib"), "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1
    assert len([line for line in err if line.startswith("router: error:")]) == 1
    assert needle in err[-1] and "Traceback" not in "\n".join(err)


def test_corrupt_and_wrong_version_models(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import joblib

    bad = tmp_path / "bad.joblib"
    bad.write_bytes(b"this is not a pickle at all")
    assert main(["evaluate", "--model", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not a router model" in err

    data = tmp_path / "d.csv"
    _write_csv(data, n_per=10)
    clf = train(dataset.load([data], "utterance", "intent"), cv_folds=0).classifier
    clf.metadata["sklearn_version"] = "0.99.0"
    old = tmp_path / "old.joblib"
    joblib.dump({"format": classify.MODEL_FORMAT, "pipeline": clf.pipeline, "metadata": clf.metadata}, old)
    assert main(["triage", "--model", str(old), str(REPO / "samples" / "03-withdrawal-failed-en.eml")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "scikit-learn 0.99.0" in err

    notmodel = tmp_path / "dict.joblib"
    joblib.dump({"hello": 1}, notmodel)
    with pytest.raises(Exception, match="not a router model"):
        classify.load(notmodel)


def test_training_is_seeded_and_reproducible(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    _write_csv(data)
    ex = dataset.load([data], "utterance", "intent")
    a, b = train(ex, seed=0).classifier, train(ex, seed=0).classifier
    assert fingerprint(a) == fingerprint(b)
    assert a.version == b.version


def test_shipped_model_is_reproducible_from_training_data() -> None:
    """models/current.joblib is what `router train --out models/current.joblib` makes."""
    shipped = classify.load(REPO / "models" / "current.joblib")
    meta = shipped.metadata
    examples = dataset.load([REPO / "training_data"])
    train_set, _held = dataset.split(examples, meta["holdout_fraction"])
    assert dataset.data_hash(train_set) == meta["training_data_hash"], "model is stale: retrain with router train --out models/current.joblib"
    assert meta["n_corrections"] == 0 and meta["holdout_n"] == 0  # shipped model: --no-corrections, all data
    # The search's choices are replayed (search=False with the chosen parameters) for the fast
    # stage, which the careful stage does not change.  Replaying the careful stage would embed
    # 2,858 mails (minutes on a fresh machine without the embedding cache), so its reproducibility
    # is shown by test_careful_model.py with a deterministic embedder.
    backend = (meta.get("embeddings") or {}).get("backend")
    # Without CV when the careful stage is shipped: the fast pipeline is fitted on all the data
    # with the chosen parameters either way, and the thresholds are not compared then.
    again = train(train_set, params=meta["params"], seed=meta["seed"], embeddings=None, search=False,
                  cv_folds=0 if backend else 5).classifier
    texts = [e.text for e in train_set[::11]]
    assert np.allclose(again.pipeline.predict_proba(texts), shipped.pipeline.predict_proba(texts), atol=1e-9)
    if not backend:
        assert again.version == shipped.version
        assert again.metadata["thresholds"] == meta["thresholds"]
        assert again.metadata["security_threshold"] == meta["security_threshold"]
    else:
        assert shipped.careful is not None and shipped.careful.embedder.spec == backend


def test_shipped_model_meets_the_bar_by_cross_validation() -> None:
    """Trained on all of training_data/, so the estimate is the CV kept in its metadata.

    Read as `router evaluate` prints it (`cv_figures`), without the in-sample pass over the
    3,008 mails, which embeds ~600 of them afresh on a machine without the cache (about a
    minute); the command itself is tested in test_cli.py.
    """
    shipped = classify.load(REPO / "models" / "current.joblib")
    cv = cv_figures(shipped)
    assert cv["selection"] == "writer_out"
    # The shipped model is the two-stage one (the careful model reads mail outside zh/en and
    # unsure zh/en mail, within its 15 % budget).  Its bar is a regression floor a little
    # under what it measured on the 5,802 mails of 41 writer slices, which CV finds hard
    # (stratified 0.923, writer-out 0.882, security recall counting rules and the review band
    # 0.980 with 7.8 % of other mail sent to review), not issue 12's held-out targets.
    assert cv["stratified"]["deployed"]["macro_f1"] >= 0.91, cv["stratified"]
    assert cv["writer_out"]["deployed"]["macro_f1"] >= 0.86, cv["writer_out"]
    assert cv["stratified"]["security"]["recall_with_review"] >= 0.97, cv["stratified"]["security"]
    assert cv["stratified"]["security"]["non_security_to_review"] <= 0.10 * cv["stratified"]["security"]["non_security"]
    # SECURITY_COST_CAP (8 %) is what the security threshold aims for; on the 5,802 mails, whose
    # later slices are look-alikes and alarming compliance, the model's own argmax sends 7.6 %
    # there in stratified CV (held out: 3 of 99).  The floor catches a model that floods the
    # security team.
    assert cv["stratified"]["security"]["non_security_to_security"] <= 0.085 * cv["stratified"]["security"]["non_security"]
    assert {"zh", "en"} <= set(shipped.metadata["languages"])


def test_promote_refuses_a_worse_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A model trained on a sliver of the data must not replace a good one."""
    import shutil

    cfg = tmp_path / "config.toml"
    shutil.copy(REPO / "models" / "current.joblib", tmp_path / "current.joblib")
    shutil.copy(REPO / "models" / "current.json", tmp_path / "current.json")
    cfg.write_text(f'[model]\npath = "current.joblib"\ntraining_data = "{REPO / "training_data"}"\n', encoding="utf-8")
    examples = dataset.load([REPO / "training_data"])
    train_set, _ = dataset.split(examples, 0.2)
    weak = train(train_set[::25], seed=0, cv_folds=0, extra_metadata={"holdout_fraction": 0.2, "data_paths": [str(REPO / "training_data")]}).classifier
    classify.save(weak, tmp_path / "weak.joblib")
    before = (tmp_path / "current.joblib").read_bytes()
    assert main(["--config", str(cfg), "promote", str(tmp_path / "weak.joblib")]) == 1
    assert "not promoted" in capsys.readouterr().err
    assert (tmp_path / "current.joblib").read_bytes() == before
    # The same model promotes over itself (not worse).
    assert main(["--config", str(cfg), "promote", str(REPO / "models" / "current.joblib")]) == 0


def test_compiled_scoring_equals_the_pipeline() -> None:
    """fastpredict replays the fitted pipeline; its probabilities must be the same."""
    from router.fastpredict import CompiledPipeline

    shipped = classify.load(REPO / "models" / "current.joblib")
    texts = [e.text for e in dataset.load([REPO / "training_data"])][::7] + ["", "！！！", "x" * 5000]
    compiled = CompiledPipeline(shipped.pipeline)
    assert np.allclose(compiled.predict_proba(texts), shipped.pipeline.predict_proba(texts), atol=1e-7)
    # and for a two-class model
    two = train([e for e in dataset.load([REPO / "training_data"]) if e.label != "general"][::4], cv_folds=0).classifier
    assert np.allclose(CompiledPipeline(two.pipeline).predict_proba(texts[:50]), two.pipeline.predict_proba(texts[:50]), atol=1e-7)
