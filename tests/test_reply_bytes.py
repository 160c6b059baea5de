"""`reply_bytes` (the acknowledgement written directly) sends what `build_reply` makes.

The drain writes acknowledgements as bytes, without `EmailMessage` and its
header registry; a customer must still get exactly the message the careful
path builds: the same headers in the same order (RFC 2047 words for a
Chinese subject, folding at 78 for long References), the same text part
and transfer encoding, the same Message-ID.  Only the Date may differ.
Both are also parsed back and compared field by field, so a difference
that survives the byte comparison's normalising still shows.
`header_line`, which writes each header, is held to the policy's own
folding for many values, hostile ones included.
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import random
import re
import string
from email.message import Message
from email.utils import formatdate
from pathlib import Path

import pytest

import mailkit
from router import config, parse, pipeline
from router.act.forward import _POLICY, _flatten
from router.act.headers import SMTP_POLICY, header_line, text_body
from router.act.reply import build_reply, reply_bytes
from router.config import Settings
from router.records import Decision, ParsedMail

REFS = " ".join(f"<thread-{k}.{'x' * 30}@mail.example>" for k in range(14))
TRADITIONAL = """Subject: [Case #{{ case_id }}] 我們已收到您的來信{% if issue %}（{{ issue }}）{% endif %}，請勿回覆此自動通知以外的內容，謝謝您的耐心等候

您好：

感謝您聯絡我們。您的來信已收到，並登記為案件 #{{ case_id }}。我們的團隊將在 {{ response_time }} 內回覆您，請耐心等候，並請勿重複寄送相同的信件，以免延誤處理。
{% if missing %}
為了處理此案件，我們仍需要以下文件：
{% for m in missing %}  - {{ m }}
{% endfor %}{% endif %}
為了您的安全：我們的員工絕不會向您索取密碼、私鑰、助記詞或驗證碼。

此為自動回覆。
客戶支援
"""
LONG_EN = """Subject: [Case #{{ case_id }}] We received your message and registered it; please keep this case number in every reply{% if issue %} ({{ issue }}){% endif %}

Hello,
{% for k in range(12) %}
Line {{ k }} of a long acknowledgement for case #{{ case_id }}, written so that it is longer than the seventy-eight characters a line may hold before the encoding changes.
{% endfor %}
"""
SHORT_EN = """Subject: [Case #{{ case_id }}] Received

Hello, case #{{ case_id }} is registered.
"""
SHORT_ZH = """Subject: [Case #{{ case_id }}] 已收到

您好：案件 #{{ case_id }} 已登記。
"""


def _cases() -> list[tuple[str, bytes]]:
    out = [
        ("zh-subject", mailkit.mail("账户被盗-UID12345678", "有人盗走了我的资金，请帮忙冻结账户。", message_id="<r1@mail.example>")),
        ("display-name", mailkit.mail("Withdrawal Failed - UID 12345678", "My withdrawal failed.",
                                      sender="=?utf-8?b?5byg5LiJ?= <zhang.san@mail.example>", message_id="<r2@mail.example>")),
        ("quoted-name", mailkit.mail("Deposit not credited UID 23456789", "My deposit is missing.",
                                     sender='"Doe, John (VIP)" <john.doe@mail.example>', message_id="<r3@mail.example>")),
        ("long-references", mailkit.mail("Re: [Case #ABCD1234] Withdrawal Failed - UID 12345678", "Any news?",
                                         message_id="<r4@mail.example>", extra={"References": REFS, "In_Reply_To": "<thread-13@mail.example>"})),
        ("reply-to", mailkit.mail("Account locked UID 34567890", "I cannot log in.", message_id="<r5@mail.example>",
                                  extra={"Reply_To": "=?utf-8?q?Caf=C3=A9_Ops?= <ops+tickets@mail.example>"})),
        ("odd-message-id", mailkit.mail("Where is my money", "Deposit missing since Monday.",
                                        message_id="<" + "=?utf-8?q?x?=" + "y" * 90 + "@mail.example>")),
        ("long-zh-subject", mailkit.mail("提现失败-UID12345678 " + "我的提现一直没有到账，" * 8, "请帮忙查一下。",
                                         message_id="<r7@mail.example>")),
    ]
    return out + mailkit.teams_mails(30)


_DATE = re.compile(rb"\r\nDate: [^\r]*\r\n")


def _normal(wire: bytes) -> bytes:
    return _DATE.sub(b"\r\nDate: DATE\r\n", wire, count=1)


@pytest.fixture(scope="module")
def settings() -> Settings:
    return config.load(None, search=False)


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Template folders an operator might ship: Traditional Chinese, long lines (quoted-printable), a short one."""
    out = {}
    for name, zh, en in (("traditional", TRADITIONAL, LONG_EN), ("short", SHORT_ZH, SHORT_EN)):
        folder = tmp_path_factory.mktemp(name)
        (folder / "zh.txt").write_text(zh, encoding="utf-8")
        (folder / "en.txt").write_text(en, encoding="utf-8")
        out[name] = folder
    return out


def _decided(settings: Settings, raw: bytes) -> tuple[ParsedMail, Decision]:
    return pipeline.decide_mail(parse.parse(raw, settings.limits), settings, None)


def _parsed(wire: bytes) -> Message:
    return email.message_from_bytes(wire, policy=email.policy.default)


def _same_when_parsed(fast: bytes, careful: bytes) -> None:
    a, b = _parsed(fast), _parsed(careful)
    assert [k for k, _ in a.items()] == [k for k, _ in b.items()]
    for (k, va), (_, vb) in zip(a.items(), b.items(), strict=True):
        if k != "Date":
            assert str(va) == str(vb), k
    assert a.get_content_type() == b.get_content_type() == "text/plain"
    assert not a.is_multipart() and not b.is_multipart()
    assert a["Content-Transfer-Encoding"] == b["Content-Transfer-Encoding"]
    assert a.get_content() == b.get_content()  # type: ignore[attr-defined]


@pytest.mark.parametrize(("name", "raw"), _cases(), ids=[n for n, _ in _cases()])
@pytest.mark.parametrize("folder", [None, "traditional", "short"])
@pytest.mark.parametrize("template", ["en", "zh"])
def test_reply_bytes_is_build_reply(settings: Settings, folders: dict[str, Path], name: str, raw: bytes,
                                    folder: str | None, template: str) -> None:
    if folder is not None:
        settings = dataclasses.replace(settings, replies=dataclasses.replace(settings.replies, templates=folders[folder]))
    mail, decision = _decided(settings, raw)
    wire, mid = reply_bytes(settings, mail, decision, template)
    careful = build_reply(settings, mail, decision, template)
    assert mid == str(careful["Message-ID"])
    flat = _flatten(careful)
    assert _normal(wire) == _normal(flat), name
    _same_when_parsed(wire, flat)
    assert all(len(line) <= 998 for line in wire.split(b"\r\n")), name
    assert wire.split(b"\r\n\r\n")[0].isascii()  # headers in RFC 2047 words: no SMTPUTF8 needed


def test_the_cases_cover_what_the_reply_holds(settings: Settings, folders: dict[str, Path]) -> None:
    """The comparison above is worth something only if it reaches encoded subjects, folding and every encoding."""
    wires = []
    for folder in (None, *folders.values()):
        s = dataclasses.replace(settings, replies=dataclasses.replace(settings.replies, templates=folder))
        for _, raw in _cases():
            mail, decision = _decided(s, raw)
            wires += [reply_bytes(s, mail, decision, t)[0] for t in ("en", "zh")]
    joined = b"\n".join(wires)
    for part in (b"Subject: [Case #", b"] =?utf-8?b?", b"\r\n =?utf-8?b?", b"References: <thread-4.", b"\r\n <thread-5.",
                 b"Content-Transfer-Encoding: 7bit", b"Content-Transfer-Encoding: 8bit", b"Content-Transfer-Encoding: base64",
                 b"Content-Transfer-Encoding: quoted-printable", b"In-Reply-To: =?utf-8?q?=3Cxyyy"):
        assert part in joined, part
    traditional = [w.split(b"\r\n\r\n")[0] for w in wires if "我們已收到" in str(_parsed(w)["Subject"])]
    assert traditional  # the Traditional Chinese subject, long: RFC 2047 words folded within 78
    assert all(b"\r\n =?utf-8?b?" in head and max(len(line) for line in head.split(b"\r\n")) <= 78 for head in traditional)


# Values every header of ours can carry: addresses with and without display names (RFC 2047 ones too),
# Message-IDs fit and unfit, encoded-word look-alikes, specials, long folding text, Chinese.
_VALUES = [
    "a@b.example", "A.B+c@d-e.example", "张三 <zhang@mail.example>", '"Doe, John" <john@mail.example>',
    "=?utf-8?b?5byg5LiJ?= <zhang@mail.example>", "undisclosed-recipients:;", "<a@b>", "<a@b> <c@d>",
    "<router.reply.5f6a74839beb2396dec33212af0995dd@exchange.example>", "<no-at-sign>", "<a@[127.0.0.1]>",
    formatdate(localtime=False), formatdate(localtime=True), "Mon, 24 Nov 2026 09:00:00 +0000",
    "Tue, 24 Nov 2026 09:00:00 +0000", "24 Nov 2026 09:00:00 GMT", "", " ", "a  b", " a", "a ", "a\tb",
    "(comment) a", '"quoted" a', "a,b;c:d", "=?utf-8?q?a?=", "a=?b", "a\\b", "x" * 77, "x" * 120, "y " * 60,
    "[Case #ABCD1234] 我们已收到您的来信（账户被盗）", "[Case #ABCD1234] 我們已收到您的來信（帳戶被盜）",
    '{"uid":["12345678"],"address":["0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"]}' * 3, "café", REFS,
]
_NAMES = ["From", "To", "Reply-To", "Subject", "Date", "Message-ID", "In-Reply-To", "References", "Auto-Submitted",
          "X-Router-Loop", "X-Router-Entities", "X-Router-Case-Id", "MIME-Version", "Content-Type"]


def _random_values(n: int) -> list[str]:
    rnd = random.Random(14)
    alphabet = string.printable[:95] + "  =?<>@\"(),;:é我"
    return ["".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 100))) for _ in range(n)]


def _policy_line(name: str, value: str, policy: email.policy.EmailPolicy) -> bytes | str:
    try:
        return policy.fold_binary(*policy.header_store_parse(name, value))
    except Exception as exc:  # noqa: BLE001 - the same refusal is expected from header_line
        return type(exc).__name__


def _fast_line(name: str, value: str, policy: email.policy.EmailPolicy, limit: int | None) -> bytes | str:
    try:
        return header_line(name, value, policy, limit)
    except Exception as exc:  # noqa: BLE001
        return type(exc).__name__


@pytest.mark.parametrize("name", _NAMES)
def test_header_line_is_what_the_generator_writes(name: str) -> None:
    for policy in (SMTP_POLICY, _POLICY):
        limit = 998 if policy is _POLICY and name == "X-Router-Entities" else None
        for value in _VALUES + _random_values(1500):
            assert _fast_line(name, value, policy, limit) == _policy_line(name, value, policy), (name, value)


def test_header_line_refuses_what_the_policy_refuses() -> None:
    """CR/LF can never start a header: header_line raises where EmailMessage would."""
    for value in ("a\r\nBcc: victim@mail.example", "a\nb", "a\rb"):
        with pytest.raises(ValueError):
            header_line("Subject", value)


@pytest.mark.parametrize("text", ["short\n", "", "ascii " * 30 + "\n", "中文\n第二行\n", "中文很长的一行" * 20 + "\n",
                                  "\n".join("line %d " % k + "长" * 40 for k in range(15)) + "\n", "From the start\r\nx\r"])
def test_text_body_is_set_content(text: str) -> None:
    msg = email.message.EmailMessage(policy=SMTP_POLICY)
    msg.set_content(text)
    del msg["MIME-Version"]
    head, body = text_body(text)
    assert head + b"\r\n" + body == _flatten(msg)
