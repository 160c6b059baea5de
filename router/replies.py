"""Acknowledgements to customers, and the cases they belong to (SPEC 6, 7).

Replies follow RFC 3834: `Auto-Submitted: auto-replied`, `In-Reply-To` and
`References` set, sent with a null envelope sender (section 3.3) to the
Reply-To or From address (section 4, a service response), never to mail the
automatic-sender rules flagged (decided offline), never twice for a message,
at most once per sender per case, and within per-sender hourly and daily caps.
"""

from __future__ import annotations

import email.policy
import logging
import re
import tomllib
from dataclasses import replace
from email.message import EmailMessage
from email.utils import formatdate
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from router import metrics
from router.act.forward import derived_message_id
from router.act.headers import clean
from router.act.outbox import Outbox, PermFail
from router.config import Settings
from router.decide import folder_for, reply_address
from router.records import Decision, EvidenceReport, ParsedMail
from router.state import CaseRow, MessageRow, Store

log = logging.getLogger(__name__)

CASE_TAG = re.compile(r"\[\s*Case\s*#\s*([0-9A-Z]{6,12})\s*\]", re.IGNORECASE)
TEAM_ROUTES = ("security", "compliance", "general")


# -- templates ---------------------------------------------------------------
@lru_cache(maxsize=4)
def _names() -> dict[str, Any]:
    return tomllib.loads(resources.files("router").joinpath("templates/names.toml").read_text(encoding="utf-8"))


def _template_source(folder: Path | None, lang: str) -> str:
    if folder is not None:
        path = folder / f"{lang}.txt"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return resources.files("router").joinpath(f"templates/{lang}.txt").read_text(encoding="utf-8")


