"""The daemon against every IMAP server variant router supports (issue 11).

Cyrus IMAP and Courier-IMAP (Debian's builds: "INBOX." and "."; Courier
has no MOVE), and Dovecot in four shapes (LAYOUT=fs with "/", stock Maildir++ with ".", a
personal namespace "INBOX." with ".", and one advertising none of MOVE,
UIDPLUS, IDLE, CONDSTORE), all real servers on loopback.  Checked: every
message filed once under the server's own folder names, forwarded as expected,
a second run sends nothing; the capability fallbacks; folder-name errors and
refusals at start (exit 1); an unreachable server (exit 75, bounded);
`check-config --connect`.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from daemonkit import (
    REPO,
    assert_samples_routed,
    env_for,
    mailbox_ids,
    make_mail,
    router_cmd,
    run_once,
    start_daemon,
    stop_daemon,
    wait_until,
    write_config,
)

from router.testing import Dovecot, SmtpSink, free_port
from router.testing.courier import Courier
from router.testing.cyrus import Cyrus

pytestmark = pytest.mark.integration

VARIANTS: dict[str, dict[str, Any]] = {
    "cyrus": {},
    "courier": {},
    "dovecot-fs": {"layout": "fs"},
    "dovecot-maildir++": {"layout": "maildir++"},
    "dovecot-inbox-prefix": {"layout": "inbox-prefix"},
    "dovecot-minimal-capabilities": {"layout": "maildir++", "minimal_capabilities": True},
}


def _server_names(server: Any) -> set[str]:
    with server.client() as c:
        return {name for _flags, _delim, name in c.list_folders()}


def _live_inbox(server: Any) -> list[int]:
    """INBOX UIDs not marked with the router's fallback keyword (the COPY+flag path leaves those)."""
    return [uid for uid, flags in server.flags("INBOX").items() if b"$RouterDone" not in flags]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_end_to_end_on_every_server_variant(tmp_path: Path, dovecot_factory: Callable[..., Dovecot], cyrus_factory: Callable[..., Cyrus],
                                           courier_factory: Callable[..., Courier], smtp_sink: SmtpSink, variant: str) -> None:
    factory: Callable[..., Any] = {"cyrus": cyrus_factory, "courier": courier_factory}.get(variant, dovecot_factory)
    server: Any = factory(**VARIANTS[variant])
    samples = [p.read_bytes() for p in sorted((REPO / "samples").glob("*.eml"))]
    if variant == "cyrus":  # Cyrus refuses NUL bytes at APPEND ("Message contains NUL characters")
        samples = [raw for raw in samples if b"\0" not in raw]
    for raw in samples:
        server.append("INBOX", raw)
    cfg = write_config(tmp_path, server, smtp_sink)
    first = run_once(cfg, server)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "Traceback" not in first.stderr
    assert _live_inbox(server) == []
    boxes = assert_samples_routed(server, smtp_sink)
    filed = {k: v for k, v in boxes.items() if k != "INBOX"}
    assert sum(len(v) for v in filed.values()) == len(samples)  # every sample filed exactly once
    # The folders carry the server's own names, not router's "/" paths.
    names = _server_names(server)
    assert server.server_name("Routed/Security") in names
    if server.separator != "/":
        assert "Routed/Security" not in names
    # Courier has UIDPLUS but no MOVE; the minimal Dovecot has neither.
    method = "copy+flag" if VARIANTS[variant].get("minimal_capabilities") else "copy+uid_expunge" if variant == "courier" else "move"
    assert method in first.stderr, first.stderr[-1500:]

    sent = len(smtp_sink.messages)
    second = run_once(cfg, server)
    assert second.returncode == 0, second.stderr[-1500:]
    assert len(smtp_sink.messages) == sent


