"""The README's first command: run the daemon against a local mail sandbox.

Starts a private Dovecot (IMAP) and an aiosmtpd sink on loopback in a temp
dir, loads the sample mail from samples/, runs the real `router run --once`
as a subprocess, then shows where each message went: its folder, the team
it was forwarded to, and whether an acknowledgement was sent.
"""

from __future__ import annotations

import email
import email.policy
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from router.testing import Dovecot, SmtpSink, router_config

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    samples = sorted((REPO / "samples").glob("*.eml"))
    with tempfile.TemporaryDirectory(prefix="router-demo-") as tmp:
        base = Path(tmp)
        base.chmod(0o755)  # Dovecot reads the maildir as an unprivileged user
        with Dovecot(base / "imap") as dovecot, SmtpSink() as sink:
            for path in samples:
                dovecot.append("INBOX", path.read_bytes())
            cfg = base / "config.toml"
            router_config(cfg, dovecot, sink, base / "state", "ROUTER_DEMO_IMAP_PASSWORD",
                          imap={"poll_interval_seconds": 5}, smtp={"retry_base_seconds": 1})
            env = {**os.environ, "ROUTER_DEMO_IMAP_PASSWORD": dovecot.password}
            print(f"sandbox: Dovecot on {dovecot.host}:{dovecot.port}, SMTP sink on {sink.host}:{sink.port}, {len(samples)} sample messages in INBOX")
            print("running: router run --once\n")
            proc = subprocess.run(
                [sys.executable, "-m", "router", "--config", str(cfg), "--log-format", "text", "--log-level", "WARNING", "run", "--once"],
                env=env, timeout=300,
            )
            if proc.returncode != 0:
                print(f"router run --once exited {proc.returncode}", file=sys.stderr)
                return proc.returncode
            print(report(samples, dovecot, sink))
            second = subprocess.run(
                [sys.executable, "-m", "router", "--config", str(cfg), "--log-level", "WARNING", "run", "--once"],
                env=env, timeout=300,
            )
            sent_before = len(sink.messages)
            print(f"\nsecond run --once: exit {second.returncode}, INBOX holds {len(dovecot.uids('INBOX'))} messages, "
                  f"{len(sink.messages) - sent_before} more sent (nothing is handled twice)")
            subprocess.run([sys.executable, "-m", "router", "--config", str(cfg), "status"], env=env, timeout=60)
    return 0


def report(samples: list[Path], dovecot: Dovecot, sink: SmtpSink) -> str:
    where: dict[str, str] = {}
    for folder in dovecot.folders():
        try:
            messages = dovecot.list_folder(folder)
        except Exception:  # noqa: BLE001 - \\Noselect parents such as "Routed"
            continue
        for raw in messages:
            msg = email.message_from_bytes(raw, policy=email.policy.compat32)
            where[(msg.get("Message-ID") or "").strip()] = folder
    forwards: dict[str, list[str]] = {}
    replies: dict[str, str] = {}
    for m in sink.messages:
        msg = email.message_from_bytes(m.data, policy=email.policy.compat32)
        original = (msg.get("X-Router-Original-Message-ID") or "").strip()
        if original:
            forwards.setdefault(original, []).append(",".join(m.rcpt_tos))
        elif msg.get("Auto-Submitted", "").startswith("auto-replied"):
            replies[(msg.get("In-Reply-To") or "").strip()] = ",".join(m.rcpt_tos)
    rows = [("SAMPLE", "FOLDER", "FORWARDED TO", "AUTO-REPLY TO")]
    for path in samples:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.compat32)
        mid = (msg.get("Message-ID") or "").strip()
        folder = where.get(mid, "?")
        if not mid:  # unparseable mail: find it by elimination in Quarantine
            folder = "Quarantine" if any(f == "Quarantine" for f in where.values()) else "?"
        rows.append((path.name, folder, ", ".join(forwards.get(mid, [])) or "-", replies.get(mid, "-")))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.append(f"\nINBOX now holds {len(dovecot.uids('INBOX'))} messages; the SMTP sink received {len(sink.messages)} messages.")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
