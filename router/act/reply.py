"""Acknowledgements to customers (SPEC 6); the case is joined before (cases.py).

Replies follow RFC 3834: `Auto-Submitted: auto-replied`, `In-Reply-To` and
`References` set, sent with a null envelope sender (section 3.3) to the
Reply-To or From address (section 4, a service response), never to mail the
automatic-sender rules flagged (decided offline), never twice for a message,
at most once per sender per case, and within per-sender hourly and daily caps.
"""

from __future__ import annotations

import logging
import re
import time
import tomllib
from email.message import EmailMessage
from email.utils import formatdate
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from router import metrics, sla
from router.act.forward import derived_message_id
from router.act.headers import PLAIN_MSG_ID, SMTP_POLICY, clean, constant_line, header_line, text_body
from router.act.outbox import Outbox, PermFail
from router.config import Settings
from router.decide import reply_address
from router.records import Decision, ParsedMail
from router.state import MessageRow, Store

log = logging.getLogger(__name__)



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


def reply_context(settings: Settings, decision: Decision, lang: str) -> dict[str, Any]:
    names = _names()[lang]
    it = settings.issue_type(decision.subject.type)
    issue = None
    if it:
        want_zh = lang == "zh"
        issue = next((a for a in it.aliases if bool(re.search(r"[\u4e00-\u9fff]", a)) == want_zh), None)
    missing = [k for k in decision.required if k not in decision.evidence.present]
    report = decision.phishing_report
    return {
        "case_id": decision.case_id,
        # the case's real window (its priority's SLA); the configured text for records made before priorities
        "response_time": (sla.hours_text(settings.sla.window_hours(decision.priority, decision.route))
                          if decision.priority else settings.replies.response_time),
        "phishing": report is not None,
        "clicked": bool(report and report.get("clicked")),
        "official_domains": list(settings.teams.official_domains),
        "missing": [names["evidence"].get(k, k) for k in missing],
        "secrets": [names["secrets"].get(k, k) for k in decision.secrets],
        "subject_hint": decision.subject.status != "ok",
        "subject_example": subject_example(settings, decision.subject.type, decision.category, lang),
        "issue": issue,
    }


def _reply_parts(settings: Settings, mail: ParsedMail, decision: Decision, template: str) -> tuple[list[tuple[str, str]], str]:
    """The acknowledgement's headers, in order, and its text: one source for both ways of writing it."""
    subject, body = render(template, reply_context(settings, decision, template), settings.replies.templates)
    to = reply_address(mail)
    refs = [r for r in mail.references if r != mail.message_id][-10:] + [mail.message_id]
    headers = [
        ("From", settings.smtp.from_address),
        ("To", clean(to, 320)),
        ("Subject", subject),
        ("Date", formatdate(localtime=False)),
        ("Message-ID", derived_message_id(mail.message_id, "reply", to, settings)),
        ("In-Reply-To", mail.message_id),
        ("References", " ".join(refs)),
        ("Auto-Submitted", "auto-replied"),
        ("X-Auto-Response-Suppress", "All"),
        (settings.loop_header, settings.smtp.from_address),
    ]
    return headers, body


def build_reply(settings: Settings, mail: ParsedMail, decision: Decision, template: str) -> EmailMessage:
    headers, body = _reply_parts(settings, mail, decision, template)
    msg = EmailMessage(policy=SMTP_POLICY)
    for name, value in headers:
        msg[name] = value
    msg.set_content(body)
    return msg


def reply_bytes(settings: Settings, mail: ParsedMail, decision: Decision, template: str) -> tuple[bytes, str]:
    """The acknowledgement `build_reply` makes, as smtplib would send it (CRLF lines), and its Message-ID.

    Written without `EmailMessage` and its header registry (about two thirds
    of the cost of an acknowledgement): the same headers in the same order
    (`_reply_parts`), each the bytes `BytesGenerator` writes
    (`headers.header_line`), the text part encoded as `set_content` encodes
    it.  tests/test_reply_bytes.py holds the two paths to the same bytes but
    for the Date.
    """
    headers, body = _reply_parts(settings, mail, decision, template)
    content, text = text_body(body)
    wire = b"".join(header_line(name, value) for name, value in headers) + content + constant_line("MIME-Version", "1.0") + b"\r\n" + text
    message_id = dict(headers)["Message-ID"]
    if not PLAIN_MSG_ID.fullmatch(message_id):  # what the registry makes of an odd one (an odd From domain)
        message_id = str(SMTP_POLICY.header_factory("Message-ID", message_id))
    return wire, message_id


# -- the replier -------------------------------------------------------------
class Replier:
    def __init__(self, settings: Settings, state: Store, outbox: Outbox) -> None:
        self.settings = settings
        self.state = state
        self.outbox = outbox

    def reply(self, row: MessageRow, mail: ParsedMail, decision: Decision) -> None:
        """Send the acknowledgement the decision plans, if still allowed."""
        template = decision.reply_template
        sender = reply_address(mail)
        case_id = decision.case_id
        if template is None:
            reason = (decision.reply.reason if decision.reply else None) or "not_planned"
            self._record(mail.message_id, case_id, sender, "suppressed", reason)
            return
        prior = self.state.reply_outcome(mail.message_id)
        if prior:
            if prior == "sending":
                self._record(mail.message_id, case_id, sender, "suppressed", "uncertain_after_crash", replace_row=True)
            return
        limited = self._limit(sender, case_id)
        if limited:
            self._record(mail.message_id, case_id, sender, "suppressed", limited)
            log.info("reply suppressed", extra={"message_id": mail.message_id, "case_id": case_id, "reason": limited})
            return
        if sender.isascii():
            wire, reply_id = reply_bytes(self.settings, mail, decision, template)
            msg = None
        else:  # SMTPUTF8 (RFC 6531): smtplib's send_message writes the headers in UTF-8
            msg = build_reply(self.settings, mail, decision, template)
            reply_id = str(msg["Message-ID"])
        self._record(mail.message_id, case_id, sender, "sending", None)
        try:
            if msg is None:
                self.outbox.send_bytes(wire, "", [sender])  # RFC 3834 3.3: null envelope sender
            else:
                self.outbox.send(msg, "", [sender])
        except PermFail as exc:
            # The customer's address is refused for good (a typo, a dead domain). The
            # acknowledgement is lost, not the message: it was forwarded and is filed as usual.
            self._record(mail.message_id, case_id, sender, "failed", "permanent_smtp_failure", replace_row=True)
            metrics.REPLIES.labels(outcome="failed", reason="permanent_smtp_failure").inc()
            log.warning("acknowledgement refused; not retried",
                        extra={"message_id": mail.message_id, "case_id": case_id, "error": str(exc)[:200]})
            self.state.event("reply_failed", mail.message_id, f"acknowledgement refused: {str(exc)[:200]}")
            return
        except BaseException:
            self.state.forget_unsent_reply(mail.message_id)
            raise
        self._record(mail.message_id, case_id, sender, "sent", template, replace_row=True)
        self.state.mark_acknowledged(case_id, time.time())  # the SLA clock: acknowledged
        # The customer answers our acknowledgement: its Message-ID leads back to the case.
        self.state.link_message(case_id, reply_id)
        metrics.REPLIES.labels(outcome="sent", reason=template).inc()
        self.state.event("replied", mail.message_id, f"acknowledgement ({template}) as {reply_id}")
        log.info("replied", extra={"message_id": mail.message_id, "case_id": case_id, "template": template})

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
