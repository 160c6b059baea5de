"""Cases, reply caps and the duplicate check are shared by every mailbox of one state store (issue 14).

Two runners, one per mailbox (two folders of one Dovecot account, so two
mailbox keys), over one store, on SQLite and on a real PostgreSQL: a message
delivered to both mailboxes is handled once and the other copy is filed as a
duplicate; a follow-up arriving at the second mailbox joins the case the
first one opened.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import mailkit
import pytest
from daemonkit import PASSWORD_ENV, forwards, mailbox_ids, replies, write_config

from router import config
from router.act.outbox import Outbox
from router.config import Settings
from router.mailbox import Mailbox
from router.runner import Runner
from router.errors import StoreUnavailable
from router.state import PostgresStore, Store, StoreLocation, open_store
from router.testing import Dovecot, SmtpSink
from router.testing.postgres import Postgres

pytestmark = pytest.mark.integration

SECURITY = "Security@"  # the second mailbox: a folder of the same account


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        s = open_store(StoreLocation(tmp_path / "shared.sqlite3"))
    else:
        server: Postgres = request.getfixturevalue("postgres_server")
        s = open_store(StoreLocation(tmp_path, url=request.getfixturevalue("postgres_url"), password_file=server.password_file))
    yield s
    s.close()


@pytest.fixture
def two(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, Settings]:
    monkeypatch.setenv(PASSWORD_ENV, dovecot.password)
    support = config.load(str(write_config(tmp_path, dovecot, smtp_sink)))
    security = replace(support, imap=replace(support.imap, folder=SECURITY))
    with dovecot.client() as c:
        c.create_folder(SECURITY)
    assert support.mailbox_key() != security.mailbox_key()
    return support, security


def _drain(settings: Settings, store: Store) -> Any:
    outbox = Outbox(settings.smtp)
    try:
        with Mailbox(settings.imap) as mb:
            return Runner(settings, store, None, outbox).drain(mb)
    finally:
        outbox.close()


def test_one_message_id_at_two_mailboxes_is_handled_once(two: tuple[Settings, Settings], store: Store, dovecot: Dovecot,
                                                          smtp_sink: SmtpSink) -> None:
    support, security = two
    raw = mailkit.mail("Account Hacked - UID 31415926", "Someone logged into my account and withdrew 2 BTC. I did not do this!",
                       sender="victim@mail.example", message_id="<both@mail.example>")
    dovecot.append("INBOX", raw)
    dovecot.append(SECURITY, raw)
    first = _drain(support, store)
    second = _drain(security, store)
    assert first.handled == 1 and second.by_route == {"duplicate": 1}, (first, second)
    fw = forwards(smtp_sink)
    assert list(fw) == ["<both@mail.example>"] and len(fw["<both@mail.example>"]) == 1
    assert sum(1 for msg, _ in replies(smtp_sink) if msg["To"] == "victim@mail.example") <= 1
    boxes = mailbox_ids(dovecot)
    assert boxes.get("INBOX") == [] and boxes.get(SECURITY) == []
    assert boxes[support.folders["review"]].count("<both@mail.example>") == 1  # the copy, filed for a person to see
    copy = store.get(security.mailbox_key(), dovecot.uidvalidity(SECURITY), dovecot_uid(store, security))
    assert copy is not None and copy.outcome == "duplicate"


def dovecot_uid(store: Store, settings: Settings) -> int:
    row = store.find_known(settings.mailbox_key(), "<both@mail.example>", "")
    assert row is not None
    return row.uid


def test_a_follow_up_at_another_mailbox_joins_the_case(two: tuple[Settings, Settings], store: Store, dovecot: Dovecot) -> None:
    support, security = two
    dovecot.append("INBOX", mailkit.mail("Withdrawal Failed - UID 27182818", "My USDT withdrawal failed yesterday, please check.",
                                         sender="cust@mail.example", message_id="<open@mail.example>"))
    assert _drain(support, store).handled == 1
    opened = store.case_of(["<open@mail.example>"])
    assert opened is not None
    dovecot.append(SECURITY, mailkit.mail(f"Re: [Case #{opened.case_id}] Withdrawal Failed", "Here is the transaction id.",
                                          sender="cust@mail.example", message_id="<follow@mail.example>",
                                          extra={"In_Reply_To": "<open@mail.example>"}))
    assert _drain(security, store).handled == 1
    follow = store.find_known(security.mailbox_key(), "<follow@mail.example>", "")
    assert follow is not None and follow.case_id == opened.case_id
    assert "<follow@mail.example>" in store.message_ids_of_case(support.mailbox_key(), opened.case_id)


def test_a_postgres_outage_sets_nothing_aside(two: tuple[Settings, Settings], dovecot: Dovecot, smtp_sink: SmtpSink,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The store goes away mid-message: the runner stops with StoreUnavailable and the message stays in INBOX."""
    support, _ = two
    with Postgres() as server:
        store = PostgresStore(server.create_database("outage"), password=server.password, pool_timeout=2)
        dovecot.append("INBOX", mailkit.mail("Withdrawal Failed - UID 11235813", "My USDT withdrawal failed yesterday.",
                                             sender="o@mail.example", message_id="<outage@mail.example>"))
        claim = store.claim

        def claim_then_lose_the_server(*args: Any) -> Any:
            row = claim(*args)
            server.stop()
            return row

        monkeypatch.setattr(store, "claim", claim_then_lose_the_server)
        try:
            with pytest.raises(StoreUnavailable):
                _drain(support, store)
        finally:
            store.close()
    assert mailbox_ids(dovecot)["INBOX"] == ["<outage@mail.example>"] and forwards(smtp_sink) == {}
