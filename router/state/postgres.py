"""The state store in PostgreSQL: shared by several routers and mailboxes.

The same `Store` as sqlite.py, over psycopg 3 with a connection pool
(psycopg_pool), with what sharing needs on top:

* a lease per message: `claim()` takes a message for this router (owner id
  + expiry); each recorded step renews it; filing releases it.  A router
  that dies loses its claims when their leases expire, and another router
  resumes the message from its last recorded step.  While a live router
  holds a message, `claim()` returns None and the caller leaves it alone.
* claims are serialised by a transaction-level advisory lock, so two
  routers never create, re-key or take over the same row at once.

The schema is created and upgraded by the router (postgres_schema.py).
Values and semantics are those of sqlite.py, query for query; JSON is
stored as text there too.  Only this package imports psycopg.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from router.errors import RouterError, StoreUnavailable
from router.state.postgres_schema import MIGRATIONS, VERSION, VERSION_TABLE
from router.state.rows import CaseRow, MessageRow, NewCorrection

PostgresError = psycopg.Error  # what a broken or unreachable store raises
_COUNTED_REPLY = "(outcome='sent' OR reason='uncertain_after_crash')"
_MIGRATE_LOCK = 0x726F7574  # pg_advisory_xact_lock keys: "rout"
_CLAIM_LOCK = 0x636C6169  # "clai"
_LEASE_COLUMNS = ("claim_owner", "claim_until")


def _sql(query: str) -> str:
    """sqlite-style `?` placeholders to psycopg's `%s` (a literal % doubled)."""
    return query.replace("%", "%%").replace("?", "%s")


