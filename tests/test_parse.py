"""router.parse: raw bytes -> ParsedMail.

Every message is built here as bytes, the way it arrives on the wire, so the
tests exercise the real header and charset handling rather than a
pre-decoded string.
"""

from __future__ import annotations

import base64
import dataclasses
import urllib.parse

import pytest

from router import config, parse
from router.config import Limits

LIMITS = config.load(search=False).limits

# Characters that are in GBK but not in GB2312: Outlook and Foxmail label
# such text "gb2312" anyway.
GBK_ONLY = "镕瑄堃喆昇"
ZH = f"您好，我是朱{GBK_ONLY[0]}基的同事王{GBK_ONLY[1]}，李{GBK_ONLY[2]}、张{GBK_ONLY[3]}和{GBK_ONLY[4]}也在。我的账户被冻结了，请帮忙处理。"
ZH_TW = "您好，我的帳戶被凍結了，請幫忙處理提現問題。謝謝！"
HKSCS = "我嘅帳戶凍結咗，唔該幫手處理。"  # 嘅 咗 are HKSCS, not plain Big5


def msg(headers: list[bytes] | bytes, body: bytes = b"hello\r\n") -> bytes:
    """A raw message: header lines (bytes, used as-is) and a body."""
    if isinstance(headers, bytes):
        headers = [headers]
    base = [b"From: Customer <customer@example.com>", b"To: support@exchange.example", b"Message-ID: <m1@example.com>"]
    names = {h.split(b":", 1)[0].lower() for h in headers}
    lines = [h for h in base if h.split(b":", 1)[0].lower() not in names] + list(headers)
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def b_word(text: str, charset: str, codec: str | None = None) -> bytes:
    data = text.encode(codec or charset)
    return b"=?" + charset.encode() + b"?B?" + base64.b64encode(data) + b"?="


def q_bytes(data: bytes) -> bytes:
    return b"".join(b"=%02X" % b for b in data)


def parsed(raw: bytes, limits: Limits = LIMITS):
    mail = parse.parse(raw, limits)
    assert mail.problem is None, mail.problem
    return mail


def small(**changes: int) -> Limits:
    return dataclasses.replace(LIMITS, **changes)


# --- the test data itself ------------------------------------------------------


def test_gbk_only_characters_really_are_outside_gb2312():
    for ch in GBK_ONLY:
        with pytest.raises(UnicodeEncodeError):
            ch.encode("gb2312")
        ch.encode("gbk")
    with pytest.raises(UnicodeEncodeError):
        "嘅".encode("big5")
    "嘅".encode("big5hkscs")


# --- declared charsets ---------------------------------------------------------


def test_gb2312_label_with_gbk_only_characters_in_body():
    raw = msg(b"Content-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: 8bit", ZH.encode("gbk"))
    assert parsed(raw).body == ZH


def test_gb2312_label_with_gbk_only_characters_in_rfc2047_subject():
    raw = msg(b"Subject: " + b_word(ZH, "gb2312", "gbk"))
    assert parsed(raw).subject == ZH


def test_gb2312_quoted_printable_subject_and_base64_body():
    raw = msg(
        [
            b"Subject: =?GB2312?Q?" + q_bytes(ZH.encode("gbk")) + b"?=",
            b"Content-Type: text/plain; charset=\"GB2312\"\r\nContent-Transfer-Encoding: base64",
        ],
        base64.encodebytes(ZH.encode("gbk")),
    )
    mail = parsed(raw)
    assert mail.subject == ZH
    assert mail.body == ZH


def test_gbk_label():
    raw = msg([b"Subject: " + b_word(ZH, "GBK"), b"Content-Type: text/plain; charset=GBK"], ZH.encode("gbk"))
    mail = parsed(raw)
    assert (mail.subject, mail.body) == (ZH, ZH)


def test_gb18030_label_with_four_byte_characters():
    text = "吉野家的𠮷字，还有龦和䶮（刘䶮），账户冻结申诉。"
    with pytest.raises(UnicodeEncodeError):
        text.encode("gbk")
    raw = msg([b"Subject: " + b_word(text, "gb18030"), b"Content-Type: text/plain; charset=gb18030"], text.encode("gb18030"))
    mail = parsed(raw)
    assert (mail.subject, mail.body) == (text, text)


