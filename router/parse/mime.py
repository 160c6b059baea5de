"""The MIME walk (RFC 2045, 2046, 2183, 2231): body text, attachments and their names.

Parts are walked within limits (depth, header fields); an epilogue that hides
parts behind a reused boundary is read too.  File names come from
Content-Disposition `filename` (RFC 2231, continuations included, or RFC 2047
or raw 8-bit) and then Content-Type `name`.
"""

from __future__ import annotations

import email
import email.header
import email.policy
import email.utils
import re
import urllib.parse
from email.message import Message


from router.parse.charsets import ascii_compatible, cjk_guess, codec_for, decode_bytes, strict_decode
from router.parse.headers import MAX_HEADER_CHARS, decode_header, decode_raw, has_8bit, header_str, tidy
from router.config import Limits
from router.records import Attachment
from router.text import html_to_text


def message_charset(msg: Message, parts: list[tuple[Message, int]]) -> str | None:
    """The charset this message's undeclared 8-bit text is most likely in.

    The first non-UTF-8 charset a text part declares, else the Chinese codec
    detected from all 8-bit header bytes and undeclared text bodies together.
    """
    undeclared: list[bytes] = []
    for part, _depth in parts:
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        codec = codec_for(part.get_content_charset())
        if codec and codec != "utf-8" and ascii_compatible(codec):
            return codec
        if not codec:
            data = part.get_payload(decode=True)
            if isinstance(data, bytes) and not data[:20000].isascii():
                undeclared.append(data[:20000])
    sample = [header_str(v).encode("utf-8", "surrogateescape") for _k, v in msg.raw_items() if has_8bit(header_str(v))]
    if not sample:
        return None
    joined = b"\n".join(sample + undeclared)
    if strict_decode(joined, "utf-8") is not None:
        return "utf-8"
    return cjk_guess(joined)


# --- the message ---------------------------------------------------------------


# Real mail has tens of header fields (a long Received/ARC chain a few
# hundred); millions of tiny ones would cost tens of seconds to decode.
MAX_HEADER_FIELDS = 10_000


