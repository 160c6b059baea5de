"""The state store in one SQLite file, in WAL mode.

Messages are keyed by mailbox + UIDVALIDITY + UID and also remember their
Message-ID and a content hash, so that after a UIDVALIDITY change a known
message is recognised again instead of being handled twice.  Each message
moves through recorded steps; after a crash the daemon resumes a message
from its last recorded step.  Nothing here stores a message body or a secret
value: records hold kinds, never values (SPEC 5).  This is the only module
that speaks SQL (see store.py for the interface).
"""

from __future__ import annotations

import fcntl
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from router.errors import RouterError
from router.state.rows import CaseRow, MessageRow, NewCorrection
from router.state.schema import MIGRATIONS, VERSION

DatabaseError = sqlite3.Error  # what a broken or locked store raises (the CLI turns it into one line)

# A reply left uncertain by a crash may have gone out: it counts towards the caps.
_COUNTED_REPLY = "(outcome='sent' OR reason='uncertain_after_crash')"


class SqliteStore:
    """The `Store` over one SQLite file (a thin, typed layer)."""

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
        self._migrate()

    # -- schema ---------------------------------------------------------------------
    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        """Upgrade the file in place, one migration per transaction (schema.py).

        Several openers at once (the mailbox threads of one daemon, two
        processes) would each read the old version and run the same
        migration twice ("duplicate column"): the version is read and the
        migrations run under an exclusive lock on a file beside the store.  A
        migration that fails is rolled back, so no open transaction keeps the
        store locked for the others.
        """
        with open(self.path.with_name(self.path.name + ".migrate-lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
            version = self.schema_version()
            if version > VERSION:
                self.db.close()
                raise RouterError(f"state store {self.path} has schema version {version}; this router knows up to {VERSION}")
            for number in range(version, VERSION):
                # executescript runs its own statements: BEGIN/COMMIT make each step all-or-nothing.
                try:
                    self.db.executescript(f"BEGIN IMMEDIATE;\n{MIGRATIONS[number]}\nPRAGMA user_version={number + 1};\nCOMMIT;")
                except BaseException:
                    if self.db.in_transaction:
                        self.db.execute("ROLLBACK")
                    self.db.close()
                    raise

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self.db.in_transaction:  # nested: the outer transaction decides
            yield
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- messages -------------------------------------------------------------------
    def get(self, mailbox: str, uidvalidity: int, uid: int) -> MessageRow | None:
        row = self.db.execute(
            "SELECT * FROM messages WHERE mailbox=? AND uidvalidity=? AND uid=?", (mailbox, uidvalidity, uid)
        ).fetchone()
        return _message(row)

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
        return _message(row)

    def is_known(self, mailbox: str, message_id: str, content_hash: str) -> bool:
        """Whether this Message-ID or this content was ever recorded for the mailbox."""
        return self.db.execute(
            "SELECT 1 FROM messages WHERE mailbox=? AND (message_id=? OR content_hash=?) LIMIT 1",
            (mailbox, message_id, content_hash),
        ).fetchone() is not None

    def elsewhere(self, mailbox: str, message_id: str) -> MessageRow | None:
        """The same Message-ID recorded at another of our mailboxes (it is handled there, once)."""
        if message_id.endswith("@router.invalid>"):  # made up for a message without one: never shared
            return None
        return _message(self.db.execute(
            "SELECT * FROM messages WHERE message_id=? AND mailbox<>? ORDER BY created LIMIT 1", (message_id, mailbox)
        ).fetchone())

    def claim(self, mailbox: str, uidvalidity: int, uid: int, message_id: str, content_hash: str) -> MessageRow | None:
        """The row for this message, created at step `claimed` if new.

        A message known under another UID is re-keyed to this one and keeps
        its step, so it resumes instead of being handled again.  One whose
        Message-ID is known at another mailbox is recorded as a filed
        duplicate.  One SQLite file serves one router, so this never returns
        None (the PostgreSQL store does, while another router holds a lease).
        """
        now = time.time()
        with self.transaction():
            existing = self.get(mailbox, uidvalidity, uid)
            if existing:
                return existing
            known = self.find_known(mailbox, message_id, content_hash)
            if known:
                self.db.execute(
                    "INSERT OR REPLACE INTO messages (mailbox, uidvalidity, uid, message_id, content_hash, step, route, folder, case_id, sender, record, attempts, next_attempt, last_error, outcome, created, updated)"
                    " SELECT mailbox, ?, ?, message_id, content_hash, step, route, folder, case_id, sender, record, attempts, next_attempt, last_error, outcome, created, ?"
                    " FROM messages WHERE mailbox=? AND uidvalidity=? AND uid=?",
                    (uidvalidity, uid, now, known.mailbox, known.uidvalidity, known.uid),
                )
                if (known.uidvalidity, known.uid) != (uidvalidity, uid):
                    self.db.execute(
                        "DELETE FROM messages WHERE mailbox=? AND uidvalidity=? AND uid=?",
                        (known.mailbox, known.uidvalidity, known.uid),
                    )
                self.event("recognised", message_id, f"known message re-keyed from UID {known.uid} (UIDVALIDITY {known.uidvalidity})")
            elif (other := self.elsewhere(mailbox, message_id)) is not None:
                # Shared across mailboxes: the copy at another of ours is the one handled.
                self.db.execute(
                    "INSERT INTO messages (mailbox, uidvalidity, uid, message_id, content_hash, step, outcome, case_id, created, updated)"
                    " VALUES (?,?,?,?,?,'filed','duplicate',?,?,?)",
                    (mailbox, uidvalidity, uid, message_id, content_hash, other.case_id, now, now),
                )
                self.event("duplicate", message_id, f"same Message-ID handled at {other.mailbox}")
            else:
                self.db.execute(
                    "INSERT INTO messages (mailbox, uidvalidity, uid, message_id, content_hash, step, created, updated) VALUES (?,?,?,?,?,?,?,?)",
                    (mailbox, uidvalidity, uid, message_id, content_hash, "claimed", now, now),
                )
        row = self.get(mailbox, uidvalidity, uid)
        assert row is not None
        return row

    def record_step(self, row: MessageRow, step: str, **fields: Any) -> None:
        """Record that `row` reached `step` (and any other column values)."""
        fields["step"] = step
        fields["updated"] = time.time()
        if "record" in fields and fields["record"] is not None:
            fields["record"] = json.dumps(fields["record"], ensure_ascii=False)
        unknown = set(fields) - _MESSAGE_COLUMNS
        if unknown:
            raise ValueError(f"not a message column: {', '.join(sorted(unknown))}")
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

    def in_flight(self, mailbox: str, uidvalidity: int) -> list[MessageRow]:
        """Messages decided but not recorded as filed.

        Not `claimed`: that is also the step `router requeue` resets a message
        to while it moves it back under a new UID.
        """
        return self._rows("mailbox=? AND uidvalidity=? AND step IN ('decided','forwarded','replied')", (mailbox, uidvalidity))

    def refile(self, mailbox: str, message_id: str, folder: str) -> None:
        """A filed message now lives in `folder` (an analyst's correction moved it)."""
        self.db.execute("UPDATE messages SET folder=?, updated=? WHERE mailbox=? AND message_id=? AND step='filed'",
                        (folder, time.time(), mailbox, message_id))

    def message_ids_of_case(self, mailbox: str, case_id: str) -> set[str]:
        ids = {r[0] for r in self.db.execute("SELECT message_id FROM messages WHERE mailbox=? AND case_id=?", (mailbox, case_id))}
        ids |= {r[0] for r in self.db.execute("SELECT message_id FROM case_messages WHERE case_id=?", (case_id,))}
        return ids

    def _rows(self, where: str, params: tuple[Any, ...]) -> list[MessageRow]:
        return [r for r in (_message(x) for x in self.db.execute(f"SELECT * FROM messages WHERE {where}", params)) if r]

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
        rows = self._rows("mailbox=? AND message_id=?", (mailbox, message_id))
        if not rows and content_hash:
            rows = self._rows("mailbox=? AND content_hash=?", (mailbox, content_hash))
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
        with self.transaction():
            db = self.db
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

    # -- deliveries -------------------------------------------------------------------
    def delivered(self, original_id: str, purpose: str, recipient: str) -> bool:
        return self.db.execute(
            "SELECT 1 FROM deliveries WHERE original_id=? AND purpose=? AND recipient=?", (original_id, purpose, recipient)
        ).fetchone() is not None

    def record_delivery(self, original_id: str, purpose: str, recipient: str, message_id: str) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO deliveries (original_id, purpose, recipient, message_id, ts) VALUES (?,?,?,?,?)",
            (original_id, purpose, recipient, message_id, time.time()),
        )

    # -- cases ------------------------------------------------------------------------
    def case(self, case_id: str) -> CaseRow | None:
        return _case(self.db.execute("SELECT * FROM cases WHERE case_id=?", (case_id,)).fetchone())

    def case_of(self, message_ids: Iterable[str]) -> CaseRow | None:
        """The case of the first of these messages that belongs to one."""
        for mid in message_ids:
            row = self.db.execute(
                "SELECT c.* FROM cases c JOIN case_messages m ON c.case_id=m.case_id WHERE m.message_id=?", (mid,)
            ).fetchone()
            if row:
                return _case(row)
        return None

    def open_case(self, case_id: str, sender: str, category: str, route: str, issue_type: str | None,
                  required: tuple[str, ...], present: tuple[str, ...]) -> None:
        now = time.time()
        self.db.execute(
            "INSERT OR IGNORE INTO cases (case_id, sender, category, route, issue_type, required, present, created, updated)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            (case_id, sender, category, route, issue_type, json.dumps(list(required)), json.dumps(list(present)), now, now),
        )

    def link_message(self, case_id: str, message_id: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO case_messages (case_id, message_id) VALUES (?,?)", (case_id, message_id))

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
        self.db.execute(f"UPDATE cases SET {cols} WHERE case_id=?", (*fields.values(), case_id))

    # -- the SLA clock -------------------------------------------------------------------
    def schedule_case(self, case_id: str, priority: str, received: float, due: float) -> None:
        self.db.execute("UPDATE cases SET priority=?, received=COALESCE(received, ?), due=?, updated=? WHERE case_id=?",
                        (priority, received, due, time.time(), case_id))

    def mark_acknowledged(self, case_id: str, ts: float) -> None:
        self.db.execute("UPDATE cases SET acknowledged=COALESCE(acknowledged, ?) WHERE case_id=?", (ts, case_id))

    def claim_escalation(self, case_id: str, ts: float) -> bool:
        cur = self.db.execute("UPDATE cases SET escalated=? WHERE case_id=? AND escalated IS NULL", (ts, case_id))
        return cur.rowcount == 1

    def open_clocks(self) -> list[CaseRow]:
        rows = self.db.execute("SELECT * FROM cases WHERE status='open' AND answered IS NULL AND due IS NOT NULL"
                               " ORDER BY due")
        return [c for c in map(_case, rows) if c is not None]

    # -- acknowledgements ---------------------------------------------------------------
    def reply_outcome(self, message_id: str) -> str | None:
        row = self.db.execute("SELECT outcome FROM replies WHERE message_id=?", (message_id,)).fetchone()
        return str(row[0]) if row else None

    def record_reply(self, message_id: str, case_id: str, sender: str, outcome: str, reason: str | None,
                     replace: bool = False) -> None:
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        self.db.execute(f"{verb} INTO replies (message_id, case_id, sender, outcome, reason, ts) VALUES (?,?,?,?,?,?)",
                        (message_id, case_id, sender, outcome, reason, time.time()))

    def forget_unsent_reply(self, message_id: str) -> None:
        """A send that raised before the server took it: no trace, so a retry may send."""
        self.db.execute("DELETE FROM replies WHERE message_id=? AND outcome='sending'", (message_id,))

    def case_acknowledged(self, sender: str, case_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM replies WHERE sender=? AND case_id=? AND outcome IN ('sent','sending')",
                               (sender, case_id)).fetchone() is not None

    def sent_within(self, sender: str, seconds: float) -> int:
        """Acknowledgements to `sender` in the last `seconds` (rate caps)."""
        return int(self.db.execute(f"SELECT COUNT(*) FROM replies WHERE sender=? AND {_COUNTED_REPLY} AND ts>?",
                                   (sender, time.time() - seconds)).fetchone()[0])

    # -- corrections -----------------------------------------------------------------------
    def last_correction(self, message_id: str) -> str | None:
        row = self.db.execute(
            "SELECT corrected_category FROM corrections WHERE message_id=? ORDER BY ts DESC, id DESC LIMIT 1", (message_id,)
        ).fetchone()
        return str(row[0]) if row else None

    def add_correction(self, c: NewCorrection) -> None:
        self.db.execute(
            "INSERT INTO corrections (message_id, case_id, original_category, original_route, corrected_category, text, language, source, ts)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            (c.message_id, c.case_id, c.original_category, c.original_route, c.corrected_category, c.text, c.language,
             c.source, time.time()),
        )

    def corrections_since(self, since: float | None = None) -> list[dict[str, Any]]:
        """The latest correction of each message (oldest first); [] before any was recorded."""
        try:
            rows = self.db.execute(
                "SELECT c.* FROM corrections c WHERE c.id = (SELECT d.id FROM corrections d WHERE d.message_id=c.message_id"
                " ORDER BY d.ts DESC, d.id DESC LIMIT 1) ORDER BY c.ts, c.id"
            ).fetchall()
        except sqlite3.Error:  # a read-only store from before the corrections table
            return []
        out = [dict(r) for r in rows]
        return out if since is None else [r for r in out if r["ts"] > since]

    # -- meta, events, status --------------------------------------------------------------
    def set_meta(self, key: str, value: Any) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    def get_meta(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def event(self, kind: str, message_id: str | None = None, detail: str | None = None) -> None:
        self.db.execute("INSERT INTO events (ts, kind, message_id, detail) VALUES (?,?,?,?)", (time.time(), kind, message_id, detail))

    def summary(self, since: float) -> dict[str, Any]:
        """The counts `router status` shows; `since` starts "today"."""
        db = self.db
        return {
            "today_by_outcome": {r[0]: r[1] for r in db.execute(
                "SELECT outcome, COUNT(*) FROM messages WHERE step='filed' AND updated>=? GROUP BY outcome", (since,))},
            "total_by_outcome": {r[0]: r[1] for r in db.execute(
                "SELECT outcome, COUNT(*) FROM messages WHERE step='filed' GROUP BY outcome")},
            "in_progress": db.execute("SELECT COUNT(*) FROM messages WHERE step!='filed'").fetchone()[0],
            "deferred": [dict(r) for r in db.execute(
                "SELECT message_id, attempts, next_attempt, last_error FROM messages WHERE step!='filed' AND attempts>0"
                " ORDER BY next_attempt LIMIT 20")],
            "replies": {f"{r[0]}:{r[1]}": r[2] for r in db.execute(
                "SELECT outcome, COALESCE(reason,''), COUNT(*) FROM replies GROUP BY outcome, reason")},
            "rate_limited_senders": [dict(r) for r in db.execute(
                "SELECT sender, COUNT(*) AS suppressed, MAX(ts) AS last FROM replies WHERE reason LIKE 'rate_limited%'"
                " GROUP BY sender ORDER BY last DESC LIMIT 20")],
            "open_cases": db.execute("SELECT COUNT(*) FROM cases WHERE status='open'").fetchone()[0],
            "recent_cases": [dict(r) for r in db.execute(
                "SELECT case_id, sender, category, route, required, present, updated FROM cases WHERE status='open'"
                " ORDER BY updated DESC LIMIT 10")],
        }


_MESSAGE_COLUMNS = frozenset(MessageRow.__dataclass_fields__) | {"updated"}


def _message(row: sqlite3.Row | None) -> MessageRow | None:
    if row is None:
        return None
    d = dict(row)
    d.pop("created", None)
    d.pop("updated", None)
    d["record"] = json.loads(d["record"]) if d.get("record") else None
    return MessageRow(**d)


def _case(row: sqlite3.Row | None) -> CaseRow | None:
    if row is None:
        return None
    return CaseRow(case_id=row["case_id"], sender=row["sender"], category=row["category"], route=row["route"],
                   issue_type=row["issue_type"], required=tuple(json.loads(row["required"])),
                   present=tuple(json.loads(row["present"])), status=row["status"],
                   **{k: row[k] for k in _CLOCK_COLUMNS if k in row.keys()})


_CLOCK_COLUMNS = ("priority", "received", "acknowledged", "answered", "due", "escalated")


def load_corrections(state_path: Path, since: float | None = None) -> list[dict[str, Any]]:
    """The latest correction of each message (oldest first); [] without a state store.

    Opens the store read-only and creates nothing, so `router train` and
    `router evaluate` on a machine without a daemon leave no files behind.
    """
    if not state_path.exists():
        return []
    try:
        store = SqliteStore(state_path, readonly=True)
    except sqlite3.Error:
        return []
    try:
        return store.corrections_since(since)
    finally:
        store.close()
