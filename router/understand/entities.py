"""What the team can act on: UIDs, tx hashes, addresses, amounts, orders, dates, case ids.

Why this exists: a forward that says *what* to look up (the account, the
transaction, the destination address, how much) saves the security team a
round of reading and a round of asking (issue 13, SPEC 8 `entities`).

Rules, because a wrong address sends an analyst after the wrong wallet:

* An address is accepted only when its checksum is valid: Bitcoin
  Base58Check (`1…`, `3…`) and BIP-173/BIP-350 bech32/bech32m (`bc1…`),
  TRON Base58Check (`T…`, version byte 0x41), XRP Base58Check in the Ripple
  alphabet (`r…`), Ethereum EIP-55 mixed case (all-lower or all-upper has no
  checksum and is kept with ``checked: false``).  Solana addresses have no
  checksum: a base58 string decoding to exactly 32 bytes, with both letter
  cases and a digit, is accepted.  The codecs come from `base58`, `bech32m`
  and `eth-hash` (Keccak-256 via pycryptodome).
* A transaction hash is `0x` + 64 hex (EVM), 64 hex (Bitcoin-like, TRON) or a
  base58 string of 64 bytes (a Solana signature).  64 hex (and 64 base58
  bytes) is also how private keys are written, so a value whose label says
  key (`private key`, `私钥`, `私鑰`, `secret`) is never an entity, and a bare
  64-hex value needs a transaction word nearby (`TxID`, `hash`, `交易哈希`,
  deposit/withdrawal talk).  The caller passes what the secrets check
  redacted (`redacted` spans or strings) and nothing there becomes an entity.
* Amounts are normalised to a plain decimal string and an upper-case code:
  `4,820 USDT`, `0.5 BTC`, `¥20,000`, `2万U` -> ("20000", "USDT").
* UIDs follow the configured pattern after a `UID` label (or `用户ID`,
  `account id` ...); the subject's UID comes first.

Everything is pure and linear-time per message: bounded quantifiers and
look-arounds only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

import base58
import bech32m  # type: ignore[import-untyped]
from eth_hash.auto import keccak

from router.understand.prefilter import Filtered, gated

KINDS = ("uid", "txid", "address", "amount", "order_id", "date", "case_id")
DEFAULT_UID_PATTERN = "[0-9]{8,10}"

# Full-width ASCII -> ASCII, one character for one, so offsets stay valid.
_FULLWIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_FULLWIDTH_ANY = re.compile("[\uff01-\uff5e\u3000]")


def _halfwidth(text: str) -> str:
    """`text.translate(_FULLWIDTH)`, cheaper: str.translate looks every character up, while
    a mail holds a few distinct full-width characters (，：（）) or none."""
    for ch in set(_FULLWIDTH_ANY.findall(text)):
        text = text.replace(ch, chr(_FULLWIDTH[ord(ch)]))
    return text

_B58 = "1-9A-HJ-NP-Za-km-z"
_XRP_CHARS = re.escape(base58.XRP_ALPHABET.decode())

# chain hints, matched on lower-cased text
_CHAIN_WORDS: tuple[tuple[str, str, str], ...] = (
    # (regex, chain, family)
    (r"\b(?:bsc|bep-?20|bnb\s*(?:smart\s*)?chain)\b|币安智能链|幣安智能鏈", "bsc", "evm"),
    (r"\b(?:polygon|matic)\b", "polygon", "evm"),
    (r"\barbitrum\b", "arbitrum", "evm"),
    (r"\b(?:optimism)\b", "optimism", "evm"),
    (r"\b(?:avalanche|avax)\b", "avalanche", "evm"),
    (r"\b(?:ethereum|eth|erc-?20|ether)\b|以太坊|以太币|以太幣", "ethereum", "evm"),
    (r"\b(?:tron|trx|trc-?20)\b|波场|波場", "tron", "hex"),
    (r"\b(?:bitcoin|btc)\b|比特币|比特幣", "bitcoin", "hex"),
    (r"\b(?:litecoin|ltc)\b|莱特币|萊特幣", "litecoin", "hex"),
    (r"\b(?:dogecoin|doge)\b|狗狗币|狗狗幣", "dogecoin", "hex"),
    (r"\b(?:solana|sol|spl)\b|索拉纳|索拉納", "solana", "solana"),
)
_CHAIN_RES = tuple((re.compile(rx), chain, fam) for rx, chain, fam in _CHAIN_WORDS)

_KEY_LABEL = re.compile(
    r"(?:private[\s_-]*key|priv[\s_-]*key|secret(?:[\s_-]*key)?|私钥|私鑰|密钥|密鑰|秘钥|秘鑰|wif|keystore)"
    r"[^\n]{0,24}$",
    re.IGNORECASE,
)
_TX_LABEL = re.compile(
    r"(?:\btx[\s_-]*(?:id|hash)?\b|\btxn\b|\bhash\b|transaction(?:\s*(?:id|hash|no\.?|number))?|signature"
    r"|交易(?:哈希|雜湊|杂凑|id|编号|編號|号|號|hash)|哈希|雜湊|区块浏览器|區塊瀏覽器|explorer"
    r"|deposit|withdraw|transfer|充值|充币|充幣|提现|提現|提币|提幣|转账|轉賬|轉帳|入金|出金)",
    re.IGNORECASE,
)
_LABEL_REACH = 60

_HEX64_0X = re.compile(r"(?<![0-9A-Za-z])0x[0-9a-fA-F]{64}(?![0-9A-Za-z])")
_HEX64 = re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{64}(?![0-9A-Za-z])")
_B58_LONG = re.compile(rf"(?<![0-9A-Za-z])[{_B58}]{{80,90}}(?![0-9A-Za-z])")
_ETH_ADDR = re.compile(r"(?<![0-9A-Za-z])0x[0-9a-fA-F]{40}(?![0-9A-Za-z])")
_BTC_B58 = re.compile(rf"(?<![0-9A-Za-z])[13][{_B58}]{{25,34}}(?![0-9A-Za-z])")
_BECH32 = re.compile(r"(?<![0-9A-Za-z])(?:bc1[02-9ac-hj-np-z]{8,87}|BC1[02-9AC-HJ-NP-Z]{8,87})(?![0-9A-Za-z])")
_TRON = re.compile(rf"(?<![0-9A-Za-z])T[{_B58}]{{33}}(?![0-9A-Za-z])")
_XRP = re.compile(rf"(?<![0-9A-Za-z])r[{_XRP_CHARS}]{{24,34}}(?![0-9A-Za-z])")
_SOL = re.compile(rf"(?<![0-9A-Za-z])[{_B58}]{{32,44}}(?![0-9A-Za-z])")

# amounts -------------------------------------------------------------------
_CURRENCIES: dict[str, str] = {
    "usdt": "USDT", "u": "USDT", "泰达币": "USDT", "泰達幣": "USDT", "usdc": "USDC", "btc": "BTC", "eth": "ETH",
    "trx": "TRX", "sol": "SOL", "xrp": "XRP", "bnb": "BNB", "ltc": "LTC", "doge": "DOGE", "dai": "DAI",
    "比特币": "BTC", "比特幣": "BTC", "以太坊": "ETH", "以太币": "ETH", "以太幣": "ETH",
    "cny": "CNY", "rmb": "CNY", "元": "CNY", "块": "CNY", "塊": "CNY", "人民币": "CNY", "人民幣": "CNY",
    "usd": "USD", "美元": "USD", "美金": "USD", "hkd": "HKD", "港币": "HKD", "港幣": "HKD", "港元": "HKD",
    "twd": "TWD", "新台币": "TWD", "新台幣": "TWD", "台币": "TWD", "台幣": "TWD", "eur": "EUR", "欧元": "EUR",
    "歐元": "EUR", "sgd": "SGD", "jpy": "JPY", "日元": "JPY", "gbp": "GBP",
}
_SYMBOLS = {"¥": "CNY", "￥": "CNY", "$": "USD", "US$": "USD", "HK$": "HKD", "NT$": "TWD", "€": "EUR", "£": "GBP",
            "RMB": "CNY", "CNY": "CNY", "USD": "USD", "USDT": "USDT", "HKD": "HKD", "TWD": "TWD", "EUR": "EUR"}
_MULT = {"万": 10_000, "萬": 10_000, "w": 10_000, "千": 1_000, "k": 1_000, "亿": 100_000_000, "億": 100_000_000,
         "m": 1_000_000, "百万": 1_000_000, "百萬": 1_000_000}
_NUM = r"\d{1,3}(?:[,，]\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_CUR_ALT = "|".join(sorted(map(re.escape, _CURRENCIES), key=len, reverse=True))
_AMOUNT_AFTER = re.compile(
    rf"(?<![0-9A-Za-z.-])(?<!\d,)(?P<num>{_NUM})\s?(?P<mult>百万|百萬|[万萬千亿億]|[kKwWmM](?=\s?(?:{_CUR_ALT})))?\s?"
    rf"(?P<cur>{_CUR_ALT})(?![A-Za-z])",
    re.IGNORECASE,
)
_SYM_ALT = "|".join(sorted(map(re.escape, _SYMBOLS), key=len, reverse=True))
_AMOUNT_BEFORE = re.compile(
    rf"(?<![A-Za-z])(?P<cur>{_SYM_ALT})\s?(?P<num>{_NUM})(?:\s?(?P<mult>百万|百萬|[万萬千亿億]))?(?![\d.,]*\d)",
)

# orders, dates, case ids ---------------------------------------------------
_ORDER = re.compile(
    r"(?:\border\s*(?:no\.?|number|id|#)?|订单号?|訂單號?|订单编号|訂單編號|委托单号|委託單號|单号|單號)"
    r"\s*(?:is\s+)?[:：#]?\s*(?P<v>[A-Za-z0-9][A-Za-z0-9-]{5,39})(?![A-Za-z0-9-])",
    re.IGNORECASE,
)
_DATE = re.compile(
    r"""(?<!\d)(?:
        \d{4}\s?[-/.年]\s?\d{1,2}\s?[-/.月]\s?\d{1,2}\s?日?
      | \d{1,2}\s?月\s?\d{1,2}\s?[日号號]
      | (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]{0,6}\.?\s\d{1,2}(?:st|nd|rd|th)?(?:,?\s\d{4})?
      | \d{1,2}(?:st|nd|rd|th)?\s(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]{0,6}\.?(?:,?\s\d{4})?
    )(?:(?:[\sT,]{0,2}|\s(?:at|about|around)\s)(?:(?:上午|下午|晚上|凌晨|早上|中午)\s?)?
        (?:\d{1,2}[:：]\d{2}(?:[:：]\d{2})?(?:\s?(?:(?:[AaPp][Mm]\b|[AaPp]\.[Mm]\.)|UTC(?:[+-]\d{1,2})?))?|\d{1,2}\s?[点點](?:\d{1,2}分|半)?))?
    | (?<![\d:])(?:(?:上午|下午|晚上|凌晨|早上|中午)\s?)?\d{1,2}:\d{2}(?::\d{2})?(?:\s?(?:(?:[AaPp][Mm]\b|[AaPp]\.[Mm]\.)|UTC(?:[+-]\d{1,2})?))?(?![\d:])
    | (?:上午|下午|晚上|凌晨|早上|中午)\s?\d{1,2}\s?[点點](?:\d{1,2}分|半)?
    """,
    re.VERBOSE,
)
# Where a date can start: the first character of a digit run (every digit branch
# is behind "(?<!\d)"), a month name, or a Chinese time-of-day word.
_DATE_STARTS = re.compile(r"\d+|Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec|上午|下午|晚上|凌晨|早上|中午")


def _scan(rx: re.Pattern[str], starts: re.Pattern[str], text: str) -> list[re.Match[str]]:
    """`rx.finditer(text)`, trying `rx` only where `starts` says a match can begin.

    Why: a pattern that opens with a look-behind gets no first-character
    scan from the regex engine, which then tries every branch at every
    position; the checks' time per message is budgeted (issue 13: at most
    10 % of the fast path).  Same matches as finditer, as long as `starts`
    finds every position where `rx` can match (and `rx` never matches empty).
    """
    out: list[re.Match[str]] = []
    end = 0
    for c in starts.finditer(text):
        pos = c.start()
        if pos < end:
            continue
        m = rx.match(text, pos)
        if m:
            out.append(m)
            end = m.end()
    return out


_CASE = re.compile(r"(?:\bcase|工单|工單|案件|个案|個案)\s*(?:id|no\.?|number|编号|編號|号|號)?\s*[:：]?\s*#\s?(?P<v>[0-9A-HJKMNP-TV-Z]{8})(?![0-9A-Za-z])",
                   re.IGNORECASE)
_UID_LABEL = r"(?:(?<![A-Za-z])uid|user\s*id|account\s*(?:id|number|no\.?)|用户\s*id|用戶\s*id|用户编号|用戶編號|账户id|賬戶id|帳戶id|账号|帳號|賬號)"

# Labelled kinds run only where their label words are (prefilter: the words every match needs).
_ORDER_GATED = gated(_ORDER)
_CASE_GATED = gated(_CASE)
_AMOUNT_BEFORE_GATED = gated(_AMOUNT_BEFORE)

_DIGIT = re.compile(r"\d")
_DIGIT_RUN = re.compile(r"\d+")  # an amount's number starts a digit run: "(?<![0-9A-Za-z.-])" before it
_LONG_TOKEN = re.compile(r"[0-9A-Za-z]{25}")  # shortest address (XRP, 25 chars) or hash
_RANK = {"address": 0, "txid": 1, "case_id": 2, "uid": 3, "order_id": 4, "amount": 5, "date": 6}


@dataclass(frozen=True)
class Entity:
    """One thing the team can look up, with where it was found in the text."""

    kind: str
    value: str
    start: int = -1
    end: int = -1
    chain: str | None = None
    family: str | None = None  # evm | hex | solana | bitcoin | tron | xrp
    currency: str | None = None
    checked: bool = True  # False: an all-lower EVM address, no EIP-55 checksum
    source: str = "text"  # subject | text | attached


# --- address checks ---------------------------------------------------------

def _b58check(s: str, alphabet: bytes = base58.BITCOIN_ALPHABET) -> bytes | None:
    try:
        return base58.b58decode_check(s, alphabet=alphabet)
    except ValueError:
        return None


def is_btc_base58(s: str) -> bool:
    """P2PKH (version 0x00) or P2SH (0x05) Base58Check, 20-byte hash."""
    raw = _b58check(s)
    return raw is not None and len(raw) == 21 and raw[0] in (0x00, 0x05)


def is_bech32(s: str) -> bool:
    """BIP-173 (v0, bech32) or BIP-350 (v1+, bech32m) mainnet segwit address."""
    try:
        bech32m.decode("bc", s.lower())
    except bech32m.DecodeError:
        return False
    return True


def is_tron(s: str) -> bool:
    raw = _b58check(s)
    return raw is not None and len(raw) == 21 and raw[0] == 0x41


def is_xrp(s: str) -> bool:
    raw = _b58check(s, base58.XRP_ALPHABET)
    return raw is not None and len(raw) == 21 and raw[0] == 0x00


def eip55(addr: str) -> str:
    """The EIP-55 checksummed spelling of a 0x address."""
    body = addr[2:].lower()
    digest = keccak(body.encode("ascii")).hex()
    return "0x" + "".join(c.upper() if int(d, 16) >= 8 else c for c, d in zip(body, digest[:40], strict=True))


def eth_checksum(addr: str) -> bool | None:
    """True: valid EIP-55; False: mixed case that fails; None: one case, nothing to check."""
    body = addr[2:]
    if body == body.lower() or body == body.upper():
        return None
    return eip55(addr) == addr


def _b58_len(s: str) -> int:
    try:
        return len(base58.b58decode(s))
    except ValueError:
        return -1


def is_solana(s: str) -> bool:
    """32 bytes of base58 with both letter cases and a digit (no checksum exists)."""
    return (any(c.isupper() for c in s) and any(c.islower() for c in s) and any(c.isdigit() for c in s)
            and _b58_len(s) == 32)


# --- context ----------------------------------------------------------------

def _before(text: str, start: int) -> str:
    line_start = text.rfind("\n", 0, start) + 1
    return text[max(line_start, start - _LABEL_REACH):start]


def _key_labelled(text: str, start: int) -> bool:
    return bool(_KEY_LABEL.search(_before(text, start)))


def _tx_context(text: str, start: int, end: int) -> bool:
    window = text[max(0, start - 200):start] + " " + text[end:end + 80]
    return bool(_TX_LABEL.search(window))


def _chain_near(low: str, start: int, end: int, family: str | None) -> str | None:
    """The chain named nearest before the value (same 150 chars), else the only one in the text."""
    best: tuple[int, str] | None = None
    window = low[max(0, start - 150):start]
    for rx, chain, fam in _CHAIN_RES:
        if family and fam != family:
            continue
        for m in rx.finditer(window):
            if best is None or m.start() > best[0]:
                best = (m.start(), chain)
    if best:
        return best[1]
    found = {chain for rx, chain, fam in _CHAIN_RES if (not family or fam == family) and rx.search(low)}
    return found.pop() if len(found) == 1 else None


# --- finders ----------------------------------------------------------------

def _addresses(text: str, low: str) -> list[Entity]:
    out: list[Entity] = []
    for m in _ETH_ADDR.finditer(text):
        ok = eth_checksum(m.group())
        if ok is False:
            continue
        out.append(Entity("address", m.group(), m.start(), m.end(), chain=_chain_near(low, m.start(), m.end(), "evm"),
                          family="evm", checked=ok is True))
    for rx, check, chain in ((_BTC_B58, is_btc_base58, "bitcoin"), (_BECH32, is_bech32, "bitcoin"),
                             (_TRON, is_tron, "tron"), (_XRP, is_xrp, "xrp"), (_SOL, is_solana, "solana")):
        for m in rx.finditer(text):
            if check(m.group()):
                out.append(Entity("address", m.group(), m.start(), m.end(), chain=chain, family=chain))
    return out


def _txids(text: str, low: str) -> list[Entity]:
    out: list[Entity] = []
    for m in _HEX64_0X.finditer(text):
        if not _key_labelled(text, m.start()):
            out.append(Entity("txid", m.group().lower(), m.start(), m.end(),
                              chain=_chain_near(low, m.start(), m.end(), "evm"), family="evm"))
    for m in _HEX64.finditer(text):
        if _key_labelled(text, m.start()) or not _tx_context(text, m.start(), m.end()):
            continue
        out.append(Entity("txid", m.group().lower(), m.start(), m.end(),
                          chain=_chain_near(low, m.start(), m.end(), "hex"), family="hex"))
    for m in _B58_LONG.finditer(text):
        if _key_labelled(text, m.start()) or not _tx_context(text, m.start(), m.end()):
            continue
        if _b58_len(m.group()) == 64:
            out.append(Entity("txid", m.group(), m.start(), m.end(), chain="solana", family="solana"))
    return out


def normalise_amount(num: str, mult: str | None, cur: str) -> tuple[str, str] | None:
    """("20000", "USDT") from ("2", "万", "U"); None when the number does not parse."""
    try:
        value = Decimal(num.replace(",", "").replace("，", ""))
    except InvalidOperation:
        return None
    if mult:
        value *= _MULT.get(mult.lower(), _MULT.get(mult, 1))
    code = _CURRENCIES.get(cur.lower()) or _SYMBOLS.get(cur.upper()) or _SYMBOLS.get(cur)
    if code is None:
        return None
    text = format(value.normalize(), "f")
    return text, code


def _amounts(text: str) -> list[Entity]:
    out: list[Entity] = []
    for m in (*_scan(_AMOUNT_AFTER, _DIGIT_RUN, text), *_AMOUNT_BEFORE_GATED.finditer(text)):
        cur = m.group("cur")
        if cur.lower() == "u" and not m.group("mult") and len(m.group("num")) < 2:
            continue  # "1u", "2 U": too thin to call an amount of USDT
        norm = normalise_amount(m.group("num"), m.group("mult"), cur)
        if norm:
            out.append(Entity("amount", norm[0], m.start(), m.end(), currency=norm[1]))
    return out


@cache
def _uid_regex(uid_pattern: str) -> re.Pattern[str]:
    return re.compile(rf"{_UID_LABEL}\s*(?:is\s+|为|為|是)?[:：#]?\s*(?P<v>{uid_pattern})(?![0-9A-Za-z])", re.IGNORECASE)


@cache
def _uid_gated(uid_pattern: str) -> tuple[re.Pattern[str], Filtered]:
    """The UID value alone (every match holds one: `[0-9]{8,10}` is one fast scan) and the labelled pattern."""
    return re.compile(uid_pattern, re.IGNORECASE), gated(_uid_regex(uid_pattern))


def _uids(text: str, uid_pattern: str, source: str) -> list[Entity]:
    value, rx = _uid_gated(uid_pattern)
    if not value.search(text):
        return []
    return [Entity("uid", m.group("v"), m.start("v"), m.end("v"), source=source) for m in rx.finditer(text)]


def _simple(text: str) -> list[Entity]:
    out = [Entity("order_id", m.group("v"), m.start("v"), m.end("v")) for m in _ORDER_GATED.finditer(text)
           if any(c.isdigit() for c in m.group("v"))]
    out += [Entity("case_id", m.group("v"), m.start("v"), m.end("v")) for m in _CASE_GATED.finditer(text)]
    out += [Entity("date", m.group().strip(), m.start(), m.end()) for m in _scan(_DATE, _DATE_STARTS, text)]
    return out


# --- public API -------------------------------------------------------------

def _overlaps(a: Entity, spans: Sequence[tuple[int, int]]) -> bool:
    return any(a.start < e and s < a.end for s, e in spans)


def _resolve(found: list[Entity]) -> list[Entity]:
    """Keep the more specific reading where two candidates overlap."""
    kept: list[Entity] = []
    for ent in sorted(found, key=lambda x: (_RANK[x.kind], x.start)):
        if not any(ent.start < k.end and k.start < ent.end for k in kept):
            kept.append(ent)
    return sorted(kept, key=lambda x: x.start)


def find(
    text: str,
    *,
    uid_pattern: str = DEFAULT_UID_PATTERN,
    redacted: Iterable[tuple[int, int] | str] = (),
    source: str = "text",
) -> list[Entity]:
    """Every entity in one text, in order of appearance.

    `redacted` holds what the secrets check found, as (start, end) spans of
    this text or as the secret strings themselves: nothing overlapping a span
    or equal to (or containing) a string is returned.
    """
    work = _halfwidth(text)
    if not _DIGIT.search(work):
        return []  # every kind holds a digit: most of a message's lines are skipped here
    found: list[Entity] = []
    if _LONG_TOKEN.search(work):
        low = work.lower()
        found += _addresses(work, low) + _txids(work, low)
    found += _amounts(work) + _uids(work, uid_pattern, source) + _simple(work)
    spans = [r for r in redacted if isinstance(r, tuple)]
    strings = [r for r in redacted if isinstance(r, str) and r]
    out = []
    for ent in _resolve(found):
        if _overlaps(ent, spans) or any(ent.value in s or (len(s) >= 32 and s in ent.value) for s in strings):
            continue
        out.append(Entity(ent.kind, ent.value, ent.start, ent.end, ent.chain, ent.family, ent.currency, ent.checked, source))
    return out


def extract(
    subject: str,
    texts: Sequence[str],
    *,
    uid_pattern: str = DEFAULT_UID_PATTERN,
    redacted: Iterable[str] = (),
    redacted_spans: Sequence[Sequence[tuple[int, int]]] = (),
) -> list[Entity]:
    """Entities of a message: the subject first, then each text (own words, forwards, attached).

    The subject's UID needs no label when the subject follows SPEC 3
    (`<type>-UID<digits>`), which the `UID` label already covers.
    `redacted_spans[i]` are the secrets check's spans in `texts[i]`.  Entities
    of `texts[0]` (the body) get source "text", of later texts "attached".
    """
    strings = list(redacted)
    out = find(subject, uid_pattern=uid_pattern, redacted=strings, source="subject")
    for i, text in enumerate(texts):
        spans: list[tuple[int, int] | str] = list(redacted_spans[i]) if i < len(redacted_spans) else []
        out += find(text, uid_pattern=uid_pattern, redacted=[*spans, *strings], source="text" if i == 0 else "attached")
    return out


def _key(e: Entity) -> tuple[str, str]:
    return e.kind, e.value.lower() if e.kind in ("txid",) or e.family == "evm" else e.value


def to_record(entities: Sequence[Entity]) -> dict[str, list[Any]]:
    """The SPEC 8 `entities` object: kinds with at least one value, duplicates dropped, order kept."""
    out: dict[str, list[Any]] = {}
    seen: set[tuple[str, str]] = set()
    for e in entities:
        if _key(e) in seen:
            continue
        seen.add(_key(e))
        item: Any
        if e.kind in ("txid", "address"):
            item = {"value": e.value, "chain": e.chain}
            if not e.checked:
                item["checked"] = False
        elif e.kind == "amount":
            item = {"value": e.value, "currency": e.currency}
        else:
            item = e.value
        out.setdefault(e.kind, []).append(item)
    return out


HEADER = "X-Router-Entities"


def header_value(entities: Sequence[Entity]) -> str:
    """The machine-readable header: the SPEC 8 `entities` object as compact ASCII JSON.

    ASCII-only (RFC 5322 section 2.2) so no encoded-word is needed; the
    email package folds it (section 2.2.3) when it is long.
    """
    return json.dumps(to_record(entities), ensure_ascii=True, separators=(",", ":"))


def explorer_link(e: Entity, templates: Mapping[str, Mapping[str, str]]) -> str | None:
    """The block-explorer URL for a txid or address from per-chain templates.

    `templates` is like ``{"ethereum": {"tx": "https://etherscan.io/tx/{value}",
    "address": "https://etherscan.io/address/{value}"}}``; the family ("evm")
    is the fallback key when the chain is not known.
    """
    if e.kind not in ("txid", "address"):
        return None
    kind = "tx" if e.kind == "txid" else "address"
    for key in (e.chain, e.family):
        if key and key in templates and kind in templates[key]:
            return templates[key][kind].replace("{value}", e.value)
    return None


def forward_block(entities: Sequence[Entity], templates: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """The short block put at the top of the forward's text (one line per entity)."""
    labels = {"uid": "UID", "txid": "TxID", "address": "Address", "amount": "Amount", "order_id": "Order",
              "date": "Date", "case_id": "Case"}
    lines: list[str] = []
    seen: set[tuple[str, str]] = set()
    for e in entities:
        if _key(e) in seen:
            continue
        seen.add(_key(e))
        value = f"{e.value} {e.currency}" if e.kind == "amount" else e.value
        extra = f" ({e.chain})" if e.chain else ""
        if e.kind == "address" and not e.checked:
            extra += " (no EIP-55 checksum)"
        link = explorer_link(e, templates or {})
        lines.append(f"{labels[e.kind]}: {value}{extra}" + (f"\n  {link}" if link else ""))
    return "\n".join(lines)