def test_without_idle_the_scheduled_poll_delivers(tmp_path: Path, dovecot_factory: Callable[..., Dovecot], smtp_sink: SmtpSink) -> None:
    server = dovecot_factory(layout="maildir++", minimal_capabilities=True)
    cfg = write_config(tmp_path, server, smtp_sink, imap={"poll_interval_seconds": 1})
    log = tmp_path / "daemon.log"
    proc = start_daemon(cfg, server, log)
    try:
        assert wait_until(lambda: b"imap connected" in log.read_bytes(), 60), log.read_text()[-2000:]
        server.append("INBOX", make_mail(1))
        t0 = time.monotonic()
        assert wait_until(lambda: len(smtp_sink.messages) >= 1, 20), log.read_text()[-2000:]
        assert time.monotonic() - t0 < 10
    finally:
        assert stop_daemon(proc) == 0
    assert "IDLE" not in " ".join(_capabilities(server))
    assert _live_inbox(server) == []


def _capabilities(server: Dovecot) -> list[str]:
    with server.client() as c:
        return [x.decode() for x in c.capabilities()]


def test_uidplus_without_move_uses_uid_expunge(tmp_path: Path, dovecot_factory: Callable[..., Dovecot], smtp_sink: SmtpSink) -> None:
    server = dovecot_factory(layout="inbox-prefix", disable_move=True)
    for i in range(3):
        server.append("INBOX", make_mail(i))
    cfg = write_config(tmp_path, server, smtp_sink)
    proc = run_once(cfg, server)
    assert proc.returncode == 0, proc.stderr[-1500:]
    assert "copy+uid_expunge" in proc.stderr
    assert server.uids("INBOX") == []
    assert len(mailbox_ids(server)["Routed/General"]) == 3


def test_non_ascii_and_special_use_folders(tmp_path: Path, dovecot_factory: Callable[..., Dovecot], smtp_sink: SmtpSink) -> None:
    """`已处理/一般` becomes modified UTF-7 under the server's delimiter; `\\Junk` is RFC 6154's Junk folder."""
    server = dovecot_factory(layout="inbox-prefix")
    server.append("INBOX", make_mail(1))
    server.append("INBOX", (REPO / "samples").joinpath(next(p.name for p in (REPO / "samples").glob("*.eml") if "danger" in p.read_text(errors="replace") or "007" in p.name)).read_bytes())
    cfg = write_config(tmp_path, server, smtp_sink, folders={"general": "已处理/一般", "quarantine": "\\Junk"})
    proc = run_once(cfg, server)
    assert proc.returncode == 0, proc.stderr[-1500:]
    names = _server_names(server)
    assert "INBOX.已处理.一般" in names, names  # imapclient decoded it from modified UTF-7
    boxes = mailbox_ids(server)
    assert len(boxes["已处理/一般"]) == 1
    assert boxes.get("Junk"), boxes


def test_a_segment_holding_the_delimiter_is_a_config_error(tmp_path: Path, dovecot_factory: Callable[..., Dovecot], smtp_sink: SmtpSink) -> None:
    server = dovecot_factory(layout="maildir++")
    server.append("INBOX", make_mail(1))
    cfg = write_config(tmp_path, server, smtp_sink, folders={"general": "Routed/v2.0"})
    proc = run_once(cfg, server, timeout=60)
    assert proc.returncode == 1, proc.stderr[-1500:]
    last = proc.stderr.strip().splitlines()[-1]
    assert "'Routed/v2.0'" in last and "'v2.0'" in last and "delimiter" in last, last
    assert server.uids("INBOX") != [] and smtp_sink.messages == []


