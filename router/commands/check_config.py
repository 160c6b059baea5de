"""`router check-config [--connect]`: validate config.toml; with --connect, try the servers.

`--connect` is the first command to run against a new mailbox: it logs in the
way the daemon does and prints what the daemon will rely on (greeting,
capabilities, personal namespace, the server-side name of every configured
folder and whether it exists yet, SMTP login).  Exit 0 only when all of it
works; missing folders are fine (the daemon creates them) but names the server
cannot hold are not.
"""

from __future__ import annotations

import argparse

from router.act.outbox import Outbox, TempFail
from router.commands.common import load_settings
from router.config import Settings
from router.errors import RouterError
from router.mailbox import FolderError, Mailbox

# What the daemon uses when the server offers it; each has a fallback.
_USEFUL = ("MOVE", "UIDPLUS", "IDLE", "CONDSTORE", "NAMESPACE", "SPECIAL-USE")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check-config", help="validate the configuration file (--connect: and the servers)",
                       description="Validate config.toml; errors name the key. With --connect, log in to IMAP and SMTP "
                                   "and show the server's capabilities, namespace and folder names; exit 0 only if all works.")
    p.add_argument("--connect", action="store_true", help="also log in to the IMAP and SMTP servers and check the folders")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    source = settings.source or "built-in defaults"
    several = f", mailboxes: {', '.join(m.name for m in settings.mailboxes)}" if settings.mailboxes else ""
    print(f"config OK: {source} ({len(settings.issue_types)} issue types, model {settings.model_path}{several})")
    if not getattr(args, "connect", False):
        return 0
    ok = True
    for mailbox in settings.served():  # each [[mailboxes]] entry with its own account, folders and SMTP identity
        if settings.mailboxes:
            print(f"mailbox {mailbox.name}:")
        ok = check_imap(mailbox) and ok
        ok = check_smtp(mailbox) and ok
    print("connect OK: the daemon has what it needs" if ok else "connect FAILED: see the lines marked FAIL")
    return 0 if ok else 1


def check_imap(settings: Settings) -> bool:
    s = settings.imap
    mb = Mailbox(s)
    try:
        mb.connect()
    except FolderError as exc:
        print(f"FAIL imap: {exc}")
        mb.close()
        return False
    except RouterError as exc:
        print(f"FAIL imap {s.host}:{s.port}: {exc}")
        return False
    try:
        return _report_imap(settings, mb)
    finally:
        mb.close()


def _report_imap(settings: Settings, mb: Mailbox) -> bool:
    s = settings.imap
    print(f"imap {s.host}:{s.port} ({s.security}) logged in as {s.username}")
    print(f"  greeting: {mb.greeting.strip()}")
    print(f"  capabilities: {' '.join(sorted(mb.capabilities))}")
    have = [c for c in _USEFUL if mb.has(c)]
    lacking = [c for c in _USEFUL if not mb.has(c)]
    print(f"  used: {' '.join(have) or '-'}; fallbacks for: {' '.join(lacking) or '-'}")
    print(f"  namespace: prefix {mb.prefix!r}, delimiter {mb.delimiter!r}")
    ok = True
    for key, logical in [("imap.folder", s.folder), *sorted((f"folders.{k}", v) for k, v in settings.folders.items())]:
        try:
            name = mb.server_name(logical)
            state = "exists" if mb.c.folder_exists(name) else "missing (the daemon creates it)"
            print(f"  {key} = {logical!r} -> {name!r}: {state}")
        except FolderError as exc:
            print(f"FAIL {key}: {exc}")
            ok = False
    return ok


def check_smtp(settings: Settings) -> bool:
    s = settings.smtp
    outbox = Outbox(s)
    try:
        smtp = outbox._open()
    except TempFail as exc:
        print(f"FAIL smtp: {exc}")
        return False
    try:
        smtp.noop()
    finally:
        try:
            smtp.quit()
        except Exception:  # noqa: BLE001 - closing after a successful check
            smtp.close()
    who = f"logged in as {s.username}" if s.username else "accepted (no login configured)"
    print(f"smtp {s.host}:{s.port} ({s.security}) {who}")
    return True
