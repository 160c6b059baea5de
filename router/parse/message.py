"""Raw bytes -> ParsedMail.  The only module that imports mail-parser.

Parsing never raises: anything that cannot be read safely yields a
`ParsedMail` whose `problem` says why, and the decision quarantines it.
mail-parser adds its header checks to the defect report.
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

from router.parse.headers import BARE_MSGID, MSGID, addresses, decode_header, header_str
from router.parse.mime import MAX_HEADER_FIELDS, attachments, body_text, message_charset, walk_limited
from router.config import Limits
from router.records import ParsedMail
from router.text import split_reply

# mail-parser logs header values and parser chatter at WARNING/ERROR; header
# values can hold customer secrets, and our own logs say what matters.  The
# level is set on its module loggers too: logging setup resets "mailparser"
# itself to WARNING, which would let the children through again.
for _name in ("mailparser", "mailparser.core", "mailparser.utils", "mailparser.received", "mailparser.dates"):
    logging.getLogger(_name).setLevel(logging.CRITICAL + 1)


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
    m = re.search(rb"^message-id:[ \t]*(<[^<>\s]{1,500}>)", head, re.I | re.M)
    return m.group(1).decode("ascii", "replace") if m else None


# File signatures of things people save by mistake where an .eml belongs.
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"%PDF-", "PDF document"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"\x1f\x8b", "gzip data"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "OLE2 file, e.g. an Outlook .msg"),
    (b"\x7fELF", "ELF executable"),
    (b"MZ", "Windows executable"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip archive"),
    (b"Rar!\x1a\x07", "RAR archive"),
    (b"\xff\xfe", "UTF-16 text"),
    (b"\xfe\xff", "UTF-16 text"),
)
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]")
# A message has at least one header that mail software writes.
_KNOWN_HEADERS = frozenset(
    "from to cc bcc subject date message-id received return-path mime-version reply-to sender "
    "delivered-to in-reply-to references envelope-to user-agent organization importance priority "
    "precedence auto-submitted thread-index thread-topic authentication-results received-spf "
    "domainkey-signature comments keywords errors-to apparently-to x-mailer".split()
)
_KNOWN_PREFIXES = ("x-", "content-", "list-", "resent-", "arc-", "dkim-", "original-")


def _not_mail(raw: bytes) -> str | None:
    """Why `raw` is plainly not an e-mail message (before parsing), or None."""
    for magic, what in _MAGIC:
        if raw.startswith(magic):
            return f"not an e-mail message ({what})"
    head = raw[:65536]
    for sep in (b"\r\n\r\n", b"\n\n"):
        head = head.split(sep, 1)[0]
    if b"\x00" in head or len(_CONTROL.findall(head)) > max(2, len(head) // 100):
        return "not an e-mail message (binary data)"
    end = min((i for i in (raw.find(b"\n\n"), raw.find(b"\n\r\n")) if i >= 0), default=len(raw))
    if raw.count(b"\n", 0, end) > MAX_HEADER_FIELDS:
        return f"header of more than {MAX_HEADER_FIELDS} lines"
    return None


_TOO_DEEP = "MIME nesting too deep to parse (over the interpreter's recursion limit)"


def parse(raw: bytes, limits: Limits) -> ParsedMail:
    """Parse raw RFC 5322 bytes into a ParsedMail; never raises."""
    try:
        return _parse(raw, limits)
    except RecursionError:
        return problem_mail(raw, _TOO_DEEP)
    except Exception as exc:  # noqa: BLE001 - one bad message must not stop the rest
        return problem_mail(raw, f"unparseable message: {type(exc).__name__}: {str(exc)[:120]}")


def _parse(raw: bytes, limits: Limits) -> ParsedMail:
    if not raw or not raw.strip():
        return problem_mail(raw, "empty message")
    if len(raw) > limits.max_message_bytes:
        return problem_mail(raw, f"message of {len(raw)} bytes is over the {limits.max_message_bytes}-byte limit")
    data = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw  # a UTF-8 BOM from a text editor
    why = _not_mail(data)
    if why:
        return problem_mail(raw, why)
    try:
        msg = email.message_from_bytes(data, policy=email.policy.compat32)
    except RecursionError:  # the stdlib parser recurses once per multipart level
        return problem_mail(raw, _TOO_DEEP)
    except Exception as exc:  # noqa: BLE001 - the stdlib parser is lenient; this is rare
        return problem_mail(raw, f"unparseable message: {type(exc).__name__}")
    names = [k.lower() for k in msg.keys()]
    if not names:
        return problem_mail(raw, "no headers: not an e-mail message")
    if not any(n in _KNOWN_HEADERS or n.startswith(_KNOWN_PREFIXES) for n in names):
        return problem_mail(raw, "no e-mail headers: not an e-mail message")
    parts, over = walk_limited(msg, limits)
    if over:
        return problem_mail(raw, over)
    return _build(raw, msg, parts, limits)


def _build(raw: bytes, msg: Message, parts: list[tuple[Message, int]], limits: Limits) -> ParsedMail:
    hint = message_charset(msg, parts)
    raw_headers = [(k, header_str(v)) for k, v in msg.raw_items()]
    headers = tuple((k.lower(), decode_header(v, hint)) for k, v in raw_headers)

    def hdr(name: str) -> list[str]:
        return [v for k, v in raw_headers if k.lower() == name]

    def first(name: str) -> str | None:
        values = hdr(name)
        return values[0] if values else None

    from_pairs = addresses(hdr("from"), hint)
    from_name, from_address = from_pairs[0] if from_pairs else ("", "")
    reply_pairs = addresses(hdr("reply-to"), hint)
    rp_values = hdr("return-path")
    return_path: str | None = None
    if rp_values:
        rp = decode_header(rp_values[0], hint)
        m = re.search(r"<([^<>]*)>", rp)
        return_path = (m.group(1) if m else rp).strip().lower()
    body = body_text(parts, limits, hint)
    refs = tuple(MSGID.findall(decode_header(" ".join(hdr("references")), hint)))
    irt_m = MSGID.search(decode_header(first("in-reply-to"), hint))
    return ParsedMail(
        message_id=_message_id(decode_header(first("message-id"), hint)) or fallback_message_id(raw),
        subject=decode_header(first("subject"), hint),
        from_address=from_address,
        from_name=from_name,
        reply_to=reply_pairs[0][1] if reply_pairs else "",
        return_path=return_path,
        to=tuple(a for _, a in addresses(hdr("to"), hint) if a),
        cc=tuple(a for _, a in addresses(hdr("cc"), hint) if a),
        headers=headers,
        content_types=tuple(p.get_content_type().lower() for p, _ in parts),
        body=body,
        new_text=split_reply(body),
        attachments=attachments(parts, hint),
        in_reply_to=irt_m.group(0) if irt_m else "",
        references=refs,
        size=len(raw),
        defects=_defects(msg, parts),
    )


def _message_id(value: str) -> str | None:
    m = MSGID.search(value)
    if m:
        return m.group(0)
    bare = BARE_MSGID.fullmatch(value.strip())
    return f"<{bare.group(0)}>" if bare else None


# mail-parser decodes headers with email.header.decode_header, which is
# quadratic in the number of encoded words (100,000 words in one Subject take
# a minute), so it only sees messages whose headers are of ordinary size.
_MAILPARSER_MAX_HEADER = 16384
_MAILPARSER_MAX_HEADERS = 1000


def _defects(msg: Message, parts: list[tuple[Message, int]]) -> tuple[str, ...]:
    """Defect categories: the email package's, plus mail-parser's header checks.

    mail-parser re-walks the whole message (~1 ms, a third of the triage
    time), so it is asked only about mail the email package already found
    defective, where its address, date and MIME-header checks add detail.
    """
    found = {type(d).__name__ for p, _ in parts for d in getattr(p, "defects", ())}
    if not found:
        return ()
    headers = list(msg.raw_items())
    if len(headers) <= _MAILPARSER_MAX_HEADERS and all(len(header_str(v)) <= _MAILPARSER_MAX_HEADER for _, v in headers):
        try:
            found |= set(mailparser.MailParser(msg).defects_categories)
        except Exception:  # noqa: BLE001 - a report, not a reason to quarantine
            pass
    return tuple(sorted(found))
