"""One message through all stages: parse -> understand -> classify -> decide.

This is the whole offline capability; `router triage` prints its result and
the daemon acts on it.  It never raises for a message: any failure inside a
stage becomes a quarantine decision that says what went wrong, because a bad
message must be set aside, never lost (Mailman's runner).
"""

from __future__ import annotations

import logging
from dataclasses import replace

from router import decide, parse
from router.classify import Classifier
from router.config import Settings
from router.decide import Facts
from router.records import Decision, EvidenceReport, File, ParsedMail, ReplyPlan, SenderInfo, SubjectInfo
from router.text import normalize, to_simplified
from router.understand import auth, automated, compromise, evidence, language, secrets, subject

log = logging.getLogger(__name__)


def understand(mail: ParsedMail, settings: Settings, classifier: Classifier | None) -> Facts:
    """Run every check on a parsed mail and collect the findings."""
    subj = subject.parse_subject(mail.subject, settings.issue_types, settings.uid_pattern)
    issue_type = settings.issue_type(subj.type)
    text = "\n".join([mail.subject, mail.body, *_attached_text(mail)])
    lang, _script = language.detect(f"{mail.subject}\n{mail.new_text}")
    hits = secrets.find_secrets(text)
    kinds = tuple(secrets.secret_kinds(hits))
    folded = to_simplified(normalize(f"{mail.subject}\n{mail.new_text}")).lower()
    ctx = automated.Context(
        own_addresses=frozenset(settings.own_addresses) | frozenset(settings.routes.values()),
        loop_header=settings.loop_header,
    )
    auto_reasons = automated.check(mail, ctx)
    authenticated, auth_reason = auth.check(mail)
    sender = SenderInfo(
        address=mail.from_address,
        authenticated=authenticated,
        automated=bool(auto_reasons),
        reasons=tuple(auto_reasons + ([auth_reason] if auth_reason else [])),
    )
    report = evidence.assess(mail.attachments, mail.new_text, settings.limits)
    report_dangerous = evidence.is_dangerous(report)
    # Mails a rule already decides skip both models (issue 12): secrets, a security
    # subject type, an automated sender, a dangerous attachment (quarantine).
    by_rule = bool(kinds) or bool(issue_type and issue_type.category == "security") or sender.automated or report_dangerous
    prediction = classifier.predict(mail.subject, mail.new_text) if classifier and not by_rule else None
    ours = set(settings.own_addresses)
    return Facts(
        mail=mail,
        subject=subj,
        issue_type=issue_type,
        language=lang,
        sender=sender,
        evidence=report,
        dangerous=report_dangerous,
        secrets=kinds,
        compromise=compromise.find(folded),
        prediction=prediction,
        to_us=bool(ours & set(mail.to + mail.cc)) or not ours,
    )


_TEXT_NAMES = (".txt", ".text", ".csv", ".tsv", ".log", ".json", ".md", ".eml")


def _attached_text(mail: ParsedMail, budget: int = 200_000) -> list[str]:
    """Decoded text attachments: customers paste keys and seed phrases into files too."""
    out = []
    for att in mail.attachments:
        if att.content_type.startswith("text/") or att.filename.lower().endswith(_TEXT_NAMES):
            text = att.payload[:budget].decode("utf-8", "replace")
            out.append(text)
            budget -= len(text)
            if budget <= 0:
                break
    return out


def decide_facts(f: Facts, settings: Settings) -> Decision:
    """Turn findings into the Decision (SPEC 7 and 8) with readable reasons."""
    reasons = [f.subject.reason]
    category, confidence, why = decide.categorize(f)
    reasons += why
    route, route_reason = decide.route_for(f, category)
    if route_reason:
        reasons.append(route_reason)
    else:
        reasons.append(f"routed to the {route} team")
    template, reply_key, reply_reason = decide.reply_plan(f, route, settings)
    reasons.append(reply_reason)
    reasons += list(f.evidence.reasons)
    required = f.issue_type.evidence if f.issue_type else ()
    if f.prediction is None:
        reasons.append("model not consulted: a rule decides this mail" if _decided_by_rule(f)
                       else "no trained model loaded: category from the subject type and rules only")
    return Decision(
        message_id=f.mail.message_id,
        case_id=decide.case_id_for(f.mail.message_id),
        language=f.language,
        subject=f.subject,
        category=category,
        confidence=confidence,
        model=f.prediction,
        required=tuple(required),
        evidence=f.evidence,
        secrets=f.secrets,
        sender=f.sender,
        route=route,
        actions=decide.actions_for(f, route, template, settings),
        reasons=tuple(_redacted(reasons)),
        reply=ReplyPlan(template, reply_key),
        language_detail=language.detail(f"{f.mail.subject}\n{f.mail.new_text}"),
    )


def _decided_by_rule(f: Facts) -> bool:
    return bool(f.secrets) or bool(f.issue_type and f.issue_type.category == "security") or f.sender.automated or f.dangerous


def _redacted(reasons: list[str]) -> list[str]:
    """Reasons quote subjects and phrases of the mail: never a secret value."""
    if not secrets.find_secrets("\n".join(reasons)):
        return reasons
    return [secrets.redact(r) for r in reasons]


def quarantine_decision(mail: ParsedMail, reason: str, settings: Settings) -> Decision:
    """The record for mail that could not be understood at all."""
    return Decision(
        message_id=mail.message_id,
        case_id=decide.case_id_for(mail.message_id),
        language="other",
        subject=SubjectInfo("absent", None, None, "subject not read"),
        category="general",
        confidence=0.0,
        model=None,
        required=(),
        evidence=EvidenceReport(present=(), rejected=()),
        secrets=(),
        sender=SenderInfo(address=mail.from_address, authenticated=False, automated=False),
        route="quarantine",
        actions=(File(settings.folders["quarantine"]),),
        reply=ReplyPlan(None, "quarantine"),
        reasons=(f"quarantined: {reason}",),
    )


def triage(raw: bytes, settings: Settings, classifier: Classifier | None) -> tuple[ParsedMail, Decision]:
    """Parse and decide one raw message.  Never raises for a message."""
    return decide_mail(parse.parse(raw, settings.limits), settings, classifier)


def decide_mail(mail: ParsedMail, settings: Settings, classifier: Classifier | None) -> tuple[ParsedMail, Decision]:
    """Decide an already parsed message (the daemon parses once).  Never raises."""
    if mail.problem:
        return mail, quarantine_decision(mail, mail.problem, settings)
    try:
        facts = understand(mail, settings, classifier)
        return mail, decide_facts(facts, settings)
    except Exception as exc:  # noqa: BLE001 - one bad message must not stop the rest
        log.warning("check failed; message quarantined", extra={"message_id": mail.message_id, "error": type(exc).__name__})
        problem = f"internal error while checking the message ({type(exc).__name__})"
        return replace(mail, problem=problem), quarantine_decision(mail, problem, settings)
