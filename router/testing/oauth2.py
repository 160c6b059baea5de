"""An OAuth2 authorization server on loopback for tests, and the servers that trust it.

`TokenServer` (RFC 6749 token endpoint, RFC 7662 introspection, RFC 8628
device authorization) issues access tokens living a few seconds, rotates
refresh tokens on every use and can revoke them.  It also answers on the
paths msal uses for Microsoft Entra ID (`/<tenant>/v2.0/.well-known/
openid-configuration`, `/<tenant>/oauth2/v2.0/token|devicecode`) and
accepts the JWT bearer grant (RFC 7523) a Google service account sends,
so provider code runs unchanged against it through `RedirectSession`.

`dovecot_auth_config` configures Dovecot 2.3's `passdb oauth2`
(introspection_mode = post) to validate bearer tokens against it, and
`XOAuth2Authenticator` makes `SmtpSink` (aiosmtpd) accept XOAUTH2 and
OAUTHBEARER only with a token the server issued and that is still alive.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit, urlunsplit

import requests

from router.testing.dovecot import Dovecot
from router.testing.procs import LOOPBACK

MICROSOFT_HOST = "login.microsoftonline.com"
GOOGLE_HOST = "oauth2.googleapis.com"


@dataclass
class _Access:
    user: str
    expires_at: float
    scope: str


@dataclass
class Grants:
    """What the server has issued; guarded by TokenServer.lock."""

    access: dict[str, _Access] = field(default_factory=dict)
    refresh: dict[str, str] = field(default_factory=dict)  # refresh token -> user
    revoked: set[str] = field(default_factory=set)
    clients: dict[str, str] = field(default_factory=dict)  # client_id -> secret ("" = public)
    device_codes: dict[str, str] = field(default_factory=dict)  # device_code -> user ("" = not yet approved)
    requests: list[dict[str, str]] = field(default_factory=list)  # token requests, secrets removed
    issued: list[str] = field(default_factory=list)  # every access and refresh token ever issued (leak checks)
    introspections: int = 0


class TokenServer:
    """A threaded HTTP authorization server on 127.0.0.1 (use as a context manager)."""

    def __init__(self, user: str = "support@exchange.example", *, lifetime: float = 3.0, rotate: bool = True) -> None:
        self.user = user
        self.lifetime = lifetime
        self.rotate = rotate
        self.lock = threading.Lock()
        self.grants = Grants()
        self._server: ThreadingHTTPServer | None = None

    # -- life cycle --------------------------------------------------------
    def start(self) -> Self:
        handler = type("Handler", (_Handler,), {"owner": self})
        self._server = ThreadingHTTPServer((LOOPBACK, 0), handler)
        threading.Thread(target=self._server.serve_forever, name="token-server", daemon=True).start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("TokenServer not started")
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/token"

    @property
    def introspection_url(self) -> str:
        return f"{self.base_url}/introspect"

    # -- grants ------------------------------------------------------------
    def add_client(self, client_id: str, secret: str = "") -> None:
        with self.lock:
            self.grants.clients[client_id] = secret

    def issue_refresh_token(self, user: str | None = None) -> str:
        token = "rt-" + secrets.token_urlsafe(24)
        with self.lock:
            self.grants.refresh[token] = user or self.user
            self.grants.issued.append(token)
        return token

    def revoke_all(self) -> None:
        """Revoke every refresh and access token (a grant withdrawn by an admin)."""
        with self.lock:
            self.grants.revoked |= set(self.grants.refresh) | set(self.grants.access)
            self.grants.refresh.clear()
            self.grants.access.clear()

    def approve_device(self, user: str | None = None) -> None:
        """The person signed in on the verification page: every pending device code is approved."""
        with self.lock:
            for code in self.grants.device_codes:
                self.grants.device_codes[code] = user or self.user

    def issued(self) -> list[str]:
        """Every token this server ever handed out (to check none leaked)."""
        with self.lock:
            return list(self.grants.issued)

    def forget_access_tokens(self) -> None:
        """Invalidate access tokens only (a server that rejects a token early); refresh tokens stay."""
        with self.lock:
            self.grants.access.clear()

    def live_refresh_tokens(self) -> set[str]:
        with self.lock:
            return set(self.grants.refresh)

    def access_tokens_issued(self) -> int:
        with self.lock:
            return sum(1 for r in self.grants.requests if r.get("issued") == "yes")

    def is_active(self, token: str) -> bool:
        with self.lock:
            entry = self.grants.access.get(token)
            return entry is not None and entry.expires_at > time.time()

    # -- protocol ----------------------------------------------------------
    def token_request(self, form: dict[str, str], basic: tuple[str, str] | None) -> tuple[int, dict[str, Any]]:
        """RFC 6749 section 5: the answer to one token request."""
        grant = form.get("grant_type", "")
        client_id = basic[0] if basic else form.get("client_id", "")
        secret = basic[1] if basic else form.get("client_secret", "")
        with self.lock:
            record = {k: v for k, v in form.items() if k in ("grant_type", "client_id", "scope")}
            self.grants.requests.append(record)
            known = self.grants.clients
            if known and client_id not in known and grant != "urn:ietf:params:oauth:grant-type:jwt-bearer":
                return 401, {"error": "invalid_client", "error_description": "unknown client"}
            if known.get(client_id) and secret != known[client_id] and "client_assertion" not in form:
                return 401, {"error": "invalid_client", "error_description": "bad client secret"}
            new_refresh: str | None = None
            if grant == "refresh_token":
                old = form.get("refresh_token", "")
                user = self.grants.refresh.get(old)
                if user is None:
                    return 400, {"error": "invalid_grant", "error_description": "refresh token revoked or unknown"}
                if self.rotate:
                    del self.grants.refresh[old]
                    new_refresh = "rt-" + secrets.token_urlsafe(24)
                    self.grants.refresh[new_refresh] = user
            elif grant == "client_credentials":
                user = self.user
            elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
                claims = _jwt_claims(form.get("assertion", ""))
                user = str(claims.get("sub") or claims.get("iss") or "")
                record["sub"] = user
                record["scope"] = str(claims.get("scope", ""))
                if not user:
                    return 400, {"error": "invalid_grant", "error_description": "assertion without subject"}
            elif grant == "urn:ietf:params:oauth:grant-type:device_code":
                code = form.get("device_code", "")
                if code not in self.grants.device_codes:
                    return 400, {"error": "expired_token"}
                user = self.grants.device_codes[code]
                if not user:
                    return 400, {"error": "authorization_pending"}
                del self.grants.device_codes[code]
                new_refresh = "rt-" + secrets.token_urlsafe(24)
                self.grants.refresh[new_refresh] = user
            elif grant == "authorization_code":
                user = self.user
                new_refresh = "rt-" + secrets.token_urlsafe(24)
                self.grants.refresh[new_refresh] = user
            else:
                return 400, {"error": "unsupported_grant_type"}
            access = "at-" + secrets.token_urlsafe(24)
            self.grants.access[access] = _Access(user, time.time() + self.lifetime, form.get("scope", ""))
            self.grants.issued += [access, new_refresh] if new_refresh else [access]
            record["issued"] = "yes"
        answer: dict[str, Any] = {"access_token": access, "token_type": "Bearer", "expires_in": int(self.lifetime),
                                  "scope": form.get("scope", "")}
        if new_refresh:
            answer["refresh_token"] = new_refresh
        return 200, answer

    def introspect(self, token: str) -> dict[str, Any]:
        """RFC 7662 section 2.2; `username` is what Dovecot's username_attribute reads."""
        with self.lock:
            self.grants.introspections += 1
            entry = self.grants.access.get(token)
            if entry is None or entry.expires_at <= time.time():
                return {"active": False}
            return {"active": True, "username": entry.user, "exp": int(entry.expires_at), "scope": entry.scope}

    def device_authorization(self, form: dict[str, str]) -> dict[str, Any]:
        code = "dc-" + secrets.token_urlsafe(16)
        with self.lock:
            self.grants.device_codes[code] = ""
        return {"device_code": code, "user_code": "ABCD-EFGH", "verification_uri": f"{self.base_url}/device",
                "expires_in": 600, "interval": 1,
                "message": f"To sign in, open {self.base_url}/device and enter the code ABCD-EFGH."}

    def openid_configuration(self, tenant: str) -> dict[str, Any]:
        """Entra ID's discovery document, naming the real host (RedirectSession maps it here)."""
        root = f"https://{MICROSOFT_HOST}/{tenant}"
        return {"issuer": f"{root}/v2.0", "token_endpoint": f"{root}/oauth2/v2.0/token",
                "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
                "jwks_uri": f"{root}/discovery/v2.0/keys"}


