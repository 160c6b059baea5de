"""Plain-language signs of account compromise, in Chinese and English.

Why a lexicon beside the model: SPEC 2 makes any sign of compromise decide
the category, so a phrase like "I did not make this withdrawal" must win even
when the model leans elsewhere.  Text is folded to Simplified and lower-cased
by the caller, so one Simplified entry also covers Traditional.
"""

from __future__ import annotations

import re

_PATTERNS = [
    r"\b(?:i\s*(?:have\s*)?been|got|was|been|am|is|were)\s+hacked\b",
    r"\bhacker",
    r"\baccount (?:was |has been |got )?(?:compromised|taken over|hijacked|stolen)",
    r"\b(?:someone|somebody|a stranger|an unknown person)\b.{0,60}\b(?:logged in|log(?:ged)? into|accessed|withdrew|transferred|stole|changed my)",
    r"\b(?:unauthori[sz]ed|not authori[sz]ed by me)\b",
    r"\b(?:i )?(?:did not|didn't|never) (?:make|authori[sz]e|initiate|request|place|do)\b.{0,40}\b(?:withdraw|transfer|trade|order|login|log-in|payment|transaction)",
    r"\bsim[- ]?swap",
    r"\bphishing\b",
    r"\b(?:stolen|lost|compromised) (?:phone|2fa|authenticator|device)",
    r"\b(?:leaked|exposed|compromised) (?:my )?(?:api key|private key|seed|password|keys?)\b",
    r"\bvulnerabilit(?:y|ies)\b|\bxss\b|\bidor\b|\bbug bounty\b|\bcsrf\b|\bsql injection\b",
    r"被盗|盗号|被黑|黑客|盗走|被盗刷|异地登录|异常登录|不是我本人|非本人操作|不是我操作|未经授权|未授权|未经我|钓鱼|假客服|冒充|sim卡被|安全漏洞|漏洞|私钥泄露|助记词泄露|密钥泄露|被人登录|被转走|被提走|资金被转",
]
_COMPROMISE = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.IGNORECASE)


def find(folded_text: str) -> str | None:
    """The first phrase that signals compromise, or None."""
    m = _COMPROMISE.search(folded_text)
    return m.group(0) if m else None
