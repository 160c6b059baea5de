"""Phishing and impersonation reports: the fake "support" mail a customer forwards.

Why this exists: every exchange's support gets, daily, a customer forwarding
a mail that claims to be from the exchange and asking whether it is real.
Such a message is `security` (SPEC 8 `phishing_report`); the team needs the
lure's sender domain and links and why they are not ours, and a customer
who clicked or typed a code is a possible account compromise (issue 13).

How a domain is judged against the official ones (passed in from config):

* an official domain or a subdomain of one is fine;
* punycode labels (``xn--``, RFC 3492 / IDNA) are decoded first and reported;
* a lookalike: the UTS #39 skeleton (confusable characters mapped to their
  prototype, from the `confusable_homoglyphs` data, which is generated from
  Unicode's confusables.txt) equals an official domain's skeleton;
* the brand inside another domain (``exchange-support.top``,
  ``exchange.example.verify-id.cn``);
* a small edit distance (Damerau-Levenshtein <= 2) to an official name;
* a URL shortener (the destination is hidden);
* a lure's sender domain that is not official.

Only messages that carry a lure (an inline forward, an attached message) or
whose own words ask about a suspicious mail, link or site are judged, so a
customer naming a wallet site in an ordinary question is not a report.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any
from urllib.parse import urlsplit

from confusable_homoglyphs import confusables  # type: ignore[import-untyped]

from router.understand import forwarded
from router.understand.urgency import Lexicon

DEFAULT_SHORTENERS = frozenset({
    "bit.ly", "tinyurl.com", "t.co", "goo.gl", "ow.ly", "is.gd", "buff.ly", "cutt.ly", "rb.gy", "t.ly",
    "shorturl.at", "rebrand.ly", "s.id", "v.gd", "tiny.cc", "bl.ink", "lnkd.in", "dwz.cn", "url.cn", "t.cn",
    "suo.im", "w.url.cn", "0x0.st", "clck.ru", "qrco.de", "shorturl.asia", "reurl.cc", "pse.is", "lihi.cc",
})

_URL = re.compile(r"(?:https?://|hxxps?://|www\.)[^\s<>\"'“”‘’（）()\[\]【】，。、]{2,300}", re.IGNORECASE)
_HOST_CHARS = r"[0-9a-z\u00a1-\u2fff-]"  # not CJK or full-width: Chinese text runs into a domain
_BARE = re.compile(
    rf"(?<![@0-9A-Za-z.-])((?:{_HOST_CHARS}{{1,63}}\.){{1,5}}(?:xn--[0-9a-z-]{{2,30}}|[a-z\u00a1-\u2fff]{{2,24}}))(?![0-9A-Za-z-]*\.?[0-9A-Za-z])",
    re.IGNORECASE,
)
_EMAIL_DOMAIN = re.compile(r"[\w.+-]+@((?:[\w-]+\.)+[\w-]{2,24})")
_FILE_EXT = frozenset({"pdf", "png", "jpg", "jpeg", "gif", "txt", "doc", "docx", "xls", "xlsx", "csv", "zip", "rar",
                       "eml", "html", "htm", "exe", "apk", "js", "json", "mp4", "mov", "heic"})
_2LD = frozenset({"co", "com", "net", "org", "gov", "edu", "ac"})

# The customer asks whether something is genuine, or calls it fake.
_ASKS = Lexicon(
    r"""(?:
        \b(?:is|are)\s+(?:this|these|that|it)\s+(?:\w+\s+){0,3}(?:real|legit(?:imate)?|genuine|official|authentic|from\s+you|yours|safe|a\s+scam|phishing|fake)
      | \b(?:phishing|scam|fake|spoof(?:ed)?|impersonat\w*|fraudulent|suspicious)\b
      | \bdid\s+you\s+(?:send|email)
      | (?:是不是|是否|是)(?:真的|官方|你们|你們|貴司|贵司|正规|正規|诈骗|詐騙|钓鱼|釣魚|假的)
      | 真的吗|真的嗎|真假|钓鱼|釣魚|诈骗|詐騙|骗子|騙子|假冒|冒充|仿冒|可疑|骗局|騙局|假的
    )""",
    re.IGNORECASE | re.VERBOSE,
)
_IMPERSONATION = Lexicon(
    r"""(?:
        \b(?:claim(?:s|ed|ing)?|pretend(?:s|ed|ing)?|posing|posed)\s+(?:to\s+be\s+|as\s+)(?:your|the\s+exchange|an?\s+exchange|exchange)\b
      | 自称|自稱|冒充|假冒|仿冒|假扮|伪装成|偽裝成
    )""",
    re.IGNORECASE | re.VERBOSE,
)
_CLICKED = Lexicon(
    r"""(?:
        \bi\s+(?:already\s+|accidentally\s+|just\s+)?(?:clicked|opened\s+the\s+link|tapped|followed\s+the\s+link|logged\s+in|signed\s+in|entered|typed|gave|submitted|filled|provided|sent\s+(?:them|the\s+code|my))\b
      | \b(?:clicked|tapped)\s+(?:on\s+)?(?:the|that|this)\s+link
      | (?:我)?(?:已经|已經|不小心|刚才|剛才|刚刚|剛剛)?(?:点了|點了|点击了|點擊了|点开了|點開了|打开了链接|打開了連結|登录了|登錄了|登入了|输入了|輸入了|填了|填写了|填寫了|提交了|告诉了他|告訴了他|给了他|給了他)
    )""",
    re.IGNORECASE | re.VERBOSE,
)
_NOT_CLICKED = re.compile(
    r"(?:\b(?:did\s*n[o']t|didn't|never|have\s*n[o']t|haven't|not)\s+(?:\w+\s+)?(?:click|open|tap|enter|type|log|sign|fill|give)"
    r"|(?:没有?|沒有?|未|并未|並未|不敢)(?:点|點|打开|打開|登录|登錄|登入|输入|輸入|填|提交))",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class PhishingReport:
    """Suspicious URLs and domains, why, and whether the customer may be compromised."""

    urls: tuple[str, ...]
    domains: tuple[str, ...]
    reasons: tuple[str, ...]
    clicked: bool = False
    senders: tuple[str, ...] = ()

    def to_record(self) -> dict[str, Any]:
        """The SPEC 8 `phishing_report` object."""
        return {"urls": list(self.urls), "domains": list(self.domains), "reasons": list(self.reasons),
                "clicked": self.clicked}


# --- domains ------------------------------------------------------------------

def decode_punycode(host: str) -> str:
    """Unicode form of a host (RFC 3492 labels ``xn--…`` decoded); the input when a label is invalid."""
    labels = []
    for label in host.split("."):
        if label.startswith("xn--"):
            try:
                label = label[4:].encode("ascii").decode("punycode")
            except (UnicodeError, ValueError):
                return host
        labels.append(label)
    return ".".join(labels)


@cache
def _prototype(ch: str) -> str:
    """The ASCII prototype of a confusable character, or the character itself."""
    if ch.isascii():
        return ch
    found = confusables.is_confusable(ch, greedy=True, preferred_aliases=["latin", "common"])
    if found:
        for h in found[0]["homoglyphs"]:
            c = h["c"]
            if c.isascii() and c.isalnum():
                return str(c).lower()
    return ch


_ASCII_FOLD = (("rn", "m"), ("vv", "w"), ("cl", "d"), ("0", "o"), ("1", "l"), ("i", "l"), ("|", "l"))


@cache
def skeleton(host: str) -> str:
    """A UTS #39-style skeleton: NFKC, confusables to their ASCII prototype, lookalike ASCII folded."""
    s = unicodedata.normalize("NFKC", decode_punycode(host.lower()))
    s = "".join(_prototype(c) for c in s).lower()
    for a, b in _ASCII_FOLD:
        s = s.replace(a, b)
    return s


