"""One SMTP connection, reused across a batch, with 4xx/5xx told apart.

A 4xx answer or a dropped connection is temporary (`TempFail`: the message
stays in the mailbox and is retried with backoff); a 5xx answer is permanent
(`PermFail`: the message goes to the dead-letter folder with the reason).
"""

from __future__ import annotations

import email
import email.policy
import logging
import smtplib
import socket
import ssl
from collections.abc import Callable
from email.message import EmailMessage

from router.config import SmtpSettings
from router.errors import RouterError
from router.oauth.sasl import smtp_login

log = logging.getLogger(__name__)


class TempFail(Exception):
    """Try again later."""


class PermFail(Exception):
    """Never try again; dead-letter the message."""


class Outbox:
    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context()
        if s.host in ("127.0.0.1", "localhost", "::1"):
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        smtp: smtplib.SMTP
        if s.security == "ssl":
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            if s.security == "starttls":
                smtp.starttls(context=context)
        if s.username:
            smtp_login(smtp, s)  # AUTH with the password, or XOAUTH2/OAUTHBEARER with [smtp.oauth2] (RFC 7628)
        return smtp

    def _open(self) -> smtplib.SMTP:
        """Connect and log in.  Any failure here is about the relay or our own
        credentials, not about the message: it is temporary (TempFail), so
        mail waits in the inbox instead of being dead-lettered."""
        try:
            return self._connect()
        except (smtplib.SMTPException, OSError, ssl.SSLError, RouterError) as exc:
            raise TempFail(f"cannot connect or log in to SMTP {self.settings.host}:{self.settings.port}: "
                           f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}") from None

    def send(self, msg: EmailMessage, sender: str, recipients: list[str]) -> None:
        """Send one message; raises TempFail or PermFail."""
        self._deliver(lambda smtp: smtp.send_message(msg, from_addr=sender, to_addrs=recipients))

    def send_bytes(self, wire: bytes, sender: str, recipients: list[str]) -> None:
        """Send a message already serialised with CRLF line ends (RFC 5321 section 2.3.8).

        Saves serialising an `EmailMessage` on every send.  Our headers are
        ASCII (the email package encodes them, RFC 2047); an address that is
        not needs SMTPUTF8 (RFC 6531), which smtplib's send_message decides, so
        such a send goes through it.
        """
        if not (sender.isascii() and all(r.isascii() for r in recipients)):
            self.send(email.message_from_bytes(wire, policy=email.policy.SMTP), sender, recipients)
            return
        self._deliver(lambda smtp: smtp.sendmail(sender, recipients, wire))

    def _deliver(self, transaction: Callable[[smtplib.SMTP], dict[str, tuple[int, bytes]]]) -> None:
        """One mail transaction on the kept-open connection, with one fresh try if the server had dropped it."""
        for attempt in (1, 2):
            try:
                if self._smtp is None:
                    self._smtp = self._open()
                refused = transaction(self._smtp)
                if refused:
                    codes = {code for code, _ in refused.values()}
                    raise (PermFail if all(c >= 500 for c in codes) else TempFail)(f"recipients refused: {sorted(codes)}")
                return
            except smtplib.SMTPServerDisconnected as exc:
                self.close()
                if attempt == 2:  # a reused connection may have timed out; one fresh try
                    raise TempFail(f"SMTP disconnected: {exc}") from None
            except smtplib.SMTPRecipientsRefused as exc:
                codes = {code for code, _ in exc.recipients.values()}
                self._reset()
                raise (PermFail if all(c >= 500 for c in codes) else TempFail)(f"recipients refused: {_codes(exc.recipients)}") from None
            except smtplib.SMTPResponseException as exc:
                self._reset()
                text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
                if exc.smtp_code == 421:
                    self.close()
                reason = f"SMTP {exc.smtp_code} {text.splitlines()[0][:200] if text else ''}".strip()
                raise (PermFail if exc.smtp_code >= 500 else TempFail)(reason) from None
            except (OSError, socket.timeout, ssl.SSLError, smtplib.SMTPException) as exc:
                self.close()
                raise TempFail(f"SMTP connection problem: {type(exc).__name__}: {str(exc)[:200]}") from None

    def _reset(self) -> None:
        try:
            if self._smtp is not None:
                self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            try:
                smtp.close()
            except OSError:
                pass


def _codes(recipients: dict[str, tuple[int, bytes]]) -> str:
    return ", ".join(f"{addr}: {code}" for addr, (code, _msg) in recipients.items())
