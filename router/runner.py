"""Drain the mailbox: each message through its recorded steps.

claimed -> decided (with its case joined) -> forwarded -> replied -> filed.
Every stage after the decision reads the typed `Decision`; its SPEC 8
record is written to the state store with the step.  Each step is recorded
after it succeeds, so after a crash a message resumes from its last step
(a forward re-sent inside the crash window carries the same Message-ID).
Failures are caught per message: a temporary SMTP failure leaves the
message in the mailbox for a retry with backoff, a permanent one files it
in the dead-letter folder, anything else quarantines it with the reason.
Connection errors propagate: the daemon reconnects and the drain resumes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from router import metrics, parse, pipeline, sla
from router.act.forward import forward_once
from router.act.outbox import Outbox, PermFail, TempFail
from router.act.reply import Replier
from router.cases import join_case
from router.classify import Classifier
from router.config import Settings
from router.corrections import Corrector
from router.errors import MailboxError, StoreUnavailable
from router.mailbox import CONNECTION_ERRORS, Mailbox, Refused
from router.records import Decision, ParsedMail
from router.state import MessageRow, Store
from router.understand.secrets import redact
from router.workers import TriagePool, Triaged

log = logging.getLogger(__name__)


@dataclass
class DrainResult:
    handled: int = 0
    deferred: int = 0
    next_attempt: float | None = None
    by_route: dict[str, int] = field(default_factory=dict)


@dataclass
class _ToFile:
    """A message whose actions are done and recorded, waiting for its MOVE."""

    uid: int
    row: MessageRow
    decision: Decision
    started: float


@dataclass
class _Batch:
    """One fetched batch: the due UIDs, the oversized ones (with their sizes), bytes and triage by UID."""

    due: list[int]
    big: dict[int, int]
    raws: dict[int, bytes]
    triage: dict[int, Future[Triaged]]


def mailbox_key(settings: Settings) -> str:
    """The state store's key of the watched mailbox (`Settings.mailbox_key`; daemon.py imports it from here)."""
    return settings.mailbox_key()


def last_uid_key(mailbox: str) -> str:
    """The meta key of the highest UID drained from `mailbox` (a shared store serves several mailboxes)."""
    return f"last_uid {mailbox}"


# A lost connection (IMAP, SMTP, the shared state store) is not the message's fault: never set it aside for one.
_NOT_THE_MESSAGE: tuple[type[Exception], ...] = (*CONNECTION_ERRORS, StoreUnavailable)

HELD = "held"  # what handle() returns for a message another live router holds