def registrable(host: str) -> str:
    """The registrable part of a host (last two labels, three under co.uk-style suffixes)."""
    labels = host.strip(".").split(".")
    if len(labels) >= 3 and labels[-2] in _2LD and len(labels[-1]) == 2:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _distance(a: str, b: str) -> int:
    """Optimal-string-alignment Damerau-Levenshtein distance (transpositions count 1)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def _brand(domain: str) -> str:
    return registrable(domain).split(".")[0]


def judge_domain(host: str, official: Sequence[str], shorteners: frozenset[str] = DEFAULT_SHORTENERS) -> list[str]:
    """Why `host` is suspicious compared with the official domains (empty: not suspicious)."""
    host = host.lower().strip(".")
    uni = decode_punycode(host)
    offs = [o.lower() for o in official]
    if any(host == o or host.endswith("." + o) for o in offs):
        return []
    reasons: list[str] = []
    if uni != host:
        reasons.append(f"punycode {host} is {uni}")
    if host in shorteners or registrable(host) in shorteners:
        reasons.append(f"{host} is a URL shortener that hides the destination")
    reasons.extend(_lookalike(uni, offs))
    return reasons


def _lookalike(uni: str, offs: Sequence[str]) -> list[str]:
    """The strongest lookalike reason against any official domain, checked in order."""
    skel, reg_skel = skeleton(uni), skeleton(registrable(uni))
    parts, skel_parts = re.split(r"[.\-_]", uni), re.split(r"[.\-_]", skel)
    for o in offs:
        if skel == skeleton(o) or reg_skel == skeleton(o):
            return [f"{uni} looks like {o} (confusable characters)"]
    for brand in dict.fromkeys(_brand(o) for o in offs):
        if brand in parts or (len(brand) >= 5 and brand in uni):
            return [f"{uni} puts the brand {brand!r} inside another domain"]
        if skeleton(brand) in skel_parts or (len(brand) >= 5 and skeleton(brand) in skel):
            return [f"{uni} hides the brand {brand!r} with lookalike characters"]
    reg = registrable(uni)
    best = min(((min(_distance(reg, o), _distance(reg.split(".")[0], _brand(o))), _distance(reg, o), o) for o in offs),
               default=None)
    if best and 0 < best[0] <= 2 and len(_brand(best[2])) >= 4:
        return [f"{uni} is {best[0]} edit(s) from {best[2]}"]
    return []


@lru_cache(maxsize=4096)
def _judged(host: str, official: tuple[str, ...], shorteners: frozenset[str]) -> tuple[str, ...]:
    """`judge_domain`, kept: the same lure and sender domains come back mail after mail, and the
    lookalike tests (skeletons, edit distances) are the costly part of a report."""
    return tuple(judge_domain(host, official, shorteners))


def _is_official(host: str, official: Sequence[str]) -> bool:
    host = host.lower()
    return any(host == o.lower() or host.endswith("." + o.lower()) for o in official)


# --- extraction -------------------------------------------------------------

def _host(url: str) -> str:
    url = re.sub(r"^hxxp", "http", url, flags=re.IGNORECASE)
    if url.lower().startswith("www."):
        url = "http://" + url
    try:
        return (urlsplit(url).hostname or "").rstrip(".")
    except ValueError:
        return ""


def links(text: str) -> list[tuple[str, str]]:
    """(url or bare domain, host) pairs in order, duplicates dropped."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    taken: list[tuple[int, int]] = []
    for m in _URL.finditer(text):
        url = m.group().rstrip(".,;:!?)")
        host = _host(url)
        taken.append(m.span())
        if host and url not in seen:
            seen.add(url)
            out.append((url, host.lower()))
    for m in _BARE.finditer(text):
        if any(s <= m.start() < e for s, e in taken):
            continue
        host = m.group(1).lower()
        if host.rsplit(".", 1)[-1] in _FILE_EXT or host in seen:
            continue
        seen.add(host)
        out.append((host, host))
    return out