def walk_limited(msg: Message, limits: Limits) -> tuple[list[tuple[Message, int]], str | None]:
    """All parts with their depth, stopping at the part, depth and header-field limits."""
    parts: list[tuple[Message, int]] = []
    stack: list[tuple[Message, int]] = [(msg, 0)]
    fields = 0
    while stack:
        part, depth = stack.pop()
        if depth > limits.max_depth:
            return parts, f"MIME nesting deeper than {limits.max_depth} levels"
        parts.append((part, depth))
        if len(parts) > limits.max_parts:
            return parts, f"more than {limits.max_parts} MIME parts"
        fields += len(part)  # Message.__len__: its number of header fields
        if fields > MAX_HEADER_FIELDS:
            return parts, f"more than {MAX_HEADER_FIELDS} header fields"
        # is_multipart() first: get_payload() on a leaf decodes it with its
        # declared charset, which can raise for labels such as "idna".
        if part.is_multipart():
            payload = part.get_payload()
            children = [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []
            children += _recover_epilogue(part)
            stack.extend((p, depth + 1) for p in reversed(children))
    return parts, None


def _recover_epilogue(part: Message) -> list[Message]:
    """Parts hidden after the closing boundary (reused or misplaced boundaries).

    When a nested multipart reuses its parent's boundary, the email package
    ends the parent early and leaves the remaining parts in the epilogue,
    where a mail client may still show them.  They are parsed and treated as
    further children, so an attachment cannot hide there (mail-parser does
    the same for the top level).
    """
    epilogue = part.epilogue
    if not isinstance(epilogue, str) or not epilogue:
        return []
    boundary = part.get_boundary()
    if not boundary or f"--{boundary}" not in epilogue:
        return []
    delimiter, close = f"--{boundary}", f"--{boundary}--"
    chunks: list[list[str]] = []
    current: list[str] | None = None
    for line in epilogue.splitlines(keepends=True):
        bare = line.rstrip()
        if bare == close:
            break
        if bare == delimiter:
            current = []
            chunks.append(current)
        elif current is not None:
            current.append(line)
    out = []
    for chunk in chunks:
        text = "".join(chunk)
        if not text.strip():
            continue
        sub = email.message_from_bytes(text.encode("utf-8", "surrogateescape"), policy=email.policy.compat32)
        if sub.keys():
            out.append(sub)
    return out


def _disposition(part: Message) -> str:
    try:
        return (part.get_content_disposition() or "").lower()
    except Exception:  # noqa: BLE001
        return ""


def _is_body_text(part: Message, hint: str | None) -> bool:
    """A text/plain or text/html leaf that is not an attachment (no file name)."""
    return (
        not part.is_multipart()
        and part.get_content_type().lower() in ("text/plain", "text/html")
        and _disposition(part) != "attachment"
        and not _filename(part, hint)
    )


def body_text(parts: list[tuple[Message, int]], limits: Limits, hint: str | None) -> str:
    """The body text: the text/plain parts, else the text/html ones as text."""
    plain: list[str] = []
    html: list[str] = []
    budget = limits.max_text_chars
    for part, _depth in parts:
        if not _is_body_text(part, hint):
            continue
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            continue
        # Decode all of it (the message is already bounded by
        # max_message_bytes) and cut the text: cutting the bytes could split
        # a character and make a UTF-8 body look like something else.
        text = decode_bytes(data, part.get_content_charset(), hint=hint)[:budget]
        (plain if part.get_content_type().lower() == "text/plain" else html).append(text)
        budget -= len(text)
        if budget <= 0:
            break
    if any(t.strip() for t in plain):
        body = "\n".join(plain)
    else:
        body = html_to_text("\n".join(html))
    body = body.replace("\r\n", "\n").replace("\r", "\n")  # one line ending for the checks
    return body[: limits.max_text_chars]


def _filename(part: Message, hint: str | None) -> str:
    """The attachment's file name: Content-Disposition filename, then Content-Type name."""
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        values = [header_str(v) for k, v in part.raw_items() if k.lower() == header]
        if not values:
            continue
        value = values[0][:MAX_HEADER_CHARS]
        if has_8bit(value):
            value = decode_raw(value, hint)
        tmp = Message()
        tmp[header] = value
        try:
            got = tmp.get_param(param, None, header=header)
        except Exception:  # noqa: BLE001
            continue
        if got is None:
            continue
        if isinstance(got, tuple):  # RFC 2231: (charset, language, %-decoded value as latin-1)
            charset, _lang, text = got
            try:
                data = str(text).encode("latin-1", "surrogateescape")
            except UnicodeEncodeError:
                data = str(text).encode("utf-8", "surrogateescape")
            name = tidy(decode_bytes(data, charset or None, hint=hint))
        else:
            name = decode_header(str(got), hint)
        if name:
            return name
    return ""


_CID_REF = re.compile(rb"""cid:\s*([^\s"'<>()]+)""", re.IGNORECASE)


def _cid_references(parts: list[tuple[Message, int]], hint: str | None) -> frozenset[str]:
    """Content-IDs the HTML bodies show through ``cid:`` URLs (RFC 2392), bare and lower-cased."""
    refs: set[str] = set()
    for part, _depth in parts:
        if _is_body_text(part, hint) and part.get_content_type().lower() == "text/html":
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                refs.update(urllib.parse.unquote(m.decode("ascii", "replace")).lower() for m in _CID_REF.findall(data))
    return frozenset(refs)


def attachments(parts: list[tuple[Message, int]], hint: str | None) -> tuple[Attachment, ...]:
    """Every part that is not body text: files, inline images, attached messages.

    `referenced` marks parts the HTML body shows by ``cid:``: together with
    size and name it tells a signature logo from a photo (evidence.py).
    """
    cids = _cid_references(parts, hint)
    out = []
    for part, depth in parts:
        disposition = _disposition(part)
        ctype = part.get_content_type().lower()
        filename = _filename(part, hint)
        if part.is_multipart():
            # An attached message (or container) is one file; its own parts are
            # walked too and show up separately.
            # RFC 2046 section 5.2.1: a message/rfc822 part is an attached message with or without a name
            if depth == 0 or not (disposition == "attachment" or ctype == "message/rfc822"):
                continue
            try:
                inner = part.get_payload()
                data = b"".join(p.as_bytes() for p in inner if isinstance(p, Message)) if isinstance(inner, list) else b""
            except Exception:  # noqa: BLE001
                data = b""
        else:
            if _is_body_text(part, hint):
                continue
            if ctype.startswith("multipart/"):
                continue  # a multipart whose body is not parts (broken): nothing to read
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
        content_id = decode_header(part.get("content-id")) or None
        out.append(
            Attachment(
                filename=filename,
                content_type=ctype,
                payload=data,
                inline=disposition == "inline" or (not disposition and content_id is not None),
                content_id=content_id,
                referenced=bool(content_id) and str(content_id).strip().strip("<>").lower() in cids,
            )
        )
    return tuple(out)
