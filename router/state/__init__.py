"""The state store: one owner of the schema, its migrations and every query.

`Store` is the interface the rest of the router uses; `SqliteStore` is the
implementation (`open_store`).  Nothing outside this package speaks SQL.
"""

from __future__ import annotations

from pathlib import Path

from router.state.rows import STEPS, CaseRow, MessageRow, NewCorrection
from router.state.schema import VERSION as SCHEMA_VERSION
from router.state.sqlite import DatabaseError, SqliteStore, load_corrections
from router.state.store import Store

State = SqliteStore  # the name callers used before the package existed


def open_store(path: Path, *, readonly: bool = False) -> SqliteStore:
    """The store at `path` (created and migrated unless `readonly`)."""
    return SqliteStore(path, readonly=readonly)


__all__ = ["STEPS", "SCHEMA_VERSION", "CaseRow", "DatabaseError", "MessageRow", "NewCorrection", "SqliteStore", "State",
           "Store", "load_corrections", "open_store"]
