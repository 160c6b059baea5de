"""Sender authentication from `Authentication-Results` (RFC 8601).

Only a verdict of our own border MTA can be trusted, but any header of that
name that reports a DMARC or DKIM failure is taken as a failure: assuming the
worse is what keeps case details away from a forged sender (SPEC 6).
"""

from __future__ import annotations

import re

from router.records import ParsedMail

_FAIL = re.compile(r"(?<![\w.-])(dmarc|dkim)\s*=\s*(fail|permerror)\b", re.IGNORECASE)
# RFC 8601 section 2.2: comments and quoted strings are free text (a `reason`
# or a mailer's remark may well say "dkim=fail"), not results.
_FREE_TEXT = re.compile(r'"(?:[^"\\]|\\.)*"|\((?:[^()\\]|\\.)*\)')


def check(mail: ParsedMail) -> tuple[bool, str | None]:
    """(authenticated, reason); True unless a DMARC/DKIM failure is reported."""
    for value in mail.header_all("authentication-results") + mail.header_all("arc-authentication-results"):
        m = _FAIL.search(_FREE_TEXT.sub(" ", value))
        if m:
            return False, f"Authentication-Results reports {m.group(1).lower()}={m.group(2).lower()}"
    return True, None
