"""Cases: every message belongs to one; follow-ups join it (SPEC 7).

Tables live here with the logic; state.py creates them.
"""

from __future__ import annotations

SCHEMA = """
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
