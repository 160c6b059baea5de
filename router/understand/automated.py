"""Is this message from a machine?  (SPEC 6; RFC 3834 section 2, RFC 5230.)

Each rule is a small named predicate that returns the reason a person will
read, or None.  The table is the union of what RFC 3834, Sieve vacation and
the mature ticket systems and bounce parsers check; a reply to a machine is
worse than a missed acknowledgement, so a single hit is enough.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from router.records import ParsedMail
from router.understand.secrets import redact


@dataclass(frozen=True)
class Context:
    own_addresses: frozenset[str]
    loop_header: str


Rule = Callable[[ParsedMail, Context], str | None]

_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
_SUPPRESS = {"all", "oof", "autoreply", "dr", "rn", "nrn"}
_LIST_HEADERS = ("list-id", "list-unsubscribe", "list-post", "list-help", "list-owner", "list-subscribe")
_AUTO_HEADERS = (
    "x-autoreply",
    "x-autorespond",
    "x-autoresponder",
    "x-autoreply-from",
    "x-mail-autoreply",
    "x-autoresponse",
    "x-vacation",
    "x-autoreply-sent",
    "x-loop",
    "x-failed-recipients",  # exim bounces
    "x-ms-exchange-message-is-ndr",
    "x-ms-exchange-generated-message-source",
    "x-fc-machinegenerated",
    "x-zendesk-from-account-id",  # another helpdesk answering us
)
_REPORT_TYPES = (
    "multipart/report",
    "message/delivery-status",
    "message/global-delivery-status",
    "message/disposition-notification",
    "message/feedback-report",
    "text/rfc822-headers",
)
_MACHINE_SENDER = re.compile(
    r"^(?:mailer-daemon|postmaster|no[-_.]?reply|noreply[-_.+].*|.*[-_.+]no[-_.]?reply|do[-_.]?not[-_.]?reply"
    r"|bounces?|bounces?[-+=].*|.*[-_.+]bounces?|owner-.*|.*-request|listserv|majordomo|mailman"
    r"|auto[-_.]?reply|auto[-_.]?responder|autoresponse)(?:@|$)",
    re.IGNORECASE,
)
# Subject openers of auto-responders that ignore the standards: Lotus Notes
# ("Auto:"), Exchange/Outlook in many languages, webmail vacation features,
# and bounce subjects of common MTAs.  Customers write subjects that begin with
# the same words ("Automatic withdrawal question", "Out of office hours?",
# "Undeliverable withdrawal address", "自动回复功能"), so a phrase only counts
# as the responder's label: followed by a colon (how responders prefix the
# original subject), as the whole subject, or in brackets ("【自动回复】").
_AUTO_LABELS = (
    r"auto[- ]?reply|automatic reply|automated reply|auto[- ]?response|autosvar|autoresponder"
    r"|out of (?:the )?office(?: auto[- ]?reply| reply| notice| notification)?|ooo"
    r"|on vacation|away from (?:the )?office|vacation (?:reply|notice|response)"
    r"|automatische antwort|abwesenheitsnotiz|abwesend|abwesenheit"
    r"|r[ée]ponse automatique|absence du bureau|absente? du bureau|message d'absence"
    r"|risposta automatica|fuori sede|fuori ufficio|respuesta autom[aá]tica|fuera de la oficina"
    r"|resposta autom[aá]tica|fora do escrit[oó]rio|automatisch antwoord|afwezig"
    r"|automaattinen vastaus|automatyczna odpowied[zź]|автоматический ответ|автоответ"
    r"|自动回复|自動回覆|自動回复|自动答复|自動答覆|自動応答|自動返信|自動回復|自动回覆|休假通知|不在办公室|不在辦公室|자동 응답"
    r"|undeliverable|undelivered mail|undelivered|delivery status notification|delivery failure|delivery failed"
    r"|delivery has failed|delivery notification|mail delivery failed|mail delivery failure|message delivery failure"
    r"|mail delivery subsystem|returned mail|failure notice|message not delivered|delivery delayed|delayed mail"
    r"|non remis|non recapitabile|unzustellbar|nicht zustellbar|no entregado|n[aã]o entregue|no se puede entregar"
    r"|退信|系统退信|系統退信|邮件投递失败|郵件投遞失敗|邮件退回|郵件退回"
)
# Labels that are ordinary words on their own, so only count with a colon.
_AUTO_COLON_ONLY = r"auto|read|已读|已讀|gelesen|nicht gelesen|lu|ausente|休假"
# Fixed openers that MTAs and responders use verbatim.
_AUTO_OPENERS = (
    r"delivery status notification\s*\(|undelivered mail returned to sender|mail delivery failed: returning"
    r"|returned mail: see transcript|delivery has failed to these recipients|warning: could not send message"
    r"|out of (?:the )?office (?:until|till|from \d|back|returning)"
)
_AUTO_SUBJECT = re.compile(
    r"^\s*(?:(?:\[[^\]]{0,40}\]|\*{3,}\s*\w{1,20}\s*\*{3,})\s*)*(?:"
    rf"(?:{_AUTO_LABELS})\s*(?:[:：]|$)"
    rf"|(?:{_AUTO_COLON_ONLY})\s*[:：]"
    rf"|[\[【(（]\s*(?:{_AUTO_LABELS})\s*[\]】)）]"
    rf"|{_AUTO_OPENERS}"
    r"|.{0,80}\bis out of (?:the )?office\.?\s*$"
    r")",
    re.IGNORECASE,
)


def _keyword(value: str) -> str:
    """The keyword of a structured header value, without parameters or comments."""
    value = re.sub(r"\([^()]*\)", " ", value)
    return value.split(";", 1)[0].strip().lower()


def auto_submitted(m: ParsedMail, c: Context) -> str | None:
    """RFC 3834 section 5: any value but `no` (parameters and case aside)."""
    for raw in m.header_all("auto-submitted"):
        value = _keyword(raw)
        if value and value != "no":
            return f"Auto-Submitted: {value[:40]}"
    return None


def precedence(m: ParsedMail, c: Context) -> str | None:
    for name in ("precedence", "x-precedence"):
        for raw in m.header_all(name):
            value = _keyword(raw)
            if value in _PRECEDENCE:
                return f"{name.title()}: {value}"
    return None


def list_headers(m: ParsedMail, c: Context) -> str | None:
    for name in _LIST_HEADERS:
        if m.header(name) is not None:
            return f"mailing-list header {name.title()}"
    return None


def auto_response_suppress(m: ParsedMail, c: Context) -> str | None:
    value = m.header("x-auto-response-suppress") or ""
    tokens = {t.strip().lower() for t in re.split(r"[,;\s]+", value) if t.strip()}
    hit = tokens & _SUPPRESS
    return f"X-Auto-Response-Suppress: {', '.join(sorted(hit))}" if hit else None


def autoreply_headers(m: ParsedMail, c: Context) -> str | None:
    for name in _AUTO_HEADERS:
        if m.header(name) is not None:
            return f"auto-responder header {name}"
    if (m.header("x-autogenerated") or "").strip().lower() in ("reply", "forward", "group", "mirror"):
        return "X-Autogenerated header"
    if "autoresponder" in (m.header("x-post-messageclass") or "").lower():
        return "X-POST-MessageClass: Autoresponder"
    if "autoresponder" in (m.header("delivered-to") or "").lower():
        return "Delivered-To: Autoresponder"
    if (m.header("x-auto-reply") or m.header("x-ms-exchange-inbox-rules-loop")) is not None:
        return "auto-responder header"
    return None


def null_return_path(m: ParsedMail, c: Context) -> str | None:
    if m.return_path is not None and m.return_path.strip("<> ") == "":
        return "null Return-Path <>"
    raw_from = (m.header("from") or "").strip()
    if raw_from in ("<>", "") or (not m.from_address and "<>" in raw_from):
        return "null or empty From"
    return None


def machine_sender(m: ParsedMail, c: Context) -> str | None:
    candidates = [("From", m.from_address), ("Return-Path", m.return_path or "")]
    sender = m.header("sender")
    if sender:
        match = re.search(r"[^\s<>\"]+@[^\s<>\"]+", sender)
        candidates.append(("Sender", match.group(0) if match else ""))
    for name, address in candidates:
        if address and _MACHINE_SENDER.match(address):
            return f"{name} {address} is an automatic sender"
    return None


def report_parts(m: ParsedMail, c: Context) -> str | None:
    for ctype in m.content_types:
        if ctype in _REPORT_TYPES:
            return f"delivery or feedback report ({ctype})"
    if (m.header("content-type") or "").lower().startswith("multipart/report"):
        return "delivery report (multipart/report)"
    return None


def is_machine_address(address: str) -> bool:
    """mailer-daemon, postmaster, noreply-style, owner-*, *-request ... (SPEC 6)."""
    return bool(_MACHINE_SENDER.match(address))


def auto_subject(m: ParsedMail, c: Context) -> str | None:
    if _AUTO_SUBJECT.match(m.subject):
        return f"subject looks automatic ({redact(m.subject)[:60]!r})"
    return None


def own_mail(m: ParsedMail, c: Context) -> str | None:
    if m.header(c.loop_header) is not None:
        return f"our own loop header {c.loop_header}"
    ours = {a.strip().lower() for a in c.own_addresses}
    for address in (m.from_address, m.return_path or "", m.reply_to):
        if address and address.lower() in ours:
            return f"sent by one of our own addresses ({address})"
    return None


RULES: tuple[Rule, ...] = (
    own_mail,
    auto_submitted,
    precedence,
    list_headers,
    auto_response_suppress,
    autoreply_headers,
    null_return_path,
    machine_sender,
    report_parts,
    auto_subject,
)


def check(mail: ParsedMail, context: Context) -> list[str]:
    """All reasons this mail is automatic; empty when a person wrote it."""
    reasons = []
    for rule in RULES:
        reason = rule(mail, context)
        if reason:
            reasons.append(reason)
    return reasons
