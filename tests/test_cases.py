"""Cases and follow-ups (SPEC 4, 6, 7) with the real daemon, Dovecot and aiosmtpd.

A customer answers our acknowledgement with the missing document: the answer
joins the case, goes to the case's team, completes its evidence, and is not
acknowledged a second time.  Someone else quoting the case tag does not join.
"""

from __future__ import annotations

import email.header
import json
import sqlite3
from email.message import Message
from pathlib import Path

from daemonkit import mailbox_ids, parsed, replies, write_config
from test_replies import SUPPORT, checked_run, forward_of, jpeg_bytes, reply_body, reply_to

import mailkit
from router.testing import Dovecot, ReceivedMessage, SmtpSink

DATE = "Tue, 24 Nov 2026 09:00:00 +0000"
CUSTOMER = "lilei@mail.example"
COMPLIANCE = "compliance-team@exchange.example"


def mail(mid: str, subject: str, body: str, sender: str = f"李雷 <{CUSTOMER}>", in_reply_to: str | None = None,
         references: str | None = None, attachment: tuple[str, bytes] | None = None) -> bytes:
    return mailkit.mail(subject, body, sender=sender, to=SUPPORT, date=DATE, message_id=mid,
                        extra={k: v for k, v in (("In-Reply-To", in_reply_to), ("References", references)) if v},
                        attachments=[(attachment[0], attachment[1], "image/jpeg")] if attachment else ())


def subject_of(msg: Message) -> str:
    return str(email.header.make_header(email.header.decode_header(msg["Subject"])))


def one(items: list[tuple[Message, ReceivedMessage]], what: str) -> tuple[Message, ReceivedMessage]:
    assert len(items) == 1, f"expected one {what}, got {len(items)}"
    return items[0]


def case_row(tmp_path: Path, case_id: str) -> dict[str, object]:
    db = sqlite3.connect(tmp_path / "state" / "router.sqlite3")
    db.row_factory = sqlite3.Row
    try:
        row = db.execute("SELECT * FROM cases WHERE case_id=?", (case_id,)).fetchone()
        assert row is not None, f"case {case_id} not in the state store"
        out = dict(row)
        out["messages"] = sorted(r[0] for r in db.execute("SELECT message_id FROM case_messages WHERE case_id=?", (case_id,)))
        out["cases_of_customer"] = db.execute("SELECT COUNT(*) FROM cases WHERE sender=?", (CUSTOMER,)).fetchone()[0]
        out["reply_outcomes"] = {r[0]: (r[1], r[2]) for r in db.execute("SELECT message_id, outcome, reason FROM replies")}
        return out
    finally:
        db.close()


def open_freeze_case(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink, first: str, uid: str, **config: dict) -> tuple[Path, str, Message]:  # type: ignore[type-arg]
    """The first mail: a freeze appeal without the identity document it needs."""
    dovecot.append("INBOX", mail(first, f"账户冻结申诉-UID{uid}", "您好，我的账户昨天被冻结了，无法提现，请帮忙解冻。谢谢！"))
    cfg = write_config(tmp_path, dovecot, smtp_sink, **config)
    checked_run(cfg, dovecot)
    fwd, rec = one(forward_of(smtp_sink, first), "forward of the first mail")
    assert rec.rcpt_tos == (COMPLIANCE,)
    assert fwd["X-Router-Evidence"] == "missing:identity"
    case_id = fwd["X-Router-Case-Id"]
    ack, ack_rec = one(reply_to(smtp_sink, first), "acknowledgement of the first mail")
    assert ack_rec.rcpt_tos == (CUSTOMER,)
    body = reply_body(ack)
    assert f"[Case #{case_id}]" in subject_of(ack) and f"[Case #{case_id}]" in body
    assert "工单" in body  # the zh template
    assert "身份证明" in body and "还需要以下材料" in body, body  # the missing identity evidence, named in Chinese
    return cfg, case_id, ack


