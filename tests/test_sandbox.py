"""Proof that the integration harness talks to real servers and behaves.

If these fail, every daemon integration test built on router.testing is
suspect, so they check the server-side effects, not just "no exception".
"""

from __future__ import annotations

import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from imapclient import IMAPClient

from router.testing import Dovecot, SmtpSink

pytestmark = pytest.mark.integration


def _message(n: int, body: str = "") -> bytes:
    return (
        f"From: customer{n}@client.example\r\n"
        f"To: support@exchange.example\r\n"
        f"Subject: ticket {n}\r\n"
        f"Message-ID: <ticket-{n}@client.example>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        f"{body or f'body of ticket {n}'}\r\n"
    ).encode()


def _unverified_context() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def _session_members(sid: int) -> list[int]:
    """Live processes whose session id is ``sid`` (Dovecot's master pid)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != sid:
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2 :].split()
            if int(fields[3]) == sid and fields[0] != "Z":
                members.append(int(entry.name))
    return members


# -- IMAP ------------------------------------------------------------------


def test_append_three_and_read_back(dovecot: Dovecot) -> None:
    sent = [_message(1), _message(2, "您好，我的账户被锁定了。"), _message(3)]
    uids = [dovecot.append("INBOX", raw) for raw in sent]

    assert uids == [1, 2, 3]
    assert dovecot.uids("INBOX") == [1, 2, 3]
    # Byte-exact, including the 8-bit UTF-8 body.
    assert dovecot.list_folder("INBOX") == sent
    # Reading must not mark anything \Seen (the daemon's own state depends on it).
    assert all(b"\\Seen" not in flags for flags in dovecot.flags("INBOX").values())


def test_folder_with_slash_and_move(dovecot: Dovecot) -> None:
    raw = _message(7)
    with dovecot.client() as c:
        assert c.namespace().personal[0][1] == "/"
        c.create_folder("Routed/Security")
        c.append("INBOX", raw)
        c.select_folder("INBOX")
        (uid,) = c.search("ALL")
        c.move([uid], "Routed/Security")

    assert "Routed/Security" in dovecot.folders()
    assert dovecot.list_folder("Routed/Security") == [raw]
    assert dovecot.list_folder("INBOX") == []
    # LAYOUT=fs: the hierarchy is real directories, not "Routed.Security".
    assert (dovecot.maildir / "Routed" / "Security").is_dir()


def test_default_capabilities(dovecot: Dovecot) -> None:
    with dovecot.client() as c:
        caps = set(c.capabilities())
    assert {b"IDLE", b"MOVE", b"UIDPLUS"} <= caps


def test_move_can_be_disabled(dovecot_factory: Callable[..., Dovecot]) -> None:
    server = dovecot_factory(disable_move=True)
    raw = _message(8)
    server.append("INBOX", raw)
    with server.client() as c:
        caps = set(c.capabilities())
        assert b"MOVE" not in caps
        assert {b"IDLE", b"UIDPLUS"} <= caps
        assert not c.has_capability("MOVE")
        # The fallback the daemon has to use still works: COPY + UID EXPUNGE.
        c.create_folder("Routed/Billing")
        c.select_folder("INBOX")
        c.copy([1], "Routed/Billing")
        c.add_flags([1], [b"\\Deleted"])
        c.uid_expunge([1])
    assert server.list_folder("Routed/Billing") == [raw]
    assert server.list_folder("INBOX") == []


def test_restart_keeps_messages_and_port(dovecot: Dovecot) -> None:
    sent = [_message(1), _message(2)]
    for raw in sent:
        dovecot.append("INBOX", raw)
    port = dovecot.port
    old_master = dovecot.master_pid
    stale = dovecot.client()
    try:
        stale.select_folder("INBOX")
        dovecot.restart()
        # The old session really died with the old server.
        with pytest.raises((IMAPClient.AbortError, OSError)):
            stale.noop()
    finally:
        stale.shutdown()

    assert dovecot.port == port
    assert dovecot.master_pid is not None and dovecot.master_pid != old_master
    assert dovecot.list_folder("INBOX") == sent


def test_recreate_inbox_changes_uidvalidity(dovecot: Dovecot) -> None:
    sent = [_message(1), _message(2)]
    dovecot.append("INBOX", sent[0], flags=[b"\\Seen"])
    dovecot.append("INBOX", sent[1])
    dovecot.append("Routed/Keep", _message(3))
    before = dovecot.uidvalidity("INBOX")

    old, new = dovecot.recreate_inbox_same_messages()

    assert old == before
    assert new != old
    assert dovecot.uidvalidity("INBOX") == new
    assert dovecot.list_folder("INBOX") == sent
    flags = dovecot.flags("INBOX")
    assert [b"\\Seen" in f for _, f in sorted(flags.items())] == [True, False]
    # Other folders are untouched.
    assert dovecot.list_folder("Routed/Keep") == [_message(3)]


def test_starttls_and_implicit_tls(dovecot_factory: Callable[..., Dovecot]) -> None:
    server = dovecot_factory(ssl=True)
    assert server.ssl_port is not None and server.ssl_port != server.port
    server.append("INBOX", _message(1))

    with IMAPClient(server.host, server.port, ssl=False, timeout=10) as c:
        assert c.has_capability("STARTTLS")
        c.starttls(_unverified_context())
        assert isinstance(c.socket(), ssl.SSLSocket)
        c.login(server.user, server.password)
        assert c.select_folder("INBOX")[b"EXISTS"] == 1

    with IMAPClient(server.host, server.ssl_port, ssl=True, ssl_context=_unverified_context(), timeout=10) as c:
        assert isinstance(c.socket(), ssl.SSLSocket)
        c.login(server.user, server.password)
        assert c.select_folder("INBOX")[b"EXISTS"] == 1

    # The certificate is also good enough for a verifying client.
    with server.client(tls="implicit") as c:
        assert c.folder_exists("INBOX")


def test_plain_server_has_no_tls(dovecot: Dovecot) -> None:
    assert dovecot.ssl_port is None
    with IMAPClient(dovecot.host, dovecot.port, ssl=False, timeout=10) as c:
        assert not c.has_capability("STARTTLS")


def test_two_instances_are_isolated(dovecot_factory: Callable[..., Dovecot]) -> None:
    first, second = dovecot_factory(), dovecot_factory()
    assert first.port != second.port
    first.append("INBOX", _message(1))
    assert first.list_folder("INBOX") == [_message(1)]
    assert second.list_folder("INBOX") == []


def test_stop_leaves_no_processes(dovecot_factory: Callable[..., Dovecot]) -> None:
    server = dovecot_factory()
    master = server.master_pid
    assert master is not None
    # A logged-in session is the hard case: Dovecot's master leaves those
    # running after its own shutdown.
    session = server.client()
    try:
        session.select_folder("INBOX")
        members = _session_members(master)
        assert len(members) >= 4  # log, config, auth, imap, ...
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 1.0  # not Dovecot's fixed 1 s pause
        with pytest.raises((IMAPClient.AbortError, OSError)):
            session.noop()
    finally:
        session.shutdown()
    assert not Path(f"/proc/{master}").exists()
    assert _session_members(master) == []
    # Zombies are dead: they only wait for PID 1 to reap them.
    assert [pid for pid in members if _alive(pid)] == []
    assert "Server shutting down" in server.log_file.read_text()
    with pytest.raises(OSError):
        socket.create_connection((server.host, server.port), timeout=1).close()


def test_server_dies_with_its_owner(tmp_path: Path) -> None:
    """A SIGKILLed test run (CI timeout) must not leave Dovecot running."""
    base = Path(tempfile.mkdtemp(prefix="dv", dir="/tmp"))
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from router.testing import Dovecot\n"
        "d = Dovecot(Path(sys.argv[1]))\n"
        "d.start()\n"
        "print(d.master_pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    owner = subprocess.Popen([sys.executable, "-c", script, str(base)], stdout=subprocess.PIPE)
    try:
        assert owner.stdout is not None
        master = int(owner.stdout.readline())
        assert _alive(master)
        owner.kill()
        owner.wait()
        deadline = time.monotonic() + 10
        while (_alive(master) or _session_members(master)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(master)
        assert _session_members(master) == []
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        if owner.stdout is not None:
            owner.stdout.close()
        shutil.rmtree(base, ignore_errors=True)


def test_long_base_dir_uses_short_socket_dir() -> None:
    # dovecot_factory's dirs are short; make one that is not.
    short = Path(tempfile.mkdtemp(prefix="dv", dir="/tmp"))
    short.chmod(0o711)  # as root, Dovecot's unprivileged mail uid must traverse it
    try:
        long_dir = short / ("x" * 100)
        with Dovecot(long_dir) as server:
            run_dir = server.run_dir
            assert run_dir is not None and len(str(run_dir)) < 40
            server.append("INBOX", _message(1))
            assert server.list_folder("INBOX") == [_message(1)]
        assert not run_dir.exists()
    finally:
        shutil.rmtree(short, ignore_errors=True)


def test_missing_dovecot_binary_is_a_loud_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="apt-get install dovecot-imapd"):
        Dovecot(tmp_path / "dv", binary="/nonexistent/dovecot").start()


def test_start_failure_reports_dovecot_log(dovecot_factory: Callable[..., Dovecot]) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(RuntimeError, match="Address already in use"):
            dovecot_factory(port=port)


# -- SMTP ------------------------------------------------------------------


def _send(sink: SmtpSink, raw: bytes, rcpt: str = "security@exchange.example") -> None:
    with smtplib.SMTP(sink.host, sink.port, timeout=10) as smtp:
        smtp.sendmail("router@exchange.example", [rcpt], raw)


def test_smtp_sink_records_message(smtp_sink: SmtpSink) -> None:
    raw = _message(1, "转发给安全团队")
    _send(smtp_sink, raw)
    (got,) = smtp_sink.wait_for(1, timeout=5)
    assert got.mail_from == "router@exchange.example"
    assert got.rcpt_tos == ("security@exchange.example",)
    assert got.data == raw
    assert abs(got.received_at - time.time()) < 60


def test_smtp_transient_failures_then_success(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_with(451, "4.3.0 try again later", count=2)
    for _ in range(2):
        with pytest.raises(smtplib.SMTPDataError) as info:
            _send(smtp_sink, _message(1))
        assert info.value.smtp_code == 451
    assert smtp_sink.messages == []
    _send(smtp_sink, _message(1))
    assert len(smtp_sink.wait_for(1, timeout=5)) == 1


def test_smtp_permanent_failure_until_cleared(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_with(550, "5.7.1 rejected")
    for _ in range(3):
        with pytest.raises(smtplib.SMTPDataError) as info:
            _send(smtp_sink, _message(1))
        assert info.value.smtp_code == 550
    smtp_sink.clear_failures()
    _send(smtp_sink, _message(1))
    assert len(smtp_sink.messages) == 1


def test_smtp_rcpt_stage_refusal(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_with(550, "5.1.1 no such mailbox", count=1, stage="RCPT")
    with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
        _send(smtp_sink, _message(1))
    assert info.value.recipients["security@exchange.example"][0] == 550
    _send(smtp_sink, _message(1))
    assert len(smtp_sink.wait_for(1, timeout=5)) == 1


def test_smtp_421_closes_connection(smtp_sink: SmtpSink) -> None:
    smtp_sink.fail_with(421, "4.3.2 shutting down", count=1)
    smtp = smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=10)
    try:
        smtp.ehlo()
        smtp.mail("router@exchange.example")
        smtp.rcpt("security@exchange.example")
        code, _ = smtp.data(_message(1))
        assert code == 421
        # The server hung up: the next command finds a dead connection.
        with pytest.raises(smtplib.SMTPServerDisconnected):
            smtp.noop()
    finally:
        smtp.close()
    assert smtp_sink.messages == []


def test_smtp_sink_down_and_back_on_same_port(smtp_sink: SmtpSink) -> None:
    port = smtp_sink.port
    smtp_sink.stop()
    with pytest.raises(ConnectionRefusedError):
        _send(smtp_sink, _message(1))
    smtp_sink.start()
    assert smtp_sink.port == port
    _send(smtp_sink, _message(2))
    assert [m.data for m in smtp_sink.wait_for(1, timeout=5)] == [_message(2)]


def test_wait_for_times_out(smtp_sink: SmtpSink) -> None:
    with pytest.raises(TimeoutError):
        smtp_sink.wait_for(1, timeout=0.2)
