"""Literal prefilters: skip a regex over text that lacks the words any match needs.

Why this exists: the checks of issue 13 (urgency, chaser, phishing wording,
entity labels) are long alternations whose branches mostly open with ``\\b``
or a look-behind.  CPython's engine gets no first-character scan for those
and tries every branch at every position, while most mails contain none of
the words at all; the time these checks add to each message is budgeted
(issue 13: at most 10 % of the fast path).  A few ``in`` tests on the text
(C substring search) rule a pattern out much faster.

The literals are read off the pattern itself (its parse tree), so they
cannot drift from it: for each alternative, every match must contain one of
the strings of each *required set* (a run of literal characters, or a group
of fixed strings such as ``(?:is|are|keeps?)``).  Only consuming literals
count; anything the reader does not understand requires nothing, so the
filter is conservative: when it says no, the pattern cannot match, and when
it says maybe, the caller runs the pattern unchanged (same matches as
without the filter; tests/test_prefilter.py checks both).

Case: for a pattern compiled with IGNORECASE the literals are lower-cased
and compared with the lower-cased text.  CPython's IGNORECASE also equates a
few non-ASCII characters with ASCII letters where ``str.lower`` does not
(``İ ı ſ``, found by a test over all of Unicode; the Kelvin sign is listed
too): text holding any of them is not filtered.

ASCII strings are looked for in the text's ASCII characters only (Python
widens an ASCII string before searching Chinese text, which costs more than
the search); dropping the other characters can only join new occurrences,
never split one, so nothing that may match is ruled out.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Sequence
from typing import Any

_p: Any
_c: Any
try:  # the parse tree of a pattern; the modules are private, so their absence only turns the filter off
    _p = importlib.import_module("re._parser")
    _c = importlib.import_module("re._constants")
except ImportError:  # pragma: no cover - other Pythons
    _p = _c = None

_MAX_STRINGS = 64  # fixed strings kept for one run (a cross product of small groups): each costs a test
_MAX_CLASS = 4  # a character class of at most this many literal characters is read as alternatives
# Characters IGNORECASE matches to an ASCII letter where str.lower() does not give that letter.
_ODD_CASE = re.compile("[\u0130\u0131\u017f\u212a]")

Needs = tuple[frozenset[str], ...]  # every set is required: a match holds a string of each


def _class_chars(av: Any) -> list[str] | None:
    """The characters of a small class of plain literals (``[还還]``), else None."""
    chars = []
    for op, v in av:
        if op is not _c.LITERAL:
            return None
        chars.append(chr(v))
    return chars if len(chars) <= _MAX_CLASS else None


def _fixed(items: Iterable[Any]) -> list[str] | None:
    """Every string the sequence can match, when it matches only fixed strings (a few of them)."""
    out = [""]
    for op, av in items:
        if op is _c.LITERAL:
            alts = [chr(av)]
        elif op is _c.IN:
            got = _class_chars(av)
            if got is None:
                return None
            alts = got
        elif op is _c.SUBPATTERN:
            if av[1] or av[2]:  # local flags, e.g. (?i:...)
                return None
            got = _fixed(av[3])
            if got is None:
                return None
            alts = got
        elif op is _c.BRANCH:
            alts = []
            for branch in av[1]:
                got = _fixed(branch)
                if got is None:
                    return None
                alts += got
        elif op is _c.MAX_REPEAT or op is _c.MIN_REPEAT or op is _c.POSSESSIVE_REPEAT:
            lo, hi, item = av
            if (lo, hi) != (0, 1):
                return None
            got = _fixed(item)
            if got is None:
                return None
            alts = ["", *got]
        else:
            return None
        out = [a + b for a in out for b in alts]
        if len(out) > _MAX_STRINGS:
            return None
    return out


# Words in most English mail: a required set made of them filters nothing, so another set
# of the same alternative is checked first (only the order of the checks depends on this).
_COMMON = frozenset("""a about all an and any are as at be been but by can did do for from get got had has have
he i if in is it me my no not of on one or our so some that the they this to up was we were what when will
with would you your""".split())


def _selectivity(strings: frozenset[str]) -> tuple[int, int]:
    """Higher is better: the shortest string's length (0 for a common word; from 8 on, all
    rare enough), then fewer strings (each is one more test)."""
    return min(0 if s.lower() in _COMMON else min(len(s), 8) for s in strings), -len(strings)


def _best(needs: Sequence[frozenset[str]]) -> frozenset[str] | None:
    """The most selective required set (see `_selectivity`)."""
    if not needs:
        return None
    return max(needs, key=_selectivity)


def _needs(items: Any) -> list[frozenset[str]]:
    """Required sets of a parsed sequence (see the module docstring)."""
    out: list[frozenset[str]] = []
    run = [""]

    def flush() -> None:
        nonlocal run
        if all(run):
            out.append(frozenset(run))
        run = [""]

    for op, av in items:
        fixed: list[str] | None = None
        if op is _c.LITERAL:
            fixed = [chr(av)]
        elif op is _c.IN:
            fixed = _class_chars(av)
        elif op is _c.SUBPATTERN and not (av[1] or av[2]):
            fixed = _fixed(av[3])
        elif op is _c.BRANCH or (op is _c.MAX_REPEAT and av[:2] == (0, 1)):
            fixed = _fixed([(op, av)])  # may hold "": the parser factors "是不是|是否|是" into 是(?:不是|否|)
        if fixed is not None and len(run) * len(fixed) <= _MAX_STRINGS:
            run = [a + b for a in run for b in fixed]
            continue
        flush()
        if fixed is not None and len(fixed) <= _MAX_STRINGS:  # too many strings: a new run starts here
            run = fixed
            continue
        if op is _c.SUBPATTERN and not (av[1] or av[2]):
            out += _needs(av[3])
        elif op is _c.BRANCH:
            per = [_best(_needs(branch)) for branch in av[1]]
            if per and all(s is not None for s in per):
                out.append(frozenset().union(*per))  # type: ignore[arg-type]
        elif op is _c.MAX_REPEAT or op is _c.MIN_REPEAT or op is _c.POSSESSIVE_REPEAT:
            if av[0] >= 1:
                out += _needs(av[2])
        elif op is _c.ATOMIC_GROUP:
            out += _needs(av)
        # anything else (\b, look-arounds, \d, \s, ., larger classes) requires nothing
    flush()
    return [_minimal(s) for s in out]


def _minimal(strings: frozenset[str]) -> frozenset[str]:
    """Drop strings that contain another of the set: finding the shorter one is enough."""
    return frozenset(s for s in strings if not any(t != s and t in s for t in strings))


def _normalised(needs: list[frozenset[str]], flags: int) -> Needs | None:
    """Most selective set first; lower-cased for IGNORECASE; None when nothing is required."""
    if not needs:
        return None
    if flags & re.IGNORECASE:
        if any(not _caseless(s) for n in needs for s in n):
            return None
        needs = [frozenset(s.lower() for s in n) for n in needs]
    return tuple(sorted(set(needs), key=lambda s: (tuple(-x for x in _selectivity(s)), sorted(s))))


def _caseless(s: str) -> bool:
    """ASCII or uncased (CJK) characters only: lower-casing compares them as IGNORECASE does."""
    return all(c.isascii() or c.lower() == c.upper() for c in s)


def alternatives(pattern: str, flags: int = 0) -> list[Needs] | None:
    """Required sets per top-level alternative of `pattern` (the whole pattern is one when it
    is not an alternation); None when some alternative requires nothing or the pattern
    cannot be read."""
    if _p is None:
        return None
    try:
        tree = _p.parse(pattern, flags)
    except (re.error, TypeError, ValueError):  # pragma: no cover - compiled elsewhere first
        return None
    items = tree.data
    if len(items) == 1 and items[0][0] is _c.SUBPATTERN and not (items[0][1][1] or items[0][1][2]):
        items = items[0][1][3].data
    # the parser moves a prefix all alternatives share (``\b``) out of the alternation;
    # a zero-width one requires nothing, so each alternative can still be read alone
    lead = 0
    while lead < len(items) - 1 and items[lead][0] in (_c.AT, _c.ASSERT, _c.ASSERT_NOT):
        lead += 1
    rest = items[lead:]
    branches = rest[0][1][1] if len(rest) == 1 and rest[0][0] is _c.BRANCH else [items]
    out = []
    for branch in branches:
        needs = _normalised(_needs(branch), flags)
        if needs is None:
            return None
        out.append(needs)
    return out


class Gate:
    """Which branches of an alternation can match a text, by the literals every match needs.

    `branches` are the alternation's branches as pattern strings (one branch
    may itself be an alternation).  `active(text)` lists the branches that
    may match: a branch left out cannot match anywhere in `text`.  One pass
    of ``in`` tests over the union of each alternative's most selective set
    finds the candidates; only those are checked further.
    """

    def __init__(self, branches: Sequence[str], flags: int = 0) -> None:
        self.folds = bool(flags & re.IGNORECASE)
        self.always: list[int] = []  # branches that require nothing readable
        self.alts: list[tuple[int, Needs]] = []
        for i, branch in enumerate(branches):
            got = alternatives(branch, flags)
            if got is None:
                self.always.append(i)
            else:
                self.alts += [(i, needs) for needs in got]
        firsts = frozenset().union(*(needs[0] for _, needs in self.alts)) if self.alts else frozenset()
        self.union = tuple(sorted(_minimal(firsts)))
        # ASCII strings are looked for in the text's ASCII characters alone: Python compares an
        # ASCII string with Chinese text only after widening it, which costs more than the search
        self.union_ascii = tuple(u for u in self.union if u.isascii())
        self.union_other = tuple(u for u in self.union if not u.isascii())
        # a union string -> the alternatives whose first set has a string containing it
        self.by_string: dict[str, list[int]] = {u: [] for u in self.union}
        for k, (_, needs) in enumerate(self.alts):
            for u in self.union:
                if any(u in t for t in needs[0]):
                    self.by_string[u].append(k)

    def active(self, text: str, lowered: str | None = None) -> list[int]:
        """Indexes of the branches that may match `text`, in order.

        `lowered` may pass `text.lower()` when the caller has it (IGNORECASE).
        """
        if self.folds:
            if _ODD_CASE.search(text):
                return sorted({i for i, _ in self.alts} | set(self.always))
            text = lowered if lowered is not None else text.lower()
        # ASCII strings in the ASCII characters: an occurrence stays one (dropping the others
        # can only add occurrences, so nothing that may match is ruled out)
        ascii_only = text if text.isascii() else text.encode("ascii", "ignore").decode("ascii")
        found = [u for u in self.union_ascii if u in ascii_only]
        if self.union_other:
            found += [u for u in self.union_other if u in text]
        if not found:
            return self.always
        seen: set[int] = set(self.always)
        for u in found:
            for k in self.by_string[u]:
                i, needs = self.alts[k]
                if i not in seen and all(any(s in (ascii_only if s.isascii() else text) for s in need) for need in needs):
                    seen.add(i)
        return sorted(seen)


class Filtered:
    """An alternation run only over the branches its `Gate` leaves: same matches, in less time.

    The regex of a subset of branches is compiled once and kept (few subsets
    occur: most texts activate none or one branch).
    """

    def __init__(self, branches: Sequence[str], flags: int = 0, joiner: str = "|") -> None:
        self.branches = list(branches)
        self.flags = flags
        self.joiner = joiner
        self.pattern = self._compile(tuple(range(len(self.branches))))
        self.gate = Gate(self.branches, flags)
        self._subsets: dict[tuple[int, ...], re.Pattern[str]] = {}

    @property
    def folds(self) -> bool:
        return self.gate.folds

    def _compile(self, which: tuple[int, ...]) -> re.Pattern[str]:
        return re.compile("(?:" + self.joiner.join(self.branches[i] for i in which) + ")", self.flags)

    def finditer(self, text: str, lowered: str | None = None, which: Sequence[int] | None = None) -> list[re.Match[str]]:
        """`list(pattern.finditer(text))` of the whole alternation.

        `which` may pass `gate.active()` of a text that contains `text` (a superset of
        the branches active here), so several parts of one text share one prefilter pass.
        """
        which = tuple(self.gate.active(text, lowered) if which is None else which)
        if not which:
            return []
        if len(which) == len(self.branches):
            return list(self.pattern.finditer(text))
        rx = self._subsets.get(which)
        if rx is None:
            if len(self._subsets) >= 512:  # bounded: hostile text cannot grow it without end
                self._subsets.clear()
            rx = self._subsets[which] = self._compile(which)
        return list(rx.finditer(text))

    def search(self, text: str, lowered: str | None = None) -> re.Match[str] | None:
        found = self.finditer(text, lowered)
        return found[0] if found else None


def gated(rx: re.Pattern[str]) -> Filtered:
    """A compiled pattern as a one-branch `Filtered`: skipped over text that lacks its literals."""
    return Filtered([rx.pattern], rx.flags & ~re.UNICODE)
