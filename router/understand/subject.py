"""The subject convention `<issue type>-UID<digits>` (SPEC 3).

Why a hand-written matcher: aliases come from config.toml, so the pattern is
built at run time from the table; the longest alias wins, Traditional is
folded to Simplified and full-width forms are normalised first, so one
Simplified alias also matches `帳戶凍結申訴－ＵＩＤ１２３４５６７８`.
"""

from __future__ import annotations

import re
from functools import lru_cache

from router.config import IssueType
from router.records import SubjectInfo
from router.text import normalize, to_simplified

_PREFIX = re.compile(
    r"^\s*(?:(?:re|fwd?|fw|aw|wg|sv|vs|回复|答复|转发|转寄|回覆|回復|答覆|轉寄|轉發)\s*(?:\[\d+\])?\s*[:：]\s*)+",
    re.IGNORECASE,
)
_CASE_TAG = re.compile(r"\[\s*case\s*#?\s*[A-Z0-9]{4,12}\s*\]", re.IGNORECASE)
_SEPARATORS = r"\-－—–_:：\s"


def strip_prefixes(subject: str) -> str:
    """Remove any run of reply/forward prefixes (ASCII or full-width colons)."""
    previous = None
    text = subject
    while previous != text:
        previous = text
        text = _PREFIX.sub("", text)
    return text.strip()


# OpenCC folds 帳 (the usual Traditional "account": 帳戶, 帳號) to the variant
# 帐, while Simplified subjects and the shipped aliases write 账.
_VARIANTS = str.maketrans({"帐": "账"})


def _fold(text: str) -> str:
    """Traditional -> Simplified, variant characters unified, lower case."""
    return to_simplified(text).translate(_VARIANTS).lower()


def _norm_alias(alias: str) -> str:
    return re.sub(r"\s+", " ", _fold(normalize(alias))).strip()


@lru_cache(maxsize=16)
def _alias_regex(types: tuple[IssueType, ...]) -> tuple[re.Pattern[str], dict[str, str]]:
    table: dict[str, str] = {}
    for it in types:
        for alias in it.aliases:
            table[_norm_alias(alias)] = it.id
    # Longest first, so "账户冻结申诉" wins over "账户冻结"; spaces in an
    # English alias match any run of separators ("Account-Freeze  Appeal").
    ordered = sorted(table, key=len, reverse=True)
    alts = [_bounded(a, re.escape(a).replace(r"\ ", rf"[{_SEPARATORS}]*")) for a in ordered]
    pattern = re.compile("(" + "|".join(alts) + ")", re.IGNORECASE)
    return pattern, {re.sub(r"\s+", " ", a): t for a, t in table.items()}


def _bounded(alias: str, body: str) -> str:
    """Word boundaries only where the alias has a Latin edge.

    "KYC" must not match inside "kyckyc", but a Chinese alias runs straight
    into its neighbours ("账户冻结申诉UID12345678", "我的提现失败"), and an
    English alias may run into the UID keyword ("Withdrawal FailedUID1234...").
    """
    head = r"(?<![a-z0-9])" if alias[:1].isascii() and alias[:1].isalnum() else ""
    tail = r"(?!(?!uid)[a-z0-9])" if alias[-1:].isascii() and alias[-1:].isalnum() else ""
    return head + body + tail


def parse_subject(subject: str, types: tuple[IssueType, ...], uid_pattern: str) -> SubjectInfo:
    """Classify a subject as ok / missing_uid / unknown_type / absent."""
    text = _CASE_TAG.sub(" ", strip_prefixes(normalize(subject or "")))
    folded = _fold(text)
    uid = _find_uid(text, uid_pattern)  # not folded: a custom pattern may be case-sensitive
    type_id = _find_type(folded, types)
    if type_id and uid:
        return SubjectInfo("ok", type_id, uid, f"subject follows the convention: type {type_id}, UID {uid}")
    if type_id:
        return SubjectInfo("missing_uid", type_id, None, f"subject names type {type_id} but no valid UID")
    if uid:
        return SubjectInfo("unknown_type", None, uid, f"subject has UID {uid} but no known issue type")
    return SubjectInfo("absent", None, None, "subject does not follow the <type>-UID<digits> convention")


def _find_uid(text: str, uid_pattern: str) -> str | None:
    """The UID after the keyword `UID` (any case); the value keeps its case."""
    keyword = r"(?:(?<![A-Za-z0-9])[Uu][Ii][Dd]|(?<=[a-z])UID)"  # "...AppealUID123..." but not "fluid 123..."
    m = re.search(rf"{keyword}[{_SEPARATORS}#]*({uid_pattern})(?![0-9])", text)
    return m.group(1) if m else None


def _find_type(folded: str, types: tuple[IssueType, ...]) -> str | None:
    pattern, table = _alias_regex(types)
    m = pattern.search(folded)
    if not m:
        return None
    key = re.sub(rf"[{_SEPARATORS}]+", " ", m.group(1).lower()).strip()
    if key in table:
        return table[key]
    squeezed = {re.sub(r"\s+", "", k): v for k, v in table.items()}
    return squeezed.get(re.sub(rf"[{_SEPARATORS}]+", "", key))
