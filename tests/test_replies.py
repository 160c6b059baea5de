"""Acknowledgements (SPEC 5, 6, 7) with the real daemon, Dovecot and aiosmtpd.

Every test runs `router run --once` as a subprocess against real servers and
judges what really left over SMTP and where the originals were filed.
"""

from __future__ import annotations

import email
import email.header
import email.policy
import io
import json
import random
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from daemonkit import (env_for, forwards, mailbox_ids, parsed, replies, router_cmd, run_once,
                       write_config)

import mailkit
from router.testing import Dovecot, ReceivedMessage, SmtpSink

SUPPORT = "support@exchange.example"
HELPDESK = "helpdesk@other.example"
DATE = "Tue, 24 Nov 2026 09:00:00 +0000"
NORMAL_SUBJECT = "Withdrawal Failed - UID 12345678"
NORMAL_BODY = "Hello, my USDT withdrawal failed yesterday and the money has not come back. Please check."
SEED = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"


# -- building mail ----------------------------------------------------------------
def _hdr(value: str) -> str:
    """A header value as a mailer writes it: RFC 2047 words when not ASCII."""
    return value if value.isascii() else email.header.Header(value, "utf-8").encode()


def raw_mail(mid: str, sender: str = "alice@mail.example", subject: str = NORMAL_SUBJECT, body: str = NORMAL_BODY,
             headers: tuple[tuple[str, str], ...] = (), to: str = SUPPORT) -> bytes:
    """A plain-text message written line by line (so odd headers such as `From: <>` stay as given)."""
    lines = [f"From: {sender}", f"To: {to}", f"Subject: {_hdr(subject)}", f"Date: {DATE}", f"Message-ID: {mid}"]
    lines += [f"{k}: {v}" for k, v in headers]
    lines += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit", "", body, ""]
    return "\r\n".join(lines).encode("utf-8")


def _part(ctype: str, body: str) -> Message:
    return email.message_from_string(f"Content-Type: {ctype}\n\n{body}", policy=email.policy.default)


def report_mail(mid: str, sender: str, report_type: str, part_type: str, part_body: str,
                subject: str = "Delivery Status Notification", outer: str | None = None) -> bytes:
    """A multipart/report (RFC 6522) as MTAs and mail clients send them."""
    msg = mailkit.build([("From", sender), ("To", SUPPORT), ("Subject", subject), ("Date", DATE), ("Message-ID", mid)],
                        "This is an automatically generated report about a message you sent.")
    msg.make_mixed()
    msg.replace_header("Content-Type", outer or f'multipart/report; report-type={report_type}; boundary="rep-{abs(hash(mid))}"')
    msg.attach(_part(part_type, part_body))
    return bytes(msg)


DSN = "Reporting-MTA: dns; mx.other.example\n\nFinal-Recipient: rfc822; gone@other.example\nAction: failed\nStatus: 5.1.1\n"
MDN = "Reporting-UA: mail.example\nFinal-Recipient: rfc822; alice@mail.example\nDisposition: manual-action/MDN-sent-manually; displayed\n"
ARF = "Feedback-Type: abuse\nUser-Agent: SomeGenerator/1.0\nVersion: 1\n"


def jpeg_bytes(seed: int = 1) -> bytes:
    """A real JPEG of random noise: well above the 4 KiB below which images count as logos."""
    from PIL import Image

    rnd = random.Random(seed)
    img = Image.frombytes("RGB", (160, 120), bytes(rnd.getrandbits(8) for _ in range(160 * 120 * 3)))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    data = buf.getvalue()
    assert data[:3] == b"\xff\xd8\xff" and len(data) >= 4096
    return data


# -- reading what was sent -----------------------------------------------------------
def text_of(msg: Message) -> str:
    """Headers and every decoded leaf part, nested messages included."""
    out = [str(k) + ": " + str(v) for k, v in msg.items()]
    for part in msg.walk():
        out += [f"{k}: {v}" for k, v in part.items()]
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            out.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
    return "\n".join(out)


def reply_body(msg: Message) -> str:
    part = next(p for p in msg.walk() if p.get_content_type() == "text/plain")
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes)
    return data.decode(part.get_content_charset() or "utf-8")


def reply_to(sink: SmtpSink, mid: str) -> list[tuple[Message, ReceivedMessage]]:
    return [(m, r) for m, r in replies(sink) if (m.get("In-Reply-To") or "").strip() == mid]


def forward_of(sink: SmtpSink, mid: str) -> list[tuple[Message, ReceivedMessage]]:
    return [(parsed(r.data), r) for r in sink.messages
            if (parsed(r.data).get("X-Router-Original-Message-ID") or "").strip() == mid]


