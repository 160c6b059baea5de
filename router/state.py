"""The daemon's state store: SQLite in WAL mode.

Messages are keyed by mailbox + UIDVALIDITY + UID and also remember their
Message-ID and a content hash, so that after a UIDVALIDITY change a known
message is recognised again instead of being handled twice.  Each message
moves through recorded steps; after a crash the daemon resumes a message
from its last recorded step.  Nothing here stores a message body or a secret
value: records hold kinds, never values (SPEC 5).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STEPS = ("claimed", "decided", "forwarded", "replied", "filed")

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    mailbox      TEXT NOT NULL,
    uidvalidity  INTEGER NOT NULL,
    uid          INTEGER NOT NULL,
    message_id   TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    step         TEXT NOT NULL,
    route        TEXT,
    folder       TEXT,
    case_id      TEXT,
    sender       TEXT,
    record       TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL DEFAULT 0,
    last_error   TEXT,
    outcome      TEXT,
    created      REAL NOT NULL,
    updated      REAL NOT NULL,
    PRIMARY KEY (mailbox, uidvalidity, uid)
);
CREATE INDEX IF NOT EXISTS messages_mid ON messages (mailbox, message_id);
CREATE INDEX IF NOT EXISTS messages_hash ON messages (mailbox, content_hash);
CREATE INDEX IF NOT EXISTS messages_case ON messages (case_id);
CREATE INDEX IF NOT EXISTS messages_updated ON messages (updated);
CREATE TABLE IF NOT EXISTS deliveries (
    original_id TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    recipient   TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    ts          REAL NOT NULL,
    PRIMARY KEY (original_id, purpose, recipient)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    ts REAL NOT NULL, kind TEXT NOT NULL, message_id TEXT, detail TEXT
);
CREATE INDEX IF NOT EXISTS events_ts ON events (ts);
"""


@dataclass
class MessageRow:
    mailbox: str
    uidvalidity: int
    uid: int
    message_id: str
    content_hash: str
    step: str
    route: str | None
    folder: str | None
    case_id: str | None
    sender: str | None
    record: dict[str, Any] | None
    attempts: int
    next_attempt: float
    last_error: str | None
    outcome: str | None

    def reached(self, step: str) -> bool:
        return STEPS.index(self.step) >= STEPS.index(step)


