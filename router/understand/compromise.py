"""Plain-language signs of account compromise, in Chinese and English.

Why a lexicon beside the model: SPEC 2 makes any sign of compromise decide
the category, so a phrase like "I did not make this withdrawal" must win even
when the model leans elsewhere.  Text is folded to Simplified and lower-cased
by the caller, so one Simplified entry also covers Traditional.

What is *not* a sign: a forgotten password, an API "401 Unauthorized" error,
a freeze appeal that says "I did not make any suspicious transaction", and a
question about prevention ("how do I protect my account from hackers",
"如何防止账户被盗").  A phrase preceded in its own clause by a prevention
word or a plain negation ("not", "没有", "不被") is skipped; any other hit in
the text still counts, because a missed compromise is worse than a security
analyst reading a how-to question.
"""

from __future__ import annotations

import re

_ACTIONS = (
    r"withdraw|transfer|trade|trading|order|login|log-in|log in|sign-in|sign in|access|transaction|payment"
    r"|activity|activities|use|usage|api|device|charge|purchase|sale|sell|buy"
)
_PATTERNS = [
    r"\b(?:i\s*(?:have\s*)?been|got|was|been|am|is|were|are|has been|have been)\s+hacked\b",
    r"\bhacker",
    r"\baccount (?:was |has been |got |is |been )?(?:compromised|taken over|hijacked|stolen)",
    r"\b(?:someone|somebody|a stranger|an unknown person|someone else|a hacker|hackers?)\b.{0,60}"
    r"\b(?:logged in|log(?:ged)? into|accessed|withdrew|transferred|stole|changed my|took)",
    rf"\b(?:unauthori[sz]ed|unapproved)\b\s+(?:(?!(?:to|from|by|error)\b)\w+\s+){{0,2}}(?:{_ACTIONS})",
    r"\bnot authori[sz]ed by me\b|\bwithout my (?:permission|consent|authori[sz]ation|knowledge)\b",
    r"\b(?:i )?(?:did not|didn't|never|have not|haven't)\s+"
    r"(?:make|made|authori[sz]e|authori[sz]ed|initiate|initiated|request|requested|place|placed|do|approve|approved)\b"
    rf"(?!\s+any(?!\s+of)\b).{{0,40}}\b(?:{_ACTIONS})",
    r"\bsim[- ]?swap",
    r"\bphishing\b",
    r"\b(?:stolen|lost|compromised) (?:phone|2fa|authenticator|device|sim)",
    r"\b(?:phone|2fa|authenticator|device|sim(?: card)?) (?:was |has been |got )?(?:stolen|compromised|hacked)\b",
    r"\blost my (?:phone|mobile|2fa|authenticator|google authenticator|2fa device)\b",
    r"\b(?:leaked|exposed|compromised) (?:my )?(?:api key|private key|seed|password|keys?|mnemonic|secret key)\b",
    r"\b(?:api key|private key|seed(?: phrase)?|password|keys?|mnemonic|secret key)s? "
    r"(?:was |were |has been |have been |got |is |are )?(?:leaked|exposed|compromised|stolen)\b",
    r"\b(?:funds|money|coins|assets|crypto|balance|btc|eth|usdt|tokens?) "
    r"(?:were |was |have been |has been |got )?(?:stolen|drained|taken|missing)\b",
    r"\b(?:stole|drained|emptied) (?:my|all)\b",
    r"\bvulnerabilit(?:y|ies)\b|\bxss\b|\bidor\b|\bbug bounty\b|\bcsrf\b|\bsql injection\b",
    r"被盗|盗号|被黑|被骇|黑客|骇客|盗走|被盗刷|异地登录|异地登陆|异常登录|异常登陆|不是我本人|非本人操作|不是我操作"
    r"|未经我|未经本人|钓鱼|假客服|冒充|sim卡被|安全漏洞|漏洞|私钥泄露|助记词泄露|密钥泄露|密码泄露|被人登录|被人登陆"
    r"|被转走|被提走|资金被转|被偷|被人盗",
    r"未经?(?:本人|我的?)?授权的?.{0,6}?(?:提现|提币|转账|转出|交易|登录|登陆|访问|操作|下单|使用|划转|支付|买入|卖出)",
    r"有人.{0,10}?(?:登录|登陆|转走|提走|提现|提币|盗|动了|改了|修改了)",
    r"(?:手机|谷歌验证器|验证器|身份验证器|2fa设备)(?:丢了|丢失|被偷|遗失)|(?:丢失|丢了|遗失)了?(?:我的)?(?:手机|谷歌验证器|验证器)",
]
_COMPROMISE = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.IGNORECASE)

# A hit in a clause about prevention or plainly negated is no sign.
_GUARD = re.compile(
    r"(?:\b(?:protect|prevent|avoid|keep|safe|secure|guard|defend|safeguard)\b.{0,60}\bfrom\s+(?:\w+\s+){0,2}"
    r"|\b(?:prevent|avoid|stop)\s+(?:\w+\s+){0,3}"
    r"|\b(?:not|never)\s+|n't\s+|\b40[13]\s*[-:]?\s*"  # negated; an HTTP status, not an incident
    r"|(?:防止|避免|以免|防范|预防|免得|免受|免遭|远离|保护|怎么防|如何防)[^，。！？,.!?；;\n]{0,8}"
    r"|(?:不|不会|不再|别|没|没有|并未|未曾|从未))$",
    re.IGNORECASE,
)
_CLAUSE_END = re.compile(r"[,.;!?，。；！？、\n]")


def find(folded_text: str) -> str | None:
    """The first phrase that signals compromise, or None."""
    for m in _COMPROMISE.finditer(folded_text):
        head = folded_text[max(0, m.start() - 80) : m.start()]
        ends = [e.end() for e in _CLAUSE_END.finditer(head)]
        clause = head[ends[-1] :] if ends else head
        if not _GUARD.search(clause):
            return m.group(0)
    return None