def header_block(data: bytes) -> bytes:
    return re.split(rb"\r?\n\r?\n", data, maxsplit=1)[0]


def checked_run(cfg: Path, server: Dovecot) -> subprocess.CompletedProcess[str]:
    proc = run_once(cfg, server)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return proc


# -- module-scoped servers (one Dovecot run shared by the per-rule checks) -----------
@pytest.fixture(scope="module")
def module_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Dovecot, SmtpSink, Path]]:
    base = Path(tempfile.mkdtemp(prefix="dv", dir="/tmp"))  # short path for Dovecot's sockets (see conftest)
    server = Dovecot(base)
    tmp = tmp_path_factory.mktemp("rules")
    try:
        server.start()
        with SmtpSink() as sink:
            yield server, sink, tmp
    finally:
        server.stop()
        if server.log_file.exists():
            shutil.copy(server.log_file, tmp / "dovecot.log")
        shutil.rmtree(base, ignore_errors=True)


# =====================================================================================
# 1. Reply storm between two routers, and a bounce storm
# =====================================================================================
@dataclass
class Side:
    name: str
    address: str
    server: Dovecot
    sink: SmtpSink
    cfg: Path
    relayed: int = 0  # sink messages already looked at by the relay
    replies_by_round: list[list[str]] = field(default_factory=list)


def _relay(src: Side, dst: Side) -> int:
    """Deliver what src's router sent to dst's address into dst's INBOX, as an MTA would.

    The relay adds no Return-Path: only what the routers write into their own
    replies can stop the loop.
    """
    new = src.sink.messages[src.relayed:]
    src.relayed += len(new)
    delivered = 0
    for m in new:
        if dst.address in [r.lower() for r in m.rcpt_tos]:
            dst.server.append("INBOX", m.data)
            delivered += 1
    return delivered


def test_reply_storm_between_two_routers_dies_out(tmp_path: Path, dovecot_factory: Callable[..., Dovecot]) -> None:
    server_a = dovecot_factory(user=SUPPORT)
    server_b = dovecot_factory(user=HELPDESK)
    with SmtpSink() as sink_a, SmtpSink() as sink_b:
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        cfg_a = write_config(tmp_path / "a", server_a, sink_a, sender={"own_addresses": [SUPPORT]})
        cfg_b = write_config(
            tmp_path / "b", server_b, sink_b,
            smtp={"from_address": HELPDESK},
            sender={"own_addresses": [HELPDESK], "loop_header": "X-Helpdesk-Loop"},
            routes={"security": "sec@other.example", "compliance": "kyc@other.example",
                    "general": "team@other.example", "review": "triage@other.example"},
        )
        a = Side("A", SUPPORT, server_a, sink_a, cfg_a)
        b = Side("B", HELPDESK, server_b, sink_b, cfg_b)

        # One customer mail each way: the other router's mailbox writes to us, we write to it.
        first_a = "<storm-to-support@other.example>"
        first_b = "<storm-to-helpdesk@exchange.example>"
        server_a.append("INBOX", raw_mail(first_a, sender=f"Helpdesk <{HELPDESK}>", to=SUPPORT))
        server_b.append("INBOX", raw_mail(first_b, sender=f"Support <{SUPPORT}>", to=HELPDESK,
                                          subject="Deposit Not Credited - UID 87654321",
                                          body="Hello, our deposit to your platform has not arrived. Please check."))
        # Bounce storm: 30 delivery-status reports from MAILER-DAEMON.
        bounce_ids = [f"<bounce-{i}@mx.other.example>" for i in range(30)]
        for i, mid in enumerate(bounce_ids):
            sender = "Mail Delivery Subsystem <MAILER-DAEMON@mx.other.example>" if i % 2 else "MAILER-DAEMON@mx.other.example"
            server_a.append("INBOX", report_mail(mid, sender, "delivery-status", "message/delivery-status", DSN,
                                                 subject=f"Undelivered Mail Returned to Sender ({i})"))

        relayed_by_round = []
        for _round in range(6):
            before = {side.name: len(replies(side.sink)) for side in (a, b)}
            procs = [(side, subprocess.Popen(router_cmd(side.cfg, "run", "--once"), env=env_for(side.server),
                                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)) for side in (a, b)]
            for side, proc in procs:  # both routers of a round run at once, like two real sites
                _out, err = proc.communicate(timeout=120)
                assert proc.returncode == 0 and "Traceback" not in err, (side.name, _round, err[-3000:])
                side.replies_by_round.append([r.rcpt_tos[0].lower() for _m, r in replies(side.sink)[before[side.name]:]])
            relayed_by_round.append(_relay(a, b) + _relay(b, a))

        for side in (a, b):
            per_sender = Counter(addr for rnd in side.replies_by_round for addr in rnd)
            assert all(n <= 1 for n in per_sender.values()), (side.name, per_sender)
            assert all(not rnd for rnd in side.replies_by_round[2:]), (side.name, side.replies_by_round)
            assert side.server.uids("INBOX") == [], side.name
        assert relayed_by_round[2:] == [0, 0, 0, 0], relayed_by_round
        # The two customer mails were acknowledged (the storm test is not vacuous) ...
        assert [r.rcpt_tos for _m, r in reply_to(sink_a, first_a)] == [(HELPDESK,)]
        assert [r.rcpt_tos for _m, r in reply_to(sink_b, first_b)] == [(SUPPORT,)]
        # ... and each router filed the other's acknowledgement as automated, unanswered.
        boxes_a, boxes_b = mailbox_ids(server_a), mailbox_ids(server_b)
        ack_from_b = reply_to(sink_b, first_b)[0][0]["Message-ID"].strip()
        ack_from_a = reply_to(sink_a, first_a)[0][0]["Message-ID"].strip()
        assert ack_from_b in boxes_a.get("Automated", []), boxes_a
        assert ack_from_a in boxes_b.get("Automated", []), boxes_b
        # Bounces: never answered, all filed in Automated.
        assert not any(r.rcpt_tos[0].lower().startswith("mailer-daemon") for _m, r in replies(sink_a))
        assert [mid for mid in bounce_ids if reply_to(sink_a, mid)] == []
        assert sorted(set(bounce_ids) - set(boxes_a.get("Automated", []))) == []
        assert len(replies(sink_a)) == 1 and len(replies(sink_b)) == 1


