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
from router.records import Attachment, Decision, EvidenceReport, File, ParsedMail, ReplyPlan, SecretHit, SenderInfo, SubjectInfo
from router.text import normalize, to_simplified
from router.understand import (
    auth,
    automated,
    compromise,
    entities,
    evidence,
    forwarded,
    language,
    phishing,
    secrets,
    subject,
    urgency,
)

log = logging.getLogger(__name__)


def understand(mail: ParsedMail, settings: Settings, classifier: Classifier | None) -> Facts:
    """Run every check on a parsed mail and collect the findings."""
    subj = subject.parse_subject(mail.subject, settings.issue_types, settings.uid_pattern)
    issue_type = settings.issue_type(subj.type)
    parts = forwarded.split(mail.body)  # the whole body: split_reply's new_text has the forwards cut away
    attached = _attached_messages(mail)
    texts = _attached_text(mail)
    text = "\n".join([mail.subject, mail.body, *(t for t, _lure in texts)])
    lang, _script = language.detect(f"{mail.subject}\n{mail.new_text}")
    hits = secrets.find_secrets(text)
    own_hits, lure_hits = _by_owner(hits, _lure_spans(mail, parts, texts))
    kinds = tuple(secrets.secret_kinds(own_hits))
    folded = to_simplified(normalize(f"{mail.subject}\n{mail.new_text}")).lower()
    signs = compromise.signals(folded)
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
    ev = evidence.assess(mail.attachments, mail.new_text, settings.limits)
    report_dangerous = evidence.is_dangerous(ev)
    # Mails a rule already decides skip both models (issue 12): secrets, a security
    # subject type, an automated sender, a dangerous attachment (quarantine).
    by_rule = bool(kinds) or bool(issue_type and issue_type.category == "security") or sender.automated or report_dangerous
    prediction = classifier.predict(mail.subject, mail.new_text) if classifier and not by_rule else None
    ours = set(settings.own_addresses)
    found = _entities(mail, parts, attached, hits, text, settings)
    words = _new_words(mail, parts)
    # the lures are the forwards; the customer's side is their new words (not the quoted history)
    report = phishing.assess(mail.body, mail.subject, official=settings.teams.official_domains, attached=attached,
                             shorteners=phishing.DEFAULT_SHORTENERS | settings.teams.extra_shorteners,
                             parts=forwarded.Split(words, parts.forwarded))
    urgent = urgency.assess(
        # the customer's new words: not the forwards, and not the quoted history, where our own
        # acknowledgement's "act now" / "立即处理" would raise every follow-up
        f"{mail.subject}\n{words}",
        base=issue_type.priority if issue_type else "normal",
        amounts=_own_amounts(found, parts),
        thresholds=settings.teams.thresholds,
        compromise=_attacked(signs),
        extra=phishing.priority_signals(report),
    )
    return Facts(
        mail=mail,
        subject=subj,
        issue_type=issue_type,
        language=lang,
        sender=sender,
        evidence=ev,
        dangerous=report_dangerous,
        secrets=kinds,
        compromise=signs[0].phrase if signs else None,
        prediction=prediction,
        to_us=bool(ours & set(mail.to + mail.cc)) or not ours,
        entities=tuple(found),
        phishing=report,
        urgency=urgent,
        chaser=urgency.chaser(words, mail.subject).reason,
        compromise_reasons=tuple(s.reason for s in signs),
        lure_secrets=tuple(k for k in secrets.secret_kinds(lure_hits) if k not in kinds),
    )


_TEXT_NAMES = (".txt", ".text", ".csv", ".tsv", ".log", ".json", ".md", ".eml")


def _is_message(att: Attachment) -> bool:
    return att.content_type == "message/rfc822" or att.filename.lower().endswith(".eml")


def _attached_text(mail: ParsedMail, budget: int = 200_000) -> list[tuple[str, bool]]:
    """Decoded text attachments, and whether each is an attached message (a possible lure).

    Customers paste keys and seed phrases into files too.
    """
    out = []
    for att in mail.attachments:
        if att.content_type.startswith(("text/", "message/rfc822")) or att.filename.lower().endswith(_TEXT_NAMES):
            text = att.payload[:budget].decode("utf-8", "replace")
            out.append((text, _is_message(att)))
            budget -= len(text)
            if budget <= 0:
                break
    return out


def _attached_messages(mail: ParsedMail, most: int = 5) -> list[forwarded.Forwarded]:
    """Attached messages (RFC 2046 section 5.2.1 message/rfc822, or .eml files): lures the customer forwards."""
    return [forwarded.from_eml(att.payload) for att in mail.attachments if _is_message(att)][:most]


def _lure_spans(mail: ParsedMail, parts: forwarded.Split, texts: list[tuple[str, bool]]) -> list[tuple[int, int]]:
    """Where the forwarded lures lie in the text the secrets check reads (subject, body, attached texts)."""
    offset = len(mail.subject) + 1
    spans = [(s + offset, e + offset) for s, e in forwarded.lure_spans(parts)]
    pos = offset + len(mail.body) + 1
    for t, is_lure in texts:
        if is_lure:
            spans.append((pos, pos + len(t)))
        pos += len(t) + 1
    return spans


def _by_owner(hits: list[SecretHit], lures: list[tuple[int, int]]) -> tuple[list[SecretHit], list[SecretHit]]:
    """(the customer's secrets, codes inside forwarded lures): the latter are redacted but not the customer's."""
    own: list[SecretHit] = []
    lure: list[SecretHit] = []
    for h in hits:
        (lure if any(s <= h.start and h.end <= e for s, e in lures) else own).append(h)
    return own, lure


