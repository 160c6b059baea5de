"""Why getting an OAuth2 access token failed, told apart for the daemon.

A grant the authorization server refuses (RFC 6749 section 5.2:
`invalid_grant`, `invalid_client`, `unauthorized_client`) will not heal by
retrying: it is a `GrantError`, a `LoginError`, so `router run` stops at
start with exit code 77 (EX_NOPERM, "run router login") while a running
daemon keeps backing off with /healthz unhealthy.  A token endpoint that is
unreachable or answers 5xx is `TokenUnavailable`, a temporary mailbox
problem retried with backoff.  Messages never carry a token or a secret.
"""

from __future__ import annotations

from router.errors import LoginError, MailboxError

EX_NOPERM = 77  # sysexits.h: the grant or the credentials were refused


class GrantError(LoginError):
    """The authorization server refused the grant (revoked, expired, wrong client)."""

    exit_code = EX_NOPERM


class TokenUnavailable(MailboxError):
    """The token endpoint could not be reached or failed; try again later."""


# RFC 6749 section 5.2 error codes that retrying cannot fix.
PERMANENT_ERRORS = frozenset({"invalid_grant", "invalid_client", "unauthorized_client", "unsupported_grant_type",
                              "invalid_scope", "access_denied", "consent_required", "interaction_required"})


def classify(provider: str, status: int, error: str, description: str = "") -> MailboxError:
    """The exception for a token endpoint answer; `description` is shortened, never a token."""
    detail = f"{error}" + (f": {_short(description)}" if description else "")
    if error in PERMANENT_ERRORS or status in (400, 401, 403) and error:
        return GrantError(f"OAuth2 ({provider}) grant refused ({detail}); run `router login` or fix the credentials")
    return TokenUnavailable(f"OAuth2 ({provider}) token endpoint failed (HTTP {status}{', ' + detail if error else ''})")


def _short(text: str) -> str:
    return " ".join(str(text).split())[:160]
