"""Process and socket helpers shared by the throw-away mail servers.

Each server runs as a child of the test process in its own session; these
helpers find every process of that session (safely against pid reuse) so a
stop never leaves anything behind and never touches a process it did not start.
"""

from __future__ import annotations

import os
import pwd
import socket
from dataclasses import dataclass
from pathlib import Path

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port that is free on ``host`` right now.

    There is an unavoidable race between closing the probe socket and the
    server binding the port; on loopback in a test run it is negligible.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"<{path} unreadable>"
    return "\n".join(text.splitlines()[-lines:]) or f"<{path} empty>"


@dataclass(frozen=True)
class _Child:
    """A process of one Dovecot instance, identified safely against pid reuse."""

    pid: int
    start_time: str
    title: str  # Dovecot's process title, e.g. "dovecot-sandbox-4242/log"

    def alive(self) -> bool:
        """True while the same process exists and is not a zombie."""
        fields = _stat_fields(self.pid)
        return fields is not None and fields[19] == self.start_time and fields[0] != "Z"


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat fields from field 3 (state) on; None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm (field 2) may contain spaces or parentheses: split after the last ')'.
    return stat[stat.rfind(")") + 2 :].split()


def _signal(child: _Child, signum: int) -> None:
    if child.alive():
        try:
            os.kill(child.pid, signum)
        except ProcessLookupError:
            pass


def _read_from(path: Path, offset: int) -> bytes:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            return handle.read()
    except OSError:
        return b""


def _session_members(sid: int) -> list[_Child]:
    """Every live process in session ``sid`` except its leader.

    The master is started with start_new_session=True, so its pid is the
    session id of every process it forks, at any depth, even after they are
    orphaned; that identifies exactly what this instance started.
    """
    found: list[_Child] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == sid:
            continue
        fields = _stat_fields(int(entry.name))
        if fields is None or int(fields[3]) != sid or fields[0] == "Z":
            continue
        try:
            title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        found.append(_Child(int(entry.name), fields[19], title))
    return found


def _first_existing_user(*names: str) -> str:
    for name in names:
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError(f"none of the users {names} exist for Dovecot's login processes")


def _first_untraversable(path: Path, uid: int, gid: int) -> Path | None:
    """First ancestor of ``path`` that ``uid``/``gid`` cannot search (x bit)."""
    for directory in reversed([path, *path.parents]):
        st = directory.stat()
        if st.st_uid == uid:
            bit = 0o100
        elif st.st_gid == gid:
            bit = 0o010
        else:
            bit = 0o001
        if not st.st_mode & bit:
            return directory
    return None



def logical_to_server(logical: str, prefix: str, separator: str) -> str:
    """``Routed/Security`` -> ``INBOX.Routed.Security`` for a prefix/separator (INBOX stays)."""
    if logical.upper() == "INBOX":
        return "INBOX"
    return prefix + separator.join(logical.split("/"))


def server_to_logical(name: str, prefix: str, separator: str) -> str:
    """The inverse of :func:`logical_to_server`, for listing test mailboxes."""
    if name.upper() == "INBOX":
        return "INBOX"
    if prefix and name.startswith(prefix):
        name = name[len(prefix):]
    return "/".join(name.split(separator))
