"""Bytes -> text when the label cannot be trusted (RFC 2045 charset parameter, RFC 2047 labels).

Chinese mail is often mislabelled.  `gb2312` and `gbk` labels are decoded
as GB18030 (its superset; Outlook labels GBK text gb2312), `big5` as
Big5-HKSCS.  Text with no usable label is tried as UTF-8, then as the
message's own charset, then detected on its own (charset-normalizer).  A label
that is plainly wrong is overridden: a single-byte label (iso-8859-1,
windows-1252) on bytes that are valid UTF-8 or read as plausible Chinese,
and a Chinese label on bytes that read as implausible Chinese but valid UTF-8.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

from router.text import to_simplified


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


def codec_for(label: str | None) -> str:
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


def strict_decode(data: bytes, codec: str, *, truncated: bool = False) -> str | None:
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
    codec = codec_for(label)
    high = not data.isascii()
    if codec:
        text = strict_decode(data, codec)
        if text is not None:
            if not high:
                return text
            if _SINGLE_BYTE.match(codec):
                # Single-byte labels decode anything: trust them only when the
                # bytes are neither UTF-8 nor plausible Chinese.
                utf8 = strict_decode(data, "utf-8")
                if utf8 is not None:
                    return utf8
                guess = cjk_guess(data)
                if guess:
                    return _lenient(data, guess)
                return text
            if codec in _CJK_CODECS and _cjk_score(text) is None:
                utf8 = strict_decode(data, "utf-8")
                if utf8 is not None:
                    return utf8
            return text
    utf8 = strict_decode(data, "utf-8")
    if utf8 is not None:
        return utf8
    utf8 = _mostly_utf8(data)
    if utf8 is not None:
        return utf8
    hint_codec = codec_for(hint)
    if hint_codec and hint_codec != "utf-8" and not _SINGLE_BYTE.match(hint_codec):
        text = strict_decode(data, hint_codec)
        if text is not None:
            return text
    guess = cjk_guess(data)
    if guess:
        return _lenient(data, guess)
    if hint_codec and hint_codec != "utf-8":
        text = strict_decode(data, hint_codec)
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


def ascii_compatible(codec: str) -> bool:
    """Whether ASCII bytes read as ASCII (not UTF-16/32, UTF-7, HZ, ISO-2022)."""
    probe = b"From: <a@b.c> =?x?B?QQ==?= ~{ +AGE- 0123 \t\r\n"
    if codec.startswith(("utf_16", "utf-16", "utf_32", "utf-32", "utf_7", "utf-7", "hz", "iso2022", "iso-2022")):
        return False
    try:
        return probe.decode(codec) == probe.decode("ascii")
    except Exception:  # noqa: BLE001
        return False


def cjk_guess(data: bytes) -> str | None:
    """GB18030 or Big5-HKSCS, whichever reads as more plausible Chinese, or None."""
    sample = data[:20000]
    cut = len(data) > len(sample)
    best: tuple[float, str] | None = None
    for codec in ("gb18030", "big5hkscs"):
        text = strict_decode(sample, codec, truncated=cut)
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
    codec = codec_for(best.encoding)
    return codec if codec and ascii_compatible(codec) else None


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
