"""How soon a case needs a person: priority from the issue type, raised by the text.

Why this exists: the issue type's priority (config, SPEC 3) is the floor, but
"someone is withdrawing my funds right now" must reach the security team
before the queue gets to it, and a customer asking for the third time must
not wait another full SLA (issue 13).  Signals only raise a priority, never
lower it; each one that fires gives the reason a person reads.

Chinese is matched in Simplified and Traditional forms directly (character
classes like ``[还還]``), so the caller need not fold the text first.
Negated or hypothetical wording ("not urgent", "如何防止被盗") is skipped by the
clause check below, as `compromise.py` does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from router.understand.prefilter import Filtered

PRIORITIES = ("low", "normal", "high", "urgent")


class Lexicon:
    """A verbose alternation split into its Chinese and its other branches, each prefiltered.

    Why: CPython's regex engine tries every branch at every position; two
    smaller alternations (the Chinese one only when the text has CJK) run
    three to five times faster than one big one, and the time these checks
    add to each message is budgeted (issue 13: at most 10 % of the fast path).
    Each half is also a `prefilter.Filtered`: a branch runs only when the text
    holds the literal words it needs, which most mails do not.
    """

    _CJK = re.compile(r"[\u3400-\u9fff]")

    def __init__(self, pattern: str, flags: int = re.VERBOSE) -> None:
        body = pattern.strip()
        if not (body.startswith("(?:") and body.endswith(")")):
            raise ValueError("a Lexicon pattern is one (?: ... | ... ) group")
        branches = [b.strip() for b in re.split(r"\n\s*\| ", body[3:-1])]
        zh = [b for b in branches if self._CJK.search(b)]
        other = [b for b in branches if b not in zh]
        self.other = Filtered(other, flags, joiner="\n|") if other else None
        self.zh = Filtered(zh, flags, joiner="\n|") if zh else None

    def finditer(self, text: str, active: tuple[list[int], list[int]] | None = None) -> list[re.Match[str]]:
        """Matches of both halves in text order; `active` may pass `self.active()` of a text containing this one."""
        found: list[re.Match[str]] = []
        lowered = text.lower() if any(h is not None and h.folds for h in (self.other, self.zh)) else None
        if self.other is not None:
            found += self.other.finditer(text, lowered, active[0] if active else None)
        if self.zh is not None and self._CJK.search(text):
            found += self.zh.finditer(text, lowered, active[1] if active else None)
        return sorted(found, key=lambda m: m.start())

    def search(self, text: str, active: tuple[list[int], list[int]] | None = None) -> re.Match[str] | None:
        found = self.finditer(text, active)
        return found[0] if found else None

    def active(self, text: str) -> tuple[list[int], list[int]]:
        """The branches of each half (other, Chinese) that may match in `text` (the prefilter alone)."""
        lowered = text.lower() if any(h is not None and h.folds for h in (self.other, self.zh)) else None
        return (self.other.gate.active(text, lowered) if self.other is not None else [],
                self.zh.gate.active(text, lowered) if self.zh is not None and self._CJK.search(text) else [])

# Amount at or above which a case is at least "high" (config `[urgency] thresholds`).
DEFAULT_THRESHOLDS: Mapping[str, Decimal] = {
    "USDT": Decimal(10_000), "USDC": Decimal(10_000), "USD": Decimal(10_000), "DAI": Decimal(10_000),
    "CNY": Decimal(70_000), "HKD": Decimal(80_000), "TWD": Decimal(300_000), "EUR": Decimal(10_000),
    "BTC": Decimal("0.1"), "ETH": Decimal(3), "SOL": Decimal(50), "BNB": Decimal(15), "TRX": Decimal(40_000),
    "XRP": Decimal(5_000),
}

_THEFT_NOW = Lexicon(
    r"""(?:
        \b(?:is|are|keeps?|still|currently)\s+(?:being\s+)?(?:drain|withdraw|steal|transferr?|mov|empty|sell)ing\b
      | \b(?:draining|emptying)\s+(?:my|the)\b
      | \b(?:someone|somebody|hackers?|they)\s+(?:is|are)\s+(?:\w+\s+){0,2}(?:withdraw|transferr?|steal|drain|sell|trad|log)ing\b
      | \bbeing\s+(?:hacked|drained|stolen|emptied)\b
      | \b(?:hacker|attacker)s?\s+(?:is|are)\s+(?:still\s+)?(?:logged|in\s+my)\b
      | 正在(?:被)?(?:盗|盜|转|轉|提|偷|卖|賣|清空|登录|登錄|登入)
      | [还還]在(?:不停地?|继续|繼續)?(?:转|轉|提|盗|盜|偷|卖|賣)
      | (?:不停|持续|持續|一直)(?:地|在)?(?:被)?(?:转出|轉出|提币|提幣|提现|提現|盗|盜)
      | 资金(?:正在)?(?:不断|不斷)?(?:流失|被转走)|資金(?:正在)?(?:不斷)?(?:流失|被轉走)
    )""",
    re.VERBOSE,
)
_FUNDS_GONE = Lexicon(
    r"""(?:
        \b(?:funds?|coins?|assets?|balance|usdt|btc|eth|money)\s+(?:\w+\s+){0,3}(?:were|was|got|have\s+been|has\s+been)\s+
            (?:stolen|drained|transferred\s+out|withdrawn\s+without|taken|moved\s+out|emptied)
      | \b(?:stole|drained|emptied)\s+(?:my|all\s+my)\b
      | \b(?:withdrawals?|transfers?)\s+(?:that\s+)?i\s+(?:did\s+not|didn't|never)\s+(?:make|made|authori[sz]e)
      | \bunauthori[sz]ed\s+(?:withdrawal|transfer)s?\b
      | \bfunds\s+(?:are\s+)?leaving\b
      | \b(?:whole|entire|all\s+(?:of\s+)?my)\s+(?:balance|funds|money|assets|usdt|btc|eth)\s+(?:is|are|was|were|has\s+been|have\s+been)\s+(?:gone|missing|emptied)
      | \b(?:withdrawal|transfer)\b[^.\n]{0,80}?\bthat\s+i\s+(?:never|did\s+not|didn't)\s+(?:make|made|authori[sz]e|request)
      | (?:余额|餘額|资产|資產|钱|錢|币|幣)(?:全|都)?(?:没了|沒了|不见了|不見了|清零了)
      | \bi\s+(?:never|did\s+not|didn't|have\s+not|haven't)\s+(?:request|ask|appl|initiat|ma[dk]|authori[sz])\w*\s+(?:for\s+)?(?:a|any|this|the|that)?\s*(?:withdrawal|transfer)
      | (?:我)?(?:没有|沒有|并没有|並沒有|从未|從未|从来没有|從來沒有)(?:申请|申請|操作|发起|發起|提交)(?:过|過)?(?:任何)?(?:提现|提現|提币|提幣|转账|轉帳|轉賬)
      | (?:资金|資金|币|幣|资产|資產|钱|錢|余额|餘額|u)(?:全部|都|已经|已經|被)*(?:被)(?:盗|盜|转走|轉走|提走|偷走|清空|划走|劃走)
      | 被(?:盗|盜)(?:了|走)?|(?:莫名|不明|未经授权|未經授權)的?(?:提币|提幣|提现|提現|转出|轉出|转账|轉帳|轉賬)
    )""",
    re.VERBOSE,
)
_NOW = Lexicon(
    r"""(?:
        \b(?:right\s+now|urgent(?:ly)?|asap|as\s+soon\s+as\s+possible|immediately|emergency|at\s+once)\b
      | 紧急|緊急|马上|馬上|立刻|立即|赶紧|趕緊|尽快|盡快|十万火急|十萬火急|火速|现在就|現在就|急急|很急|非常急|急!|急！
    )""",
    re.VERBOSE,
)
# a plain negation or prevention word in the same clause cancels a hit
_CANCEL = re.compile(
    r"(?:\bnot\b|\bno\b|n't\b|\bnever\b|\bhow\s+(?:do|can|to)\b|\bprevent|\bavoid|\bin\s+case\b|\bif\b"
    r"|不是|不用|不必|不急|没有|沒有|如何|怎么|怎麼|防止|避免|以防|如果|万一|萬一)",
    0,  # patterns are lower-case; the callers lower-case the text
)
_CLAUSE_END = re.compile(r"[.!?;。！？；\n,，]")

_CHASER = Lexicon(
    r"""(?:
        \b(?:second|third|fourth|fifth|2nd|3rd|4th|5th|\d+(?:st|nd|rd|th)?)\s+(?:time|email|mail|message|request)s?\b(?:\s+(?:asking|i(?:'m|\s+am)?\s+(?:writ|ask|contact|email)ing|writing|now|that))?
      | \bstill\s+(?:no|not|haven't|have\s+not|waiting|no\s+one|nobody|unanswered|unresolved|pending)\b
      | \b(?:no|not\s+any|haven't\s+(?:got|received|heard)|have\s+not\s+(?:got|received|heard))\s+(?:\w+\s+){0,2}(?:reply|response|answer|update|word|feedback)s?\b(?:\s+(?:yet|so\s+far|since|for|after))?
      | \bany\s+(?:update|news|progress|response|reply)s?\b
      | \bfollow(?:ing)?[-\s]?up\b|\bfollowup\b|\bchasing\b|\bgentle\s+reminder\b|\breminder\b
      | \bwhen\s+will\s+(?:you|someone|i)\s+(?:\w+\s+){0,2}(?:reply|respond|answer|hear|get)
      | \b(?:already\s+)?(?:wrote|emailed|contacted|asked|written|sent)\s+(?:\w+\s+){0,3}(?:twice|three\s+times|several\s+times|many\s+times|multiple\s+times|again|before|days?\s+ago|last\s+week)\b
      | \bwhy\s+(?:has|have|is|isn't|hasn't|haven't)\s+(?:no\s+one|nobody|anyone|my\s+case|my\s+ticket)
      | \b(?:no\s+one|nobody)\s+(?:has\s+)?(?:replied|responded|answered|gotten\s+back)
      | \b\d+\s+(?:days?|weeks?)\s+(?:and|with|without)\s+(?:still\s+)?no\b
      | (?:[还還]|仍然|依然)(?:是)?(?:没有?|沒有?|未)(?:人)?(?:任何)?(?:回复|回覆|回復|答复|答覆|处理|處理|解决|解決|消息|回应|回應|动静|動靜|进展|進展|结果|結果|回音)
      | (?:仍|仍然|依然|至今|到现在|到現在|迄今)(?:都|还|還)?(?:未|没有?|沒有?)(?:人)?(?:回复|回覆|回復|处理|處理|答复|答覆|解决|解決|回应|回應|消息|进展|進展)
      | 第[二三四五六七八九十2-9]\s*次(?:发|發|写|寫|联系|聯繫|聯絡|询问|詢問|来信|來信|提交|催|问|問|邮件|郵件|申请|申請)?
      | (?:什么时候|什麼時候|何时|何時|多久)(?:才|能|可以|会|會)?(?:回复|回覆|回復|答复|答覆|处理|處理|给个答复|給個答覆|解决|解決)
      | 催(?:一下|促|办|辦)?|一直(?:没有?|沒有?|未)(?:人)?(?:回复|回覆|回復|处理|處理|答复|答覆|回应|回應)
      | (?:没人|沒人|无人|無人)(?:回复|回覆|回復|处理|處理|理|回应|回應)|(?:已经|已經)(?:\d+|[一二三四五六七八九十几幾两兩]+)\s*(?:天|周|週|个星期|個星期)(?:了)?[^。\n]{0,12}(?:没|沒|未|还|還)
      | 再次(?:来信|來信|联系|聯繫|询问|詢問|提交|发|發)|(?:有|有没有|有沒有)(?:任何)?(?:进展|進展|进度|進度|消息|更新)(?:吗|嗎|了吗|了嗎)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Urgency:
    """A priority and the reasons that set it (the first is the base)."""

    priority: str
    reasons: tuple[str, ...]


def _clause_before(text: str, start: int) -> str:
    cut = max((m.end() for m in _CLAUSE_END.finditer(text, max(0, start - 80), start)), default=max(0, start - 80))
    return text[cut:start]


def _hit(rx: Lexicon, text: str) -> str | None:
    """The first match not cancelled by a negation or prevention word in its clause."""
    for m in rx.finditer(text):
        if not _CANCEL.search(_clause_before(text, m.start())):
            return m.group().strip()
    return None


def _raise(current: str, to: str) -> str:
    return to if PRIORITIES.index(to) > PRIORITIES.index(current) else current


def assess(
    text: str,
    base: str = "normal",
    *,
    amounts: Sequence[tuple[str, str]] = (),
    thresholds: Mapping[str, Decimal] = DEFAULT_THRESHOLDS,
    compromise: bool = False,
    extra: Sequence[tuple[str, str]] = (),
) -> Urgency:
    """Priority for a message.

    `base` is the issue type's priority (or "normal"); `amounts` are
    (value, currency) pairs from `entities`; `compromise` is the compromise
    check's verdict; `extra` are (priority, reason) pairs from other checks
    (the phishing check's "clicked the link").
    """
    if base not in PRIORITIES:
        raise ValueError(f"unknown priority {base!r}: expected one of {', '.join(PRIORITIES)}")
    text = text.lower()  # the patterns are lower-case: cheaper than IGNORECASE
    prio, reasons = base, [f"base priority {base} from the issue type"]
    signals: list[tuple[str, str]] = []
    if hit := _hit(_THEFT_NOW, text):
        signals.append(("urgent", f"theft in progress: “{hit}”"))
    if hit := _hit(_FUNDS_GONE, text):
        signals.append(("high", f"funds leaving the account: “{hit}”"))
    if now := _hit(_NOW, text):
        signals.append(("high", f"asks for immediate action: “{now}”"))
    if compromise:
        signals.append(("high", "signs of account compromise"))
    for value, currency in amounts:
        limit = thresholds.get(currency)
        if limit is not None and Decimal(value) >= limit:
            signals.append(("high", f"amount {value} {currency} at or above the {limit} {currency} threshold"))
            break
    signals.extend(extra)
    theft = any(p == "urgent" for p, _ in signals) or (compromise and now is not None)
    for p, reason in signals:
        new = _raise(prio, p)
        if new != prio or p == "urgent":
            reasons.append(f"{reason}: {new}")
        prio = new
    if theft and prio != "urgent":
        prio = "urgent"
        reasons.append("compromise reported as happening now: urgent")
    return Urgency(prio, tuple(reasons))


@dataclass(frozen=True)
class Chaser:
    """Whether the text presses an open case, and the words that say so."""

    chaser: bool
    reason: str | None = None


def chaser(text: str, subject: str = "") -> Chaser:
    """A follow-up that presses for an answer ("third time asking", "还没有回复", "仍未處理").

    The caller also treats any new message on an open case as a follow-up
    (state); this looks at the words only.
    """
    subject, text = subject.lower(), text.lower()
    active = _CHASER.active(f"{subject}\n{text}")  # one prefilter pass for both parts
    if not any(active):  # most mail
        return Chaser(False)
    for part in (subject, text):
        for m in _CHASER.finditer(part, active):
            if not _CANCEL.search(_clause_before(part, m.start())[-12:]):
                return Chaser(True, f"follow-up wording: “{m.group().strip()}”")
    return Chaser(False)


# What the team's mail client shows: Importance (RFC 2156 section 5.3.4, values
# low/normal/high) and the de-facto X-Priority (1 highest .. 5 lowest).
_HEADERS = {
    "urgent": (("Importance", "high"), ("X-Priority", "1 (Highest)")),
    "high": (("Importance", "high"), ("X-Priority", "2 (High)")),
    "normal": (("Importance", "normal"), ("X-Priority", "3 (Normal)")),
    "low": (("Importance", "low"), ("X-Priority", "5 (Lowest)")),
}


def priority_headers(priority: str) -> tuple[tuple[str, str], ...]:
    """Importance and X-Priority header fields for the forward of a case of this priority."""
    return _HEADERS[priority]


def subject_tag(priority: str) -> str:
    """The tag put before the forward's subject: "[URGENT]" for urgent cases, else ""."""
    return "[URGENT]" if priority == "urgent" else ""
