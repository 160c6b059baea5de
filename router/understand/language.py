"""Language of a message: zh (Simplified or Traditional), en, or other.

Script counting is enough for the two languages we answer in and needs no
model: Han characters without kana or hangul are Chinese; Latin text with
common English function words is English; anything else is `other` (and
gets the English reply, the exchange's lingua franca).

Mixed text is weighed, not decided by the first Han character: a Chinese
sentence with English product words ("我的withdrawal一直pending") is Chinese,
an English letter that names a person (王小明) is English.  One Han
character carries about as much as one English word, so Chinese wins when it
has at least as many Han characters as there are Latin words.  Short words
that other Latin-script languages share with English ("a", "no", "in", "me",
"on") count only half, so "no puedo acceder a mi cuenta" stays `other`.
"""

from __future__ import annotations

import re

from router.text import to_simplified

# Words that mark English text and are rare as words of other Latin-script
# languages the exchange hears from (French, Spanish, German, Italian, ...).
_EN_WORDS = frozenset(
    "the and to of for is are was were be been my you your it this that these those "
    "have has had not please can could would will with from we our account "
    "hi hello dear thanks thank regards help what why how when who which there "
    "they them their she his does did don't can't cannot i'm it's cant dont wont im ive".split()
)
# English words that are also common words of other Latin-script languages.
_EN_WEAK = frozenset("a an i in on at as no me so or do he her".split())
_WORD = re.compile(r"[A-Za-z]+(?:['\u2019][a-z]+)?")


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
        elif 0xAC00 <= o <= 0xD7AF or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F:
            hangul += 1
        elif o > 0x24F and ch.isalpha():
            other_letters += 1
    words = _WORD.findall(sample)
    chinese = han >= 2 and kana * 5 < han and hangul * 5 < han
    if chinese and han >= len(words):
        return "zh", _script(sample)
    if _english(words, other_letters):
        return "en", None
    if chinese and kana == 0 and hangul == 0:
        return "zh", _script(sample)
    return "other", None


def _english(words: list[str], other_letters: int) -> bool:
    """Enough English function words, and the letters are mostly Latin."""
    if not words or other_letters >= len(words):
        return False
    lowered = [w.lower().replace("\u2019", "'") for w in words]
    strong = sum(1 for w in lowered if w in _EN_WORDS)
    weak = sum(1 for w in lowered if w in _EN_WEAK)
    score = strong + weak / 2
    if len(words) <= 6:
        return strong >= 1
    return strong >= 2 and score >= 0.12 * len(words)


def _script(text: str) -> str:
    """'hant' when folding to Simplified changes a noticeable share of Han."""
    han = [ch for ch in text if "\u4e00" <= ch <= "\u9fff"]
    if not han:
        return "hans"
    folded = to_simplified("".join(han))
    changed = sum(1 for a, b in zip(han, folded) if a != b)
    return "hant" if changed >= max(1, len(han) // 20) else "hans"
