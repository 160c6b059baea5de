"""Issue 13 end to end: the real daemon against Dovecot and aiosmtpd.

The forward of a theft mail carries the entities block, explorer links and
[URGENT]; a chaser past the SLA share escalates once (and only once, across
runs); `router status` shows the case past due; a forwarded phishing lure is
routed to security and its code is not reported as the customer's secret.
"""

from __future__ import annotations

import email.header
import json
import sqlite3
import subprocess
import time
from email.message import Message
from pathlib import Path

from daemonkit import env_for, parsed, router_cmd, write_config
from test_replies import SUPPORT, checked_run, forward_of, reply_body, reply_to

import mailkit
from router.testing import Dovecot, SmtpSink

CUSTOMER = "lilei@mail.example"
SECURITY = "security-team@exchange.example"
LEAD = "lead@exchange.example"
ADDR = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
TX = "0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060"
THEFT = (f"Someone is withdrawing my funds right now! 4,820 USDT went to {ADDR} on Ethereum.\n"
         f"TxID: {TX}\nPlease freeze my account.")
# 0.0005 h = 1.8 s: the case is past due (and past the escalation share) by the second run
SLA = {"urgent_hours": 0.0005, "security_urgent_hours": 0.0005, "escalation_share": 0.5,
       "escalation_address": LEAD}


def mail(mid: str, subject: str, body: str, **extra: str) -> bytes:
    return mailkit.mail(subject, body, sender=f"李雷 <{CUSTOMER}>", to=SUPPORT, message_id=mid, extra=extra)


def subject_of(msg: Message) -> str:
    return str(email.header.make_header(email.header.decode_header(msg["Subject"])))


def text_of(msg: Message) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            data = part.get_payload(decode=True)
            assert isinstance(data, bytes)
            return data.decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no text part")


def escalations(sink: SmtpSink) -> list[Message]:
    return [m for m in (parsed(r.data) for r in sink.messages) if m.get("X-Router-Escalation")]


def record(tmp_path: Path, mid: str) -> dict[str, object]:
    db = sqlite3.connect(tmp_path / "state" / "router.sqlite3")
    try:
        row = db.execute("SELECT record FROM messages WHERE message_id=?", (mid,)).fetchone()
        assert row is not None, mid
        out: dict[str, object] = json.loads(row[0])
        return out
    finally:
        db.close()


def status(cfg: Path, dovecot: Dovecot) -> str:
    proc = subprocess.run(router_cmd(cfg, "status"), env=env_for(dovecot), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_theft_forward_escalation_once_and_status_past_due(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    first = "<theft-1@mail.example>"
    dovecot.append("INBOX", mail(first, "账户被盗-UID12345678", THEFT))
    cfg = write_config(tmp_path, dovecot, smtp_sink, sla=SLA)
    checked_run(cfg, dovecot)

    fwds = forward_of(smtp_sink, first)
    assert len(fwds) == 1
    fwd, rec = fwds[0]
    assert rec.rcpt_tos == (SECURITY,)
    assert subject_of(fwd).startswith("[URGENT][SECURITY]"), subject_of(fwd)
    assert fwd["Importance"] == "high" and fwd["X-Priority"].startswith("1") and fwd["X-Router-Priority"] == "urgent"
    header = json.loads("".join(str(fwd["X-Router-Entities"]).split()))
    assert header["txid"] == [{"value": TX, "chain": "ethereum"}] and header["uid"] == ["12345678"]
    text = text_of(fwd)
    assert text.startswith("What to act on:"), text[:300]
    assert f"TxID: {TX} (ethereum)" in text and f"https://etherscan.io/tx/{TX}" in text
    assert f"https://etherscan.io/address/{ADDR}" in text and "Amount: 4820 USDT" in text
    case_id = fwd["X-Router-Case-Id"]
    ack = reply_to(smtp_sink, first)
    assert len(ack) == 1 and "within 0.0005 hours" in reply_body(ack[0][0])  # the case's real window
    assert not escalations(smtp_sink)

    time.sleep(2)  # past the share and past due
    assert f"case #{case_id} past due" in status(cfg, dovecot)

    chase = "<theft-2@mail.example>"
    dovecot.append("INBOX", mail(chase, f"Re: [Case #{case_id}] 账户被盗-UID12345678", "Third time asking: still no reply!"))
    checked_run(cfg, dovecot)
    esc = escalations(smtp_sink)
    assert len(esc) == 1, [subject_of(m) for m in esc]
    assert esc[0]["To"] == LEAD and subject_of(esc[0]).startswith("[ESCALATED][URGENT]")
    assert esc[0]["X-Router-Case-Id"] == case_id
    assert record(tmp_path, chase)["escalated"] is True and record(tmp_path, chase)["chaser"] is True

    again = "<theft-3@mail.example>"
    dovecot.append("INBOX", mail(again, f"Re: [Case #{case_id}] 账户被盗-UID12345678", "还没有回复？请尽快处理"))
    checked_run(cfg, dovecot)
    checked_run(cfg, dovecot)  # and a run with nothing new
    assert len(escalations(smtp_sink)) == 1  # only once for the case, across runs
    assert record(tmp_path, again)["escalated"] is False
    out = status(cfg, dovecot)
    assert f"case #{case_id} past due" in out and "escalated" in out


LURE = """您好，我收到下面这封邮件，这是你们发的吗？是真的吗？

---------- Forwarded message ---------
From: Exchange Support <security@exchange-support.top>
Date: Mon, 23 Nov 2026 10:00
Subject: Your account will be frozen
To: <lilei@mail.example>

Dear user, your account will be frozen. Verify now at https://exchange-support.top/login
Your verification code: 482913
"""


def test_phishing_report_goes_to_security_without_the_lure_code_as_a_secret(
        tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    mid = "<lure-1@mail.example>"
    dovecot.append("INBOX", mail(mid, "这是你们发的邮件吗", LURE))
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    checked_run(cfg, dovecot)
    fwds = forward_of(smtp_sink, mid)
    assert len(fwds) == 1
    fwd, rec = fwds[0]
    assert rec.rcpt_tos == (SECURITY,)
    assert fwd["X-Router-Phishing"] == "report" and fwd["X-Router-Secrets"] == "none"
    assert b"482913" not in rec.data  # still redacted in the team's copy
    assert "PHISHING REPORT" in text_of(fwd) and "hxxps://exchange-support.top/login" in text_of(fwd)
    r = record(tmp_path, mid)
    assert r["secrets"] == [] and r["lure_secrets"] == ["otp"] and r["route"] == "security"
    assert isinstance(r["phishing_report"], dict) and "exchange-support.top" in r["phishing_report"]["domains"]
    ack = reply_to(smtp_sink, mid)
    assert len(ack) == 1
    body = reply_body(ack[0][0])
    assert "关于您转发的邮件" in body and "exchange.example" in body and "无需其他操作" in body
    assert "您的账户可能存在风险" not in body  # no "you sent your secrets" warning for the lure's code
