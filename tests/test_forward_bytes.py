"""`forward_bytes` (the original's bytes spliced in) sends the forward `build_forward` makes.

The drain builds forwards as bytes so the original is not parsed and
serialised again; a team must still get exactly the message the careful
path builds: the entities block and its one-line X-Router-Entities header,
the [URGENT] tag and priority headers, the escalation marks, the redacted
copy, the base64 copy of a mail SMTP would refuse.  Only the Date (the clock)
and the MIME boundary (random per serialisation) may differ.
"""

from __future__ import annotations

import re

import pytest

import mailkit
from router import config, parse, pipeline
from router.act.forward import _flatten, build_forward, forward_bytes
from router.config import Settings

ADDR = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
TX = "0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060"
THEFT = (f"Someone is withdrawing my funds right now! 4,820 USDT went to {ADDR} on Ethereum.\n"
         f"TxID: {TX}\nPlease freeze my account.")
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


def _cases() -> list[tuple[str, bytes]]:
    out = [
        ("theft-urgent", mailkit.mail("账户被盗-UID12345678", THEFT, message_id="<b1@mail.example>")),
        ("attachment", mailkit.mail("Withdrawal Failed - UID 12345678", "My withdrawal failed, screenshot attached.",
                                    message_id="<b2@mail.example>", attachments=[("shot.png", PNG, "image/png")])),
        ("secret", mailkit.mail("help", "My password is hunter2hunter2 and my 2FA seed JBSWY3DPEHPK3PXP",
                                message_id="<b3@mail.example>")),
        ("long-line", b"From: customer@mail.example\r\nTo: support@exchange.example\r\nSubject: long\r\n"
                      b"Message-ID: <b4@mail.example>\r\n\r\n" + b"x" * 1200 + b"\r\n"),  # SMTP would refuse it
        ("bare-lf", mailkit.mail("Deposit not credited UID 23456789", "My deposit is missing.\nPlease check.",
                                 message_id="<b5@mail.example>").replace(b"\r\n", b"\n")),
        ("display-name", mailkit.mail("Withdrawal Failed - UID 12345678", "My withdrawal failed.",
                                      sender="=?utf-8?b?5byg5LiJ?= <zhang.san@mail.example>", message_id="<b6@mail.example>")),
        ("long-zh-subject", mailkit.mail("提现失败-UID12345678 " + "我的提现一直没有到账，" * 8, "请帮忙查一下。",
                                         message_id="<b7@mail.example>")),
        ("odd-message-id", mailkit.mail("Where is my money", "Deposit missing since Monday.",
                                        message_id="<" + "=?utf-8?q?x?=" + "y" * 90 + "@mail.example>")),
    ]
    return out + mailkit.teams_mails(40)


_DATE = re.compile(rb"\r\nDate: [^\r]*\r\n")


def _normal(wire: bytes) -> bytes:
    """The wire form with the Date and the generator's boundaries replaced by fixed text."""
    for n, b in enumerate(sorted(set(re.findall(rb"={15}\d+==", wire)), key=wire.index)):
        wire = wire.replace(b, b"BOUNDARY%d" % n)
    return _DATE.sub(b"\r\nDate: DATE\r\n", wire, count=1)


@pytest.fixture(scope="module")
def settings() -> Settings:
    return config.load(None, search=False)


@pytest.mark.parametrize(("name", "raw"), _cases(), ids=[n for n, _ in _cases()])
@pytest.mark.parametrize("purpose", ["fwd", "escalation"])
def test_forward_bytes_is_build_forward(settings: Settings, name: str, raw: bytes, purpose: str) -> None:
    mail, decision = pipeline.decide_mail(parse.parse(raw, settings.limits), settings, None)
    to = "security-team@exchange.example"
    wire, mid = forward_bytes(raw, mail, decision, to, settings, purpose)
    careful = build_forward(raw, mail, decision, to, settings, purpose)
    assert mid == str(careful["Message-ID"])
    assert _normal(wire) == _normal(_flatten(careful)), name
    assert all(len(line) <= 998 for line in wire.split(b"\r\n")), name  # what SMTP takes


def test_the_cases_cover_what_the_forward_adds(settings: Settings) -> None:
    """The comparison above is only worth something if the cases reach every part of the forward."""
    wires = []
    for _, raw in _cases():
        mail, decision = pipeline.decide_mail(parse.parse(raw, settings.limits), settings, None)
        wires.append(forward_bytes(raw, mail, decision, "t@exchange.example", settings, "escalation")[0])
    joined = b"\n".join(wires)
    for part in (b"X-Router-Entities: {", b"Subject: [ESCALATED][URGENT]", b"X-Priority: 1", b"What to act on:",
                 b"X-Router-Redacted: yes", b"application/octet-stream", b"message/rfc822", b"X-Router-Phishing"):
        assert part in joined, part
