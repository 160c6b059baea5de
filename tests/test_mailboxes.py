"""Several mailboxes in one daemon ([[mailboxes]], issue 14).

Config parsing and the per-mailbox plumbing are unit-tested; isolation is
proven against real Dovecot servers and aiosmtpd: a mailbox with a wrong
password or a server that never answers is reported (status, /healthz,
metrics) while the others are drained, each message filed, forwarded and
acknowledged once.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from daemonkit import (PASSWORD_ENV, forwards, http_get, log_events, mailbox_ids, make_mail, metric, metrics_section, parsed, router_cmd,
                       start_daemon, stop_daemon, wait_until, write_config)
from router import config, mailboxes, metrics
from router.errors import ConfigError
from router.mailboxes import MailboxStore
from router.state import State
from router.testing import Dovecot, SmtpSink, free_port

KYC = "kyc@exchange.example"
WRONG_ENV = "ROUTER_TEST_WRONG_PASSWORD"


# -- config ---------------------------------------------------------------------


def _load(tmp_path: Path, text: str) -> config.Settings:
    cfg = tmp_path / "config.toml"
    cfg.write_text(text, encoding="utf-8")
    return config.load(cfg)


def test_a_config_without_mailboxes_is_one_mailbox_named_default(tmp_path: Path) -> None:
    s = _load(tmp_path, '[imap]\nusername = "support@exchange.example"\n')
    assert s.mailboxes == ()
    assert [m.name for m in s.served()] == ["default"]
    assert s.served()[0] is s


def test_each_mailbox_overrides_only_what_it_names(tmp_path: Path) -> None:
    s = _load(tmp_path, f"""
[imap]
host = "imap.example"
port = 993
username = "support@exchange.example"
[routes]
general = "support-team@exchange.example"

[[mailboxes]]
name = "support"

