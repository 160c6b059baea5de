"""Helpers for tests that run the real daemon against Dovecot and aiosmtpd."""

from __future__ import annotations

import email
import email.policy
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path
from typing import Any

from router.testing import Dovecot, SmtpSink, router_config
from router.testing.imap import ImapServer
import mailkit

REPO = Path(__file__).resolve().parents[1]
PASSWORD_ENV = "ROUTER_TEST_IMAP_PASSWORD"

# Where the daemon files samples/*.eml (logical folder) and which team it
# forwards each to (None: filed, not forwarded), on every server variant.
SAMPLE_ROUTES: dict[str, tuple[str, str | None]] = {
    "<freeze-001@mail.example>": ("Routed/Compliance", "compliance-team@exchange.example"),
    "<hacked-002@mail.example>": ("Restricted", "security-team@exchange.example"),
    "<wd-003@mail.example>": ("Routed/General", "support-team@exchange.example"),
    "<vuln-013@mail.example>": ("Routed/Security", "security-team@exchange.example"),
    "<dmarc-008@mail.example>": ("Routed/Review", "triage@exchange.example"),
    "<ooo-005@mail.example>": ("Automated", None),
    "<bounce-006@mx.mail.example>": ("Automated", None),
    "<danger-007@mail.example>": ("Quarantine", None),
}


def write_config(tmp: Path, dovecot: Dovecot, sink: SmtpSink, extra: str = "", **sections: dict[str, Any]) -> Path:
    """A config for this sandbox; `sections` override keys, e.g. smtp={"retry_base_seconds": 0.2}."""
    defaults: dict[str, dict[str, Any]] = {
        "imap": {"poll_interval_seconds": 2, "timeout": 10},
        "smtp": {"retry_base_seconds": 0.2, "retry_max_seconds": 2, "timeout": 10},
    }
    for name, values in sections.items():
        defaults.setdefault(name, {}).update(values)
    cfg = router_config(tmp / "config.toml", dovecot, sink, tmp / "state", PASSWORD_ENV, **defaults)
    if extra:
        cfg.write_text(cfg.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return cfg


def env_for(dovecot: Dovecot) -> dict[str, str]:
    return {**os.environ, PASSWORD_ENV: dovecot.password}


def router_cmd(cfg: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "router", "--config", str(cfg), "--log-format", "json", *args]


def run_once(cfg: Path, dovecot: Dovecot, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(router_cmd(cfg, "run", "--once"), env=env_for(dovecot), capture_output=True, text=True, timeout=timeout)


def start_daemon(cfg: Path, dovecot: Dovecot, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as fh:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(router_cmd(cfg, "run"), env=env_for(dovecot), stdout=fh, stderr=fh)


def make_mail(i: int, subject: str = "Withdrawal Failed - UID 12345678", body: str = "My USDT withdrawal failed yesterday, please check.",
              sender: str | None = None, **headers: str) -> bytes:
    return mailkit.mail(subject, body, sender=sender or f"customer{i}@mail.example",
                        message_id=f"<t{i}.{abs(hash(subject)) % 10**6}@mail.example>", extra=headers)


def assert_samples_routed(server: ImapServer, sink: SmtpSink) -> dict[str, list[str]]:
    """Each of SAMPLE_ROUTES filed in its folder and forwarded to its team only; returns folder -> Message-IDs."""
    boxes = mailbox_ids(server)
    fw = forwards(sink)
    for mid, (folder, team) in SAMPLE_ROUTES.items():
        assert mid in boxes.get(folder, []), (mid, folder, boxes)
        if team:
            assert [rcpt for _, rcpt in fw[mid]] == [(team,)], fw.get(mid)
        else:
            assert mid not in fw
    return boxes


def parsed(data: bytes) -> email.message.Message:
    return email.message_from_bytes(data, policy=email.policy.compat32)


def forwards(sink: SmtpSink) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    """original Message-ID -> [(forward Message-ID, recipients)]"""
    out: dict[str, list[tuple[str, tuple[str, ...]]]] = defaultdict(list)
    for m in sink.messages:
        msg = parsed(m.data)
        original = (msg.get("X-Router-Original-Message-ID") or "").strip()
        if original:
            out[original].append(((msg.get("Message-ID") or "").strip(), m.rcpt_tos))
    return dict(out)


def replies(sink: SmtpSink) -> list[tuple[email.message.Message, Any]]:
    return [(parsed(m.data), m) for m in sink.messages if (parsed(m.data).get("Auto-Submitted") or "").startswith("auto-replied")]


def mailbox_ids(server: ImapServer) -> dict[str, list[str]]:
    """folder -> Message-IDs of the messages in it."""
    out: dict[str, list[str]] = {}
    for folder in server.folders():
        try:
            raws = server.list_folder(folder)
        except Exception:  # noqa: BLE001 - \Noselect parents
            continue
        out[folder] = [(parsed(r).get("Message-ID") or "").strip() for r in raws]
    return out


def metrics_section(port: int, healthz_max_age_seconds: float = 30) -> dict[str, Any]:
    """The config's [metrics] table: /metrics and /healthz on loopback ``port`` (e.g. ``free_port()``)."""
    return {"listen": f"127.0.0.1:{port}", "healthz_max_age_seconds": healthz_max_age_seconds}


def http_get(url: str) -> tuple[int, str]:
    """(status, body) of a GET, error statuses included (the daemon answers /healthz with 503)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        with e:  # an unclosed HTTPError is a ResourceWarning, which pytest turns into an error
            return e.code, e.read().decode()


def metric(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` in a Prometheus text exposition whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def wait_until(pred: Any, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(interval)
    return bool(pred())


# -- helpers for the resilience tests and benches -------------------------------


class _DelayedHandler:
    """Wraps SmtpSink's handler: DATA is recorded first, answered `delay` s later."""

    def __init__(self, inner: Any, delay: float) -> None:
        self.inner = inner
        self.delay = delay

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        return str(await self.inner.handle_RCPT(server, session, envelope, address, rcpt_options))

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import asyncio

        status = str(await self.inner.handle_DATA(server, session, envelope))
        if self.delay > 0 and status.startswith("250"):
            await asyncio.sleep(self.delay)
        return status


def slow_smtp(sink: SmtpSink, delay: float) -> None:
    """Make a started sink answer each accepted DATA only `delay` seconds after recording it.

    Real relays take tens of milliseconds per message; on loopback the sink
    answers at once. The delay also widens the window in which a sender that
    dies has had its message accepted without learning so, which is exactly
    the crash window the resilience tests want to hit. Applies to connections
    opened afterwards (aiosmtpd builds one SMTP protocol per connection from
    the controller's handler).
    """
    controller = sink._controller  # noqa: SLF001 - test helper over the sandbox
    if controller is None:
        raise RuntimeError("start the sink first")
    inner = controller.handler.inner if isinstance(controller.handler, _DelayedHandler) else controller.handler
    controller.handler = _DelayedHandler(inner, delay) if delay > 0 else inner


def log_events(log: Path) -> list[dict[str, Any]]:
    """The JSON log lines of a daemon (non-JSON lines are skipped)."""
    import json

    out = []
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out


def count_events(log: Path, event: str) -> int:
    return sum(1 for e in log_events(log) if e.get("event") == event)


def stop_daemon(proc: subprocess.Popen[bytes], timeout: float = 10) -> int | None:
    """SIGTERM, then SIGKILL if it does not exit in time; returns the exit code of the SIGTERM (None if killed)."""
    import signal

    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None
