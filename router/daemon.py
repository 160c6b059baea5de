"""`router run`: the long-lived loop around the runner, one per mailbox.

Every mailbox the config lists ([[mailboxes]], else the top-level one) is
served by its own `MailboxWorker` thread with its own IMAP connection, SMTP
connection, state-store connection, lock and backoff, so a mailbox that
cannot log in or whose server is down never stops or delays the others; the
model, the metrics server and the poll schedule are shared.

IDLE (RFC 2177) is used as a wake-up where the server offers it; APScheduler
polls on an interval as the fallback and safety net (and to retry deferred
messages).  Connection errors are met with reconnects and exponential
backoff: forever for the long-running daemon (with /healthz unhealthy and
router_imap_connect_failures_total counting), at most `[imap] once_retries`
times for `run --once`, which then ends with EX_TEMPFAIL (75, sysexits.h) so
a cron job or CI step always finishes.  With one mailbox a folder the server
refuses or credentials it refuses at start are a configuration error (exit
1), never a retry loop; with several, that mailbox is reported failing
(status, /healthz, metrics) and retried slowly while the others run, and
`run --once` exits 75 naming every mailbox it could not drain.  SIGTERM
finishes the message in hand and exits 0; SIGHUP reloads the configuration
between batches.  An exclusive lock per mailbox keeps two daemons off one
mailbox.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import signal
import threading
import time
from typing import IO, Any, cast

from router import classify, config, mailboxes, metrics
from router.act.outbox import Outbox
from router.config import Settings
from router.errors import LoginError, MailboxError, RouterError, StoreUnavailable
from router.mailbox import CONNECTION_ERRORS, Mailbox
from router.mailboxes import MailboxStore
from router.runner import Runner, last_uid_key, mailbox_key
from router.state import Store, open_store
from router.understand.secrets import redact
from router.workers import TriagePool

_RETRIED_ERRORS: tuple[type[Exception], ...] = (MailboxError, *CONNECTION_ERRORS)
log = logging.getLogger(__name__)

ONCE_MAX_WAIT = 60.0  # --once waits this long at most for deferred retries
EX_TEMPFAIL = 75  # sysexits.h: "temporary failure, the user is invited to retry"
MAX_BACKOFF = 60.0  # reconnects after connection errors
MAX_REFUSED_BACKOFF = 300.0  # retries of a mailbox whose login or folders were refused (several mailboxes)


class ServerUnavailable(MailboxError):
    """`run --once` gave up after its bounded reconnects; exit EX_TEMPFAIL."""


class MailboxesFailed(RouterError):
    """`run --once` with several mailboxes could not drain some of them; exit EX_TEMPFAIL."""

    exit_code = EX_TEMPFAIL


def _reason(exc: BaseException) -> str:
    """One line for logs, /healthz and `router status`; secrets redacted as the log layer does."""
    return redact(str(exc).splitlines()[0][:200]) if str(exc) else type(exc).__name__


class MailboxWorker:
    """One mailbox: its connections, runner, backoff and health, in its own thread.

    `isolated` is set when the daemon serves several mailboxes: then a login
    or folder refused at start does not end the process, it is this
    mailbox's failure (reported, retried slowly, or for --once given up).
    """

    def __init__(self, settings: Settings, classifier: classify.Classifier | None, stop: threading.Event, *,
                 isolated: bool, pool: TriagePool | None = None) -> None:
        self.settings = settings
        self.name = settings.name
        self.classifier = classifier
        self.pool = pool  # the daemon's triage workers, shared by its mailboxes
        self.daemon_stop = stop
        self.halt = threading.Event()  # this worker only (reload)
        self.wake = threading.Event()
        self.isolated = isolated
        self.store: Store | None = None
        self.outbox: Outbox | None = None
        self.mailbox: Mailbox | None = None
        self.ever_connected = False
        self._lock: IO[str] | None = None
        self._failures = 0
        self.failure: str | None = None  # why the mailbox last failed (None: served)
        self.error: BaseException | None = None  # what ended the thread, re-raised with a single mailbox
        self.thread: threading.Thread | None = None

    def should_stop(self) -> bool:
        return self.daemon_stop.is_set() or self.halt.is_set()

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.should_stop() and time.monotonic() < deadline:
            self.halt.wait(min(0.2, deadline - time.monotonic()))

    # -- life cycle -------------------------------------------------------------
    def acquire_lock(self) -> None:
        if self.settings.store().shared:
            return  # PostgreSQL: several routers share the mailbox, each message under a lease
        key = hashlib.sha256(mailbox_key(self.settings).encode()).hexdigest()[:16]
        path = self.settings.state_path.parent / f"router-{key}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(path, "w")  # noqa: SIM115 - held for the worker's life
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise RouterError(f"another router is already working {self._label()}{mailbox_key(self.settings)} (lock {path})") from None
        fh.write(str(os.getpid()))
        fh.flush()
        self._lock = fh

    def release_lock(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def _label(self) -> str:
        return f"mailbox {self.name}: " if self.isolated else ""

    def start(self, once: bool) -> None:
        self.thread = threading.Thread(target=self.run, args=(once,), name=f"mailbox-{self.name}", daemon=True)
        self.thread.start()

    def open(self) -> None:
        """Open the state store, in the daemon's thread before the mailbox's starts.

        A store that cannot be opened at start (a missing directory, PostgreSQL
        refusing us) ends the daemon with the reason, as before several
        mailboxes; once open, a PostgreSQL that goes away is waited out
        (StoreUnavailable, in `_loop`).
        """
        if self.store is None:
            self.store = cast(Store, MailboxStore(open_store(self.settings.store()), self.name))

    def run(self, once: bool) -> None:
        """The thread: serve the mailbox until stopped (or drained, for --once)."""
        mailboxes.serve(self.name)
        try:
            self.open()
            self.outbox = Outbox(self.settings.smtp)
            self._serve(once)
        except BaseException as exc:  # noqa: BLE001 - reported by the daemon (single mailbox: re-raised)
            self.error = exc
            self._failed(_reason(exc))
            if self.isolated and not isinstance(exc, RouterError):
                log.exception("mailbox stopped by an unexpected error")
        finally:
            self._disconnect()
            if self.outbox is not None:
                self.outbox.close()
            if self.store is not None:
                self.store.close()

    def _serve(self, once: bool) -> None:
        """Serve; with several mailboxes, a failure of this one is retried slowly (not under --once)."""
        backoff = 1.0
        while not self.should_stop():
            try:
                self._loop(once)
                return
            except Exception as exc:  # noqa: BLE001 - one mailbox's failure must not stop the others
                if not self.isolated or once:
                    raise
                self._failed(_reason(exc))
                if isinstance(exc, RouterError):  # refused login or folder, missing password file, ...
                    log.error("mailbox failing; retrying later while the others run", extra={"error": _reason(exc), "retry_in_s": backoff})
                else:
                    log.exception("mailbox failed unexpectedly; retrying later while the others run", extra={"retry_in_s": backoff})
            self._disconnect()
            self._sleep(backoff)
            backoff = min(backoff * 2, MAX_REFUSED_BACKOFF)

    def _runner(self) -> Runner:
        assert self.store is not None and self.outbox is not None
        return Runner(self.settings, self.store, self.classifier, self.outbox, should_stop=self.should_stop, pool=self.pool)

    def _loop(self, once: bool) -> None:
        assert self.store is not None
        runner = self._runner()
        backoff = 1.0
        failures = 0
        full = True
        once_deadline: float | None = None
        while not self.should_stop():
            try:
                mb = self._connected()
                last = int(self.store.get_meta(last_uid_key(runner.key), 0) or 0) if not full else 0
                result = runner.drain(mb, above=last)
                metrics.LAST_POLL.set(time.time())
                self._served()
                backoff = 1.0
                failures = 0
                if result.handled:
                    log.info("drained", extra={"handled": result.handled, "deferred": result.deferred, "by_route": result.by_route})
                if once:
                    if self.should_stop():
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
                    self._sleep(max(0.05, wait))
                    continue
                full = self._wait(mb)
            except StoreUnavailable as exc:  # PostgreSQL down: act on nothing, retry with backoff
                log.warning("state store unavailable; retrying", extra={"error": str(exc)[:200], "retry_in_s": backoff})
                self._disconnect()
                self._sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                full = True
            except _RETRIED_ERRORS as exc:
                metrics.IMAP_ERRORS.inc()
                metrics.IMAP_CONNECTED.set(0)
                reason = _reason(exc)
                if self.mailbox is None:
                    metrics.IMAP_CONNECT_FAILURES.inc()
                if isinstance(exc, LoginError) and not self.ever_connected:
                    raise  # wrong credentials at start: fail now with the reason instead of spinning
                failures += 1
                self._failed(reason)
                if once and failures > self.settings.imap.once_retries:
                    self._disconnect()
                    raise ServerUnavailable(f"{self._label()}IMAP server {self.settings.imap.host}:{self.settings.imap.port} "
                                            f"still failing after {failures} attempts: {reason}") from None
                log.warning("mailbox connection problem; reconnecting", extra={"error": reason, "retry_in_s": backoff})
                self._disconnect()
                self._sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                full = True

    def _wait(self, mb: Mailbox) -> bool:
        """Wait for news; returns True when the next drain should be a full one."""
        if self.wake.is_set():
            self.wake.clear()
            return True

        def interrupted() -> bool:
            return self.should_stop() or self.wake.is_set()

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
        deadline = time.monotonic() + self.settings.imap.poll_interval_seconds
        while not interrupted() and time.monotonic() < deadline:
            self.wake.wait(min(0.5, max(0.0, deadline - time.monotonic())))
        self.wake.clear()
        return True

    def _connected(self) -> Mailbox:
        if self.mailbox is None:
            mb = Mailbox(self.settings.imap)
            try:
                mb.connect()
            except BaseException:
                mb.close()
                raise
            self.ever_connected = True
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
        metrics.IMAP_CONNECTED.set(0)

    # -- health: /healthz and metrics (router.metrics), `router status` (the store)
    def _failed(self, reason: str) -> None:
        if self.failure is None:
            self._failures = 0
        self._failures += 1
        self.failure = reason
        metrics.failing(self.name, reason)
        self._record_health({"ok": False, "error": reason, "failures": self._failures, "since": time.time()})

    def _served(self) -> None:
        if self.failure is not None or not self._ever_served:
            self.failure = None
            self._failures = 0
            metrics.failing(self.name, None)
            self._record_health({"ok": True, "error": None, "failures": 0, "since": time.time()})
            self._ever_served = True

    _ever_served = False

    def _record_health(self, entry: dict[str, Any]) -> None:
        """Keep the mailbox's health in the store for `router status` ("since": when it last changed)."""
        if self.store is None:
            return
        try:
            previous = self.store.get_meta("health") or {}
            if previous.get("ok") == entry["ok"]:
                entry["since"] = previous.get("since", entry["since"])
            self.store.set_meta("health", entry)
        except Exception as exc:  # noqa: BLE001 - reporting must never take the mailbox down
            log.warning("could not record the mailbox's health", extra={"error": _reason(exc)})