def test_big5_label_with_traditional_text_and_hkscs():
    body = ZH_TW + "\n" + HKSCS
    raw = msg(
        [b"Subject: " + b_word(HKSCS, "big5", "big5hkscs"), b"Content-Type: text/plain; charset=big5"],
        body.encode("big5hkscs"),
    )
    mail = parsed(raw)
    assert mail.body == body
    assert mail.subject == HKSCS


def test_unknown_and_non_text_charset_labels_do_not_break_parsing():
    for label in (b"x-bogus", b"base64", b"idna", b"rot13", b"zlib", b"unknown-8bit"):
        raw = msg(b"Content-Type: text/plain; charset=" + label, "提现失败 withdrawal failed".encode("utf-8"))
        mail = parse.parse(raw, LIMITS)
        assert mail.problem is None, (label, mail.problem)
        assert mail.body == "提现失败 withdrawal failed", label


# --- undeclared 8-bit text -------------------------------------------------------


@pytest.mark.parametrize(
    ("codec", "subject", "name", "body"),
    [
        ("gbk", ZH, "王" + GBK_ONLY[1], ZH),
        ("gbk", "账户冻结申诉", "朱" + GBK_ONLY[0] + "基", "你好"),
        ("big5", ZH_TW, "陳大文", ZH_TW),
        ("big5", "帳戶凍結申訴", "林志玲", "您好"),
    ],
    ids=["gbk-long", "gbk-short", "big5-long", "big5-short"],
)
def test_undeclared_8bit_headers_and_body(codec, subject, name, body):
    raw = msg(
        [
            b"From: " + name.encode(codec) + b" <Customer@Example.com>",
            b"Subject: " + subject.encode(codec),
            b"MIME-Version: 1.0",
            b"Content-Type: text/plain",
            b"Content-Transfer-Encoding: 8bit",
        ],
        body.encode(codec),
    )
    mail = parsed(raw)
    assert mail.subject == subject
    assert mail.from_name == name
    assert mail.from_address == "customer@example.com"
    assert mail.body == body
    assert mail.header("subject") == subject


@pytest.mark.parametrize("codec", ["gbk", "big5"])
def test_undeclared_8bit_display_name_alone(codec):
    """A short raw name in an otherwise ASCII message is still read right."""
    name = "王小明" if codec == "gbk" else "陳大文"
    raw = msg([b"From: " + name.encode(codec) + b" <a@example.com>", b"Subject: hello"], b"hello")
    assert parsed(raw).from_name == name


def test_undeclared_body_with_no_content_type_at_all():
    raw = b"From: a@example.com\r\nSubject: x\r\n\r\n" + ZH.encode("gbk")
    assert parsed(raw).body == ZH


def test_raw_utf8_headers():
    raw = msg([b"From: " + "张三".encode() + b" <a@example.com>", b"Subject: " + "充值未到账".encode()], b"hi")
    mail = parsed(raw)
    assert (mail.from_name, mail.subject) == ("张三", "充值未到账")


def test_mostly_utf8_header_with_a_stray_byte_keeps_the_address():
    raw = msg(b"From: " + "Юникод".encode() + b"\xd0 <headers@example.com>", b"hi")
    mail = parsed(raw)
    assert mail.from_address == "headers@example.com"
    assert mail.from_name.startswith("Юникод")


# --- wrongly declared charsets --------------------------------------------------


def test_latin1_label_on_utf8_chinese_is_read_as_utf8():
    """Chosen behaviour: a single-byte label never wins over valid UTF-8 (mojibake is useless)."""
    raw = msg(
        [b"Subject: " + b_word(ZH, "iso-8859-1", "utf-8"), b"Content-Type: text/plain; charset=iso-8859-1"],
        ZH.encode("utf-8"),
    )
    mail = parsed(raw)
    assert mail.body == ZH
    assert mail.subject == ZH


def test_latin1_label_on_gbk_chinese_is_read_as_chinese():
    raw = msg(b"Content-Type: text/plain; charset=iso-8859-1", ZH.encode("gbk"))
    assert parsed(raw).body == ZH


def test_real_latin1_text_stays_latin1():
    text = "Café, résumé, naïve, Grüße aus Köln"
    raw = msg(b"Content-Type: text/plain; charset=iso-8859-1", text.encode("latin-1"))
    assert parsed(raw).body == text


def test_gb2312_label_on_utf8_text_is_read_as_utf8():
    raw = msg(b"Content-Type: text/plain; charset=gb2312", ZH.encode("utf-8"))
    assert parsed(raw).body == ZH