class Runner:
    def __init__(self, settings: Settings, state: Store, classifier: Classifier | None, outbox: Outbox,
                 should_stop: Callable[[], bool] = lambda: False, pool: TriagePool | None = None) -> None:
        self.settings = settings
        self.state = state
        self.classifier = classifier
        self.outbox = outbox
        self.should_stop = should_stop
        self.key = settings.mailbox_key()
        self.replier = Replier(settings, state, outbox)
        self.corrector = Corrector(settings, state, outbox, classifier, self.forward_step)
        # The daemon's pool is shared by its mailboxes and closed by the daemon; else the runner's own.
        self.pool = pool or TriagePool(settings, classifier)
        self._own_pool = pool is None

    # -- the drain ------------------------------------------------------------
    def drain(self, mb: Mailbox, above: int = 0) -> DrainResult:
        result = DrainResult()
        if not above:
            # Analysts' corrections (Corrections/<category>) are looked at on full
            # drains (start, scheduled poll), not on every IDLE wake-up: three
            # extra SELECTs there would sit on the new-mail latency path.
            self.corrector.scan(mb)
        mb.reselect()
        uids = mb.pending_uids(above)
        if not above:
            self._settle_filed(mb, set(uids))
        metrics.BACKLOG.set(len(uids))
        metrics.LAST_POLL.set(time.time())  # reached: /healthz must not fail during a long drain
        self.state.set_meta("last_poll", time.time())
        self.state.set_meta("backlog", len(uids))
        self.count_clocks()
        if not uids:
            return result
        sizes = mb.sizes(uids)
        now = time.time()
        batch_size = self.settings.imap.batch_size
        batches = [uids[i : i + batch_size] for i in range(0, len(uids), batch_size)]
        try:
            ahead: _Batch | None = None
            for k, uids_k in enumerate(batches):
                if self.should_stop():
                    break
                batch = ahead or self._prepare(mb, uids_k, sizes, now, result)
                ahead = None
                if self.pool.parallel and k + 1 < len(batches):
                    # Fetch the next batch and start its triage on the workers
                    # while this one is acted on: IMAP, SMTP and the store here,
                    # parsing and the model there.
                    ahead = self._prepare(mb, batches[k + 1], sizes, now, result)
                self._act(mb, batch, result)
                self.state.set_meta(last_uid_key(self.key), max(uids_k))
        finally:
            self.outbox.close()
        remaining = max(0, len(uids) - result.handled)
        self.state.set_meta("backlog", remaining)
        metrics.BACKLOG.set(remaining)
        self.count_clocks()
        return result

    def count_clocks(self) -> None:
        """The Prometheus gauges of open cases by SLA state (on_time, near, past_due)."""
        counts = dict.fromkeys(sla.STATES, 0)
        now = time.time()
        for case in self.state.open_clocks():
            counts[sla.state_of(case, now, self.settings.sla)] += 1
        for state, n in counts.items():
            metrics.OPEN_CASES.labels(sla=state).set(n)

    def _prepare(self, mb: Mailbox, uids: list[int], sizes: dict[int, int], now: float, result: DrainResult) -> _Batch:
        """Which messages of a batch are due, their bytes (one FETCH) and their triage, started."""
        due = []
        known = set()  # decided before (a resumed message): it keeps its recorded decision, no triage
        for uid in uids:
            row = self.state.get(self.key, mb.uidvalidity, uid)
            if row and row.next_attempt > now and not row.reached("filed"):
                result.deferred += 1
                result.next_attempt = min(result.next_attempt or row.next_attempt, row.next_attempt)
                continue
            if row and row.reached("decided") and row.record:
                known.add(uid)
            due.append(uid)
        limit = self.settings.limits.max_message_bytes
        big = {u: sizes[u] for u in due if sizes.get(u, 0) > limit}
        raws = mb.fetch([u for u in due if u not in big])
        # Triage only what needs a decision: a message resumed after a crash is
        # only parsed (in `handle`), as before workers; triaging it again would
        # put its whole cost before every restart's first step.
        # Without workers (or for a batch too small for them) nothing is triaged
        # ahead: `handle` triages each message in turn, so every message's
        # steps are recorded as soon as it is decided, not after the whole batch.
        fresh = {uid: raw for uid, raw in raws.items() if uid not in known}
        ahead = self.pool.submit(fresh, self.settings) if self.pool.uses_workers(len(fresh)) else {}
        return _Batch(due, big, raws, ahead)

    def _act(self, mb: Mailbox, batch: _Batch, result: DrainResult) -> None:
        """Each due message of a prepared batch through its steps, then the batch's MOVEs."""
        pending: list[_ToFile] = []
        for uid in batch.due:
            if self.should_stop():
                break
            if uid in batch.big:
                outcome = self.oversize(mb, uid, batch.big[uid])
            elif uid in batch.raws:
                outcome = self.handle(mb, uid, batch.raws[uid], pending, self._triaged(batch, uid))
            else:
                continue  # expunged by someone else meanwhile
            if outcome == HELD:
                continue  # another router's: neither handled nor deferred here
            if outcome == "deferred":
                result.deferred += 1
                row = self.state.get(self.key, mb.uidvalidity, uid)
                if row:
                    result.next_attempt = min(result.next_attempt or row.next_attempt, row.next_attempt)
            else:
                result.handled += 1
                result.by_route[outcome] = result.by_route.get(outcome, 0) + 1
        self.file_all(mb, pending)

    def _triaged(self, batch: _Batch, uid: int) -> Triaged | None:
        """A worker's result; None (triage again in-process) if the worker died."""
        future = batch.triage.get(uid)
        if future is None:
            return None
        try:
            return future.result()
        except BrokenProcessPool:
            log.warning("a triage worker died; triaging in-process", extra={"uid": uid})
            self.pool.close()
            return None

    def start_workers(self) -> None:
        """Start the triage workers now; the daemon calls this before it starts any thread (see TriagePool)."""
        self.pool.start()

    def close(self) -> None:
        """Stop the triage workers, if they are this runner's own (a daemon's pool is the daemon's to close)."""
        if self._own_pool:
            self.pool.close()

    def file_all(self, mb: Mailbox, items: list[_ToFile]) -> None:
        """File acted-on messages: one MOVE per destination folder, then record each."""
        by_folder: dict[str, list[_ToFile]] = {}
        for item in items:
            by_folder.setdefault(item.decision.folder, []).append(item)
        for folder, group in by_folder.items():
            try:
                method = mb.file_many([i.uid for i in group], folder)
            except Refused as exc:
                # The server said NO (quota, a folder it refuses): retrying would
                # stall the mailbox, so the messages are set aside with the reason.
                reason = f"cannot file into {exc}"
                for i in group:
                    self._set_aside(mb, i.uid, i.row, i.row.message_id, "quarantine", reason)
                continue
            # The MOVE is done: the batch's "filed" steps are one transaction (one
            # commit, one PostgreSQL round trip less per message).  A crash before
            # it commits leaves them at "replied", out of the inbox: the next drain
            # settles them as filed (`_settle_filed`), as for a crash after any MOVE.
            with self.state.transaction():
                for i in group:
                    self.state.record_step(i.row, "filed", folder=folder, outcome=i.decision.route)
            for i in group:
                route = i.decision.route
                metrics.MESSAGES.labels(route=route, outcome="handled").inc()
                metrics.BY_PRIORITY.labels(priority=i.decision.priority or "none").inc()
                metrics.LATENCY.observe(time.monotonic() - i.started)
                log.info(
                    "message handled",
                    extra={"message_id": i.row.message_id, "case_id": i.decision.case_id, "route": route,
                           "folder": folder, "file_method": method, "ms": round((time.monotonic() - i.started) * 1000, 1)},
                )

    def _settle_filed(self, mb: Mailbox, present: set[int]) -> None:
        """Record as filed what a crash left between a MOVE and its record.

        A message at step `replied` has had every action; if its UID is gone
        from the folder, the MOVE went through before the process died.  An
        earlier step means a set-aside (dead-letter, quarantine) was cut off
        the same way, or a person removed the message: it is recorded so that
        it does not show as in progress forever.
        """
        for row in self.state.in_flight(self.key, mb.uidvalidity):
            if row.uid in present:
                continue
            if row.step == "replied":
                self.state.record_step(row, "filed", outcome=row.route)
                self.state.event("settled", row.message_id, f"moved to {row.folder} before a crash; recorded as filed")
            else:
                self.state.record_step(row, "filed", outcome="left_inbox")
                self.state.event("settled", row.message_id, f"left the inbox at step {row.step} before its filing was recorded")

    # -- one message ----------------------------------------------------------
    def handle(self, mb: Mailbox, uid: int, raw: bytes, pending: list[_ToFile] | None = None,
               triaged: Triaged | None = None) -> str:
        """Take one message through its remaining steps; returns its outcome.

        With `pending`, the final MOVE is left to `file_all` for the batch:
        the step before it (`replied`) is recorded, so a crash in between
        only means the move is done (or settled) on the next drain.
        `triaged` is a worker's (mail, decision) for these bytes; the decision
        is used only if none is recorded yet, so a resumed message keeps its own.
        """
        started = time.monotonic()
        mail = triaged[0] if triaged else parse.parse(raw, self.settings.limits)
        row = self.state.claim(self.key, mb.uidvalidity, uid, mail.message_id, parse.content_hash(raw))
        if row is None:
            return HELD  # another live router holds it (PostgreSQL lease): it finishes the message
        if row.reached("filed"):
            # Known and finished (UIDVALIDITY change, re-delivery): file again, act never twice.
            folder = row.folder or self.settings.folders["review"]
            mb.file(uid, folder)
            self.state.event("refiled", mail.message_id, f"already handled; filed again into {folder}")
            log.info("known message filed again", extra={"message_id": mail.message_id, "folder": folder})
            return "duplicate"
        try:
            if row.reached("decided") and row.record:
                decision = Decision.from_record(row.record)
            else:
                decision = self._decide(row, mail, triaged[1] if triaged else None)
            if not row.reached("forwarded"):
                self._forward(row, raw, mail, decision)
            if not row.reached("replied"):
                self.replier.reply(row, mail, decision)
                self.state.record_step(row, "replied")
            to_file = _ToFile(uid, row, decision, started)
            if pending is None:
                self.file_all(mb, [to_file])
            else:
                pending.append(to_file)  # filed with the rest of the batch, one MOVE per folder
            return decision.route
        except TempFail as exc:
            nxt = self.state.defer(row, str(exc), self.settings.smtp.retry_base_seconds, self.settings.smtp.retry_max_seconds)
            metrics.SMTP_ERRORS.labels(kind="temporary").inc()
            metrics.MESSAGES.labels(route=(row.route or "unknown"), outcome="deferred").inc()
            log.warning("temporary failure; will retry", extra={"message_id": mail.message_id, "error": str(exc), "attempts": row.attempts, "retry_in_s": round(nxt - time.time(), 1)})
            return "deferred"
        except PermFail as exc:
            metrics.SMTP_ERRORS.labels(kind="permanent").inc()
            return self._set_aside(mb, uid, row, mail.message_id, "dead_letter", f"permanent SMTP failure: {exc}")
        except _NOT_THE_MESSAGE:
            raise  # the connection, not the message: nothing is set aside
        except Exception as exc:  # noqa: BLE001 - one bad message never blocks the others
            log.exception("message failed; quarantined", extra={"message_id": mail.message_id})
            return self._set_aside(mb, uid, row, mail.message_id, "quarantine", f"internal error: {type(exc).__name__}")

    def _decide(self, row: MessageRow, mail: ParsedMail, decided: Decision | None = None) -> Decision:
        """decide (unless a worker did) -> join the case; the case and the decision are recorded together or not at all."""
        if decided is None:
            _mail, decided = pipeline.decide_mail(mail, self.settings, self.classifier)
        decision = decided
        with self.state.transaction():
            decision = join_case(self.state, decision, mail, self.settings.routing(), self.settings.sla)
            self.state.record_step(row, "decided", record=decision.to_record(), route=decision.route, case_id=decision.case_id,
                                   sender=mail.from_address, folder=decision.folder)
        log.info("decided", extra={"message_id": mail.message_id, "case_id": decision.case_id, "route": decision.route,
                                   "category": decision.category, "confidence": round(decision.confidence, 4),
                                   "language": decision.language, "secrets": list(decision.secrets),
                                   "priority": decision.priority, "escalated": decision.escalated})
        return decision

    def _forward(self, row: MessageRow, raw: bytes, mail: ParsedMail, decision: Decision) -> None:
        for to in decision.forwards:
            self.forward_step(raw, mail, decision, to)
        if decision.escalated and self.settings.sla.escalation_address:
            if self.forward_step(raw, mail, decision, self.settings.sla.escalation_address, purpose="escalation"):
                metrics.ESCALATIONS.labels(priority=decision.priority or "none").inc()
        self.state.record_step(row, "forwarded")

    def forward_step(self, raw: bytes, mail: ParsedMail, decision: Decision, to: str, purpose: str = "forward") -> str | None:
        """One team copy, sent once (a requeue or a correction never duplicates it); its Message-ID or None."""
        forward_id = forward_once(self.outbox, self.state, self.settings, raw, mail, decision, to, purpose)
        if forward_id is None:
            return None
        if purpose == "forward":
            metrics.FORWARDS.labels(route=decision.route).inc()
        log.info("forwarded", extra={"message_id": mail.message_id, "case_id": decision.case_id, "route": decision.route,
                                     "to": to, "forward_id": forward_id, "purpose": purpose})
        return forward_id

    def _set_aside(self, mb: Mailbox, uid: int, row: MessageRow, message_id: str, where: str, reason: str) -> str:
        folder = self.settings.folders[where]
        try:
            mb.file(uid, folder)
        except Refused as exc:  # not even the set-aside folder takes it: stop and say why
            raise MailboxError(f"cannot file a message into {exc}") from None
        record = None
        if row.record:  # the stored record says where the message really went (SPEC 8)
            record = Decision.from_record(row.record).set_aside(where, folder, redact(reason)[:300]).to_record()
        self.state.record_step(row, "filed", folder=folder, outcome=where, last_error=redact(reason)[:300], record=record)
        metrics.MESSAGES.labels(route=where, outcome=where).inc()
        log.warning("message set aside", extra={"message_id": message_id, "folder": folder, "reason": reason})
        return where

    def oversize(self, mb: Mailbox, uid: int, size: int) -> str:
        """Quarantine mail over the size limit without downloading it whole."""
        header = mb.fetch_header(uid)
        mail = parse.problem_mail(header, f"message of {size} bytes is over the {self.settings.limits.max_message_bytes}-byte limit")
        row = self.state.claim(self.key, mb.uidvalidity, uid, mail.message_id, parse.content_hash(header + str(size).encode()))
        if row is None:
            return HELD
        if row.reached("filed"):
            mb.file(uid, row.folder or self.settings.folders["quarantine"])
            return "duplicate"
        decision = pipeline.quarantine_decision(mail, mail.problem or "oversize", self.settings)
        self.state.record_step(row, "decided", record=decision.to_record(), route="quarantine", case_id=decision.case_id)
        return self._set_aside(mb, uid, row, mail.message_id, "quarantine", mail.problem or "oversize")

