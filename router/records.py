"""The dataclasses that flow through the pipeline.

`ParsedMail` is what the parse package makes of raw bytes; the understand/ checks read
it and return findings; decide.py turns findings into a `Decision`.  Every
later stage (cases, forward, reply, file) reads the typed `Decision`; its
`to_record()` is the SPEC 8 decision record, made only at the edges (the
state store, JSON output, logs), and `Decision.from_record` reads one back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class Attachment:
    """One attachment or inline part that is not the body text."""

    filename: str
    content_type: str
    payload: bytes
    inline: bool = False
    content_id: str | None = None
    referenced: bool = False  # the HTML body shows it by "cid:" (RFC 2392): a picture in the text


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
    security_review: bool = False  # P(security) in the review band below the security threshold (issue 12)


@dataclass(frozen=True)
class Forward:
    """Send a copy to a team's address (SPEC 7)."""

    to: str


@dataclass(frozen=True)
class Reply:
    """Acknowledge the customer with this template (SPEC 6)."""

    template: str


@dataclass(frozen=True)
class File:
    """Move the original into this folder: the last action, always present."""

    folder: str


Action = Forward | Reply | File


@dataclass(frozen=True)
class ReplyPlan:
    """Whether an acknowledgement is planned: the template, or why not (the reason key status counts)."""

    template: str | None
    reason: str | None


@dataclass(frozen=True)
class Routing:
    """The route table and the filing folders: what actions a route means."""

    routes: Mapping[str, str]  # route -> team address
    folders: Mapping[str, str]  # [folders] key -> mailbox folder

    def folder(self, route: str, has_secrets: bool) -> str:
        """Where the original is filed: the restricted folder when it held secrets
        (SPEC 5), except quarantine, which keeps dangerous mail together."""
        if has_secrets and route != "quarantine":
            return self.folders["restricted"]
        return self.folders.get(route, self.folders["review"])

    def actions(self, route: str, template: str | None, has_secrets: bool) -> tuple[Action, ...]:
        """Forward to the route's team (if it has one), acknowledge, file."""
        out: list[Action] = []
        if route in self.routes:
            out.append(Forward(self.routes[route]))
        if template:
            out.append(Reply(template))
        out.append(File(self.folder(route, has_secrets)))
        return tuple(out)


def _action_record(a: Action) -> dict[str, str]:
    if isinstance(a, Forward):
        return {"type": "forward", "to": a.to}
    if isinstance(a, Reply):
        return {"type": "auto_reply", "template": a.template}
    return {"type": "move", "folder": a.folder}


def _action_from(d: Mapping[str, str]) -> Action:
    kind = d["type"]
    if kind == "forward":
        return Forward(d["to"])
    if kind == "auto_reply":
        return Reply(d["template"])
    if kind == "move":
        return File(d["folder"])
    raise ValueError(f"unknown action type {kind!r}")


@dataclass(frozen=True)
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
    actions: tuple[Action, ...]
    reasons: tuple[str, ...]
    file: str | None = None
    reply: ReplyPlan | None = None
    language_detail: str | None = None  # zh-Hans | zh-Hant | en | ISO 639-1 code | und (language.detail)
    # what the teams receive (issue 13)
    entities: Mapping[str, list[Any]] = field(default_factory=dict)  # entities.to_record(): kind -> values
    priority: str | None = None  # urgent | high | normal | low (None: decided before priorities)
    phishing_report: Mapping[str, Any] | None = None  # phishing.PhishingReport.to_record()
    chaser: bool = False  # the words press an open request ("third time asking", "还没有回复")
    lure_secrets: tuple[str, ...] = ()  # secret kinds inside forwarded lures: redacted, not the customer's
    escalated: bool = False  # this message escalates its case (a chaser past the SLA share)

    # -- reading the actions ------------------------------------------------------
    @property
    def forwards(self) -> tuple[str, ...]:
        """The team addresses to forward to."""
        return tuple(a.to for a in self.actions if isinstance(a, Forward))

    @property
    def reply_template(self) -> str | None:
        return next((a.template for a in self.actions if isinstance(a, Reply)), None)

    @property
    def folder(self) -> str:
        """Where the original is filed (the File action)."""
        return next(a.folder for a in self.actions if isinstance(a, File))

    # -- changing it: each returns a new Decision ------------------------------------
    def because(self, why: str) -> Decision:
        """The same decision with one more reason."""
        return replace(self, reasons=(*self.reasons, why))

    def with_route(self, route: str, why: str, routing: Routing) -> Decision:
        """The decision routed to `route` instead, its forward and filing rebuilt
        from the route table; the planned acknowledgement stays."""
        return replace(self, route=route, reasons=(*self.reasons, why),
                       actions=routing.actions(route, self.reply_template, bool(self.secrets)))

    @property
    def redacted(self) -> bool:
        """The team's copy is a redacted rebuild: the customer's secrets, or codes inside a forwarded lure."""
        return bool(self.secrets or self.lure_secrets)

    def set_aside(self, where: str, folder: str, why: str) -> Decision:
        """Filed in a set-aside folder (quarantine, dead-letter) after its actions ran:
        what was done stays in the actions, the filing says where it really went."""
        kept = tuple(a for a in self.actions if not isinstance(a, File))
        return replace(self, route=where, actions=(*kept, File(folder)), reasons=(*self.reasons, why))

    # -- the record (SPEC 8), at the edges ---------------------------------------------
    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> Decision:
        """The Decision a stored record describes (the inverse of `to_record`)."""
        ev, subj, snd, model, plan = r["evidence"], r["subject"], r["sender"], r.get("model"), r.get("reply")
        return cls(
            message_id=r["message_id"],
            case_id=r["case_id"],
            language=r["language"],
            subject=SubjectInfo(subj["status"], subj.get("type"), subj.get("uid"), ""),
            category=r["category"],
            confidence=float(r["confidence"]),
            model=Prediction(model["category"], float(model["confidence"]), model["version"]) if model else None,
            required=tuple(ev["required"]),
            evidence=EvidenceReport(tuple(ev["present"]), tuple(Rejection(**x) for x in ev["rejected"])),
            secrets=tuple(r["secrets"]),
            sender=SenderInfo(snd["address"], bool(snd["authenticated"]), bool(snd["automated"])),
            route=r["route"],
            actions=tuple(_action_from(a) for a in r["actions"]),
            reasons=tuple(r["reasons"]),
            file=r.get("file"),
            reply=ReplyPlan(plan.get("template"), plan.get("reason")) if plan else None,
            language_detail=r.get("language_detail"),
            entities=dict(r.get("entities") or {}),
            priority=r.get("priority"),
            phishing_report=r.get("phishing_report"),
            chaser=bool(r.get("chaser", False)),
            lure_secrets=tuple(r.get("lure_secrets") or ()),
            escalated=bool(r.get("escalated", False)),
        )

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
                "language_detail": self.language_detail,
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
                "actions": [_action_record(a) for a in self.actions],
                "reply": {"template": self.reply.template, "reason": self.reply.reason} if self.reply else None,
                "reasons": list(self.reasons),
                "entities": {k: list(v) for k, v in self.entities.items()},
                "priority": self.priority,
                "phishing_report": dict(self.phishing_report) if self.phishing_report is not None else None,
                "chaser": self.chaser,
                "lure_secrets": list(self.lure_secrets),
                "escalated": self.escalated,
            }
        )
        return record
