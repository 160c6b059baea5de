"""One builder for the test mail: a customer's message as bytes (or EmailMessage).

Headers are written in the order given, then any extra ones; a header value
of None is left out.  Attachments are (filename, bytes, "maintype/subtype").
"""

from __future__ import annotations

from collections.abc import Iterable
from email.message import EmailMessage

SUPPORT = "support@exchange.example"
DATE = "Tue, 24 Nov 2026 09:00:00 +0000"


def build(headers: Iterable[tuple[str, str | None]], body: str,
          attachments: Iterable[tuple[str, bytes, str]] = ()) -> EmailMessage:
    msg = EmailMessage()
    for name, value in headers:
        if value is not None:
            msg[name] = value
    msg.set_content(body)
    for filename, data, ctype in attachments:
        maintype, _, subtype = ctype.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg


def mail(subject: str, body: str, *, sender: str = "customer@mail.example", to: str = SUPPORT,
         message_id: str = "<m1@mail.example>", date: str | None = DATE, extra: dict[str, str] | None = None,
         attachments: Iterable[tuple[str, bytes, str]] = ()) -> bytes:
    """From, To, Subject, Date, Message-ID, then `extra` (keys may use _ for -)."""
    headers: list[tuple[str, str | None]] = [("From", sender), ("To", to), ("Subject", subject), ("Date", date),
                                             ("Message-ID", message_id)]
    headers += [(k.replace("_", "-"), v) for k, v in (extra or {}).items()]
    return bytes(build(headers, body, attachments))