def _entities(mail: ParsedMail, parts: forwarded.Split, attached: list[forwarded.Forwarded], hits: list[SecretHit],
              text: str, settings: Settings) -> list[entities.Entity]:
    """Entities of the subject, the body's content (forwarded header lines blanked) and attached messages.

    Nothing the secrets check found becomes an entity: its spans in the body,
    and its values anywhere.
    """
    offset, end = len(mail.subject) + 1, len(mail.subject) + 1 + len(mail.body)
    body_spans = [(h.start - offset, h.end - offset) for h in hits if h.start >= offset and h.end <= end]
    return entities.extract(
        mail.subject,
        [forwarded.content_view(mail.body, parts) if parts.forwarded else mail.body, *(a.headers.get("subject", "") + "\n" + a.body for a in attached)],
        uid_pattern=settings.uid_pattern,
        redacted=[text[h.start:h.end] for h in hits],
        redacted_spans=[body_spans],
    )


def _attacked(signs: list[compromise.Signal]) -> bool:
    """Signs of an attacker, for urgency: a lost authenticator (and any sign read inside
    the same phrase) locks the customer out, which is security but not an attack."""
    lost = [(g.start, g.start + len(g.phrase)) for g in signs if g.kind == "lost_authenticator"]
    return any(g.kind != "lost_authenticator" and not any(a <= g.start < b for a, b in lost) for g in signs)


def _new_words(mail: ParsedMail, parts: forwarded.Split) -> str:
    """What the customer wrote now: `split_reply`'s new text (quoted history and signature cut),
    or the words before the first forward when that is shorter."""
    return mail.new_text if len(mail.new_text) <= len(parts.own) else parts.own


def _own_amounts(found: list[entities.Entity], parts: forwarded.Split) -> list[tuple[str, str]]:
    """Amounts the customer wrote (subject, or their text before the first forward): a lure's "$50,000 prize" is not."""
    first = parts.forwarded[0].start if parts.forwarded else None
    return [(e.value, e.currency or "") for e in found if e.kind == "amount" and (
        e.source == "subject" or (e.source == "text" and (first is None or e.start < first)))]


def decide_facts(f: Facts, settings: Settings) -> Decision:
    """Turn findings into the Decision (SPEC 7 and 8) with readable reasons."""
    reasons = [f.subject.reason]
    category, confidence, why = decide.categorize(f)
    reasons += why
    reasons += list(f.compromise_reasons)
    route_facts = f
    if f.phishing is not None:
        why_phish = "; ".join(f.phishing.reasons[:3])
        if category != "security":
            category, confidence = "security", 1.0
            reasons.append(f"phishing or impersonation report ({why_phish}): security")
        else:
            reasons.append(f"phishing or impersonation report: {why_phish}")
        # a report is as firm as a sign of compromise: no model is needed to route it
        route_facts = replace(f, compromise=f.compromise or "phishing report")
    route, route_reason = decide.route_for(route_facts, category)
    if route_reason:
        reasons.append(route_reason)
    else:
        reasons.append(f"routed to the {route} team")
    template, reply_key, reply_reason = decide.reply_plan(f, route, settings)
    reasons.append(reply_reason)
    reasons += list(f.evidence.reasons)
    required = f.issue_type.evidence if f.issue_type else ()
    # Reasons in our own words only (no mail text) skip the secrets pass over the reasons:
    # that pass costs about a microsecond a character (issue 13's time budget).
    own_words: set[int] = set()
    if f.prediction is None:
        own_words.add(len(reasons))
        reasons.append("model not consulted: a rule decides this mail" if _decided_by_rule(f)
                       else "no trained model loaded: category from the subject type and rules only")
    if f.lure_secrets:
        own_words.add(len(reasons))  # secret kinds are our vocabulary, never the values
        reasons.append(f"the forwarded message holds {', '.join(f.lure_secrets)}: the lure's, not the customer's; "
                       "redacted in the team's copy")
    priority = f.urgency.priority if f.urgency else None
    at = len(reasons)  # where the base priority goes: it quotes no mail text, so it skips the redaction pass
    if f.urgency:
        reasons += [f"priority: {r}" for r in f.urgency.reasons[1:]]
    if f.chaser:
        reasons.append(f"chaser: {f.chaser}")
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
        reasons=tuple(_with_base(_redacted(reasons, own_words), at, f)),
        reply=ReplyPlan(template, reply_key),
        language_detail=language.detail(f"{f.mail.subject}\n{f.mail.new_text}"),
        entities=entities.to_record(f.entities),
        priority=priority,
        phishing_report=f.phishing.to_record() if f.phishing else None,
        chaser=f.chaser is not None,
        lure_secrets=f.lure_secrets,
    )


def _decided_by_rule(f: Facts) -> bool:
    return bool(f.secrets) or bool(f.issue_type and f.issue_type.category == "security") or f.sender.automated or f.dangerous


def _with_base(reasons: list[str], at: int, f: Facts) -> list[str]:
    """The reasons with the base priority's (the issue type's, not quoting the mail) put back at `at`."""
    if not f.urgency or not f.urgency.reasons:
        return reasons
    return [*reasons[:at], f"priority: {f.urgency.reasons[0]}", *reasons[at:]]


def _redacted(reasons: list[str], own_words: set[int] | frozenset[int] = frozenset()) -> list[str]:
    """Reasons quote subjects and phrases of the mail: never a secret value.

    The reasons at `own_words` hold none of the mail's text and are not searched.
    """
    if not secrets.find_secrets("\n".join(r for i, r in enumerate(reasons) if i not in own_words)):
        return reasons
    return [r if i in own_words else secrets.redact(r) for i, r in enumerate(reasons)]


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
