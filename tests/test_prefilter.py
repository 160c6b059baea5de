"""The literal prefilter (router/understand/prefilter.py) never changes what a pattern finds.

Each check compares the filtered run with the plain regex over texts that
hold the patterns' own words, near-misses and nothing at all; the required
literals are read from the parse tree, so a wrong reading shows up here as a
missing match.
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

import pytest

from router.understand import entities, phishing, prefilter, urgency

ROOT = Path(__file__).resolve().parent.parent

LEXICONS = {
    "theft": urgency._THEFT_NOW, "funds": urgency._FUNDS_GONE, "now": urgency._NOW, "chaser": urgency._CHASER,
    "asks": phishing._ASKS, "impersonation": phishing._IMPERSONATION, "clicked": phishing._CLICKED,
}
SINGLE = {
    "order": entities._ORDER, "case": entities._CASE, "amount_before": entities._AMOUNT_BEFORE,
    "uid": entities._uid_regex(entities.DEFAULT_UID_PATTERN),
}


def _corpus() -> list[str]:
    texts = []
    for path in sorted((ROOT / "training_data").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                texts.append(f"{row.get('subject') or ''}\n{row['text']}")
    return texts


def _words(rx: re.Pattern[str]) -> list[str]:
    """Literal fragments of a pattern: text built from them reaches deep into its branches."""
    return [w for w in re.findall(r"[A-Za-z']{2,}|[\u3400-\u9fff]+", rx.pattern) if w not in ("s", "d", "w", "b")]


def _fuzz(words: list[str], n: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    glue = [" ", "  ", "\n", ", ", ". ", "", "，", "。", " 3 ", " 12 ", " no ", " not ", " my ", " is ", " are "]
    out = []
    for _ in range(n):
        parts = [rnd.choice(words) if rnd.random() < 0.7 else rnd.choice(["someone", "funds", "UID", "#", "订单号", "Case"])
                 for _ in range(rnd.randint(1, 8))]
        text = "".join(p + rnd.choice(glue) for p in parts)
        out.append(text.upper() if rnd.random() < 0.2 else text)
    return out


def _spans(found: list[re.Match[str]]) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group()) for m in found]


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return _corpus()


@pytest.mark.parametrize("name", sorted(LEXICONS))
def test_lexicon_halves_find_what_the_plain_regex_finds(name: str, corpus: list[str]) -> None:
    lex = LEXICONS[name]
    for half in (lex.other, lex.zh):
        assert half is not None
        words = _words(half.pattern)
        texts = corpus + _fuzz(words, 3000, seed=len(words)) + ["", "x", "İSTİLL NO", "ſtill no reply", "still\nno"]
        filtered = 0
        for text in texts:
            low = text.lower() if half.folds else text
            want = _spans(list(half.pattern.finditer(low)))
            assert _spans(half.finditer(low)) == want, (name, low[:200])
            filtered += not half.gate.active(low)
        assert filtered > len(texts) // 4, f"{name}: the prefilter ruled out only {filtered} of {len(texts)} texts"


@pytest.mark.parametrize("name", sorted(SINGLE))
def test_labelled_entity_patterns_find_what_the_plain_regex_finds(name: str, corpus: list[str]) -> None:
    rx = SINGLE[name]
    gated = prefilter.gated(rx)
    assert gated.gate.alts, "nothing required: the prefilter would never skip this pattern"
    for text in corpus + _fuzz(_words(rx) + ["12345678", "#A1B2C3D4", "$5", "RMB 300"], 3000, seed=7):
        want = [(m.start(), m.end(), m.groupdict()) for m in rx.finditer(text)]
        assert [(m.start(), m.end(), m.groupdict()) for m in gated.finditer(text)] == want, text[:200]


def test_required_literals_are_read_from_the_parse_tree() -> None:
    assert prefilter.alternatives(r"\bkeeps?\s+(?:drain|withdraw)ing\b") == [
        (frozenset({"draining", "withdrawing"}), frozenset({"keep"}))]
    # a class of a few characters is read as alternatives, an optional part as "" or itself
    assert prefilter.alternatives(r"[还還]在(?:被)?[转轉]") == [(frozenset(
        a + "在" + b + c for a in "还還" for b in ("", "被") for c in "转轉"),)]
    # the parser factors "是不是|是否|是" into 是(?:不是|否|): still read as three strings
    assert prefilter.alternatives(r"(?:是不是|是否|是)(?:真的|官方)") == [(frozenset(
        a + b for a in ("是不是", "是否", "是") for b in ("真的", "官方")) - {"是不是真的", "是不是官方"},)]
    # one alternative without a literal: nothing can be ruled out
    assert prefilter.alternatives(r"hello|\d+") is None
    assert prefilter.alternatives(r"(?:a|b)c|(?:d|e)f") == [(frozenset({"ac", "bc"}),), (frozenset({"df", "ef"}),)]
    # common words are checked after a rarer set of the same alternative
    assert prefilter.alternatives(r"\b(?:and|with)\s+(?:day|week)s?\b")[0][0] == frozenset({"day", "week"})  # type: ignore[index]
    assert prefilter.alternatives("PHISH|Scam", re.IGNORECASE) == [(frozenset({"phish"}),), (frozenset({"scam"}),)]


def test_a_subset_of_branches_matches_as_the_whole_alternation() -> None:
    f = prefilter.Filtered([r"\bstill\s+no\b", r"\bany\s+update", r"第[二三]次"])
    assert f.gate.active("nothing here") == []
    assert f.gate.active("any update? still no reply") == [0, 1]
    assert _spans(f.finditer("any update? still no reply")) == [(0, 10, "any update"), (12, 20, "still no")]
    assert f.finditer("第二次") and not f.finditer("第一次")


def test_ignorecase_equates_only_the_listed_non_ascii_characters_with_ascii_letters() -> None:
    """The prefilter lower-cases text for IGNORECASE patterns; CPython's IGNORECASE also
    matches a few other characters to ASCII letters, and text holding one is not filtered."""
    letter = re.compile("[a-z]", re.IGNORECASE)
    odd = set()
    for c in range(0x80, sys.maxunicode + 1):
        ch = chr(c)
        if letter.fullmatch(ch):
            matched = {a for a in "abcdefghijklmnopqrstuvwxyz" if re.fullmatch(a, ch, re.IGNORECASE)}
            if matched != {ch.lower()}:
                odd.add(ch)
    assert odd and odd <= set(prefilter._ODD_CASE.pattern.strip("[]"))
