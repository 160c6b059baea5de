"""Several `router run` processes on one mailbox, sharing a PostgreSQL state store (issue 14).

Real servers only: Dovecot, aiosmtpd and PostgreSQL from router.testing.
Two daemons work one INBOX; one of them is SIGKILLed again and again at
random moments.  Each message is claimed under a lease; the survivor skips
what a live router holds and, once a dead router's lease expires, finishes
the message from its last recorded step.  What must hold: every message
filed exactly once where it belongs, every forward sent (copies re-sent
inside a crash window share one Message-ID: nothing goes out under two),
no acknowledgement twice, and the store agrees that everything is filed.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from daemonkit import (env_for, forwards, log_events, mailbox_ids, make_mail, parsed, replies, router_cmd, slow_smtp,
                       start_daemon, stop_daemon, wait_until, write_config)
from router.state import PostgresStore, StoreLocation, open_store
from router.testing import Dovecot, SmtpSink
from router.testing.postgres import Postgres

pytestmark = pytest.mark.integration

SEED = 20261204
SUBJECTS = [
    ("Withdrawal Failed - UID {n}", "My USDT withdrawal failed yesterday and the amount has not returned to my balance."),
    ("Account Hacked - UID {n}", "Someone logged into my account from another country at 3am and withdrew 2 BTC. I did not do this!"),
    ("KYC Verification - UID {n}", "My identity verification was rejected twice, I do not understand why. Please advise."),
    ("Deposit Not Credited - UID {n}", "I deposited 0.5 ETH three hours ago, the transaction is confirmed but my account shows nothing."),
]


def backlog(n: int) -> list[bytes]:
    out = []
    for i in range(n):
        subject, body = SUBJECTS[i % len(SUBJECTS)]
        out.append(make_mail(i, subject.format(n=20_000_000 + i), body, sender=f"c{i}@mail.example"))
    return out


def pg_config(tmp: Path, dovecot: Dovecot, sink: SmtpSink, server: Postgres, url: str, name: str, lease: float) -> Path:
    """A router's own config (and state dir), all pointing at one mailbox and one PostgreSQL database."""
    home = tmp / name
    home.mkdir()
    return write_config(home, dovecot, sink, imap={"batch_size": 4, "poll_interval_seconds": 1},
                        state={"url": url, "password_file": str(server.password_file), "lease_seconds": lease})


def message_id(raw: bytes) -> str:
    return (parsed(raw).get("Message-ID") or "").strip()


@pytest.mark.slow
def test_two_routers_one_killed_repeatedly_lose_nothing_and_send_nothing_twice(
        tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink, postgres_server: Postgres, postgres_url: str) -> None:
    raws = backlog(200)
    ids = [message_id(r) for r in raws]
    assert len(set(ids)) == len(ids)
    steady = pg_config(tmp_path, dovecot, smtp_sink, postgres_server, postgres_url, "steady", lease=3)
    victim = pg_config(tmp_path, dovecot, smtp_sink, postgres_server, postgres_url, "victim", lease=3)
    for raw in raws:
        dovecot.append("INBOX", raw)
    slow_smtp(smtp_sink, 0.06)  # widens the window between "the relay has it" and "the router recorded it"

    rnd = random.Random(SEED)
    steady_log, victim_log = tmp_path / "steady.log", tmp_path / "victim.log"
    survivor = start_daemon(steady, dovecot, steady_log)
    kills = 0
    try:
        while kills < 10 and dovecot.uids("INBOX"):
            starts = victim_log.read_bytes().count(b"router started") if victim_log.exists() else 0
            with victim_log.open("ab") as fh:
                proc = subprocess.Popen(router_cmd(victim, "run"), env=env_for(dovecot), stdout=fh, stderr=fh)
            try:
                # The kill lands a random while after start-up (model load), wherever the victim then is.
                wait_until(lambda: proc.poll() is not None or victim_log.read_bytes().count(b"router started") > starts, 60, 0.02)
                proc.wait(timeout=rnd.uniform(0.5, 3.0))
                pytest.fail(f"the victim exited by itself ({proc.returncode}): {victim_log.read_text()[-2000:]}")
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
        assert kills >= 3, f"the backlog was gone after {kills} kills: make it bigger"
        assert survivor.poll() is None, steady_log.read_text()[-3000:]
        slow_smtp(smtp_sink, 0)
        store = open_store(StoreLocation(tmp_path, url=postgres_url, password_file=postgres_server.password_file))
        try:
            done = wait_until(lambda: not dovecot.uids("INBOX") and store.summary(since=0)["in_progress"] == 0, 90, 0.5)
            assert done, (dovecot.uids("INBOX"), store.summary(since=0)["in_progress"], steady_log.read_text()[-3000:])
            summary = store.summary(since=0)
            assert isinstance(store, PostgresStore)
            takeovers = store._exec("SELECT COUNT(*) AS n FROM events WHERE kind='taken_over'")[0]["n"]
        finally:
            store.close()
    finally:
        assert stop_daemon(survivor) == 0

    # Every message filed exactly once; the INBOX is empty.
    boxes = mailbox_ids(dovecot)
    seen = Counter(mid for folder in boxes.values() for mid in folder)
    assert seen == Counter(ids), {m: n for m, n in (seen - Counter(ids) + (Counter(ids) - seen)).items()}
    assert sum(summary["total_by_outcome"].values()) == len(ids), summary["total_by_outcome"]

    # Every original forwarded, and never under two Message-IDs.
    fw = forwards(smtp_sink)
    forwarded_routes = {"security", "compliance", "general"}
    where = {mid: folder for folder, mids in boxes.items() for mid in mids}
    for mid in ids:
        if where[mid].startswith("Routed/") and where[mid] != "Routed/Review":
            assert mid in fw, (mid, where[mid])
        for copies in [fw.get(mid, [])]:
            assert len({fid for fid, _ in copies}) <= 1, (mid, copies)
            assert len({rcpt for _, rcpt in copies}) <= 1, (mid, copies)
    assert forwarded_routes & {f.split("/")[-1].lower() for f in where.values()}

    # No acknowledgement twice.
    acks = Counter((msg.get("In-Reply-To") or "").strip() for msg, _ in replies(smtp_sink))
    assert not acks or max(acks.values()) == 1, [m for m, n in acks.items() if n > 1]

    # Both routers did work; the survivor took over what the victim left.
    handled = {name: sum(1 for e in log_events(log) if e.get("event") == "message handled")
               for name, log in (("steady", steady_log), ("victim", victim_log))}
    assert handled["steady"] > 0 and handled["victim"] > 0, handled
    assert takeovers >= 1, "no expired lease was taken over: the kills missed every claimed message"
    resent = sum(1 for copies in fw.values() if len(copies) > 1)
    print(f"\n{kills} SIGKILLs of one of two routers; handled {handled}; {takeovers} expired leases taken over; "
          f"{resent} forwards re-sent after a crash (same Message-ID)")


