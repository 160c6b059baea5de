"""An on-disk cache of embedding vectors, keyed by (backend version, text hash).

Not router state (losing it only makes the next `router train` slower), but
it is SQL, and every query lives in the state package.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path


class VectorCache:
    """key -> float32 bytes; a cache that cannot be opened or written is only slower."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._broken = False

    def _conn(self) -> sqlite3.Connection | None:
        if self._db is None and not self._broken:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.path, timeout=30)
                self._db.execute("CREATE TABLE IF NOT EXISTS vec (key TEXT PRIMARY KEY, v BLOB)")
            except (OSError, sqlite3.Error):
                self._broken = True
                self._db = None
        return self._db

    def get_many(self, keys: Sequence[str]) -> dict[str, bytes]:
        db = self._conn()
        out: dict[str, bytes] = {}
        if db is None:
            return out
        for i in range(0, len(keys), 500):
            chunk = list(keys[i : i + 500])
            for k, v in db.execute(f"SELECT key, v FROM vec WHERE key IN ({','.join('?' * len(chunk))})", chunk):
                out[k] = v
        return out

    def put_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        db = self._conn()
        if db is None:
            return
        try:
            db.executemany("INSERT OR REPLACE INTO vec VALUES (?, ?)", items)
            db.commit()
        except sqlite3.Error:
            self._broken = True
