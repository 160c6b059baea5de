"""The state store's schema, as numbered migrations (SQLite dialect).

The store's version is SQLite's `PRAGMA user_version`.  Migration N takes a
store at version N-1 to version N, in one transaction; a store is upgraded
in place when it is opened for writing.  Migration 1 is the schema as it
stood before versions were counted (every statement `IF NOT EXISTS`), so a
store written by an earlier release is adopted as it is, data and all.
Add a migration by appending to MIGRATIONS; never edit a released one.
"""

from __future__ import annotations

MESSAGES = """
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

CASES = """
CREATE TABLE IF NOT EXISTS cases (
    case_id    TEXT PRIMARY KEY,
    sender     TEXT NOT NULL,
    category   TEXT NOT NULL,
    route      TEXT NOT NULL,
    issue_type TEXT,
    required   TEXT NOT NULL DEFAULT '[]',
    present    TEXT NOT NULL DEFAULT '[]',
    status     TEXT NOT NULL DEFAULT 'open',
    created    REAL NOT NULL,
    updated    REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS case_messages (
    case_id    TEXT NOT NULL,
    message_id TEXT NOT NULL,
    PRIMARY KEY (case_id, message_id)
);
CREATE INDEX IF NOT EXISTS case_messages_mid ON case_messages (message_id);
CREATE TABLE IF NOT EXISTS replies (
    message_id TEXT PRIMARY KEY,
    case_id    TEXT NOT NULL,
    sender     TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    reason     TEXT,
    ts         REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS replies_sender ON replies (sender, ts);
"""

CORRECTIONS = """
CREATE TABLE IF NOT EXISTS corrections (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id         TEXT NOT NULL,
    case_id            TEXT,
    original_category  TEXT,
    original_route     TEXT,
    corrected_category TEXT NOT NULL,
    text               TEXT NOT NULL,
    language           TEXT NOT NULL,
    source             TEXT NOT NULL,
    ts                 REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS corrections_mid ON corrections (message_id);
CREATE INDEX IF NOT EXISTS corrections_ts ON corrections (ts);
"""

# 2 (issue 13): the SLA clock of a case: its priority, when it was received,
# acknowledged and answered, when it is due, and when it was escalated (once).
SLA_CLOCK = """
ALTER TABLE cases ADD COLUMN priority TEXT;
ALTER TABLE cases ADD COLUMN received REAL;
ALTER TABLE cases ADD COLUMN acknowledged REAL;
ALTER TABLE cases ADD COLUMN answered REAL;
ALTER TABLE cases ADD COLUMN due REAL;
ALTER TABLE cases ADD COLUMN escalated REAL;
CREATE INDEX IF NOT EXISTS cases_due ON cases (status, due);
"""

# MIGRATIONS[i] takes the store from version i to version i + 1.
MIGRATIONS: tuple[str, ...] = (
    MESSAGES + CASES + CORRECTIONS,  # 1: the schema before versions were counted
    SLA_CLOCK,  # 2: priority and the SLA clock of cases (issue 13)
    # 3: the duplicate check is global (one Message-ID at two of our mailboxes is handled once)
    "CREATE INDEX IF NOT EXISTS messages_message_id ON messages (message_id);",
)

VERSION = len(MIGRATIONS)
