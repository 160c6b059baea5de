"""The copy forwarded to a team (SPEC 7).

The forward carries the original as a message/rfc822 attachment (a redacted
rebuild when secrets were found), a subject prefix with category, UID and
case id, and X-Router-* headers.  Its Message-ID is derived from the
original's, the purpose ("fwd") and the recipient, so a copy re-sent after a crash is
recognisably the same mail downstream.
"""

from __future__ import annotations

import email
import email.generator
import email.policy
import hashlib
import io
import random
import re
import sys
from email.message import EmailMessage, Message
from email.policy import EmailPolicy
from email.utils import formatdate

from router.act.headers import PLAIN_MSG_ID, SMTP_POLICY, clean, constant_line, header_line, text_body
from router.act.outbox import Outbox
from router.config import Settings
from router.records import Decision, ParsedMail
from router.state import Store
from router.understand import entities, urgency
from router.understand.secrets import redact


class _ForwardPolicy(EmailPolicy):
    """SMTP policy that writes the machine-readable X-Router-Entities on one line.

    Its JSON has no folding white space, and the default 78-character limit
    would turn it into RFC 2047 encoded words that a JSON reader cannot take.
    RFC 5322 section 2.1.1 allows lines up to 998 characters; the value is
    kept shorter than that (`_ENTITIES_MAX`).
    """

    def fold(self, name: str, value: str) -> str:
        if name.lower() == entities.HEADER.lower():
            return EmailPolicy.fold(self.clone(max_line_length=998), name, value)  # calls _fold, not this fold
        return super().fold(name, value)

    def fold_binary(self, name: str, value: str) -> bytes:  # what BytesGenerator (smtplib) calls
        if name.lower() == entities.HEADER.lower():
            return EmailPolicy.fold_binary(self.clone(max_line_length=998), name, value)
        return super().fold_binary(name, value)


# Keep the attached original's headers as they came (no refolding): refolding a
# decoded value can raise on CR/LF from encoded words, and it changes the copy.
# SMTP_POLICY carries the header registry that makes each header class once.
_POLICY = _ForwardPolicy(**SMTP_POLICY.clone(refold_source="none").__dict__)
_ENTITIES_MAX = 900


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[-1] if "@" in address else "router.invalid"


def derived_message_id(original_id: str, purpose: str, to: str, settings: Settings) -> str:
    """Deterministic Message-ID for something we send about `original_id`."""
    h = hashlib.sha256(f"{original_id}|{purpose}|{to}".encode("utf-8", "replace")).hexdigest()[:32]
    return f"<router.{purpose}.{h}@{domain_of(settings.smtp.from_address)}>"


ESCALATION_TAG = "[ESCALATED]"
ESCALATION_HEADER = "X-Router-Escalation"


def subject_prefix(decision: Decision, purpose: str = "fwd") -> str:
    """[ESCALATED] for an escalation, [URGENT] for an urgent case, then category, UID and case id."""
    uid = decision.subject.uid
    parts = [ESCALATION_TAG] if purpose == "escalation" else []
    if tag := urgency.subject_tag(decision.priority or "normal"):
        parts.append(tag)
    parts.append(f"[{decision.category.upper()}]")
    if uid:
        parts.append(f"[UID {uid}]")
    parts.append(f"[Case #{decision.case_id}]")
    return "".join(parts)


def _missing(decision: Decision) -> list[str]:
    return [k for k in decision.required if k not in decision.evidence.present]


def evidence_status(decision: Decision) -> str:
    rejected = decision.evidence.rejected
    if rejected:
        status = "rejected:" + ",".join(clean(r.filename, 60) or "unnamed" for r in rejected)
        return status[:200]
    if not decision.required:
        return "not-required"
    missing = _missing(decision)
    return "complete" if not missing else "missing:" + ",".join(missing)


