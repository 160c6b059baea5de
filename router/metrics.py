"""Prometheus metrics and /healthz, served when [metrics] listen is set.

prometheus-client keeps the counters; a small http.server adds /healthz,
which answers 200 while the mailbox was reached recently and 503 otherwise.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry()
MESSAGES = Counter("router_messages_total", "Messages handled, by route and outcome", ["route", "outcome"], registry=REGISTRY)
FORWARDS = Counter("router_forwards_total", "Copies forwarded to a team", ["route"], registry=REGISTRY)
REPLIES = Counter("router_replies_total", "Auto-replies sent or suppressed, by reason", ["outcome", "reason"], registry=REGISTRY)
LATENCY = Histogram("router_processing_seconds", "Time to handle one message", registry=REGISTRY,
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
SMTP_ERRORS = Counter("router_smtp_errors_total", "SMTP failures", ["kind"], registry=REGISTRY)
IMAP_ERRORS = Counter("router_imap_errors_total", "IMAP connection or protocol failures", registry=REGISTRY)
IMAP_CONNECT_FAILURES = Counter("router_imap_connect_failures_total", "Failed attempts to connect and log in to IMAP", registry=REGISTRY)
IMAP_CONNECTED = Gauge("router_imap_connected", "1 while an IMAP session is up, 0 while reconnecting", registry=REGISTRY)
BACKLOG = Gauge("router_backlog_messages", "Messages waiting in the mailbox at the last poll", registry=REGISTRY)
LAST_POLL = Gauge("router_last_successful_poll_timestamp_seconds", "Unix time of the last successful poll", registry=REGISTRY)
BY_PRIORITY = Counter("router_messages_by_priority_total", "Messages handled, by priority (issue 13)", ["priority"],
                      registry=REGISTRY)
ESCALATIONS = Counter("router_escalations_total", "Cases escalated by a chaser past the SLA share", ["priority"],
                      registry=REGISTRY)
OPEN_CASES = Gauge("router_open_cases", "Open, unanswered cases by SLA state (on_time, near, past_due)", ["sla"],
                   registry=REGISTRY)
MODEL = Gauge("router_model_info", "The model in use (value 1)", ["version"], registry=REGISTRY)
# More reasons to be unhealthy (e.g. logins that keep failing): each returns the reason or None.
HEALTH_CHECKS: list[Callable[[], str | None]] = []


class _Handler(BaseHTTPRequestHandler):
    max_age = 300.0

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        if self.path.startswith("/metrics"):
            body, code, ctype = generate_latest(REGISTRY), 200, CONTENT_TYPE_LATEST
        elif self.path.startswith("/healthz"):
            last = LAST_POLL._value.get()  # noqa: SLF001 - the gauge's own value
            age = time.time() - last if last else float("inf")
            connected = bool(IMAP_CONNECTED._value.get())  # noqa: SLF001
            problems = [p for p in (check() for check in HEALTH_CHECKS) if p]
            ok = age <= self.max_age and connected and not problems
            reason = "; ".join(problems) or f"mailbox not reached for {age:.0f}s{'' if connected else ' (reconnecting)'}"
            body = (f"ok: mailbox reached {age:.0f}s ago\n" if ok else f"unhealthy: {reason}\n").encode()
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
