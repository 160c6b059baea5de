"""`router login`: obtain the refresh token a delegated OAuth2 grant needs, once.

- microsoft: the device-code flow (RFC 8628) through msal: the command
  prints a code and a URL, someone signs in as the mailbox on any browser,
  and the refresh token is saved to `token_file` (0600);
- google: the installed-app flow (RFC 8252): a loopback redirect on
  127.0.0.1 with PKCE (RFC 7636), the code exchanged at the token endpoint;
- generic: a refresh token obtained elsewhere, read from stdin and checked
  by redeeming it once.

App-only grants (client_credentials, service_account) need no login: the
command fetches one token to prove the credentials work.  Nothing prints a
token.  `http` (msal's http_client / a requests.Session) and `open_url` are
the seams the tests use.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import secrets
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import IO, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from router import oauth
from router.commands.common import load_settings
from router.errors import ConfigError
from router.oauth.errors import GrantError
from router.oauth.generic import post_token
from router.oauth.settings import OAuth2Settings
from router.oauth.tokens import TokenFile

GOOGLE_AUTH_URL = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("login", help="obtain and save an OAuth2 refresh token (device code / installed app)",
                       description="Sign the mailbox in once for [imap.oauth2] / [smtp.oauth2] and save the refresh token to token_file. "
                                   "Exit 0 on success, 77 when the provider refuses.")
    p.add_argument("--server", choices=["imap", "smtp"], default="imap", help="whose [*.oauth2] section to use (default imap)")
    p.add_argument("--refresh-token-stdin", action="store_true", help="generic provider: read a refresh token from stdin")
    p.add_argument("--no-browser", action="store_true", help="google: only print the URL, do not try to open a browser")
    p.add_argument("--redirect-port", type=int, default=0, metavar="PORT",
                   help="google: fixed loopback port for the redirect (to forward it with ssh -L); default any free port")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    server = settings.imap if args.server == "imap" else settings.smtp
    if server.oauth2 is None:
        raise ConfigError(f"{args.server}.oauth2.provider: not set; there is nothing to log in to")
    opener = None if args.no_browser else _open_browser
    login(server.oauth2, stdin=sys.stdin if args.refresh_token_stdin else None, open_url=opener, redirect_port=args.redirect_port)
    return 0


def login(settings: OAuth2Settings, *, http: Any = None, out: IO[str] | None = None, stdin: IO[str] | None = None,
          open_url: Callable[[str], object] | None = None, redirect_port: int = 0) -> str:
    """Run the provider's sign-in; returns what was done (one line, no secret)."""
    out = out or sys.stdout
    if settings.grant != "refresh_token":
        oauth.build(settings, http).token()
        done = f"{settings.provider} {settings.grant}: credentials work, no login needed"
    elif settings.provider == "microsoft":
        done = _microsoft_device_code(settings, http, out)
    elif settings.provider == "google":
        done = _google_installed_app(settings, http, out, open_url, redirect_port)
    else:
        done = _generic_refresh_token(settings, http, stdin)
    print(done, file=out)
    return done


def _store(settings: OAuth2Settings) -> TokenFile:
    assert settings.token_file is not None  # settings.parse requires it for refresh_token
    return TokenFile(settings.token_file)


def _microsoft_device_code(settings: OAuth2Settings, http: Any, out: IO[str]) -> str:
    from router.oauth.microsoft import public_app

    app = public_app(settings, http)
    scopes = [s for s in settings.scopes if s not in ("offline_access", "openid", "profile")]
    flow = app.initiate_device_flow(scopes=scopes)
    if "user_code" not in flow:
        raise GrantError(f"OAuth2 (microsoft) device code refused: {flow.get('error', 'no answer')}")
    print(flow["message"], file=out, flush=True)
    result = app.acquire_token_by_device_flow(flow)  # polls until signed in or expired
    refresh = result.get("refresh_token") if isinstance(result, dict) else None
    if not refresh:
        error = result.get("error", "no refresh token") if isinstance(result, dict) else "no answer"
        raise GrantError(f"OAuth2 (microsoft) sign-in failed: {error}")
    _store(settings).save(str(refresh), provider="microsoft", client_id=settings.client_id)
    return f"signed in; refresh token saved to {settings.token_file}"


def _google_installed_app(settings: OAuth2Settings, http: Any, out: IO[str], open_url: Callable[[str], object] | None,
                          port: int) -> str:
    """RFC 8252 section 7.3 loopback redirect with PKCE; the code arrives on 127.0.0.1."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(16)
    received: dict[str, str] = {}

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            if query.get("state") == state:
                received.update(query)
            body = b"router: signed in, you can close this window.\n" if "code" in query else b"router: sign-in failed.\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = HTTPServer(("127.0.0.1", port), Redirect)
    redirect_uri = f"http://127.0.0.1:{server.server_address[1]}/"
    url = GOOGLE_AUTH_URL + "?" + urlencode({
        "client_id": settings.client_id, "redirect_uri": redirect_uri, "response_type": "code",
        "scope": " ".join(settings.scopes), "access_type": "offline", "prompt": "consent",
        "code_challenge": challenge, "code_challenge_method": "S256", "state": state})
    print(f"Open this URL and sign in as the mailbox:\n{url}", file=out, flush=True)
    if open_url is not None:
        threading.Thread(target=open_url, args=(url,), daemon=True).start()
    try:
        server.timeout = 600
        while "code" not in received and "error" not in received:
            server.handle_request()
    finally:
        server.server_close()
    if "code" not in received:
        raise GrantError(f"OAuth2 (google) sign-in failed: {received.get('error', 'no code')}")
    form = {"grant_type": "authorization_code", "code": received["code"], "redirect_uri": redirect_uri,
            "code_verifier": verifier, "client_id": settings.client_id}
    secret = settings.client_secret()
    if secret:
        form["client_secret"] = secret  # Google's installed-app clients post it in the body
    answer = post_token(http or requests.Session(), settings.token_url or GOOGLE_TOKEN_URL, form, None, settings.timeout, "google")
    refresh = answer.get("refresh_token")
    if not refresh:
        raise GrantError("OAuth2 (google) answered without a refresh token (was access_type=offline consent given?)")
    _store(settings).save(str(refresh), provider="google", client_id=settings.client_id)
    return f"signed in; refresh token saved to {settings.token_file}"


def _generic_refresh_token(settings: OAuth2Settings, http: Any, stdin: IO[str] | None) -> str:
    if stdin is None:
        raise ConfigError(f"{settings.section}.provider: generic logins take the refresh token on stdin (--refresh-token-stdin)")
    token = stdin.readline().strip()
    if not token:
        raise ConfigError("no refresh token on stdin")
    store = _store(settings)
    store.save(token, provider="generic", client_id=settings.client_id)
    oauth.build(settings, http).token()  # redeem once: proves it works and stores a rotated one
    return f"refresh token checked and saved to {settings.token_file}"


def _open_browser(url: str) -> None:
    import webbrowser

    webbrowser.open(url)
