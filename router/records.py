"""The dataclasses that flow through the pipeline.

`ParsedMail` is what parse.py makes of raw bytes; the understand/ checks read
it and return findings; decide.py turns findings into a `Decision`, whose
`to_record()` is the SPEC 8 decision record.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Attachment:
    """One attachment or inline part that is not the body text."""

    filename: str
    content_type: str
    payload: bytes
    inline: bool = False
    content_id: str | None = None


@dataclass(frozen=True)
class ParsedMail:
    """A message reduced to what the checks need; never raises to build."""

    message_id: str
    subject: str
    from_address: str
    from_name: str
    reply_to: str
    return_path: str | None  # None: header absent; "": null path <>
    to: tuple[str, ...]
    cc: tuple[str, ...]
    headers: tuple[tuple[str, str], ...]  # (lower-cased name, decoded value), in order
    content_types: tuple[str, ...]  # every MIME part's content type, lower-cased
    body: str  # the whole body as text (HTML turned into text)
    new_text: str  # the body without quoted history and signature
    attachments: tuple[Attachment, ...]
    in_reply_to: str = ""
    references: tuple[str, ...] = ()
    size: int = 0
    defects: tuple[str, ...] = ()
    problem: str | None = None  # set when the mail could not be parsed safely -> quarantine

    def header(self, name: str) -> str | None:
        """First value of a header (case-insensitive), or None."""
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def header_all(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self.headers if key == name]


@dataclass(frozen=True)
class SubjectInfo:
    status: str  # ok | missing_uid | unknown_type | absent
    type: str | None
    uid: str | None
    reason: str


@dataclass(frozen=True)
class SenderInfo:
    address: str
    authenticated: bool
    automated: bool
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rejection:
    filename: str
    reason: str


@dataclass(frozen=True)
class EvidenceReport:
    present: tuple[str, ...]
    rejected: tuple[Rejection, ...]
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class SecretHit:
    kind: str  # password | otp | private_key | seed_phrase | api_secret
    start: int
    end: int


@dataclass(frozen=True)
class Prediction:
    category: str
    confidence: float
    version: str
    probabilities: dict[str, float] = field(default_factory=dict)
    below_threshold: bool = False
    stage: str = ""  # which model decided: fast | careful | fast (why the careful one was not used)


@dataclass
class Decision:
    """Everything decided about one message; `to_record` is SPEC 8."""

    message_id: str
    case_id: str
    language: str
    subject: SubjectInfo
    category: str
    confidence: float
    model: Prediction | None
    required: tuple[str, ...]
    evidence: EvidenceReport
    secrets: tuple[str, ...]
    sender: SenderInfo
    route: str
    actions: list[dict[str, str]]
    reasons: list[str]
    file: str | None = None
    reply: dict[str, str | None] = field(default_factory=dict)  # {"template", "reason"}: the reply plan

    def to_record(self) -> dict[str, Any]:
        present = list(self.evidence.present)
        record: dict[str, Any] = {}
        if self.file is not None:
            record["file"] = self.file
        record.update(
            {
                "message_id": self.message_id,
                "case_id": self.case_id,
                "language": self.language,
                "subject": {
                    "status": self.subject.status,
                    "type": self.subject.type,
                    "uid": self.subject.uid,
                },
                "category": self.category,
                "confidence": round(self.confidence, 4),
                "model": (
                    {
                        "category": self.model.category,
                        "confidence": round(self.model.confidence, 4),
                        "version": self.model.version,
                        **({"stage": self.model.stage} if self.model.stage else {}),
                    }
                    if self.model
                    else None
                ),
                "evidence": {
                    "required": list(self.required),
                    "present": present,
                    "missing": [k for k in self.required if k not in present],
                    "rejected": [asdict(r) for r in self.evidence.rejected],
                },
                "secrets": list(self.secrets),
                "sender": {
                    "address": self.sender.address,
                    "authenticated": self.sender.authenticated,
                    "automated": self.sender.automated,
                },
                "route": self.route,
                "actions": list(self.actions),
                "reply": dict(self.reply) or None,
                "reasons": list(self.reasons),
            }
        )
        return record
