"""Triage on every core (router/workers.py): same decisions, and crash safety with workers.

The pool only changes where parse+decide runs; these tests prove that the
decisions are the ones made in-process, and that a router killed with -9
while its workers triage loses nothing, acts once and leaves no worker behind
(real Dovecot and SMTP sink from router.testing).
"""

from __future__ import annotations

import dataclasses
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from daemonkit import env_for, forwards, make_mail, mailbox_ids, router_cmd, run_once, slow_smtp, wait_until, write_config

from router import classify, config
from router.testing import SmtpSink
from router.testing.dovecot import Dovecot
from router.workers import MIN_PARALLEL, TriagePool, triage

SUBJECTS = [
    ("Withdrawal Failed - UID 12345678", "My USDT withdrawal failed yesterday, please check."),
    ("account hacked", "Someone logged in to my account and changed my 2FA, please freeze it."),
    ("Frage", "Mein Konto wurde gesperrt, bitte helfen Sie mir schnell."),  # neither zh nor en: the careful model
    ("充值未到账 UID 23456789", "我昨天充值的USDT还没有到账，请帮忙查一下。"),
    ("subpoena", "We are law enforcement and request records for the account of a customer."),
]


def _mails(n: int) -> list[bytes]:
    return [make_mail(i, *SUBJECTS[i % len(SUBJECTS)]) for i in range(n)]


def test_worker_decisions_are_the_in_process_ones() -> None:
    settings = dataclasses.replace(config.load(Path(__file__).resolve().parents[1] / "config.toml"), triage_workers=2)
    classifier = classify.load(settings.model_path) if settings.model_path.exists() else None
    raws = dict(enumerate(_mails(MIN_PARALLEL + 2)))
    pool = TriagePool(settings, classifier)
    try:
        futures = pool.submit(raws)
        assert pool._pool is not None, "a batch this size goes to the workers"
        got = {uid: f.result() for uid, f in futures.items()}
    finally:
        pool.close()
    for uid, raw in raws.items():
        mail, decision = triage(raw, settings, classifier)
        assert got[uid][0] == mail
        assert got[uid][1].to_record() == decision.to_record(), uid


