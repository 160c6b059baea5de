"""`router run [--once]`: the daemon."""

from __future__ import annotations

import argparse

from router import daemon
from router.commands.common import load_settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the daemon (IDLE push, scheduled polling as fallback)",
                       description="Pull mail over IMAP, decide, forward, reply and file. SIGTERM finishes the message in hand and exits 0; SIGHUP reloads the config.")
    p.add_argument("--once", action="store_true", help="drain the mailbox and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    return daemon.run(settings, once=args.once, config_path=args.config)
