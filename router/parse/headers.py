"""Header values: RFC 2047 encoded words, raw 8-bit text, addresses, Message-IDs.

Encoded words are decoded here rather than by the email package: adjacent
words of one charset are joined before decoding (a character split across
two words), labels are mapped as in charsets.py, and raw 8-bit text around
them is decoded first.  Addresses (RFC 5322 section 3.4) are split before
display names are decoded, so a name that decodes to "Zhang, San" stays one
address.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.header
import email.policy
import email.utils
import re


from router.parse.charsets import codec_for, decode_bytes


# --- headers -----------------------------------------------------------------

_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,80})\?([bBqQ])\?([^?]{0,8000}?)\?=")
MAX_HEADER_CHARS = 100_000
_SURROGATE = re.compile("[\udc80-\udcff]")


def has_8bit(value: str) -> bool:
    """True when a header string holds raw 8-bit bytes (surrogate-escaped)."""
    return _SURROGATE.search(value) is not None


def header_str(value: object) -> str:
    """A header value as the parser stored it (raw 8-bit bytes as surrogates)."""
    if isinstance(value, email.header.Header):
        chunks = getattr(value, "_chunks", None)
        if chunks and all(isinstance(s, str) for s, _ in chunks):
            if any(str(cs) == "unknown-8bit" for _, cs in chunks):
                return "".join(s for s, _ in chunks)
        return str(value)
    return value if isinstance(value, str) else str(value)


def decode_raw(value: str, hint: str | None) -> str:
    """Turn raw 8-bit bytes in a header string into text; encoded words stay."""
    raw = value.encode("utf-8", "surrogateescape")
    return decode_bytes(raw, None, hint=hint)


def _word_bytes(kind: str, payload: str) -> bytes | None:
    if kind in "bB":
        data = re.sub(r"\s+", "", payload)
        data += "=" * (-len(data) % 4)
        try:
            return base64.b64decode(data)
        except (binascii.Error, ValueError):
            try:  # one stray character too many: drop it
                return base64.b64decode(data.rstrip("=")[:-1] + "=" * (-(len(data.rstrip("=")) - 1) % 4))
            except (binascii.Error, ValueError):
                return None
    try:
        return binascii.a2b_qp(payload.encode("ascii", "surrogateescape"), header=True)
    except (binascii.Error, ValueError, UnicodeError):
        return None


def _decode_words(value: str, hint: str | None) -> str:
    """Decode RFC 2047 encoded words; adjacent words of one charset are joined."""
    out: list[str] = []
    pending: tuple[str, str, bytearray] | None = None  # (codec key, label, bytes)
    pos = 0

    def flush() -> None:
        nonlocal pending
        if pending is not None:
            out.append(decode_bytes(bytes(pending[2]), pending[1], hint=hint))
            pending = None

    for m in _ENCODED_WORD.finditer(value):
        data = _word_bytes(m.group(2), m.group(3))
        if data is None:
            continue  # not a valid word: it stays in the literal text
        literal = value[pos : m.start()]
        if literal and (pending is None or literal.strip()):
            flush()
            out.append(literal)
        label = m.group(1).split("*", 1)[0]  # RFC 2231 language suffix
        key = codec_for(label) or label.lower()
        if pending is not None and pending[0] == key:
            pending[2].extend(data)
        else:
            flush()
            pending = (key, label, bytearray(data))
        pos = m.end()
    flush()
    out.append(value[pos:])
    return "".join(out)


def tidy(text: str) -> str:
    text = text.encode("utf-8", "replace").decode("utf-8")  # no lone surrogates
    return re.sub(r"[\r\n]+[ \t]*", " ", text).strip()


def decode_header(value: str | None, default_charset: str | None = None) -> str:
    """Decode a header: raw 8-bit bytes (UTF-8, `default_charset`, detected) and RFC 2047 words."""
    if value is None:
        return ""
    value = header_str(value)[:MAX_HEADER_CHARS]
    if has_8bit(value):
        value = decode_raw(value, default_charset)
    return tidy(_decode_words(value, default_charset))


MSGID = re.compile(r"<[^<>\s]{1,500}>")
BARE_MSGID = re.compile(r"[^<>\s@]{1,250}@[^<>\s@]{1,250}")


_UNFOLD = re.compile(r"\r?\n(?=[ \t])")
_ADDR_ENCODED_WORD = re.compile(r"=\?[^?\s]{1,75}\?[bBqQ]\?[^?\s]{0,1000}?\?=")


def addresses(values: list[str], hint: str | None = None) -> list[tuple[str, str]]:
    """(display name, lower-cased address) pairs; names decoded after splitting."""
    texts = []
    budget = MAX_HEADER_CHARS  # for all values together: address parsing is slow
    for v in values:
        s = header_str(v)[:budget]
        budget -= len(s)
        if has_8bit(s):
            s = decode_raw(s, hint)
        s = _UNFOLD.sub("", s)  # RFC 5322 2.2.3: a folded header is one line
        # An encoded word may decode to ",", "<", CR/LF or a whole "Bcc: x@y":
        # quote it so the address parser treats it as a display name only.
        s = _ADDR_ENCODED_WORD.sub(lambda m: '"' + m.group(0).replace("\\", "\\\\").replace('"', '\\"') + '"', s)
        texts.append(s)
        if budget <= 0:
            break
    out = []
    for name, addr in email.utils.getaddresses(texts):
        name = tidy(_decode_words(name, hint))
        addr = tidy(addr).lower()
        if addr or name:
            out.append((name, addr))
    # Outlook writes unquoted commas in display names ("Marquez, Sofia <s@x>"),
    # which split off a name-only pair: real mailboxes first.
    return sorted(out, key=lambda p: "@" not in p[1])
