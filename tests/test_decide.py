"""SPEC 2 precedence and SPEC 7 routes, with a fake model (unit tests of our own logic)."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import pytest

import mailkit
from router import config, pipeline
from router.records import Prediction

SETTINGS = config.load(search=False)


class FakeModel:
    """Stands in for classify.Classifier: always predicts what it is told."""

    def __init__(self, category: str, confidence: float, below: bool = False) -> None:
        self.p = Prediction(category, confidence, "fake-1", {category: confidence}, below)
        self.version = "fake-1"

    def predict(self, subject: str, new_text: str) -> Prediction:
        return self.p


def mail(subject: str, body: str, **headers: str) -> bytes:
    return mailkit.mail(subject, body, date=None, message_id="<d1@mail.example>", extra=headers)


def decide(raw: bytes, model: Any) -> dict[str, Any]:
    return pipeline.triage(raw, SETTINGS, model)[1].to_record()


def test_secrets_make_security_whatever_the_subject_and_model() -> None:
    r = decide(mail("提现失败-UID12345678", "提现失败了。我的密码是 Abc123456x 你们帮我看看"), FakeModel("general", 0.99))
    assert r["category"] == "security" and r["route"] == "security" and r["secrets"] == ["password"]
    assert {"type": "move", "folder": "Restricted"} in r["actions"]
    assert "Abc123456x" not in str(r)


def test_security_subject_type_is_not_lowered_by_the_model() -> None:
    r = decide(mail("账户被盗-UID12345678", "请尽快处理"), FakeModel("general", 0.99))
    assert r["category"] == "security" and r["route"] == "security"


def test_confident_security_model_is_not_lowered_by_a_subject_type() -> None:
    r = decide(mail("Deposit Not Credited - UID 12345678", "some text"), FakeModel("security", 0.95))
    assert r["category"] == "security" and r["route"] == "security"
    assert any("not lowered" in x for x in r["reasons"])


def test_signs_of_compromise_win_over_a_general_subject_type() -> None:
    r = decide(mail("Withdrawal Failed - UID 12345678", "A withdrawal I never made appeared: someone logged in and withdrew 2 BTC."), FakeModel("general", 0.9))
    assert r["category"] == "security"


def test_subject_type_sets_the_category_when_the_model_agrees() -> None:
    r = decide(mail("账户冻结申诉-UID12345678", "我的账户被冻结了，请帮忙解冻"), FakeModel("compliance", 0.9))
    assert (r["category"], r["route"]) == ("compliance", "compliance")
    assert r["evidence"]["required"] == ["identity"] and r["evidence"]["missing"] == ["identity"]


def test_confident_disagreement_goes_to_review() -> None:
    r = decide(mail("账户冻结申诉-UID12345678", "请问手续费怎么算"), FakeModel("general", 0.97))
    assert r["category"] == "compliance" and r["route"] == "review"


def test_low_confidence_goes_to_review_without_firm_signals() -> None:
    r = decide(mail("question", "hello, about my thing"), FakeModel("general", 0.41, below=True))
    assert r["route"] == "review" and r["category"] == "general"


def test_no_model_and_no_subject_type_goes_to_review() -> None:
    r = decide(mail("question", "hello, about my thing"), None)
    assert r["route"] == "review" and r["model"] is None
    assert any("no trained model" in x for x in r["reasons"])


def test_unauthenticated_sender_goes_to_review_without_reply() -> None:
    raw = mail("Withdrawal Failed - UID 12345678", "my withdrawal failed", Authentication_Results="mx; dmarc=fail header.from=x")
    r = decide(raw, FakeModel("general", 0.9))
    assert r["route"] == "review" and r["sender"]["authenticated"] is False
    assert not [a for a in r["actions"] if a["type"] == "auto_reply"]


@pytest.mark.parametrize("headers, route", [
    ({"Auto_Submitted": "auto-replied"}, "automated"),
    ({"List_Id": "<x.list.example>"}, "automated"),
])
def test_automated_mail_is_filed_and_never_answered(headers: dict[str, str], route: str) -> None:
    r = decide(mail("hello", "text", **headers), FakeModel("security", 0.99))
    assert r["route"] == route
    assert [a["type"] for a in r["actions"]] == ["move"] and r["actions"][0]["folder"] == "Automated"


def test_quarantine_beats_everything() -> None:
    m = EmailMessage()
    m["From"] = "x@mail.example"
    m["To"] = "support@exchange.example"
    m["Subject"] = "账户被盗-UID12345678"
    m.set_content("see attached")
    m.add_attachment(b"MZ" + b"\x00" * 58 + b"\x40\x00\x00\x00" + b"PE\x00\x00" + b"\x00" * 200, maintype="application", subtype="pdf", filename="proof.pdf")
    r = decide(bytes(m), FakeModel("security", 0.99))
    assert r["route"] == "quarantine" and [a["type"] for a in r["actions"]] == ["move"]


def test_reply_only_when_addressed_to_us_and_template_by_language() -> None:
    zh = decide(mail("提现失败-UID12345678", "我的提现失败了，请帮我看看"), FakeModel("general", 0.9))
    assert {"type": "auto_reply", "template": "zh"} in zh["actions"]
    en = decide(mail("Withdrawal Failed - UID 12345678", "my withdrawal failed, please check"), FakeModel("general", 0.9))
    assert {"type": "auto_reply", "template": "en"} in en["actions"]
    m = EmailMessage()
    m["From"] = "customer@mail.example"
    m["To"] = "someone-else@other.example"
    m["Subject"] = "Withdrawal Failed - UID 12345678"
    m.set_content("my withdrawal failed")
    bcc = decide(bytes(m), FakeModel("general", 0.9))
    assert not [a for a in bcc["actions"] if a["type"] == "auto_reply"]
    assert any(a["type"] == "forward" for a in bcc["actions"])


def test_secrets_in_a_text_attachment_make_security() -> None:
    from mnemonic import Mnemonic

    words = Mnemonic("english").to_mnemonic(bytes(range(16)))
    m = EmailMessage()
    m["From"] = "customer@mail.example"
    m["To"] = "support@exchange.example"
    m["Subject"] = "General Inquiry - UID 12345678"
    m.set_content("please see my notes attached")
    m.add_attachment(f"my wallet backup\nseed: {words}\n", filename="notes.txt")
    r = decide(bytes(m), FakeModel("general", 0.99))
    assert r["secrets"] == ["seed_phrase"] and r["category"] == "security"
    assert {"type": "move", "folder": "Restricted"} in r["actions"]


def test_no_acknowledgement_to_a_machine_reply_to() -> None:
    r = decide(mail("Withdrawal Failed - UID 12345678", "my withdrawal failed", Reply_To="noreply@shop.example"), FakeModel("general", 0.9))
    assert r["route"] == "general"
    assert not [a for a in r["actions"] if a["type"] == "auto_reply"]
    assert any("automatic mailbox" in x for x in r["reasons"])


def test_automatic_subject_reason_never_quotes_a_secret() -> None:
    from mnemonic import Mnemonic

    words = Mnemonic("english").to_mnemonic(bytes(range(16)))
    r = decide(mail(f"Auto: {words}", "away"), FakeModel("general", 0.9))
    assert r["route"] == "automated"
    joined = " ".join(r["reasons"])
    assert not any(w in joined for w in words.split()[:4] if len(w) > 4)
