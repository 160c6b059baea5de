"""Phishing and impersonation reports (issue 13): lookalike domains, shorteners, clicks."""

from __future__ import annotations

import pytest

from router.understand import forwarded, phishing

OFFICIAL = ("exchange.example", "exchange.com")


@pytest.mark.parametrize(("host", "why"), [
    ("exchange-support.top", "brand 'exchange' inside another domain"),
    ("exchange.example.verify-id.cn", "brand 'exchange' inside another domain"),
    ("\u0435xchange.com", "looks like exchange.com (confusable characters)"),  # Cyrillic е
    ("exchange.c\u03bfm", "looks like exchange.com"),  # Greek omicron
    ("exchagne.com", "1 edit(s) from exchange.com"),
    ("exchanqe.example", "1 edit(s) from exchange.example"),
    ("bit.ly", "URL shortener"),
    ("t.cn", "URL shortener"),
])
def test_suspicious_domains(host: str, why: str) -> None:
    reasons = phishing.judge_domain(host, OFFICIAL)
    assert any(why in r for r in reasons), reasons


def test_punycode_is_decoded_and_reported() -> None:
    host = "xn--" + "\u0435xchange".encode("punycode").decode() + ".com"
    reasons = phishing.judge_domain(host, OFFICIAL)
    assert reasons[0] == f"punycode {host} is \u0435xchange.com"
    assert "looks like exchange.com" in reasons[1]


@pytest.mark.parametrize("host", ["exchange.com", "www.exchange.example", "help.exchange.com", "google.com", "github.com"])
def test_official_and_unrelated_domains_are_not_suspicious(host: str) -> None:
    assert phishing.judge_domain(host, OFFICIAL) == []


def test_skeleton_maps_confusables_to_one_form() -> None:
    assert phishing.skeleton("\u0435xch\u0430nge.com") == phishing.skeleton("exchange.com")
    assert phishing.skeleton("rnybank.com") == phishing.skeleton("mybank.com")
    assert phishing.skeleton("exchange.com") != phishing.skeleton("exchanger.com")


LURE_EN = """Is this email legit? {click}

---------- Forwarded message ---------
From: Exchange Security <no-reply@exchanqe.com>
Date: Thu, Dec 3, 2026 at 11:47 PM
Subject: Unusual sign-in attempt blocked
To: <me@gmail.com>

Secure your account now: https://bit.ly/3Exch and enter code 739104.
"""


@pytest.mark.parametrize(("click", "clicked"), [
    ("I clicked the link and entered my 2FA code.", True),
    ("I did not click anything.", False),
    ("", False),
])
def test_forwarded_lure_en(click: str, clicked: bool) -> None:
    report = phishing.assess(LURE_EN.format(click=click), official=OFFICIAL)
    assert report is not None
    assert report.domains == ("exchanqe.com", "bit.ly")
    assert report.urls == ("https://bit.ly/3Exch",)
    assert report.clicked is clicked
    assert report.to_record()["reasons"] == list(report.reasons)
    prios = [p for p, _ in phishing.priority_signals(report)]
    assert ("urgent" in prios) is clicked and "high" in prios


@pytest.mark.parametrize(("own", "clicked"), [
    ("这是你们发的吗？我已经点了链接并输入了验证码。", True),
    ("这是你们发的吗？我没有点。", False),
    ("這是你們寄的嗎？我已經點了連結。", True),
    ("這是你們寄的嗎？我沒有點擊任何連結。", False),
])
def test_forwarded_lure_zh(own: str, clicked: bool) -> None:
    text = own + """

------------------ 原始邮件 ------------------
发件人: "Exchange客服"<service@exchange-verify.cn>;
发送时间: 2026年12月4日(星期五) 上午9:02
收件人: "我"<1@qq.com>;
主题: 【重要】账户冻结通知

请点击 http://exchange-verify.cn/login 完成验证，验证码 482913。
"""
    report = phishing.assess(text, official=OFFICIAL)
    assert report is not None and report.domains == ("exchange-verify.cn",)
    assert report.urls == ("http://exchange-verify.cn/login",)
    assert report.clicked is clicked
    assert report.senders == ("service@exchange-verify.cn",)


def test_genuine_forwarded_mail_is_not_a_report() -> None:
    text = """Is this real?

Begin forwarded message:

From: Exchange <no-reply@exchange.example>
Subject: Withdrawal confirmation
Date: December 4, 2026 at 8:55 AM

Confirm at https://www.exchange.example/confirm
"""
    assert phishing.assess(text, official=OFFICIAL) is None


def test_non_official_sender_counts_when_the_customer_asks() -> None:
    text = """Did you send this?

-----Original Message-----
From: Exchange Support <exchange.support.team@gmail.com>
Sent: Friday, December 4, 2026 9:12 AM
Subject: Your account

Reply with your password to keep your account.
"""
    report = phishing.assess(text, official=OFFICIAL)
    assert report is not None and report.domains == ("gmail.com",)
    assert "not an official domain" in report.reasons[0]


def test_described_site_and_impersonator_without_forward() -> None:
    r = phishing.assess("Someone claiming to be your support sent me exchange-help.net, is it yours?", official=OFFICIAL)
    assert r is not None and r.domains == ("exchange-help.net",)
    r2 = phishing.assess("有个自称客服的人加我微信，让我转账，是诈骗吗？", official=OFFICIAL)
    assert r2 is not None and r2.domains == () and "posing as us" in r2.reasons[0]


@pytest.mark.parametrize("text", [
    "I withdrew to my wallet on binance.com yesterday, the deposit has not arrived.",
    "我在 coingecko.com 上看到你们上线了新币",
    "請問 exchange.com 的手續費是多少？",
])
def test_ordinary_mail_naming_a_site_is_not_a_report(text: str) -> None:
    assert phishing.assess(text, official=OFFICIAL) is None


def test_attached_lure() -> None:
    lure = forwarded.from_fields({"From": "VIP <vip@exchangevip.top>", "Subject": "VIP"}, "登录 https://exchangevip.top/vip")
    report = phishing.assess("附件是我收到的邮件，我已经登录了那个网站", official=OFFICIAL, attached=[lure])
    assert report is not None and report.domains == ("exchangevip.top",) and report.clicked
