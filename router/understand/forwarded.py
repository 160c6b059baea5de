"""Inline-forwarded and attached messages: the customer's words vs. the lure.

Why this exists: customers forward the fake "support" mail they received and
ask whether it is real, and they forward the exchange's own mails when they
chase a case.  The team needs the forwarded message's sender, subject, date
and body apart from what the customer wrote, and the phishing check must not
mistake the customer's own words for the lure's (issue 13).

Mailers write a forward as a banner line and/or a header block (RFC 5322
section 3.6 field names, or their localised labels), then the body:

* Gmail: ``---------- Forwarded message ---------`` / ``---------- 转发的邮件 ---------``
* Outlook: ``-----Original Message-----`` / ``-----原始邮件-----`` or a line of
  underscores, then ``From:/Sent:/To:/Subject:`` (``发件人:/发送时间:/收件人:/主题:``,
  ``寄件者:/寄件日期:/收件者:/主旨:``)
* Apple Mail: ``Begin forwarded message:`` / ``以下为转发的邮件：`` / ``轉寄的郵件：``
* QQ Mail and Foxmail: ``------------------ 原始邮件 ------------------`` or
  ``------------------ Original ------------------`` with ``;``-terminated fields
* 163 / 126: ``-------- 转发邮件信息 --------`` with ``发件人：/发送日期：/主题：``
* Thunderbird: ``-------- Forwarded Message --------`` / ``-------- 转发的消息 --------``

A header block without a banner counts when a From line is directly
followed by another known field (Outlook, Foxmail), so
"From: me" in new text is not a forward.  Attached messages (RFC 2046
section 5.2.1, message/rfc822) are parsed with the standard library.

Note: pass the *whole* body text, not `split_reply`'s output, which cuts
exactly the forwarded part away.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import parseaddr

from router.text import html_to_text

_BANNER = re.compile(
    r"""^[ \t>]*(?:
        [-_=—\s]{2,}\s*(?:Forwarded\s+message|Forwarded\s+Message|Original\s+Message|Original|Message\s+transféré
            |转发的邮件|转发邮件信息|转发的消息|轉寄的郵件|轉寄郵件|转发邮件|原始邮件|原始郵件|原始信件|轉發的郵件|轉發郵件)\s*[-_=—\s]{2,}
      | Begin\s+forwarded\s+message\s*:?
      | (?:以下为|以下是|下面是)?(?:转发的邮件|轉寄的郵件|轉發的郵件)\s*[:：]
      | _{10,}
    )[ \t]*$""",
    re.IGNORECASE | re.VERBOSE | re.MULTILINE,
)

# Localised field labels -> our four keys.
_FIELDS: dict[str, str] = {
    "from": "from", "发件人": "from", "發件人": "from", "寄件者": "from", "寄件人": "from", "发信人": "from",
    "date": "date", "sent": "date", "日期": "date", "发送时间": "date", "發送時間": "date", "发送日期": "date",
    "寄件日期": "date", "傳送時間": "date", "时间": "date", "時間": "date",
    "subject": "subject", "主题": "subject", "主題": "subject", "主旨": "subject", "标题": "subject",
    "to": "to", "收件人": "to", "收件者": "to", "cc": "cc", "抄送": "cc", "副本": "cc", "抄送人": "cc",
}
_FIELD_LINE = re.compile(
    r"^[ \t>]*\**(" + "|".join(sorted(map(re.escape, _FIELDS), key=len, reverse=True)) + r")\**\s*[:：]\s?(.*)$",
    re.IGNORECASE,
)
_MAX_BLOCKS = 20


@dataclass(frozen=True)
class Forwarded:
    """One forwarded or attached message: its header fields and body text.

    `start`/`end` are offsets in the text given to `split` (the banner or
    header block up to the end of the body), so a caller can tell whether a
    span (a code, a link) belongs to the lure rather than to the customer.
    For attached messages both are -1.
    """

    headers: Mapping[str, str]
    body: str
    source: str  # "inline" | "attached"
    start: int = -1
    end: int = -1
    body_start: int = -1

    @property
    def sender(self) -> str:
        """The From address (lower-case), or "" when none is written."""
        raw = self.headers.get("from", "").strip().rstrip(";；")
        addr = parseaddr(raw.replace("＜", "<").replace("＞", ">"))[1]
        if "@" not in addr:
            m = re.search(r"[\w.+-]+@[\w.-]+", raw)
            addr = m.group(0) if m else ""
        return addr.lower()

    @property
    def sender_domain(self) -> str:
        return self.sender.rpartition("@")[2]


@dataclass(frozen=True)
class Split:
    """The customer's own words and the messages they forwarded inline."""

    own: str
    forwarded: tuple[Forwarded, ...] = field(default_factory=tuple)


