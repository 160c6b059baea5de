"""SASL XOAUTH2 and OAUTHBEARER (RFC 7628) logins for IMAP and SMTP.

XOAUTH2 (Google/Microsoft): `user=<user>^Aauth=Bearer <token>^A^A`.
OAUTHBEARER (RFC 7628 section 3.1): a GS2 header, then `auth=Bearer <token>`.
On failure the server sends an error challenge (JSON, RFC 7628 section
3.2.2); the client must answer it with ^A (OAUTHBEARER) or an empty line
(XOAUTH2) to get the final NO/535 - re-sending the token, as imapclient's
own helpers do, leaks it once more and confuses some servers.

A server that rejects a token gets exactly one more try with a freshly
fetched one (the token may have been revoked or expired early); then the
login fails with a message that names the server and the mechanism, never
the token.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from router import oauth
from router.config import ServerSettings
from router.errors import LoginError, MailboxError, RouterError
from router.oauth import health
from router.oauth.errors import GrantError, TokenUnavailable
from router.oauth.settings import OAuth2Settings

log = logging.getLogger(__name__)


def initial_response(mechanism: str, user: str, token: str) -> str:
    """The client's first SASL message for `mechanism` (xoauth2 or oauthbearer)."""
    if mechanism == "oauthbearer":
        authzid = user.replace("=", "=3D").replace(",", "=2C")  # RFC 5801 section 4 saslname
        return f"n,a={authzid},\x01auth=Bearer {token}\x01\x01"
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


def _responder(mechanism: str, user: str, token: str) -> Callable[..., str]:
    """A SASL callback: the initial response first, then the error acknowledgement."""
    sent = False

    def respond(challenge: bytes | None = None) -> str:
        nonlocal sent
        if not sent:
            sent = True
            return initial_response(mechanism, user, token)
        return "\x01" if mechanism == "oauthbearer" else ""

    return respond


def imap_login(client: IMAPClient, server: ServerSettings) -> None:
    """LOGIN with the password, or AUTHENTICATE with a bearer token when [imap.oauth2] is set."""
    settings = _oauth(server)
    if settings is None:
        client.login(server.username, server.password())
        return
    mechanism = settings.mechanism.upper()

    def attempt(token: str) -> None:
        respond = _responder(settings.mechanism, server.username, token)
        # imaplib calls the callback with each decoded challenge and base64-encodes the answer.
        try:
            client._imap.authenticate(mechanism, lambda challenge: respond(challenge).encode())
        except IMAPClientAbortError as exc:  # the connection broke: not a rejected token
            raise MailboxError(f"IMAP connection to {server.host}:{server.port} lost during login: {_reply(exc)}") from None

    try:
        _with_token(settings, server, "IMAP", attempt, IMAPClientError)
    except RouterError:
        _quietly(client.shutdown)  # a failed login leaves no connection behind
        raise


def smtp_login(smtp: smtplib.SMTP, server: ServerSettings) -> None:
    """AUTH (RFC 4954) with the password, or XOAUTH2 / OAUTHBEARER when [smtp.oauth2] is set."""
    settings = _oauth(server)
    if settings is None:
        smtp.login(server.username, server.password())
        return

    smtp.ehlo_or_helo_if_needed()  # smtplib's auth() does not, and takes 503 "send EHLO first" for success

    def attempt(token: str) -> None:
        respond = _responder(settings.mechanism, server.username, token)
        smtp.auth(settings.mechanism.upper(), respond, initial_response_ok=True)

    try:
        _with_token(settings, server, "SMTP", attempt, smtplib.SMTPAuthenticationError)
    except RouterError:
        _quietly(smtp.close)
        raise


def _quietly(close: Callable[[], object]) -> None:
    try:
        close()
    except OSError:
        pass


def _with_token(settings: OAuth2Settings, server: ServerSettings, protocol: str,
                attempt: Callable[[str], None], rejected: type[Exception]) -> None:
    source = oauth.source_for(settings)
    for forced in (False, True):
        token = source.token(force=forced)  # GrantError / TokenUnavailable propagate (the source records them)
        try:
            attempt(token)
        except rejected as exc:
            reply = _reply(exc)
            if not forced:
                log.warning("server rejected the access token; retrying once with a fresh one",
                            extra={"server": f"{server.host}:{server.port}", "protocol": protocol})
                continue
            message = (f"{protocol} {settings.mechanism.upper()} login to {server.host}:{server.port} as {server.username} "
                       f"rejected a fresh token: {reply}")
            health.login_failed(settings, "server_rejected", message)
            raise LoginError(message) from None
        health.login_ok(settings)
        return


def _reply(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{exc.smtp_code} {text.splitlines()[0][:160] if text else ''}".strip()
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:160]


def _oauth(server: ServerSettings) -> OAuth2Settings | None:
    return getattr(server, "oauth2", None)


__all__ = ["GrantError", "TokenUnavailable", "imap_login", "initial_response", "smtp_login"]