@lru_cache(maxsize=16)
def _compiled(source: str) -> jinja2.Template:
    """Templates are re-read on every reply (ops may edit them) but compiled once per text."""
    env = jinja2.Environment(autoescape=False, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.from_string(source)


def render(lang: str, context: dict[str, Any], folder: Path | None = None) -> tuple[str, str]:
    """(subject, body) of a reply; plain text, so autoescaping is off."""
    text = _compiled(_template_source(folder, lang)).render(**context)
    first, _, body = text.partition("\n")
    subject = first.removeprefix("Subject:").strip() if first.startswith("Subject:") else ""
    return clean(subject, 250), body.lstrip("\n")


def subject_example(settings: Settings, type_id: str | None, category: str, lang: str) -> str:
    it = settings.issue_type(type_id) or next((t for t in settings.issue_types if t.category == category), None)
    if it is None:
        return "一般咨询-UID12345678" if lang == "zh" else "General Inquiry - UID12345678"
    want_zh = lang == "zh"
    alias = next((a for a in it.aliases if bool(re.search(r"[\u4e00-\u9fff]", a)) == want_zh), it.aliases[0])
    return f"{alias}-UID12345678"


def reply_context(settings: Settings, record: dict[str, Any], lang: str) -> dict[str, Any]:
    names = _names()[lang]
    it = settings.issue_type(record["subject"]["type"])
    issue = None
    if it:
        want_zh = lang == "zh"
        issue = next((a for a in it.aliases if bool(re.search(r"[\u4e00-\u9fff]", a)) == want_zh), None)
    return {
        "case_id": record["case_id"],
        "response_time": settings.replies.response_time,
        "missing": [names["evidence"].get(k, k) for k in record["evidence"]["missing"]],
        "secrets": [names["secrets"].get(k, k) for k in record["secrets"]],
        "subject_hint": record["subject"]["status"] != "ok",
        "subject_example": subject_example(settings, record["subject"]["type"], record["category"], lang),
        "issue": issue,
    }


def build_reply(settings: Settings, mail: ParsedMail, record: dict[str, Any], template: str) -> EmailMessage:
    subject, body = render(template, reply_context(settings, record, template), settings.replies.templates)
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = settings.smtp.from_address
    msg["To"] = clean(reply_address(mail), 320)
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = derived_message_id(mail.message_id, "reply", reply_address(mail), settings)
    msg["In-Reply-To"] = mail.message_id
    refs = [r for r in mail.references if r != mail.message_id][-10:] + [mail.message_id]
    msg["References"] = " ".join(refs)
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Auto-Response-Suppress"] = "All"
    msg[settings.loop_header] = settings.smtp.from_address
    msg.set_content(body)
    return msg


# -- the replier -------------------------------------------------------------
class Replier:
    def __init__(self, settings: Settings, state: Store, outbox: Outbox) -> None:
        self.settings = settings
        self.state = state
        self.outbox = outbox

    def assign_case(self, decision: Decision, mail: ParsedMail) -> Decision:
        """Join a follow-up to its case, or open a new case for this message."""
        sender = mail.from_address
        linked = self.state.case_of([mail.in_reply_to, *reversed(mail.references)]) if (mail.in_reply_to or mail.references) else None
        tagged = None
        m = CASE_TAG.search(mail.subject)
        if m:
            tagged = self.state.case(m.group(1).upper())
        case = linked or tagged
        if case and case.sender != sender:
            if decision.route in TEAM_ROUTES:
                decision = _reroute(decision, "review", self.settings,
                                    f"review: refers to case #{case.case_id} of another sender")
            else:
                decision.reasons.append(f"refers to case #{case.case_id} of another sender; not joined")
            case = None
        if case is None:
            self.state.open_case(decision.case_id, sender, decision.category, decision.route, decision.subject.type,
                                 decision.required, decision.evidence.present)
            self.state.link_message(decision.case_id, mail.message_id)
            return decision
        return self._join(case, decision, mail)

    def _join(self, case: CaseRow, decision: Decision, mail: ParsedMail) -> Decision:
        case_id = case.case_id
        required = case.required or decision.required
        before = set(case.present)
        present = tuple(k for k in ("identity", "transactions", "activity_log", "source_of_funds")
                        if k in before or k in decision.evidence.present)
        was_missing = [k for k in required if k not in before]
        now_missing = [k for k in required if k not in present]
        decision = replace(decision, case_id=case_id, required=required,
                           evidence=EvidenceReport(present, decision.evidence.rejected, decision.evidence.reasons),
                           reasons=list(decision.reasons))
        decision.reasons.append(f"follow-up joins case #{case_id}")
        if was_missing and not now_missing:
            decision.reasons.append(f"evidence for case #{case_id} is now complete")
        if decision.category != "security" and case.route in TEAM_ROUTES and decision.route != case.route and (
            decision.route in TEAM_ROUTES
            # A follow-up that alone would need a person only for want of a clear category
            # (no model, low confidence, disagreement) belongs to the team that has the case;
            # an unauthenticated sender still goes to review.
            or (decision.route == "review" and decision.sender.authenticated)
        ):
            decision = _reroute(decision, case.route, self.settings, f"follow-up goes to the case's team ({case.route})")
        self.state.link_message(case_id, mail.message_id)
        self.state.update_case(case_id, present=present, route=decision.route if decision.route in TEAM_ROUTES else case.route)
        return decision

    def reply(self, row: MessageRow, mail: ParsedMail, record: dict[str, Any]) -> None:
        """Send the acknowledgement planned in the record, if still allowed."""
        template = next((a["template"] for a in record["actions"] if a["type"] == "auto_reply"), None)
        sender = reply_address(mail)
        if template is None:
            reason = _no_reply_reason(record)
            self._record(mail.message_id, record["case_id"], sender, "suppressed", reason)
            return
        prior = self.state.reply_outcome(mail.message_id)
        if prior:
            if prior == "sending":
                self._record(mail.message_id, record["case_id"], sender, "suppressed", "uncertain_after_crash", replace_row=True)
            return
        limited = self._limit(sender, record["case_id"])
        if limited:
            self._record(mail.message_id, record["case_id"], sender, "suppressed", limited)
            log.info("reply suppressed", extra={"message_id": mail.message_id, "case_id": record["case_id"], "reason": limited})
            return
        msg = build_reply(self.settings, mail, record, template)
        self._record(mail.message_id, record["case_id"], sender, "sending", None)
        try:
            self.outbox.send(msg, "", [sender])  # RFC 3834 3.3: null envelope sender
        except PermFail as exc:
            # The customer's address is refused for good (a typo, a dead domain). The
            # acknowledgement is lost, not the message: it was forwarded and is filed as usual.
            self._record(mail.message_id, record["case_id"], sender, "failed", "permanent_smtp_failure", replace_row=True)
            metrics.REPLIES.labels(outcome="failed", reason="permanent_smtp_failure").inc()
            log.warning("acknowledgement refused; not retried",
                        extra={"message_id": mail.message_id, "case_id": record["case_id"], "error": str(exc)[:200]})
            self.state.event("reply_failed", mail.message_id, f"acknowledgement refused: {str(exc)[:200]}")
            return
        except BaseException:
            self.state.forget_unsent_reply(mail.message_id)
            raise
        self._record(mail.message_id, record["case_id"], sender, "sent", template, replace_row=True)
        # The customer answers our acknowledgement: its Message-ID leads back to the case.
        self.state.link_message(record["case_id"], str(msg["Message-ID"]))
        metrics.REPLIES.labels(outcome="sent", reason=template).inc()
        self.state.event("replied", mail.message_id, f"acknowledgement ({template}) as {msg['Message-ID']}")
        log.info("replied", extra={"message_id": mail.message_id, "case_id": record["case_id"], "template": template})

    def _limit(self, sender: str, case_id: str) -> str | None:
        if self.state.case_acknowledged(sender, case_id):
            return "case_already_acknowledged"
        if self.state.sent_within(sender, 3600) >= self.settings.replies.per_sender_per_hour:
            return "rate_limited_hour"
        if self.state.sent_within(sender, 86400) >= self.settings.replies.per_sender_per_day:
            return "rate_limited_day"
        return None

    def _record(self, message_id: str, case_id: str, sender: str, outcome: str, reason: str | None, replace_row: bool = False) -> None:
        self.state.record_reply(message_id, case_id, sender, outcome, reason, replace=replace_row)
        if outcome == "suppressed":
            metrics.REPLIES.labels(outcome="suppressed", reason=reason or "unknown").inc()


def _no_reply_reason(record: dict[str, Any]) -> str:
    """The reason key the decision gave for not planning a reply (status counts)."""
    return str((record.get("reply") or {}).get("reason") or "not_planned")


def _reroute(decision: Decision, route: str, settings: Settings, reason: str) -> Decision:
    actions = [a for a in decision.actions if a["type"] != "forward" and a["type"] != "move"]
    new_actions: list[dict[str, str]] = []
    if route in settings.routes:
        new_actions.append({"type": "forward", "to": settings.routes[route]})
    new_actions += actions
    folder = folder_for(route, bool(decision.secrets), settings)
    new_actions.append({"type": "move", "folder": folder})
    reasons = list(decision.reasons) + [reason]
    return replace(decision, route=route, actions=new_actions, reasons=reasons)
