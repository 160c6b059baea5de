"""Header values built from customer input, made safe (no CR/LF injection)."""

from __future__ import annotations

import email.policy
import re
from email import headerregistry

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u0085]+")


def clean(value: str, limit: int = 200) -> str:
    """One line, no control characters, bounded length.

    Decoded header text can carry CR/LF from encoded words (=?utf-8?q?=0D=0A?=)
    or raw input; anything below 0x20 is folded into a space so it can never
    start a new header when the value is written out again.
    """
    text = _CONTROL.sub(" ", value or "")
    text = re.sub(r"\s{2,}", " ", text).strip()
    return text[:limit]


class _CachedRegistry(headerregistry.HeaderRegistry):
    """The stdlib's header registry, with each header's class made once.

    `HeaderRegistry.__getitem__` builds a new class with `type()` for every
    header set on an `EmailMessage` (CPython 3.11): about a quarter of the
    cost of building a forward or a reply.  The classes are the same.
    """

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[headerregistry.BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[headerregistry.BaseHeader]:
        key = name.lower()
        cls = self._made.get(key)
        if cls is None:
            cls = self._made[key] = super().__getitem__(name)
        return cls


# email.policy.SMTP (RFC 5322 with CRLF), with the cached registry; what act/ builds mail with.
SMTP_POLICY = email.policy.SMTP.clone(header_factory=_CachedRegistry())
