"""The state store: one owner of the schema, its migrations and every query.

`Store` is the interface the rest of the router uses; `SqliteStore` (one
router, one file) and `PostgresStore` (several routers and mailboxes sharing
one database) implement it.  `open_store` picks one from a `StoreLocation`
(`[state]` in config.toml).  Nothing outside this package speaks SQL.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from router.errors import RouterError
from router.state.postgres import PostgresError, PostgresStore
from router.state.rows import STEPS, CaseRow, MessageRow, NewCorrection
from router.state.schema import VERSION as SCHEMA_VERSION
from router.state.sqlite import SqliteStore
from router.state.sqlite import load_corrections as _sqlite_corrections
from router.state.store import Store

# What a broken, locked or unreachable store raises (the CLI turns it into one line).
DatabaseError: tuple[type[Exception], ...] = (sqlite3.Error, PostgresError)
State = SqliteStore  # the name callers used before the package existed


@dataclass(frozen=True)
class StoreLocation:
    """Where the state lives: a SQLite file, or a PostgreSQL url with where its password comes from.

    The password is never part of the config: it is read from
    `password_file` (first line) or the environment variable `password_env`
    when the store is opened.
    """

    path: Path
    url: str = ""
    password_file: Path | None = None
    password_env: str = ""
    lease_seconds: float = 60.0

    @property
    def shared(self) -> bool:
        """Whether several routers may share this store (PostgreSQL)."""
        return bool(self.url)

    def describe(self) -> str:
        return self.url or str(self.path)

    def password(self) -> str | None:
        if self.password_file is not None:
            try:
                return self.password_file.read_text().strip()
            except OSError as exc:
                raise RouterError(f"[state] password_file {self.password_file} cannot be read: {exc.strerror}") from None
        if self.password_env:
            value = os.environ.get(self.password_env)
            if value is None:
                raise RouterError(f"[state] password_env {self.password_env} is not set")
            return value
        return None


def open_store(where: Path | StoreLocation, *, readonly: bool = False) -> Store:
    """The store at `where` (created and migrated unless `readonly`)."""
    if isinstance(where, StoreLocation) and where.url:
        return PostgresStore(where.url, password=where.password(), lease_seconds=where.lease_seconds, readonly=readonly)
    path = where.path if isinstance(where, StoreLocation) else where
    return SqliteStore(path, readonly=readonly)


def load_corrections(where: Path | StoreLocation, since: float | None = None) -> list[dict[str, Any]]:
    """The latest correction of each message (oldest first); [] without a state store.

    A SQLite store is opened read-only and nothing is created; a PostgreSQL
    one is read without migrating it.
    """
    if isinstance(where, StoreLocation) and where.url:
        store = open_store(where, readonly=True)
        try:
            return store.corrections_since(since)
        finally:
            store.close()
    return _sqlite_corrections(where.path if isinstance(where, StoreLocation) else where, since)


__all__ = ["STEPS", "SCHEMA_VERSION", "CaseRow", "DatabaseError", "MessageRow", "NewCorrection", "PostgresStore",
           "SqliteStore", "State", "Store", "StoreLocation", "load_corrections", "open_store"]
