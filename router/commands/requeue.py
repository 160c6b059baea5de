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

from router import parse
from router.cli import load_settings, print_json
from router.errors import RouterError

DEFAULT_FOLDERS = ("quarantine", "dead_letter")


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
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run, _parser=p)


def run(args: argparse.Namespace) -> int:
    parser: argparse.ArgumentParser = args._parser
    if not (args.folder or args.case or args.message_id):
        parser.error("give at least one of --folder, --case, --message-id")
    settings = load_settings(args)
    if args.folder is not None and (args.folder not in settings.folders or args.folder == "corrections"):
        keys = ", ".join(k for k in settings.folders if k != "corrections")
        parser.error(f"--folder: unknown folder key {args.folder!r} (one of: {keys})")
    from router.mailbox import Mailbox
    from router.runner import mailbox_key
    from router.state import State

    state = State(settings.state_path)
    key = mailbox_key(settings)
    wanted: set[str] | None = None
    if args.message_id:
        wanted = {m.strip() for m in args.message_id}
    if args.case:
        case = args.case.strip().upper()
        ids = state.message_ids_of_case(key, case)
        if not ids:
            state.close()
            raise RouterError(f"no messages known for case {case}")
        wanted = ids if wanted is None else wanted & ids
        if not wanted:
            state.close()
            raise RouterError(f"--message-id is not a message of case {case}")
    folder_keys = [args.folder] if args.folder else list(DEFAULT_FOLDERS)
    inbox = settings.imap.folder
    moved: list[dict[str, Any]] = []
    try:
        with Mailbox(settings.imap) as mb:
            for fkey in folder_keys:
                folder = settings.folders[fkey]
                if folder == inbox or not mb.select(folder):
                    continue
                if wanted is None:
                    uids = mb.all_uids()
                else:
                    uids = sorted({u for mid in wanted for u in mb.search_message_id(mid)})
                for uid in uids:
                    mid, chash = _identify(mb, uid, state, key)
                    if wanted is not None and mid not in wanted:
                        continue
                    info = state.requeue(key, mid, chash, dry_run=args.dry_run)
                    if not args.dry_run:
                        mb.file(uid, inbox)
                    moved.append({"message_id": mid, "from": folder, "folder_key": fkey, "to": inbox, **info})
    finally:
        state.close()
    if wanted is not None and not moved:
        where = ", ".join(settings.folders[k] for k in folder_keys)
        raise RouterError(f"no matching message in {where}")
    out = {"dry_run": args.dry_run, "count": len(moved), "moved": moved}
    if args.json:
        print_json(out)
    else:
        print(format_text(out))
    return 0


def _identify(mb: Any, uid: int, state: Any, key: str) -> tuple[str, str | None]:
    """(Message-ID as the state store knows it, content hash) of one message.

    Mail without a Message-ID is known by an id derived from its bytes: from
    the whole message, or from its header and size when it was quarantined
    for being too big to download.
    """
    header = mb.fetch_header(uid)
    mid = parse.problem_mail(header, "").message_id
    if not mid.endswith("@router.invalid>"):
        return mid, None
    raw = mb.fetch([uid]).get(uid, b"")
    size = mb.sizes([uid]).get(uid, len(raw))
    candidates = [(parse.fallback_message_id(raw), parse.content_hash(raw)),
                  (parse.fallback_message_id(header), parse.content_hash(header + str(size).encode()))]
    for cand, chash in candidates:
        if state.is_known(key, cand, chash):
            return cand, chash
    return candidates[0]


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
