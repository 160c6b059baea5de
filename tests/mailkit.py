"""One builder for the test mail: a customer's message as bytes (or EmailMessage).

Headers are written in the order given, then any extra ones; a header value
of None is left out.  Attachments are (filename, bytes, "maintype/subtype").
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from email.message import EmailMessage
from pathlib import Path

SUPPORT = "support@exchange.example"
DATE = "Tue, 24 Nov 2026 09:00:00 +0000"
TEAMS_MAILS = Path(__file__).resolve().parents[1] / "evaluation" / "teams"


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


def teams_mails(n: int) -> list[tuple[str, bytes]]:
    """The first `n` mails of evaluation/teams as (id, raw bytes): real-client .eml files as they
    are, the others built here.  Used as varied input where a test compares two ways of writing
    the same outgoing mail, never to tune a check."""
    out = []
    for line in (TEAMS_MAILS / "mails.jsonl").read_text(encoding="utf-8").splitlines()[:n]:
        row = json.loads(line)
        if "eml" in row:
            raw = (TEAMS_MAILS / row["eml"]).read_bytes()
        else:
            raw = mail(row["subject"], row["text"], sender="customer@mail.example", message_id=f"<{row['id']}@mail.example>")
        out.append((row["id"], raw))
    return out
