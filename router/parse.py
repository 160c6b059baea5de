"""Raw bytes -> ParsedMail.  The only module that imports mail-parser.

Parsing never raises: anything that cannot be read safely yields a
`ParsedMail` whose `problem` says why, and the decision quarantines it.

Charsets: Chinese mail is often mislabelled.  `gb2312` and `gbk` labels are
decoded as GB18030 (its superset; Outlook labels GBK text gb2312), `big5` as
Big5-HKSCS, and text with no usable label (undeclared 8-bit bytes in headers
or bodies) is detected with charset-normalizer.  RFC 2047 encoded words split
mid-character are joined before decoding (email.header.decode_header collapses
adjacent words of one charset); RFC 2231 file names are handled by the email
package under mail-parser.
"""

from __future__ import annotations

import email
import email.header
import email.policy
import email.utils
import hashlib
import logging
import re
from email.message import Message

import mailparser
from charset_normalizer import from_bytes

from router.config import Limits
from router.records import Attachment, ParsedMail
from router.text import html_to_text, split_reply

# mail-parser logs header values and parser chatter at WARNING/ERROR; header
# values can hold customer secrets, and our own logs say what matters.
logging.getLogger("mailparser").setLevel(logging.CRITICAL + 1)

_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "euc-cn": "gb18030",
    "x-euc-cn": "gb18030",
    "chinese": "gb18030",
    "csgb2312": "gb18030",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "cn-big5": "big5hkscs",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
    "unknown-8bit": "",
    "x-unknown": "",
    "x-user-defined": "",
}


def _codec(label: str | None) -> str:
    """Map a declared charset label to the codec that really decodes it."""
    if not label:
        return ""
    label = label.strip().strip('"').lower()
    label = _CHARSET_ALIASES.get(label, label)
    if not label:
        return ""
    import codecs

    try:
        return codecs.lookup(label).name
    except LookupError:
        return ""


def decode_bytes(data: bytes, label: str | None = None) -> str:
    """Decode text bytes: declared codec first, then UTF-8, then detection."""
    if not data:
        return ""
    codec = _codec(label)
    if codec:
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if codec in ("", "utf-8", "ascii"):
        guess = _detect(data)
        if guess:
            return guess
    return data.decode(codec or "utf-8", errors="replace")


def _detect(data: bytes) -> str | None:
    """Detect undeclared 8-bit text, preferring the Chinese codecs we see."""
    sample = data[:20000]
    for codec in ("gb18030", "big5hkscs"):
        try:
            text = sample.decode(codec)
        except UnicodeDecodeError:
            continue
        if _plausible_cjk(text):
            # GB18030 decodes almost any byte string; accept it only when it
            # yields mostly common Han characters, else try the next guess.
            return data.decode(codec, errors="replace")
    best = from_bytes(sample).best()
    if best is None:
        return None
    return data.decode(best.encoding, errors="replace")


def _plausible_cjk(text: str) -> bool:
    han = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fa5")
    odd = sum(1 for ch in text if ("\u3400" <= ch <= "\u4dbf") or ("\ue000" <= ch <= "\uf8ff") or ord(ch) > 0xFFFF)
    high = sum(1 for ch in text if ord(ch) > 127)
    return han > 0 and odd * 10 <= han and han * 2 >= high * 0.9 and _common_ratio(text) > 0.35