# =====================================================================================
# 2. Every automatic-sender rule of SPEC 6: filed in Automated, never answered
# =====================================================================================
def _rule(name: str, **kw: Any) -> tuple[str, bytes]:
    mid = f"<rule-{name}@mail.example>"
    kw.setdefault("sender", f"{name}@mail.example")
    return name, raw_mail(mid, **kw)


def _h(name: str, *headers: tuple[str, str]) -> tuple[str, bytes]:
    return _rule(name, headers=headers)


RULE_MAILS: list[tuple[str, bytes]] = [
    _h("auto-submitted-auto-replied", ("Auto-Submitted", "auto-replied")),
    _h("auto-submitted-auto-generated", ("Auto-Submitted", "auto-generated")),
    _h("auto-submitted-auto-notified-params", ("Auto-Submitted", 'auto-notified; owner-email="x@mail.example"')),
    _h("auto-submitted-capitals", ("Auto-Submitted", "Auto-Replied")),
    *[_h(f"precedence-{v}", ("Precedence", v)) for v in ("bulk", "junk", "list", "auto_reply")],
    *[_h(f"x-precedence-{v}", ("X-Precedence", v)) for v in ("bulk", "junk", "list", "auto_reply")],
    _h("list-id", ("List-Id", "Exchange news <news.exchange.example>")),
    _h("list-unsubscribe", ("List-Unsubscribe", "<mailto:unsubscribe@lists.mail.example>")),
    _h("list-post", ("List-Post", "<mailto:list@lists.mail.example>")),
    _h("list-help", ("List-Help", "<mailto:help@lists.mail.example>")),
    *[_h(f"x-auto-response-suppress-{t.lower()}", ("X-Auto-Response-Suppress", t)) for t in ("All", "OOF", "AutoReply", "DR", "RN", "NRN")],
    _h("x-auto-response-suppress-list", ("X-Auto-Response-Suppress", "DR, RN, NRN, OOF, AutoReply")),
    _h("x-autoreply", ("X-Autoreply", "yes")),
    _h("x-autorespond", ("X-Autorespond", "Vacation")),
    _h("x-autoresponder", ("X-Autoresponder", "yes")),
    _h("x-autoreply-from", ("X-AutoReply-From", "carol@mail.example")),
    _h("x-mail-autoreply", ("X-Mail-Autoreply", "yes")),
    _h("x-autogenerated-reply", ("X-Autogenerated", "Reply")),
    _h("x-loop", ("X-Loop", "carol@mail.example")),
    _h("return-path-null", ("Return-Path", "<>")),
    _rule("from-null", sender="<>"),
    _rule("from-mailer-daemon", sender="Mail Delivery System <MAILER-DAEMON@mx.mail.example>"),
    _rule("sender-mailer-daemon", headers=(("Sender", "MAILER-DAEMON@mx.mail.example"),)),
    _rule("return-path-mailer-daemon", headers=(("Return-Path", "<MAILER-DAEMON@mx.mail.example>"),)),
    _rule("from-postmaster", sender="postmaster@mail.example"),
    _rule("from-noreply", sender="Exchange News <noreply@news.example>"),
    _rule("from-no-reply", sender="no-reply@news.example"),
    _rule("from-donotreply", sender="donotreply@news.example"),
    _rule("from-owner", sender="owner-traders@lists.mail.example"),
    _rule("from-request", sender="traders-request@lists.mail.example"),
    _rule("sender-owner", headers=(("Sender", "owner-traders@lists.mail.example"),)),
    _rule("return-path-request", headers=(("Return-Path", "<traders-request@lists.mail.example>"),)),
    ("report-delivery-status", report_mail("<rule-report-delivery-status@mail.example>", "Mail Admin <admin@mx.mail.example>",
                                           "delivery-status", "message/delivery-status", DSN)),
    ("report-delivery-status-plain-subject", report_mail("<rule-report-delivery-status-plain-subject@mail.example>",
                                                         "Gina <gina@mail.example>", "delivery-status",
                                                         "message/delivery-status", DSN, subject=NORMAL_SUBJECT)),
    ("report-disposition", report_mail("<rule-report-disposition@mail.example>", "Dan <dan@mail.example>",
                                       "disposition-notification", "message/disposition-notification", MDN,
                                       subject="Read: Withdrawal Failed - UID 12345678")),
    ("report-disposition-not-report-subject", report_mail("<rule-report-disposition-not-report-subject@mail.example>",
                                                          "Erin <erin@mail.example>", "disposition-notification",
                                                          "message/disposition-notification", MDN, subject=NORMAL_SUBJECT)),
    ("report-feedback", report_mail("<rule-report-feedback@mail.example>", "Abuse Desk <abuse@isp.example>",
                                    "feedback-report", "message/feedback-report", ARF, subject="Abuse report")),
    ("delivery-status-in-mixed", report_mail("<rule-delivery-status-in-mixed@mail.example>", "Frank <frank@mail.example>",
                                             "", "message/delivery-status", DSN, subject=NORMAL_SUBJECT,
                                             outer='multipart/mixed; boundary="mixed-dsn"')),
    _rule("own-address", sender=f"Support <{SUPPORT}>"),
    _rule("own-address-capitals", sender="Support@Exchange.Example"),
    _rule("own-team-address", sender="security-team@exchange.example"),
    _rule("reply-to-own-address", headers=(("Reply-To", SUPPORT),)),
    _h("own-loop-header", ("X-Router-Loop", SUPPORT)),
    _rule("subject-automatic-reply", subject="Automatic reply: Withdrawal Failed - UID 12345678"),
    _rule("subject-out-of-office", subject="Out of Office"),
    _rule("subject-out-of-office-colon", subject="Out of Office: Withdrawal Failed - UID 12345678"),
    _rule("subject-zh-auto-reply", subject="自动回复：提现失败-UID12345678", body="您好，我正在休假，回来后回复您。"),
    _rule("subject-zh-auto-reply-alone", subject="自动回复", body="您好，我正在休假，回来后回复您。"),
    _rule("subject-auto-colon", subject="Auto: Withdrawal Failed - UID 12345678"),
    _rule("subject-undeliverable", subject="Undeliverable: Withdrawal Failed - UID 12345678"),
]
RULE_NAMES = [name for name, _ in RULE_MAILS]
CONTROL_MID = "<rule-control@mail.example>"


