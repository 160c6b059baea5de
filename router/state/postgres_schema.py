"""The PostgreSQL store's schema, as numbered migrations (PostgreSQL dialect).

The same tables as schema.py (SQLite), plus what several routers sharing one
store need: a lease on each message (`claim_owner`, `claim_until`).  The
version is the single row of `schema_version`; migration N takes the store
from version N-1 to N inside one transaction, under an advisory lock so that
two routers starting together do not both migrate.  Add a migration by
appending to MIGRATIONS; never edit a released one.
"""

from __future__ import annotations

VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"

INITIAL = """
CREATE TABLE messages (
    mailbox      TEXT NOT NULL,
    uidvalidity  BIGINT NOT NULL,
    uid          BIGINT NOT NULL,
    message_id   TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    step         TEXT NOT NULL,
    route        TEXT,
    folder       TEXT,
    case_id      TEXT,
    sender       TEXT,
    record       TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_attempt DOUBLE PRECISION NOT NULL DEFAULT 0,
    last_error   TEXT,
    outcome      TEXT,
    claim_owner  TEXT,
    claim_until  DOUBLE PRECISION NOT NULL DEFAULT 0,
    created      DOUBLE PRECISION NOT NULL,
    updated      DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (mailbox, uidvalidity, uid)
);
CREATE INDEX messages_mid ON messages (message_id);
CREATE INDEX messages_hash ON messages (mailbox, content_hash);
CREATE INDEX messages_case ON messages (case_id);
CREATE INDEX messages_updated ON messages (updated);
CREATE TABLE deliveries (
    original_id TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    recipient   TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    ts          DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (original_id, purpose, recipient)
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE events (
    ts DOUBLE PRECISION NOT NULL, kind TEXT NOT NULL, message_id TEXT, detail TEXT
);
CREATE INDEX events_ts ON events (ts);
CREATE TABLE cases (
    case_id    TEXT PRIMARY KEY,
    sender     TEXT NOT NULL,
    category   TEXT NOT NULL,
    route      TEXT NOT NULL,
    issue_type TEXT,
    required   TEXT NOT NULL DEFAULT '[]',
    present    TEXT NOT NULL DEFAULT '[]',
    status     TEXT NOT NULL DEFAULT 'open',
    created    DOUBLE PRECISION NOT NULL,
    updated    DOUBLE PRECISION NOT NULL
);
CREATE TABLE case_messages (
    case_id    TEXT NOT NULL,
    message_id TEXT NOT NULL,
    PRIMARY KEY (case_id, message_id)
);
CREATE INDEX case_messages_mid ON case_messages (message_id);
CREATE TABLE replies (
    message_id TEXT PRIMARY KEY,
    case_id    TEXT NOT NULL,
    sender     TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    reason     TEXT,
    ts         DOUBLE PRECISION NOT NULL
);
CREATE INDEX replies_sender ON replies (sender, ts);
CREATE TABLE corrections (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id         TEXT NOT NULL,
    case_id            TEXT,
    original_category  TEXT,
    original_route     TEXT,
    corrected_category TEXT NOT NULL,
    text               TEXT NOT NULL,
    language           TEXT NOT NULL,
    source             TEXT NOT NULL,
    ts                 DOUBLE PRECISION NOT NULL
);
CREATE INDEX corrections_mid ON corrections (message_id);
CREATE INDEX corrections_ts ON corrections (ts);
"""

# 2 (issue 13): the SLA clock of a case, as SQLite's migration 2: its priority, when it was
# received, acknowledged and answered, when it is due, and when it was escalated (once).
SLA_CLOCK = """
ALTER TABLE cases ADD COLUMN priority TEXT;
ALTER TABLE cases ADD COLUMN received DOUBLE PRECISION;
ALTER TABLE cases ADD COLUMN acknowledged DOUBLE PRECISION;
ALTER TABLE cases ADD COLUMN answered DOUBLE PRECISION;
ALTER TABLE cases ADD COLUMN due DOUBLE PRECISION;
ALTER TABLE cases ADD COLUMN escalated DOUBLE PRECISION;
CREATE INDEX cases_due ON cases (status, due);
"""

# MIGRATIONS[i] takes the store from version i to version i + 1.
MIGRATIONS: tuple[str, ...] = (
    INITIAL,  # 1
    SLA_CLOCK,  # 2: priority and the SLA clock of cases (issue 13)
)

VERSION = len(MIGRATIONS)
