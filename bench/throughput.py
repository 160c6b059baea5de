"""Backlog throughput of `router run --once` against the bare IMAP rate.

Starts a private Dovecot and an SMTP sink (router.testing) in a temp dir,
APPENDs the same backlog of realistic mail (bench/mix.py) into two folders of
one account, then:

1. bare: a plain imapclient session drains the copy in `Bench/Bare` the way a
   client that does nothing else would: UID SEARCH ALL, then per batch of 50
   (the router's `imap.batch_size`) one FETCH BODY.PEEK[] and a MOVE of each
   message into `Bench/Done` (one MOVE per message, as the router files each
   message on its own once acted on). A second figure moves each batch with
   one MOVE command: the ceiling of what IMAP allows, for reference.
2. router: `router run --once` as a subprocess drains INBOX: parse, classify,
   decide, forward (and acknowledge) over SMTP, record each step in SQLite,
   MOVE. Its rate is end to end (process start-up and model load included);
   the steady rate between its first and last handled message is shown too.
   Peak memory is the child's VmHWM read from /proc while it runs, checked
   against getrusage(RUSAGE_CHILDREN).ru_maxrss after it exits.

Both copies hold the same bytes on the same server, so they cost Dovecot the
same; the messages repeated by the mix (every 20th is a sample) are given
their own Message-ID so the router does real work on each one.

    .venv/bin/python bench/throughput.py [--n 2000] [--model PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mix import REPO, build  # noqa: E402

from imapclient.exceptions import IMAPClientError  # noqa: E402

from router.testing import SmtpSink, router_config  # noqa: E402
from router.testing.courier import Courier  # noqa: E402
from router.testing.cyrus import Cyrus  # noqa: E402
from router.testing.dovecot import Dovecot  # noqa: E402
from router.testing.variants import SERVERS, make_server  # noqa: E402

BATCH = 50
PASSWORD_ENV = "ROUTER_BENCH_IMAP_PASSWORD"


def unique_backlog(n: int) -> list[bytes]:
    """build(n), with a distinct Message-ID (or marker header) on repeated samples."""
    seen: set[bytes] = set()
    out = []
    for k, raw in enumerate(build(n)):
        m = re.search(rb"(?im)^Message-ID:\s*(<[^>\r\n]*>)", raw)
        if m is None:
            raw = b"X-Bench-Copy: %d\r\n" % k + raw
        elif m.group(1) in seen:
            raw = raw[: m.start(1)] + m.group(1)[:-1] + b".copy%d>" % k + raw[m.end(1) :]
        else:
            seen.add(m.group(1))
        out.append(raw)
    return out


def bare_drain(dovecot: Dovecot | Cyrus | Courier, folder: str, per_message_move: bool) -> tuple[int, float]:
    """(messages, seconds) to FETCH BODY.PEEK[] in batches and MOVE everything out of `folder`."""
    done = dovecot.server_name("Bench/Done")
    with dovecot.client(timeout=60) as c:
        if not c.folder_exists(done):
            c.create_folder(done)
        t0 = time.perf_counter()
        c.select_folder(dovecot.server_name(folder))
        uids = sorted(c.search("ALL"))
        nbytes = 0
        for i in range(0, len(uids), BATCH):
            batch = uids[i : i + BATCH]
            data = c.fetch(batch, ["BODY.PEEK[]"])
            nbytes += sum(len(d[b"BODY[]"]) for d in data.values())
            if per_message_move:
                for uid in batch:
                    c.move([uid], done)
            else:
                c.move(batch, done)
        elapsed = time.perf_counter() - t0
    return len(uids), elapsed


class PeakRss:
    """Samples /proc/<pid>/status VmHWM (the kernel's own high-water mark) until the process exits."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.kib = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        path = Path(f"/proc/{self.pid}/status")
        while True:
            try:
                text = path.read_text()
            except OSError:
                return
            m = re.search(r"^VmHWM:\s+(\d+) kB", text, re.M)
            if m is None:  # a zombie has no memory lines
                return
            self.kib = max(self.kib, int(m.group(1)))
            time.sleep(0.02)

    def join(self) -> int:
        self._thread.join(timeout=5)
        return self.kib


def handled_span(log: Path) -> tuple[int, float]:
    """(messages handled, seconds from the first to the last 'message handled' line)."""
    stamps = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if '"message handled"' in line or '"message set aside"' in line or '"known message filed again"' in line:
            try:
                ts = json.loads(line)["ts"]
            except (ValueError, KeyError):
                continue
            stamps.append(time.mktime(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")) + float(ts[19:-1] or 0))
    return len(stamps), (max(stamps) - min(stamps)) if len(stamps) > 1 else 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="backlog size (default 2000)")
    ap.add_argument("--server", choices=list(SERVERS), default="fs",
                    help="IMAP server variant: Dovecot fs (default), maildir++, inbox-prefix, minimal (no MOVE/UIDPLUS/IDLE/CONDSTORE) or cyrus")
    ap.add_argument("--model", type=Path, default=REPO / "models" / "current.joblib", help="model file (default: the shipped models/current.joblib)")
    args = ap.parse_args()
    print(f"server: {args.server}")

    if args.model.exists():
        model_note = f"model {args.model}"
    else:
        model_note = f"NO MODEL: {args.model} is missing; the router runs on subject types and rules (unknown types go to review)"
    print(model_note)

    base = Path(tempfile.mkdtemp(prefix="rbench", dir="/tmp"))
    base.chmod(0o755)  # Dovecot reads the maildir as an unprivileged user when run as root
    try:
        with make_server(args.server, base / "imap") as dovecot, SmtpSink() as sink:
            backlog = unique_backlog(args.n)
            t0 = time.perf_counter()
            refused = 0
            with dovecot.client(timeout=60) as c:
                for folder in ("Bench/Bare", "Bench/BareBatch"):
                    c.create_folder(dovecot.server_name(folder))
                accepted = []
                for raw in backlog:  # Cyrus refuses NUL bytes and some raw 8-bit headers at APPEND
                    try:
                        c.append("INBOX", raw)
                    except IMAPClientError:
                        refused += 1
                        continue
                    accepted.append(raw)
                backlog = accepted
                for folder in ("Bench/Bare", "Bench/BareBatch"):
                    for raw in backlog:
                        c.append(dovecot.server_name(folder), raw)
            args.n = len(backlog)
            size = sum(len(m) for m in backlog)
            print(f"backlog: {len(backlog)} messages ({refused} refused by the server at APPEND), {size / 2**20:.1f} MiB, "
                  f"APPENDed 3x in {time.perf_counter() - t0:.1f}s (INBOX for the router, Bench/Bare and Bench/BareBatch for the bare client)")

            n_bare, t_bare = bare_drain(dovecot, "Bench/Bare", per_message_move=True)
            n_batch, t_batch = bare_drain(dovecot, "Bench/BareBatch", per_message_move=False)

            cfg = base / "config.toml"
            router_config(cfg, dovecot, sink, base / "state", PASSWORD_ENV, model={"path": str(args.model)}, imap={"batch_size": BATCH})
            env = {**os.environ, PASSWORD_ENV: dovecot.password}
            log = base / "router.log"
            with log.open("wb") as fh:
                t0 = time.perf_counter()
                proc = subprocess.Popen(
                    [sys.executable, "-m", "router", "--config", str(cfg), "--log-format", "json", "run", "--once"],
                    env=env, stdout=fh, stderr=fh,
                )
                rss = PeakRss(proc.pid)
                code = proc.wait(timeout=3600)
                t_router = time.perf_counter() - t0
            peak_kib = rss.join()
            maxrss_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            if code != 0:
                print(log.read_text()[-3000:], file=sys.stderr)
                print(f"router run --once exited {code}", file=sys.stderr)
                return 1
            left = len(dovecot.uids("INBOX"))
            n_steady, t_steady = handled_span(log)
            forwarded = sum(1 for m in sink.messages if b"X-Router-Original-Message-ID" in m.data)
            acks = sum(1 for m in sink.messages if re.search(rb"(?im)^Auto-Submitted:\s*auto-replied", m.data))
    finally:
        shutil.rmtree(base, ignore_errors=True)

    bare = n_bare / t_bare
    ceiling = n_batch / t_batch
    router = args.n / t_router
    steady = n_steady / t_steady if t_steady else float("nan")
    peak = max(peak_kib, maxrss_kib) / 1024
    rows = [
        ("bare FETCH batch 50 + MOVE per message", f"{bare:,.0f} msg/s", f"{n_bare} in {t_bare:.2f}s"),
        ("bare FETCH batch 50 + MOVE per batch (ceiling)", f"{ceiling:,.0f} msg/s", f"{n_batch} in {t_batch:.2f}s"),
        ("router run --once, end to end", f"{router:,.1f} msg/s", f"{args.n} in {t_router:.2f}s incl. start-up"),
        ("router, first to last handled message", f"{steady:,.1f} msg/s", f"{n_steady} in {t_steady:.2f}s"),
        ("ratio router / bare (target >= 10%)", f"{router / bare:.1%}", "PASS" if router / bare >= 0.10 else "FAIL"),
        ("ratio router / ceiling", f"{router / ceiling:.1%}", "PASS" if router / ceiling >= 0.10 else "below 10%"),
        ("router peak RSS (target < 300 MiB)", f"{peak:,.0f} MiB", ("PASS" if peak < 300 else "FAIL") + f" (VmHWM {peak_kib / 1024:.0f}, ru_maxrss {maxrss_kib / 1024:.0f})"),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    print()
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    print(f"\nafter the run: INBOX holds {left}; the sink got {forwarded} forwards and {acks} acknowledgements; cpus={os.cpu_count()}")
    return 0 if left == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
