"""OAuth2 logins (SASL XOAUTH2 / OAUTHBEARER, RFC 7628) for IMAP and SMTP.

`source_for(settings)` gives the one `TokenSource` of a grant in this
process (so reconnects reuse a still-valid token); `router.oauth.sasl`
logs an imapclient or smtplib session in with it.
"""

from __future__ import annotations

import threading
from typing import Any

from router.oauth.errors import EX_NOPERM, GrantError, TokenUnavailable
from router.oauth.settings import OAuth2Settings
from router.oauth.tokens import AccessToken, TokenFile, TokenSource

_sources: dict[str, TokenSource] = {}
_lock = threading.Lock()


def build(settings: OAuth2Settings, http: Any = None) -> TokenSource:
    """A new token source for `settings`; `http` is the provider's HTTP seam (tests)."""
    if settings.provider == "microsoft":
        from router.oauth.microsoft import MicrosoftSource

        return MicrosoftSource(settings, http)
    if settings.provider == "google":
        from router.oauth.google import GoogleSource

        return GoogleSource(settings, http)
    from router.oauth.generic import GenericSource

    return GenericSource(settings, http)


def source_for(settings: OAuth2Settings) -> TokenSource:
    """The process-wide token source of this grant."""
    with _lock:
        source = _sources.get(settings.key)
        if source is None:
            source = _sources[settings.key] = build(settings)
        return source


def install(settings: OAuth2Settings, source: TokenSource) -> None:
    """Use `source` for this grant from now on (tests: a provider with a faked HTTP layer)."""
    with _lock:
        _sources[settings.key] = source


def forget() -> None:
    with _lock:
        _sources.clear()


__all__ = ["EX_NOPERM", "AccessToken", "GrantError", "OAuth2Settings", "TokenFile", "TokenSource", "TokenUnavailable",
           "build", "forget", "install", "source_for"]
