"""Named IMAP server variants, for benchmarks and tests that take ``--server``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from router.testing.courier import Courier
from router.testing.cyrus import Cyrus
from router.testing.dovecot import Dovecot

SERVERS: dict[str, dict[str, Any]] = {
    "fs": {"layout": "fs"},
    "maildir++": {"layout": "maildir++"},
    "inbox-prefix": {"layout": "inbox-prefix"},
    "minimal": {"layout": "maildir++", "minimal_capabilities": True},
    "cyrus": {},
    "courier": {},
}


def make_server(kind: str, base_dir: Path) -> Dovecot | Cyrus | Courier:
    """An unstarted server of the named variant (use it as a context manager)."""
    if kind not in SERVERS:
        raise ValueError(f"unknown server {kind!r}; choose one of {', '.join(SERVERS)}")
    if kind == "cyrus":
        return Cyrus(base_dir)
    if kind == "courier":
        return Courier(base_dir)
    return Dovecot(base_dir, **SERVERS[kind])
