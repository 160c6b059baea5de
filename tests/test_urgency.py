"""Priority from the issue type raised by the text, and chaser wording (issue 13)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from router.understand import urgency


@pytest.mark.parametrize("text", [
    "Someone is withdrawing my funds right now, please freeze my account!",
    "They are draining my account as we speak",
    "有人正在盗我的币，快帮我冻结！",
    "我的账户还在不停地转出USDT",
    "資金正在被轉走，請立即凍結",
    "駭客正在登入我的帳戶",
])
def test_theft_in_progress_is_urgent(text: str) -> None:
    u = urgency.assess(text, "normal")
    assert u.priority == "urgent"
    assert any("theft in progress" in r for r in u.reasons)


@pytest.mark.parametrize("text", [
    "My funds were stolen last night.",
    "我的USDT被盗了",
    "帳戶裡的幣被轉走了",
    "I never requested this withdrawal.",
    "我没有申请过提现，为什么收到确认邮件？",
    "my whole balance is gone",
    "I see a withdrawal to an address that I never made",
])
def test_funds_leaving_is_high(text: str) -> None:
    assert urgency.assess(text, "normal").priority == "high"


@pytest.mark.parametrize("text", ["Please help ASAP", "请马上处理", "請盡快處理，很急", "This is urgent."])
def test_right_now_wording_raises_to_high(text: str) -> None:
    u = urgency.assess(text, "low")
    assert u.priority == "high"
    assert u.reasons[0] == "base priority low from the issue type"


@pytest.mark.parametrize("text", [
    "Not urgent, just a question about fees.",
    "如何防止账户被盗？",
    "How do I avoid my funds being stolen?",
    "不急，有空再回复",
])
def test_negated_or_hypothetical_wording_does_not_raise(text: str) -> None:
    assert urgency.assess(text, "low").priority == "low"


def test_priority_is_never_lowered() -> None:
    assert urgency.assess("thanks, no rush", "urgent").priority == "urgent"


def test_amount_threshold() -> None:
    assert urgency.assess("deposit", amounts=[("20000", "USDT")]).priority == "high"
    assert urgency.assess("deposit", amounts=[("9999", "USDT")]).priority == "normal"
    assert urgency.assess("deposit", amounts=[("0.05", "BTC")], thresholds={"BTC": Decimal("0.01")}).priority == "high"
    u = urgency.assess("deposit", amounts=[("1", "XYZ")])
    assert u.priority == "normal"


def test_phishing_click_extra_makes_urgent() -> None:
    u = urgency.assess("is this real?", extra=[("urgent", "clicked the lure")])
    assert u.priority == "urgent" and "clicked the lure: urgent" in u.reasons


def test_unknown_base_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown priority 'critical'"):
        urgency.assess("x", "critical")


@pytest.mark.parametrize(("subject", "text"), [
    ("", "This is the third time asking about my withdrawal."),
    ("", "Still no reply after 5 days."),
    ("", "Following up on my email from Monday."),
    ("", "When will you reply to my case?"),
    ("Any update?", "Case #7K3M9QX2"),
    ("", "我的问题还没有回复，请尽快处理"),
    ("", "已经第三次发邮件了"),
    ("", "到现在都没有人回复"),
    ("", "我的工單仍未處理"),
    ("", "請問何時回覆？"),
    ("", "已經三天了還是沒有人回覆"),
    ("催一下", "充值未到账"),
    ("", "已经提交三天了，还是没有结果"),
])
def test_chasers(subject: str, text: str) -> None:
    c = urgency.chaser(text, subject)
    assert c.chaser and c.reason


@pytest.mark.parametrize("text", [
    "Thanks for the quick reply, it's solved.",
    "充值三个小时了还没到账",
    "我已经重新上传了三次照片",
    "How long does a withdrawal usually take?",
    "第一次使用你们的平台",
])
def test_not_chasers(text: str) -> None:
    assert not urgency.chaser(text).chaser


def test_lexicon_splits_chinese_and_other_branches_and_keeps_order() -> None:
    lex = urgency.Lexicon(r"""(?:
        \bhello\b
      | 你好|您好
    )""")
    assert [m.group() for m in lex.finditer("您好 hello 你好")] == ["您好", "hello", "你好"]
    assert lex.search("nothing") is None
    with pytest.raises(ValueError, match="one"):
        urgency.Lexicon("hello|world")


def test_priority_headers_and_subject_tag() -> None:
    assert dict(urgency.priority_headers("urgent")) == {"Importance": "high", "X-Priority": "1 (Highest)"}
    assert dict(urgency.priority_headers("low"))["Importance"] == "low"
    assert urgency.subject_tag("urgent") == "[URGENT]" and urgency.subject_tag("high") == ""