def clicked(text: str) -> bool:
    """The customer says they clicked the link, logged in there, or typed/gave a code."""
    for m in _CLICKED.finditer(text):
        clause = text[max(0, m.start() - 30):m.end() + 10]
        if not _NOT_CLICKED.search(clause):
            return True
    return False


def assess(
    text: str,
    subject: str = "",
    *,
    official: Sequence[str],
    attached: Sequence[forwarded.Forwarded] = (),
    shorteners: frozenset[str] = DEFAULT_SHORTENERS,
    parts: forwarded.Split | None = None,
) -> PhishingReport | None:
    """A phishing report for a message, or None.

    `text` is the whole body (not `split_reply`'s output); `attached` are
    attached messages (`forwarded.from_eml`); `parts` is `forwarded.split(text)`
    when the caller has it already.  Lures are the forwarded
    blocks and attached messages; when there are none, the customer's own
    text is judged only if it asks whether something is genuine.
    """
    split = parts if parts is not None else forwarded.split(text)
    lures = split.forwarded + tuple(attached)
    # one prefilter pass over subject and own words: most mail asks nothing (no regex runs then)
    both = f"{subject}\n{split.own}"
    asks_may, imp_may = _ASKS.active(both), _IMPERSONATION.active(both)
    asks = bool(any(asks_may) and (_ASKS.search(split.own, asks_may) or _ASKS.search(subject, asks_may))
                or any(imp_may) and _IMPERSONATION.search(split.own, imp_may))
    if not lures and not asks:
        return None
    urls: list[str] = []
    domains: list[str] = []
    reasons: list[str] = []
    senders: list[str] = []

    official = tuple(official)

    def consider(url: str, host: str, where: str) -> None:
        why = _judged(host, official, shorteners)
        if not why:
            return
        if url != host and url not in urls:
            urls.append(url)
        uni = decode_punycode(host)
        if uni not in domains:
            domains.append(uni)
            reasons.extend(r for r in (f"{where}: {w}" for w in why) if r not in reasons)

    for lure in lures:
        dom = lure.sender_domain
        if dom:
            senders.append(lure.sender)
            consider(dom, dom, "sender")
            if asks and dom not in domains and _judged(dom, official, shorteners) == () and not _is_official(dom, official):
                domains.append(dom)
                reasons.append(f"sender: {dom} is not an official domain of ours")
        for url, host in links(lure.headers.get("subject", "") + "\n" + lure.body):
            consider(url, host, "link")
    if asks or not lures:
        for url, host in links(split.own):
            consider(url, host, "link in the customer's text")
    if not reasons and (m := _IMPERSONATION.search(split.own)):
        reasons.append(f"the customer describes someone posing as us: “{m.group()}”")
    if not reasons:
        return None
    return PhishingReport(tuple(urls), tuple(domains), tuple(reasons), clicked(split.own), tuple(senders))


def priority_signals(report: PhishingReport | None) -> list[tuple[str, str]]:
    """(priority, reason) pairs for `urgency.assess(extra=...)`: a report is high, a click is urgent."""
    if report is None:
        return []
    out = [("high", "phishing or impersonation report")]
    if report.clicked:
        out.append(("urgent", "the customer says they clicked the lure or typed a code there: possible compromise"))
    return out