class Daemon:
    def __init__(self, settings: Settings, config_path: str | None = None) -> None:
        self.settings = settings
        self.config_path = config_path
        self.stop = threading.Event()
        self.reload = threading.Event()
        self.classifier = _load_model(settings, warm=False)  # warmed up in `run`, after the workers' fork
        self.pool = TriagePool(settings, self.classifier)  # one pool for every mailbox: the cores are shared
        self.workers: list[MailboxWorker] = []
        self.scheduler: Any = None  # APScheduler's BackgroundScheduler (imported when the daemon runs)

    def _workers(self, settings: Settings) -> list[MailboxWorker]:
        served = settings.served()
        return [MailboxWorker(s, self.classifier, self.stop, isolated=bool(settings.mailboxes), pool=self.pool) for s in served]

    def install_signals(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self.stop.set())
        signal.signal(signal.SIGINT, lambda *_: self.stop.set())
        signal.signal(signal.SIGHUP, lambda *_: self.reload.set())

    def _schedule(self, workers: list[MailboxWorker]) -> None:
        """The scheduled poll of each mailbox, at its own `[imap] poll_interval_seconds`."""
        if self.scheduler is None:
            return
        self.scheduler.remove_all_jobs()
        for w in workers:
            self.scheduler.add_job(w.wake.set, "interval", seconds=w.settings.imap.poll_interval_seconds, id=f"poll-{w.name}")

    def run(self, once: bool = False) -> int:
        self.workers = self._workers(self.settings)
        self._lock_all(self.workers)
        self.install_signals()
        self.pool.start()  # before the metrics server's, the scheduler's and the mailboxes' threads (see TriagePool)
        if self.classifier is not None:
            # Now that the workers are forked, and before the mailboxes start: on
            # a thread, the first mail after a restart loaded py3langid again
            # itself (~2 s, twice over on a busy core), and a router restarted
            # after kill -9 spent each start before its first recorded step
            # (tests/test_resilience.py: kills no longer landed mid-drain).
            self.classifier.warm_up()
        try:
            self._open_all(self.workers)
        except BaseException:
            self.pool.close()
            raise
        mailboxes.install_log_field()
        metrics.watch([w.name for w in self.workers])
        server = metrics.serve(self.settings.metrics_listen, self.settings.healthz_max_age_seconds) if self.settings.metrics_listen else None
        scheduler = None
        if not once:
            from apscheduler.schedulers.background import BackgroundScheduler

            scheduler = BackgroundScheduler(daemon=True)
            self.scheduler = scheduler
            self._schedule(self.workers)
            scheduler.start()
        log.info("router started", extra={"mailboxes": {w.name: mailbox_key(w.settings) for w in self.workers}, "once": once,
                                           "model": self.classifier.version if self.classifier else None})
        try:
            for w in self.workers:
                w.start(once)
            self._supervise(once)
        finally:
            self.stop.set()
            self._join(self.workers)
            if scheduler:
                scheduler.shutdown(wait=False)
            if server:
                server.shutdown()
            for w in self.workers:
                w.release_lock()
            self.pool.close()
            log.info("router stopped")
        return self._outcome(once)

    @staticmethod
    def _open_all(workers: list[MailboxWorker]) -> None:
        try:
            for w in workers:
                w.open()
        except BaseException:
            for w in workers:
                w.release_lock()
                if w.store is not None:
                    w.store.close()
            raise

    def _lock_all(self, workers: list[MailboxWorker]) -> None:
        try:
            for w in workers:
                w.acquire_lock()
        except BaseException:
            for w in workers:
                w.release_lock()
            raise

    def _supervise(self, once: bool) -> None:
        """The main thread: wait for the workers, reload on SIGHUP, end on SIGTERM."""
        while not self.stop.is_set():
            alive = [w for w in self.workers if w.thread is not None and w.thread.is_alive()]
            if not alive:
                return
            if not self.settings.mailboxes and self.workers[0].error is not None:
                return
            if self.reload.is_set() and not once:
                self._reload()
            self.stop.wait(0.2)

    @staticmethod
    def _join(workers: list[MailboxWorker]) -> None:
        for w in workers:
            if w.thread is not None:
                w.thread.join(timeout=30)
                if w.thread.is_alive():
                    log.error("mailbox did not stop in time", extra={"mailbox": w.name})

    def _outcome(self, once: bool) -> int:
        if not self.settings.mailboxes:
            error = self.workers[0].error
            if error is not None:
                raise error
            return 0
        failed = [w for w in self.workers if w.error is not None or (once and w.failure is not None)]
        if failed:
            raise MailboxesFailed("; ".join(f"mailbox {w.name}: {w.failure or _reason(w.error or RouterError())}" for w in failed))
        return 0

    def _reload(self) -> None:
        self.reload.clear()
        try:
            settings = config.load(self.config_path)
            classifier = _load_model(settings)
        except RouterError as exc:
            log.error("config reload failed; keeping the old configuration", extra={"error": str(exc)})
            return
        for w in self.workers:
            w.halt.set()  # finish the message in hand
        self._join(self.workers)
        for w in self.workers:
            w.release_lock()
        self.settings = settings
        self.classifier = classifier
        self.pool.close()
        self.pool = TriagePool(settings, classifier)  # the new model and [model] workers; started on first use
        workers = self._workers(settings)
        try:
            self._lock_all(workers)
            self._open_all(workers)
        except RouterError as exc:
            log.error("config reload failed; stopping", extra={"error": str(exc)})
            self.stop.set()
            return
        connected = {w.name for w in self.workers if w.ever_connected}
        for w in workers:
            w.ever_connected = w.name in connected  # a login refused after a reload is retried, as before
        self.workers = workers
        self._schedule(workers)
        metrics.watch([w.name for w in workers])
        for w in workers:
            w.start(once=False)
        log.info("configuration reloaded", extra={"config": str(settings.source), "mailboxes": [w.name for w in workers]})


def _load_model(settings: Settings, warm: bool = True) -> classify.Classifier | None:
    """The model; `warm` loads what its first use would wait for (see `Classifier.warm_up`).

    At start the daemon warms up only after forking the triage workers: the
    careful model's embedder (OpenMP) does not survive a fork once it has run.
    """
    if not settings.model_path.exists():
        log.warning("no model file; categories come from subject types and rules", extra={"model": str(settings.model_path)})
        return None
    clf = classify.load(settings.model_path)
    clf.compile(serving_only=True)  # the daemon scores through the compiled form only
    if warm:
        clf.warm_up_in_background()  # start-up (login, folders) goes on while the models load
    metrics.MODEL.labels(version=clf.version).set(1)
    return clf


def run(settings: Settings, once: bool, config_path: str | None = None) -> int:
    return Daemon(settings, config_path).run(once)