def owner_id() -> str:
    """Who holds a lease: host, pid and a random tag (pids are reused across restarts)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class PostgresStore:
    """The `Store` over one PostgreSQL database."""

    def __init__(self, url: str, *, password: str | None = None, lease_seconds: float = 60.0,
                 readonly: bool = False, pool_size: int = 4, pool_timeout: float = 30.0) -> None:
        self.url = url
        self.lease_seconds = lease_seconds
        self.owner = owner_id()
        self._local = threading.local()
        kwargs: dict[str, Any] = {"autocommit": True, "row_factory": dict_row}
        if password is not None:
            kwargs["password"] = password
        try:  # fail now, in one line, on a wrong password or an unreachable server (the pool would only time out)
            psycopg.connect(url, connect_timeout=10, **kwargs).close()
        except psycopg.OperationalError as exc:
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise RouterError(f"state store {_safe(url)} cannot be opened: {reason}") from None
        self.pool: ConnectionPool[psycopg.Connection[dict[str, Any]]] = ConnectionPool(
            url, min_size=1, max_size=pool_size, kwargs=kwargs, open=False, timeout=pool_timeout,
            name="router-state")
        try:
            self.pool.open(wait=True, timeout=30)
        except PoolTimeout as exc:
            self.pool.close()
            raise RouterError(f"state store {_safe(url)} cannot be reached: {exc}") from None
        if not readonly:
            self._migrate()

    # -- connections -----------------------------------------------------------------
    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[dict[str, Any]]]:
        """The connection of the open transaction on this thread, else one from the pool."""
        current = getattr(self._local, "conn", None)
        if current is not None:
            yield current
            return
        with self._reachable(), self.pool.connection() as conn:
            yield conn

    @contextmanager
    def _reachable(self) -> Iterator[None]:
        """A lost server or connection becomes StoreUnavailable: the caller stops and retries, and acts on nothing meanwhile."""
        try:
            yield
        except (psycopg.OperationalError, PoolTimeout) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreUnavailable(f"state store {_safe(self.url)} unavailable: {reason}") from None

    def _exec(self, query: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        with self._conn() as conn:
            cur = conn.execute(_sql(query), params)  # built from constant text only
            return cur.fetchall() if cur.description else []

    def _one(self, query: str, params: tuple[Any, ...] = ()) -> dict[str, Any] | None:
        rows = self._exec(query, params)
        return rows[0] if rows else None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if getattr(self._local, "conn", None) is not None:  # nested: the outer transaction decides
            yield
            return
        with self._reachable(), self.pool.connection() as conn, conn.transaction():
            self._local.conn = conn
            try:
                yield
            finally:
                self._local.conn = None

    def close(self) -> None:
        self.pool.close()

    # -- schema ---------------------------------------------------------------------
    def schema_version(self) -> int:
        try:
            row = self._one("SELECT version FROM schema_version")
        except psycopg.errors.UndefinedTable:
            return 0
        return int(row["version"]) if row else 0

    def _migrate(self) -> None:
        """Create or upgrade the schema, one migration per transaction; routers starting together wait in turn."""
        for _ in range(VERSION + 1):
            with self.transaction():
                self._exec("SELECT pg_advisory_xact_lock(?)", (_MIGRATE_LOCK,))
                self._exec(VERSION_TABLE)
                row = self._one("SELECT version FROM schema_version")
                version = int(row["version"]) if row else 0
                if version > VERSION:
                    raise RouterError(f"state store {_safe(self.url)} has schema version {version}; "
                                      f"this router knows up to {VERSION}")
                if version == VERSION:
                    return
                with self._conn() as conn:
                    conn.execute(MIGRATIONS[version].encode())  # several statements: one simple query
                if row is None:
                    self._exec("INSERT INTO schema_version (version) VALUES (?)", (version + 1,))
                else:
                    self._exec("UPDATE schema_version SET version=?", (version + 1,))

    # -- messages -------------------------------------------------------------------
    def get(self, mailbox: str, uidvalidity: int, uid: int) -> MessageRow | None:
        return _message(self._one("SELECT * FROM messages WHERE mailbox=? AND uidvalidity=? AND uid=?",
                                  (mailbox, uidvalidity, uid)))

    def find_known(self, mailbox: str, message_id: str, content_hash: str) -> MessageRow | None:
        """A message seen before under another UID (UIDVALIDITY change, re-delivery)."""
        row = self._one("SELECT * FROM messages WHERE mailbox=? AND content_hash=? ORDER BY updated DESC LIMIT 1",
                        (mailbox, content_hash))
        if row is None and not message_id.endswith("@router.invalid>"):
            row = self._one("SELECT * FROM messages WHERE mailbox=? AND message_id=? ORDER BY updated DESC LIMIT 1",
                            (mailbox, message_id))
        return _message(row)

    def is_known(self, mailbox: str, message_id: str, content_hash: str) -> bool:
        return self._one("SELECT 1 AS x FROM messages WHERE mailbox=? AND (message_id=? OR content_hash=?) LIMIT 1",
                         (mailbox, message_id, content_hash)) is not None

    def elsewhere(self, mailbox: str, message_id: str) -> MessageRow | None:
        """The same Message-ID recorded at another of our mailboxes (it is handled there, once)."""
        if message_id.endswith("@router.invalid>"):  # made up for a message without one: never shared
            return None
        return _message(self._one("SELECT * FROM messages WHERE message_id=? AND mailbox<>? ORDER BY created LIMIT 1",
                                  (message_id, mailbox)))

    def claim(self, mailbox: str, uidvalidity: int, uid: int, message_id: str, content_hash: str) -> MessageRow | None:
        """This router's row for the message (created at step `claimed` if new), under a fresh lease.

        None while another live router holds it.  A message known under
        another UID is re-keyed and resumes; one whose Message-ID is known
        at another mailbox is recorded as a filed duplicate.
        """
        now = time.time()
        until = now + self.lease_seconds
        with self.transaction():
            self._exec("SELECT pg_advisory_xact_lock(?)", (_CLAIM_LOCK,))
            existing = self.get(mailbox, uidvalidity, uid)
            if existing is None:
                known = self.find_known(mailbox, message_id, content_hash)
                if known is not None:
                    if _held_by_other(self._lease(known), self.owner, now):
                        return None
                    self._exec("UPDATE messages SET uidvalidity=?, uid=?, updated=? WHERE mailbox=? AND uidvalidity=? AND uid=?",
                               (uidvalidity, uid, now, known.mailbox, known.uidvalidity, known.uid))
                    self.event("recognised", message_id,
                               f"known message re-keyed from UID {known.uid} (UIDVALIDITY {known.uidvalidity})")
                elif (other := self.elsewhere(mailbox, message_id)) is not None:
                    self._exec("INSERT INTO messages (mailbox, uidvalidity, uid, message_id, content_hash, step, outcome,"
                               " case_id, created, updated) VALUES (?,?,?,?,?,'filed','duplicate',?,?,?)",
                               (mailbox, uidvalidity, uid, message_id, content_hash, other.case_id, now, now))
                    self.event("duplicate", message_id, f"same Message-ID handled at {other.mailbox}")
                    return self.get(mailbox, uidvalidity, uid)
                else:
                    self._exec("INSERT INTO messages (mailbox, uidvalidity, uid, message_id, content_hash, step, created, updated)"
                               " VALUES (?,?,?,?,?,'claimed',?,?)",
                               (mailbox, uidvalidity, uid, message_id, content_hash, now, now))
            else:
                if existing.reached("filed"):
                    return existing
                lease = self._lease(existing)
                if _held_by_other(lease, self.owner, now):
                    return None
                if lease[0] not in (None, self.owner):
                    self.event("taken_over", message_id, f"lease of {lease[0]} expired at step {existing.step}")
            self._exec("UPDATE messages SET claim_owner=?, claim_until=? WHERE mailbox=? AND uidvalidity=? AND uid=?",
                       (self.owner, until, mailbox, uidvalidity, uid))
        return self.get(mailbox, uidvalidity, uid)

    def _lease(self, row: MessageRow) -> tuple[str | None, float]:
        found = self._one("SELECT claim_owner, claim_until FROM messages WHERE mailbox=? AND uidvalidity=? AND uid=?",
                          (row.mailbox, row.uidvalidity, row.uid))
        return (found["claim_owner"], float(found["claim_until"])) if found else (None, 0.0)

    def lease_of(self, mailbox: str, uidvalidity: int, uid: int) -> tuple[str | None, float]:
        """(owner, expiry) of a message's lease; (None, 0) when free."""
        found = self._one("SELECT claim_owner, claim_until FROM messages WHERE mailbox=? AND uidvalidity=? AND uid=?",
                          (mailbox, uidvalidity, uid))
        return (found["claim_owner"], float(found["claim_until"])) if found else (None, 0.0)

    def record_step(self, row: MessageRow, step: str, **fields: Any) -> None:
        """Record that `row` reached `step`; renews this router's lease, or releases it at `filed`."""
        fields["step"] = step
        fields["updated"] = time.time()
        if "record" in fields and fields["record"] is not None:
            fields["record"] = json.dumps(fields["record"], ensure_ascii=False)
        unknown = set(fields) - _MESSAGE_COLUMNS
        if unknown:
            raise ValueError(f"not a message column: {', '.join(sorted(unknown))}")
        lease: tuple[Any, ...] = (None, 0.0) if step == "filed" else (self.owner, time.time() + self.lease_seconds)
        cols = ", ".join(f"{k}=?" for k in (*fields, *_LEASE_COLUMNS))
        self._exec(f"UPDATE messages SET {cols} WHERE mailbox=? AND uidvalidity=? AND uid=?",
                   (*fields.values(), *lease, row.mailbox, row.uidvalidity, row.uid))
        row.step = step
        for k, v in fields.items():
            if k == "record" and isinstance(v, str):
                v = json.loads(v)
            if hasattr(row, k):
                setattr(row, k, v)

    def defer(self, row: MessageRow, error: str, base: float, cap: float) -> float:
        """Count a temporary failure and let go of the message until its next attempt."""
        attempts = row.attempts + 1
        nxt = time.time() + min(cap, base * (2 ** (attempts - 1)))
        self._exec("UPDATE messages SET attempts=?, next_attempt=?, last_error=?, updated=?, claim_owner=NULL, claim_until=0"
                   " WHERE mailbox=? AND uidvalidity=? AND uid=?",
                   (attempts, nxt, error[:300], time.time(), row.mailbox, row.uidvalidity, row.uid))
        row.attempts, row.next_attempt, row.last_error = attempts, nxt, error[:300]
        return nxt

    def in_flight(self, mailbox: str, uidvalidity: int) -> list[MessageRow]:
        """Messages decided but not recorded as filed (see sqlite.py), less those another live router holds.

        The caller settles these against a listing of the folder; a message
        another router is working on may be newer than that listing.
        """
        return self._rows("mailbox=? AND uidvalidity=? AND step IN ('decided','forwarded','replied')"
                          " AND (claim_owner IS NULL OR claim_owner=? OR claim_until<=?)",
                          (mailbox, uidvalidity, self.owner, time.time()))

    def refile(self, mailbox: str, message_id: str, folder: str) -> None:
        self._exec("UPDATE messages SET folder=?, updated=? WHERE mailbox=? AND message_id=? AND step='filed'",
                   (folder, time.time(), mailbox, message_id))

    def message_ids_of_case(self, mailbox: str, case_id: str) -> set[str]:
        ids = {r["message_id"] for r in self._exec("SELECT message_id FROM messages WHERE mailbox=? AND case_id=?",
                                                   (mailbox, case_id))}
        ids |= {r["message_id"] for r in self._exec("SELECT message_id FROM case_messages WHERE case_id=?", (case_id,))}
        return ids

    def _rows(self, where: str, params: tuple[Any, ...]) -> list[MessageRow]:
        return [r for r in (_message(x) for x in self._exec(f"SELECT * FROM messages WHERE {where}", params)) if r]

    def requeue(self, mailbox: str, message_id: str, content_hash: str | None = None, dry_run: bool = False) -> dict[str, Any]:
        """Make a known message be decided again when it next appears (see sqlite.py)."""
        rows = self._rows("mailbox=? AND message_id=?", (mailbox, message_id))
        if not rows and content_hash:
            rows = self._rows("mailbox=? AND content_hash=?", (mailbox, content_hash))
        sent = self._exec('SELECT purpose, recipient AS "to", message_id FROM deliveries WHERE original_id=? ORDER BY ts',
                          (message_id,))
        reply = self._one("SELECT outcome, reason FROM replies WHERE message_id=?", (message_id,))
        info: dict[str, Any] = {
            "known": bool(rows),
            "previous": [{"step": r.step, "route": r.route, "outcome": r.outcome, "folder": r.folder, "case_id": r.case_id}
                         for r in rows],
            "already_sent": sent,
            "reply": dict(reply) if reply else None,
        }
        if dry_run:
            return info
        with self.transaction():
            for r in rows:
                self._exec("UPDATE messages SET step='claimed', record=NULL, route=NULL, folder=NULL, outcome=NULL, attempts=0,"
                           " next_attempt=0, last_error=NULL, claim_owner=NULL, claim_until=0, updated=?"
                           " WHERE mailbox=? AND uidvalidity=? AND uid=?", (time.time(), r.mailbox, r.uidvalidity, r.uid))
                if r.case_id:
                    others = self._one("SELECT COUNT(*) AS n FROM case_messages WHERE case_id=? AND message_id<>?"
                                       " AND message_id NOT LIKE '<router.%'", (r.case_id, message_id))
                    if others is not None and not others["n"]:
                        self._exec("DELETE FROM cases WHERE case_id=?", (r.case_id,))
            if reply and reply["outcome"] in ("suppressed", "failed"):
                self._exec("DELETE FROM replies WHERE message_id=? AND outcome IN ('suppressed', 'failed')", (message_id,))
            prev = "; ".join(f"step={p['step']} route={p['route']} outcome={p['outcome']} folder={p['folder']}"
                             for p in info["previous"]) or "unknown message"
            if reply:
                prev += f"; reply {reply['outcome']} ({reply['reason']})"
            self.event("requeued", message_id, prev[:500])
        return info

    # -- deliveries -------------------------------------------------------------------
    def delivered(self, original_id: str, purpose: str, recipient: str) -> bool:
        return self._one("SELECT 1 AS x FROM deliveries WHERE original_id=? AND purpose=? AND recipient=?",
                         (original_id, purpose, recipient)) is not None

    def record_delivery(self, original_id: str, purpose: str, recipient: str, message_id: str) -> None:
        self._exec("INSERT INTO deliveries (original_id, purpose, recipient, message_id, ts) VALUES (?,?,?,?,?)"
                   " ON CONFLICT DO NOTHING", (original_id, purpose, recipient, message_id, time.time()))

    # -- cases ------------------------------------------------------------------------
    def case(self, case_id: str) -> CaseRow | None:
        return _case(self._one("SELECT * FROM cases WHERE case_id=?", (case_id,)))

    def case_of(self, message_ids: Iterable[str]) -> CaseRow | None:
        for mid in message_ids:
            row = self._one("SELECT c.* FROM cases c JOIN case_messages m ON c.case_id=m.case_id WHERE m.message_id=?"
                            " LIMIT 1", (mid,))
            if row:
                return _case(row)
        return None

    def open_case(self, case_id: str, sender: str, category: str, route: str, issue_type: str | None,
                  required: tuple[str, ...], present: tuple[str, ...]) -> None:
        now = time.time()
        self._exec("INSERT INTO cases (case_id, sender, category, route, issue_type, required, present, created, updated)"
                   " VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                   (case_id, sender, category, route, issue_type, json.dumps(list(required)), json.dumps(list(present)),
                    now, now))

    def link_message(self, case_id: str, message_id: str) -> None:
        self._exec("INSERT INTO case_messages (case_id, message_id) VALUES (?,?) ON CONFLICT DO NOTHING", (case_id, message_id))

    def update_case(self, case_id: str, *, present: tuple[str, ...] | None = None, route: str | None = None,
                    category: str | None = None) -> None:
        fields: dict[str, Any] = {}
        if present is not None:
            fields["present"] = json.dumps(list(present))
        if route is not None:
            fields["route"] = route
        if category is not None:
            fields["category"] = category
        fields["updated"] = time.time()
        cols = ", ".join(f"{k}=?" for k in fields)
        self._exec(f"UPDATE cases SET {cols} WHERE case_id=?", (*fields.values(), case_id))

    # -- the SLA clock -------------------------------------------------------------------
    def schedule_case(self, case_id: str, priority: str, received: float, due: float) -> None:
        self._exec("UPDATE cases SET priority=?, received=COALESCE(received, ?), due=?, updated=? WHERE case_id=?",
                   (priority, received, due, time.time(), case_id))

    def mark_acknowledged(self, case_id: str, ts: float) -> None:
        self._exec("UPDATE cases SET acknowledged=COALESCE(acknowledged, ?) WHERE case_id=?", (ts, case_id))

    def claim_escalation(self, case_id: str, ts: float) -> bool:
        """One atomic UPDATE: of several routers sharing the store, exactly one gets True."""
        rows = self._exec("UPDATE cases SET escalated=? WHERE case_id=? AND escalated IS NULL RETURNING case_id",
                          (ts, case_id))
        return len(rows) == 1

    def open_clocks(self) -> list[CaseRow]:
        rows = self._exec("SELECT * FROM cases WHERE status='open' AND answered IS NULL AND due IS NOT NULL"
                          " ORDER BY due, case_id")
        return [c for c in map(_case, rows) if c is not None]

    # -- acknowledgements ---------------------------------------------------------------
    def reply_outcome(self, message_id: str) -> str | None:
        row = self._one("SELECT outcome FROM replies WHERE message_id=?", (message_id,))
        return str(row["outcome"]) if row else None

    def record_reply(self, message_id: str, case_id: str, sender: str, outcome: str, reason: str | None,
                     replace: bool = False) -> None:
        on_conflict = ("DO UPDATE SET case_id=EXCLUDED.case_id, sender=EXCLUDED.sender, outcome=EXCLUDED.outcome,"
                       " reason=EXCLUDED.reason, ts=EXCLUDED.ts") if replace else "DO NOTHING"
        self._exec(f"INSERT INTO replies (message_id, case_id, sender, outcome, reason, ts) VALUES (?,?,?,?,?,?)"
                   f" ON CONFLICT (message_id) {on_conflict}", (message_id, case_id, sender, outcome, reason, time.time()))

    def forget_unsent_reply(self, message_id: str) -> None:
        self._exec("DELETE FROM replies WHERE message_id=? AND outcome='sending'", (message_id,))

    def case_acknowledged(self, sender: str, case_id: str) -> bool:
        return self._one("SELECT 1 AS x FROM replies WHERE sender=? AND case_id=? AND outcome IN ('sent','sending') LIMIT 1",
                         (sender, case_id)) is not None

    def sent_within(self, sender: str, seconds: float) -> int:
        """Acknowledgements to `sender` in the last `seconds`, by every router and mailbox (rate caps)."""
        row = self._one(f"SELECT COUNT(*) AS n FROM replies WHERE sender=? AND {_COUNTED_REPLY} AND ts>?",
                        (sender, time.time() - seconds))
        return int(row["n"]) if row else 0

    # -- corrections -----------------------------------------------------------------------
    def last_correction(self, message_id: str) -> str | None:
        row = self._one("SELECT corrected_category FROM corrections WHERE message_id=? ORDER BY ts DESC, id DESC LIMIT 1",
                        (message_id,))
        return str(row["corrected_category"]) if row else None

    def add_correction(self, c: NewCorrection) -> None:
        self._exec("INSERT INTO corrections (message_id, case_id, original_category, original_route, corrected_category,"
                   " text, language, source, ts) VALUES (?,?,?,?,?,?,?,?,?)",
                   (c.message_id, c.case_id, c.original_category, c.original_route, c.corrected_category, c.text,
                    c.language, c.source, time.time()))

    def corrections_since(self, since: float | None = None) -> list[dict[str, Any]]:
        try:
            rows = self._exec("SELECT DISTINCT ON (message_id) * FROM corrections ORDER BY message_id, ts DESC, id DESC")
        except psycopg.errors.UndefinedTable:
            return []
        out = sorted(rows, key=lambda r: (r["ts"], r["id"]))
        return out if since is None else [r for r in out if r["ts"] > since]

    # -- meta, events, status --------------------------------------------------------------
    def set_meta(self, key: str, value: Any) -> None:
        self._exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value=EXCLUDED.value",
                   (key, json.dumps(value)))

    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self._one("SELECT value FROM meta WHERE key=?", (key,))
        return json.loads(row["value"]) if row else default

    def event(self, kind: str, message_id: str | None = None, detail: str | None = None) -> None:
        self._exec("INSERT INTO events (ts, kind, message_id, detail) VALUES (?,?,?,?)", (time.time(), kind, message_id, detail))

    def summary(self, since: float) -> dict[str, Any]:
        """The counts `router status` shows; `since` starts "today"."""
        def pairs(query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
            return [tuple(r.values()) for r in self._exec(query, params)]

        count = self._one("SELECT COUNT(*) AS n FROM messages WHERE step<>'filed'")
        cases = self._one("SELECT COUNT(*) AS n FROM cases WHERE status='open'")
        return {
            "today_by_outcome": dict(pairs("SELECT outcome, COUNT(*) FROM messages WHERE step='filed' AND updated>=?"
                                           " GROUP BY outcome", (since,))),
            "total_by_outcome": dict(pairs("SELECT outcome, COUNT(*) FROM messages WHERE step='filed' GROUP BY outcome")),
            "in_progress": count["n"] if count else 0,
            "deferred": self._exec("SELECT message_id, attempts, next_attempt, last_error FROM messages WHERE step<>'filed'"
                                   " AND attempts>0 ORDER BY next_attempt LIMIT 20"),
            "replies": {f"{o}:{r}": n for o, r, n in pairs("SELECT outcome, COALESCE(reason,''), COUNT(*) FROM replies"
                                                            " GROUP BY outcome, reason")},
            "rate_limited_senders": self._exec("SELECT sender, COUNT(*) AS suppressed, MAX(ts) AS last FROM replies"
                                               " WHERE reason LIKE 'rate_limited%' GROUP BY sender ORDER BY last DESC LIMIT 20"),
            "open_cases": cases["n"] if cases else 0,
            "recent_cases": self._exec("SELECT case_id, sender, category, route, required, present, updated FROM cases"
                                       " WHERE status='open' ORDER BY updated DESC LIMIT 10"),
        }


_MESSAGE_COLUMNS = frozenset(MessageRow.__dataclass_fields__) | {"updated"}


def _held_by_other(lease: tuple[str | None, float], owner: str, now: float) -> bool:
    return lease[0] is not None and lease[0] != owner and lease[1] > now


def _message(row: dict[str, Any] | None) -> MessageRow | None:
    if row is None:
        return None
    d = {k: v for k, v in row.items() if k in MessageRow.__dataclass_fields__}
    d["record"] = json.loads(d["record"]) if d.get("record") else None
    return MessageRow(**d)


def _case(row: dict[str, Any] | None) -> CaseRow | None:
    if row is None:
        return None
    return CaseRow(case_id=row["case_id"], sender=row["sender"], category=row["category"], route=row["route"],
                   issue_type=row["issue_type"], required=tuple(json.loads(row["required"])),
                   present=tuple(json.loads(row["present"])), status=row["status"],
                   **{k: row[k] for k in _CLOCK_COLUMNS if k in row})


_CLOCK_COLUMNS = ("priority", "received", "acknowledged", "answered", "due", "escalated")


def _safe(url: str) -> str:
    """The url without any password someone put in it anyway."""
    head, sep, tail = url.partition("@")
    if not sep or "://" not in head:
        return url
    scheme, _, userinfo = head.partition("://")
    return f"{scheme}://{userinfo.split(':', 1)[0]}@{tail}"