@dataclass
class RulesRun:
    proc: subprocess.CompletedProcess[str]
    sink: SmtpSink
    boxes: dict[str, list[str]]
    inbox_left: list[int]


@pytest.fixture(scope="module")
def rules_run(module_servers: tuple[Dovecot, SmtpSink, Path]) -> RulesRun:
    server, sink, tmp = module_servers
    assert len(set(RULE_NAMES)) == len(RULE_NAMES)
    for _name, raw in RULE_MAILS:
        server.append("INBOX", raw)
    server.append("INBOX", raw_mail(CONTROL_MID, sender="Grace <grace@mail.example>"))
    cfg = write_config(tmp, server, sink)
    proc = run_once(cfg, server)
    return RulesRun(proc, sink, mailbox_ids(server), server.uids("INBOX"))


def test_rules_run_is_clean_and_the_control_mail_is_answered(rules_run: RulesRun) -> None:
    assert rules_run.proc.returncode == 0, rules_run.proc.stderr[-3000:]
    assert "Traceback" not in rules_run.proc.stderr
    assert rules_run.inbox_left == []
    control = reply_to(rules_run.sink, CONTROL_MID)
    assert [r.rcpt_tos for _m, r in control] == [("grace@mail.example",)]
    assert CONTROL_MID in rules_run.boxes["Routed/General"]
    # Exactly one acknowledgement left the building: the control's.
    assert len(replies(rules_run.sink)) == 1


