"""Secrets customers paste into support mail (SPEC 5): find them, redact them.

Why this exists: a mail holding a password, a 2FA code, a private key, a seed
phrase or an API secret must be routed to `security`, and the copy we forward,
log or learn from must not hold the value.  So every hit's span covers only
the secret *value* (never its label), and `redact` swaps that span for
`[REDACTED:<kind>]`.

Design choices, because false alarms cost too (every hit makes the mail a
security case):

* Labels decide most kinds.  A password, OTP or API secret is only a value
  that follows its label ("password:", "验证码", "API密钥" ...), so prose like
  "I forgot my password" or "验证码收不到" has nothing to flag.
* 64 hex characters are treated as a private key unless the context says
  transaction hash (TxID, hash, 交易哈希, explorer links, deposit talk).
* Seed phrases are runs of BIP-39 words separated only by spaces, commas or
  numbering.  Unlabelled runs need a valid BIP-39 checksum; labelled ones
  ("seed phrase:", "助记词") are flagged without one, since customers mistype.
* Every pattern is linear: bounded or possessive quantifiers after a literal
  label, and look-behinds that stop a pattern from restarting inside a token.

Nothing here logs or prints; the functions are pure apart from loading the
BIP-39 word lists (once, lazily) from the `mnemonic` package.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterator, Sequence
from functools import cache

from router.records import SecretHit

KINDS = ("password", "otp", "private_key", "seed_phrase", "api_secret")

# Lower rank wins when two candidate spans overlap: the more specific reading.
_R_SEED, _R_KEY, _R_API, _R_HEX, _R_OTP, _R_PASSWORD = range(6)

_SIZES = (24, 21, 18, 15, 12)  # BIP-39 phrase lengths, longest first
_LABEL_REACH = 120  # a label counts for a value starting this many chars later
_MAX_GAP = 16  # longest separator allowed between two words of a phrase

# ---------------------------------------------------------------------------
# passwords

_PASSWORD = re.compile(
    r"""
    (?:
        \b(?P<en>pass[_-]?word|passwd|pwd|pass[_-]?phrase)\b
      | \b(?P<short>pass|pin)\b
      | (?P<zh>密码|密碼|口令)
    )
    (?P<sep>\s*+(?:(?:is\b|was\b|[:：=]|是|为|為)\s*+)*+)
    \\?["'“‘「『]?
    # printable ASCII but " and \, so a value ends where a (JSON) string does
    (?P<val>[!#-\[\]-~]{4,64}+)(?![!#-\[\]-~])
    """,
    re.IGNORECASE | re.VERBOSE,
)
_STRONG_SEP = re.compile(r"[:：=]")
_VERBAL_SEP = re.compile(r"is|was|是|为|為", re.IGNORECASE)
_TRAIL = ".,;:。，；：、'”’」』)）]"
_LEAD = "'“‘「『([（"
_SYMBOL = re.compile(r"[!#$%&*+\-/<=>?@^_~|\\]")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
# The subject convention's account reference (SPEC 3: "忘记密码-UID12345678"):
# after a type that ends in "password" it is the customer's UID, not a password.
# (A value is printable ASCII without spaces, so the pattern needs nothing else.)
_UID_REF = re.compile(r"[-_~:#]*UID[-_:#]?\d{4,}", re.IGNORECASE)
_DATE = re.compile(r"\d{2,4}[-/.]\d{1,2}[-/.]\d{1,4}|\d{1,2}:\d{2}(?::\d{2})?")
# Words that follow "password:" in ordinary talk about a password.
_NOT_PASSWORDS = frozenset(
    """reset change changed changing forgot forgotten forget incorrect invalid
    wrong expired required locked blocked correct updated update updating manager
    protected recovery recover strength policy field hint below above attached
    same hidden redacted removed unknown none null empty missing needed please
    sent enabled disabled lost stolen compromised leaked requirements rules
    problem problems issue issues error failed failure""".split()
)


def _password_value(val: str, sep: str, short: bool, chinese: bool) -> bool:
    """Is `val` after a password label plausibly the password itself?"""
    if len(val) < 4 or "REDACTED" in val or "://" in val:
        return False
    if not any(c.isalnum() for c in val) or set(val) <= set("*•·xX#._-"):
        return False  # masked ("******") or punctuation only
    if _DATE.fullmatch(val) or _EMAIL.fullmatch(val):
        return False  # "Password: see email" forms list the login next to it
    if _UID_REF.fullmatch(val):
        return False
    strong = bool(_STRONG_SEP.search(sep))
    verbal = bool(_VERBAL_SEP.search(sep))
    if short and not strong:
        return False  # bare "pass" / "pin" is too common a word without ":" or "="
    has_digit = any(c.isdigit() for c in val)
    has_alpha = any(c.isalpha() for c in val)
    has_symbol = bool(_SYMBOL.search(val))
    inner_upper = any(c.isupper() for c in val[1:]) and any(c.islower() for c in val)
    if not (strong or verbal):
        return has_digit and has_alpha  # "password Hunter22" but not "password reset"
    if has_digit or has_symbol or inner_upper:
        return True
    if strong or chinese:  # "password: sunshine", "密码是 sunshine"
        return len(val) >= 6 and val.lower() not in _NOT_PASSWORDS
    return False  # "my password is wrong"


def _passwords(text: str, out: list[tuple[int, int, int, str]]) -> None:
    for m in _PASSWORD.finditer(text):
        if m["val"][-1] in ":：":
            continue  # "Password: Username:" - a form's next label, not a value
        start, end = _trim(text, m.start("val"), m.end("val"))
        if _password_value(text[start:end], m["sep"], m["short"] is not None, m["zh"] is not None):
            out.append((_R_PASSWORD, start, end, "password"))


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop quotes and sentence punctuation around a value."""
    while start < end and text[start] in _LEAD:
        start += 1
    while end > start and text[end - 1] in _TRAIL:
        end -= 1
    return start, end


# ---------------------------------------------------------------------------
# one-time codes

_OTP = re.compile(
    r"""
    (?:
        \b(?:
            (?:verification|verify|confirmation|security|auth|authentication|authenticator
              |2fa|2-fa|two[\s-]*factor|mfa|sms|e-?mail|google|ga|login|withdrawal
              |otp|totp|one[\s-]*time|dynamic)[\s-]*(?:code|pin|passcode)s?
          | (?:otp|totp|2fa|2-fa|mfa|passcode|google[\s-]*authenticator(?:[\s-]*app)?|google[\s-]*auth
              |authenticator(?:[\s-]*app)?|one[\s-]*time[\s-]*password)(?:[\s-]*(?:code|pin)s?)?
          # the same labels in Spanish/Portuguese, French, Italian, German, Russian, Vietnamese, Indonesian, Turkish
          | c[oó]digo\s+(?:de\s+)?(?:verificaci[oó]n|verifica[cç][aã]o|seguridad|seguran[cç]a|autenticaci[oó]n
              |autentica[cç][aã]o|confirmaci[oó]n|confirma[cç][aã]o|google|2fa|sms)
          | code\s+(?:de\s+)?(?:v[ée]rification|s[ée]curit[ée]|confirmation|google|2fa|sms)
          | codice\s+(?:di\s+)?(?:verifica|sicurezza|conferma)
          | (?:best[äa]tigungs|sicherheits|verifizierungs|authentifizierungs|authenticator|einmal)[\s-]?code
          | код(?:\s+(?:подтверждения|верификации|безопасности|проверки|из\s+(?:sms|смс)|google|2fa))
          | (?:проверочный|одноразовый)\s+код
          | mã\s+(?:xác\s+(?:minh|nhận|thực)|otp|bảo\s+mật)|kode\s+(?:verifikasi|otp)|doğrulama\s+kodu
        )\b
      | (?:验证码|驗證碼|验证代码|驗證代碼|校验码|校驗碼|动态码|動態碼|动态密码|動態密碼
          |安全码|安全碼|认证码|認證碼|授权码|授權碼|确认码|確認碼|二次验证码|二次驗證碼
          |谷歌验证器|谷歌驗證器|谷歌验证|谷歌驗證|身份验证器|身份驗證器|2fa码|2fa碼
          |認証コード|確認コード|ワンタイムパスワード|セキュリティコード|인증\s*번호|인증\s*코드|보안\s*코드)
        (?:的?(?:代码|代碼|码|碼|动态码|動態碼))?
    )
    (?P<sep>(?:\s*+(?:is\b|was\b|shows?\b|showed\b|displays?\b|says\b|reads\b
        |上?显示的?|上?顯示的?|上的码|上的碼|是|为|為|[:：=\#\-]))*+\s*+)
    ["'“‘(（\[【「]?
    (?P<val>\d{3,4}[ \-]\d{3,4}|\d{4,8})
    (?![ \-]?\d)(?![.,:/]\d)
    (?!\s*+(?:年|月|日|号|號|元|块|塊|次|个|個|天|分钟|分鐘|秒|小时|小時|%|％
        |(?:usdt|usdc|usd|btc|eth|cny|rmb|hkd|twd|days?|hours?|minutes?|mins?
          |seconds?|secs?|times)\b))  # an amount or a duration, not a code
    """,
    re.IGNORECASE | re.VERBOSE,
)


def _otps(text: str, out: list[tuple[int, int, int, str]]) -> None:
    for m in _OTP.finditer(text):
        if m["sep"] in ("-", "#"):
            continue  # "2FA-0320-5531", "OTP#1234": a ticket or reference number
        out.append((_R_OTP, m.start("val"), m.end("val"), "otp"))


# ---------------------------------------------------------------------------
# API secrets

_API = re.compile(
    r"""
    (?:
        \b(?:api[\s_-]*+(?:secret|private)(?:[\s_-]*+key)?|secret[\s_-]*+(?:api[\s_-]*+)?key
            |api[\s_-]*+key|apikey|access[\s_-]*+(?:key[\s_-]*+)?secret|client[\s_-]*+secret
            |x-mbx-apikey)\b
      | (?P<gen>\bsecret\b)
      | (?:api[\s_-]*+)?(?:密钥|密鑰|秘钥|秘鑰|金鑰|金钥)
    )
    (?P<sep>\s*+["'”]?\s*+(?:(?:is\b|[:：=]|是|为|為)\s*+)*+)
    ["'“‘]?
    (?P<val>[A-Za-z0-9+/=_\-]{20,128}+)(?![A-Za-z0-9+/=_\-])
    """,
    re.IGNORECASE | re.VERBOSE,
)


def _api_secrets(text: str, out: list[tuple[int, int, int, str]]) -> None:
    for m in _API.finditer(text):
        val = m["val"]
        if m["gen"] is not None and not _STRONG_SEP.search(m["sep"]):
            continue  # bare "secret" needs "secret: ..." or "secret=..."
        if any(c.isdigit() for c in val) and any(c.isalpha() for c in val):
            out.append((_R_API, m.start("val"), m.end("val"), "api_secret"))


# ---------------------------------------------------------------------------
# private keys

_HEX64 = re.compile(r"(?<![0-9A-Za-z_])(?:0[xX])?[0-9a-fA-F]{64}(?![0-9A-Za-z_])")
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}
_WIF = re.compile(r"(?<![0-9A-Za-z])[5KL][1-9A-HJ-NP-Za-km-z]{50,51}+(?![0-9A-Za-z])")
_XPRV = re.compile(
    r"(?<![0-9A-Za-z])(?:[xtyzuv]prv|[YZUV]prv)[1-9A-HJ-NP-Za-km-z]{60,120}+(?![0-9A-Za-z])"
)
_KEY_LABEL = re.compile(
    r"private[\s_-]*key|priv[\s_-]*key|\bwif\b|私钥|私鑰|钱包密钥|錢包密鑰", re.IGNORECASE
)
_LABELLED_KEY = re.compile(
    r"""
    (?:private[\s_-]*key|privkey|私钥|私鑰)
    (?P<sep>\s*+["'”]?\s*+(?:(?:is\b|[:：=]|是|为|為)\s*+)++)
    ["'“‘]?
    (?P<val>[0-9A-Za-z+/=_\-]{32,200}+)(?![0-9A-Za-z+/=_\-])
    """,
    re.IGNORECASE | re.VERBOSE,
)
# Labels and places that make 64 hex a transaction (or block) hash.
_TX_LABEL = re.compile(
    r"\btx(?:n|s|id|ids)?\b|tx[\s_-]*(?:id|hash)|hash|\btransactions?\b"
    r"|哈希|雜湊|杂凑|交易\s*id|交易编号|交易編號|交易号|交易號|交易单号|交易單號"
    r"|区块链浏览器|區塊鏈瀏覽器|浏览器|瀏覽器|explorer|etherscan|bscscan|tronscan|polygonscan"
    r"|arbiscan|solscan|blockchair|mempool\.space|blockstream|/tx/|/txs/|/transaction/"
    # "transaction" and "hash" in the other languages customers write in (de, es, pt, fr, it, nl, pl,
    # tr, id, ru, ja, ko, vi, th); "transaction" alone already marks an unlabelled hex as public.
    r"|transaktion|transacci[oó]n|transa[cç][aã]o|transazione|transactie|transakcj|transaksi|işlem"
    r"|транзакци|хеш|хэш|トランザクション|取引\s*(?:id|ハッシュ)|ハッシュ|트랜잭션|거래\s*(?:id|해시|번호)|해시"
    r"|giao\s+dịch|mã\s+băm|ธุรกรรม",
    re.IGNORECASE,
)
# Talk that makes an unlabelled 64 hex most likely public: a transaction hash,
# or an address (Aptos and Sui addresses are 64 hex).  An explicit private-key
# label still wins over these.
_TX_CONTEXT = re.compile(
    r"deposit|withdraw|transfer|sent\b|confirmation|\bblock\b|on[\s-]*chain"
    r"|address|\baddr\b|public[\s_-]*key|pub[\s_-]*key|地址|公钥|公鑰"
    r"|充值|充币|充幣|提现|提現|提币|提幣|转账|轉賬|轉帳|到账|到帳|区块|區塊|链上|鏈上",
    re.IGNORECASE,
)


def _last_end(pattern: re.Pattern[str], window: str) -> int:
    """End of the last match of `pattern` in `window`, or -1."""
    last = -1
    for m in pattern.finditer(window):
        last = m.end()
    return last


def _line_end(text: str, pos: int, reach: int) -> int:
    """End of the look-ahead window: `reach` chars, or the end of the line."""
    stop = min(len(text), pos + reach)
    nl = text.find("\n", pos, stop)
    return stop if nl < 0 else nl


def _in_url(text: str, start: int) -> bool:
    """Is the position inside a URL-like token (explorer links and the like)?"""
    i = start
    floor = max(0, start - 300)
    while i > floor and not text[i - 1].isspace():
        i -= 1
    token = text[i:start]
    return "://" in token or token.lower().startswith("www.")


_SENTENCE_END = re.compile(r"[.!?](?:\s|$)|[。！？]|\n\s*\n")
_SENTENCE_REACH = 400


def _labelled_in_sentence(text: str, start: int) -> bool:
    """A tx label earlier in the same sentence, however long ("The TxID my wallet showed ... is: <hex>")."""
    lo = max(0, start - _SENTENCE_REACH)
    window = text[lo:start]
    cut = _last_end(_SENTENCE_END, window)
    sentence = window[max(cut, 0) :]
    return bool(_TX_LABEL.search(sentence)) and not _KEY_LABEL.search(sentence)


def _hex_keys(text: str, out: list[tuple[int, int, int, str]]) -> None:
    """64 hex chars: a private key unless labelled or placed as a tx hash."""
    tx_hex_ends: list[int] = []  # earlier hashes label the ones listed after them
    for m in _HEX64.finditer(text):
        start, end = m.span()
        lo = max(0, start - _LABEL_REACH)
        window = text[lo:start]
        key_at = _last_end(_KEY_LABEL, window)
        tx_at = _last_end(_TX_LABEL, window)
        if tx_hex_ends and tx_hex_ends[-1] >= lo:
            tx_at = max(tx_at, tx_hex_ends[-1] - lo)
        if key_at >= 0 and key_at > tx_at:
            out.append((_R_KEY, start, end, "private_key"))
        elif (
            tx_at >= 0
            or _TX_LABEL.search(text, end, _line_end(text, end, 40))
            or _in_url(text, start)
            or _TX_CONTEXT.search(window)
            or _labelled_in_sentence(text, start)
        ):
            tx_hex_ends.append(end)
        else:
            out.append((_R_HEX, start, end, "private_key"))


def _b58check_payload(s: str) -> bytes | None:
    """Decode base58check; None when the 4-byte checksum does not match."""
    n = 0
    for ch in s:
        n = n * 58 + _B58_INDEX[ch]
    pad = len(s) - len(s.lstrip("1"))
    raw = b"\0" * pad + n.to_bytes((n.bit_length() + 7) // 8, "big")
    if len(raw) < 5:
        return None
    payload, check = raw[:-4], raw[-4:]
    if hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] != check:
        return None
    return payload


def _is_wif(s: str) -> bool:
    """A mainnet WIF private key with a valid checksum."""
    payload = _b58check_payload(s)
    if payload is None or payload[0] != 0x80:
        return False
    return len(payload) == 33 or (len(payload) == 34 and payload[-1] == 0x01)


def _other_keys(text: str, out: list[tuple[int, int, int, str]]) -> None:
    for m in _XPRV.finditer(text):
        out.append((_R_KEY, m.start(), m.end(), "private_key"))
    for m in _WIF.finditer(text):
        start, end = m.span()
        window = text[max(0, start - _LABEL_REACH) : start]
        labelled = _last_end(_KEY_LABEL, window) > _last_end(_TX_LABEL, window)
        if labelled or _is_wif(m.group()):
            out.append((_R_KEY, start, end, "private_key"))
    for m in _LABELLED_KEY.finditer(text):
        val = m["val"]
        if any(c.isdigit() for c in val) and any(c.isalpha() for c in val):
            out.append((_R_KEY, m.start("val"), m.end("val"), "private_key"))


# ---------------------------------------------------------------------------
# seed phrases

_SEED_LABEL = re.compile(
    r"""
    (?:
        \b(?:seed(?:[\s-]*+(?:phrase|words?))?|mnemonic(?:[\s-]*+(?:phrase|words?|code))?
            |recovery[\s-]*+(?:phrase|words?|seed)|secret[\s-]*+(?:recovery[\s-]*+)?phrase
            |backup[\s-]*+(?:phrase|words?|seed)|wallet[\s-]*+words?|private[\s-]*+key
            |(?:12|15|18|21|24|twelve|twenty[\s-]*+four)[\s-]*+words?)\b
      | 助记词|助記詞|助记|助記|私钥|私鑰|种子|種子|恢复短语|恢復短語|恢复词|恢復詞
      | 备份词|備份詞|钱包单词|錢包單詞|(?:12|24)\s*个?(?:单词|單詞|词|詞)
    )
    (?P<sep>(?:\s*+(?:is\b|are\b|was\b|were\b|as\s+follows|below|是|为|為|如下|分别是|分別是|[:：=\-]))*+)
    """,
    re.IGNORECASE | re.VERBOSE,
)
# A word; a JSON escape before it ("abandon\\nability" in a log line) is not.
_EN_WORD = re.compile(r"(?:\\[nrt])?([A-Za-z]+)")
_CJK_CHAR = re.compile(r"[\u4e00-\u9fff]")
# What may stand between two words of a phrase: spaces, commas, numbering,
# the ">" of a quoted reply, and JSON-escaped line breaks.
_GAP = re.compile(
    r"(?:[\s,，、;；|/>\-]|\\[nrt])*+"
    r"(?:[(（\[#]?\d{1,2}(?:[.)）\]:：、\-]|\s)(?:[\s,，、;；|]|\\[nrt])*+)?"
)
# What may stand between a line's edge and an unlabelled, unspaced Chinese
# phrase: spaces, quotes, and ">" of quoted mail.
_LINE_EDGE = frozenset(" \t\r\u3000>\"'“”‘’「」『』")
# What may stand between a Chinese label and the unspaced phrase it introduces.
_LABEL_GAP = re.compile(r"[\s:：=\"'“”‘’「」『』(（\[【]*")


@cache
def _wordlists() -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """BIP-39 word -> index for English, Simplified and Traditional Chinese."""
    from mnemonic import Mnemonic

    english, simplified, traditional = (
        {w: i for i, w in enumerate(Mnemonic(lang).wordlist)}
        for lang in ("english", "chinese_simplified", "chinese_traditional")
    )
    return english, simplified, traditional


def _checksum_ok(acc: int, words: int) -> bool:
    """BIP-39: the last words*11/33 bits are the head of SHA-256(entropy)."""
    cs = words * 11 // 33
    entropy = (acc >> cs).to_bytes(cs * 4, "big")
    return hashlib.sha256(entropy).digest()[0] >> (8 - cs) == acc & ((1 << cs) - 1)


def _valid_windows(idx: Sequence[int]) -> list[tuple[int, int]]:
    """Non-overlapping [i, j) windows of `idx` that are checksum-valid phrases.

    Longest sizes are claimed first so a 24-word phrase is not cut into a
    12-word window that happens to be valid plus a leaked remainder.  A
    rolling accumulator keeps this linear in the run length.
    """
    taken: list[tuple[int, int]] = []
    n = len(idx)
    covered = bytearray(n)
    for size in _SIZES:
        if n < size:
            continue
        mask = (1 << (11 * size)) - 1
        cs = size * 11 // 33  # checksum bits
        cs_mask, nbytes, drop = (1 << cs) - 1, cs * 4, 8 - cs
        sha256 = hashlib.sha256
        acc, last = 0, -1
        for j in range(size - 1):
            acc = (acc << 11) | idx[j]
        for i in range(n - size + 1):
            acc = ((acc << 11) | idx[i + size - 1]) & mask
            # earlier windows are at least as long, so any overlap covers an end
            if covered[i] or covered[i + size - 1] or acc == last:
                continue  # (acc == last: a repeated word, already found invalid)
            last = acc
            if sha256((acc >> cs).to_bytes(nbytes, "big")).digest()[0] >> drop == acc & cs_mask:
                taken.append((i, i + size))
                covered[i : i + size] = b"\1" * size
    return sorted(taken)


class _Labels:
    """Seed-phrase labels of one text; each label vouches for one phrase."""

    def __init__(self, text: str) -> None:
        matches = list(_SEED_LABEL.finditer(text))
        self.starts = [m.start() for m in matches]
        self.ends = [m.end() for m in matches]
        self.has_sep = [bool(m["sep"]) for m in matches]
        self.used: set[int] = set()

    def introduces(self, k: int, text: str, pos: int) -> bool:
        """Does label k directly introduce what starts at `pos`?

        "助记词：的三欧..." or "助记词是..." does; "...或私钥。请..." does not.
        Needed for unspaced Chinese, where almost any prose is list characters.
        """
        gap = text[self.ends[k] : pos]
        # Whitespace alone is not an introduction: "我把 seed 打在下面..." is prose.
        return bool((gap.strip() or self.has_sep[k]) and _LABEL_GAP.fullmatch(gap))

    def before(self, pos: int) -> int | None:
        """Latest unused label ending within reach before `pos`."""
        k = bisect_right(self.ends, pos) - 1
        while k >= 0 and self.ends[k] >= pos - _LABEL_REACH:
            if k not in self.used:
                return k
            k -= 1
        return None

    def inside(self, lo: int, hi: int) -> int | None:
        """First unused label starting in [lo, hi]."""
        k = bisect_left(self.starts, lo)
        while k < len(self.starts) and self.starts[k] <= hi:
            if k not in self.used:
                return k
            k += 1
        return None


def _segments(
    text: str, tokens: list[tuple[int, int, str]], index: dict[str, int]
) -> Iterator[tuple[list[tuple[int, int, int]], bool]]:
    """Runs of word-list tokens joined by allowed gaps, split where the gap style
    changes between none ("的三欧") and some ("的 三 欧").

    Yields (tokens_of_segment, spaced) with tokens as (start, end, index).
    """
    run: list[tuple[int, int, int]] = []
    styles: list[bool] = []  # styles[k]: gap before run[k+1] is non-empty
    prev_end = -1
    for start, end, word in tokens:
        i = index.get(word)
        if i is not None and run:
            gap = text[prev_end:start]
            if gap == " " or not gap or (len(gap) <= _MAX_GAP and _GAP.fullmatch(gap)):
                run.append((start, end, i))
                styles.append(bool(gap))
                prev_end = end
                continue
        if run:
            yield from _split_styles(run, styles)
        run, styles = ([(start, end, i)], []) if i is not None else ([], [])
        prev_end = end
    if run:
        yield from _split_styles(run, styles)


def _split_styles(
    run: list[tuple[int, int, int]], styles: list[bool]
) -> Iterator[tuple[list[tuple[int, int, int]], bool]]:
    """Cut a run where its gap style changes; keep parts of 12+ words."""
    if len(run) < 12:
        return
    a = 0
    for k in range(1, len(styles)):
        if styles[k] != styles[k - 1]:
            if k + 1 - a >= 12:
                yield run[a : k + 1], styles[k - 1]
            a = k  # the boundary token belongs to both segments
    if len(run) - a >= 12:
        yield run[a:], styles[-1] if styles else True


def _seed_pass(
    text: str,
    labels: _Labels,
    tokens: list[tuple[int, int, str]],
    index: dict[str, int],
    chinese: bool,
    out: list[tuple[int, int, int, str]],
    seen: set[tuple[int, int]],
) -> None:
    labels.used.clear()
    for seg, spaced in _segments(text, tokens, index):
        span = (seg[0][0], seg[-1][1])
        if span in seen:
            continue  # same characters, and shared characters share indices
        seen.add(span)
        label = labels.before(seg[0][0])
        if chinese and not spaced and label is not None:
            if not labels.introduces(label, text, seg[0][0]):
                label = None  # "...或私钥。请帮我..." mentions a key, it does not give one
        windows = _phrase_windows(text, seg, spaced, chinese, label is not None)
        if not windows and label is None:
            # a label in the run's head: "seed phrase abandon ...", "我的助记词是的三欧..."
            inner = labels.inside(seg[0][0], seg[min(8, len(seg) - 1)][0])
            if inner is not None and (
                not chinese or spaced or labels.introduces(inner, text, labels.ends[inner])
            ):
                label = inner
                seg = [t for t in seg if t[0] >= labels.ends[inner]]
                windows = _phrase_windows(text, seg, spaced, chinese, True)
        if windows:
            for a, b in windows:
                out.append((_R_SEED, seg[a][0], seg[b - 1][1], "seed_phrase"))
        elif label is not None and len(seg) >= 12:
            # labelled but no valid checksum: a mistyped phrase is still a phrase;
            # unspaced Chinese has no word edges, so take at most 24 characters
            last = seg[min(len(seg), 24) - 1] if chinese else seg[-1]
            out.append((_R_SEED, seg[0][0], last[1], "seed_phrase"))
        else:
            continue
        if label is not None:
            labels.used.add(label)


def _phrase_windows(
    text: str, seg: list[tuple[int, int, int]], spaced: bool, chinese: bool, labelled: bool
) -> list[tuple[int, int]]:
    """Checksum-valid phrases in a segment.

    Chinese prose is mostly list characters, so an unlabelled unspaced run
    must be a whole phrase standing on its own.
    """
    if len(seg) < 12:
        return []
    if chinese and not spaced and not labelled:
        return _standalone_phrase(text, seg)
    return _valid_windows([t[2] for t in seg])


def _standalone_phrase(text: str, seg: list[tuple[int, int, int]]) -> list[tuple[int, int]]:
    """The whole unspaced run, if it is a valid phrase alone on its line."""
    n = len(seg)
    if n not in _SIZES:
        return []
    start, end = seg[0][0], seg[-1][1]
    i = start
    while i > 0 and text[i - 1] != "\n":
        i -= 1
        if text[i] not in _LINE_EDGE:
            return []
    j = end
    while j < len(text) and text[j] != "\n":
        if text[j] not in _LINE_EDGE:
            return []
        j += 1
    acc = 0
    for _, _, i in seg:
        acc = (acc << 11) | i
    return [(0, n)] if _checksum_ok(acc, n) else []


def _seeds(text: str, out: list[tuple[int, int, int, str]]) -> None:
    english, simplified, traditional = _wordlists()
    labels = _Labels(text)
    en_tokens = [(m.start(1), m.end(1), m[1].lower()) for m in _EN_WORD.finditer(text)]
    _seed_pass(text, labels, en_tokens, english, False, out, set())
    zh_tokens = [(m.start(), m.end(), m.group()) for m in _CJK_CHAR.finditer(text)]
    if len(zh_tokens) >= 12:
        # The two Chinese lists share 1275 characters at the same indices, so a
        # segment made only of those is checked once.
        seen: set[tuple[int, int]] = set()
        _seed_pass(text, labels, zh_tokens, simplified, True, out, seen)
        _seed_pass(text, labels, zh_tokens, traditional, True, out, seen)


# ---------------------------------------------------------------------------
# API

_DETECTORS: tuple[Callable[[str, list[tuple[int, int, int, str]]], None], ...] = (
    _seeds,
    _other_keys,
    _hex_keys,
    _api_secrets,
    _otps,
    _passwords,
)


def find_secrets(text: str) -> list[SecretHit]:
    """Every secret value in `text`, sorted by start and non-overlapping.

    Where two readings overlap, the more specific kind wins (a seed phrase
    over a "password:" that precedes it, a labelled OTP over "one-time
    password").
    """
    if not text:
        return []
    candidates: list[tuple[int, int, int, str]] = []
    for detect in _DETECTORS:
        detect(text, candidates)
    candidates.sort()
    starts: list[int] = []
    chosen: dict[int, tuple[int, str]] = {}
    for _rank, start, end, kind in candidates:
        if start >= end:
            continue
        k = bisect_right(starts, start)
        if k and chosen[starts[k - 1]][0] > start:
            continue  # overlaps the chosen span on its left
        if k < len(starts) and starts[k] < end:
            continue  # overlaps the chosen span on its right
        insort(starts, start)
        chosen[start] = (end, kind)
    return [SecretHit(kind=chosen[s][1], start=s, end=chosen[s][0]) for s in starts]


def redact(text: str, hits: Sequence[SecretHit] | None = None) -> str:
    """`text` with each hit's value replaced by "[REDACTED:<kind>]".

    Overlapping or out-of-range hits from a caller are clamped rather than
    skipped, so a sloppy hit list can only over-redact, never leak.
    """
    if hits is None:
        hits = find_secrets(text)
    parts: list[str] = []
    pos = 0
    for hit in sorted(hits, key=lambda h: (h.start, h.end)):
        start = max(hit.start, pos, 0)
        end = min(hit.end, len(text))
        if start >= end:
            continue
        parts.append(text[pos:start])
        parts.append(f"[REDACTED:{hit.kind}]")
        pos = end
    parts.append(text[pos:])
    return "".join(parts)


def secret_kinds(hits: Sequence[SecretHit]) -> list[str]:
    """The distinct kinds among `hits`, in KINDS order (for records and reasons)."""
    found = {h.kind for h in hits}
    return [k for k in KINDS if k in found]
