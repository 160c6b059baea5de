"""Originals that break SMTP's rules still reach their team (issue 11).

Real mailboxes hold mail no SMTP server would accept again as it is: a
10,000-character References header from a long Outlook thread (RFC 5322
section 2.1.1 limits a line to 998 octets), NUL bytes, raw 8-bit headers.
aiosmtpd enforces the line limit (500 Line too long), so these tests prove
the forward is accepted by a real server, not merely built.
"""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

from daemonkit import REPO, forwards, mailbox_ids, parsed, run_once, write_config
from router import classify, config, pipeline
from router.act.forward import build_forward
from router.act.outbox import Outbox
from router.testing import Dovecot, SmtpSink

SECURITY_TEAM = "security-team@exchange.example"


def _theft_mail(mid: str, extra_headers: bytes = b"", body: bytes = b"") -> bytes:
    return (
        b"From: Li Wei <liwei@mail.example>\r\n"
        b"To: support@exchange.example\r\n"
        b"Subject: Account hacked - UID 12345678\r\n"
        b"Date: Tue, 24 Nov 2026 09:00:00 +0000\r\n"
        b"Message-ID: " + mid.encode() + b"\r\n"
        + extra_headers
        + b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n"
        + (body or b"Someone logged into my account from an unknown device and withdrew all my USDT. I did not do this.\r\n")
    )


def _long_references() -> bytes:
    ids = " ".join(f"<thread.{i:05d}.abcdefghij@outlook.example>" for i in range(260))
    assert len(ids) > 10_000
    return b"References: " + ids.encode() + b"\r\n"


def _forward_for(sink: SmtpSink, mid: str) -> email.message.Message:
    for m in sink.messages:
        msg = parsed(m.data)
        if (msg.get("X-Router-Original-Message-ID") or "") == mid:
            return msg
    raise AssertionError(f"no forward for {mid}")


def _max_line(data: bytes) -> int:
    return max(len(line) for line in data.split(b"\r\n"))


def test_long_header_lines_are_forwarded_to_the_team(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    long_id, raw8_id = "<long-refs@mail.example>", "<raw8@mail.example>"
    dovecot.append("INBOX", _theft_mail(long_id, _long_references()))
    dovecot.append("INBOX", _theft_mail(raw8_id, b"X-Note: \xe8\xb4\xa6\xe6\x88\xb7\xe8\xa2\xab\xe7\x9b\x97 " + b"x" * 1200 + b"\r\n"))
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    done = run_once(cfg, dovecot)
    assert done.returncode == 0, done.stderr[-2000:]
    boxes = mailbox_ids(dovecot)
    fw = forwards(smtp_sink)
    for mid in (long_id, raw8_id):
        assert [rcpt for _, rcpt in fw.get(mid, [])] == [(SECURITY_TEAM,)], (mid, {k: v for k, v in boxes.items() if v})
        assert mid in boxes["Routed/Security"], boxes
    for m in smtp_sink.messages:
        assert _max_line(m.data) <= 998
    # the forward says what was changed, and the attached original is the
    # customer's mail byte for byte
    long_fw = _forward_for(smtp_sink, long_id)
    assert "998" in _summary(long_fw)
    assert _original(long_fw) == _theft_mail(long_id, _long_references())
    assert "8-bit" in _summary(_forward_for(smtp_sink, raw8_id))


def test_nul_byte_is_forwarded_through_a_real_smtp_server(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    """Dovecot itself turns NUL into 0x80 on FETCH BODY[], so the NUL is fed in-process.

    Other servers (and a FETCH BINARY[]) hand NUL bytes over as they are.
    """
    raw = _theft_mail("<nul-byte@mail.example>", body=b"Someone stole my account and withdrew my BTC\x00 without me.\r\n")
    settings = config.load(write_config(tmp_path, dovecot, smtp_sink), search=False)
    mail, decision = pipeline.triage(raw, settings, classify.load(REPO / "models" / "current.joblib"))
    assert decision.route == "security", decision.to_record()
    outbox = Outbox(settings.smtp)
    try:
        outbox.send(build_forward(raw, mail, decision, SECURITY_TEAM, settings), settings.smtp.from_address, [SECURITY_TEAM])
    finally:
        outbox.close()
    fw = _forward_for(smtp_sink, "<nul-byte@mail.example>")
    assert "NUL" in _summary(fw)
    assert _original(fw) == raw


def _summary(msg: email.message.Message) -> str:
    part = next(p for p in msg.walk() if p.get_content_type() == "text/plain")
    return bytes(part.get_payload(decode=True)).decode()


def _original(msg: email.message.Message) -> bytes:
    part = next(p for p in msg.walk() if p.get_filename() == "original.eml")
    assert part.get_content_type() == "application/octet-stream"
    return bytes(part.get_payload(decode=True))
