"""Any RFC 6749 token endpoint: the refresh_token (section 6) or
client_credentials (section 4.4) grant, client authentication with HTTP
Basic when a secret is configured (section 2.3.1)."""

from __future__ import annotations

from typing import Any

import requests

from router.oauth.errors import GrantError, TokenUnavailable, classify
from router.oauth.settings import OAuth2Settings
from router.oauth.tokens import AccessToken, TokenSource, expiry


class GenericSource(TokenSource):
    def __init__(self, settings: OAuth2Settings, session: requests.Session | None = None) -> None:
        super().__init__(settings)
        self.session = session or requests.Session()

    def _fetch(self) -> AccessToken:
        s = self.settings
        form: dict[str, str] = {"grant_type": s.grant}
        if s.grant == "refresh_token":
            assert self.store is not None
            form["refresh_token"] = self.store.refresh_token()
        if s.scopes:
            form["scope"] = " ".join(s.scopes)
        secret = s.client_secret()
        auth = (s.client_id, secret) if secret else None
        if not secret:
            form["client_id"] = s.client_id  # public client (section 2.3)
        answer = post_token(self.session, s.token_url, form, auth, s.timeout, "generic")
        if self.store is not None and s.grant == "refresh_token":
            self.store.update(answer.get("refresh_token"))
        return AccessToken(str(answer["access_token"]), expiry(answer.get("expires_in")))


def post_token(session: requests.Session, url: str, form: dict[str, str], auth: tuple[str, str] | None,
               timeout: float, provider: str) -> dict[str, Any]:
    """POST a token request; the JSON answer, or GrantError / TokenUnavailable (section 5.2)."""
    try:
        resp = session.post(url, data=form, auth=auth, timeout=timeout, headers={"Accept": "application/json"})
    except requests.RequestException as exc:
        raise TokenUnavailable(f"OAuth2 ({provider}) token endpoint {url.split('?')[0]} unreachable: {type(exc).__name__}") from None
    try:
        body = resp.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    if resp.status_code == 200 and isinstance(body.get("access_token"), str):
        return body
    if resp.status_code == 200:
        raise TokenUnavailable(f"OAuth2 ({provider}) token endpoint answered without an access_token")
    raise classify(provider, resp.status_code, str(body.get("error", "")), str(body.get("error_description", "")))


__all__ = ["GenericSource", "GrantError", "post_token"]
