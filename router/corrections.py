"""Analysts' corrections: the right category for a message the router got wrong.

An analyst corrects a decision either in the mail client, by moving the
message into `Corrections/<category>` (base name: `[folders] corrections`),
or with `router label MESSAGE-ID CATEGORY`.  Either way the router

- records the correction in the state store (`corrections` table): the
  Message-ID, the original category and route from the stored decision
  record, the corrected category, the text the model reads (subject + new
  text, `classify.model_text`) with every secret redacted, the language and
  the time.  `router train` learns from these rows; `router evaluate`
  measures a model on the ones recorded after it was made;
- forwards the message once to the corrected team when it has not gone there
  yet (deliveries purpose "correction", so a repeated correction sends
  nothing more);
- files the original in that category's folder (the restricted folder when it
  held secrets, SPEC 5), and points the message's case at the new team so
  follow-ups go there too.

No message body and no secret value is logged; the stored text is redacted
twice (before and after normalisation) so a secret split by the model's
text preparation cannot slip through.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from router import parse, pipeline
from router.act.outbox import Outbox, PermFail
from router.classify import Classifier, model_text
from router.config import CATEGORIES, Settings
from router.mailbox import CONNECTION_ERRORS, Mailbox
from router.records import Decision, ParsedMail
from router.state import NewCorrection, Store, StoreLocation, load_corrections
from router.understand.language import detect
from router.understand.secrets import redact

log = logging.getLogger(__name__)

PURPOSE = "correction"
# Where `router label` looks for a message: wherever the router files what it handled.
LABEL_FOLDER_KEYS = ("security", "compliance", "general", "review", "automated", "restricted")


@dataclass
class Applied:
    message_id: str
    case_id: str | None
    original_category: str | None
    original_route: str | None
    category: str
    forwarded_to: str | None
    folder: str
    recorded: bool  # False when the same correction was already recorded

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def folder_for(settings: Settings, category: str) -> str:
    """The mailbox folder analysts move a message into to correct it to `category`."""
    return f"{settings.folders['corrections']}/{category}"


def corrected(decision: Decision, category: str, settings: Settings) -> Decision:
    """The decision as it should have been: category and route `category`, forwarded to
    that team and filed in its folder (the restricted folder when it held secrets, SPEC 5)."""
    why = f"corrected by an analyst: {decision.category} -> {category}"
    return replace(decision, category=category).with_route(category, why, settings.routing())


# The runner's forward step: (raw, mail, decision, to, purpose) -> the copy's Message-ID, or None if sent before.
ForwardStep = Callable[[bytes, ParsedMail, Decision, str, str], "str | None"]


def training_text(mail: Any) -> str:
    """What the model reads of this mail, with every secret value redacted."""
    return redact(model_text(redact(mail.subject or ""), redact(mail.new_text or ""), already_split=True))


class Corrector:
    def __init__(self, settings: Settings, state: Store, outbox: Outbox, classifier: Classifier | None,
                 forward: ForwardStep) -> None:
        self.settings = settings
        self.state = state
        self.outbox = outbox
        self.classifier = classifier
        self.forward = forward

    # -- the daemon's scan ------------------------------------------------------
    def scan(self, mb: Mailbox) -> int:
        """Apply every correction waiting in Corrections/<category>; returns how many.

        Creates the folders when missing.  Leaves the configured folder
        selected again afterwards is the caller's job (`mb.reselect()`).
        """
        done = 0
        for category in CATEGORIES:
            folder = folder_for(self.settings, category)
            mb.ensure_folder(folder)
            if not mb.count(folder):
                continue
            if not mb.select(folder):
                continue
            for uid in mb.all_uids():
                raws = mb.fetch([uid])
                if uid not in raws:
                    continue
                try:
                    self.apply(mb, uid, raws[uid], category, source="mailbox", current_folder=folder)
                    done += 1
                except PermFail as exc:
                    mid = parse.parse(raws[uid], self.settings.limits).message_id
                    dead = self.settings.folders["dead_letter"]
                    mb.file(uid, dead)
                    self.state.event("correction_failed", mid, redact(f"permanent SMTP failure: {exc}")[:300])
                    log.warning("correction could not be forwarded; filed in dead-letter", extra={"message_id": mid, "folder": dead})
                except Exception as exc:  # noqa: BLE001 - retried at the next drain
                    if isinstance(exc, CONNECTION_ERRORS):
                        raise
                    log.warning("correction failed; will retry", extra={"folder": folder, "uid": uid, "error": type(exc).__name__})
        if done:
            self.outbox.close()
        return done

    # -- one correction -----------------------------------------------------------
    def apply(self, mb: Mailbox, uid: int, raw: bytes, category: str, source: str, current_folder: str) -> Applied:
        """Record, re-route and file one message (`uid` in the selected `current_folder`) as `category`."""
        if category not in CATEGORIES:
            raise ValueError(f"unknown category {category!r}")
        mail = parse.parse(raw, self.settings.limits)
        key = self.settings.mailbox_key()
        row = self.state.find_known(key, mail.message_id, parse.content_hash(raw))
        if row and row.record:
            base = Decision.from_record(row.record)
            original_category, original_route = base.category, base.route
        else:
            _mail, fresh = pipeline.triage(raw, self.settings, self.classifier)
            base = replace(fresh, reasons=tuple(redact(r) for r in fresh.reasons))
            original_category, original_route = None, None
        case_id = (row.case_id if row else None) or base.case_id
        fixed = corrected(base, category, self.settings)
        recorded = self._record(mail, case_id, original_category, original_route, category, source, base.language)
        to = self.settings.routes[category]
        forwarded = to if self.forward(raw, mail, fixed, to, PURPOSE) else None
        folder = fixed.folder
        if current_folder != folder:
            mb.file(uid, folder)
        self._point_to(key, mail.message_id, case_id, category, folder)
        log.info("correction applied", extra={"message_id": mail.message_id, "case_id": case_id, "from": original_category,
                                              "to": category, "source": source, "forwarded_to": forwarded, "folder": folder})
        return Applied(mail.message_id, case_id, original_category, original_route, category, forwarded, folder, recorded)

    def _record(self, mail: Any, case_id: str | None, original_category: str | None, original_route: str | None,
                category: str, source: str, language: str | None) -> bool:
        if self.state.last_correction(mail.message_id) == category:
            return False  # the same correction again (a retry, or moved twice)
        text = training_text(mail)
        lang = language if language in ("zh", "en", "other") else detect(text)[0]
        self.state.add_correction(NewCorrection(mail.message_id, case_id, original_category, original_route, category, text,
                                                lang, source))
        self.state.event("corrected", mail.message_id, f"{original_category or 'unknown'} ({original_route or 'unknown'}) -> {category} by {source}")
        return True

    def _point_to(self, key: str, message_id: str, case_id: str | None, category: str, folder: str) -> None:
        """Where the message now lives, and which team its case (and follow-ups) belong to."""
        self.state.refile(key, message_id, folder)
        if case_id:
            self.state.update_case(case_id, category=category, route=category)


def find_for_label(mb: Mailbox, settings: Settings, message_id: str) -> tuple[str, int] | None:
    """(folder, uid) of the message among the folders the router files into."""
    for key in LABEL_FOLDER_KEYS:
        folder = settings.folders.get(key)
        if not folder or not mb.select(folder):
            continue
        uids = mb.search_message_id(message_id)
        if uids:
            return folder, uids[0]
    return None


# -- reading corrections back (train, evaluate) ---------------------------------
def load(state_path: Path | StoreLocation, since: float | None = None) -> list[dict[str, Any]]:
    """The latest correction of each message (oldest first); [] without a state store (SQLite file or PostgreSQL)."""
    return load_corrections(state_path, since)
