"""Several mailboxes in one process: which one the current thread serves.

`router run` gives every configured mailbox its own thread (router.daemon).
The code below the daemon (runner, replies, corrections) was written for one
mailbox and stays unaware of the others: the thread's mailbox name, set here
once when its thread starts, is what puts the `mailbox` label on the metrics
(router.metrics) and the `mailbox` field on log lines, and `MailboxStore`
keeps each mailbox's bookkeeping (last poll, backlog, last UID) apart in the
one state store they share.  A `contextvars.ContextVar` is per thread: a new
thread starts with an empty context.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any

DEFAULT = "default"  # the one implicit mailbox of a config without [[mailboxes]]
_current: ContextVar[str | None] = ContextVar("router_mailbox", default=None)


def serve(name: str) -> None:
    """Mark the calling thread as working for mailbox `name`."""
    _current.set(name)


def current() -> str:
    """The calling thread's mailbox (DEFAULT outside a mailbox thread)."""
    return _current.get() or DEFAULT


def meta_key(name: str, key: str) -> str:
    """The state store's meta key of `key` for mailbox `name`.

    The implicit mailbox keeps the bare key, so a store written before
    [[mailboxes]] existed reads the same.
    """
    return key if name == DEFAULT else f"mailbox:{name}:{key}"


class MailboxStore:
    """One mailbox's view of the shared state store: its meta keys are its own.

    Messages are already keyed by mailbox (`Settings.mailbox_key`); cases,
    reply caps and delivered forwards are deliberately shared.  Only the
    daemon's bookkeeping under plain meta keys would collide, so those are
    renamed; everything else goes straight to the store.
    """

    def __init__(self, store: Any, name: str) -> None:
        self._store = store
        self._name = name

    def set_meta(self, key: str, value: Any) -> None:
        self._store.set_meta(meta_key(self._name, key), value)

    def get_meta(self, key: str, default: Any = None) -> Any:
        return self._store.get_meta(meta_key(self._name, key), default)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._store, attr)


class _MailboxField(logging.Filter):
    """Adds `mailbox` to records made on a mailbox thread (unless the caller set one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        name = _current.get()
        if name is not None and not hasattr(record, "mailbox"):
            record.mailbox = name
        return True


def install_log_field() -> None:
    """Put the thread's mailbox on every log line the root handlers write.

    A handler filter rather than a record factory, so a caller's own
    `extra={"mailbox": ...}` still works (a factory's attribute would make
    logging refuse it).
    """
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _MailboxField) for f in handler.filters):
            handler.addFilter(_MailboxField())