def _forward_parts(raw: bytes, mail: ParsedMail, decision: Decision, to: str, settings: Settings,
                   purpose: str) -> tuple[list[tuple[str, str]], str, list[str]]:
    """The forward's headers (in order), its summary text and what SMTP would refuse in the original."""
    confidence = round(decision.confidence, 4)  # as the record states it
    subject = clean(redact(mail.subject)) or "(no subject)"
    headers = [
        ("From", settings.smtp.from_address),
        ("To", to),
        ("Subject", f"{subject_prefix(decision, purpose)} {subject}"),
        ("Date", formatdate(localtime=False)),
        ("Message-ID", derived_message_id(mail.message_id, purpose, to, settings)),
        ("Auto-Submitted", "auto-forwarded"),
        (settings.loop_header, settings.smtp.from_address),
    ]
    if mail.from_address:
        headers.append(("Reply-To", clean(mail.from_address)))
    headers += [
        ("X-Router-Category", decision.category),
        ("X-Router-Route", decision.route),
        ("X-Router-Confidence", f"{confidence:.4f}"),
        ("X-Router-Case-Id", decision.case_id),
        ("X-Router-Evidence", evidence_status(decision)),
        ("X-Router-Language", decision.language),
        ("X-Router-Model-Version", (decision.model.version if decision.model else None) or "none"),
        ("X-Router-Secrets", ",".join(decision.secrets) or "none"),
        ("X-Router-Original-Message-ID", clean(mail.message_id, 500)),
    ]
    if decision.priority:
        headers.append(("X-Router-Priority", decision.priority))
        headers += urgency.priority_headers(decision.priority)
    found = entities_of(decision)
    head = found
    value = entities.header_value(head)
    while len(value) > _ENTITIES_MAX and head:
        head = head[:-1]  # the body's block keeps them all
        value = entities.header_value(head)
    if head:
        headers.append((entities.HEADER, value))
    if decision.phishing_report is not None:
        headers.append(("X-Router-Phishing", "clicked" if decision.phishing_report.get("clicked") else "report"))
    if purpose == "escalation":
        headers.append((ESCALATION_HEADER, f"case {decision.case_id}: chaser past the SLA share"))
    problems = [] if decision.redacted else smtp_problems(raw)
    body = summary_text(mail, decision, problems)
    block = entities.forward_block(found, settings.teams.explorers)
    if block:
        body = f"What to act on:\n{block}\n\n{body}"
    if purpose == "escalation":
        body = (f"ESCALATION: the customer chased case #{decision.case_id} after the configured share of its "
                f"response window passed, and it is not answered yet.\n\n{body}")
    return headers, body, problems


def build_forward(raw: bytes, mail: ParsedMail, decision: Decision, to: str, settings: Settings, purpose: str = "fwd") -> EmailMessage:
    """The copy a team gets: our summary first, the original (redacted when it held secrets) attached.

    Its Message-ID is derived from the original's, `to` and `purpose`
    (`derived_message_id`), so a copy re-sent after a crash is the same message.
    """
    headers, body, problems = _forward_parts(raw, mail, decision, to, settings, purpose)
    msg = EmailMessage(policy=_POLICY)
    for name, value in headers:
        msg[name] = value
    msg.set_content(body)
    if decision.redacted:
        msg.add_attachment(redacted_copy(mail), disposition="attachment", filename="original.eml")
    elif problems:
        # message/rfc822 may only be 7bit, 8bit or binary (RFC 2046 section 5.2.1),
        # so an original SMTP would refuse is sent as bytes in base64, unchanged.
        msg.add_attachment(raw, maintype="application", subtype="octet-stream", filename="original.eml")
    else:
        msg.add_attachment(_as_message(raw), disposition="attachment", filename="original.eml")
    return msg


def smtp_problems(raw: bytes) -> list[str]:
    """What in the original an SMTP server may refuse when it is relayed as it is.

    RFC 5322 section 2.1.1 limits a line to 998 octets (aiosmtpd and Postfix
    answer "500 Line too long"); NUL is never allowed (RFC 5322 section 2.2,
    RFC 2045 section 2.7); 8-bit header bytes need SMTPUTF8 (RFC 6531).
    """
    problems = []
    longest = max((len(line) for line in raw.split(b"\n")), default=0)
    if longest > 999:  # 998 octets + the CR of CRLF
        problems.append(f"lines longer than the 998 octets SMTP allows (longest {longest})")
    if b"\x00" in raw:
        problems.append("NUL bytes")
    header = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    if any(b > 0x7F for b in header):
        problems.append("raw 8-bit bytes in its headers")
    return problems