class _Handler(BaseHTTPRequestHandler):
    owner: TokenServer

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path.endswith("/.well-known/openid-configuration"):
            tenant = path.strip("/").split("/")[0]
            self._json(200, self.owner.openid_configuration(tenant))
        elif path.startswith("/common/discovery/instance"):
            self._json(200, {"tenant_discovery_endpoint": f"https://{MICROSOFT_HOST}/common/v2.0/.well-known/openid-configuration",
                             "metadata": []})
        else:
            self._json(404, {"error": "not_found"})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode("utf-8"), keep_blank_values=True).items()}
        if path == "/introspect":
            self._json(200, self.owner.introspect(form.get("token", "")))
        elif path.endswith("/devicecode"):
            self._json(200, self.owner.device_authorization(form))
        elif path == "/token" or path.endswith("/oauth2/v2.0/token"):
            code, body = self.owner.token_request(form, _basic(self.headers.get("Authorization", "")))
            self._json(code, body)
        else:
            self._json(404, {"error": "not_found"})

    def _json(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        return


def _basic(header: str) -> tuple[str, str] | None:
    if not header.lower().startswith("basic "):
        return None
    from urllib.parse import unquote

    user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
    return unquote(user), unquote(password)  # RFC 6749 section 2.3.1: form-urlencoded before Basic


def _jwt_claims(assertion: str) -> dict[str, Any]:
    """The payload of a JWT (signature not checked: the test checks the claims)."""
    try:
        payload = assertion.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class RedirectSession(requests.Session):
    """A requests.Session that sends what is meant for the providers' hosts to the TokenServer.

    This is the HTTP seam of msal (`http_client`) and google-auth
    (`Request(session=...)`): the library code runs unchanged, nothing
    leaves loopback, and any other host is refused.
    """

    def __init__(self, server: TokenServer, hosts: tuple[str, ...] = (MICROSOFT_HOST, GOOGLE_HOST)) -> None:
        super().__init__()
        self.server = server
        self.hosts = hosts
        self.urls: list[str] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        parts = urlsplit(str(url))
        if parts.hostname not in self.hosts and parts.hostname != LOOPBACK:
            raise requests.ConnectionError(f"RedirectSession: no outside network ({parts.hostname})")
        self.urls.append(str(url))
        if parts.hostname in self.hosts:
            local = urlsplit(self.server.base_url)
            url = urlunsplit((local.scheme, local.netloc, parts.path, parts.query, ""))
        return super().request(method if isinstance(method, str) else method.decode(), url, *args, **kwargs)


def dovecot_auth_config(dovecot: Dovecot, server: TokenServer) -> str:
    """passdb oauth2 (Dovecot 2.3, introspection_mode = post) plus the sandbox's password passdb.

    The password passdb stays so the harness's own readiness probe (a plain
    LOGIN) still works; the oauth2 passdb is restricted to the bearer
    mechanisms.
    """
    base = dovecot.base_dir
    base.mkdir(parents=True, exist_ok=True)
    ext = base / "dovecot-oauth2.conf.ext"
    ext.write_text("\n".join([
        f"introspection_url = {server.introspection_url}",
        "introspection_mode = post",
        "force_introspection = yes",
        "username_attribute = username",
        "active_attribute = active",
        "active_value = true",
        "",
    ]))
    return "\n".join([
        "auth_mechanisms = plain login xoauth2 oauthbearer",
        "passdb {",
        "  driver = oauth2",
        "  mechanisms = xoauth2 oauthbearer",
        f"  args = {ext}",
        "}",
        *dovecot.password_auth_config(),
    ])


def oauth_dovecot(base_dir: Path, server: TokenServer, **kwargs: Any) -> Dovecot:
    """A Dovecot (not started) whose user logs in with tokens from `server`."""
    dovecot = Dovecot(base_dir, user=server.user, **kwargs)
    dovecot.auth_config = dovecot_auth_config(dovecot, server)
    return dovecot


class XOAuth2Authenticator:
    """aiosmtpd authenticator: XOAUTH2 and OAUTHBEARER with a live token from `server`; nothing else."""

    def __init__(self, server: TokenServer) -> None:
        self.server = server
        self.accepted: list[str] = []  # users logged in
        self.rejected = 0

    def __call__(self, smtp: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult

        return AuthResult(success=False, handled=False)  # PLAIN/LOGIN: passwords are not accepted here

    async def handle_MAIL(self, smtp: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        """RFC 4954 section 6: mail only after a successful AUTH."""
        if not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def auth_XOAUTH2(self, smtp: Any, args: list[str]) -> Any:
        return await self._bearer(smtp, args, "XOAUTH2")

    async def auth_OAUTHBEARER(self, smtp: Any, args: list[str]) -> Any:
        return await self._bearer(smtp, args, "OAUTHBEARER")

    async def _bearer(self, smtp: Any, args: list[str], mechanism: str) -> Any:
        from aiosmtpd.smtp import MISSING, AuthResult

        if len(args) > 1:
            blob: Any = base64.b64decode(args[1])
        else:
            blob = await smtp.challenge_auth("")
            if blob is MISSING:
                return AuthResult(success=False, handled=True)
        user, token = _parse_bearer(bytes(blob).decode("utf-8", "replace"), mechanism)
        if token and self.server.is_active(token) and self.server.introspect(token).get("username") == user:
            self.accepted.append(user)
            return AuthResult(success=True, auth_data=user)
        self.rejected += 1
        # RFC 7628 section 3.2.2: an error challenge, then the client's ^A / empty line, then 535.
        await smtp.challenge_auth(json.dumps({"status": "invalid_token", "schemes": "bearer"}))
        return AuthResult(success=False, handled=False)


def _parse_bearer(text: str, mechanism: str) -> tuple[str, str]:
    """(user, token) from an XOAUTH2 or OAUTHBEARER initial response."""
    user = token = ""
    parts = text.split("\x01")
    if mechanism == "OAUTHBEARER" and parts:
        for field_ in parts[0].split(","):
            if field_.startswith("a="):
                user = field_[2:].replace("=2C", ",").replace("=3D", "=")
        parts = parts[1:]
    for part in parts:
        if part.startswith("user="):
            user = part[5:]
        elif part.startswith("auth=Bearer "):
            token = part[len("auth=Bearer "):]
    return user, token


def drop_sessions(dovecot: Dovecot) -> None:
    """Disconnect the user's IMAP sessions, as Exchange does when a session's token expires."""
    import shutil
    import subprocess

    doveadm = shutil.which("doveadm") or "/usr/bin/doveadm"
    result = subprocess.run([doveadm, "-c", str(dovecot.config_file), "kick", dovecot.user],
                            capture_output=True, text=True, timeout=20, check=False)
    if result.returncode not in (0, 68):  # 68: EX_NOUSER, nobody was connected
        raise RuntimeError(f"doveadm kick failed ({result.returncode}): {result.stderr.strip()[:300]}")