def test_a_second_router_on_one_mailbox_is_refused_without_postgres(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    """SQLite is one router's: a second `router run` on the same mailbox and state says so and exits."""
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    first = start_daemon(cfg, dovecot, tmp_path / "first.log")
    try:
        assert wait_until(lambda: b"router started" in (tmp_path / "first.log").read_bytes(), 30)
        second = subprocess.run(router_cmd(cfg, "run"), env=env_for(dovecot), capture_output=True, text=True, timeout=60)
        assert second.returncode != 0 and "another router is already working" in second.stderr
    finally:
        stop_daemon(first)


def test_two_routers_share_one_postgres_mailbox_without_doubles(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink,
                                                                postgres_server: Postgres, postgres_url: str) -> None:
    raws = backlog(40)
    for raw in raws:
        dovecot.append("INBOX", raw)
    a = pg_config(tmp_path, dovecot, smtp_sink, postgres_server, postgres_url, "a", lease=30)
    b = pg_config(tmp_path, dovecot, smtp_sink, postgres_server, postgres_url, "b", lease=30)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs = [start_daemon(a, dovecot, logs[0]), start_daemon(b, dovecot, logs[1])]
    try:
        assert wait_until(lambda: not dovecot.uids("INBOX"), 120, 0.3), [log.read_text()[-2000:] for log in logs]
        time.sleep(1)
    finally:
        codes = [stop_daemon(p) for p in procs]
    assert codes == [0, 0], [log.read_text()[-2000:] for log in logs]
    seen = Counter(mid for folder in mailbox_ids(dovecot).values() for mid in folder)
    assert seen == Counter(message_id(r) for r in raws)
    fw = forwards(smtp_sink)
    assert all(len(copies) == 1 for copies in fw.values()), {m: c for m, c in fw.items() if len(c) > 1}


def test_status_reads_the_postgres_store_and_a_password_in_the_url_is_refused(
        tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink, postgres_server: Postgres, postgres_url: str) -> None:
    dovecot.append("INBOX", backlog(1)[0])
    cfg = pg_config(tmp_path, dovecot, smtp_sink, postgres_server, postgres_url, "one", lease=30)
    done = subprocess.run(router_cmd(cfg, "run", "--once"), env=env_for(dovecot), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    status = subprocess.run(router_cmd(cfg, "status", "--json"), env=env_for(dovecot), capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stderr[-2000:]
    report = json.loads(status.stdout)
    assert report["state"] == postgres_url and sum(report["total_by_outcome"].values()) == 1
    bad = write_config(tmp_path / "one", dovecot, smtp_sink, state={"url": "postgresql://router:hunter2@127.0.0.1:5432/router"})
    refused = subprocess.run(router_cmd(bad, "check-config"), env=env_for(dovecot), capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "must not contain a password" in refused.stderr
    assert "hunter2" not in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    gone = write_config(tmp_path / "one", dovecot, smtp_sink, state={"url": postgres_url, "password_env": "ROUTER_TEST_NO_SUCH"})
    failed = subprocess.run(router_cmd(gone, "status"), env=env_for(dovecot), capture_output=True, text=True, timeout=60)
    assert failed.returncode == 1 and "password_env ROUTER_TEST_NO_SUCH is not set" in failed.stderr


def test_the_daemon_waits_out_a_postgres_outage_and_then_finishes(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    with Postgres() as server:
        url = server.create_database("outage")
        cfg = pg_config(tmp_path, dovecot, smtp_sink, server, url, "outage", lease=30)
        log = tmp_path / "outage.log"
        proc = start_daemon(cfg, dovecot, log)
        try:
            assert wait_until(lambda: b"router started" in log.read_bytes(), 60), log.read_text()[-2000:]
            server.halt()
            raws = backlog(3)
            for raw in raws:
                dovecot.append("INBOX", raw)
            assert wait_until(lambda: b"state store unavailable; retrying" in log.read_bytes(), 30), log.read_text()[-2000:]
            assert len(dovecot.uids("INBOX")) == 3 and forwards(smtp_sink) == {}  # nothing acted on, nothing set aside
            server.resume()
            assert wait_until(lambda: not dovecot.uids("INBOX"), 90, 0.3), log.read_text()[-3000:]
        finally:
            assert stop_daemon(proc) == 0, log.read_text()[-2000:]
    assert set(forwards(smtp_sink)) == {message_id(r) for r in raws}
    assert "Traceback" not in log.read_text()