def summary_text(mail: ParsedMail, decision: Decision, problems: list[str] | None = None) -> str:
    subj = decision.subject
    present = decision.evidence.present
    lines = [
        f"Case #{decision.case_id} - {decision.category} (route {decision.route}, confidence {round(decision.confidence, 4):.2f})",
        f"From: {clean(mail.from_address)}",
        f"Subject status: {subj.status}"
        + (f", type {subj.type}" if subj.type else "")
        + (f", UID {subj.uid}" if subj.uid else ""),
        f"Language: {decision.language}",
        f"Evidence required: {', '.join(decision.required) or 'none'}; present: {', '.join(present) or 'none'}; "
        f"missing: {', '.join(_missing(decision)) or 'none'}",
    ]
    if decision.priority:
        lines.insert(1, f"Priority: {decision.priority}")
    if decision.phishing_report is not None:
        rep = decision.phishing_report
        lines.append("PHISHING REPORT: " + "; ".join(rep.get("reasons", [])[:5])
                     + (" - the customer says they clicked or typed a code there" if rep.get("clicked") else ""))
        if rep.get("urls"):
            lines.append("Suspicious links (do not open): " + ", ".join(clean(u, 200).replace("http", "hxxp", 1) for u in rep["urls"][:10]))
    if decision.lure_secrets:
        lines.append(f"The forwarded lure holds {', '.join(decision.lure_secrets)}; the attached copy is redacted.")
    if decision.secrets:
        lines.append(
            f"WARNING: the customer sent secrets ({', '.join(decision.secrets)}). The attached copy is redacted; "
            "the original is kept in the restricted folder."
        )
    lines.append("")
    lines.append("Why:")
    lines += [f"- {r}" for r in decision.reasons]
    lines.append("")
    if problems:
        lines.append(
            f"The original message has {'; '.join(problems)}, so it is attached unchanged as original.eml "
            "in base64 (application/octet-stream) instead of as an attached message."
        )
    else:
        lines.append("The original message is attached.")
    return "\n".join(lines) + "\n"


def entities_of(decision: Decision) -> list[entities.Entity]:
    """The Decision's `entities` record as Entity values, for the forward's block and header."""
    out = []
    for kind, values in decision.entities.items():
        for v in values:
            if isinstance(v, dict):
                value = str(v.get("value", ""))
                family = "evm" if value.lower().startswith("0x") else None
                out.append(entities.Entity(kind, value, chain=v.get("chain"), family=family,
                                           currency=v.get("currency"), checked=bool(v.get("checked", True))))
            else:
                out.append(entities.Entity(kind, str(v)))
    return out


_EOL = re.compile(rb"\r\n|\r|\n")
_ATTACHED = ("Content-Type", "message/rfc822"), ("Content-Transfer-Encoding", "8bit"), \
    ("Content-Disposition", 'attachment; filename="original.eml"'), ("MIME-Version", "1.0")


