"""The mailbox, the outbox and the runner in-process, against the real Dovecot and aiosmtpd.

The daemon tests run `router` as a process; these call the same classes
directly, so a failure points at one layer: IMAP (Mailbox), SMTP (Outbox),
or the stages in between (Runner over a fresh state store).
"""

from __future__ import annotations

from pathlib import Path

import mailkit
import pytest
from daemonkit import PASSWORD_ENV, forwards, mailbox_ids, write_config

from router import config
from router.act.outbox import Outbox, PermFail, TempFail
from router.config import Settings
from router.mailbox import Mailbox
from router.runner import Runner
from router.state import open_store
from router.testing import Dovecot, SmtpSink


@pytest.fixture
def settings(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv(PASSWORD_ENV, dovecot.password)
    return config.load(str(write_config(tmp_path, dovecot, smtp_sink)))


def _customer(i: int, subject: str = "Withdrawal Failed - UID 12345678") -> bytes:
    return mailkit.mail(subject, "My USDT withdrawal failed yesterday, please check.",
                        sender=f"customer{i}@mail.example", message_id=f"<ip{i}@mail.example>")


def test_mailbox_lists_fetches_and_moves_messages(settings: Settings, dovecot: Dovecot) -> None:
    uids = [dovecot.append("INBOX", _customer(i)) for i in range(3)]
    with Mailbox(settings.imap) as mb:
        assert mb.uidvalidity == dovecot.uidvalidity("INBOX")
        assert mb.pending_uids() == uids
        raws = mb.fetch(uids)
        assert sorted(raws) == uids and b"<ip1@mail.example>" in raws[uids[1]]
        mb.ensure_folder("Filed/Test")
        mb.file_many(uids[:2], "Filed/Test")
        mb.reselect()
        assert mb.pending_uids() == uids[2:]
    assert sorted(mailbox_ids(dovecot)["Filed/Test"]) == ["<ip0@mail.example>", "<ip1@mail.example>"]


def test_outbox_delivers_and_classifies_failures(settings: Settings, smtp_sink: SmtpSink) -> None:
    msg = mailkit.build([("From", settings.smtp.from_address), ("To", "team@exchange.example"), ("Subject", "hello"),
                         ("Message-ID", "<out1@exchange.example>")], "body")
    outbox = Outbox(settings.smtp)
    try:
        outbox.send(msg, settings.smtp.from_address, ["team@exchange.example"])
        got = smtp_sink.wait_for(1)
        assert got[0].rcpt_tos == ("team@exchange.example",) and b"<out1@exchange.example>" in got[0].data
        smtp_sink.fail_with(451, count=1)
        with pytest.raises(TempFail):
            outbox.send(msg, settings.smtp.from_address, ["team@exchange.example"])
        smtp_sink.fail_with(550, count=1)
        with pytest.raises(PermFail):
            outbox.send(msg, settings.smtp.from_address, ["team@exchange.example"])
    finally:
        outbox.close()


def test_runner_drains_forwards_files_and_records_each_message_once(settings: Settings, dovecot: Dovecot,
                                                                    smtp_sink: SmtpSink) -> None:
    for i in range(2):
        dovecot.append("INBOX", _customer(i))
    store = open_store(settings.state_path)
    outbox = Outbox(settings.smtp)
    try:
        runner = Runner(settings, store, None, outbox)
        with Mailbox(settings.imap) as mb:
            result = runner.drain(mb)
            assert result.handled == 2 and result.deferred == 0
            again = runner.drain(mb)
            assert again.handled == 0  # nothing left in the inbox, nothing sent twice
        sent = forwards(smtp_sink)
        assert set(sent) == {"<ip0@mail.example>", "<ip1@mail.example>"}
        assert all(len(v) == 1 for v in sent.values())
        ids = mailbox_ids(dovecot)
        assert ids.get("INBOX", []) == []
        for i in range(2):
            row = store.find_known(settings.mailbox_key(), f"<ip{i}@mail.example>", "")
            assert row is not None and row.step == "filed" and row.record is not None
            assert row.folder is not None and f"<ip{i}@mail.example>" in ids[row.folder]
            assert row.record["route"] == row.outcome
    finally:
        outbox.close()
        store.close()
