"""Case joining: the stage between the decision and the reply plan (SPEC 7).

Every message belongs to one case.  A follow-up is found by its
In-Reply-To / References (RFC 5322 section 3.6.4: the customer's mail client
answers our acknowledgement, whose Message-ID the case remembers) or by the
`[Case #ID]` tag in its subject, and joins that case: the evidence it brings
is added to what the case holds, and it goes to the team that has the case.
Mail that refers to another sender's case is not joined (and a team route
goes to review), so nobody can read or steer someone else's case.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace

from router import sla as clock
from router.config import SlaSettings
from router.decide import case_id_for
from router.records import Decision, EvidenceReport, ParsedMail, Routing
from router.state import CaseRow, Store

CASE_TAG = re.compile(r"\[\s*Case\s*#\s*([0-9A-Z]{6,12})\s*\]", re.IGNORECASE)
TEAM_ROUTES = ("security", "compliance", "general")
EVIDENCE_KINDS = ("identity", "transactions", "activity_log", "source_of_funds")


def join_case(store: Store, decision: Decision, mail: ParsedMail, routing: Routing,
              sla: SlaSettings | None = None, now: float | None = None) -> Decision:
    """Join a follow-up to its case, or open a new case for this message; with `sla`, run its clock.

    Returns the decision as the case makes it (case id, evidence, route,
    escalation); the caller records both in one transaction.
    """
    decision = _join_or_open(store, decision, mail, routing)
    if sla is not None and decision.priority:
        # the case's own first message decided again (a requeue) is not a follow-up
        first = decision.case_id == case_id_for(mail.message_id)
        decision = _clock(store, decision, sla, time.time() if now is None else now, follow_up=not first)
    return decision


def _clock(store: Store, decision: Decision, sla: SlaSettings, now: float, *, follow_up: bool) -> Decision:
    """Start or tighten the case's SLA clock; escalate a chaser past the configured share, once."""
    case = store.case(decision.case_id)
    if case is None or decision.priority is None:
        return decision
    follow_up = follow_up and case.received is not None
    if not follow_up or clock.higher(case.priority, decision.priority):
        received = case.received if case.received is not None else now
        due = clock.due(received, decision.priority, decision.route, sla)
        if case.due is not None:
            due = min(due, case.due)
        store.schedule_case(case.case_id, decision.priority, received, due)
        case = replace(case, priority=decision.priority, received=received, due=due)
    chased = decision.chaser or (follow_up and case.status == "open")
    if not (chased and sla.escalation_address and case.answered is None):
        return decision
    used = clock.elapsed_share(case, now)
    if used < sla.escalation_share or not store.claim_escalation(case.case_id, now):
        return decision
    return replace(decision, escalated=True).because(
        f"escalated to {sla.escalation_address}: a chaser after {used:.0%} of the case's response window "
        f"(escalation share {sla.escalation_share:.0%})")


def _join_or_open(store: Store, decision: Decision, mail: ParsedMail, routing: Routing) -> Decision:
    sender = mail.from_address
    case = _referenced_case(store, mail)
    if case and case.sender != sender:
        why = f"refers to case #{case.case_id} of another sender"
        if decision.route in TEAM_ROUTES:
            decision = decision.with_route("review", f"review: {why}", routing)
        else:
            decision = decision.because(f"{why}; not joined")
        case = None
    if case is None:
        store.open_case(decision.case_id, sender, decision.category, decision.route, decision.subject.type,
                        decision.required, decision.evidence.present)
        store.link_message(decision.case_id, mail.message_id)
        return decision
    return _join(store, case, decision, mail, routing)


def _referenced_case(store: Store, mail: ParsedMail) -> CaseRow | None:
    linked = store.case_of([mail.in_reply_to, *reversed(mail.references)]) if (mail.in_reply_to or mail.references) else None
    if linked:
        return linked
    m = CASE_TAG.search(mail.subject)
    return store.case(m.group(1).upper()) if m else None


def _join(store: Store, case: CaseRow, decision: Decision, mail: ParsedMail, routing: Routing) -> Decision:
    case_id = case.case_id
    required = case.required or decision.required
    before = set(case.present)
    present = tuple(k for k in EVIDENCE_KINDS if k in before or k in decision.evidence.present)
    was_missing = [k for k in required if k not in before]
    now_missing = [k for k in required if k not in present]
    decision = replace(decision, case_id=case_id, required=required,
                       evidence=EvidenceReport(present, decision.evidence.rejected, decision.evidence.reasons))
    decision = decision.because(f"follow-up joins case #{case_id}")
    if was_missing and not now_missing:
        decision = decision.because(f"evidence for case #{case_id} is now complete")
    if decision.category != "security" and case.route in TEAM_ROUTES and decision.route != case.route and (
        decision.route in TEAM_ROUTES
        # A follow-up that alone would need a person only for want of a clear category
        # (no model, low confidence, disagreement) belongs to the team that has the case;
        # an unauthenticated sender still goes to review.
        or (decision.route == "review" and decision.sender.authenticated)
    ):
        decision = decision.with_route(case.route, f"follow-up goes to the case's team ({case.route})", routing)
    store.link_message(case_id, mail.message_id)
    store.update_case(case_id, present=present, route=decision.route if decision.route in TEAM_ROUTES else case.route)
    return decision