def test_small_batches_stay_in_process() -> None:
    settings = dataclasses.replace(config.load(Path(__file__).resolve().parents[1] / "config.toml"), triage_workers=2)
    pool = TriagePool(settings, None)
    futures = pool.submit(dict(enumerate(_mails(1))))
    assert pool._pool is None and futures[0].done()  # the IDLE path: no worker, no queue


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_sigkill_with_workers_loses_nothing_and_leaves_no_worker(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    raws = _mails(60)
    ids = [f"<t{i}.{abs(hash(SUBJECTS[i % len(SUBJECTS)][0])) % 10**6}@mail.example>" for i in range(60)]
    cfg = write_config(tmp_path, dovecot, smtp_sink, imap={"batch_size": 10}, model={"workers": 2})
    with dovecot.client() as c:
        for raw in raws:
            c.append("INBOX", raw)
    slow_smtp(smtp_sink, 0.03)
    log = tmp_path / "runs.log"
    kills = 0
    for _ in range(3):
        logged = log.stat().st_size if log.exists() else 0
        with log.open("ab") as fh:
            proc = subprocess.Popen(router_cmd(cfg, "run", "--once"), env=env_for(dovecot), stdout=fh, stderr=fh)
        wait_until(lambda: proc.poll() is not None or b'"forwarded"' in log.read_bytes()[logged:], 120, 0.02)
        if proc.poll() is not None:
            break
        workers = _children(proc.pid)
        assert workers, "the router runs triage workers"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        # PR_SET_PDEATHSIG: the workers go with the router
        assert wait_until(lambda: not any(_alive(w) for w in workers), 10, 0.05), [w for w in workers if _alive(w)]
        time.sleep(0.1)
    assert kills >= 1
    slow_smtp(smtp_sink, 0)
    final = run_once(cfg, dovecot)
    assert final.returncode == 0, final.stderr[-3000:]
    assert dovecot.uids("INBOX") == []
    seen = Counter(mid for folder in mailbox_ids(dovecot).values() for mid in folder)
    assert seen == Counter(ids)
    fw = forwards(smtp_sink)
    assert set(fw) == set(ids)  # every one of these mails is forwarded to a team
    for mid, copies in fw.items():
        assert len({fid for fid, _ in copies}) == 1, (mid, copies)  # a re-send after a kill is the same mail
        assert len({rcpt for _, rcpt in copies}) == 1, (mid, copies)


def test_a_shared_pool_decides_with_each_mailboxs_own_routes(tmp_path: Path) -> None:
    """One daemon's mailboxes share the workers; a kyc@ mail must still go to kyc@'s teams."""
    cfg = tmp_path / "config.toml"
    cfg.write_text('[model]\nworkers = 2\npath = "none.joblib"\n[routes]\ngeneral = "support-team@exchange.example"\n'
                   '[[mailboxes]]\nname = "support"\n[[mailboxes]]\nname = "kyc"\n'
                   '[mailboxes.imap]\nusername = "kyc@exchange.example"\n'
                   '[mailboxes.routes]\ngeneral = "kyc-team@exchange.example"\nreview = "kyc-review@exchange.example"\n'
                   'security = "kyc-security@exchange.example"\ncompliance = "kyc-compliance@exchange.example"\n',
                   encoding="utf-8")
    settings = config.load(cfg)
    kyc = settings.served()[1]
    raws = {i: make_mail(i, "Frage zu meinem Konto", "Wie ändere ich meine E-Mail-Adresse?") for i in range(MIN_PARALLEL + 1)}
    for batch in (raws, {0: raws[0]}):  # through the workers, and in-process (a batch too small for them)
        pool = TriagePool(settings, None)
        try:
            got = {uid: f.result() for uid, f in pool.submit(batch, kyc).items()}
            assert (pool._pool is not None) == (len(batch) >= MIN_PARALLEL)
        finally:
            pool.close()
        for uid, (_mail, decision) in got.items():
            assert decision.forwards and all(to.startswith("kyc-") for to in decision.forwards), (uid, decision.forwards)


_FROZEN_CHECK = """
import dataclasses, gc, sys, threading
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from test_workers import _mails
from router import classify, config
from router.workers import MIN_PARALLEL, TriagePool, triage

settings = dataclasses.replace(config.load(Path(sys.argv[2]) / "config.toml"), triage_workers=2)
classifier = classify.load(settings.model_path)
assert threading.active_count() == 1, "a pool forks only from a single-threaded process"
raws = dict(enumerate(_mails(MIN_PARALLEL)))
pool = TriagePool(settings, classifier)
try:
    got = {uid: f.result() for uid, f in pool.submit(raws).items()}
    assert pool._pool is not None, "the batch went to the workers"
    assert gc.get_freeze_count() > 0
    gc.collect()
    assert gc.get_freeze_count() > 0, "a collection in the parent leaves the frozen objects alone"
    vectorizers = [v for _, v in classifier.pipeline.named_steps["features"].transformer_list]
    assert not any(hasattr(v, "vocabulary_") for v in vectorizers), "compiled before the fork, the dicts dropped"
finally:
    pool.close()
assert gc.get_freeze_count() == 0
for uid, raw in raws.items():
    assert got[uid][1].to_record() == triage(raw, settings, classifier)[1].to_record(), uid
print("frozen until closed")
"""


def test_a_forked_pool_keeps_the_shared_objects_frozen_until_it_closes() -> None:
    """The parent's collector must not visit (and so copy) the pages its forked workers share, while they live.

    In a fresh interpreter: the pool forks only from a single-threaded process,
    and in a test run other tests' threads (servers, warm-ups) may still live.
    """
    tests = Path(__file__).resolve().parent
    proc = subprocess.run([sys.executable, "-c", _FROZEN_CHECK, str(tests), str(tests.parent)],
                          capture_output=True, text=True, timeout=600, cwd=tests.parent)
    assert proc.returncode == 0 and "frozen until closed" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-3000:]
