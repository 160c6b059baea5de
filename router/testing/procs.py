"""Process and socket helpers shared by the throw-away servers.

Each server runs as a child of the test process in its own session; these
helpers find every process of that session (safely against pid reuse) so a
stop never leaves anything behind and never touches a process it did not start.

:class:`ServerProcess` is the life cycle they share: refuse a second start,
launch, wait until the server really serves (not merely accepts on its port),
stop everything on any failure and raise with the log tail, so a test that
needs a server it cannot start fails loudly instead of skipping.  Each
server's own quirks (config, readiness probe, shutdown order) stay in its
module.
"""

from __future__ import annotations

import atexit
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port that is free on ``host`` right now.

    There is an unavoidable race between closing the probe socket and the
    server binding the port; on loopback in a test run it is negligible.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 40, *, empty: str | None = None) -> str:
    """The last ``lines`` of a log, for error messages; ``empty`` replaces ``<path empty>``."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"<{path} unreadable>"
    return "\n".join(text.splitlines()[-lines:]) or (empty if empty is not None else f"<{path} empty>")


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


def terminate(proc: subprocess.Popen[bytes], timeout: float, *, signum: int = signal.SIGTERM, name: str = "server") -> None:
    """Send ``signum`` to a still-running ``proc``, wait ``timeout`` s, then SIGKILL it (logged)."""
    if proc.poll() is not None:
        return
    proc.send_signal(signum)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        log.warning("%s pid %s still running %ss after %s; killing", name, proc.pid, timeout, signal.Signals(signum).name)
        proc.kill()
        proc.wait()


def kill_leftovers(sid: int, *, name: str = "server", grace: float = 2.0, interval: float = 0.02) -> None:
    """Give the rest of session ``sid`` ``grace`` s to exit on its own, then SIGKILL what remains."""
    until = time.monotonic() + grace
    while _session_members(sid) and time.monotonic() < until:
        time.sleep(interval)
    for child in _session_members(sid):
        log.warning("killing leftover %s process %s (%s)", name, child.pid, child.title)
        _signal(child, signal.SIGKILL)


class Lifecycle:
    """``with server:`` starts and stops it; :meth:`restart` is a stop and a start (same ports)."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def restart(self) -> None:
        """Stop and start again on the same port(s), keeping the data."""
        self.stop()
        self.start()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


# Every live server that asked for it (``stop_at_exit``), so an interpreter
# exit (e.g. Ctrl-C in the demo) still stops it. Entries are removed by stop().
_LIVE: set[ServerProcess] = set()
_LIVE_LOCK = threading.Lock()