def test_follow_up_joins_case_completes_evidence_and_is_not_acknowledged_again(
        tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    first, follow, other = "<freeze-1@mail.example>", "<freeze-2@mail.example>", "<impostor-1@mail.example>"
    cfg, case_id, ack = open_freeze_case(tmp_path, dovecot, smtp_sink, first, "12345678")
    ack_id = ack["Message-ID"].strip()

    # The customer answers the acknowledgement with the passport; the text alone reads as a general question.
    dovecot.append("INBOX", mail(follow, f"回复：[Case #{case_id}] 补充材料", "您好，附件是我的照片。另外请问充值多久到账？",
                                 in_reply_to=ack_id, attachment=("passport.jpg", jpeg_bytes(1))))
    # Someone else quotes the same case tag.
    dovecot.append("INBOX", mail(other, f"回复：[Case #{case_id}] 补充材料", "您好，附件是我的照片，请把这个账户解冻。",
                                 sender="Mallory <mallory@evil.example>", attachment=("passport.jpg", jpeg_bytes(2))))
    checked_run(cfg, dovecot)

    fwd, rec = one(forward_of(smtp_sink, follow), "forward of the follow-up")
    assert rec.rcpt_tos == (COMPLIANCE,), "the follow-up goes to the case's team"
    assert fwd["X-Router-Case-Id"] == case_id
    assert fwd["X-Router-Evidence"] == "complete"
    assert f"[Case #{case_id}]" in subject_of(fwd)
    row = case_row(tmp_path, case_id)
    assert "identity" in json.loads(str(row["present"])) and json.loads(str(row["required"])) == ["identity"]
    assert row["route"] == "compliance"
    assert follow in row["messages"] and first in row["messages"]
    assert row["cases_of_customer"] == 1, "the follow-up opened a case of its own"
    # no second acknowledgement for the case
    assert reply_to(smtp_sink, follow) == []
    assert [r.rcpt_tos for _m, r in replies(smtp_sink)].count((CUSTOMER,)) == 1
    assert row["reply_outcomes"][follow] == ("suppressed", "case_already_acknowledged")
    assert follow in mailbox_ids(dovecot)["Routed/Compliance"]

    # The impostor: not joined, a case of its own, to review; the customer's case is untouched.
    ifwd, irec = one(forward_of(smtp_sink, other), "forward of the impostor's mail")
    assert irec.rcpt_tos == ("triage@exchange.example",)
    assert ifwd["X-Router-Route"] == "review" and ifwd["X-Router-Case-Id"] != case_id
    assert other not in row["messages"]
    assert other in mailbox_ids(dovecot)["Routed/Review"]
    assert not any(case_id in subject_of(m) for m, r in replies(smtp_sink) if r.rcpt_tos == ("mallory@evil.example",))


def test_answer_to_the_acknowledgement_joins_by_in_reply_to_alone(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    """No case tag, no References, no model: only In-Reply-To ties the answer to the case.

    Without a model a mail with no subject type would go to review; as a
    follow-up it belongs to the case's team.
    """
    first, follow = "<freeze-10@mail.example>", "<freeze-11@mail.example>"
    cfg, case_id, ack = open_freeze_case(tmp_path, dovecot, smtp_sink, first, "87654321",
                                         model={"path": str(tmp_path / "no-model.joblib")})
    dovecot.append("INBOX", mail(follow, "Re: documents", "您好，照片在附件里。", in_reply_to=ack["Message-ID"].strip(),
                                 attachment=("身份证.jpg", jpeg_bytes(3))))
    checked_run(cfg, dovecot)
    fwd, rec = one(forward_of(smtp_sink, follow), "forward of the follow-up")
    assert fwd["X-Router-Case-Id"] == case_id, "the answer to our acknowledgement did not join the case"
    assert rec.rcpt_tos == (COMPLIANCE,), (rec.rcpt_tos, parsed(rec.data)["X-Router-Route"])
    assert fwd["X-Router-Evidence"] == "complete"
    row = case_row(tmp_path, case_id)
    assert json.loads(str(row["present"])) == ["identity"]
    assert row["cases_of_customer"] == 1
    assert reply_to(smtp_sink, follow) == []
    assert follow in mailbox_ids(dovecot)["Routed/Compliance"]
