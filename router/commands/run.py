"""`router run [--once]`: the daemon.

Exit codes: 0 done (or SIGTERM), 1 configuration error (including a folder
the server refuses), 75 (EX_TEMPFAIL, sysexits.h) when `--once` could not
reach or keep the IMAP server within `[imap] once_retries` reconnects.  With
several [[mailboxes]] each is served on its own: `--once` drains every one it
can and then exits 75 if any could not be drained (refused login or folder,
server unreachable), naming each on stderr.
"""

from __future__ import annotations

import argparse
import sys

from router import daemon
from router.commands.common import load_settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the daemon (IDLE push, scheduled polling as fallback)",
                       description="Pull mail over IMAP, decide, forward, reply and file. SIGTERM finishes the message in hand and exits 0; SIGHUP reloads the config. "
                                   "Exit codes: 0 done, 1 configuration error, 75 IMAP server unavailable after [imap] once_retries (--once); "
                                   "with several [[mailboxes]], 75 when any mailbox could not be drained (each named on stderr).")
    p.add_argument("--once", action="store_true", help="drain every mailbox once and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    try:
        return daemon.run(settings, once=args.once, config_path=args.config)
    except daemon.ServerUnavailable as exc:
        print(f"router: error: {exc}", file=sys.stderr)
        return daemon.EX_TEMPFAIL
