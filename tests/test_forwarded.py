"""Inline-forwarded and attached messages as Chinese and English mailers write them (issue 13)."""

from __future__ import annotations

import pytest

from router.understand import forwarded

LURE_BODY = "请点击 https://exchange-support.top/verify 验证"

CASES = {
    "gmail-en": """Is this real?

---------- Forwarded message ---------
From: Exchange Support <support@exchange-support.top>
Date: Fri, Dec 4, 2026 at 9:12 AM
Subject: Verify your account
To: <me@gmail.com>

{body}
""",
    "gmail-zh": """这是你们发的吗？

---------- 转发的邮件 ---------
发件人： Exchange Support <support@exchange-support.top>
Date: 2026年12月4日周五 上午9:12
Subject: Verify your account
To: <me@gmail.com>

{body}
""",
    "outlook-en": """Please check.

-----Original Message-----
From: Exchange Support <support@exchange-support.top>
Sent: Friday, December 4, 2026 9:12 AM
To: me@outlook.com
Subject: Verify your account

{body}
""",
    "outlook-zh-hant": """請確認這封信。

________________________________
寄件者: Exchange Support <support@exchange-support.top>
寄件日期: 2026年12月4日 上午 09:12
收件者: me@outlook.com
主旨: Verify your account

{body}
""",
    "apple-en": """Real or fake?

Begin forwarded message:

From: Exchange Support <support@exchange-support.top>
Subject: Verify your account
Date: December 4, 2026 at 9:12:00 AM GMT+8
To: me@icloud.com

{body}
""",
    "apple-zh": """是真的吗

以下为转发的邮件：

发件人: Exchange Support <support@exchange-support.top>
主题: Verify your account
日期: 2026年12月4日 GMT+8 上午9:12:00
收件人: me@icloud.com

{body}
""",
    "qq": """帮我看看这封邮件

------------------ 原始邮件 ------------------
发件人: "Exchange Support"<support@exchange-support.top>;
发送时间: 2026年12月4日(星期五) 上午9:12
收件人: "我"<1234@qq.com>;
主题: Verify your account

{body}
""",
    "foxmail": """帮我看看这封邮件

------------------ Original ------------------
From:  "Exchange Support"<support@exchange-support.top>;
Date:  Fri, Dec 4, 2026 09:12 AM
To:  "我"<1234@qq.com>;
Subject:  Verify your account

{body}
""",
    "163": """这封邮件可信吗

-------- 转发邮件信息 --------
发件人："Exchange Support" <support@exchange-support.top>
发送日期：2026-12-04 09:12:00
收件人：me@163.com
主题：Verify your account

{body}
""",
    "thunderbird-zh": """請幫我看看

-------- 转发的消息 --------
主题：Verify your account
日期：Fri, 4 Dec 2026 09:12:00 +0800
发件人：Exchange Support <support@exchange-support.top>
收件人：me@example.org

{body}
""",
}


@pytest.mark.parametrize("name", CASES)
def test_lure_headers_and_body_are_separated_from_the_customer_words(name: str) -> None:
    text = CASES[name].format(body=LURE_BODY)
    parts = forwarded.split(text)
    assert len(parts.forwarded) == 1
    lure = parts.forwarded[0]
    assert lure.sender == "support@exchange-support.top"
    assert lure.sender_domain == "exchange-support.top"
    assert lure.headers["subject"] == "Verify your account"
    assert "2026" in lure.headers["date"] or "Dec" in lure.headers["date"]
    assert lure.body == LURE_BODY
    assert LURE_BODY not in parts.own and parts.own
    assert text[lure.body_start:].strip() == LURE_BODY


def test_plain_mail_has_no_forward() -> None:
    text = "From: my phone\nI can't log in since yesterday. 我的账户登录不了。"
    assert forwarded.split(text).forwarded == ()
    assert forwarded.split(text).own == text


def test_two_forwards_in_a_row() -> None:
    text = CASES["gmail-en"].format(body="first") + "\n" + CASES["qq"].format(body="second")
    parts = forwarded.split(text)
    assert [f.body.splitlines()[0] for f in parts.forwarded] == ["first", "second"]
    assert [f.headers["subject"] for f in parts.forwarded] == ["Verify your account"] * 2


def test_content_view_blanks_header_lines_but_keeps_the_subject_and_offsets() -> None:
    text = CASES["outlook-en"].format(body=LURE_BODY)
    view = forwarded.content_view(text)
    assert len(view) == len(text) and view.count("\n") == text.count("\n")
    assert "support@exchange-support.top" not in view and "9:12 AM" not in view
    assert "Subject: Verify your account" in view and LURE_BODY in view


def test_attached_message_from_eml_text() -> None:
    raw = (
        "From: =?UTF-8?B?RXhjaGFuZ2Xlrpjmlrk=?= <vip@exchangevip.top>\r\n"
        "Subject: =?UTF-8?B?VklQ5Y2H57qn6YCa55+l?=\r\nDate: Thu, 03 Dec 2026 21:40:00 +0800\r\n"
        "Content-Type: text/html; charset=utf-8\r\n\r\n<p>请点击 <a href='https://exchangevip.top/vip'>领取</a></p>\r\n"
    )
    lure = forwarded.from_eml(raw)
    assert lure.source == "attached"
    assert lure.sender_domain == "exchangevip.top"
    assert lure.headers["subject"] == "VIP升级通知"
    assert "请点击" in lure.body


def test_attached_message_from_fields() -> None:
    lure = forwarded.from_fields({"From": "Support <help@exchange-help.net>", "Subject": "Hi", "X-Other": "x"}, "body")
    assert lure.headers == {"from": "Support <help@exchange-help.net>", "subject": "Hi"}
    assert lure.sender_domain == "exchange-help.net"
