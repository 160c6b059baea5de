"""`[imap.oauth2]` / `[smtp.oauth2]` -> validated, frozen OAuth2 settings.

Every key is documented in router/defaults.toml and docs/operations.md.
Secrets (client secret, refresh token) are never held here: only where to
read them (a file or an environment variable), read at the moment a token
is fetched, as passwords are.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from router.errors import ConfigError

PROVIDERS = ("microsoft", "google", "generic")
MECHANISMS = ("xoauth2", "oauthbearer")
GRANTS = ("refresh_token", "client_credentials", "service_account")
MICROSOFT_APP_SCOPE = "https://outlook.office365.com/.default"
GOOGLE_MAIL_SCOPE = "https://mail.google.com/"

DEFAULTS: dict[str, Any] = {
    "provider": "",
    "grant": "",
    "client_id": "",
    "tenant": "",
    "client_secret_file": "",
    "client_secret_env": "",
    "certificate": "",
    "certificate_thumbprint": "",
    "service_account_file": "",
    "subject": "",
    "token_file": "",
    "scopes": [],
    "token_url": "",
    "authority": "",
    "mechanism": "xoauth2",
    "refresh_margin_seconds": 300,
    "timeout": 30,
}


@dataclass(frozen=True)
class OAuth2Settings:
    """How one server's logins get their access tokens (see DEFAULTS for the keys)."""

    section: str
    provider: str
    grant: str
    client_id: str
    tenant: str
    client_secret_file: Path | None
    client_secret_env: str
    certificate: Path | None
    certificate_thumbprint: str
    service_account_file: Path | None
    subject: str
    token_file: Path | None
    scopes: tuple[str, ...]
    token_url: str
    authority: str
    mechanism: str
    refresh_margin_seconds: float
    timeout: float
    health_file: Path | None = None

    def client_secret(self) -> str:
        """Read the client secret now (never kept in the settings object)."""
        if self.client_secret_file is not None:
            try:
                return self.client_secret_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"{self.section}.client_secret_file {self.client_secret_file}: {exc.strerror}") from None
        if self.client_secret_env:
            return os.environ.get(self.client_secret_env, "")
        return ""

    @property
    def key(self) -> str:
        """Identifies server and grant (not secret): one cached token source per key.

        IMAP and SMTP get a source each, so metrics and health name the right
        server; sharing a token_file is safe because every refresh reads it
        afresh and every rotation rewrites it at once.
        """
        return "|".join((self.section, self.provider, self.grant, self.client_id, self.tenant, self.subject,
                         str(self.token_file or ""), self.token_url, " ".join(self.scopes)))


def parse(table: Any, section: str, base: Path, health_file: Path | None = None) -> OAuth2Settings | None:
    """Validate one `[x.oauth2]` table; None when OAuth2 is off (provider empty)."""
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ConfigError(f"{section}: must be a table")
    unknown = sorted(set(table) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"{section}.{unknown[0]}: unknown key")
    d = {**DEFAULTS, **table}
    for key, default in DEFAULTS.items():
        value = d[key]
        if isinstance(default, str) and not isinstance(value, str):
            raise ConfigError(f"{section}.{key}: must be a string, got {type(value).__name__}")
        if isinstance(default, list) and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            raise ConfigError(f"{section}.{key}: must be a list of strings")
        if isinstance(default, int) and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise ConfigError(f"{section}.{key}: must be a non-negative number, got {value!r}")
    provider = d["provider"]
    if not provider:
        return None
    if provider not in PROVIDERS:
        raise ConfigError(f"{section}.provider: must be one of {', '.join(PROVIDERS)}, got {provider!r}")
    if d["mechanism"] not in MECHANISMS:
        raise ConfigError(f"{section}.mechanism: must be one of {', '.join(MECHANISMS)}, got {d['mechanism']!r}")

    def path(key: str) -> Path | None:
        value = d[key]
        if not value:
            return None
        p = Path(value).expanduser()
        return p if p.is_absolute() else base / p

    grant = d["grant"] or _default_grant(provider, d)
    if grant not in GRANTS:
        raise ConfigError(f"{section}.grant: must be one of {', '.join(GRANTS)}, got {grant!r}")
    settings = OAuth2Settings(
        section=section, provider=provider, grant=grant, client_id=d["client_id"], tenant=d["tenant"],
        client_secret_file=path("client_secret_file"), client_secret_env=d["client_secret_env"],
        certificate=path("certificate"), certificate_thumbprint=d["certificate_thumbprint"],
        service_account_file=path("service_account_file"), subject=d["subject"], token_file=path("token_file"),
        scopes=tuple(d["scopes"]) or _default_scopes(provider, grant), token_url=d["token_url"],
        authority=d["authority"], mechanism=d["mechanism"], refresh_margin_seconds=float(d["refresh_margin_seconds"]),
        timeout=max(1.0, float(d["timeout"])), health_file=health_file,
    )
    _check(settings)
    return settings


def _default_grant(provider: str, d: dict[str, Any]) -> str:
    """The grant the other keys imply: a secret or certificate means app-only."""
    if provider == "google":
        return "service_account" if d["service_account_file"] else "refresh_token"
    if d["token_file"] and not (d["client_secret_file"] or d["client_secret_env"] or d["certificate"]):
        return "refresh_token"
    if provider == "microsoft" and not d["token_file"]:
        return "client_credentials"
    return "refresh_token" if d["token_file"] else "client_credentials"


def _default_scopes(provider: str, grant: str) -> tuple[str, ...]:
    if provider == "microsoft":
        if grant == "client_credentials":
            return (MICROSOFT_APP_SCOPE,)
        return ("https://outlook.office365.com/IMAP.AccessAsUser.All", "https://outlook.office365.com/SMTP.Send")
    if provider == "google":
        return (GOOGLE_MAIL_SCOPE,)
    return ()


def _check(s: OAuth2Settings) -> None:
    """Cross-key rules, each failing with the key to fix."""
    sec = s.section
    if s.grant == "service_account":
        if s.provider != "google":
            raise ConfigError(f"{sec}.grant: service_account is a Google grant; use client_credentials for {s.provider}")
        if s.service_account_file is None:
            raise ConfigError(f"{sec}.service_account_file: required for a Google service account")
        return
    if not s.client_id:
        raise ConfigError(f"{sec}.client_id: required for provider {s.provider}")
    if s.grant == "refresh_token" and s.token_file is None:
        raise ConfigError(f"{sec}.token_file: required for the refresh_token grant (written by `router login`)")
    if s.grant == "client_credentials":
        if s.provider == "google":
            raise ConfigError(f"{sec}.grant: Google has no client_credentials grant for mail; use service_account")
        if not (s.client_secret_file or s.client_secret_env or s.certificate):
            raise ConfigError(f"{sec}.client_secret_file: client_credentials needs client_secret_file, client_secret_env or certificate")
    if s.provider == "microsoft" and not s.tenant and not s.authority:
        raise ConfigError(f"{sec}.tenant: required for provider microsoft (directory id or domain)")
    if s.provider == "microsoft" and s.certificate and not s.certificate_thumbprint:
        raise ConfigError(f"{sec}.certificate_thumbprint: required with certificate (the SHA-1 thumbprint shown in the app registration)")
    if s.provider == "generic" and not s.token_url:
        raise ConfigError(f"{sec}.token_url: required for provider generic")
    if s.provider == "generic" and not s.token_url.startswith(("https://", "http://127.0.0.1", "http://localhost", "http://[::1]")):
        raise ConfigError(f"{sec}.token_url: must be https:// (plain http only on loopback)")
