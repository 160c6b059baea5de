"""Backlog throughput of `router run --once` against the job's limit on the same servers.

Starts a private Dovecot and an SMTP sink (router.testing) in a temp dir,
APPENDs the same backlog of realistic mail (bench/mix.py) into three folders
of one account, then, in one run:

1. bare IMAP: a plain imapclient session drains the copy in `Bench/BareBatch`
   the way the router's IMAP side works: UID SEARCH ALL, then per batch of 50
   (the router's `imap.batch_size`) one FETCH BODY.PEEK[] and one MOVE of the
   batch into `Bench/Done` (the router files a batch with one MOVE per
   folder).  For reference, `Bench/Bare` is drained with a MOVE per message.
2. router: `router run --once` as a subprocess drains INBOX: parse, classify,
   decide, forward (and acknowledge) over SMTP, record each step in SQLite,
   MOVE.  Its rate is end to end (process start-up, worker start-up and model
   load included); the steady rate between its first and last handled
   message is shown too.  Peak memory is the largest sum of VmRSS over the
   router and its triage workers (/proc, sampled every 20 ms), and the main
   process's own VmHWM.
3. bare SMTP: exactly the messages the sink got from the router (forwards
   and acknowledgements, same bytes, same envelopes) sent again to the same
   sink over one kept-open smtplib connection.

The job's limit is the rate of a router whose own work cost nothing: per
message one share of the bare FETCH+MOVE and `sends_per_msg` bare SMTP
sends, done one after the other,

    limit = 1 / (1 / fetchmove_rate + sends_per_msg / smtp_rate)

(a router that overlapped IMAP with SMTP could beat it; this one does not).

The CPU lines say what bounds the router on this machine: the CPU seconds of
the router and its workers (wait4's usage of the router, which includes the
workers it reaped) and of this process (the SMTP sink thread, the sampler)
over the router's run, per message, and the rate at which that work would
fill every core.  When that ceiling is far below the job's limit, no
overlap of I/O reaches the limit with the same per-message work.

Both copies hold the same bytes on the same server, so they cost Dovecot the
same; the messages repeated by the mix (every 20th is a sample) are given
their own Message-ID so the router does real work on each one.

    .venv/bin/python bench/throughput.py [--n 2000] [--workers N] [--model PATH] [--pipelining]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

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


# The drain runs in a mailbox thread (router.daemon.MailboxWorker), which `python -m cProfile`
# does not see: profile the whole process's main thread and each mailbox thread, stats merged.
_PROFILED = """
import cProfile, pstats, sys, threading
import router.daemon as d
from router.cli import main
out = sys.argv[1]
profiles = [cProfile.Profile()]
orig = d.MailboxWorker.run
def run(self, once):
    prof = cProfile.Profile()
    profiles.append(prof)
    prof.enable()
    try:
        orig(self, once)
    finally:
        prof.disable()
d.MailboxWorker.run = run
profiles[0].enable()
try:
    code = main(sys.argv[2:])
finally:
    profiles[0].disable()
    stats = pstats.Stats(profiles[0])
    for p in profiles[1:]:
        stats.add(p)
    stats.dump_stats(out)
sys.exit(code)
"""


def _status_kib(pid: int, field: str, name: str = "status") -> int | None:
    try:
        text = Path(f"/proc/{pid}/{name}").read_text()
    except OSError:
        return None
    m = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) if m else None  # a zombie has no memory lines


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class PeakRss:
    """Samples the process and its children (triage workers) until it exits.

    `tree_kib`: the largest sum of VmRSS seen at one sample (every 20 ms);
    `pss_kib`: the largest sum of Pss (each shared page counted once, split
    among the processes sharing it: forked workers share the model);
    `main_kib`: the main process's VmHWM (the kernel's own high-water mark).
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.tree_kib = 0
        self.pss_kib = 0
        self.main_kib = 0
        self.workers = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            hwm = _status_kib(self.pid, "VmHWM")
            if hwm is None:
                return
            self.main_kib = max(self.main_kib, hwm)
            kids = _children(self.pid)
            self.workers = max(self.workers, len(kids))
            total = (_status_kib(self.pid, "VmRSS") or 0) + sum(_status_kib(k, "VmRSS") or 0 for k in kids)
            self.tree_kib = max(self.tree_kib, total)
            pss = sum(_status_kib(p, "Pss", "smaps_rollup") or 0 for p in [self.pid, *kids])
            self.pss_kib = max(self.pss_kib, pss)
            time.sleep(0.02)

    def join(self) -> None:
        self._thread.join(timeout=5)