class State:
    """A thin, typed layer over one SQLite file."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        if readonly:  # `router status` and `router train` only read: never create or migrate
            self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()  # fail now if it is not a database
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process crashes
        self.db.executescript(SCHEMA)
        from router import cases  # the case tables live with their logic

        self.db.executescript(cases.SCHEMA)
        from router import corrections  # analysts' corrections (SPEC 1, 10)

        self.db.executescript(corrections.SCHEMA)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- messages -----------------------------------------------------------
    def get(self, mailbox: str, uidvalidity: int, uid: int) -> MessageRow | None:
        row = self.db.execute(
            "SELECT * FROM messages WHERE mailbox=? AND uidvalidity=? AND uid=?", (mailbox, uidvalidity, uid)
        ).fetchone()
        return _row(row)

    def find_known(self, mailbox: str, message_id: str, content_hash: str) -> MessageRow | None:
        """A message seen before under another UID (UIDVALIDITY change, re-delivery)."""
        row = self.db.execute(
            "SELECT * FROM messages WHERE mailbox=? AND content_hash=? ORDER BY updated DESC LIMIT 1",
            (mailbox, content_hash),
        ).fetchone()
        if row is None and not message_id.endswith("@router.invalid>"):
            row = self.db.execute(
                "SELECT * FROM messages WHERE mailbox=? AND message_id=? ORDER BY updated DESC LIMIT 1",
                (mailbox, message_id),
            ).fetchone()
        return _row(row)

    def claim(self, mailbox: str, uidvalidity: int, uid: int, message_id: str, content_hash: str) -> MessageRow:
        """The row for this message, created at step `claimed` if new.

        A message known under another UID is re-keyed to this one and keeps
        its step, so it resumes instead of being handled again.
        """
        now = time.time()
        with self.transaction() as db:
            existing = self.get(mailbox, uidvalidity, uid)
            if existing:
                return existing
            known = self.find_known(mailbox, message_id, content_hash)
            if known:
                db.execute(
                    "INSERT OR REPLACE INTO messages (mailbox, uidvalidity, uid, message_id, content_hash, step, route, folder, case_id, sender, record, attempts, next_attempt, last_error, outcome, created, updated)"
                    " SELECT mailbox, ?, ?, message_id, content_hash, step, route, folder, case_id, sender, record, attempts, next_attempt, last_error, outcome, created, ?"
                    " FROM messages WHERE mailbox=? AND uidvalidity=? AND uid=?",
                    (uidvalidity, uid, now, known.mailbox, known.uidvalidity, known.uid),
                )
                if (known.uidvalidity, known.uid) != (uidvalidity, uid):
                    db.execute(
                        "DELETE FROM messages WHERE mailbox=? AND uidvalidity=? AND uid=?",
                        (known.mailbox, known.uidvalidity, known.uid),
                    )
                self.event("recognised", message_id, f"known message re-keyed from UID {known.uid} (UIDVALIDITY {known.uidvalidity})")
            else:
                db.execute(
                    "INSERT INTO messages (mailbox, uidvalidity, uid, message_id, content_hash, step, created, updated) VALUES (?,?,?,?,?,?,?,?)",
                    (mailbox, uidvalidity, uid, message_id, content_hash, "claimed", now, now),
                )
        row = self.get(mailbox, uidvalidity, uid)
        assert row is not None
        return row

    def advance(self, row: MessageRow, step: str, **fields: Any) -> None:
        """Record that `row` reached `step` (and any other column values)."""
        fields["step"] = step
        fields["updated"] = time.time()
        if "record" in fields and fields["record"] is not None:
            fields["record"] = json.dumps(fields["record"], ensure_ascii=False)
        cols = ", ".join(f"{k}=?" for k in fields)
        self.db.execute(
            f"UPDATE messages SET {cols} WHERE mailbox=? AND uidvalidity=? AND uid=?",
            (*fields.values(), row.mailbox, row.uidvalidity, row.uid),
        )
        row.step = step
        for k, v in fields.items():
            if k == "record" and isinstance(v, str):
                v = json.loads(v)
            if hasattr(row, k):
                setattr(row, k, v)

    def defer(self, row: MessageRow, error: str, base: float, cap: float) -> float:
        """Count a temporary failure; returns the time of the next attempt."""
        attempts = row.attempts + 1
        delay = min(cap, base * (2 ** (attempts - 1)))
        nxt = time.time() + delay
        self.db.execute(
            "UPDATE messages SET attempts=?, next_attempt=?, last_error=?, updated=? WHERE mailbox=? AND uidvalidity=? AND uid=?",
            (attempts, nxt, error[:300], time.time(), row.mailbox, row.uidvalidity, row.uid),
        )
        row.attempts, row.next_attempt, row.last_error = attempts, nxt, error[:300]
        return nxt

    def rows(self, where: str = "1=1", params: tuple[Any, ...] = ()) -> list[MessageRow]:
        return [r for r in (_row(x) for x in self.db.execute(f"SELECT * FROM messages WHERE {where}", params)) if r]

    def requeue(self, mailbox: str, message_id: str, content_hash: str | None = None, dry_run: bool = False) -> dict[str, Any]:
        """Make a known message be decided again when it next appears in the mailbox.

        Its row goes back to step `claimed` with the decision cleared (the
        old values are kept in an event), so that `claim()` recognises it
        under its new UID and the runner decides it afresh.  What was already
        delivered stays in `deliveries` and `replies` and is not repeated:
        a forward to the same address is skipped, a reply that was sent is
        not sent again; a reply that was only *suppressed* (quarantine,
        unparseable...) or refused for good is forgotten so the new pass may
        acknowledge.
        Returns what was known before.
        """
        rows = self.rows("mailbox=? AND message_id=?", (mailbox, message_id))
        if not rows and content_hash:
            rows = self.rows("mailbox=? AND content_hash=?", (mailbox, content_hash))
        sent = [dict(r) for r in self.db.execute(
            "SELECT purpose, recipient AS 'to', message_id FROM deliveries WHERE original_id=? ORDER BY ts", (message_id,))]
        reply = self.db.execute("SELECT outcome, reason FROM replies WHERE message_id=?", (message_id,)).fetchone()
        info: dict[str, Any] = {
            "known": bool(rows),
            "previous": [{"step": r.step, "route": r.route, "outcome": r.outcome, "folder": r.folder, "case_id": r.case_id} for r in rows],
            "already_sent": sent,
            "reply": dict(reply) if reply else None,
        }
        if dry_run:
            return info
        with self.transaction() as db:
            for r in rows:
                db.execute(
                    "UPDATE messages SET step='claimed', record=NULL, route=NULL, folder=NULL, outcome=NULL, attempts=0,"
                    " next_attempt=0, last_error=NULL, updated=? WHERE mailbox=? AND uidvalidity=? AND uid=?",
                    (time.time(), r.mailbox, r.uidvalidity, r.uid),
                )
                if r.case_id:
                    # A case opened by this message alone is opened again by the new decision
                    # (its route may change); a case with other customer messages keeps its
                    # route.  Links (case_messages, our acknowledgement's id) are kept.
                    others = db.execute("SELECT COUNT(*) FROM case_messages WHERE case_id=? AND message_id!=?"
                                        " AND message_id NOT LIKE '<router.%'", (r.case_id, message_id)).fetchone()[0]
                    if not others:
                        db.execute("DELETE FROM cases WHERE case_id=?", (r.case_id,))
            if reply and reply["outcome"] in ("suppressed", "failed"):
                # Never sent: the new pass may acknowledge.  'sent' (and 'sending', which may
                # have gone out before a crash) stay and block a second acknowledgement.
                db.execute("DELETE FROM replies WHERE message_id=? AND outcome IN ('suppressed', 'failed')", (message_id,))
            prev = "; ".join(f"step={p['step']} route={p['route']} outcome={p['outcome']} folder={p['folder']}" for p in info["previous"]) or "unknown message"
            if reply:
                prev += f"; reply {reply['outcome']} ({reply['reason']})"
            self.event("requeued", message_id, prev[:500])
        return info

    # -- deliveries: what was sent about which message (never twice) ---------
    def delivered(self, original_id: str, purpose: str, recipient: str) -> bool:
        return self.db.execute(
            "SELECT 1 FROM deliveries WHERE original_id=? AND purpose=? AND recipient=?", (original_id, purpose, recipient)
        ).fetchone() is not None

    def record_delivery(self, original_id: str, purpose: str, recipient: str, message_id: str) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO deliveries (original_id, purpose, recipient, message_id, ts) VALUES (?,?,?,?,?)",
            (original_id, purpose, recipient, message_id, time.time()),
        )

    # -- meta and events -----------------------------------------------------
    def set_meta(self, key: str, value: Any) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def event(self, kind: str, message_id: str | None = None, detail: str | None = None) -> None:
        self.db.execute("INSERT INTO events (ts, kind, message_id, detail) VALUES (?,?,?,?)", (time.time(), kind, message_id, detail))


def _row(row: sqlite3.Row | None) -> MessageRow | None:
    if row is None:
        return None
    d = dict(row)
    d.pop("created", None)
    d.pop("updated", None)
    d["record"] = json.loads(d["record"]) if d.get("record") else None
    return MessageRow(**d)
