"""`router requeue`: send set-aside messages through the router again.

After fixing what made messages land in the quarantine or dead-letter folder
(a config limit, the model, the SMTP relay), `requeue` marks them in the
state store for a fresh decision and moves them back into the inbox; the
next `router run` (or `--once`) handles them once.  What was already
delivered for a message is never repeated: a forward to an address that
already got one is skipped (deliveries table), an acknowledgement that was
sent is not sent again (replies table); an acknowledgement that was only
suppressed (because the message was quarantined) may be sent on the new pass.

Selectors (at least one; together they narrow the selection):
  --folder KEY        a [folders] key: quarantine, dead_letter, or any other
                      filing folder (general, review...) to re-decide routed mail
  --case CASE_ID      the messages of a case
  --message-id MID    one message (repeatable)
Without --folder, --case and --message-id look in quarantine and dead_letter.
"""

from __future__ import annotations

import argparse
from typing import Any

from router import operations
from router.commands.common import load_settings, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "requeue",
        help="move quarantined or dead-lettered messages back to the inbox for another pass",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--folder", metavar="KEY", help="[folders] key to take messages from: quarantine | dead_letter (or another filing folder)")
    p.add_argument("--case", metavar="CASE_ID", help="the messages of this case")
    p.add_argument("--message-id", action="append", metavar="MID", help="this message (repeatable)")
    p.add_argument("--dry-run", action="store_true", help="show what would be moved; change nothing")
    p.add_argument("--mailbox", metavar="NAME", help="the [[mailboxes]] entry to act on (required when the config lists several)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = operations.requeue(operations.mailbox(load_settings(args), args.mailbox), folder_key=args.folder, case=args.case,
                             message_ids=args.message_id or (), dry_run=args.dry_run)
    if args.json:
        print_json(out)
    else:
        print(format_text(out))
    return 0


def format_text(out: dict[str, Any]) -> str:
    verb = "would move" if out["dry_run"] else "moved"
    if not out["moved"]:
        return "nothing to requeue"
    lines = []
    for m in out["moved"]:
        prev = m["previous"][0] if m["previous"] else None
        was = f"was {prev['outcome'] or prev['route'] or prev['step']}" if prev else "not known to the state store"
        sent = ", ".join(f"{d['purpose']} to {d['to']}" for d in m["already_sent"])
        lines.append(f"{verb} {m['message_id']} from {m['from']} to {m['to']} ({was})" + (f"; already sent, not repeated: {sent}" if sent else ""))
    lines.append(f"{out['count']} message(s) {verb}; `router run --once` handles them" if not out["dry_run"] else f"{out['count']} message(s)")
    return "\n".join(lines)