def offer_pipelining(sink: SmtpSink) -> None:
    """Make the sink say PIPELINING (RFC 2920) in its EHLO answer, as Postfix does.

    aiosmtpd reads commands line by line, so it answers pipelined commands
    correctly, but does not offer the extension; its `handle_EHLO` hook adds
    the keyword (read per connection).  The bare SMTP client (smtplib) does
    not pipeline either way.
    """
    async def handle_ehlo(server: object, session: Any, envelope: object, hostname: str, responses: list[str]) -> list[str]:
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    sink._controller.handler.handle_EHLO = handle_ehlo


def bare_smtp(sink: SmtpSink) -> tuple[int, float]:
    """(messages, seconds) to send again what the router sent, over one kept-open connection."""
    sent = sink.messages
    with smtplib.SMTP(sink.host, sink.port, timeout=60) as smtp:
        t0 = time.perf_counter()
        for m in sent:
            smtp.sendmail(m.mail_from or "", list(m.rcpt_tos), m.data)
        elapsed = time.perf_counter() - t0
    return len(sent), elapsed


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
    ap.add_argument("--workers", type=int, default=0, help="[model] workers for the router (default 0: one per core; 1: in-process)")
    ap.add_argument("--pipelining", action="store_true", help="the SMTP sink offers PIPELINING (RFC 2920), as Postfix does")
    ap.add_argument("--profile", type=Path, help="run the router under cProfile (main and mailbox threads), stats written here")
    args = ap.parse_args()
    print(f"server: {args.server}; SMTP sink {'offers' if args.pipelining else 'does not offer'} PIPELINING")

    if args.model.exists():
        model_note = f"model {args.model}"
    else:
        model_note = f"NO MODEL: {args.model} is missing; the router runs on subject types and rules (unknown types go to review)"
    print(model_note)

    base = Path(tempfile.mkdtemp(prefix="rbench", dir="/tmp"))
    base.chmod(0o755)  # Dovecot reads the maildir as an unprivileged user when run as root
    try:
        with make_server(args.server, base / "imap") as dovecot, SmtpSink() as sink:
            if args.pipelining:
                offer_pipelining(sink)
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
            router_config(cfg, dovecot, sink, base / "state", PASSWORD_ENV, model={"path": str(args.model), "workers": args.workers},
                          imap={"batch_size": BATCH})
            env = {**os.environ, PASSWORD_ENV: dovecot.password}
            log = base / "router.log"
            with log.open("wb") as fh:
                t0 = time.perf_counter()
                argv = ["--config", str(cfg), "--log-format", "json", "run", "--once"]
                cmd = [sys.executable, "-c", _PROFILED, str(args.profile), *argv] if args.profile else [sys.executable, "-m", "router", *argv]
                self_before = resource.getrusage(resource.RUSAGE_SELF)
                proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=fh)
                rss = PeakRss(proc.pid)
                # wait4's usage is the router's own CPU plus that of the workers it reaped (Linux: RUSAGE_BOTH).
                _pid, status, usage = os.wait4(proc.pid, 0)
                code = proc.returncode = os.waitstatus_to_exitcode(status)
                t_router = time.perf_counter() - t0
                self_after = resource.getrusage(resource.RUSAGE_SELF)
                cpu_router = usage.ru_utime + usage.ru_stime
                cpu_sink = (self_after.ru_utime + self_after.ru_stime) - (self_before.ru_utime + self_before.ru_stime)
            rss.join()
            if code != 0:
                print(log.read_text()[-3000:], file=sys.stderr)
                print(f"router run --once exited {code}", file=sys.stderr)
                return 1
            left = len(dovecot.uids("INBOX"))
            n_steady, t_steady = handled_span(log)
            forwarded = sum(1 for m in sink.messages if b"X-Router-Original-Message-ID" in m.data)
            acks = sum(1 for m in sink.messages if re.search(rb"(?im)^Auto-Submitted:\s*auto-replied", m.data))
            n_smtp, t_smtp = bare_smtp(sink)
    finally:
        shutil.rmtree(base, ignore_errors=True)

    bare = n_bare / t_bare
    fetchmove = n_batch / t_batch
    smtp_rate = n_smtp / t_smtp
    sends_per_msg = n_smtp / args.n
    limit = 1 / (1 / fetchmove + sends_per_msg / smtp_rate)
    router = args.n / t_router
    steady = n_steady / t_steady if t_steady else float("nan")
    tree = rss.pss_kib / 1024
    # If CPU were all that mattered: the cores shared by the router, its workers and the sink (Dovecot's
    # share left out), so no design of the same per-message work can drain faster on this machine.
    ceiling = (os.cpu_count() or 1) / ((cpu_router + cpu_sink) / args.n)
    workers = f"{rss.workers} worker process(es)" if rss.workers else "no worker processes"
    rows = [
        ("bare FETCH batch 50 + MOVE per batch", f"{fetchmove:,.0f} msg/s", f"{n_batch} in {t_batch:.2f}s"),
        ("bare FETCH batch 50 + MOVE per message (reference)", f"{bare:,.0f} msg/s", f"{n_bare} in {t_bare:.2f}s"),
        ("bare SMTP, the router's sends, one connection", f"{smtp_rate:,.0f} sends/s", f"{n_smtp} in {t_smtp:.2f}s ({sends_per_msg:.2f} per message)"),
        ("job's limit 1/(1/fetchmove + sends_per_msg/smtp)", f"{limit:,.0f} msg/s", ""),
        ("router run --once, end to end", f"{router:,.1f} msg/s", f"{args.n} in {t_router:.2f}s incl. start-up, workers={args.workers or os.cpu_count()}"),
        ("router, first to last handled message", f"{steady:,.1f} msg/s", f"{n_steady} in {t_steady:.2f}s"),
        ("ratio router / limit (target >= 0.5)", f"{router / limit:.2f}", "PASS" if router / limit >= 0.5 else "FAIL"),
        ("ratio steady router / limit", f"{steady / limit:.2f}", ""),
        ("CPU: router and its workers", f"{cpu_router:.1f} s", f"{cpu_router / args.n * 1000:.1f} ms per message, start-up included"),
        ("CPU: this process (SMTP sink, sampler)", f"{cpu_sink:.1f} s", f"{cpu_sink / args.n * 1000:.1f} ms per message"),
        ("CPU-bound ceiling on this machine", f"{ceiling:,.0f} msg/s",
         f"{os.cpu_count()} cores / ({(cpu_router + cpu_sink) / args.n * 1000:.1f} ms per message); ratio {ceiling / limit:.2f} of the limit"),
        ("router peak memory (sum of Pss), all processes (target < 400 MiB)", f"{tree:,.0f} MiB",
         ("PASS" if tree < 400 else "FAIL") + f" (sum of VmRSS {rss.tree_kib / 1024:.0f} MiB; main VmHWM {rss.main_kib / 1024:.0f} MiB; {workers})"),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    print()
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    print(f"\nafter the run: INBOX holds {left}; the sink got {forwarded} forwards and {acks} acknowledgements; cpus={os.cpu_count()}")
    return 0 if left == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
