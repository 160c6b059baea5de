"""`router run` against a real Dovecot and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from daemonkit import (REPO, assert_samples_routed, env_for, forwards, mailbox_ids, make_mail, parsed, router_cmd, run_once, start_daemon,
                       stop_daemon, wait_until, write_config)
from router.testing import Dovecot, SmtpSink


def _load_samples(dovecot: Dovecot) -> list[bytes]:
    raws = [p.read_bytes() for p in sorted((REPO / "samples").glob("*.eml"))]
    for raw in raws:
        dovecot.append("INBOX", raw)
    return raws


def test_end_to_end_forwards_files_and_never_twice(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    _load_samples(dovecot)
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    first = run_once(cfg, dovecot)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "Traceback" not in first.stderr
    assert dovecot.uids("INBOX") == []
    boxes = assert_samples_routed(dovecot, smtp_sink)
    # every sample is somewhere, exactly once
    assert sum(len(v) for v in boxes.values()) == 14
    # forwarded copy: original attached, X-Router headers, deterministic Message-ID
    msg = next(parsed(m.data) for m in smtp_sink.messages if "freeze-001" in (parsed(m.data).get("X-Router-Original-Message-ID") or ""))
    assert msg["X-Router-Category"] == "compliance" and msg["X-Router-Route"] == "compliance"
    assert msg["X-Router-Case-Id"] and msg["X-Router-Model-Version"] and msg["X-Router-Language"] == "zh"
    assert msg["Subject"].startswith("[COMPLIANCE][UID 20231187][Case #")
    assert any(p.get_content_type() == "message/rfc822" for p in msg.walk())
    # the redacted copy for the message with a password
    hacked = next(m.data for m in smtp_sink.messages if b"hacked-002" in m.data and b"X-Router-Original" in m.data)
    assert b"Tr0ub4dor&3xx" not in hacked and b"[REDACTED:password]" in hacked

    sent = len(smtp_sink.messages)
    second = run_once(cfg, dovecot)
    assert second.returncode == 0 and len(smtp_sink.messages) == sent


def test_smtp_temporary_failures_are_retried(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    for i in range(5):
        dovecot.append("INBOX", make_mail(i))
    smtp_sink.fail_with(451, "4.3.0 try again later", count=4)
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    proc = run_once(cfg, dovecot)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert dovecot.uids("INBOX") == []
    assert len(forwards(smtp_sink)) == 5
    assert "temporary failure" in proc.stderr


def test_smtp_421_then_recovery(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    for i in range(3):
        dovecot.append("INBOX", make_mail(i))
    smtp_sink.fail_with(421, "4.7.0 too busy", count=2)
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    assert run_once(cfg, dovecot).returncode == 0
    assert dovecot.uids("INBOX") == [] and len(forwards(smtp_sink)) == 3


def test_smtp_permanent_failure_goes_to_dead_letter(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    dovecot.append("INBOX", make_mail(1))
    smtp_sink.fail_with(550, "5.1.1 mailbox unavailable", count=None)
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    proc = run_once(cfg, dovecot)
    assert proc.returncode == 0
    assert len(mailbox_ids(dovecot)["DeadLetter"]) == 1
    db = sqlite3.connect(tmp_path / "state" / "router.sqlite3")
    outcome, error = db.execute("SELECT outcome, last_error FROM messages").fetchone()
    assert outcome == "dead_letter" and "550" in error


def test_uidvalidity_change_forwards_nothing_twice(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    raws = [make_mail(i) for i in range(6)]
    for raw in raws:
        dovecot.append("INBOX", raw)
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    assert run_once(cfg, dovecot).returncode == 0
    sent = len(smtp_sink.messages)
    old_validity = dovecot.uidvalidity("INBOX")
    # The mailbox is recreated (new UIDVALIDITY) and the same messages reappear in it.
    dovecot.recreate_inbox_same_messages()
    for raw in raws:
        dovecot.append("INBOX", raw)
    assert dovecot.uidvalidity("INBOX") != old_validity
    assert run_once(cfg, dovecot).returncode == 0
    assert len(smtp_sink.messages) == sent
    assert dovecot.uids("INBOX") == []
    assert len(mailbox_ids(dovecot)["Routed/General"]) == 12  # the reappeared copies are filed, not acted on


def test_move_fallback_without_move_capability(tmp_path: Path, dovecot_factory, smtp_sink: SmtpSink) -> None:  # type: ignore[no-untyped-def]
    server = dovecot_factory(disable_move=True)
    for i in range(3):
        server.append("INBOX", make_mail(i))
    cfg = write_config(tmp_path, server, smtp_sink)
    proc = run_once(cfg, server)
    assert proc.returncode == 0, proc.stderr[-1500:]
    assert server.uids("INBOX") == []
    assert len(mailbox_ids(server)["Routed/General"]) == 3
    assert "copy+uid_expunge" in proc.stderr


def test_oversize_mail_quarantined_and_bad_mail_does_not_block(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    dovecot.append("INBOX", make_mail(1, body="x" * 300_000))
    dovecot.append("INBOX", b"\x00\x01garbage without headers\xff" * 10)
    dovecot.append("INBOX", make_mail(2))
    cfg = write_config(tmp_path, dovecot, smtp_sink, limits={"max_message_bytes": 100_000})
    assert run_once(cfg, dovecot).returncode == 0
    boxes = mailbox_ids(dovecot)
    assert len(boxes["Quarantine"]) == 2 and len(boxes["Routed/General"]) == 1
    assert dovecot.uids("INBOX") == []


def test_second_daemon_is_refused_and_sigterm_exits_zero(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    proc = start_daemon(cfg, dovecot, tmp_path / "daemon.log")
    try:
        assert wait_until(lambda: b"router started" in (tmp_path / "daemon.log").read_bytes(), 30)
        other = subprocess.run(router_cmd(cfg, "run", "--once"), env=env_for(dovecot), capture_output=True, text=True, timeout=60)
        assert other.returncode == 1 and "already" in other.stderr
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - t0 < 10
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_starttls_and_implicit_tls_with_password_file(tmp_path: Path, dovecot_factory, smtp_sink: SmtpSink) -> None:  # type: ignore[no-untyped-def]
    """Both TLS modes of [imap] security, and the password read from password_file."""
    server = dovecot_factory(ssl=True)
    secret = tmp_path / "imap_password"
    secret.write_text(server.password + "\n")
    for n, (mode, port) in enumerate((("starttls", server.port), ("ssl", server.ssl_port))):
        server.append("INBOX", make_mail(100 + n))
        cfg_dir = tmp_path / mode
        cfg_dir.mkdir()
        cfg = write_config(cfg_dir, server, smtp_sink, imap={"security": mode, "port": port, "password_env": "",
                                                             "password_file": str(secret)})
        proc = subprocess.run(router_cmd(cfg, "run", "--once"), capture_output=True, text=True, timeout=120,
                              env={k: v for k, v in env_for(server).items() if k != "ROUTER_TEST_IMAP_PASSWORD"})
        assert proc.returncode == 0, proc.stderr[-1500:]
        assert server.uids("INBOX") == []
    assert len(forwards(smtp_sink)) == 2
    # wrong credentials at start: exit 1 with a one-line reason, not a retry loop or a traceback
    secret.write_text("wrong")
    cfg = write_config(tmp_path, server, smtp_sink, imap={"password_env": "", "password_file": str(secret)})
    proc = subprocess.run(router_cmd(cfg, "--log-level", "ERROR", "run", "--once"), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [f"router: error: IMAP login to 127.0.0.1:{server.port} as {server.user} failed: "
                                               + proc.stderr.split("failed: ", 1)[1].strip()]
    assert "Traceback" not in proc.stderr and "wrong" not in proc.stderr


def test_smtp_login_failure_keeps_mail_waiting_not_dead_lettered(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    """A relay that refuses our login is our problem, not the message's."""
    dovecot.append("INBOX", make_mail(1))
    cfg = write_config(tmp_path, dovecot, smtp_sink, smtp={"username": "router", "password_env": "NO_SUCH_ENV",
                                                          "retry_base_seconds": 120, "retry_max_seconds": 120})
    proc = run_once(cfg, dovecot)
    assert proc.returncode == 0, proc.stderr[-1500:]
    assert len(dovecot.uids("INBOX")) == 1
    boxes = mailbox_ids(dovecot)
    assert not boxes.get("DeadLetter") and not boxes.get("Quarantine")
    assert "cannot connect or log in to SMTP" in proc.stderr