def test_utf8_label_on_gbk_bytes_is_detected():
    raw = msg(b"Content-Type: text/plain; charset=utf-8", ZH.encode("gbk"))
    assert parsed(raw).body == ZH


def test_long_utf8_body_is_not_misdetected_when_cut_to_the_text_budget():
    text = "账户冻结申诉，请帮忙处理。" * 3000  # far over the budget below
    raw = msg(b"Content-Type: text/plain; charset=utf-8", text.encode("utf-8"))
    mail = parsed(raw, small(max_text_chars=1001))
    assert mail.body == text[:1001]


# --- RFC 2047 --------------------------------------------------------------------


def split_words(data: bytes, charset: str, at: int, kinds: str = "BB", sep: bytes = b"\r\n ") -> bytes:
    def word(chunk: bytes, kind: str) -> bytes:
        enc = base64.b64encode(chunk) if kind == "B" else q_bytes(chunk)
        return b"=?" + charset.encode() + b"?" + kind.encode() + b"?" + enc + b"?="

    return word(data[:at], kinds[0]) + sep + word(data[at:], kinds[1])


@pytest.mark.parametrize("kinds", ["BB", "QQ", "BQ"])
def test_encoded_word_split_mid_character_utf8(kinds):
    text = "账户冻结申诉"
    data = text.encode("utf-8")
    for at in (1, 2, 4, 8, 16):  # every cut lands inside a 3-byte character
        raw = msg(b"Subject: " + split_words(data, "UTF-8", at, kinds))
        assert parsed(raw).subject == text, at


@pytest.mark.parametrize(("first", "second"), [("GBK", "GBK"), ("gb2312", "GBK"), ("GB2312", "gb18030")])
def test_encoded_word_split_mid_character_gbk(first, second):
    text = "王" + GBK_ONLY[1] + "的账户冻结申诉"
    data = text.encode("gbk")
    at = 3  # inside the second character
    words = (
        b"=?" + first.encode() + b"?B?" + base64.b64encode(data[:at]) + b"?= "
        b"=?" + second.encode() + b"?B?" + base64.b64encode(data[at:]) + b"?="
    )
    assert parsed(msg(b"Subject: " + words)).subject == text


def test_encoded_words_and_plain_text_mix():
    raw = msg(b"Subject: Re: " + b_word("账户冻结", "utf-8") + b" " + b_word("申诉", "gbk") + b" -UID12345678 done")
    assert parsed(raw).subject == "Re: 账户冻结申诉 -UID12345678 done"


def test_display_name_that_decodes_to_a_comma_is_one_address():
    raw = msg(b"From: " + b_word("Zhang, San", "utf-8") + b" <ZS@Example.com>")
    mail = parsed(raw)
    assert (mail.from_name, mail.from_address) == ("Zhang, San", "zs@example.com")


def test_gbk_encoded_display_name():
    raw = msg(b"From: " + b_word("王" + GBK_ONLY[1], "gb2312", "gbk") + b" <wang@example.com>")
    mail = parsed(raw)
    assert (mail.from_name, mail.from_address) == ("王" + GBK_ONLY[1], "wang@example.com")


def test_decode_header_public_function():
    assert parse.decode_header(None) == ""
    assert parse.decode_header("=?utf-8?q?hello_world?=") == "hello world"
    assert parse.decode_header("plain  text") == "plain  text"
    assert parse.decode_header("folded\r\n line") == "folded line"


# --- attachments -----------------------------------------------------------------

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64


def multipart(parts: list[bytes], subtype: bytes = b"mixed", extra: bytes = b"") -> bytes:
    body = b"".join(b"--BOUNDARY\r\n" + p + b"\r\n" for p in parts) + b"--BOUNDARY--\r\n" + extra
    return msg([b"MIME-Version: 1.0", b'Content-Type: multipart/' + subtype + b'; boundary="BOUNDARY"'], b"preamble\r\n" + body)


def text_part(text: str, subtype: bytes = b"plain") -> bytes:
    return b"Content-Type: text/" + subtype + b"; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(text.encode())


def file_part(disposition_params: bytes, ctype: bytes = b"image/jpeg", payload: bytes = JPEG) -> bytes:
    return (
        b"Content-Type: " + ctype + b"\r\nContent-Disposition: attachment; " + disposition_params
        + b"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(payload)
    )


def names_of(raw: bytes) -> list[str]:
    return [a.filename for a in parsed(raw).attachments]


