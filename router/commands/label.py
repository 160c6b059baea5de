"""`router label MESSAGE-ID CATEGORY`: correct the category of a handled message.

The same as moving the message into Corrections/<category> in a mail client:
the message is found over IMAP (in the routed, review, automated and
restricted folders), the correction is recorded in the state store (text
redacted of secrets), the message is forwarded once to the right team if it
had not gone there, and it is filed in that team's folder.
"""

from __future__ import annotations

import argparse

from router.cli import load_settings, print_json
from router.config import CATEGORIES
from router.errors import RouterError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("label", help="correct a message's category (re-routes it and records the correction)",
                       description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("message_id", metavar="MESSAGE-ID", help="the message's Message-ID header, e.g. '<abc@mail.example>'")
    p.add_argument("category", choices=CATEGORIES, help="the right category")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from router import classify
    from router.act.outbox import Outbox
    from router.corrections import LABEL_FOLDER_KEYS, Corrector, find_for_label
    from router.mailbox import Mailbox
    from router.state import State

    settings = load_settings(args)
    mid = args.message_id.strip()
    if not mid.startswith("<"):
        mid = f"<{mid}>"
    state = State(settings.state_path)
    outbox = Outbox(settings.smtp)
    try:  # needed only for a message the state store does not know
        classifier = classify.load(settings.model_path) if settings.model_path.exists() else None
    except RouterError:
        classifier = None
    try:
        with Mailbox(settings.imap) as mb:
            found = find_for_label(mb, settings, mid)
            if found is None:
                where = ", ".join(settings.folders[k] for k in LABEL_FOLDER_KEYS)
                raise RouterError(f"message {mid} not found in {where}")
            folder, uid = found
            raw = mb.fetch([uid]).get(uid)
            if raw is None:
                raise RouterError(f"message {mid} vanished from {folder}")
            applied = Corrector(settings, state, outbox, classifier).apply(mb, uid, raw, args.category, source="label",
                                                                           current_folder=folder)
    finally:
        outbox.close()
        state.close()
    out = {**applied.as_dict(), "found_in": folder}
    if args.json:
        print_json(out)
    else:
        was = f"{applied.original_category} (route {applied.original_route})" if applied.original_category else "unknown to the state store"
        line = f"{applied.message_id}: {was} -> {applied.category}"
        line += f"; forwarded to {applied.forwarded_to}" if applied.forwarded_to else "; not forwarded again (already sent to that team)"
        line += f"; filed in {applied.folder}"
        if not applied.recorded:
            line += " (correction already recorded)"
        print(line)
    return 0
