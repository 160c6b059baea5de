"""Google Workspace through google-auth.

- service account with domain-wide delegation: a JWT bearer assertion
  (RFC 7523) signed with the account's key, `sub` = the mailbox (`subject`),
  scope https://mail.google.com/;
- installed app: a refresh token obtained once by `router login`, redeemed
  with google.oauth2.credentials; a rotated one is written back at once.

`session` is google-auth's HTTP seam (a requests.Session handed to
google.auth.transport.requests.Request); the token endpoint comes from the
key file's `token_uri` or `token_url`, so tests point it at loopback.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import requests
from google.auth import exceptions as gexc
from google.auth.transport.requests import Request
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account

from router.errors import ConfigError
from router.oauth.errors import TokenUnavailable, classify
from router.oauth.settings import OAuth2Settings
from router.oauth.tokens import AccessToken, TokenSource

TOKEN_URI = "https://oauth2.googleapis.com/token"


class GoogleSource(TokenSource):
    def __init__(self, settings: OAuth2Settings, session: requests.Session | None = None) -> None:
        super().__init__(settings)
        self.session = session or requests.Session()

    def _credentials(self) -> Any:
        s = self.settings
        if s.grant == "service_account":
            assert s.service_account_file is not None
            try:
                creds = service_account.Credentials.from_service_account_file(
                    str(s.service_account_file), scopes=list(s.scopes), subject=s.subject or None)
            except (OSError, ValueError, KeyError) as exc:
                raise ConfigError(f"{s.section}.service_account_file {s.service_account_file}: cannot load ({type(exc).__name__})") from None
            if s.token_url:
                creds = creds.with_token_uri(s.token_url)
            return creds
        assert self.store is not None
        return user_credentials.Credentials(
            token=None, refresh_token=self.store.refresh_token(), client_id=s.client_id,
            client_secret=s.client_secret() or None, token_uri=s.token_url or TOKEN_URI, scopes=list(s.scopes))

    def _fetch(self) -> AccessToken:
        creds = self._credentials()
        try:
            creds.refresh(Request(session=self.session))
        except gexc.RefreshError as exc:
            error, description = _refresh_error(exc)
            raise classify("google", 400, error, description) from None
        except gexc.TransportError as exc:
            raise TokenUnavailable(f"OAuth2 (google) token endpoint unreachable: {type(exc).__name__}") from None
        if self.store is not None and self.settings.grant == "refresh_token":
            self.store.update(getattr(creds, "refresh_token", None))
        expires = creds.expiry.replace(tzinfo=dt.UTC).timestamp() if creds.expiry else 0.0
        return AccessToken(str(creds.token), expires)


def _refresh_error(exc: gexc.RefreshError) -> tuple[str, str]:
    """(error, description) from google-auth's RefreshError(message, response_data)."""
    data = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
    error = str(data.get("error", "")) or "invalid_grant"
    if not data and exc.args and "5" == str(exc.args[0])[:1]:
        error = "server_error"
    return error, str(data.get("error_description", ""))