@pytest.mark.parametrize("name", RULE_NAMES)
def test_automatic_sender_gets_no_reply_and_is_filed_in_automated(rules_run: RulesRun, name: str) -> None:
    mid = f"<rule-{name}@mail.example>"
    where = [folder for folder, ids in rules_run.boxes.items() if mid in ids]
    assert where == ["Automated"], f"rule {name}: filed in {where}, expected Automated"
    assert reply_to(rules_run.sink, mid) == [], f"rule {name}: an acknowledgement was sent"
    assert mid not in forwards(rules_run.sink), f"rule {name}: forwarded to a team"


# =====================================================================================
# 4. Header injection
# =====================================================================================
INJECTION_MAILS = {
    # RFC 2047 words that decode to CR/LF in the subject and in the display name
    "<inj-q-subject@mail.example>": (b"Subject: =?utf-8?q?Withdrawal_help=0D=0ABcc:_evil@attacker.example?=\r\n"
                                     b"From: Mallory <mallory1@mail.example>\r\n"),
    "<inj-b-subject@mail.example>": (b"Subject: =?utf-8?b?" + __import__("base64").b64encode(
                                         "提现失败\r\nBcc: evil@attacker.example\r\nX-Evil: 1".encode()) + b"?=\r\n"
                                     b"From: Mallory <mallory2@mail.example>\r\n"),
    "<inj-name@mail.example>": (b"Subject: Withdrawal Failed - UID 12345678\r\n"
                                b"From: =?utf-8?q?x=0D=0ABcc:_evil@attacker.example?= <mallory3@mail.example>\r\n"),
    "<inj-name-reply-to@mail.example>": (b"Subject: Withdrawal Failed - UID 12345678\r\n"
                                         b"From: Mallory <mallory4@mail.example>\r\n"
                                         b"Reply-To: =?utf-8?q?y=0ABcc:_evil@attacker.example=0D=0A?= <mallory4@mail.example>\r\n"),
    # raw CR/LF: a folded subject whose continuation line looks like a header
    "<inj-raw-folded@mail.example>": (b"Subject: Withdrawal help\r\n Bcc: evil@attacker.example\r\n"
                                      b"From: \"Mallory\r\n Bcc: evil@attacker.example\" <mallory5@mail.example>\r\n"),
    # raw bare CR and other line breaks inside 8-bit header text
    "<inj-raw-8bit@mail.example>": ("Subject: 提现失败\u2028Bcc: evil@attacker.example\u0085X-Evil: 1\r\n"
                                    "From: \"Mallory\u2029Bcc: evil@attacker.example\" <mallory6@mail.example>\r\n").encode(),
}


@pytest.fixture(scope="module")
def injection_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpSink]:
    base = Path(tempfile.mkdtemp(prefix="dv", dir="/tmp"))
    server = Dovecot(base)
    try:
        server.start()
        with SmtpSink() as sink:
            for mid, head in INJECTION_MAILS.items():
                raw = (head + f"To: {SUPPORT}\r\nDate: {DATE}\r\nMessage-ID: {mid}\r\nMIME-Version: 1.0\r\n"
                       "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                       # unambiguous general mail: what is tested is the headers, not the classifier
                       "Hello, what are the spot trading fees for BTC/USDT at VIP 1? Thank you.\r\n".encode())
                server.append("INBOX", raw)
            checked_run(write_config(tmp_path_factory.mktemp("inj"), server, sink), server)
            assert server.uids("INBOX") == []
            yield sink
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


INJECTED_LINE = re.compile(rb"^(?:bcc\s*:|x-evil\s*:|evil@)", re.IGNORECASE | re.MULTILINE)
# Known failures outside the acknowledgement code; strict, so a fix turns them red until the mark goes.


def _assert_clean(rec: ReceivedMessage, what: str) -> None:
    head = header_block(rec.data)
    assert not INJECTED_LINE.search(head), (what, head.decode("utf-8", "replace"))
    names = [line.split(b":", 1)[0].strip().lower() for line in head.splitlines() if line and not line[:1].isspace()]
    assert b"bcc" not in names and b"x-evil" not in names, (what, names)


