"""`router run`: the long-lived loop around the runner.

IDLE (RFC 2177) is used as a wake-up where the server offers it; APScheduler
polls on an interval as the fallback and safety net (and to retry deferred
messages).  Connection errors are met with reconnects and exponential
backoff: forever for the long-running daemon (with /healthz unhealthy and
router_imap_connect_failures_total counting), at most `[imap] once_retries`
times for `run --once`, which then ends with EX_TEMPFAIL (75, sysexits.h) so
a cron job or CI step always finishes.  A folder the server refuses at start
is a configuration error (exit 1), never a retry loop.  SIGTERM finishes the message in hand and exits 0; SIGHUP reloads
the configuration between batches.  An exclusive lock keeps two daemons off
one mailbox.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import signal
import threading
import time
from typing import IO

from router import classify, config, metrics
from router.act.outbox import Outbox
from router.config import Settings
from router.errors import LoginError, MailboxError, RouterError, StoreUnavailable
from router.mailbox import CONNECTION_ERRORS, Mailbox
from router.runner import Runner, last_uid_key, mailbox_key
from router.state import open_store

_RETRIED_ERRORS: tuple[type[Exception], ...] = (MailboxError, *CONNECTION_ERRORS)
log = logging.getLogger(__name__)

ONCE_MAX_WAIT = 60.0  # --once waits this long at most for deferred retries
EX_TEMPFAIL = 75  # sysexits.h: "temporary failure, the user is invited to retry"


class ServerUnavailable(MailboxError):
    """`run --once` gave up after its bounded reconnects; exit EX_TEMPFAIL."""


class Daemon:
    def __init__(self, settings: Settings, config_path: str | None = None) -> None:
        self.settings = settings
        self.config_path = config_path
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.reload = threading.Event()
        self.state = open_store(settings.store())
        self.classifier = _load_model(settings)
        self.outbox = Outbox(settings.smtp)
        self.runner = self._runner()
        self.mailbox: Mailbox | None = None
        self._ever_connected = False
        self._lock: IO[str] | None = None

    def _runner(self) -> Runner:
        return Runner(self.settings, self.state, self.classifier, self.outbox, should_stop=self.stop.is_set)

    # -- life cycle -------------------------------------------------------------
    def acquire_lock(self) -> None:
        if self.settings.store().shared:
            return  # PostgreSQL: several routers share the mailbox, each message under a lease
        key = hashlib.sha256(mailbox_key(self.settings).encode()).hexdigest()[:16]
        path = self.settings.state_path.parent / f"router-{key}.lock"
        fh = open(path, "w")  # noqa: SIM115 - held for the daemon's life
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise RouterError(f"another router is already working {mailbox_key(self.settings)} (lock {path})") from None
        fh.write(str(os.getpid()))
        fh.flush()
        self._lock = fh

    def install_signals(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self.stop.set())
        signal.signal(signal.SIGINT, lambda *_: self.stop.set())
        signal.signal(signal.SIGHUP, lambda *_: self.reload.set())

    def run(self, once: bool = False) -> int:
        self.acquire_lock()
        self.install_signals()
        self.runner.start_workers()  # before the metrics server's and the scheduler's threads
        server = metrics.serve(self.settings.metrics_listen, self.settings.healthz_max_age_seconds) if self.settings.metrics_listen else None
        scheduler = None
        if not once:
            from apscheduler.schedulers.background import BackgroundScheduler

            scheduler = BackgroundScheduler(daemon=True)
            scheduler.add_job(self.wake.set, "interval", seconds=self.settings.imap.poll_interval_seconds, id="poll")
            scheduler.start()
        log.info("router started", extra={"mailbox": mailbox_key(self.settings), "once": once,
                                           "model": self.classifier.version if self.classifier else None})
        try:
            self._loop(once)
        finally:
            if scheduler:
                scheduler.shutdown(wait=False)
            if server:
                server.shutdown()
            self._disconnect()
            self.runner.close()
            self.outbox.close()
            self.state.close()
            log.info("router stopped")
        return 0

    def _loop(self, once: bool) -> None:
        backoff = 1.0
        failures = 0
        full = True
        once_deadline: float | None = None
        while not self.stop.is_set():
            if self.reload.is_set():
                self._reload()
            try:
                mb = self._connected()
                last = int(self.state.get_meta(last_uid_key(self.runner.key), 0) or 0) if not full else 0
                result = self.runner.drain(mb, above=last)
                metrics.LAST_POLL.set(time.time())
                backoff = 1.0
                failures = 0
                if result.handled:
                    log.info("drained", extra={"handled": result.handled, "deferred": result.deferred, "by_route": result.by_route})
                if once:
                    if self.stop.is_set():
                        break
                    if result.handled:
                        full = True
                        continue
                    if not result.deferred:
                        break
                    now = time.time()
                    once_deadline = once_deadline or now + ONCE_MAX_WAIT
                    wait = (result.next_attempt or now) - now
                    if now + wait > once_deadline:
                        log.warning("leaving deferred messages for the next run", extra={"deferred": result.deferred})
                        break
                    self.stop.wait(max(0.05, wait))
                    continue
                full = self._wait(mb)
            except StoreUnavailable as exc:  # PostgreSQL down: act on nothing, retry with backoff
                log.warning("state store unavailable; retrying", extra={"error": str(exc)[:200], "retry_in_s": backoff})
                self._disconnect()
                self.stop.wait(backoff)
                backoff = min(backoff * 2, 60.0)
                full = True
            except _RETRIED_ERRORS as exc:
                if isinstance(exc, LoginError) and not self._ever_connected:
                    raise  # wrong credentials at start: fail now with the reason instead of spinning
                metrics.IMAP_ERRORS.inc()
                metrics.IMAP_CONNECTED.set(0)
                reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
                if self.mailbox is None:
                    metrics.IMAP_CONNECT_FAILURES.inc()
                failures += 1
                if once and failures > self.settings.imap.once_retries:
                    self._disconnect()
                    raise ServerUnavailable(f"IMAP server {self.settings.imap.host}:{self.settings.imap.port} still failing "
                                            f"after {failures} attempts: {reason}") from None
                log.warning("mailbox connection problem; reconnecting", extra={"error": reason, "retry_in_s": backoff})
                self._disconnect()
                self.stop.wait(backoff)
                backoff = min(backoff * 2, 60.0)
                full = True

    def _wait(self, mb: Mailbox) -> bool:
        """Wait for news; returns True when the next drain should be a full one."""
        if self.wake.is_set():
            self.wake.clear()
            return True

        def interrupted() -> bool:
            return self.stop.is_set() or self.wake.is_set() or self.reload.is_set()

        if self.settings.imap.idle and mb.has("IDLE"):
            # Mail that arrived during the drain was announced by an untagged
            # EXISTS answering one of its own commands (FETCH, MOVE), which
            # imapclient drops, and IDLE will not announce it again: select
            # afresh (nothing is then reported yet, so IDLE reports what comes
            # next) and drain again if UIDNEXT moved since the drain's SELECT.
            seen, validity = mb.uidnext, mb.uidvalidity
            mb.reselect()
            if mb.uidvalidity != validity:
                return True
            if mb.uidnext > seen:
                return False
            news = mb.idle_wait(self.settings.imap.idle_renew_seconds, interrupted)
            if self.wake.is_set():
                self.wake.clear()
                return True
            return not news  # after an IDLE wake-up, look only above the last UID
        self.wake.wait(self.settings.imap.poll_interval_seconds)
        self.wake.clear()
        return True

    def _connected(self) -> Mailbox:
        if self.mailbox is None:
            mb = Mailbox(self.settings.imap)
            mb.connect()
            self._ever_connected = True
            try:
                for folder in sorted(set(self.settings.folders.values())):
                    if folder == self.settings.folders.get("corrections"):
                        continue  # only its per-category children hold mail
                    mb.check_folder(folder)  # FolderError: a config error, exit 1
            except BaseException:
                mb.close()
                raise
            metrics.IMAP_CONNECTED.set(1)
            self.mailbox = mb
        return self.mailbox

    def _disconnect(self) -> None:
        if self.mailbox is not None:
            self.mailbox.close()
            self.mailbox = None

    def _reload(self) -> None:
        self.reload.clear()
        try:
            settings = config.load(self.config_path)
            classifier = _load_model(settings)
        except RouterError as exc:
            log.error("config reload failed; keeping the old configuration", extra={"error": str(exc)})
            return
        self.settings = settings
        self.classifier = classifier
        self.runner.close()
        self.outbox.close()
        self.outbox = Outbox(settings.smtp)
        self.runner = self._runner()
        self._disconnect()
        log.info("configuration reloaded", extra={"config": str(settings.source)})


def _load_model(settings: Settings) -> classify.Classifier | None:
    if not settings.model_path.exists():
        log.warning("no model file; categories come from subject types and rules", extra={"model": str(settings.model_path)})
        return None
    clf = classify.load(settings.model_path)
    metrics.MODEL.labels(version=clf.version).set(1)
    return clf


def run(settings: Settings, once: bool, config_path: str | None = None) -> int:
    return Daemon(settings, config_path).run(once)


