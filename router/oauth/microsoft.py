"""Microsoft identity platform (Entra ID) through msal.

- app-only: client credentials with a secret or a certificate (scope
  https://outlook.office365.com/.default, Exchange `IMAP.AccessAsApp` /
  `SMTP.SendAsApp`, the mailbox granted with Add-MailboxPermission);
- delegated: a refresh token obtained once by `router login` (device-code
  flow, RFC 8628) and redeemed with acquire_token_by_refresh_token, whose
  rotated refresh token is written back at once.

`http_client` is msal's HTTP seam (a requests.Session-like object); tests
pass one that routes to a loopback token endpoint.
"""

from __future__ import annotations

from typing import Any

import msal

from router.oauth.errors import TokenUnavailable, classify
from router.oauth.settings import OAuth2Settings
from router.oauth.tokens import AccessToken, TokenSource, expiry

LOGIN_HOST = "https://login.microsoftonline.com"


def authority(settings: OAuth2Settings) -> str:
    return settings.authority or f"{LOGIN_HOST}/{settings.tenant}"


def public_app(settings: OAuth2Settings, http_client: Any = None) -> msal.PublicClientApplication:
    return msal.PublicClientApplication(settings.client_id, authority=authority(settings), http_client=http_client,
                                        timeout=settings.timeout)


def confidential_app(settings: OAuth2Settings, http_client: Any = None) -> msal.ConfidentialClientApplication:
    credential: Any
    if settings.certificate is not None:
        try:
            pem = settings.certificate.read_text(encoding="utf-8")
        except OSError as exc:
            from router.errors import ConfigError

            raise ConfigError(f"{settings.section}.certificate {settings.certificate}: {exc.strerror}") from None
        credential = {"private_key": pem, "thumbprint": settings.certificate_thumbprint}
    else:
        credential = settings.client_secret()
    return msal.ConfidentialClientApplication(settings.client_id, client_credential=credential, authority=authority(settings),
                                              http_client=http_client, timeout=settings.timeout)


class MicrosoftSource(TokenSource):
    def __init__(self, settings: OAuth2Settings, http_client: Any = None) -> None:
        super().__init__(settings)
        self.http_client = http_client
        self._app: msal.ClientApplication | None = None

    def _application(self) -> msal.ClientApplication:
        if self._app is None:
            try:
                if self.settings.grant == "client_credentials":
                    self._app = confidential_app(self.settings, self.http_client)
                else:
                    self._app = public_app(self.settings, self.http_client)
            except ValueError as exc:  # msal raises ValueError for an authority it cannot discover
                raise TokenUnavailable(f"OAuth2 (microsoft) authority {authority(self.settings)} unusable: {str(exc).splitlines()[0][:160]}") from None
            except Exception as exc:  # noqa: BLE001 - msal surfaces requests' errors during discovery
                raise TokenUnavailable(f"OAuth2 (microsoft) authority {authority(self.settings)} unreachable: {type(exc).__name__}") from None
        return self._app

    def _fetch(self) -> AccessToken:
        scopes = list(self.settings.scopes)
        app = self._application()
        try:
            if isinstance(app, msal.ConfidentialClientApplication):
                app.remove_tokens_for_client()  # the caller wants a new token: skip msal's cache
                result = app.acquire_token_for_client(scopes=scopes)
            else:
                assert self.store is not None
                result = app.acquire_token_by_refresh_token(self.store.refresh_token(), scopes=scopes)
        except (OSError, ValueError) as exc:
            raise TokenUnavailable(f"OAuth2 (microsoft) token request failed: {type(exc).__name__}") from None
        except Exception as exc:  # noqa: BLE001 - requests' exceptions through msal's http layer
            raise TokenUnavailable(f"OAuth2 (microsoft) token request failed: {type(exc).__name__}") from None
        return self._answer(result)

    def _answer(self, result: dict[str, Any] | None) -> AccessToken:
        if not result or "access_token" not in result:
            result = result or {}
            error = str(result.get("error", "")) or "no_answer"
            status = 400 if result.get("error") else 503
            raise classify("microsoft", status, error, str(result.get("error_description", "")).split("\r\n")[0])
        if self.store is not None and self.settings.grant == "refresh_token":
            self.store.update(result.get("refresh_token"))
        return AccessToken(str(result["access_token"]), expiry(result.get("expires_in")))