# The 500 most frequent Han characters cover most of ordinary Chinese text; a
# mis-decoded byte stream lands on rare characters instead.
_COMMON = set(
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坐集编宝谈府拉黑且随格尽剑讲布杀微怕母调局根曾准团段终乐切级克精哪官示冷域读帐户账号币钱提现充值冻结密码验证登录交易请谢您")


def _common_ratio(text: str) -> float:
    han = [ch for ch in text if "\u4e00" <= ch <= "\u9fa5"]
    if not han:
        return 0.0
    return sum(1 for ch in han if ch in _COMMON) / len(han)


def decode_header(value: str | None) -> str:
    """Decode a header: RFC 2047 words (joined per charset) and raw 8-bit bytes."""
    if value is None:
        return ""
    if isinstance(value, email.header.Header):
        value = str(value)
    try:
        chunks = email.header.decode_header(value)
    except Exception:  # malformed words: keep the literal text
        chunks = [(value, None)]
    out = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            raw = chunk.encode("utf-8", "surrogateescape")
            out.append(decode_bytes(raw, None) if any(b > 127 for b in raw) else chunk)
        else:
            out.append(decode_bytes(chunk, charset))
    text = "".join(out)
    text = text.encode("utf-8", "replace").decode("utf-8")  # no lone surrogates
    return re.sub(r"[\r\n]+[ \t]*", " ", text).strip()


_MSGID = re.compile(r"<[^<>\s]{1,500}>")


def _addresses(values: list[str]) -> list[tuple[str, str]]:
    """(display name, address) pairs; real addresses first.

    Outlook writes unquoted commas in display names ("Marquez, Sofia
    <s@x>"), which split into a name-only pair; pairs without an '@' are put
    last so the first pair is the mailbox that actually sent the mail.
    """
    pairs = email.utils.getaddresses([decode_header(v) for v in values])
    cleaned = [(name.strip(), addr.strip().lower()) for name, addr in pairs if addr or name]
    return sorted(cleaned, key=lambda p: "@" not in p[1])


def _walk_limited(msg: Message, limits: Limits) -> tuple[list[tuple[Message, int]], str | None]:
    """All parts with their depth, stopping at the part and depth limits."""
    parts: list[tuple[Message, int]] = []
    stack: list[tuple[Message, int]] = [(msg, 0)]
    while stack:
        part, depth = stack.pop()
        if depth > limits.max_depth:
            return parts, f"MIME nesting deeper than {limits.max_depth} levels"
        parts.append((part, depth))
        if len(parts) > limits.max_parts:
            return parts, f"more than {limits.max_parts} MIME parts"
        payload = part.get_payload()
        if part.is_multipart() and isinstance(payload, list):
            stack.extend((p, depth + 1) for p in reversed(payload))
    return parts, None


def content_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def fallback_message_id(raw: bytes) -> str:
    """A stable id for mail without a Message-ID, derived from its bytes."""
    return f"<{content_hash(raw)[:32]}@router.invalid>"


def problem_mail(raw: bytes, problem: str) -> ParsedMail:
    """A record-able stand-in for mail we will not (or cannot) parse."""
    return ParsedMail(
        message_id=_first_message_id(raw) or fallback_message_id(raw),
        subject="",
        from_address="",
        from_name="",
        reply_to="",
        return_path=None,
        to=(),
        cc=(),
        headers=(),
        content_types=(),
        body="",
        new_text="",
        attachments=(),
        size=len(raw),
        problem=problem,
    )


def _first_message_id(raw: bytes) -> str | None:
    head = raw[:65536].split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    m = re.search(rb"^message-id:\s*(<[^<>\s]{1,500}>)", head, re.I | re.M)
    return m.group(1).decode("ascii", "replace") if m else None


def parse(raw: bytes, limits: Limits) -> ParsedMail:
    """Parse raw RFC 5322 bytes into a ParsedMail; never raises."""
    if not raw or not raw.strip():
        return problem_mail(raw, "empty message")
    if len(raw) > limits.max_message_bytes:
        return problem_mail(raw, f"message of {len(raw)} bytes is over the {limits.max_message_bytes}-byte limit")
    if b"\x00" in raw[:4096] and not re.match(rb"^[\x21-\x39\x3b-\x7e]+:", raw):
        return problem_mail(raw, "not an e-mail message (binary data)")
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    except RecursionError:
        return problem_mail(raw, f"MIME nesting deeper than {limits.max_depth} levels")
    except Exception as exc:  # the stdlib parser is lenient; this is rare
        return problem_mail(raw, f"unparseable message: {type(exc).__name__}")
    if not msg.keys():
        return problem_mail(raw, "no headers: not an e-mail message")
    parts, over = _walk_limited(msg, limits)
    if over:
        return problem_mail(raw, over)
    try:
        return _build(raw, msg, parts, limits)
    except RecursionError:
        return problem_mail(raw, f"MIME nesting deeper than {limits.max_depth} levels")
    except Exception as exc:  # noqa: BLE001 - one bad message must not stop the rest
        return problem_mail(raw, f"unparseable message: {type(exc).__name__}: {str(exc)[:120]}")


def _build(raw: bytes, msg: Message, parts: list[tuple[Message, int]], limits: Limits) -> ParsedMail:
    mp = mailparser.MailParser(msg)
    headers = tuple((k.lower(), decode_header(v)) for k, v in msg.items())

    def hdr(name: str) -> list[str]:
        return [str(v) for v in (msg.get_all(name) or [])]

    from_pairs = _addresses(hdr("from"))
    from_name, from_address = from_pairs[0] if from_pairs else ("", "")
    reply_pairs = _addresses(hdr("reply-to"))
    rp_values = hdr("return-path")
    return_path: str | None = None
    if rp_values:
        rp = rp_values[0].strip()
        m = re.search(r"<([^<>]*)>", rp)
        return_path = (m.group(1) if m else rp).strip().lower()
    message_id_m = _MSGID.search(decode_header(msg.get("message-id")))
    message_id = message_id_m.group(0) if message_id_m else fallback_message_id(raw)
    plain, html = _body_texts(parts, limits)
    body = "\n".join(plain) if plain else html_to_text("\n".join(html))
    body = body[: limits.max_text_chars]
    attachments = _attachments(mp)
    refs = tuple(_MSGID.findall(decode_header(msg.get("references"))))
    irt_m = _MSGID.search(decode_header(msg.get("in-reply-to")))
    return ParsedMail(
        message_id=message_id,
        subject=decode_header(msg.get("subject")),
        from_address=from_address,
        from_name=from_name,
        reply_to=reply_pairs[0][1] if reply_pairs else "",
        return_path=return_path,
        to=tuple(a for _, a in _addresses(hdr("to")) if a),
        cc=tuple(a for _, a in _addresses(hdr("cc")) if a),
        headers=headers,
        content_types=tuple(p.get_content_type().lower() for p, _ in parts),
        body=body,
        new_text=split_reply(body),
        attachments=attachments,
        in_reply_to=irt_m.group(0) if irt_m else "",
        references=refs,
        size=len(raw),
        defects=tuple(sorted(mp.defects_categories)) if hasattr(mp, "defects_categories") else (),
    )


def _body_texts(parts: list[tuple[Message, int]], limits: Limits) -> tuple[list[str], list[str]]:
    """Decode text/plain and text/html parts that are not attachments."""
    plain: list[str] = []
    html: list[str] = []
    budget = limits.max_text_chars
    for part, _depth in parts:
        if part.is_multipart():
            continue
        ctype = part.get_content_type().lower()
        if ctype not in ("text/plain", "text/html"):
            continue
        if part.get_content_disposition() == "attachment" or part.get_filename():
            continue
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            continue
        text = decode_bytes(data[: budget * 4], part.get_content_charset())
        (plain if ctype == "text/plain" else html).append(text)
        budget -= len(text)
        if budget <= 0:
            break
    return plain, html


def _attachments(mp: mailparser.MailParser) -> tuple[Attachment, ...]:
    import base64
    import binascii

    out = []
    for att in mp.attachments:
        payload = att.get("payload") or ""
        if att.get("binary"):
            try:
                data = base64.b64decode(payload)
            except (binascii.Error, ValueError):
                data = payload.encode("utf-8", "replace")
        else:
            data = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else bytes(payload)
        disposition = (att.get("content-disposition") or "").lower()
        content_id = (att.get("content-id") or "").strip() or None
        filename = decode_header(att.get("filename") or "")
        if content_id and filename == content_id:
            filename = ""
        out.append(
            Attachment(
                filename=filename,
                content_type=(att.get("mail_content_type") or "application/octet-stream").lower(),
                payload=data,
                inline=disposition.startswith("inline") or (not disposition and content_id is not None),
                content_id=content_id,
            )
        )
    return tuple(out)
