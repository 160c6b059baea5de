"""`router label MESSAGE-ID CATEGORY`: correct the category of a handled message.

The same as moving the message into Corrections/<category> in a mail client:
the message is found over IMAP (in the routed, review, automated and
restricted folders), the correction is recorded in the state store (text
redacted of secrets), the message is forwarded once to the right team if it
had not gone there, and it is filed in that team's folder.
"""

from __future__ import annotations

import argparse
from typing import Any

from router import operations
from router.commands.common import load_settings, print_json
from router.config import CATEGORIES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("label", help="correct a message's category (re-routes it and records the correction)",
                       description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("message_id", metavar="MESSAGE-ID", help="the message's Message-ID header, e.g. '<abc@mail.example>'")
    p.add_argument("category", choices=CATEGORIES, help="the right category")
    p.add_argument("--mailbox", metavar="NAME", help="the [[mailboxes]] entry to act on (required when the config lists several)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = operations.label(operations.mailbox(load_settings(args), args.mailbox), args.message_id, args.category)
    if args.json:
        print_json(out)
    else:
        print(format_text(out))
    return 0


def format_text(out: dict[str, Any]) -> str:
    was = f"{out['original_category']} (route {out['original_route']})" if out["original_category"] else "unknown to the state store"
    line = f"{out['message_id']}: {was} -> {out['category']}"
    line += f"; forwarded to {out['forwarded_to']}" if out["forwarded_to"] else "; not forwarded again (already sent to that team)"
    line += f"; filed in {out['folder']}"
    if not out["recorded"]:
        line += " (correction already recorded)"
    return line
