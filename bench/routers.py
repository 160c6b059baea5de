"""One router vs two on one mailbox, sharing a PostgreSQL state store (issue 14).

Starts a private Dovecot, an SMTP sink and a PostgreSQL (router.testing) in
a temp dir.  For each row of the table: a fresh database, the same backlog of
realistic mail (bench/mix.py, distinct Message-IDs) APPENDed into INBOX, then
1 or 2 `router run --once` processes started together on that INBOX, each
with its own config and the same `[state] url`.  Each message is claimed
under a lease, so a router skips what the other holds; the wall time is from
the start until the last router exits with INBOX empty.  The table also
checks what the test suite checks (tests/test_routers.py): every message
filed once, no forward sent under two Message-IDs.

The SMTP sink answers each DATA after `--smtp-ms` (a relay is never
instant); two routers overlap that wait as well as CPU work, so on a
machine with one free core the gain comes mostly from the relay's latency.

    .venv/bin/python bench/routers.py [--n 300] [--smtp-ms 20]
"""

from __future__ import annotations

import argparse
import email
import email.policy
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from daemonkit import slow_smtp  # noqa: E402
from throughput import unique_backlog  # noqa: E402

from router.testing import Dovecot, SmtpSink, router_config  # noqa: E402
from router.testing.postgres import Postgres  # noqa: E402

PASSWORD_ENV = "ROUTER_BENCH_IMAP_PASSWORD"


def message_ids_everywhere(dovecot: Dovecot) -> Counter[str]:
    seen: Counter[str] = Counter()
    for folder in dovecot.folders():
        try:
            raws = dovecot.list_folder(folder)
        except Exception:  # noqa: BLE001 - \Noselect parents
            continue
        seen.update((email.message_from_bytes(r, policy=email.policy.compat32).get("Message-ID") or "").strip() for r in raws)
    return seen


def forwards_under_two_ids(sink: SmtpSink) -> int:
    ids: dict[str, set[str]] = {}
    for m in sink.messages:
        msg = email.message_from_bytes(m.data, policy=email.policy.compat32)
        original = (msg.get("X-Router-Original-Message-ID") or "").strip()
        if original:
            ids.setdefault(original, set()).add((msg.get("Message-ID") or "").strip())
    return sum(1 for v in ids.values() if len(v) > 1)


def run(routers: int, raws: list[bytes], dovecot: Dovecot, sink: SmtpSink, pg: Postgres, work: Path) -> dict[str, float]:
    url = pg.create_database(f"bench{routers}_{int(time.time() * 1000)}")
    for raw in raws:
        dovecot.append("INBOX", raw)
    sent_before = len(sink.messages)
    procs = []
    t0 = time.perf_counter()
    for k in range(routers):
        home = work / f"r{routers}-{k}"
        home.mkdir()
        cfg = router_config(home / "config.toml", dovecot, sink, home / "state", PASSWORD_ENV,
                            state={"url": url, "password_file": str(pg.password_file), "lease_seconds": 30})
        log = (home / "router.log").open("wb")
        procs.append((subprocess.Popen([sys.executable, "-m", "router", "--config", str(cfg), "--log-format", "json", "run",
                                        "--once"], env={**os.environ, PASSWORD_ENV: dovecot.password}, stdout=log,
                                       stderr=log), home / "router.log"))
    for proc, log_path in procs:
        if proc.wait(timeout=3600) != 0:
            raise SystemExit(f"router exited {proc.returncode}: {log_path.read_text()[-2000:]}")
    # A --once router that found everything held by the other exits early; the other finishes.
    while dovecot.uids("INBOX"):
        time.sleep(0.1)
    elapsed = time.perf_counter() - t0
    handled = [log.read_text(errors="replace").count('"message handled"') for _, log in procs]
    return {"seconds": elapsed, "rate": len(raws) / elapsed, "sent": len(sink.messages) - sent_before,
            "split": "/".join(map(str, handled))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300, help="backlog size per run (default 300)")
    ap.add_argument("--smtp-ms", type=float, default=20, help="the sink's delay per accepted DATA in ms (default 20)")
    args = ap.parse_args()
    raws = unique_backlog(args.n)
    work = Path(tempfile.mkdtemp(prefix="router-bench-"))
    rows = []
    with Postgres() as pg, SmtpSink() as sink:
        slow_smtp(sink, args.smtp_ms / 1000)
        for routers in (1, 2):
            dovecot = Dovecot(Path(tempfile.mkdtemp(prefix="dv", dir="/tmp")))
            with dovecot:
                result = run(routers, raws, dovecot, sink, pg, work)
                seen = message_ids_everywhere(dovecot)
                filed_once = all(n == 1 for n in seen.values()) and len(seen) == len(raws)
            rows.append((routers, result, filed_once))
        doubled = forwards_under_two_ids(sink)
    print(f"backlog {args.n} messages, SMTP answers after {args.smtp_ms:g} ms, PostgreSQL state store, {os.cpu_count()} CPUs")
    print(f"{'routers':>7} | {'seconds':>8} | {'msg/s':>7} | {'speed-up':>8} | {'handled by':>11} | {'mail sent':>9} | filed once")
    base = rows[0][1]["rate"]
    for routers, r, once in rows:
        print(f"{routers:>7} | {r['seconds']:>8.1f} | {r['rate']:>7.1f} | {r['rate'] / base:>7.2f}x | {r['split']:>11} | "
              f"{int(r['sent']):>9} | {'yes' if once else 'NO'}")
    print(f"forwards sent under two Message-IDs: {doubled}")
    return 0 if doubled == 0 and all(once for _, _, once in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
