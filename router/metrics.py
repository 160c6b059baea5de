"""Prometheus metrics and /healthz, served when [metrics] listen is set.

prometheus-client keeps the counters; a small http.server adds /healthz,
which answers 200 while every mailbox was reached recently and 503 naming
the mailboxes that were not.  Per-mailbox metrics carry a `mailbox` label
(the [[mailboxes]] name, "default" for a config without them), filled in
from the calling thread's mailbox (router.mailboxes), so the code that
counts need not know how many mailboxes the daemon serves.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from router import mailboxes


class CounterByMailbox:
    """A Counter whose `mailbox` label is the calling thread's mailbox."""

    def __init__(self, metric: Counter) -> None:
        self.metric = metric

    def labels(self, **labels: str) -> Counter:
        return self.metric.labels(mailbox=mailboxes.current(), **labels)

    def inc(self, amount: float = 1.0) -> None:
        self.labels().inc(amount)

    def of(self, mailbox: str) -> Counter:
        return self.metric.labels(mailbox=mailbox)


class GaugeByMailbox:
    """A Gauge whose `mailbox` label is the calling thread's mailbox."""

    def __init__(self, metric: Gauge) -> None:
        self.metric = metric

    def labels(self, **labels: str) -> Gauge:
        return self.metric.labels(mailbox=mailboxes.current(), **labels)

    def set(self, value: float) -> None:
        self.labels().set(value)

    def of(self, mailbox: str) -> Gauge:
        return self.metric.labels(mailbox=mailbox)

    def value(self, mailbox: str) -> float:
        return float(self.of(mailbox)._value.get())  # noqa: SLF001 - the gauge's own value


class HistogramByMailbox:
    """A Histogram whose `mailbox` label is the calling thread's mailbox."""

    def __init__(self, metric: Histogram) -> None:
        self.metric = metric

    def labels(self, **labels: str) -> Histogram:
        return self.metric.labels(mailbox=mailboxes.current(), **labels)

    def observe(self, value: float) -> None:
        self.labels().observe(value)


REGISTRY = CollectorRegistry()
_M = "mailbox"
MESSAGES = CounterByMailbox(Counter("router_messages_total", "Messages handled, by mailbox, route and outcome", [_M, "route", "outcome"], registry=REGISTRY))
FORWARDS = CounterByMailbox(Counter("router_forwards_total", "Copies forwarded to a team", [_M, "route"], registry=REGISTRY))
REPLIES = CounterByMailbox(Counter("router_replies_total", "Auto-replies sent or suppressed, by reason", [_M, "outcome", "reason"], registry=REGISTRY))
LATENCY = HistogramByMailbox(Histogram("router_processing_seconds", "Time to handle one message", [_M], registry=REGISTRY,
                                       buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)))
SMTP_ERRORS = CounterByMailbox(Counter("router_smtp_errors_total", "SMTP failures", [_M, "kind"], registry=REGISTRY))
IMAP_ERRORS = CounterByMailbox(Counter("router_imap_errors_total", "IMAP connection or protocol failures", [_M], registry=REGISTRY))
IMAP_CONNECT_FAILURES = CounterByMailbox(Counter("router_imap_connect_failures_total", "Failed attempts to connect and log in to IMAP", [_M], registry=REGISTRY))
IMAP_CONNECTED = GaugeByMailbox(Gauge("router_imap_connected", "1 while an IMAP session is up, 0 while reconnecting", [_M], registry=REGISTRY))
BACKLOG = GaugeByMailbox(Gauge("router_backlog_messages", "Messages waiting in the mailbox at the last poll", [_M], registry=REGISTRY))
LAST_POLL = GaugeByMailbox(Gauge("router_last_successful_poll_timestamp_seconds", "Unix time of the last successful poll", [_M], registry=REGISTRY))
MAILBOX_UP = GaugeByMailbox(Gauge("router_mailbox_up", "1 while the mailbox is served, 0 while it fails (login refused, server down)", [_M], registry=REGISTRY))
BY_PRIORITY = CounterByMailbox(Counter("router_messages_by_priority_total", "Messages handled, by priority (issue 13)",
                                       [_M, "priority"], registry=REGISTRY))
ESCALATIONS = CounterByMailbox(Counter("router_escalations_total", "Cases escalated by a chaser past the SLA share",
                                       [_M, "priority"], registry=REGISTRY))
# Cases are shared by every mailbox (a follow-up at security@ joins the case opened at support@): no mailbox label.
OPEN_CASES = Gauge("router_open_cases", "Open, unanswered cases by SLA state (on_time, near, past_due)", ["sla"],
                   registry=REGISTRY)
MODEL = Gauge("router_model_info", "The model in use (value 1)", ["version"], registry=REGISTRY)
# More reasons to be unhealthy (e.g. logins that keep failing): each returns the reason or None.
HEALTH_CHECKS: list[Callable[[], str | None]] = []

_watched: dict[str, str | None] = {}  # mailbox name -> why it is failing (None: fine)
_watched_lock = threading.Lock()


def watch(names: list[str]) -> None:
    """The mailboxes /healthz answers for (the daemon's, at start and reload)."""
    with _watched_lock:
        _watched.clear()
        _watched.update({name: None for name in names})
    for name in names:
        MAILBOX_UP.of(name).set(0)
        IMAP_CONNECTED.of(name).set(0)


def failing(name: str, reason: str | None) -> None:
    """Record why mailbox `name` fails, or None once it is served again."""
    with _watched_lock:
        _watched[name] = reason
    MAILBOX_UP.of(name).set(0 if reason else 1)


def health(max_age: float) -> tuple[bool, str]:
    """(healthy, one line): every watched mailbox reached within `max_age` seconds."""
    with _watched_lock:
        watched = dict(_watched) or {mailboxes.DEFAULT: None}
    problems, ages = [], []
    for name, reason in sorted(watched.items()):
        last = LAST_POLL.value(name)
        age = time.time() - last if last else float("inf")
        connected = bool(IMAP_CONNECTED.value(name))
        if age <= max_age and connected:
            ages.append(age)
            continue
        why = (f"not reached for {age:.0f}s" if last else "never reached") + ("" if connected else " (reconnecting)") + (f": {reason}" if reason else "")
        problems.append(why if len(watched) == 1 and name == mailboxes.DEFAULT else f"mailbox {name} {why}")
    problems += [p for p in (check() for check in HEALTH_CHECKS) if p]
    if problems:
        return False, "unhealthy: " + "; ".join(problems)
    if len(watched) == 1:
        return True, f"ok: mailbox reached {ages[0]:.0f}s ago"
    return True, f"ok: {len(watched)} mailboxes reached, the longest ago {max(ages):.0f}s"


class _Handler(BaseHTTPRequestHandler):
    max_age = 300.0

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        if self.path.startswith("/metrics"):
            body, code, ctype = generate_latest(REGISTRY), 200, CONTENT_TYPE_LATEST
        elif self.path.startswith("/healthz"):
            ok, line = health(self.max_age)
            body = (line + "\n").encode()
            code, ctype = (200 if ok else 503), "text/plain; charset=utf-8"
        else:
            body, code, ctype = b"not found\n", 404, "text/plain"
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - silence access logs
        return


def serve(listen: str, max_age: float) -> ThreadingHTTPServer:
    """Start the metrics server in a daemon thread; returns it for shutdown()."""
    host, _, port = listen.rpartition(":")
    handler = type("Handler", (_Handler,), {"max_age": max_age})
    server = ThreadingHTTPServer((host.strip("[]") or "127.0.0.1", int(port)), handler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
