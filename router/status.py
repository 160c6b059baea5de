"""What the daemon has done and is doing, read from its state store."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from router import sla
from router.classify import read_metadata
from router.config import Settings
from router.errors import RouterError
from router.mailboxes import meta_key
from router.oauth import health as login_health
from router.state import DatabaseError, Store, open_store


def collect(settings: Settings) -> dict[str, Any]:
    where = settings.store()
    if not where.shared and not settings.state_path.exists():
        return {"state": str(settings.state_path), "running_since": None, "note": "no state store yet: the daemon has not run", "model": _model(settings.model_path)}
    try:
        state = open_store(where, readonly=True)
    except DatabaseError as exc:
        raise RouterError(f"state store {where.describe()} cannot be read: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}") from None
    try:
        midnight = time.mktime(time.localtime()[:3] + (0, 0, 0, 0, 0, -1))
        s = state.summary(since=midnight)
        served = {m.name: _mailbox(state, m) for m in settings.served()}
        polls = [m["last_poll"] for m in served.values()]
        last_poll = None if None in polls else min(polls)  # the mailbox polled longest ago (several mailboxes)
        return {
            "state": where.describe(),
            "last_poll": last_poll,
            "last_poll_age_seconds": round(time.time() - last_poll, 1) if last_poll else None,
            "backlog": sum(m["backlog"] for m in served.values()),
            "mailboxes": served,
            "in_progress": s["in_progress"],
            "deferred": s["deferred"],
            "today_by_outcome": s["today_by_outcome"],
            "total_by_outcome": s["total_by_outcome"],
            "dead_letter": s["total_by_outcome"].get("dead_letter", 0),
            "quarantine": s["total_by_outcome"].get("quarantine", 0),
            "replies": s["replies"],
            "rate_limited_senders": s["rate_limited_senders"],
            "open_cases": s["open_cases"],
            "recent_cases": s["recent_cases"],
            "sla": _clocks(state, settings),
            "model": _model(settings.model_path),
            "logins": login_health.read(settings.state_path),
        }
    finally:
        state.close()


def _clocks(state: Store, settings: Settings) -> dict[str, Any]:
    """Open cases by SLA state, and the ones near and past due (soonest first)."""
    now = time.time()
    try:
        cases = state.open_clocks()
    except DatabaseError:  # a store from before the SLA clock (SQLite or PostgreSQL schema 1), opened read-only
        cases = []
    counts = dict.fromkeys(sla.STATES, 0)
    listed: list[dict[str, Any]] = []
    for c in cases:
        st = sla.state_of(c, now, settings.sla)
        counts[st] += 1
        if st != "on_time" and len(listed) < 50:
            listed.append({"case_id": c.case_id, "sla": st, "priority": c.priority, "route": c.route,
                           "sender": c.sender, "received": c.received, "acknowledged": c.acknowledged,
                           "due": c.due, "due_in_hours": round(((c.due or now) - now) / 3600, 2),
                           "escalated": c.escalated is not None})
    return {"counts": counts, "cases": listed}


def _mailbox(state: Any, settings: Settings) -> dict[str, Any]:
    """One mailbox's bookkeeping and health, as its daemon thread recorded them (router.daemon)."""
    last_poll = state.get_meta(meta_key(settings.name, "last_poll"))
    health = state.get_meta(meta_key(settings.name, "health")) or {}
    return {
        "mailbox": settings.mailbox_key(),
        "last_poll": last_poll,
        "last_poll_age_seconds": round(time.time() - last_poll, 1) if last_poll else None,
        "backlog": int(state.get_meta(meta_key(settings.name, "backlog"), 0) or 0),
        "ok": health.get("ok"),
        "error": health.get("error"),
        "failures": health.get("failures", 0),
        "since": health.get("since"),
    }


def _model(path: Path) -> dict[str, Any] | None:
    meta = read_metadata(path)
    if not meta:
        return None
    return {"path": str(path), "version": meta.get("version"), "created": meta.get("created"),
            "cv_metrics": meta.get("cv_metrics"), "holdout_metrics": meta.get("holdout_metrics"),
            "thresholds": meta.get("thresholds")}


def format_status(s: dict[str, Any]) -> str:
    if s.get("note"):
        return f"{s['note']} ({s['state']})"
    lines = [f"state store: {s['state']}"]
    age = s.get("last_poll_age_seconds")
    lines.append(f"last poll: {age:.0f}s ago" if age is not None else "last poll: never")
    lines.append(f"backlog: {s['backlog']}  in progress: {s['in_progress']}  deferred: {len(s['deferred'])}")
    several = len(s.get("mailboxes") or {}) > 1
    for name, m in sorted((s.get("mailboxes") or {}).items()):
        if several or m.get("ok") is False:
            lines.append(_mailbox_line(name, m))
    lines.append("today: " + (", ".join(f"{k}={v}" for k, v in sorted(s["today_by_outcome"].items())) or "nothing yet"))
    lines.append(f"dead-letter: {s['dead_letter']}  quarantine: {s['quarantine']}  open cases: {s['open_cases']}")
    lines.append("replies: " + (", ".join(f"{k.rstrip(':')}={v}" for k, v in sorted(s["replies"].items())) or "none"))
    if s["rate_limited_senders"]:
        lines.append("rate-limited senders: " + ", ".join(f"{r['sender']} ({r['suppressed']})" for r in s["rate_limited_senders"]))
    for server, entry in sorted((s.get("logins") or {}).items()):
        if not entry.get("ok", True):
            lines.append(f"{server} login failing ({entry.get('failures')}x): {entry.get('error')}")
    clocks = s.get("sla") or {"counts": {}, "cases": []}
    lines.append("SLA: " + (", ".join(f"{k}={v}" for k, v in clocks["counts"].items()) or "no open cases"))
    for c in clocks["cases"]:
        when = f"{-c['due_in_hours']:g} h overdue" if c["sla"] == "past_due" else f"due in {c['due_in_hours']:g} h"
        lines.append(f"  case #{c['case_id']} {c['sla'].replace('_', ' ')} ({when}), priority {c['priority']}, "
                     f"route {c['route']}" + (", escalated" if c["escalated"] else ""))
    m = s.get("model")
    if m:
        figs = m.get("holdout_metrics") or m.get("cv_metrics") or {}
        lines.append(f"model: {m['version']} ({m['created']})" + (f", macro-F1 {figs['macro_f1']:.3f}" if figs.get("macro_f1") else ""))
    else:
        lines.append("model: none")
    return "\n".join(lines)


def _mailbox_line(name: str, m: dict[str, Any]) -> str:
    age = m.get("last_poll_age_seconds")
    polled = f"last poll {age:.0f}s ago" if age is not None else "never polled"
    if m.get("ok") is False:
        since = m.get("since")
        for_how_long = f" for {time.time() - since:.0f}s" if since else ""
        return f"mailbox {name} ({m['mailbox']}): FAILING{for_how_long} ({m.get('failures')}x): {m.get('error')}; {polled}"
    state = "ok" if m.get("ok") else "not served yet"
    return f"mailbox {name} ({m['mailbox']}): {state}, {polled}, backlog {m['backlog']}"
