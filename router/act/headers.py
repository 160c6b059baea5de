"""Header values built from customer input, made safe (no CR/LF injection)."""

from __future__ import annotations

import re

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
