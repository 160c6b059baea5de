"""py3langid's model as the router loads it: uncompressed tables in a cache folder, mapped read-only.

The answers must be py3langid's own (restricted to the router's languages),
whether the tables come from the cache, are written on this load, or cannot
be written at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from router.understand import language

TEXTS = [
    "No puedo acceder a mi cuenta desde ayer, por favor ayúdenme con el retiro.",
    "Je n'arrive pas à retirer mes fonds depuis hier, pouvez-vous m'aider ?",
    "Ich kann mich seit gestern nicht mehr einloggen, bitte helfen Sie mir.",
    "Não consigo sacar meus fundos, o saque está pendente há dois dias.",
    "Не могу войти в аккаунт, помогите пожалуйста",
    "لا أستطيع سحب أموالي من الحساب منذ يومين",
    "Hesabıma giriş yapamıyorum, lütfen yardım edin.",
    "Tôi không thể rút tiền từ tài khoản của mình.",
    "Saya tidak bisa menarik dana dari akun saya sejak kemarin.",
    "ok",
    "!!!",
    "",
]


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    language._identifier.cache_clear()
    yield
    monkeypatch.undo()
    language._identifier.cache_clear()  # later tests load from the usual folder again


def _stock() -> LanguageIdentifier:
    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=False)
    ident.set_languages(language._MODEL_LANGS)
    return ident


def test_tables_are_written_once_then_mapped_and_answer_as_py3langid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh: None) -> None:
    monkeypatch.setenv("ROUTER_CACHE_DIR", str(tmp_path))
    stock = _stock()
    first = language._identifier()
    folders = list(tmp_path.glob("langid-*"))
    assert len(folders) == 1 and sorted(p.name for p in folders[0].iterdir()) == sorted(f"{n}.npy" for n in language._TABLE_NAMES)
    assert not list(tmp_path.glob(".langid-*")), "the temporary folder is renamed, not left behind"
    language._identifier.cache_clear()
    second = language._identifier()
    assert not second.nb_ptc.flags.writeable and not second.nb_ptc.flags.owndata  # mapped read-only from the file
    for ident in (first, second):
        assert ident.nb_classes == stock.nb_classes
        assert [ident.classify(t) for t in TEXTS] == [stock.classify(t) for t in TEXTS]
    assert language.detail(TEXTS[0]) == "es" and language.detail(TEXTS[4]) == "ru"


def test_an_unwritable_cache_folder_decompresses_as_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh: None) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("ROUTER_CACHE_DIR", str(blocker / "router"))
    stock = _stock()
    ident = language._identifier()
    assert ident.nb_ptc.flags.writeable  # decompressed into memory
    assert [ident.classify(t) for t in TEXTS] == [stock.classify(t) for t in TEXTS]


def test_a_damaged_table_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh: None) -> None:
    monkeypatch.setenv("ROUTER_CACHE_DIR", str(tmp_path))
    language._identifier()
    folder = next(tmp_path.glob("langid-*"))
    (folder / "output.npy").write_bytes(b"\x93NUMPY truncated")
    language._identifier.cache_clear()
    stock = _stock()
    ident = language._identifier()
    assert [ident.classify(t) for t in TEXTS] == [stock.classify(t) for t in TEXTS]


@pytest.mark.parametrize("damage", [b"", b"\x93NUMPY truncated"])
def test_a_damaged_table_is_replaced_not_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh: None, damage: bytes) -> None:
    """An empty file (np.load raises EOFError) or a truncated one: unpacked again, and the folder written afresh."""
    monkeypatch.setenv("ROUTER_CACHE_DIR", str(tmp_path))
    language._identifier()
    folder = next(tmp_path.glob("langid-*"))
    (folder / "ptc.npy").write_bytes(damage)
    language._identifier.cache_clear()
    stock = _stock()
    ident = language._identifier()
    assert [ident.classify(t) for t in TEXTS] == [stock.classify(t) for t in TEXTS]
    assert language._read_tables(folder) is not None, "the damaged folder was replaced by a good one"