def test_rfc2231_utf8_filename():
    raw = multipart([text_part("见附件"), file_part(b"filename*=UTF-8''%E8%BA%AB%E4%BB%BD%E8%AF%81.jpg")])
    mail = parsed(raw)
    assert [a.filename for a in mail.attachments] == ["身份证.jpg"]
    assert mail.attachments[0].payload == JPEG
    assert mail.attachments[0].content_type == "image/jpeg"
    assert mail.body == "见附件"


def test_rfc2231_continuations():
    raw = multipart(
        [text_part("x"), file_part(b"filename*0*=UTF-8''%E8%BA%AB%E4%BB%BD; filename*1*=%E8%AF%81%E6%AD%A3%E9%9D%A2.jpg")]
    )
    assert names_of(raw) == ["身份证正面.jpg"]


def test_rfc2231_gb2312_label_with_gbk_only_character():
    name = "王" + GBK_ONLY[1] + "身份证.jpg"
    quoted = urllib.parse.quote(name.encode("gbk")).encode()
    raw = multipart([text_part("x"), file_part(b"filename*=gb2312''" + quoted)])
    assert names_of(raw) == [name]


def test_gbk_rfc2047_filename_and_content_type_name():
    name = "身份证反面" + GBK_ONLY[3] + ".jpg"
    word = b_word(name, "GBK")
    raw = multipart(
        [
            text_part("x"),
            file_part(b'filename="' + word + b'"'),
            b'Content-Type: image/jpeg; name="' + word + b'"\r\nContent-Transfer-Encoding: base64\r\n\r\n' + base64.encodebytes(JPEG),
        ]
    )
    assert names_of(raw) == [name, name]


@pytest.mark.parametrize(
    ("codec", "name"),
    [("gbk", "王小明身份证.jpg"), ("big5", "陳大文身份證.jpg"), ("utf-8", "银行流水.pdf")],
    ids=["gbk", "big5", "utf-8"],
)
def test_raw_8bit_filename(codec, name):
    raw = multipart([text_part("x"), file_part(b'filename="' + name.encode(codec) + b'"')])
    assert names_of(raw) == [name]


def test_unnamed_inline_image_is_an_attachment_and_body_text_is_not():
    raw = multipart(
        [
            text_part("截图见下"),
            b"Content-Type: image/png\r\nContent-ID: <img1@x>\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(b"\x89PNG\r\n\x1a\n"),
        ],
        b"related",
    )
    mail = parsed(raw)
    assert [(a.filename, a.content_type, a.inline, a.content_id) for a in mail.attachments] == [("", "image/png", True, "<img1@x>")]
    assert mail.body == "截图见下"


def test_text_file_attachment_is_not_body():
    raw = multipart([text_part("see log"), file_part(b'filename="login.log"', b"text/plain", b"2024-03-01 login from 1.2.3.4")])
    mail = parsed(raw)
    assert mail.body == "see log"
    assert [(a.filename, a.payload) for a in mail.attachments] == [("login.log", b"2024-03-01 login from 1.2.3.4")]


def test_attachment_hidden_in_epilogue_by_reused_boundary_is_found():
    """A nested multipart that reuses the outer boundary pushes later parts into the epilogue."""
    zip_payload = b"PK\x03\x04" + b"\x00" * 40
    body = (
        b"--B\r\nContent-Type: multipart/alternative; boundary=\"B\"\r\n\r\n"
        b"--B\r\nContent-Type: text/plain\r\n\r\nplease see attached\r\n"
        b"--B\r\nContent-Type: text/html\r\n\r\n<p>please see attached</p>\r\n"
        b"--B--\r\n\r\n"
        b"--B\r\nContent-Type: application/zip; name=\"photo.jpg_.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(zip_payload) + b"--B--\r\n"
    )
    raw = msg([b"MIME-Version: 1.0", b'Content-Type: multipart/mixed; boundary="B"'], body)
    mail = parsed(raw)
    assert [(a.filename, a.payload) for a in mail.attachments] == [("photo.jpg_.zip", zip_payload)]


# --- bodies -----------------------------------------------------------------------


def test_html_only_body_becomes_text():
    html = (
        "<html><head><title>Title</title><style>p { color: red }</style></head><body>"
        "<script>var secret = 'dropped';</script>"
        "<p>Hello&nbsp;&amp; welcome&#33;</p>line one<br>line two<BR/>&lt;tag&gt; &#25105;&#x7684;</body></html>"
    )
    raw = msg(b"Content-Type: text/html; charset=utf-8", html.encode())
    mail = parsed(raw)
    assert mail.body == "Hello & welcome!\n\nline one\nline two\n<tag> 我的"
    assert "dropped" not in mail.body and "color" not in mail.body and "Title" not in mail.body