class ServerProcess(Lifecycle):
    """One server process (and its session) owned by this object, logging under ``base_dir``.

    Subclasses set :attr:`name`, :attr:`base_dir`, :attr:`start_timeout` and
    implement :meth:`_launch` (prepare and :meth:`_spawn`), :meth:`_wait_ready`
    (usually :meth:`_await_ready` with a real probe) and :meth:`stop`.
    """

    name: ClassVar[str] = "server"  # lower case, in the log and the start-up failures
    title: ClassVar[str] = "Server"  # in "<title> already running" / "<title> has no port yet"
    exited_message: ClassVar[str] = "{name} exited with status {status} during start-up\n{log}"
    timeout_message: ClassVar[str] = ("{name} did not serve a login on {host}:{port} within {timeout}s "
                                      "(last error: {last!r})\n{log}")
    stop_at_exit: ClassVar[bool] = False

    base_dir: Path
    start_timeout: float
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def log_file(self) -> Path:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def master_pid(self) -> int | None:
        """Pid of the server's first process (also the session id of all its processes)."""
        return self._proc.pid if self._proc is not None else None

    def log_tail(self, lines: int = 40) -> str:
        return f"--- {self.log_file} ---\n{_tail(self.log_file, lines)}"

    def start(self) -> None:
        """Launch the server and wait until it serves; on any failure stop it and raise."""
        if self.running:
            raise RuntimeError(f"{self.title} already running")
        self._check_installed()
        try:
            self._launch()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        log.info("%s ready on %s:%s (pid %s, dir %s)", self.name, self.host, self._port_for_log(), self.master_pid,
                 self.base_dir)

    # -- for subclasses -----------------------------------------------------------
    def _check_installed(self) -> None:
        """Raise RuntimeError saying how to install what is missing (before anything is written)."""

    def _launch(self) -> None:
        raise NotImplementedError

    def _wait_ready(self) -> None:
        raise NotImplementedError

    def _port_for_log(self) -> object:
        return getattr(self, "_port", None)

    def _spawn(self, argv: Sequence[str], output: Path, *, env: Mapping[str, str] | None = None,
               die_with_parent: bool = True, setpriv_args: Sequence[str] = ()) -> None:
        """Start ``argv`` in a new session (Ctrl-C in a demo must not half-kill it), output to ``output``.

        ``die_with_parent`` runs it through util-linux ``setpriv --pdeathsig
        TERM``: if this process is SIGKILLed (or a CI timeout SIGTERMs it,
        which skips atexit) the kernel SIGTERMs the server. setpriv execs the
        server in place, so the pid is still the server's. The signal follows
        the *thread* that called start().
        """
        argv = list(argv)
        setpriv = shutil.which("setpriv")
        if die_with_parent and setpriv is not None:
            argv = [setpriv, "--pdeathsig", "TERM", *setpriv_args, "--", *argv]
        elif die_with_parent:
            log.debug("setpriv not found: %s will not die with this process", self.name)
        with open(output, "ab") as out:
            self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, cwd=self.base_dir,
                                          env=None if env is None else dict(env), start_new_session=True)
        if self.stop_at_exit:
            with _LIVE_LOCK:
                _LIVE.add(self)
        log.debug("%s pid %s starting (dir %s)", self.name, self._proc.pid, self.base_dir)

    def _forget(self) -> None:
        """After a stop: no process, no exit-time stop."""
        self._proc = None
        with _LIVE_LOCK:
            _LIVE.discard(self)

    def _stop_session(self, timeout: float, *, terminate_members: bool = False) -> None:
        """SIGTERM the session leader (and first its members), then kill whatever of the session lingers."""
        proc = self._proc
        self._forget()
        if proc is None:
            return
        sid = proc.pid
        if terminate_members:
            for child in _session_members(sid):
                _signal(child, signal.SIGTERM)
        terminate(proc, timeout, name=self.name)
        kill_leftovers(sid, name=self.name)

    def _raise_if_exited(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            status = None if self._proc is None else self._proc.returncode
            raise RuntimeError(self.exited_message.format(name=self.name, status=status, log=self.log_tail()))

    def _await_ready(self, probe: Callable[[float], bool], *, retry_on: tuple[type[BaseException], ...] = (OSError,),
                     interval: float = 0.1) -> None:
        """Call ``probe(deadline)`` until it returns True; it may also raise one of ``retry_on`` to try again.

        Fails with the log tail when the process exits meanwhile or
        :attr:`start_timeout` passes.
        """
        deadline = time.monotonic() + self.start_timeout
        last: BaseException | None = None
        while time.monotonic() < deadline:
            self._raise_if_exited()
            try:
                if probe(deadline):
                    return
            except retry_on as exc:
                last = exc
            time.sleep(interval)
        self._raise_if_exited()
        raise RuntimeError(self.timeout_message.format(name=self.name, host=self.host, port=self._port_for_log(),
                                                       timeout=self.start_timeout, last=last, log=self.log_tail()))


def _stop_all_at_exit() -> None:
    with _LIVE_LOCK:
        live = list(_LIVE)
    for server in live:
        server.stop()


atexit.register(_stop_all_at_exit)