def _header_block(lines: list[str], i: int) -> tuple[dict[str, str], int]:
    """Read field lines from line i on (blank lines before them are skipped).

    Returns the fields and the index of the first line after the block.
    """
    while i < len(lines) and not lines[i].strip():
        i += 1
    headers: dict[str, str] = {}
    while i < len(lines):
        m = _FIELD_LINE.match(lines[i])
        if not m:
            break
        key = _FIELDS[m.group(1).lower()]
        headers.setdefault(key, m.group(2).strip().rstrip(";；").strip())
        i += 1
    return headers, i


def _is_header_start(lines: list[str], i: int) -> bool:
    m = _FIELD_LINE.match(lines[i])
    if not m or _FIELDS[m.group(1).lower()] != "from":
        return False
    return i + 1 < len(lines) and bool(_FIELD_LINE.match(lines[i + 1]))


def _starts(lines: list[str]) -> list[int]:
    """Line indexes where a forwarded block begins (banner or header block)."""
    out: list[int] = []
    i = 0
    while i < len(lines) and len(out) < _MAX_BLOCKS:
        banner = bool(_BANNER.match(lines[i]))
        if banner or _is_header_start(lines, i):
            out.append(i)
            # skip the header block so its From line does not open a second block
            _, i = _header_block(lines, i + 1 if banner else i)
            i = max(i, out[-1] + 1)
            continue
        i += 1
    return out


def split(text: str) -> Split:
    """Split `text` into the customer's own words and inline-forwarded blocks."""
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    starts = _starts(lines)
    if not starts:
        return Split(own=text)
    blocks: list[Forwarded] = []
    for n, s in enumerate(starts):
        stop = starts[n + 1] if n + 1 < len(starts) else len(lines)
        j = s + 1 if _BANNER.match(lines[s]) else s
        headers, body_line = _header_block(lines, j)
        body_line = min(body_line, stop)
        body = "\n".join(_unquote(ln) for ln in lines[body_line:stop]).strip()
        end = min(offsets[stop], len(text))
        blocks.append(Forwarded(headers=headers, body=body, source="inline",
                                start=offsets[s], end=end, body_start=offsets[body_line]))
    own = "\n".join(lines[: starts[0]]).strip()
    return Split(own=own, forwarded=tuple(blocks))


def content_view(text: str, parts: Split | None = None) -> str:
    """`text` with the forwarded blocks' banners and header fields blanked, Subject kept.

    Same length and line breaks as `text`, so spans found in it (and the
    secrets check's spans) stay valid.  Entities are looked for here: a lure's
    Date/From/To lines describe the forwarded mail, not what the customer
    asks about, while its subject and body are content.
    """
    parts = parts if parts is not None else split(text)
    out = list(text)
    for block in parts.forwarded:
        pos = block.start
        for line in text[block.start:block.body_start].split("\n"):
            m = _FIELD_LINE.match(line)
            if not (m and _FIELDS[m.group(1).lower()] == "subject"):
                for i in range(pos, min(pos + len(line), len(out))):
                    out[i] = " "
            pos += len(line) + 1
    return "".join(out)


def lure_spans(parts: Split) -> list[tuple[int, int]]:
    """Offsets of the forwarded blocks: a code or link found there is the lure's, not the customer's secret.

    The secrets check keeps finding them (so nothing is logged or learned
    from), but the caller does not count them as the customer's secrets
    when it decides the route and the reply (issue 13).
    """
    return [(f.start, f.end) for f in parts.forwarded]


def _unquote(line: str) -> str:
    return line[1:].lstrip(" ") if line.startswith(">") else line


def from_fields(headers: Mapping[str, str], body: str) -> Forwarded:
    """An attached message the caller has already parsed (header names as in RFC 5322)."""
    keep = {k.lower(): v for k, v in headers.items() if k.lower() in ("from", "subject", "date", "to", "cc")}
    return Forwarded(headers=keep, body=body, source="attached")


def from_eml(raw: str | bytes) -> Forwarded:
    """An attached message/rfc822 part (or a .eml file) given as its raw text."""
    data = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogateescape")
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    headers = {k: str(msg.get(k, "")) for k in ("from", "subject", "date", "to") if msg.get(k) is not None}
    part = msg.get_body(preferencelist=("plain", "html"))
    body = ""
    if part is not None:
        try:
            body = str(part.get_content())
        except (LookupError, ValueError):
            body = ""
        if part.get_content_type() == "text/html":
            body = html_to_text(body)
    return from_fields(headers, body)
