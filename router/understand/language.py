"""Language of a message: zh (Simplified or Traditional), en, or other.

Script counting is enough for the two languages we answer in and needs no
model: Han characters without kana or hangul are Chinese; Latin text with
common English function words is English; anything else is `other` (and
gets the English reply, the exchange's lingua franca).
"""

from __future__ import annotations

import re

from router.text import to_simplified

_EN_WORDS = frozenset(
    "the a an and or to of in on for is are was were be been my i you your it this that "
    "have has had not no please can could would will with from at as me we our account "
    "hi hello dear thanks thank regards help".split()
)
_WORD = re.compile(r"[A-Za-z]+")


def detect(text: str) -> tuple[str, str | None]:
    """Return (language, script): ('zh', 'hans'|'hant'), ('en', None), ('other', None)."""
    sample = text[:5000]
    han = kana = hangul = other_letters = 0
    for ch in sample:
        o = ord(ch)
        if 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF:
            han += 1
        elif 0x3040 <= o <= 0x30FF:
            kana += 1
        elif 0xAC00 <= o <= 0xD7AF:
            hangul += 1
        elif o > 0x24F and ch.isalpha():
            other_letters += 1
    words = _WORD.findall(sample)
    if han >= 2 and kana * 5 < han and hangul * 5 < han and han * 3 >= len(words):
        return "zh", _script(sample)
    english = sum(1 for w in words if w.lower() in _EN_WORDS)
    if words and (english >= 2 or (english >= 1 and len(words) <= 6)) and other_letters < len(words):
        return "en", None
    if han >= 2 and kana == 0 and hangul == 0:
        return "zh", _script(sample)
    return "other", None


def _script(text: str) -> str:
    """'hant' when folding to Simplified changes a noticeable share of Han."""
    han = [ch for ch in text if "\u4e00" <= ch <= "\u9fff"]
    if not han:
        return "hans"
    folded = to_simplified("".join(han))
    changed = sum(1 for a, b in zip(han, folded) if a != b)
    return "hant" if changed >= max(1, len(han) // 20) else "hans"
