"""What the state store hands out: plain typed values, no database handles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STEPS = ("claimed", "decided", "forwarded", "replied", "filed")


@dataclass
class MessageRow:
    """One message of one mailbox, and the last step recorded for it."""

    mailbox: str
    uidvalidity: int
    uid: int
    message_id: str
    content_hash: str
    step: str
    route: str | None
    folder: str | None
    case_id: str | None
    sender: str | None
    record: dict[str, Any] | None
    attempts: int
    next_attempt: float
    last_error: str | None
    outcome: str | None

    def reached(self, step: str) -> bool:
        return STEPS.index(self.step) >= STEPS.index(step)


@dataclass(frozen=True)
class CaseRow:
    """A case (SPEC 7): whose it is, which team has it, what evidence it holds."""

    case_id: str
    sender: str
    category: str
    route: str
    issue_type: str | None
    required: tuple[str, ...]
    present: tuple[str, ...]
    status: str
    # the SLA clock (issue 13): Unix times, None until known
    priority: str | None = None
    received: float | None = None
    acknowledged: float | None = None
    answered: float | None = None
    due: float | None = None
    escalated: float | None = None


@dataclass(frozen=True)
class NewCorrection:
    """An analyst's correction as it is recorded (the text is already redacted)."""

    message_id: str
    case_id: str | None
    original_category: str | None
    original_route: str | None
    corrected_category: str
    text: str
    language: str
    source: str
