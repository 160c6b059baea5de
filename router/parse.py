"""Raw bytes -> ParsedMail.  The only module that imports mail-parser.

Parsing never raises: anything that cannot be read safely yields a
`ParsedMail` whose `problem` says why, and the decision quarantines it.

Charsets: Chinese mail is often mislabelled.  `gb2312` and `gbk` labels are
decoded as GB18030 (its superset; Outlook labels GBK text gb2312), `big5` as
Big5-HKSCS.  Text with no usable label (undeclared 8-bit bytes in headers or
bodies) is tried as UTF-8, then as the message's own charset (the first one a
body part declares, else one detected from all its undeclared 8-bit text, so
that a two-character display name is read with the statistics of the whole
message), then detected on its own.  A label that is plainly wrong is
overridden: a single-byte label (iso-8859-1, windows-1252) on bytes that are
valid UTF-8 or read as plausible Chinese, and a Chinese label on bytes that
read as implausible Chinese but valid UTF-8.

RFC 2047 encoded words are decoded here rather than by the email package:
adjacent words of one charset are joined before decoding (a character split
across two words), labels are mapped as above, and raw 8-bit text around them
is decoded first.  Addresses are split before display names are decoded, so
a name that decodes to "Zhang, San" stays one address.  File names come from
Content-Disposition `filename` (RFC 2231, continuations included, or RFC 2047
or raw 8-bit) and then Content-Type `name`.  mail-parser adds its header
checks to the defect report.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email
import email.header
import email.policy
import email.utils
import hashlib
import logging
import re
import urllib.parse
from email.message import Message

import mailparser
from charset_normalizer import from_bytes

from router.config import Limits
from router.records import Attachment, ParsedMail
from router.text import html_to_text, split_reply, to_simplified

# mail-parser logs header values and parser chatter at WARNING/ERROR; header
# values can hold customer secrets, and our own logs say what matters.  The
# level is set on its module loggers too: logging setup resets "mailparser"
# itself to WARNING, which would let the children through again.
for _name in ("mailparser", "mailparser.core", "mailparser.utils", "mailparser.received", "mailparser.dates"):
    logging.getLogger(_name).setLevel(logging.CRITICAL + 1)

_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gb_2312": "gb18030",
    "gb_2312-80": "gb18030",
    "gb2312-80": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "ms936": "gb18030",
    "windows-936": "gb18030",
    "euc-cn": "gb18030",
    "x-euc-cn": "gb18030",
    "chinese": "gb18030",
    "csgb2312": "gb18030",
    "iso-ir-58": "gb18030",
    "x-mac-chinesesimp": "gb18030",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "cn-big5": "big5hkscs",
    "csbig5": "big5hkscs",
    "big-5": "big5hkscs",
    "big5-hkscs": "big5hkscs",
    "x-mac-chinesetrad": "big5hkscs",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
    "ansi_x3.4-1968": "utf-8",
    "utf8": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
    "unknown-8bit": "",
    "unknown": "",
    "x-unknown": "",
    "x-user-defined": "",
    "default": "",
}

_CJK_CODECS = frozenset({"gb18030", "gbk", "gb2312", "big5hkscs", "big5", "cp950", "hz"})
_SINGLE_BYTE = re.compile(r"^(?:iso8859-\d+|cp12\d\d|cp437|cp850|cp866|latin-1|koi8-[ru]|mac-[a-z]+|tis-620)$")


def _codec(label: str | None) -> str:
    """Map a declared charset label to the codec that really decodes it.

    Returns "" for no label, an unknown one, or one that names a codec that
    is not a text encoding (charset="base64" must not reach bytes.decode).
    """
    if not label or not isinstance(label, str):
        return ""
    label = label.strip().strip("\"'").strip().lower()
    label = _CHARSET_ALIASES.get(label, label)
    if not label or len(label) > 64:
        return ""
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError, TypeError):
        return ""
    if not getattr(info, "_is_text_encoding", True):
        return ""
    return info.name


def _strict(data: bytes, codec: str, *, truncated: bool = False) -> str | None:
    """Decode strictly, or None.  `truncated`: forgive a character cut at the end."""
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        if truncated and exc.start >= len(data) - 4:
            try:
                return data[: exc.start].decode(codec)
            except Exception:  # noqa: BLE001
                return None
        return None
    except Exception:  # noqa: BLE001 - idna, punycode ... raise other errors
        return None


def _lenient(data: bytes, codec: str) -> str:
    try:
        return data.decode(codec or "utf-8", errors="replace")
    except Exception:  # noqa: BLE001
        return data.decode("utf-8", errors="replace")


def decode_bytes(data: bytes, label: str | None = None, *, hint: str | None = None) -> str:
    """Decode text bytes.

    Order: the declared codec (unless plainly wrong, see the module doc),
    then UTF-8, then `hint` (the message's own charset), then detection,
    then the declared codec or UTF-8 with replacement characters.
    """
    if not data:
        return ""
    codec = _codec(label)
    high = not data.isascii()
    if codec:
        text = _strict(data, codec)
        if text is not None:
            if not high:
                return text
            if _SINGLE_BYTE.match(codec):
                # Single-byte labels decode anything: trust them only when the
                # bytes are neither UTF-8 nor plausible Chinese.
                utf8 = _strict(data, "utf-8")
                if utf8 is not None:
                    return utf8
                guess = _cjk_guess(data)
                if guess:
                    return _lenient(data, guess)
                return text
            if codec in _CJK_CODECS and _cjk_score(text) is None:
                utf8 = _strict(data, "utf-8")
                if utf8 is not None:
                    return utf8
            return text
    utf8 = _strict(data, "utf-8")
    if utf8 is not None:
        return utf8
    utf8 = _mostly_utf8(data)
    if utf8 is not None:
        return utf8
    hint_codec = _codec(hint)
    if hint_codec and hint_codec != "utf-8" and not _SINGLE_BYTE.match(hint_codec):
        text = _strict(data, hint_codec)
        if text is not None:
            return text
    guess = _cjk_guess(data)
    if guess:
        return _lenient(data, guess)
    if hint_codec and hint_codec != "utf-8":
        text = _strict(data, hint_codec)
        if text is not None:
            return text
    if codec and codec != "utf-8":
        return _lenient(data, codec)
    guess = _detect_other(data)
    if guess:
        return _lenient(data, guess)
    return _lenient(data, "utf-8")


def _mostly_utf8(data: bytes) -> str | None:
    """UTF-8 text with a stray bad byte or two (a cut or a bad copy) as UTF-8."""
    sample = data[:20000].decode("utf-8", errors="replace")
    bad = sample.count("\ufffd")
    good = sum(1 for ch in sample if ord(ch) > 127) - bad
    if good >= 4 * bad and good >= 4:
        return data.decode("utf-8", errors="replace")
    return None


def _ascii_compatible(codec: str) -> bool:
    """Whether ASCII bytes read as ASCII (not UTF-16/32, UTF-7, HZ, ISO-2022)."""
    probe = b"From: <a@b.c> =?x?B?QQ==?= ~{ +AGE- 0123 \t\r\n"
    if codec.startswith(("utf_16", "utf-16", "utf_32", "utf-32", "utf_7", "utf-7", "hz", "iso2022", "iso-2022")):
        return False
    try:
        return probe.decode(codec) == probe.decode("ascii")
    except Exception:  # noqa: BLE001
        return False


def _cjk_guess(data: bytes) -> str | None:
    """GB18030 or Big5-HKSCS, whichever reads as more plausible Chinese, or None."""
    sample = data[:20000]
    cut = len(data) > len(sample)
    best: tuple[float, str] | None = None
    for codec in ("gb18030", "big5hkscs"):
        text = _strict(sample, codec, truncated=cut)
        if text is None:
            continue
        score = _cjk_score(text)
        if score is not None and (best is None or score > best[0]):
            best = (score, codec)
    return best[1] if best else None


def _detect_other(data: bytes) -> str | None:
    try:
        best = from_bytes(data[:20000]).best()
    except Exception:  # noqa: BLE001
        return None
    if best is None:
        return None
    codec = _codec(best.encoding)
    return codec if codec and _ascii_compatible(codec) else None


def _cjk_score(text: str) -> float | None:
    """How much `text` reads like ordinary Chinese (0..1), or None if it does not.

    GB18030 decodes almost any byte string and Big5 bytes decode as GBK, so a
    decoding is accepted only when it yields few rare or private-use
    characters and mostly frequent Han: each Han character (after Traditional
    -> Simplified folding, so Big5 text scores like GBK text) counts 1 if it
    is among the ~500 most frequent, 0.25 if it is a GB2312 level-1 (common)
    character, else 0.  Real text scores about 0.8, a wrong decoding well
    under 0.4.
    """
    text = text[:4000]
    han = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    odd = sum(1 for ch in text if ("\u3400" <= ch <= "\u4dbf") or ("\ue000" <= ch <= "\uf8ff") or ch == "\ufffd" or ord(ch) > 0xFFFF)
    high = sum(1 for ch in text if ord(ch) > 127)
    if not (han > 0 and odd * 10 <= han and han * 2 >= high * 0.9):
        return None
    score = _common_score(to_simplified(text))
    return score if score >= 0.4 else None


def _level1() -> frozenset[str]:
    """GB2312 level-1 Han: the 3,755 characters of everyday Chinese."""
    chars = set()
    for lead in range(0xB0, 0xD8):
        for trail in range(0xA1, 0xFF):
            try:
                chars.add(bytes((lead, trail)).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return frozenset(chars)


_LEVEL1 = _level1()

# The 500 most frequent Han characters cover most of ordinary Chinese text; a
# mis-decoded byte stream lands on rare characters instead.
_COMMON = set(
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坐集编宝谈府拉黑且随格尽剑讲布杀微怕母调局根曾准团段终乐切级克精哪官示冷域读帐户账号币钱提现充值冻结密码验证登录交易请谢您"
)


def _common_score(text: str) -> float:
    han = [ch for ch in text if "\u4e00" <= ch <= "\u9fff"]
    if not han:
        return 0.0
    return sum(1.0 if ch in _COMMON else 0.25 if ch in _LEVEL1 else 0.0 for ch in han) / len(han)


# --- headers -----------------------------------------------------------------

_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,80})\?([bBqQ])\?([^?]{0,8000}?)\?=")
_MAX_HEADER_CHARS = 100_000
_SURROGATE = re.compile("[\udc80-\udcff]")


def _has_8bit(value: str) -> bool:
    """True when a header string holds raw 8-bit bytes (surrogate-escaped)."""
    return _SURROGATE.search(value) is not None


def _header_str(value: object) -> str:
    """A header value as the parser stored it (raw 8-bit bytes as surrogates)."""
    if isinstance(value, email.header.Header):
        chunks = getattr(value, "_chunks", None)
        if chunks and all(isinstance(s, str) for s, _ in chunks):
            if any(str(cs) == "unknown-8bit" for _, cs in chunks):
                return "".join(s for s, _ in chunks)
        return str(value)
    return value if isinstance(value, str) else str(value)


def _decode_raw(value: str, hint: str | None) -> str:
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
        key = _codec(label) or label.lower()
        if pending is not None and pending[0] == key:
            pending[2].extend(data)
        else:
            flush()
            pending = (key, label, bytearray(data))
        pos = m.end()
    flush()
    out.append(value[pos:])
    return "".join(out)


def _tidy(text: str) -> str:
    text = text.encode("utf-8", "replace").decode("utf-8")  # no lone surrogates
    return re.sub(r"[\r\n]+[ \t]*", " ", text).strip()


def decode_header(value: str | None, default_charset: str | None = None) -> str:
    """Decode a header: raw 8-bit bytes (UTF-8, `default_charset`, detected) and RFC 2047 words."""
    if value is None:
        return ""
    value = _header_str(value)[:_MAX_HEADER_CHARS]
    if _has_8bit(value):
        value = _decode_raw(value, default_charset)
    return _tidy(_decode_words(value, default_charset))


_MSGID = re.compile(r"<[^<>\s]{1,500}>")
_BARE_MSGID = re.compile(r"[^<>\s@]{1,250}@[^<>\s@]{1,250}")


_UNFOLD = re.compile(r"\r?\n(?=[ \t])")
_ADDR_ENCODED_WORD = re.compile(r"=\?[^?\s]{1,75}\?[bBqQ]\?[^?\s]{0,1000}?\?=")


def _addresses(values: list[str], hint: str | None = None) -> list[tuple[str, str]]:
    """(display name, lower-cased address) pairs; names decoded after splitting."""
    texts = []
    budget = _MAX_HEADER_CHARS  # for all values together: address parsing is slow
    for v in values:
        s = _header_str(v)[:budget]
        budget -= len(s)
        if _has_8bit(s):
            s = _decode_raw(s, hint)
        s = _UNFOLD.sub("", s)  # RFC 5322 2.2.3: a folded header is one line
        # An encoded word may decode to ",", "<", CR/LF or a whole "Bcc: x@y":
        # quote it so the address parser treats it as a display name only.
        s = _ADDR_ENCODED_WORD.sub(lambda m: '"' + m.group(0).replace("\\", "\\\\").replace('"', '\\"') + '"', s)
        texts.append(s)
        if budget <= 0:
            break
    out = []
    for name, addr in email.utils.getaddresses(texts):
        name = _tidy(_decode_words(name, hint))
        addr = _tidy(addr).lower()
        if addr or name:
            out.append((name, addr))
    # Outlook writes unquoted commas in display names ("Marquez, Sofia <s@x>"),
    # which split off a name-only pair: real mailboxes first.
    return sorted(out, key=lambda p: "@" not in p[1])


def _message_charset(msg: Message, parts: list[tuple[Message, int]]) -> str | None:
    """The charset this message's undeclared 8-bit text is most likely in.

    The first non-UTF-8 charset a text part declares, else the Chinese codec
    detected from all 8-bit header bytes and undeclared text bodies together.
    """
    undeclared: list[bytes] = []
    for part, _depth in parts:
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        codec = _codec(part.get_content_charset())
        if codec and codec != "utf-8" and _ascii_compatible(codec):
            return codec
        if not codec:
            data = part.get_payload(decode=True)
            if isinstance(data, bytes) and not data[:20000].isascii():
                undeclared.append(data[:20000])
    sample = [_header_str(v).encode("utf-8", "surrogateescape") for _k, v in msg.raw_items() if _has_8bit(_header_str(v))]
    if not sample:
        return None
    joined = b"\n".join(sample + undeclared)
    if _strict(joined, "utf-8") is not None:
        return "utf-8"
    return _cjk_guess(joined)


# --- the message ---------------------------------------------------------------


# Real mail has tens of header fields (a long Received/ARC chain a few
# hundred); millions of tiny ones would cost tens of seconds to decode.
MAX_HEADER_FIELDS = 10_000


def _walk_limited(msg: Message, limits: Limits) -> tuple[list[tuple[Message, int]], str | None]:
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
    boundary = part.get_boundary() if isinstance(epilogue, str) and epilogue else None
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
    parts, over = _walk_limited(msg, limits)
    if over:
        return problem_mail(raw, over)
    return _build(raw, msg, parts, limits)


def _build(raw: bytes, msg: Message, parts: list[tuple[Message, int]], limits: Limits) -> ParsedMail:
    hint = _message_charset(msg, parts)
    raw_headers = [(k, _header_str(v)) for k, v in msg.raw_items()]
    headers = tuple((k.lower(), decode_header(v, hint)) for k, v in raw_headers)

    def hdr(name: str) -> list[str]:
        return [v for k, v in raw_headers if k.lower() == name]

    def first(name: str) -> str | None:
        values = hdr(name)
        return values[0] if values else None

    from_pairs = _addresses(hdr("from"), hint)
    from_name, from_address = from_pairs[0] if from_pairs else ("", "")
    reply_pairs = _addresses(hdr("reply-to"), hint)
    rp_values = hdr("return-path")
    return_path: str | None = None
    if rp_values:
        rp = decode_header(rp_values[0], hint)
        m = re.search(r"<([^<>]*)>", rp)
        return_path = (m.group(1) if m else rp).strip().lower()
    body = _body(parts, limits, hint)
    refs = tuple(_MSGID.findall(decode_header(" ".join(hdr("references")), hint)))
    irt_m = _MSGID.search(decode_header(first("in-reply-to"), hint))
    return ParsedMail(
        message_id=_message_id(decode_header(first("message-id"), hint)) or fallback_message_id(raw),
        subject=decode_header(first("subject"), hint),
        from_address=from_address,
        from_name=from_name,
        reply_to=reply_pairs[0][1] if reply_pairs else "",
        return_path=return_path,
        to=tuple(a for _, a in _addresses(hdr("to"), hint) if a),
        cc=tuple(a for _, a in _addresses(hdr("cc"), hint) if a),
        headers=headers,
        content_types=tuple(p.get_content_type().lower() for p, _ in parts),
        body=body,
        new_text=split_reply(body),
        attachments=_attachments(parts, hint),
        in_reply_to=irt_m.group(0) if irt_m else "",
        references=refs,
        size=len(raw),
        defects=_defects(msg, parts),
    )


def _message_id(value: str) -> str | None:
    m = _MSGID.search(value)
    if m:
        return m.group(0)
    bare = _BARE_MSGID.fullmatch(value.strip())
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
    if len(headers) <= _MAILPARSER_MAX_HEADERS and all(len(_header_str(v)) <= _MAILPARSER_MAX_HEADER for _, v in headers):
        try:
            found |= set(mailparser.MailParser(msg).defects_categories)
        except Exception:  # noqa: BLE001 - a report, not a reason to quarantine
            pass
    return tuple(sorted(found))


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


def _body(parts: list[tuple[Message, int]], limits: Limits, hint: str | None) -> str:
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
        values = [_header_str(v) for k, v in part.raw_items() if k.lower() == header]
        if not values:
            continue
        value = values[0][:_MAX_HEADER_CHARS]
        if _has_8bit(value):
            value = _decode_raw(value, hint)
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
            name = _tidy(decode_bytes(data, charset or None, hint=hint))
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


def _attachments(parts: list[tuple[Message, int]], hint: str | None) -> tuple[Attachment, ...]:
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
            if depth == 0 or not (disposition == "attachment" or (ctype == "message/rfc822" and filename)):
                continue
            try:
                inner = part.get_payload()
                data = b"".join(p.as_bytes() for p in inner) if isinstance(inner, list) else b""
            except Exception:  # noqa: BLE001
                data = b""
        else:
            if _is_body_text(part, hint):
                continue
            if ctype.startswith("multipart/"):
                continue  # a multipart whose body is not parts (broken): nothing to read
            data = part.get_payload(decode=True)
            if not isinstance(data, bytes):
                data = b""
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