def test_crlf_never_becomes_a_header_in_anything_sent(injection_run: SmtpSink) -> None:
    sent = injection_run.messages
    # not vacuous: every mail whose addresses parse cleanly was forwarded and answered
    clean_ids = list(INJECTION_MAILS)
    assert all(forward_of(injection_run, mid) and reply_to(injection_run, mid) for mid in clean_ids)
    for rec in sent:
        _assert_clean(rec, f"message to {rec.rcpt_tos}")
        # whatever the parser made of the headers, nothing goes to a mangled address ('_evil@attacker.example?=')
        assert all(re.fullmatch(r"[a-z0-9._+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+", r) for r in rec.rcpt_tos), rec.rcpt_tos
        if (parsed(rec.data).get("Auto-Submitted") or "").startswith("auto-replied"):
            # an acknowledgement carries no customer text (the To line is the address question, see below)
            assert b"attacker" not in re.sub(rb"(?m)^To:.*\r?\n", b"", rec.data), rec.data[:2000]


@pytest.mark.parametrize("mid", INJECTION_MAILS)
def test_crlf_injection_attempt_gets_one_clean_forward_and_reply(injection_run: SmtpSink, mid: str) -> None:
    fw = forward_of(injection_run, mid)
    assert [rec.rcpt_tos for _m, rec in fw] == [("support-team@exchange.example",)], "expected one forward to the team"
    sent = reply_to(injection_run, mid)
    assert len(sent) == 1, "expected one acknowledgement"
    msg, rec = sent[0]
    assert len(rec.rcpt_tos) == 1 and re.fullmatch(r"mallory\d@mail\.example", rec.rcpt_tos[0]), rec.rcpt_tos
    assert msg["To"].strip() == rec.rcpt_tos[0]
    _assert_clean(fw[0][1], "forward")
    _assert_clean(rec, "reply")
    assert b"attacker" not in rec.data


# =====================================================================================
# 5. Languages, secrets, subject hint, RFC 3834 form
# =====================================================================================
LANG_MAILS = {
    "<lang-zh-hans@mail.example>": dict(sender="lin@mail.example", subject="提现失败-UID12345678",
                                        body="您好，我昨天的USDT提现失败了，钱也没有退回，请帮忙查一下。谢谢！"),
    "<lang-zh-hant@mail.example>": dict(sender="chen@mail.example", subject="提現失敗-UID12345678",
                                        body="您好，我昨天的USDT提現失敗了，錢也沒有退回，請幫忙查詢一下。謝謝！"),
    "<lang-en@mail.example>": dict(sender="bob@mail.example", subject="Withdrawal Failed - UID 12345678",
                                   body="Hello, my USDT withdrawal failed yesterday and the money has not come back. Please check."),
    "<lang-en-hint@mail.example>": dict(sender="dave@mail.example", subject="Deposit not credited",
                                        body="Hello, my deposit of 100 USDT has not arrived after three hours. Please check."),
    "<lang-zh-hint@mail.example>": dict(sender="wang@mail.example", subject="充值未到账",
                                        body="您好，我充值的100 USDT三个小时了还没有到账，请帮忙查一下。"),
    "<lang-en-seed@mail.example>": dict(sender="erin@mail.example", subject="Withdrawal Failed - UID 12345678",
                                        body=f"Hello, my withdrawal failed. My seed phrase is {SEED} so you can check my wallet."),
    "<lang-zh-password@mail.example>": dict(sender="zhao@mail.example", subject="提现失败-UID12345678",
                                            body="您好，我的提现失败了。我的登录密码是 Tr0ub4dor&3xx ，请帮我查一下。"),
}