def forward_bytes(raw: bytes, mail: ParsedMail, decision: Decision, to: str, settings: Settings,
                  purpose: str = "fwd") -> tuple[bytes, str]:
    """The forward as it goes on the wire (CRLF lines, RFC 5321 section 2.3.8) and its Message-ID.

    The same bytes as `build_forward` flattened (but the Date and the random
    MIME boundary), written directly: the original's bytes are not parsed
    into a `Message` and serialised again (that was about 45 % of the
    daemon's time on 60 KB mail), and our headers and summary are not built
    as an `EmailMessage` (its header registry was most of what was left):
    each header is the bytes `BytesGenerator` writes (`headers.header_line`),
    the summary is encoded as `set_content` encodes it, and the original's
    bytes, lines ended with CRLF as the generator would, follow the
    message/rfc822 part's headers.  One difference is on purpose: the
    generator (mangle_from_) writes a line of the original that starts with
    "From " as ">From "; here the original is attached as it came.  A
    redacted copy or an original SMTP would refuse is built the long way.
    tests/test_forward_bytes.py holds the two paths to the same bytes.
    """
    headers, body, problems = _forward_parts(raw, mail, decision, to, settings, purpose)
    if decision.redacted or problems:
        msg = build_forward(raw, mail, decision, to, settings, purpose)
        return _flatten(msg), str(msg["Message-ID"])
    original = _EOL.sub(b"\r\n", raw)
    content, text = text_body(body, _POLICY)
    boundary = _boundary(text, original)
    top = b"".join(header_line(name, value, _POLICY, 998 if name.lower() == entities.HEADER.lower() else None)
                   for name, value in headers)
    top += constant_line("MIME-Version", "1.0", _POLICY)
    top += header_line("Content-Type", f'multipart/mixed; boundary="{boundary}"', _POLICY)
    attached = b"".join(constant_line(name, value, _POLICY) for name, value in _ATTACHED)
    dash = b"--" + boundary.encode("ascii")
    wire = b"".join((top, b"\r\n", dash, b"\r\n", content, b"\r\n", text, b"\r\n", dash, b"\r\n", attached,
                     b"\r\n", original, b"\r\n", dash, b"--\r\n"))
    message_id = dict(headers)["Message-ID"]
    if not PLAIN_MSG_ID.fullmatch(message_id):  # what the registry makes of an odd one (an odd From domain)
        message_id = str(_POLICY.header_factory("Message-ID", message_id))
    return wire, message_id


def _boundary(*parts: bytes) -> str:
    """A boundary as `Generator._make_boundary` makes one ('=' * 15, 19 random digits, '=='), in none of `parts`."""
    while True:
        boundary = "=" * 15 + f"{random.randrange(sys.maxsize):019d}" + "=="
        mark = b"--" + boundary.encode("ascii")
        if not any(mark in part for part in parts):
            return boundary


def _flatten(msg: Message) -> bytes:
    """Bytes as smtplib's send_message makes them (RFC 5322 with CRLF line ends)."""
    out = io.BytesIO()
    email.generator.BytesGenerator(out).flatten(msg, linesep="\r\n")
    return out.getvalue()


def forward_once(outbox: Outbox, store: Store, settings: Settings, raw: bytes, mail: ParsedMail, decision: Decision,
                 to: str, purpose: str = "forward") -> str | None:
    """Send the team's copy unless one already went to `to`; returns its Message-ID, or None if skipped.

    What was sent is recorded (deliveries) right after the server took it,
    so a requeue, a retry or an analyst's correction never sends it twice.
    A correction ("correction") counts a plain forward to the same team as sent.
    """
    if store.delivered(mail.message_id, "forward", to) or store.delivered(mail.message_id, purpose, to):
        return None
    wire, forward_id = forward_bytes(raw, mail, decision, to, settings, purpose="fwd" if purpose == "forward" else purpose)
    outbox.send_bytes(wire, settings.smtp.from_address, [to])
    store.record_delivery(mail.message_id, purpose, to, forward_id)
    store.event("forwarded", mail.message_id, (f"{purpose} " if purpose != "forward" else "") + f"to {to} as {forward_id}")
    return forward_id


def _as_message(raw: bytes) -> Message:
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def redacted_copy(mail: ParsedMail) -> EmailMessage:
    """A rebuild of the original with every secret replaced by [REDACTED:kind].

    Only what was decoded is kept: headers that identify the mail, the body
    text (redacted), and the attachments (text ones redacted too).
    """
    copy = EmailMessage(policy=SMTP_POLICY)
    for name in ("From", "To", "Cc", "Date", "Message-ID", "In-Reply-To", "References"):
        value = mail.header(name)
        if value:
            copy[name] = clean(redact(value), 900)
    copy["Subject"] = clean(redact(mail.subject))
    copy["X-Router-Redacted"] = "yes"
    copy.set_content(redact(mail.body) or "(no text)")
    for att in mail.attachments:
        maintype, _, subtype = (att.content_type or "application/octet-stream").partition("/")
        name = clean(att.filename, 150) or "attachment"
        if maintype == "text":
            text = redact(att.payload.decode("utf-8", "replace"))
            copy.add_attachment(text, subtype=subtype or "plain", filename=name)
        else:
            copy.add_attachment(att.payload, maintype=maintype or "application", subtype=subtype or "octet-stream", filename=name)
    return copy
