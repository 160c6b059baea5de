"""router.state: both stores (SQLite and PostgreSQL) behave the same, own their schema and upgrade it.

Every test that takes `backend` runs twice: against a SQLite file and
against a real PostgreSQL started by the harness (router/testing/postgres.py).
The lease tests are PostgreSQL's alone: one SQLite file serves one router.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from router.errors import RouterError, StoreUnavailable
from router.state import SCHEMA_VERSION, NewCorrection, PostgresStore, Store, StoreLocation, load_corrections, open_store
from router.state.postgres_schema import VERSION as PG_VERSION
from router.state.schema import MIGRATIONS
from router.testing.postgres import Postgres


@dataclass
class Backend:
    name: str
    location: StoreLocation
    version: int

    def open(self, **changes: Any) -> Store:
        return open_store(replace(self.location, **changes))


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", StoreLocation(tmp_path / "s" / "router.sqlite3"), SCHEMA_VERSION)
    server: Postgres = request.getfixturevalue("postgres_server")
    url: str = request.getfixturevalue("postgres_url")
    return Backend("postgres", StoreLocation(tmp_path / "unused", url=url, password_file=server.password_file,
                                             lease_seconds=60), PG_VERSION)


@pytest.fixture
def store(backend: Backend) -> Any:
    s = backend.open()
    yield s
    s.close()


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


def test_an_old_sqlite_store_is_upgraded_in_place_and_keeps_its_data(tmp_path: Path) -> None:
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


def test_a_new_store_is_created_at_the_current_version_and_reopens_unchanged(backend: Backend) -> None:
    store = backend.open()
    row = store.claim("m", 1, 1, "<b@x>", "hash")
    assert row is not None
    store.record_step(row, "decided", route="general", case_id="C2", record={"category": "general", "n": 1})
    store.close()
    again = backend.open()
    try:
        assert again.schema_version() == backend.version >= 1
        back = again.get("m", 1, 1)
        assert back is not None and (back.step, back.route, back.case_id) == ("decided", "general", "C2")
        assert back.record == {"category": "general", "n": 1}
    finally:
        again.close()


def test_cases_replies_and_corrections_are_queried_by_meaning(store: Store) -> None:
    store.open_case("C3", "s@x", "general", "general", None, ("identity",), ())
    store.open_case("C3", "other@x", "security", "security", None, (), ())  # a second open keeps the first
    store.link_message("C3", "<c@x>")
    store.link_message("C3", "<c@x>")
    store.update_case("C3", present=("identity",), route="security")
    case = store.case_of(["<nope@x>", "<c@x>"])
    assert case is not None and (case.sender, case.route, case.present, case.required) == ("s@x", "security", ("identity",), ("identity",))
    assert store.case("C3") == case and store.case("C404") is None
    assert store.message_ids_of_case("m", "C3") == {"<c@x>"}
    store.add_correction(NewCorrection("<c@x>", "C3", "general", "general", "compliance", "text", "en", "label"))
    store.add_correction(NewCorrection("<c@x>", "C3", "general", "general", "security", "text", "en", "label"))
    assert store.last_correction("<c@x>") == "security"
    assert [c["corrected_category"] for c in store.corrections_since()] == ["security"]
    assert store.corrections_since(time.time() + 10) == []


def test_sqlite_corrections_are_read_without_creating_a_store(tmp_path: Path) -> None:
    path = tmp_path / "router.sqlite3"
    store = open_store(path)
    store.add_correction(NewCorrection("<c@x>", None, None, None, "security", "text", "en", "label"))
    store.close()
    assert [f["corrected_category"] for f in load_corrections(path)] == ["security"]
    assert load_corrections(tmp_path / "absent.sqlite3") == []
    assert not (tmp_path / "absent.sqlite3").exists()


def test_steps_deferrals_and_deliveries_are_recorded(store: Store) -> None:
    row = store.claim("m", 5, 10, "<d@x>", "hd")
    assert row is not None and row.step == "claimed" and store.claim("m", 5, 10, "<d@x>", "hd") == row
    with pytest.raises(ValueError, match="not a message column"):
        store.record_step(row, "decided", nonsense=1)
    nxt = store.defer(row, "451 try later", 2, 60)
    assert row.attempts == 1 and nxt > time.time() and store.get("m", 5, 10).last_error == "451 try later"  # type: ignore[union-attr]
    store.record_step(row, "decided", route="security", record={"r": 1})
    store.record_step(row, "forwarded")
    assert [r.uid for r in store.in_flight("m", 5)] == [10] and store.in_flight("m", 6) == []
    assert not store.delivered("<d@x>", "forward", "sec@x")
    store.record_delivery("<d@x>", "forward", "sec@x", "<fwd@r>")
    store.record_delivery("<d@x>", "forward", "sec@x", "<fwd2@r>")  # once per purpose and recipient
    assert store.delivered("<d@x>", "forward", "sec@x")
    store.record_step(row, "filed", folder="Routed/Security", outcome="security")
    assert store.in_flight("m", 5) == []
    summary = store.summary(since=0)
    assert summary["total_by_outcome"] == {"security": 1} and summary["in_progress"] == 0
    store.refile("m", "<d@x>", "Routed/General")
    assert store.get("m", 5, 10).folder == "Routed/General"  # type: ignore[union-attr]
    store.set_meta("last_uid", 10)
    assert store.get_meta("last_uid") == 10 and store.get_meta("absent", "d") == "d"
    store.set_meta("last_uid", 11)
    assert store.get_meta("last_uid") == 11


def test_a_known_message_under_a_new_uid_resumes_and_requeue_starts_it_again(store: Store) -> None:
    row = store.claim("m", 1, 3, "<e@x>", "he")
    assert row is not None
    store.record_step(row, "forwarded", route="general", case_id="C5")
    store.open_case("C5", "s@x", "general", "general", None, (), ())
    moved = store.claim("m", 2, 9, "<e@x>", "he")  # UIDVALIDITY changed
    assert moved is not None and (moved.uidvalidity, moved.uid, moved.step) == (2, 9, "forwarded")
    assert store.get("m", 1, 3) is None
    store.record_delivery("<e@x>", "forward", "t@x", "<f@r>")
    store.record_reply("<e@x>", "C5", "s@x", "suppressed", "quarantine")
    info = store.requeue("m", "<e@x>", dry_run=True)
    assert info["known"] and info["already_sent"] == [{"purpose": "forward", "to": "t@x", "message_id": "<f@r>"}]
    assert store.get("m", 2, 9).step == "forwarded"  # type: ignore[union-attr]
    store.requeue("m", "<e@x>")
    back = store.get("m", 2, 9)
    assert back is not None and (back.step, back.route) == ("claimed", None)
    assert store.case("C5") is None and store.reply_outcome("<e@x>") is None
    assert store.is_known("m", "<e@x>", "zz") and not store.is_known("other", "<e@x>", "zz")


def test_replies_count_towards_caps_and_a_sending_reply_can_be_forgotten(store: Store) -> None:
    store.record_reply("<r1@x>", "C1", "s@x", "sending", None)
    assert store.case_acknowledged("s@x", "C1") and store.sent_within("s@x", 60) == 0
    store.forget_unsent_reply("<r1@x>")
    assert store.reply_outcome("<r1@x>") is None
    store.record_reply("<r1@x>", "C1", "s@x", "sent", "ack")
    store.record_reply("<r1@x>", "C1", "s@x", "failed", None)  # no replace: the first stays
    assert store.reply_outcome("<r1@x>") == "sent"
    store.record_reply("<r1@x>", "C1", "s@x", "suppressed", "rate_limited_hour", replace=True)
    assert store.reply_outcome("<r1@x>") == "suppressed"
    store.record_reply("<r2@x>", "C2", "s@x", "failed", "uncertain_after_crash")
    assert store.sent_within("s@x", 60) == 1
    assert store.summary(since=0)["rate_limited_senders"][0]["sender"] == "s@x"


# -- shared across mailboxes (issue 14) -------------------------------------------------------

def test_the_same_message_id_at_two_mailboxes_is_handled_once(store: Store) -> None:
    first = store.claim("support@x/INBOX", 1, 4, "<same@x>", "h-support")
    assert first is not None and first.step == "claimed"
    store.record_step(first, "decided", case_id="C9", route="security")
    copy = store.claim("security@x/INBOX", 7, 2, "<same@x>", "h-security")
    assert copy is not None and copy.reached("filed") and (copy.outcome, copy.case_id) == ("duplicate", "C9")
    assert store.get("support@x/INBOX", 1, 4).step == "decided"  # type: ignore[union-attr]  # untouched
    made_up = store.claim("security@x/INBOX", 7, 3, "<abc@router.invalid>", "h1")
    assert store.claim("support@x/INBOX", 1, 5, "<abc@router.invalid>", "h2") is not None
    assert made_up is not None and made_up.step == "claimed"


def test_cases_and_reply_caps_are_shared_by_every_mailbox(store: Store) -> None:
    opened = store.claim("support@x/INBOX", 1, 1, "<open@x>", "h1")
    assert opened is not None
    store.open_case("C7", "cust@x", "general", "general", None, (), ())
    store.link_message("C7", "<open@x>")
    store.record_reply("<open@x>", "C7", "cust@x", "sent", "ack")
    # the follow-up arrives at security@: it finds the case and the count of acknowledgements
    follow = store.claim("security@x/INBOX", 3, 1, "<follow@x>", "h2")
    assert follow is not None and follow.step == "claimed"
    case = store.case_of(["<open@x>"])
    assert case is not None and case.case_id == "C7"
    assert store.case_acknowledged("cust@x", "C7") and store.sent_within("cust@x", 3600) == 1


def test_the_sla_clock_is_scheduled_acknowledged_and_escalated_once(store: Store) -> None:
    store.open_case("C5", "s@x", "security", "security", None, (), ())
    store.open_case("C6", "t@x", "general", "general", None, (), ())
    store.open_case("C7", "u@x", "general", "general", None, (), ())  # never scheduled: no clock
    fresh = store.case("C5")
    assert fresh is not None and (fresh.priority, fresh.received, fresh.due, fresh.escalated) == (None,) * 4
    store.schedule_case("C5", "urgent", 100.0, 500.0)
    store.schedule_case("C5", "high", 200.0, 400.0)  # rescheduled: priority and due change, received is kept
    store.schedule_case("C6", "normal", 150.0, 900.0)
    store.schedule_case("C404", "normal", 1.0, 2.0)  # no such case: nothing happens
    case = store.case("C5")
    assert case is not None and (case.priority, case.received, case.due) == ("high", 100.0, 400.0)
    store.mark_acknowledged("C5", 110.0)
    store.mark_acknowledged("C5", 120.0)  # a later acknowledgement changes nothing
    case = store.case("C5")
    assert case is not None and case.acknowledged == 110.0 and case.answered is None
    assert [c.case_id for c in store.open_clocks()] == ["C5", "C6"]  # soonest due first
    assert store.claim_escalation("C5", 410.0) is True
    assert store.claim_escalation("C5", 420.0) is False
    assert store.claim_escalation("C404", 420.0) is False
    case = store.case("C5")
    assert case is not None and case.escalated == 410.0
    assert store.case_of(["<nope@x>"]) is None
    clocks = store.open_clocks()
    assert [(c.case_id, c.priority, c.received, c.acknowledged, c.due, c.escalated) for c in clocks] == [
        ("C5", "high", 100.0, 110.0, 400.0, 410.0), ("C6", "normal", 150.0, None, 900.0, None)]


def test_a_store_newer_than_the_code_is_refused_with_one_line(backend: Backend) -> None:
    if backend.name == "sqlite":
        backend.location.path.parent.mkdir(parents=True)
        db = sqlite3.connect(backend.location.path)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
        db.close()
    else:
        store = backend.open()
        assert isinstance(store, PostgresStore)
        store._exec("UPDATE schema_version SET version=?", (PG_VERSION + 1,))
        store.close()
    with pytest.raises(RouterError, match="schema version") as info:
        backend.open()
    assert "\n" not in str(info.value)


# -- PostgreSQL: the password, concurrent start-up, leases ----------------------------------------

@pytest.fixture
def pg_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    server: Postgres = request.getfixturevalue("postgres_server")
    url: str = request.getfixturevalue("postgres_url")
    return Backend("postgres", StoreLocation(tmp_path, url=url, password_file=server.password_file), PG_VERSION)


def _wait(until: Callable[[], bool], seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not until():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_postgres_password_comes_from_a_file_or_the_environment(pg_backend: Backend, postgres_server: Postgres,
                                                                    monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    backend = pg_backend
    monkeypatch.setenv("ROUTER_TEST_PG", postgres_server.password)
    backend.open(password_file=None, password_env="ROUTER_TEST_PG").close()
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password\n")
    with pytest.raises(RouterError, match="cannot be opened") as info:
        backend.open(password_file=wrong)
    assert "not-the-password" not in str(info.value) and postgres_server.password not in str(info.value)
    assert "\n" not in str(info.value)
    with pytest.raises(RouterError, match="password_env ROUTER_TEST_UNSET is not set"):
        backend.open(password_file=None, password_env="ROUTER_TEST_UNSET")


def test_routers_starting_together_migrate_once(pg_backend: Backend) -> None:
    backend = pg_backend
    opened: list[Store] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            opened.append(backend.open())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and [s.schema_version() for s in opened] == [PG_VERSION] * 4
    for s in opened:
        s.close()


def test_a_live_routers_claim_is_left_alone_and_an_expired_one_is_taken_over(pg_backend: Backend) -> None:
    a, b = pg_backend.open(lease_seconds=0.6), pg_backend.open(lease_seconds=0.6)
    try:
        row = a.claim("m", 1, 1, "<l@x>", "hl")
        assert row is not None
        assert b.claim("m", 1, 1, "<l@x>", "hl") is None  # A is alive and holds it
        time.sleep(0.4)
        a.record_step(row, "forwarded", route="general")  # a recorded step renews the lease
        time.sleep(0.4)
        assert b.claim("m", 1, 1, "<l@x>", "hl") is None
        # A dies: nothing renews its lease, and B resumes from A's last recorded step
        _wait(lambda: b.claim("m", 1, 1, "<l@x>", "hl") is not None)
        taken = b.get("m", 1, 1)
        assert taken is not None and taken.step == "forwarded" and taken.route == "general"
        assert a.claim("m", 1, 1, "<l@x>", "hl") is None  # now B's
        b.record_step(taken, "filed", outcome="general", folder="Routed/General")
        done = a.claim("m", 1, 1, "<l@x>", "hl")  # filed releases it: A sees it finished
        assert done is not None and done.reached("filed")
        assert isinstance(b, PostgresStore) and b.lease_of("m", 1, 1) == (None, 0.0)
    finally:
        a.close()
        b.close()


def test_a_deferred_message_is_let_go_for_any_router(pg_backend: Backend) -> None:
    a, b = pg_backend.open(), pg_backend.open()
    try:
        row = a.claim("m", 1, 2, "<t@x>", "ht")
        assert row is not None and b.claim("m", 1, 2, "<t@x>", "ht") is None
        a.defer(row, "451 later", 1, 5)
        again = b.claim("m", 1, 2, "<t@x>", "ht")
        assert again is not None and again.attempts == 1
    finally:
        a.close()
        b.close()


def test_concurrent_claims_give_each_message_to_exactly_one_router(pg_backend: Backend) -> None:
    stores = [pg_backend.open() for _ in range(3)]
    won: dict[int, list[int]] = {uid: [] for uid in range(1, 31)}

    def work(index: int) -> None:
        for uid in won:
            if stores[index].claim("m", 1, uid, f"<{uid}@x>", f"h{uid}") is not None:
                won[uid].append(index)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert all(len(owners) == 1 for owners in won.values()), won
    finally:
        for s in stores:
            s.close()


def test_settling_leaves_alone_what_another_live_router_holds(pg_backend: Backend) -> None:
    a, b = pg_backend.open(lease_seconds=0.5), pg_backend.open(lease_seconds=0.5)
    try:
        row = a.claim("m", 1, 8, "<s@x>", "hs")
        assert row is not None
        a.record_step(row, "decided", route="general")
        assert b.in_flight("m", 1) == [] and [r.uid for r in a.in_flight("m", 1)] == [8]
        _wait(lambda: [r.uid for r in b.in_flight("m", 1)] == [8])  # A's lease ran out: B may settle it
    finally:
        a.close()
        b.close()


def test_corrections_are_read_back_from_either_store(backend: Backend) -> None:
    store = backend.open()
    store.add_correction(NewCorrection("<k@x>", None, "general", "general", "security", "text", "en", "label"))
    store.close()
    assert [c["corrected_category"] for c in load_corrections(backend.location)] == ["security"]


def test_a_lost_postgres_server_is_reported_as_unavailable_in_one_line(tmp_path: Path) -> None:
    with Postgres() as server:
        url = server.create_database("lost")
        store = PostgresStore(url, password=server.password, pool_timeout=2)
        assert store.claim("m", 1, 1, "<u@x>", "hu") is not None
        server.stop()
        try:
            with pytest.raises(StoreUnavailable, match="unavailable") as info:
                store.get("m", 1, 1)
            assert "\n" not in str(info.value) and server.password not in str(info.value)
            with pytest.raises(StoreUnavailable), store.transaction():
                store.event("never")
        finally:
            store.close()


def test_an_escalation_is_claimed_by_exactly_one_of_several_routers(pg_backend: Backend) -> None:
    first = pg_backend.open()
    first.open_case("C8", "s@x", "security", "security", None, (), ())
    first.schedule_case("C8", "urgent", 1.0, 2.0)
    stores = [pg_backend.open() for _ in range(4)]
    results: list[bool] = []
    barrier = threading.Barrier(len(stores))

    def escalate(s: Store) -> None:
        barrier.wait()
        results.append(s.claim_escalation("C8", time.time()))

    threads = [threading.Thread(target=escalate, args=(s,)) for s in stores]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(results) == [False, False, False, True]
    finally:
        for s in [first, *stores]:
            s.close()


def test_a_version_1_postgres_store_gains_the_sla_clock_and_keeps_its_cases(pg_backend: Backend) -> None:
    store = pg_backend.open()
    assert isinstance(store, PostgresStore)
    store.open_case("C9", "s@x", "general", "general", None, (), ())
    store._exec("DROP INDEX cases_due")  # back to the schema branch pg released as version 1
    for column in ("priority", "received", "acknowledged", "answered", "due", "escalated"):
        store._exec(f"ALTER TABLE cases DROP COLUMN {column}")
    store._exec("UPDATE schema_version SET version=1")
    store.close()
    again = pg_backend.open()
    try:
        assert again.schema_version() == PG_VERSION == 2
        case = again.case("C9")
        assert case is not None and case.sender == "s@x" and case.due is None
        again.schedule_case("C9", "normal", 5.0, 6.0)
        assert [c.case_id for c in again.open_clocks()] == ["C9"]
    finally:
        again.close()