@pytest.mark.parametrize("plain_first", [True, False])
def test_multipart_alternative_picks_plain(plain_first):
    parts = [text_part("plain version"), text_part("<p>html version</p>", b"html")]
    raw = multipart(parts if plain_first else parts[::-1], b"alternative")
    mail = parsed(raw)
    assert mail.body == "plain version"
    assert sorted(mail.content_types) == ["multipart/alternative", "text/html", "text/plain"]
    assert mail.attachments == ()


def test_multipart_alternative_with_empty_plain_uses_html():
    raw = multipart([text_part("  \r\n"), text_part("<div>only in html</div>", b"html")], b"alternative")
    assert parsed(raw).body == "only in html"


def test_quoted_reply_is_separated_from_new_text():
    body = (
        "我已经上传了身份证，请尽快处理。\r\n\r\n"
        "------------------ 原始邮件 ------------------\r\n"
        "发件人: \"Support\"<support@exchange.example>;\r\n"
        "发送时间: 2024年3月1日(星期五) 上午10:00\r\n"
        "请提供身份证照片。\r\n"
    )
    mail = parsed(msg(b"Content-Type: text/plain; charset=utf-8", body.encode()))
    assert mail.new_text == "我已经上传了身份证，请尽快处理。"
    assert "请提供身份证照片" in mail.body


def test_message_that_is_all_quote_keeps_its_text():
    body = "> Please send your ID.\r\n> Thanks, Support\r\n"
    mail = parsed(msg(b"Content-Type: text/plain", body.encode()))
    assert mail.new_text == "> Please send your ID.\n> Thanks, Support"


def test_signature_is_removed_from_new_text():
    body = "Withdrawal failed, please check.\r\n\r\nSent from my iPhone\r\n"
    assert parsed(msg(b"Content-Type: text/plain", body.encode())).new_text == "Withdrawal failed, please check."


# --- identity headers --------------------------------------------------------------


def test_missing_message_id_gets_a_stable_fallback():
    raw = b"From: a@example.com\r\nSubject: no id\r\n\r\nbody"
    first, second = parsed(raw), parsed(raw)
    assert first.message_id == second.message_id
    assert first.message_id.startswith("<") and first.message_id.endswith("@router.invalid>")
    other = parsed(raw + b" changed")
    assert other.message_id != first.message_id
    assert first.message_id == parse.fallback_message_id(raw)


def test_message_id_is_kept_and_bare_one_gets_brackets():
    assert parsed(msg(b"Message-ID: <Abc.123@Mail.Example.com>")).message_id == "<Abc.123@Mail.Example.com>"
    assert parsed(msg(b"Message-ID: abc.123@mail.example.com")).message_id == "<abc.123@mail.example.com>"


def test_problem_mail_keeps_message_id_when_it_can_be_read():
    raw = msg(b"Message-ID: <big@example.com>", b"x" * 500)
    mail = parse.parse(raw, small(max_message_bytes=200))
    assert mail.problem and mail.message_id == "<big@example.com>"


def test_return_path():
    assert parsed(msg(b"Return-Path: <>")).return_path == ""
    assert parsed(msg(b"Subject: x")).return_path is None
    assert parsed(msg(b"Return-Path: <Bounce+X@Example.COM>")).return_path == "bounce+x@example.com"


def test_addresses_and_references():
    raw = msg(
        [
            b"To: Support <Support@Exchange.Example>, other@example.com",
            b"Cc: =?utf-8?B?5a6i5pyN?= <cc@example.com>",
            b"Reply-To: reply@example.com",
            b"In-Reply-To: <prev@example.com>",
            b"References: <a@example.com>\r\n <prev@example.com>",
        ]
    )
    mail = parsed(raw)
    assert mail.to == ("support@exchange.example", "other@example.com")
    assert mail.cc == ("cc@example.com",)
    assert mail.reply_to == "reply@example.com"
    assert mail.in_reply_to == "<prev@example.com>"
    assert mail.references == ("<a@example.com>", "<prev@example.com>")


def test_utf8_bom_before_the_headers():
    assert parsed(b"\xef\xbb\xbf" + msg(b"Subject: bom")).subject == "bom"


# --- limits and things that are not mail ----------------------------------------------


