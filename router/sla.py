"""The SLA clock of a case: when it is due, how close it is, and when a chaser escalates (issue 13).

A case is received when its first message is decided, due at received + the
SLA of its priority (`[sla]` hours; urgent security cases sooner), and
acknowledged when our first acknowledgement goes out.  "Answered" is left
null: the router does not see the team's answer (it goes from the team's own
mail client), so an answered case stays on the clock until an operator's
tool records it; `router status` shows what is near and past due.

A chaser (any follow-up joining an open case, or a new message whose words
press for an answer) after `escalation_share` of the SLA escalates the case:
one forward to `escalation_address`, never twice for a case (the store
claims it once, in the same transaction that records the decision).
"""

from __future__ import annotations

from router.config import SlaSettings
from router.state import CaseRow
from router.understand.urgency import PRIORITIES

STATES = ("on_time", "near", "past_due")


def due(received: float, priority: str, route: str, sla: SlaSettings) -> float:
    """When a case received at `received` must be answered."""
    return received + sla.window_hours(priority, route) * 3600


def higher(a: str | None, b: str) -> bool:
    """Is priority `b` above `a` (None counts as below everything)?"""
    return a is None or PRIORITIES.index(b) > PRIORITIES.index(a)


def elapsed_share(case: CaseRow, now: float) -> float:
    """How much of its SLA window the case has used (1.0 = due now)."""
    if case.received is None or case.due is None:
        return 0.0
    window = case.due - case.received
    return (now - case.received) / window if window > 0 else float("inf")


def state_of(case: CaseRow, now: float, sla: SlaSettings) -> str:
    """on_time, near (past `near_share` of the window) or past_due."""
    if case.due is not None and now >= case.due:
        return "past_due"
    return "near" if elapsed_share(case, now) >= sla.near_share else "on_time"


def hours_text(hours: float) -> str:
    """12.0 -> "12", 0.5 -> "0.5": the window as the acknowledgement says it."""
    return f"{hours:g}"