def test_a_folder_the_server_refuses_sets_messages_aside_instead_of_stalling(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    """A NO to MOVE (here: the folder was deleted behind the daemon's back) must not block the mailbox.

    A folder refused at start is a config error instead (tests/test_server_variants.py).
    """
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    log = tmp_path / "daemon.log"
    proc = start_daemon(cfg, dovecot, log)
    try:
        assert wait_until(lambda: "Routed/General" in dovecot.folders() and b"imap connected" in log.read_bytes(), 60), log.read_text()[-2000:]
        with dovecot.client() as c:
            c.delete_folder("Routed/General")
        for i in range(3):
            dovecot.append("INBOX", make_mail(i))
        dovecot.append("INBOX", make_mail(9, subject="Account Hacked - UID 55501234", body="someone logged in and withdrew my BTC"))
        assert wait_until(lambda: dovecot.uids("INBOX") == [], 60), log.read_text()[-2000:]
    finally:
        assert stop_daemon(proc) == 0
    boxes = mailbox_ids(dovecot)
    assert len(boxes["Quarantine"]) == 3 and len(boxes["Routed/Security"]) == 1
    assert "cannot file into Routed/General" in log.read_text()
    db = sqlite3.connect(tmp_path / "state" / "router.sqlite3")
    assert {r[0] for r in db.execute("SELECT outcome FROM messages")} == {"quarantine", "security"}
    db.close()
