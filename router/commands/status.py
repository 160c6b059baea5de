"""`router status [--json]`: what the daemon has done, from its state store."""

from __future__ import annotations

import argparse

from router import status
from router.commands.common import load_settings, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="what the daemon has done and is doing", description="Backlog, last poll, counts by route, dead-letter and quarantine sizes, replies, cases, model.")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    data = status.collect(load_settings(args))
    if args.json:
        print_json(data)
    else:
        print(status.format_status(data))
    return 0