@pytest.fixture
def lang_run(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> tuple[SmtpSink, dict[str, list[str]]]:
    for mid, kw in LANG_MAILS.items():
        dovecot.append("INBOX", raw_mail(mid, **kw))
    checked_run(write_config(tmp_path, dovecot, smtp_sink), dovecot)
    return smtp_sink, mailbox_ids(dovecot)


ZH_MARKERS = ("工单", "小时内回复您", "安全提醒", "绝不会索要您的密码")
EN_MARKERS = ("Case", "Our team will reply within", "For your safety", "will never ask you for passwords")


def test_languages_secrets_hint_and_rfc3834_form(lang_run: tuple[SmtpSink, dict[str, list[str]]]) -> None:
    sink, boxes = lang_run
    bodies: dict[str, str] = {}
    for mid, kw in LANG_MAILS.items():
        sent = reply_to(sink, mid)
        assert len(sent) == 1, (mid, [m["Subject"] for m, _ in replies(sink)])
        msg, rec = sent[0]
        body = bodies[mid] = reply_body(msg)
        # RFC 3834: marked, threaded, to the author, null envelope sender; no links
        assert msg["Auto-Submitted"] == "auto-replied", mid
        assert msg["In-Reply-To"].strip() == mid and msg["References"].split() == [mid], mid
        assert rec.mail_from in ("", "<>"), (mid, rec.mail_from)  # MAIL FROM:<> (aiosmtpd reports it as "<>")
        assert rec.rcpt_tos == (kw["sender"],) and kw["sender"] in msg["To"], mid
        assert b"http" not in rec.data.lower() and "http" not in body.lower(), mid
        case = re.search(r"\[Case #([0-9A-Z]{8})\]", str(email.header.make_header(email.header.decode_header(msg["Subject"]))))
        assert case and case.group(1) in body, (mid, msg["Subject"])
        fw = forward_of(sink, mid)
        assert len(fw) == 1 and fw[0][0]["X-Router-Case-Id"] == case.group(1), mid
        zh = "-zh-" in mid
        for marker in ZH_MARKERS if zh else EN_MARKERS:
            assert marker in body, (mid, marker, body)
        assert ("感谢您联系我们" in body) == zh and ("Thank you for contacting us" in body) != zh, mid

    # secret warning only where a secret was sent
    assert "IMPORTANT - YOUR ACCOUNT MAY BE AT RISK" in bodies["<lang-en-seed@mail.example>"]
    assert "a seed phrase" in bodies["<lang-en-seed@mail.example>"]
    assert "重要提示" in bodies["<lang-zh-password@mail.example>"] and "密码" in bodies["<lang-zh-password@mail.example>"]
    for mid in LANG_MAILS:
        if "seed" not in mid and "password" not in mid:
            assert "IMPORTANT" not in bodies[mid] and "重要提示" not in bodies[mid], mid
    # the secrets themselves never leave: not in the reply, not in the forwarded copy (any part, decoded)
    for mid, secret in (("<lang-en-seed@mail.example>", "abandon"), ("<lang-zh-password@mail.example>", "Tr0ub4dor")):
        (reply, rrec), = reply_to(sink, mid)
        (fwd, frec), = forward_of(sink, mid)
        assert secret not in text_of(reply) and secret.encode() not in rrec.data, mid
        assert secret not in text_of(fwd) and secret.encode() not in frec.data, mid
        assert "[REDACTED:" in text_of(fwd), mid
        assert mid in boxes["Restricted"], mid
        assert fwd["X-Router-Category"] == "security", mid

    # subject convention hint: only when not followed, with an example of the detected type
    assert 'for example: Deposit Not Credited-UID12345678' in bodies["<lang-en-hint@mail.example>"]
    assert "例如：充值未到账-UID12345678" in bodies["<lang-zh-hint@mail.example>"]
    for mid in ("<lang-zh-hans@mail.example>", "<lang-zh-hant@mail.example>", "<lang-en@mail.example>"):
        assert "for example" not in bodies[mid] and "例如" not in bodies[mid], mid
        assert "UID12345678" not in bodies[mid], mid


# =====================================================================================
# 6. Rate limits, unauthenticated senders, mail not addressed to us
# =====================================================================================
def test_rate_limit_dmarc_failure_and_bcc(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    flood = "flood@mail.example"
    subjects = ["Withdrawal Failed - UID 12345678", "Deposit Not Credited - UID 12345678", "General Inquiry - UID 12345678",
                "Withdrawal Failed - UID 23456789", "Deposit Not Credited - UID 23456789", "General Inquiry - UID 23456789",
                "Withdrawal Failed - UID 34567890"]
    flood_ids = [f"<flood-{i}@mail.example>" for i in range(7)]
    for mid, subject in zip(flood_ids, subjects):
        dovecot.append("INBOX", raw_mail(mid, sender=flood, subject=subject))
    dmarc = "<dmarc-fail@mail.example>"
    dovecot.append("INBOX", raw_mail(dmarc, sender="ceo@bank.example", headers=(
        ("Authentication-Results", "mx.exchange.example; spf=softfail smtp.mailfrom=bank.example; dkim=none; dmarc=fail header.from=bank.example"),)))
    bcc = "<bcc-style@mail.example>"
    dovecot.append("INBOX", raw_mail(bcc, sender="hank@mail.example", to="Friends <friends@mail.example>"))
    cc = "<cc-us@mail.example>"
    dovecot.append("INBOX", raw_mail(cc, sender="ivy@mail.example", to="ivy.friend@mail.example",
                                     headers=(("Cc", f"Support <{SUPPORT}>"),)))
    cfg = write_config(tmp_path, dovecot, smtp_sink, replies={"per_sender_per_hour": 5, "per_sender_per_day": 20})
    checked_run(cfg, dovecot)

    # 7 distinct cases from one sender within the hour: 5 acknowledgements, all 7 forwarded
    flood_replies = [m for m, r in replies(smtp_sink) if r.rcpt_tos == (flood,)]
    assert len(flood_replies) == 5, [m["In-Reply-To"] for m in flood_replies]
    assert len({m["Subject"] for m in flood_replies}) == 5  # five different cases
    fw = forwards(smtp_sink)
    assert all(len(fw.get(mid, [])) == 1 for mid in flood_ids), {mid: fw.get(mid) for mid in flood_ids}

    status = subprocess.run(router_cmd(cfg, "status", "--json"), env=env_for(dovecot), capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stderr[-2000:]
    data = json.loads(status.stdout)
    limited = {r["sender"]: r["suppressed"] for r in data["rate_limited_senders"]}
    assert limited == {flood: 2}, data["rate_limited_senders"]
    assert data["replies"].get("suppressed:rate_limited_hour") == 2, data["replies"]
    assert data["replies"].get("sent:en") == 6, data["replies"]  # 5 flood + the Cc one

    # DMARC failure: no reply, reviewed by a person
    assert reply_to(smtp_sink, dmarc) == []
    assert [rcpt for _mid, rcpt in fw[dmarc]] == [("triage@exchange.example",)]
    boxes = mailbox_ids(dovecot)
    assert dmarc in boxes["Routed/Review"]
    assert data["replies"].get("suppressed:unauthenticated") == 1, data["replies"]
    # Our address not among To/Cc (we were Bcc'd): handled, not answered; Cc'd: answered
    assert reply_to(smtp_sink, bcc) == []
    assert bcc in fw
    assert data["replies"].get("suppressed:not_addressed_to_us") == 1, data["replies"]
    assert [r.rcpt_tos for _m, r in reply_to(smtp_sink, cc)] == [("ivy@mail.example",)]


class _RefusingHandler:
    """An MTA that refuses one domain at RCPT (a customer's typo): aiosmtpd's public handler API."""

    def __init__(self) -> None:
        self.messages: list[ReceivedMessage] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if address.lower().endswith("@nxdomain.example"):
            return "550 5.1.2 <%s>: Recipient address rejected: Domain not found" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data = envelope.original_content or envelope.content
        self.messages.append(ReceivedMessage(envelope.mail_from, tuple(envelope.rcpt_tos), data, 0.0))
        return "250 2.0.0 OK: queued"


def test_refused_acknowledgement_does_not_dead_letter_the_mail(tmp_path: Path, dovecot: Dovecot) -> None:
    from aiosmtpd.controller import Controller

    from router.testing import LOOPBACK, free_port

    handler = _RefusingHandler()
    controller = Controller(handler, hostname=LOOPBACK, port=free_port())
    controller.start()
    try:
        typo, fine = "<typo@mail.example>", "<fine@mail.example>"
        dovecot.append("INBOX", raw_mail(typo, sender="kim@nxdomain.example"))
        dovecot.append("INBOX", raw_mail(fine, sender="lee@mail.example"))
        sink = type("Sink", (), {"host": LOOPBACK, "port": controller.port})()
        cfg = write_config(tmp_path, dovecot, sink)  # type: ignore[arg-type]
        checked_run(cfg, dovecot)
    finally:
        controller.stop()
    sent = [(parsed(m.data), m) for m in handler.messages]
    fwd = [m for msg, m in sent if (msg.get("X-Router-Original-Message-ID") or "").strip() == typo]
    assert [m.rcpt_tos for m in fwd] == [("support-team@exchange.example",)]
    boxes = mailbox_ids(dovecot)
    assert typo in boxes["Routed/General"] and not boxes.get("DeadLetter"), boxes
    # the SMTP connection is still good for the next customer
    assert [m.rcpt_tos for msg, m in sent if (msg.get("In-Reply-To") or "").strip() == fine] == [("lee@mail.example",)]
    status = subprocess.run(router_cmd(cfg, "status", "--json"), env=env_for(dovecot), capture_output=True, text=True, timeout=60)
    assert json.loads(status.stdout)["replies"].get("failed:permanent_smtp_failure") == 1, status.stdout[-2000:]
