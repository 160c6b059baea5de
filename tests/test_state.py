"""router.state: the store owns its schema and upgrades an old file in place."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from router.errors import RouterError
from router.state import SCHEMA_VERSION, open_store
from router.state.schema import MIGRATIONS


def _old_store(path: Path) -> None:
    """A store as written before schema versions were counted (user_version 0)."""
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0])
    db.execute("INSERT INTO messages (mailbox, uidvalidity, uid, message_id, content_hash, step, created, updated)"
               " VALUES ('m', 1, 7, '<a@x>', 'h', 'filed', 0, 0)")
    db.execute("INSERT INTO replies (message_id, case_id, sender, outcome, reason, ts) VALUES ('<a@x>', 'C1', 's@x', 'sent', 'ack', 1e12)")
    db.commit()
    assert db.execute("PRAGMA user_version").fetchone()[0] == 0
    db.close()


def test_an_old_store_is_upgraded_in_place_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "router.sqlite3"
    _old_store(path)
    store = open_store(path)
    try:
        assert store.schema_version() == SCHEMA_VERSION >= 1
        row = store.get("m", 1, 7)
        assert row is not None and row.step == "filed" and row.message_id == "<a@x>"
        assert store.case_acknowledged("s@x", "C1")
        assert store.sent_within("s@x", 3600) == 1
    finally:
        store.close()


def test_a_new_store_is_created_at_the_current_version_and_reopens_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "s" / "router.sqlite3"
    store = open_store(path)
    row = store.claim("m", 1, 1, "<b@x>", "hash")
    store.record_step(row, "decided", route="general", case_id="C2")
    store.close()
    again = open_store(path)
    try:
        assert again.schema_version() == SCHEMA_VERSION
        back = again.get("m", 1, 1)
        assert back is not None and (back.step, back.route, back.case_id) == ("decided", "general", "C2")
    finally:
        again.close()


def test_cases_replies_and_corrections_are_queried_by_meaning(tmp_path: Path) -> None:
    from router.state import NewCorrection, load_corrections

    path = tmp_path / "router.sqlite3"
    store = open_store(path)
    try:
        store.open_case("C3", "s@x", "general", "general", None, ("identity",), ())
        store.link_message("C3", "<c@x>")
        store.update_case("C3", present=("identity",), route="security")
        case = store.case_of(["<nope@x>", "<c@x>"])
        assert case is not None and case.route == "security" and case.present == ("identity",)
        assert store.message_ids_of_case("m", "C3") == {"<c@x>"}
        store.add_correction(NewCorrection("<c@x>", "C3", "general", "general", "security", "text", "en", "label"))
        assert store.last_correction("<c@x>") == "security"
    finally:
        store.close()
    fixes = load_corrections(path)
    assert [f["corrected_category"] for f in fixes] == ["security"]
    assert load_corrections(tmp_path / "absent.sqlite3") == []


def test_a_store_newer_than_the_code_is_refused_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "router.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(RouterError, match="schema version") as info:
        open_store(path)
    assert "\n" not in str(info.value)