def test_over_max_message_bytes_is_a_problem():
    raw = msg(b"Subject: big", b"x" * 1000)
    mail = parse.parse(raw, small(max_message_bytes=len(raw) - 1))
    assert mail.problem and "limit" in mail.problem
    assert mail.size == len(raw)
    assert parse.parse(raw, small(max_message_bytes=len(raw))).problem is None


def nested(levels: int) -> bytes:
    """A message whose multipart/mixed containers nest `levels` deep around one text part."""
    body = b""
    for i in range(1, levels):
        body += b"--b%d\r\nContent-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n" % (i - 1, i)
    body += b"--b%d\r\nContent-Type: text/plain\r\n\r\ndeep text\r\n--b%d--\r\n" % (levels - 1, levels - 1)
    for i in range(levels - 2, -1, -1):
        body += b"--b%d--\r\n" % i
    return msg([b"MIME-Version: 1.0", b'Content-Type: multipart/mixed; boundary="b0"'], body)


def test_deeper_than_max_depth_is_a_problem():
    mail = parse.parse(nested(6), small(max_depth=3))
    assert mail.problem and "nesting" in mail.problem
    assert parse.parse(nested(6), small(max_depth=6)).body == "deep text"


def test_more_parts_than_max_parts_is_a_problem():
    raw = multipart([text_part(f"part {i}") for i in range(10)])
    mail = parse.parse(raw, small(max_parts=5))
    assert mail.problem and "parts" in mail.problem
    assert parse.parse(raw, small(max_parts=11)).problem is None


def test_forty_levels_of_nesting_do_not_raise():
    assert "nesting" in (parse.parse(nested(40), LIMITS).problem or "")
    deep = parse.parse(nested(40), small(max_depth=100, max_parts=1000))
    assert deep.problem is None
    assert deep.body == "deep text"


def test_thousands_of_levels_do_not_raise():
    mail = parse.parse(nested(3000), small(max_depth=10_000, max_parts=10_000))
    assert mail.problem is None or "nesting" in mail.problem or "unparseable" in mail.problem


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b" \r\n\t\n  \n", id="whitespace"),
        pytest.param(bytes(range(256)) * 8, id="binary"),
        pytest.param(bytes((i * 37 + 11) % 255 + 1 for i in range(4000)), id="binary-no-nul"),
        pytest.param(b"}Y:\xfa\x87\x8au\xfc\xc8\xdc", id="short-garbage-with-colon"),
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00", id="png"),
        pytest.param(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", id="pdf"),
        pytest.param(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, id="outlook-msg"),
        pytest.param("这是一封没有邮件头的信。\n第二行。\n".encode(), id="no-headers-zh"),
        pytest.param(b"Dear support team,\n\nmy account is frozen.\n", id="no-headers-en"),
        pytest.param(b"Hello: there\n\nbody", id="no-known-headers"),
    ],
)
def test_not_mail_is_a_problem_not_an_exception(raw):
    mail = parse.parse(raw, LIMITS)
    assert mail.problem
    assert mail.message_id.endswith("@router.invalid>")
    assert mail.size == len(raw)


def test_too_many_header_fields_is_a_problem():
    many = [b"X-Filler-%d: v" % i for i in range(parse.MAX_HEADER_FIELDS + 5)]
    mail = parse.parse(msg(many), LIMITS)
    assert mail.problem and "header" in mail.problem
    nested_many = multipart([b"\r\n".join(many) + b"\r\n\r\nx"])
    mail = parse.parse(nested_many, LIMITS)
    assert mail.problem and "header fields" in mail.problem


def test_subject_of_thousands_of_encoded_words():
    word = b"=?utf-8?B?" + base64.b64encode("账".encode()) + b"?="
    mail = parsed(msg(b"Subject: " + b"\r\n ".join([word] * 5000)))
    assert mail.subject == "账" * 5000


def test_attached_message_is_one_attachment():
    inner = b"From: x@example.com\r\nSubject: scam\r\n\r\nsend me your seed phrase\r\n"
    raw = multipart(
        [
            text_part("see the attached mail"),
            b'Content-Type: message/rfc822\r\nContent-Disposition: attachment; filename="scam.eml"\r\n\r\n' + inner,
        ]
    )
    mail = parsed(raw)
    assert [(a.filename, a.content_type) for a in mail.attachments] == [("scam.eml", "message/rfc822")]
    assert b"send me your seed phrase" in mail.attachments[0].payload
