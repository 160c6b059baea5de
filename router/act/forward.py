"""The copy forwarded to a team (SPEC 7).

The forward carries the original as a message/rfc822 attachment (a redacted
rebuild when secrets were found), a subject prefix with category, UID and
case id, and X-Router-* headers.  Its Message-ID is derived from the
original's, the purpose ("fwd") and the recipient, so a copy re-sent after a crash is
recognisably the same mail downstream.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
from email.message import EmailMessage, Message
from email.utils import formatdate
from typing import Any

from router.act.headers import clean
from router.config import Settings
from router.records import ParsedMail
from router.understand.secrets import redact


# Keep the attached original's headers as they came (no refolding): refolding a
# decoded value can raise on CR/LF from encoded words, and it changes the copy.
_POLICY = email.policy.SMTP.clone(refold_source="none")


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[-1] if "@" in address else "router.invalid"


def derived_message_id(original_id: str, purpose: str, to: str, settings: Settings) -> str:
    """Deterministic Message-ID for something we send about `original_id`."""
    h = hashlib.sha256(f"{original_id}|{purpose}|{to}".encode("utf-8", "replace")).hexdigest()[:32]
    return f"<router.{purpose}.{h}@{domain_of(settings.smtp.from_address)}>"


def subject_prefix(record: dict[str, Any]) -> str:
    uid = record["subject"].get("uid")
    parts = [f"[{record['category'].upper()}]"]
    if uid:
        parts.append(f"[UID {uid}]")
    parts.append(f"[Case #{record['case_id']}]")
    return "".join(parts)


def evidence_status(record: dict[str, Any]) -> str:
    ev = record["evidence"]
    if ev["rejected"]:
        status = "rejected:" + ",".join(clean(r["filename"], 60) or "unnamed" for r in ev["rejected"])
        return status[:200]
    if not ev["required"]:
        return "not-required"
    return "complete" if not ev["missing"] else "missing:" + ",".join(ev["missing"])


def build_forward(raw: bytes, mail: ParsedMail, record: dict[str, Any], to: str, settings: Settings) -> EmailMessage:
    msg = EmailMessage(policy=_POLICY)
    msg["From"] = settings.smtp.from_address
    msg["To"] = to
    subject = clean(redact(mail.subject)) or "(no subject)"
    msg["Subject"] = f"{subject_prefix(record)} {subject}"
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = derived_message_id(mail.message_id, "fwd", to, settings)
    msg["Auto-Submitted"] = "auto-forwarded"
    msg[settings.loop_header] = settings.smtp.from_address
    if mail.from_address:
        msg["Reply-To"] = clean(mail.from_address)
    model = record.get("model") or {}
    for name, value in (
        ("X-Router-Category", record["category"]),
        ("X-Router-Route", record["route"]),
        ("X-Router-Confidence", f"{record['confidence']:.4f}"),
        ("X-Router-Case-Id", record["case_id"]),
        ("X-Router-Evidence", evidence_status(record)),
        ("X-Router-Language", record["language"]),
        ("X-Router-Model-Version", model.get("version") or "none"),
        ("X-Router-Secrets", ",".join(record["secrets"]) or "none"),
        ("X-Router-Original-Message-ID", clean(mail.message_id, 500)),
    ):
        msg[name] = value
    problems = [] if record["secrets"] else smtp_problems(raw)
    msg.set_content(summary_text(mail, record, problems))
    if record["secrets"]:
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


def summary_text(mail: ParsedMail, record: dict[str, Any], problems: list[str] | None = None) -> str:
    ev = record["evidence"]
    lines = [
        f"Case #{record['case_id']} - {record['category']} (route {record['route']}, confidence {record['confidence']:.2f})",
        f"From: {clean(mail.from_address)}",
        f"Subject status: {record['subject']['status']}"
        + (f", type {record['subject']['type']}" if record["subject"]["type"] else "")
        + (f", UID {record['subject']['uid']}" if record["subject"]["uid"] else ""),
        f"Language: {record['language']}",
        f"Evidence required: {', '.join(ev['required']) or 'none'}; present: {', '.join(ev['present']) or 'none'}; missing: {', '.join(ev['missing']) or 'none'}",
    ]
    if record["secrets"]:
        lines.append(
            f"WARNING: the customer sent secrets ({', '.join(record['secrets'])}). The attached copy is redacted; "
            "the original is kept in the restricted folder."
        )
    lines.append("")
    lines.append("Why:")
    lines += [f"- {r}" for r in record["reasons"]]
    lines.append("")
    if problems:
        lines.append(
            f"The original message has {'; '.join(problems)}, so it is attached unchanged as original.eml "
            "in base64 (application/octet-stream) instead of as an attached message."
        )
    else:
        lines.append("The original message is attached.")
    return "\n".join(lines) + "\n"


def _as_message(raw: bytes) -> Message:
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def redacted_copy(mail: ParsedMail) -> EmailMessage:
    """A rebuild of the original with every secret replaced by [REDACTED:kind].

    Only what was decoded is kept: headers that identify the mail, the body
    text (redacted), and the attachments (text ones redacted too).
    """
    copy = EmailMessage(policy=email.policy.SMTP)
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