[[mailboxes]]
name = "kyc"
[mailboxes.imap]
username = "{KYC}"
password_env = "ROUTER_KYC_PASSWORD"
[mailboxes.smtp]
from_address = "{KYC}"
[mailboxes.routes]
general = "kyc-team@exchange.example"
[mailboxes.folders]
general = "Routed/KYC"
[mailboxes.replies]
enabled = false
[mailboxes.sender]
own_addresses = ["{KYC}"]
""")
    support, kyc = s.served()
    assert (support.name, kyc.name) == ("support", "kyc")
    assert support.imap.username == "support@exchange.example" and kyc.imap.username == KYC
    assert kyc.imap.host == "imap.example" and kyc.imap.port == 993  # inherited
    assert kyc.imap.password_env == "ROUTER_KYC_PASSWORD" and support.imap.password_env == "ROUTER_IMAP_PASSWORD"
    assert kyc.routes["general"] == "kyc-team@exchange.example" and support.routes["general"] == "support-team@exchange.example"
    assert kyc.routes["security"] == support.routes["security"]
    assert kyc.folders["general"] == "Routed/KYC" and kyc.folders["security"] == "Routed/Security"
    assert kyc.smtp.from_address == KYC and kyc.own_addresses == (KYC,)
    assert kyc.replies.enabled is False and support.replies.enabled is True
    assert kyc.state_path == support.state_path == s.state_path  # one store, shared cases and caps
    assert kyc.mailbox_key() == f"{KYC}@imap.example:993/INBOX"


@pytest.mark.parametrize(("text", "error"), [
    ('[[mailboxes]]\nimap = { username = "a@x.example" }\n', "mailboxes[0].name: must be lower-case"),
    ('[[mailboxes]]\nname = "Support Desk"\n', "mailboxes[0].name: must be lower-case"),
    ('[[mailboxes]]\nname = "default"\n', "mailboxes[default].name: 'default' is reserved"),
    ('[[mailboxes]]\nname = "a"\nimap = { folder = "A" }\n[[mailboxes]]\nname = "a"\n', "mailboxes[a].name: used twice"),
    ('[[mailboxes]]\nname = "a"\n[mailboxes.state]\npath = "x"\n', "mailboxes[a].state: unknown key (a mailbox may set imap, smtp, folders"),
    ('[[mailboxes]]\nname = "a"\n[mailboxes.imap]\nfolda = "x"\n', "mailboxes[a].imap.folda: unknown key"),
    ('[[mailboxes]]\nname = "a"\n[mailboxes.imap]\npassword = "hunter2"\n', "mailboxes[a].imap.password: passwords are not read from the config"),
    ('[[mailboxes]]\nname = "a"\n[mailboxes.imap]\nport = 0\n', "mailboxes[a].imap.port: must be between 1 and 65535"),
    ('[[mailboxes]]\nname = "a"\n[mailboxes.routes]\ngeneral = "nobody"\n', "mailboxes[a].routes.general: is not an e-mail address"),
    ('[[mailboxes]]\nname = "a"\n[[mailboxes]]\nname = "b"\n', "mailboxes[b]: watches the same mailbox as mailboxes[a]"),
    ('mailboxes = "support"\n', "mailboxes: must be an array of tables"),
])
def test_mailbox_config_errors_are_one_line_and_name_the_key(tmp_path: Path, text: str, error: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text)
    assert str(err.value).startswith(error), str(err.value)
    assert "\n" not in str(err.value) and "hunter2" not in str(err.value)


def test_operator_commands_ask_which_mailbox_when_there_are_several(tmp_path: Path) -> None:
    """`router requeue` / `router label` act on one account's folders: several mailboxes need --mailbox."""
    from router import operations
    from router.errors import UsageError

    one = _load(tmp_path, '[imap]\nusername = "support@exchange.example"\n')
    assert operations.mailbox(one, None) is one
    several = _load(tmp_path, '[[mailboxes]]\nname = "support"\n[[mailboxes]]\nname = "kyc"\n'
                              f'[mailboxes.imap]\nusername = "{KYC}"\n')
    with pytest.raises(UsageError, match=r"2 mailboxes; say which with --mailbox NAME \(one of: support, kyc\)"):
        operations.mailbox(several, None)
    with pytest.raises(UsageError, match=r"--mailbox: no mailbox named 'sales' \(one of: support, kyc\)"):
        operations.mailbox(several, "sales")
    assert operations.mailbox(several, "kyc").imap.username == KYC
    cfg = tmp_path / "config.toml"
    out = subprocess.run(router_cmd(cfg, "requeue", "--folder", "quarantine"), capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "one of: support, kyc" in out.stderr, (out.returncode, out.stderr)


# -- per-mailbox plumbing -------------------------------------------------------------


def test_each_mailbox_keeps_its_own_bookkeeping_in_the_shared_store(tmp_path: Path) -> None:
    store = State(tmp_path / "router.sqlite3")
    try:
        default, kyc = MailboxStore(store, "default"), MailboxStore(store, "kyc")
        default.set_meta("last_uid", 7)
        kyc.set_meta("last_uid", 3)
        assert default.get_meta("last_uid") == 7 and kyc.get_meta("last_uid") == 3
        assert store.get_meta("last_uid") == 7  # the implicit mailbox reads a store written before [[mailboxes]]
        assert kyc.schema_version() == store.schema_version()  # everything else is the store itself
    finally:
        store.close()


def test_metrics_carry_the_mailbox_of_the_thread_that_counts() -> None:
    def count(name: str) -> None:
        mailboxes.serve(name)
        metrics.FORWARDS.labels(route="general").inc()
        metrics.BACKLOG.set(4 if name == "t-kyc" else 2)

    threads = [threading.Thread(target=count, args=(n,)) for n in ("t-kyc", "t-support")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert metrics.FORWARDS.metric.labels(mailbox="t-kyc", route="general")._value.get() == 1  # noqa: SLF001
    assert metrics.BACKLOG.value("t-kyc") == 4 and metrics.BACKLOG.value("t-support") == 2
    assert mailboxes.current() == "default"  # this thread never chose one


def test_log_lines_made_on_a_mailbox_thread_carry_the_mailbox() -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    root = logging.getLogger()
    handler = Keep()
    root.addHandler(handler)
    try:
        mailboxes.install_log_field()
        mailboxes.install_log_field()  # idempotent
        assert sum(isinstance(f, mailboxes._MailboxField) for f in handler.filters) == 1  # noqa: SLF001

        def work() -> None:
            mailboxes.serve("l-kyc")
            logging.getLogger("router.runner").warning("drained")
            logging.getLogger("router.x").warning("explicit", extra={"mailbox": "other"})

        t = threading.Thread(target=work)
        t.start()
        t.join()
        logging.getLogger("router.x").warning("main thread")
    finally:
        root.removeHandler(handler)
    by_event = {r.getMessage(): r for r in records}
    assert getattr(by_event["drained"], "mailbox", None) == "l-kyc"
    assert getattr(by_event["explicit"], "mailbox", None) == "other"
    assert not hasattr(by_event["main thread"], "mailbox")


def test_healthz_names_the_mailbox_that_is_not_reached() -> None:
    metrics.watch(["h-ok", "h-broken"])
    try:
        metrics.LAST_POLL.of("h-ok").set(time.time())
        metrics.IMAP_CONNECTED.of("h-ok").set(1)
        metrics.failing("h-ok", None)
        metrics.failing("h-broken", "LOGIN failed")
        ok, line = metrics.health(60)
        assert not ok and "mailbox h-broken never reached (reconnecting): LOGIN failed" in line and "LOGIN failed" in line and "h-ok" not in line
        metrics.LAST_POLL.of("h-broken").set(time.time())
        metrics.IMAP_CONNECTED.of("h-broken").set(1)
        metrics.failing("h-broken", None)
        assert metrics.health(60) == (True, "ok: 2 mailboxes reached, the longest ago 0s")
    finally:
        metrics.watch([])


# -- one daemon, several mailboxes, real servers ---------------------------------------


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never says a word (a hung IMAP server)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield int(s.getsockname()[1])


def _mailboxes_config(tmp_path: Path, support: Dovecot, kyc: Dovecot, sink: SmtpSink, *entries: str, **sections: dict[str, object]) -> Path:
    """Top level: `support`'s account; entries add [[mailboxes]] tables."""
    body = f"""
[[mailboxes]]
name = "support"

[[mailboxes]]
name = "kyc"
imap = {{ port = {kyc.port}, username = "{kyc.user}" }}
smtp = {{ from_address = "{KYC}" }}
sender = {{ own_addresses = ["{KYC}"] }}
routes = {{ general = "kyc-team@exchange.example", security = "kyc-security@exchange.example", compliance = "kyc-compliance@exchange.example", review = "kyc-review@exchange.example" }}
"""
    return write_config(tmp_path, support, sink, extra="\n" + body + "".join(entries), **sections)


def _env(*servers: Dovecot) -> dict[str, str]:
    assert len({s.password for s in servers}) == 1
    return {**os.environ, PASSWORD_ENV: servers[0].password, WRONG_ENV: "not-the-password"}


def _fill(support: Dovecot, kyc: Dovecot) -> tuple[list[str], list[str]]:
    s_ids, k_ids = [], []
    for i in range(3):
        raw = make_mail(i)
        support.append("INBOX", raw)
        s_ids.append(parsed(raw)["Message-ID"].strip())
    for i in range(3):
        raw = make_mail(100 + i, subject="Withdrawal Failed - UID 87654321", sender=f"kyc-customer{i}@mail.example")
        raw = raw.replace(b"To: support@exchange.example", f"To: {KYC}".encode(), 1)
        kyc.append("INBOX", raw)
        k_ids.append(parsed(raw)["Message-ID"].strip())
    return s_ids, k_ids


def _assert_drained_once(server: Dovecot, ids: list[str], sink: SmtpSink, teams: str | tuple[str, ...], identity: str) -> None:
    """Each message filed once, forwarded once to one of its mailbox's teams (`teams`: their prefix), acknowledged once."""
    folders = mailbox_ids(server)
    assert folders.get("INBOX") == [], folders
    filed = [mid for folder, mids in folders.items() if folder != "INBOX" for mid in mids]
    for mid in ids:
        assert filed.count(mid) == 1, (mid, folders)
    fwd = forwards(sink)
    for mid in ids:
        assert len(fwd.get(mid, [])) == 1, (mid, fwd.get(mid))
        assert len(fwd[mid][0][1]) == 1 and fwd[mid][0][1][0].startswith(teams), fwd[mid]
    acks = [msg for msg in (parsed(m.data) for m in sink.messages)
            if (msg.get("Auto-Submitted") or "").startswith("auto-replied") and (msg.get("In-Reply-To") or "").strip() in ids]
    assert sorted((m.get("In-Reply-To") or "").strip() for m in acks) == sorted(ids)
    assert all(identity in (m.get("From") or "") for m in acks), [m.get("From") for m in acks]


def test_one_daemon_drains_two_mailboxes_while_a_third_cannot_log_in(
        tmp_path: Path, dovecot_factory: Callable[..., Dovecot], smtp_sink: SmtpSink) -> None:
    support = dovecot_factory()
    kyc = dovecot_factory(user=KYC)
    s_ids, k_ids = _fill(support, kyc)
    port = free_port()
    cfg = _mailboxes_config(tmp_path, support, kyc, smtp_sink, f"""
[[mailboxes]]
name = "broken"
imap = {{ password_env = "{WRONG_ENV}", folder = "Other" }}
""", metrics=metrics_section(port), imap={"poll_interval_seconds": 1})
    log = tmp_path / "daemon.log"
    with log.open("ab") as fh:
        proc = subprocess.Popen(router_cmd(cfg, "run"), env=_env(support, kyc), stdout=fh, stderr=fh)
    try:
        assert wait_until(lambda: not support.uids("INBOX") and not kyc.uids("INBOX") and len(smtp_sink.messages) >= 12, 90), \
            log.read_text()[-4000:]
        assert wait_until(lambda: http_get(f"http://127.0.0.1:{port}/healthz")[0] == 503 and "broken" in http_get(f"http://127.0.0.1:{port}/healthz")[1], 20)
        code, body = http_get(f"http://127.0.0.1:{port}/healthz")
        assert code == 503 and "mailbox broken never reached" in body and "AUTHENTICATIONFAILED" in body, body
        assert "mailbox support" not in body and "mailbox kyc" not in body, body
        text = http_get(f"http://127.0.0.1:{port}/metrics")[1]
        assert metric(text, "router_mailbox_up", mailbox="broken") == 0
        assert metric(text, "router_mailbox_up", mailbox="support") == 1 and metric(text, "router_mailbox_up", mailbox="kyc") == 1
        assert metric(text, "router_imap_connect_failures_total", mailbox="broken") >= 1
        assert metric(text, "router_messages_total", mailbox="support", outcome="handled") == 3
        assert metric(text, "router_messages_total", mailbox="kyc", outcome="handled") == 3
        assert metric(text, "router_forwards_total", mailbox="kyc") == 3, [line for line in text.splitlines() if "forwards" in line or "messages_total" in line]

        status = subprocess.run(router_cmd(cfg, "status"), env=_env(support, kyc), capture_output=True, text=True, timeout=60)
        assert status.returncode == 0, status.stderr
        broken_line = [line for line in status.stdout.splitlines() if line.startswith("mailbox broken")]
        assert broken_line and "FAILING" in broken_line[0] and "not-the-password" not in status.stdout, status.stdout
        assert any(line.startswith("mailbox kyc") and ": ok," in line for line in status.stdout.splitlines()), status.stdout
        js = json.loads(subprocess.run(router_cmd(cfg, "status", "--json"), env=_env(support, kyc), capture_output=True,
                                       text=True, timeout=60, check=True).stdout)
        assert js["mailboxes"]["broken"]["ok"] is False and js["mailboxes"]["broken"]["error"]
        assert js["mailboxes"]["support"]["ok"] is True and js["mailboxes"]["kyc"]["backlog"] == 0
        assert proc.poll() is None  # the broken mailbox did not take the daemon down
    finally:
        assert stop_daemon(proc) == 0, log.read_text()[-3000:]
    _assert_drained_once(support, s_ids, smtp_sink, ("security-team@", "compliance-team@", "support-team@", "triage@"), "support@exchange.example")
    _assert_drained_once(kyc, k_ids, smtp_sink, "kyc-", KYC)
    events = log_events(log)
    assert {e.get("mailbox") for e in events if e.get("event") == "drained"} == {"support", "kyc"}
    assert any(e.get("mailbox") == "broken" and e.get("level") == "error" for e in events)
    assert "not-the-password" not in log.read_text()


def test_run_once_drains_the_others_and_names_the_mailboxes_it_could_not(
        tmp_path: Path, dovecot_factory: Callable[..., Dovecot], smtp_sink: SmtpSink, silent_server: int) -> None:
    support = dovecot_factory()
    kyc = dovecot_factory(user=KYC)
    s_ids, k_ids = _fill(support, kyc)
    cfg = _mailboxes_config(tmp_path, support, kyc, smtp_sink, f"""
[[mailboxes]]
name = "hung"
imap = {{ port = {silent_server}, timeout = 20, once_retries = 1 }}

[[mailboxes]]
name = "broken"
imap = {{ password_env = "{WRONG_ENV}", folder = "Other" }}
""")
    started = time.monotonic()
    proc = subprocess.run(router_cmd(cfg, "run", "--once"), env=_env(support, kyc), capture_output=True, text=True, timeout=300)
    took = time.monotonic() - started
    assert proc.returncode == 75, proc.stderr[-3000:]
    error = [line for line in proc.stderr.splitlines() if line.startswith("router: error:")]
    assert len(error) == 1 and "mailbox hung:" in error[0] and "mailbox broken:" in error[0], proc.stderr[-3000:]
    assert "mailbox support" not in error[0] and "mailbox kyc" not in error[0]
    _assert_drained_once(support, s_ids, smtp_sink, ("security-team@", "compliance-team@", "support-team@", "triage@"), "support@exchange.example")
    _assert_drained_once(kyc, k_ids, smtp_sink, "kyc-", KYC)
    # The hung server did not delay the others: they were drained while it was still being retried.
    events = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    drained = [e["ts"] for e in events if e.get("event") == "drained" and e.get("mailbox") in ("support", "kyc")]
    retries = [e["ts"] for e in events if e.get("event") == "mailbox connection problem; reconnecting" and e.get("mailbox") == "hung"]
    # (each attempt waits 20 s for a greeting: both were drained before its first attempt gave up)
    assert len(drained) >= 2 and len(retries) == 1, [(e.get("event"), e.get("mailbox")) for e in events]
    assert max(drained) < retries[0], (drained, retries)
    assert took < 120


def test_single_mailbox_configs_keep_their_metrics_and_health(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    port = free_port()
    dovecot.append("INBOX", make_mail(1))
    cfg = write_config(tmp_path, dovecot, smtp_sink, metrics=metrics_section(port))
    log = tmp_path / "daemon.log"
    proc = start_daemon(cfg, dovecot, log)
    try:
        assert wait_until(lambda: not dovecot.uids("INBOX") and len(smtp_sink.messages) >= 2, 60), log.read_text()[-3000:]
        assert wait_until(lambda: http_get(f"http://127.0.0.1:{port}/healthz")[0] == 200, 10)
        assert http_get(f"http://127.0.0.1:{port}/healthz")[1].startswith("ok: mailbox reached")
        text = http_get(f"http://127.0.0.1:{port}/metrics")[1]
        assert metric(text, "router_messages_total", mailbox="default", outcome="handled") == 1
    finally:
        assert stop_daemon(proc) == 0
    status = subprocess.run(router_cmd(cfg, "status"), env={**os.environ, PASSWORD_ENV: dovecot.password}, capture_output=True, text=True, timeout=60)
    assert status.returncode == 0 and "mailbox default" not in status.stdout, status.stdout  # nothing new while healthy


def test_sighup_starts_a_mailbox_added_to_the_config(tmp_path: Path, dovecot_factory: Callable[..., Dovecot], smtp_sink: SmtpSink) -> None:
    support = dovecot_factory()
    kyc = dovecot_factory(user=KYC)
    cfg = write_config(tmp_path, support, smtp_sink, extra='\n[[mailboxes]]\nname = "support"\n', imap={"poll_interval_seconds": 1})
    log = tmp_path / "daemon.log"
    with log.open("ab") as fh:
        proc = subprocess.Popen(router_cmd(cfg, "run"), env=_env(support, kyc), stdout=fh, stderr=fh)
    try:
        support.append("INBOX", make_mail(1))
        assert wait_until(lambda: not support.uids("INBOX") and len(smtp_sink.messages) >= 2, 60), log.read_text()[-3000:]
        kyc_raw = make_mail(200, sender="late@mail.example").replace(b"To: support@exchange.example", f"To: {KYC}".encode(), 1)
        kyc.append("INBOX", kyc_raw)
        time.sleep(2)
        assert kyc.uids("INBOX"), "kyc is not configured yet: nothing may drain it"
        _mailboxes_config(tmp_path, support, kyc, smtp_sink, imap={"poll_interval_seconds": 1})
        proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: not kyc.uids("INBOX") and len(smtp_sink.messages) >= 4, 60), log.read_text()[-3000:]
        support.append("INBOX", make_mail(2))
        assert wait_until(lambda: not support.uids("INBOX") and len(smtp_sink.messages) >= 6, 60), log.read_text()[-3000:]
    finally:
        assert stop_daemon(proc) == 0, log.read_text()[-3000:]
    kyc_fwd = forwards(smtp_sink)[parsed(kyc_raw)["Message-ID"].strip()]
    assert len(kyc_fwd) == 1 and kyc_fwd[0][1][0].startswith("kyc-")
    assert any(e.get("event") == "configuration reloaded" and e.get("mailboxes") == ["support", "kyc"] for e in log_events(log))


def test_check_config_connect_checks_every_mailbox(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    cfg = write_config(tmp_path, dovecot, smtp_sink, extra=f"""
[[mailboxes]]
name = "support"

[[mailboxes]]
name = "broken"
imap = {{ password_env = "{WRONG_ENV}", folder = "Other" }}
""")
    proc = subprocess.run(router_cmd(cfg, "check-config", "--connect"), env=_env(dovecot), capture_output=True, text=True, timeout=60)
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "mailboxes: support, broken" in out.splitlines()[0]
    support_part, broken_part = out.split("mailbox broken:\n", 1)
    assert "mailbox support:" in support_part and "FAIL" not in support_part, out
    assert "FAIL imap" in broken_part and "not-the-password" not in out, out
    assert out.strip().endswith("connect FAILED: see the lines marked FAIL")
