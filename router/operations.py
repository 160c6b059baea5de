"""What an operator does to handled mail: requeue it, correct (label) it.

Library functions that return data (the `router requeue` and `router label`
commands print it).  Domain problems raise `RouterError` (`UsageError` for a
wrong selector); the CLI turns them into one line at the edge.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from router import classify, parse
from router.act.outbox import Outbox
from router.config import CATEGORIES, Settings
from router.corrections import LABEL_FOLDER_KEYS, find_for_label
from router.errors import RouterError, UsageError
from router.mailbox import Mailbox
from router.runner import Runner
from router.state import Store, open_store

REQUEUE_DEFAULT_FOLDERS = ("quarantine", "dead_letter")


def mailbox(settings: Settings, name: str | None) -> Settings:
    """The one mailbox an operator command acts on: `--mailbox NAME` among the [[mailboxes]].

    Each mailbox has its own account, folders and routes, so a requeue or a
    label must know which one it means; with several and no name the command
    stops and names the choices instead of guessing.  A config without
    [[mailboxes]] has one mailbox, and `--mailbox` must then be left out (or
    be its name, "default").
    """
    served = settings.served()
    names = [m.name for m in served]
    if name is None:
        if len(served) == 1:
            return served[0]
        raise UsageError(f"this config has {len(served)} mailboxes; say which with --mailbox NAME (one of: {', '.join(names)})")
    for m in served:
        if m.name == name:
            return m
    raise UsageError(f"--mailbox: no mailbox named {name!r} (one of: {', '.join(names)})")


# -- requeue -------------------------------------------------------------------------
def requeue(settings: Settings, *, folder_key: str | None = None, case: str | None = None,
            message_ids: Iterable[str] = (), dry_run: bool = False) -> dict[str, Any]:
    """Mark set-aside messages for a fresh decision and move them back into the inbox.

    Selectors narrow each other; without `folder_key`, `case` and
    `message_ids` look in quarantine and dead_letter.  What was already sent
    for a message is never repeated (see `Store.requeue`).
    Returns {"dry_run", "count", "moved": [...]}.
    """
    wanted: set[str] | None = {m.strip() for m in message_ids} or None
    if folder_key is None and case is None and wanted is None:
        raise UsageError("give at least one of --folder, --case, --message-id")
    if folder_key is not None and (folder_key not in settings.folders or folder_key == "corrections"):
        keys = ", ".join(k for k in settings.folders if k != "corrections")
        raise UsageError(f"--folder: unknown folder key {folder_key!r} (one of: {keys})")
    state = open_store(settings.store())
    key = settings.mailbox_key()
    try:
        if case:
            wanted = _of_case(state, key, case.strip().upper(), wanted)
        folder_keys = [folder_key] if folder_key else list(REQUEUE_DEFAULT_FOLDERS)
        moved = _requeue_from(settings, state, key, folder_keys, wanted, dry_run)
    finally:
        state.close()
    if wanted is not None and not moved:
        where = ", ".join(settings.folders[k] for k in folder_keys)
        raise RouterError(f"no matching message in {where}")
    return {"dry_run": dry_run, "count": len(moved), "moved": moved}


def _of_case(state: Store, key: str, case: str, wanted: set[str] | None) -> set[str]:
    ids = state.message_ids_of_case(key, case)
    if not ids:
        raise RouterError(f"no messages known for case {case}")
    chosen = ids if wanted is None else wanted & ids
    if not chosen:
        raise RouterError(f"--message-id is not a message of case {case}")
    return chosen


def _requeue_from(settings: Settings, state: Store, key: str, folder_keys: list[str], wanted: set[str] | None,
                  dry_run: bool) -> list[dict[str, Any]]:
    inbox = settings.imap.folder
    moved: list[dict[str, Any]] = []
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
                info = state.requeue(key, mid, chash, dry_run=dry_run)
                if not dry_run:
                    mb.file(uid, inbox)
                moved.append({"message_id": mid, "from": folder, "folder_key": fkey, "to": inbox, **info})
    return moved


def _identify(mb: Mailbox, uid: int, state: Store, key: str) -> tuple[str, str | None]:
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


# -- label ---------------------------------------------------------------------------
def label(settings: Settings, message_id: str, category: str) -> dict[str, Any]:
    """Correct a handled message's category, as moving it into Corrections/<category> does.

    Finds it over IMAP where the router files mail, records the correction,
    forwards it once to the right team (the runner's forward step) and files
    it in that team's folder.  Returns what was applied and where it was found.
    """
    if category not in CATEGORIES:
        raise UsageError(f"unknown category {category!r} (one of: {', '.join(CATEGORIES)})")
    mid = message_id.strip()
    if not mid.startswith("<"):
        mid = f"<{mid}>"
    state = open_store(settings.store())
    outbox = Outbox(settings.smtp)
    try:
        runner = Runner(settings, state, _classifier_if_any(settings), outbox)
        with Mailbox(settings.imap) as mb:
            found = find_for_label(mb, settings, mid)
            if found is None:
                where = ", ".join(settings.folders[k] for k in LABEL_FOLDER_KEYS)
                raise RouterError(f"message {mid} not found in {where}")
            folder, uid = found
            raw = mb.fetch([uid]).get(uid)
            if raw is None:
                raise RouterError(f"message {mid} vanished from {folder}")
            applied = runner.corrector.apply(mb, uid, raw, category, source="label", current_folder=folder)
    finally:
        outbox.close()
        state.close()
    return {**applied.as_dict(), "found_in": folder}


def _classifier_if_any(settings: Settings) -> classify.Classifier | None:
    """The model, needed only for a message the state store does not know."""
    try:
        return classify.load(settings.model_path) if settings.model_path.exists() else None
    except RouterError:
        return None
