"""Login health for metrics, /healthz and `router status`.

Metrics (prometheus, in router.metrics.REGISTRY): seconds until each
access token expires and failed logins by reason.  Health: a server whose
logins keep failing (a refused grant at once, anything else from the second
failure in a row) makes /healthz answer 503 with the reason, and the reason
is written to a small JSON file next to the state store for `router status`
(another process).  Reasons come from our own error messages, which never
contain a token or a secret.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Gauge

from router import metrics

if TYPE_CHECKING:
    from router.oauth.settings import OAuth2Settings

REASONS = ("grant_refused", "token_endpoint", "server_rejected")
FAILURES_BEFORE_UNHEALTHY = 2

TOKEN_EXPIRY = Gauge("router_oauth_token_expires_in_seconds", "Seconds until the current OAuth2 access token expires",
                     ["server"], registry=metrics.REGISTRY)
LOGIN_FAILURES = Counter("router_login_failures_total", "Failed IMAP/SMTP logins, by server and reason",
                         ["server", "reason"], registry=metrics.REGISTRY)

_lock = threading.Lock()
_state: dict[str, dict[str, Any]] = {}


def _install() -> None:
    if problem not in metrics.HEALTH_CHECKS:
        metrics.HEALTH_CHECKS.append(problem)


def health_file(state_path: Path) -> Path:
    """Where the daemon leaves login health for `router status`."""
    return state_path.parent / "login-health.json"


def watch_expiry(server: str, seconds: Callable[[], float]) -> None:
    TOKEN_EXPIRY.labels(server=_server(server)).set_function(seconds)


def login_failed(settings: OAuth2Settings | None, reason: str, message: str, *, server: str = "") -> None:
    name = _server(settings.section if settings is not None else server)
    LOGIN_FAILURES.labels(server=name, reason=reason).inc()
    with _lock:
        entry = _state.setdefault(name, {"failures": 0})
        entry["failures"] += 1
        entry.update(reason=reason, error=message.splitlines()[0][:300] if message else reason, since=entry.get("since") or time.time())
        entry["ok"] = not (reason == "grant_refused" or entry["failures"] >= FAILURES_BEFORE_UNHEALTHY)
    _write(settings)


def login_ok(settings: OAuth2Settings | None, *, server: str = "") -> None:
    name = _server(settings.section if settings is not None else server)
    with _lock:
        changed = _state.get(name, {}).get("failures", 0) != 0 or name not in _state
        _state[name] = {"ok": True, "failures": 0, "last_ok": time.time()}
    if changed:
        _write(settings)


def problem() -> str | None:
    """The reason /healthz should fail, or None when logins are fine."""
    with _lock:
        bad = [f"{name} login failing ({e['failures']}x): {e['error']}" for name, e in sorted(_state.items()) if not e.get("ok", True)]
    return "; ".join(bad) or None


def read(state_path: Path) -> dict[str, Any]:
    """What the daemon last wrote (for `router status`); {} when nothing."""
    try:
        data = json.loads(health_file(state_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def reset() -> None:
    """Forget everything (tests, config reload)."""
    with _lock:
        _state.clear()


def _server(section: str) -> str:
    return section.split(".")[0] or "unknown"


def _write(settings: OAuth2Settings | None) -> None:
    path = settings.health_file if settings is not None else None
    if path is None:
        return
    with _lock:
        body = json.dumps(_state, indent=1)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(body, encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # health reporting must never break a login


_install()