def test_a_folder_refused_at_start_exits_1_naming_it(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    dovecot.append("INBOX", make_mail(1))
    cfg = write_config(tmp_path, dovecot, smtp_sink, folders={"general": "~Refused"})
    t0 = time.monotonic()
    proc = run_once(cfg, dovecot, timeout=60)
    assert proc.returncode == 1, proc.stderr[-1500:]
    assert time.monotonic() - t0 < 30
    last = proc.stderr.strip().splitlines()[-1]
    # the logical folder, the server name tried and the server's reply, on one line
    assert last.startswith("router: error: folder '~Refused': the server refused '~Refused':"), last
    assert "NO" in last or "name" in last.lower(), last
    assert "reconnecting" not in proc.stderr
    assert len(dovecot.uids("INBOX")) == 1 and smtp_sink.messages == []


def test_run_once_against_an_unreachable_server_ends_with_75(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    cfg = write_config(tmp_path, dovecot, smtp_sink, imap={"port": free_port(), "once_retries": 2})
    t0 = time.monotonic()
    proc = run_once(cfg, dovecot, timeout=120)
    elapsed = time.monotonic() - t0
    assert proc.returncode == 75, proc.stderr[-1500:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("router: error: IMAP server 127.0.0.1:") and "after 3 attempts" in last, last
    assert elapsed < 60, elapsed  # 1 s + 2 s of backoff plus start-up


def test_the_daemon_keeps_retrying_and_reports_unhealthy(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    """Without --once the backoff never gives up; /healthz says unhealthy, the metric counts."""
    import urllib.error
    import urllib.request

    listen = f"127.0.0.1:{free_port()}"
    cfg = write_config(tmp_path, dovecot, smtp_sink, imap={"port": free_port(), "once_retries": 0}, metrics={"listen": listen})
    log = tmp_path / "daemon.log"
    proc = start_daemon(cfg, dovecot, log)
    try:
        def failures() -> float:
            try:
                with urllib.request.urlopen(f"http://{listen}/metrics", timeout=2) as resp:
                    text = resp.read().decode()
            except OSError:
                return 0.0
            for line in text.splitlines():
                if line.startswith(("router_imap_connect_failures_total ", "router_imap_connect_failures_total{")):
                    return float(line.split()[1])
            return 0.0

        assert wait_until(lambda: failures() >= 3, 30), log.read_text()[-2000:]
        assert proc.poll() is None  # still running after more failures than once_retries allows
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"http://{listen}/healthz", timeout=2).close()
        err.value.close()
        assert err.value.code == 503
    finally:
        assert stop_daemon(proc) == 0


def test_check_config_connect_reports_what_the_daemon_uses(tmp_path: Path, dovecot_factory: Callable[..., Dovecot], smtp_sink: SmtpSink) -> None:
    server = dovecot_factory(layout="inbox-prefix")
    cfg = write_config(tmp_path, server, smtp_sink, folders={"quarantine": "\\Junk"})
    ok = subprocess.run(router_cmd(cfg, "check-config", "--connect"), env=env_for(server), capture_output=True, text=True, timeout=60, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    out = ok.stdout
    assert "greeting: * OK" in out or "greeting: " in out
    assert "MOVE" in out and "namespace: prefix 'INBOX.', delimiter '.'" in out
    assert "folders.security = 'Routed/Security' -> 'INBOX.Routed.Security': missing" in out, out
    assert "folders.quarantine = '\\\\Junk' -> 'INBOX.Junk': exists" in out, out
    assert "smtp 127.0.0.1:" in out and out.strip().endswith("connect OK: the daemon has what it needs")
    # nothing was created by the check
    assert "Routed/Security" not in server.folders()

    bad = write_config(tmp_path, server, smtp_sink, smtp={"port": free_port()}, folders={"general": "Routed/v1.0"})
    fail = subprocess.run(router_cmd(bad, "check-config", "--connect"), env=env_for(server), capture_output=True, text=True, timeout=60, check=False)
    assert fail.returncode == 1, fail.stdout + fail.stderr
    assert "FAIL folders.general" in fail.stdout and "FAIL smtp" in fail.stdout, fail.stdout


def test_a_mailbox_the_server_cannot_select_exits_1_naming_it(tmp_path: Path, dovecot_factory: Callable[..., Dovecot], smtp_sink: SmtpSink) -> None:
    server = dovecot_factory(layout="inbox-prefix")
    cfg = write_config(tmp_path, server, smtp_sink, imap={"folder": "Support/Missing"})
    proc = run_once(cfg, server, timeout=60)
    assert proc.returncode == 1, proc.stderr[-1500:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("router: error: folder 'Support/Missing': the server refused to select 'INBOX.Support.Missing':"), last
    assert "reconnecting" not in proc.stderr
