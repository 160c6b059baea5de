"""Findings -> Decision.  The order of the rules is a table in one place.

SPEC 2 precedence: any sign of compromise or leaked secrets makes the message
`security`, and neither the subject type nor the model can lower that.
SPEC 7 routes: quarantine and automated come first (they are never answered),
then the reasons a person must look (review), then the category's team.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from router.config import IssueType, Settings
from router.records import Action, EvidenceReport, ParsedMail, Prediction, SenderInfo, SubjectInfo
from router.understand.automated import is_machine_address
from router.understand.entities import Entity
from router.understand.evidence import DANGEROUS
from router.understand.phishing import PhishingReport
from router.understand.urgency import Urgency

CASE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


@dataclass(frozen=True)
class Facts:
    """Everything the understand/ checks and the model found about one mail."""

    mail: ParsedMail
    subject: SubjectInfo
    issue_type: IssueType | None
    language: str
    sender: SenderInfo
    evidence: EvidenceReport
    dangerous: bool
    secrets: tuple[str, ...]
    compromise: str | None
    prediction: Prediction | None
    to_us: bool
    # what the teams receive (issue 13)
    entities: tuple[Entity, ...] = ()
    phishing: PhishingReport | None = None
    urgency: Urgency | None = None
    chaser: str | None = None  # why the words press an open request, or None
    compromise_reasons: tuple[str, ...] = ()  # every sign of compromise, with why it counts
    lure_secrets: tuple[str, ...] = ()  # secret kinds inside forwarded lures only


def case_id_for(message_id: str) -> str:
    """A short, stable case id derived from the Message-ID (8 base32 chars)."""
    n = int.from_bytes(hashlib.sha256(message_id.encode("utf-8", "replace")).digest()[:5], "big")
    return "".join(CASE_ALPHABET[(n >> shift) & 31] for shift in range(35, -1, -5))


def categorize(f: Facts) -> tuple[str, float, list[str]]:
    """(category, confidence, reasons), applying SPEC 2 precedence."""
    p, it = f.prediction, f.issue_type
    if f.secrets:
        return "security", 1.0, [f"secrets found in the text ({', '.join(f.secrets)}): security"]
    if it and it.category == "security":
        return "security", 1.0, [f"subject type {it.id} is a security type"]
    if f.compromise:
        why = f"text shows signs of compromise ({f.compromise!r}): security"
        if it:
            why += f"; not lowered to {it.category} by the subject type"
        return "security", 1.0, [why]
    if p and p.category == "security" and not p.below_threshold:
        # The model calls security when P(security) reaches the threshold chosen by CV
        # for recall >= 0.98 (issue 12), even when another class is more probable.
        why = f"model finds security (P(security) {p.probabilities.get('security', p.confidence):.2f})"
        if it:
            why += f"; not lowered to {it.category} by the subject type"
        return "security", p.confidence, [why]
    if it:
        reasons = [f"subject type {it.id} sets category {it.category}"]
        if p:
            reasons.append(f"model says {p.category} ({p.confidence:.2f})")
        return it.category, 1.0 if not p or p.category == it.category else max(0.5, 1 - p.confidence), reasons
    if p:
        return p.category, p.confidence, [f"model says {p.category} ({p.confidence:.2f})"]
    return "general", 0.0, ["no model available and no subject type or rule applies: general, sent to review"]


RouteRule = Callable[[Facts, str], str | None]


def _quarantine_problem(f: Facts, category: str) -> str | None:
    return f"quarantined: {f.mail.problem}" if f.mail.problem else None


def _quarantine_attachment(f: Facts, category: str) -> str | None:
    if f.dangerous:
        names = ", ".join(r.filename or "(unnamed)" for r in f.evidence.rejected if r.reason.startswith(DANGEROUS))
        return f"quarantined: dangerous attachment ({names})"
    return None


def _automated(f: Facts, category: str) -> str | None:
    if f.sender.automated:
        return "automated sender: " + "; ".join(f.sender.reasons)
    return None


def _unauthenticated(f: Facts, category: str) -> str | None:
    if not f.sender.authenticated:
        return "review: sender failed authentication (" + "; ".join(f.sender.reasons) + ")"
    return None


def _no_model(f: Facts, category: str) -> str | None:
    if f.prediction is None and f.issue_type is None and not f.secrets and not f.compromise:
        return "review: no model to classify a message without a known subject type"
    return None


def _low_confidence(f: Facts, category: str) -> str | None:
    """An unsure model goes to review even under a subject type (issue 12): the
    review thresholds are part of the security recall chosen by CV."""
    p = f.prediction
    firm = bool(f.secrets or f.compromise or category == "security")
    if p and p.below_threshold and not firm:
        return f"review: model confidence {p.confidence:.2f} for {p.category} is below its threshold"
    return None


def _possible_security(f: Facts, category: str) -> str | None:
    """P(security) in the review band chosen by CV (issue 12): a buried signal the model half sees.

    Below the security threshold the security team is not sent the mail; above
    the band a person reads it before it goes to a team, which is what security
    recall "counting review" counts, at a separate, smaller cost in reviewers' time.
    """
    p = f.prediction
    if p and p.security_review and category != "security" and not f.secrets and not f.compromise:
        return (f"review: model gives P(security) {p.probabilities.get('security', 0.0):.2f}, below the security threshold"
                " but in the band where a person checks for a buried security signal")
    return None


def _disagreement(f: Facts, category: str) -> str | None:
    p, it = f.prediction, f.issue_type
    if p and it and category != "security" and p.category != it.category and not p.below_threshold:
        return f"review: subject type says {it.category} but the model is confident of {p.category} ({p.confidence:.2f})"
    return None


# (route, rule): the first rule that fires decides the route.
ROUTE_CHAIN: tuple[tuple[str, RouteRule], ...] = (
    ("quarantine", _quarantine_problem),
    ("quarantine", _quarantine_attachment),
    ("automated", _automated),
    ("review", _unauthenticated),
    ("review", _no_model),
    ("review", _possible_security),
    ("review", _low_confidence),
    ("review", _disagreement),
)


def route_for(f: Facts, category: str) -> tuple[str, str | None]:
    for route, rule in ROUTE_CHAIN:
        reason = rule(f, category)
        if reason:
            return route, reason
    return category, None


def reply_plan(f: Facts, route: str, settings: Settings) -> tuple[str | None, str, str]:
    """(template or None, reason key, reason text): may an acknowledgement be sent (SPEC 6)?

    The key is what status and metrics count ("not_addressed_to_us" ...);
    the text is what a person reads in the record's reasons.
    """
    if route in ("quarantine", "automated"):
        return None, route, f"no reply: route {route}"
    if not settings.replies.enabled:
        return None, "disabled", "no reply: replies are disabled in config"
    if not f.sender.authenticated:
        return None, "unauthenticated", "no reply: unauthenticated sender gets no case details"
    if settings.require_recipient and not f.to_us:
        return None, "not_addressed_to_us", "no reply: none of our addresses was among the recipients"
    target = reply_address(f.mail)
    if not target:
        return None, "no_address", "no reply: no address to answer"
    if target in settings.own_addresses or target in settings.routes.values():
        return None, "own_address", "no reply: the reply address is one of ours"
    if is_machine_address(target):
        return None, "machine_reply_address", f"no reply: the reply address {target} is an automatic mailbox"
    template = "zh" if f.language == "zh" else "en"
    return template, "planned", f"acknowledgement in {template}"


# A deliverable addr-spec: dot-atom local part (or a quoted one without controls),
# a domain of letters/digits/hyphens (or IDN letters) with at least one dot.
_ADDR_SPEC = re.compile(
    r"(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\U0010ffff-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\U0010ffff-]+)*"
    r'|"[^"\\\x00-\x1f\x7f]{1,64}")'
    r"@(?:[A-Za-z0-9\u0080-\U0010ffff](?:[A-Za-z0-9\u0080-\U0010ffff-]{0,61}[A-Za-z0-9\u0080-\U0010ffff])?\.)+"
    r"[A-Za-z\u0080-\U0010ffff][A-Za-z0-9\u0080-\U0010ffff-]{0,62}"
)


def is_address(address: str) -> bool:
    """True for an address an acknowledgement can be sent to (no spaces, brackets, controls)."""
    return len(address) <= 254 and bool(_ADDR_SPEC.fullmatch(address))


def reply_address(mail: ParsedMail) -> str:
    """Where an RFC 3834 reply goes: Reply-To, else From; "" when neither is a valid address.

    RFC 3834 section 4 prefers the envelope sender for replies to automatic
    notices, but for a person's mail the author's Reply-To/From is what the
    customer reads; the Return-Path is still checked by the automated rules.
    A header mangled on the way (an encoded word holding ':' or '@' read as a
    group or an address) is never answered: the SMTP server would refuse it,
    or worse, deliver it to an address the customer never wrote.
    """
    for address in (mail.reply_to, mail.from_address):
        address = (address or "").strip().lower()
        if address and is_address(address):
            return address
    return ""


def folder_for(route: str, has_secrets: bool, settings: Settings) -> str:
    """Where the original is filed (one rule for decisions, cases and corrections: `Routing.folder`)."""
    return settings.routing().folder(route, has_secrets)


def actions_for(f: Facts, route: str, template: str | None, settings: Settings) -> tuple[Action, ...]:
    return settings.routing().actions(route, template, bool(f.secrets))
