"""Access tokens, the sources that refresh them, and the refresh-token file.

A `TokenSource` hands out a bearer token for SASL (RFC 7628 / XOAUTH2):
it refreshes the token shortly before it expires, and once more, forced,
when a server rejects one (Exchange drops an IMAP session whose token has
expired).  A refresh token the authorization server rotates (RFC 6749
section 6: "the authorization server MAY issue a new refresh token") is
written back at once, atomically (temp file + rename) with mode 0600, so a
crash can never leave the only valid grant in memory.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from router.oauth import health
from router.oauth.errors import GrantError, TokenUnavailable
from router.oauth.settings import OAuth2Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AccessToken:
    """A bearer token and when it stops working (Unix time)."""

    value: str
    expires_at: float

    def __repr__(self) -> str:  # never print the token itself
        return f"AccessToken(expires_at={self.expires_at:.0f})"


class TokenFile:
    """The refresh token obtained by `router login`, as JSON, mode 0600."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise GrantError(f"token_file {self.path} does not exist; run `router login` first") from None
        except (OSError, ValueError) as exc:
            raise GrantError(f"token_file {self.path} cannot be read ({type(exc).__name__}); run `router login` again") from None
        if not isinstance(data, dict) or not isinstance(data.get("refresh_token"), str) or not data["refresh_token"]:
            raise GrantError(f"token_file {self.path} holds no refresh token; run `router login` again")
        return data

    def refresh_token(self) -> str:
        return str(self.load()["refresh_token"])

    def save(self, refresh_token: str, **extra: Any) -> None:
        """Write atomically: a same-directory temp file (0600), fsync, rename."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"refresh_token": refresh_token, "saved": int(time.time()), **extra}, indent=1)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(body)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        log.info("refresh token saved", extra={"token_file": str(self.path)})

    def update(self, new_refresh_token: str | None) -> None:
        """Persist a rotated refresh token; nothing to do when unchanged."""
        if not new_refresh_token:
            return
        current = self.load()
        if current.get("refresh_token") != new_refresh_token:
            extra = {k: v for k, v in current.items() if k not in ("refresh_token", "saved")}
            self.save(new_refresh_token, **extra)


class TokenSource(ABC):
    """Hands out a valid access token; thread-safe, one per grant."""

    def __init__(self, settings: OAuth2Settings) -> None:
        self.settings = settings
        self._token: AccessToken | None = None
        self._lifetime = 0.0
        self._lock = threading.Lock()
        self.store = TokenFile(settings.token_file) if settings.token_file is not None else None
        health.watch_expiry(settings.section, self.expires_in)

    def token(self, *, force: bool = False) -> str:
        """A token valid for a while yet; `force` fetches a new one regardless."""
        with self._lock:
            if force or self._stale():
                try:
                    fresh = self._fetch()
                except (GrantError, TokenUnavailable) as exc:
                    health.login_failed(self.settings, "grant_refused" if isinstance(exc, GrantError) else "token_endpoint", str(exc))
                    raise
                self._lifetime = max(0.0, fresh.expires_at - time.time())
                self._token = fresh
                log.info("access token refreshed", extra={"oauth": self.settings.section, "provider": self.settings.provider,
                                                          "expires_in_s": round(self._lifetime), "forced": force})
            assert self._token is not None
            return self._token.value

    def expires_in(self) -> float:
        """Seconds until the current access token expires (negative: expired, none yet: 0)."""
        token = self._token
        return token.expires_at - time.time() if token is not None else 0.0

    def _stale(self) -> bool:
        if self._token is None:
            return True
        margin = min(self.settings.refresh_margin_seconds, self._lifetime / 2)
        return self._token.expires_at - margin <= time.time()

    @abstractmethod
    def _fetch(self) -> AccessToken:
        """Get a new access token from the provider (persisting a rotated refresh token)."""


def expiry(expires_in: Any, default: float = 3600.0) -> float:
    """Absolute expiry from an `expires_in` answer (RFC 6749 section 5.1; RECOMMENDED, so it may be absent)."""
    try:
        seconds = float(expires_in)
    except (TypeError, ValueError):
        seconds = default
    return time.time() + max(0.0, seconds)
