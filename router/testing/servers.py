"""Throw-away local mail servers for integration tests and demos.

router's failure modes live at the protocol edges (UIDVALIDITY changes, servers
without MOVE, reconnects, transient SMTP refusals), and fakes of imapclient or
smtplib only ever reproduce what their author already believed. So the tests
talk to a *real* Dovecot IMAP server and a *real* aiosmtpd SMTP server, both on
loopback, both owned by the calling process:

* :class:`Dovecot` writes its own ``dovecot.conf`` under a caller-chosen
  directory and runs ``dovecot -F -c <conf>`` as a child process. Nothing from
  ``/etc/dovecot`` is read, so the system's mail setup is never touched.
* :class:`SmtpSink` runs an aiosmtpd ``Controller`` that records every accepted
  message and can be told to refuse commands (421/451/550 ...).

Both are context managers and never leave processes or threads behind (Dovecot
is also tied to the calling process with PR_SET_PDEATHSIG, so a SIGKILLed test
run takes it down too); neither needs network access beyond 127.0.0.1.

Dovecot refuses to give mailbox access to uid 0 (imap processes are started
with ``MAIL_STORAGE_SERVICE_FLAG_DISALLOW_ROOT``), and its login processes
refuse to run as root. When the caller is root, mail is therefore owned by an
unprivileged account (``nobody`` by default) and login processes run as
``dovenull`` (or ``nobody``) chrooted into the runtime directory; that is why
``base_dir`` must then be traversable by that account (a fresh directory under
``/tmp`` is; pytest's 0700 ``/tmp/pytest-of-root`` is not).
"""

from __future__ import annotations

import asyncio
import atexit
import datetime as dt
import grp
import logging
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from imapclient import IMAPClient

log = logging.getLogger(__name__)

__all__ = ["LOOPBACK", "Dovecot", "ReceivedMessage", "SmtpSink", "free_port", "router_config"]

DOVECOT_BINARY = "/usr/sbin/dovecot"
LOOPBACK = "127.0.0.1"

# sun_path is 108 bytes on Linux including the NUL. Dovecot's longest socket
# name below base_dir is "token-login/imap-urlauth" (24 chars); keep margin.
_SUN_PATH_MAX = 107
_LONGEST_SOCKET_SUFFIX = len("/token-login/imap-urlauth") + 8

# Dovecot 2.3's built-in post-login capability list (CAPABILITY_STRING in
# src/imap/imap-common.h) minus MOVE. Setting ``imap_capability`` replaces the
# built-in list (there is no "-MOVE" syntax); Dovecot still appends the dynamic
# ones (LITERAL+, SPECIAL-USE, NOTIFY ...) itself.
_CAPABILITIES_WITHOUT_MOVE = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY "
    "THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL "
    "CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 "
    "CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS "
    "BINARY SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE SAVEDATE"
)

# Every live Dovecot, so an interpreter exit (e.g. Ctrl-C in the demo) still
# stops the servers. Entries are removed by stop().
_LIVE: set[Dovecot] = set()
_LIVE_LOCK = threading.Lock()


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


class Dovecot:
    """A private Dovecot 2.3 IMAP server on 127.0.0.1 with one user.

    Layout under ``base_dir``: ``dovecot.conf``, ``passwd``, ``dovecot.log``,
    ``dovecot.stderr`` (messages printed before the log is opened), ``state/``,
    ``home/<user>/Maildir`` and, when the path is short enough for unix
    sockets, ``run/`` (otherwise a private ``/tmp/dv*`` directory, removed on
    stop). Mail uses ``LAYOUT=fs`` with ``/`` as hierarchy separator, so
    ``Routed/Security`` is the directory ``Maildir/Routed/Security`` and
    folder names may contain dots.
    """

    def __init__(
        self,
        base_dir: Path,
        user: str = "support@exchange.example",
        password: str = "sandbox-password",
        *,
        ssl: bool = False,
        disable_move: bool = False,
        port: int | None = None,
        ssl_port: int | None = None,
        mail_user: str | None = None,
        binary: str = DOVECOT_BINARY,
        start_timeout: float = 10.0,
        die_with_parent: bool = True,
    ) -> None:
        """Configure (not start) a server.

        ``ssl`` adds STARTTLS on the plain port and an implicit-TLS listener
        on :attr:`ssl_port`, with a self-signed certificate for 127.0.0.1 /
        localhost (:attr:`cert_file`). ``disable_move`` hides MOVE from the
        capability list to exercise COPY+EXPUNGE fallbacks; it is
        advertisement only (Dovecot 2.3 has no switch to disable the command,
        a raw ``UID MOVE`` still succeeds, imapclient's ``move()`` refuses
        client-side). ``mail_user`` is
        the account owning the maildir when running as root (default
        ``nobody``); ignored otherwise. Ports default to free ones picked at
        the first :meth:`start` and kept by :meth:`restart`.
        ``die_with_parent`` makes the kernel stop the server if this process
        dies without calling :meth:`stop` (PR_SET_PDEATHSIG via util-linux
        ``setpriv``). The signal follows the *thread* that called
        :meth:`start`, so start from a thread that outlives the server (the
        main thread in tests and scripts) or pass False.
        """
        self.base_dir = Path(base_dir).absolute()
        self._user = user
        self._password = password
        self.ssl = ssl
        self.disable_move = disable_move
        self._port = port
        self._ssl_port = ssl_port
        self.binary = binary
        self.start_timeout = start_timeout
        self.die_with_parent = die_with_parent
        self._proc: subprocess.Popen[bytes] | None = None
        self._private_run_dir: Path | None = None
        self._run_dir: Path | None = None

        self._is_root = os.geteuid() == 0
        if self._is_root:
            account = pwd.getpwnam(mail_user or "nobody")
            self._mail_uid, self._mail_gid = account.pw_uid, account.pw_gid
            if self._mail_uid == 0:
                raise ValueError("Dovecot never grants mail access to uid 0; choose another mail_user")
            self._login_user = _first_existing_user("dovenull", "nobody")
            self._internal_user = "root"
            self._internal_group = grp.getgrgid(0).gr_name
        else:
            me = pwd.getpwuid(os.getuid())
            self._mail_uid, self._mail_gid = os.getuid(), os.getgid()
            self._login_user = self._internal_user = me.pw_name
            self._internal_group = grp.getgrgid(os.getgid()).gr_name

    # -- properties -----------------------------------------------------

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def port(self) -> int:
        """Plain IMAP port (STARTTLS available on it when ``ssl=True``)."""
        if self._port is None:
            raise RuntimeError("Dovecot has no port yet: call start() first")
        return self._port

    @property
    def ssl_port(self) -> int | None:
        """Implicit-TLS IMAP port, or None when built with ``ssl=False``."""
        if not self.ssl:
            return None
        if self._ssl_port is None:
            raise RuntimeError("Dovecot has no port yet: call start() first")
        return self._ssl_port

    @property
    def user(self) -> str:
        return self._user

    @property
    def password(self) -> str:
        return self._password

    @property
    def config_file(self) -> Path:
        return self.base_dir / "dovecot.conf"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "dovecot.log"

    @property
    def cert_file(self) -> Path:
        """Self-signed PEM certificate (also usable as a CA file to verify)."""
        return self.base_dir / "tls" / "cert.pem"

    @property
    def home(self) -> Path:
        return self.base_dir / "home" / self._user

    @property
    def maildir(self) -> Path:
        return self.home / "Maildir"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def master_pid(self) -> int | None:
        """Pid of the Dovecot master (also the session id of all its processes)."""
        return self._proc.pid if self._proc is not None else None

    @property
    def run_dir(self) -> Path | None:
        """Where the unix sockets live while running (maybe a short /tmp/dv* dir)."""
        return self._run_dir

    def log_tail(self, lines: int = 40) -> str:
        """Last lines of Dovecot's log and of its early stderr, for error messages."""
        return (
            f"--- {self.log_file} ---\n{_tail(self.log_file, lines)}\n"
            f"--- {self.base_dir / 'dovecot.stderr'} ---\n{_tail(self.base_dir / 'dovecot.stderr', lines)}"
        )

    # -- lifecycle ------------------------------------------------------

    def __enter__(self) -> Dovecot:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Write the config, launch ``dovecot -F`` and wait until a login works.

        Raises RuntimeError (with the log tail) if Dovecot is not installed,
        exits, or does not serve a successful LOGIN within ``start_timeout``.
        """
        if self.running:
            raise RuntimeError("Dovecot already running")
        if not Path(self.binary).is_file():
            raise RuntimeError(
                f"{self.binary} not found: the IMAP integration harness needs a real Dovecot "
                "(Debian/Ubuntu: apt-get install dovecot-imapd)"
            )
        try:
            self._launch()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        assert self._proc is not None
        log.info("dovecot ready on %s:%s (pid %s, dir %s)", self.host, self._port, self._proc.pid, self.base_dir)

    def stop(self, timeout: float = 10.0, *, graceful: bool = False) -> None:
        """Stop the master and every process it started; keep all data.

        Maildir, config and log are kept so :meth:`start` can resume them.

        Two Dovecot 2.3 shutdown behaviours are worked around here (both seen
        with strace on 2.3.19):

        * On SIGTERM the master ends its services but NOT logged-in imap
          sessions: they (plus the stats and log processes serving them) keep
          running until their client disconnects. They are sent SIGTERM, so a
          connected client gets "* BYE Server shutting down." as it would
          from a real server shutdown.
        * The master then SIGQUITs what is left and sleeps a fixed 1 s
          (services_monitor_wait_and_kill in src/master/service-monitor.c).
          Unless ``graceful``, once nothing but the log process remains the
          master is SIGKILLed instead of waiting; the log process then reads
          its pipes to EOF, writes everything and exits on its own.
        """
        proc = self._proc
        if proc is None:
            self._remove_private_run_dir()
            return
        sid = proc.pid
        deadline = time.monotonic() + timeout
        if proc.poll() is None:
            log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
            proc.send_signal(signal.SIGTERM)
            # Wait until the master has acted on SIGTERM (its first act is to
            # log it), so it no longer respawns processes that exit.
            acknowledged = min(deadline, time.monotonic() + 2.0)
            while proc.poll() is None and time.monotonic() < acknowledged:
                if b"Killed with signal" in _read_from(self.log_file, log_offset):
                    break
                time.sleep(0.005)
            time.sleep(0.02)
            for child in _session_members(sid):
                if not child.title.endswith("/log"):
                    _signal(child, signal.SIGTERM)
            while proc.poll() is None and time.monotonic() < deadline:
                if not graceful and all(c.title.endswith("/log") for c in _session_members(sid)):
                    proc.kill()
                    break
                time.sleep(0.01)
            if proc.poll() is None and time.monotonic() >= deadline:
                log.warning("dovecot pid %s still running %ss after SIGTERM; killing", sid, timeout)
                proc.kill()
            proc.wait()
        # The log process exits once every writer has gone; anything else
        # still around after a grace period is killed.
        grace = time.monotonic() + 2.0
        while _session_members(sid) and time.monotonic() < grace:
            time.sleep(0.01)
        for child in _session_members(sid):
            log.warning("killing leftover dovecot process %s (%s)", child.pid, child.title)
            _signal(child, signal.SIGKILL)
        if self._run_dir is not None:
            # A SIGKILLed master leaves its pid file; a stale one could make
            # the next start() think Dovecot is still running (pid reuse).
            (self._run_dir / "master.pid").unlink(missing_ok=True)
        self._proc = None
        with _LIVE_LOCK:
            _LIVE.discard(self)
        self._remove_private_run_dir()
        log.debug("dovecot in %s stopped", self.base_dir)

    def _remove_private_run_dir(self) -> None:
        if self._private_run_dir is not None:
            shutil.rmtree(self._private_run_dir, ignore_errors=True)
            self._private_run_dir = None
        self._run_dir = None

    def restart(self) -> None:
        """Stop and start again on the same port(s), keeping all mail.

        Existing client connections are dropped, which is the point: it lets
        tests exercise the daemon's reconnect path.
        """
        self.stop()
        # Dovecot sets SO_REUSEADDR, so TIME_WAIT sockets do not block rebinding.
        self.start()

    # -- IMAP helpers -----------------------------------------------------

    def client(
        self,
        *,
        tls: Literal["none", "starttls", "implicit"] = "none",
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 10.0,
    ) -> IMAPClient:
        """A logged-in IMAPClient; use it as a context manager to log out.

        With ``tls`` other than "none" and no ``ssl_context``, the certificate
        is verified against :attr:`cert_file`.
        """
        if tls != "none" and ssl_context is None:
            ssl_context = ssl.create_default_context(cafile=str(self.cert_file))
        if tls == "implicit":
            if self.ssl_port is None:
                raise RuntimeError("implicit TLS needs Dovecot(..., ssl=True)")
            client = IMAPClient(self.host, self.ssl_port, ssl=True, ssl_context=ssl_context, timeout=timeout)
        else:
            client = IMAPClient(self.host, self.port, ssl=False, timeout=timeout)
        try:
            if tls == "starttls":
                client.starttls(ssl_context)
            client.login(self._user, self._password)
        except BaseException:
            client.shutdown()
            raise
        return client

    def append(
        self,
        folder: str,
        raw: bytes,
        flags: Sequence[bytes | str] = (),
        msg_time: dt.datetime | None = None,
    ) -> int:
        """APPEND ``raw`` to ``folder`` (created if missing); returns its UID."""
        with self.client() as c:
            if not c.folder_exists(folder):
                c.create_folder(folder)
            response = c.append(folder, raw, flags=tuple(flags), msg_time=msg_time)
        match = re.search(rb"APPENDUID \d+ (\d+)", response)
        if match is None:
            raise RuntimeError(f"Dovecot sent no APPENDUID: {response!r}")
        return int(match.group(1))

    def folders(self) -> list[str]:
        with self.client() as c:
            return sorted(name for _flags, _delim, name in c.list_folders())

    def uids(self, folder: str = "INBOX") -> list[int]:
        """UIDs in ``folder``, ascending (read-only: flags are not touched)."""
        with self.client() as c:
            c.select_folder(folder, readonly=True)
            return sorted(c.search("ALL"))

    def uidvalidity(self, folder: str = "INBOX") -> int:
        with self.client() as c:
            return int(c.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])

    def list_folder(self, folder: str = "INBOX") -> list[bytes]:
        """Raw RFC 822 bytes of every message in ``folder``, by ascending UID.

        Uses BODY.PEEK so \\Seen is not set as a side effect.
        """
        with self.client() as c:
            c.select_folder(folder, readonly=True)
            uids = sorted(c.search("ALL"))
            if not uids:
                return []
            data = c.fetch(uids, ["BODY.PEEK[]"])
            return [data[uid][b"BODY[]"] for uid in uids]

    def flags(self, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        """UID -> flags, for checking \\Seen / \\Deleted handling."""
        with self.client() as c:
            c.select_folder(folder, readonly=True)
            uids = c.search("ALL")
            if not uids:
                return {}
            return {uid: tuple(d[b"FLAGS"]) for uid, d in c.fetch(uids, ["FLAGS"]).items()}

    def recreate_inbox_same_messages(self) -> tuple[int, int]:
        """Delete INBOX and re-create it holding the same messages.

        Real servers do this after restores or migrations: UIDs restart under
        a new UIDVALIDITY and a client must not trust its old UID state.
        IMAP forbids ``DELETE INBOX``, so the maildir is removed on disk (child
        folders such as ``INBOX/x`` are kept) and the messages are APPENDed
        again with their flags and internal dates. Returns (old, new)
        UIDVALIDITY; raises RuntimeError if it did not change.
        """
        with self.client() as c:
            old = int(c.select_folder("INBOX", readonly=True)[b"UIDVALIDITY"])
            uids = sorted(c.search("ALL"))
            fetched = c.fetch(uids, ["BODY.PEEK[]", "FLAGS", "INTERNALDATE"]) if uids else {}
        saved = [
            (
                fetched[uid][b"BODY[]"],
                tuple(f for f in fetched[uid][b"FLAGS"] if f != b"\\Recent"),
                fetched[uid][b"INTERNALDATE"],
            )
            for uid in uids
        ]
        inbox = self.maildir / "INBOX"
        for entry in list(inbox.iterdir()) if inbox.is_dir() else []:
            if entry.name in ("cur", "new", "tmp"):
                shutil.rmtree(entry)
            elif entry.is_file() and (entry.name.startswith("dovecot") or entry.name == "maildirfolder"):
                entry.unlink()
        with self.client() as c:
            for raw, flags, when in saved:
                c.append("INBOX", raw, flags=flags, msg_time=when)
            new = int(c.select_folder("INBOX", readonly=True)[b"UIDVALIDITY"])
        if new == old:
            raise RuntimeError(f"INBOX re-created but UIDVALIDITY stayed {old}")
        log.info("INBOX re-created: UIDVALIDITY %s -> %s, %d messages", old, new, len(saved))
        return old, new

    # -- internals ------------------------------------------------------

    def _launch(self) -> None:
        """Prepare directories, ports, certificate and config; spawn the master."""
        self._prepare_dirs()
        if self._port is None:
            self._port = free_port()
        if self.ssl and self._ssl_port is None:
            self._ssl_port = free_port()
            while self._ssl_port == self._port:
                self._ssl_port = free_port()
        if self.ssl and not self.cert_file.exists():
            self._make_certificate()
        self._write_config()
        # -F: stay in the foreground so this object owns the master pid and
        # can reap it; no daemonising, no pid-file guessing.
        argv = [self.binary, "-F", "-c", str(self.config_file)]
        setpriv = shutil.which("setpriv")
        if self.die_with_parent and setpriv is not None:
            # If this process is SIGKILLed (or a CI timeout SIGTERMs it, which
            # skips atexit), the kernel SIGTERMs the master. setpriv execs
            # dovecot in place, so the pid is still the master's.
            argv = [setpriv, "--pdeathsig", "TERM", "--", *argv]
        elif self.die_with_parent:
            log.debug("setpriv not found: dovecot will not die with this process")
        with open(self.base_dir / "dovecot.stderr", "ab") as stderr:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                cwd=self.base_dir,
                start_new_session=True,  # Ctrl-C in a demo must not half-kill it
            )
        with _LIVE_LOCK:
            _LIVE.add(self)
        log.debug("dovecot pid %s starting on %s:%s", self._proc.pid, self.host, self._port)

    def _prepare_dirs(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        (self.base_dir / "state").mkdir(exist_ok=True)
        run_dir = self.base_dir / "run"
        if len(str(run_dir)) + _LONGEST_SOCKET_SUFFIX > _SUN_PATH_MAX:
            # Unix sockets live under the runtime dir; pytest's tmp_path is
            # often too deep for sun_path, so use a short private dir instead.
            self._private_run_dir = Path(tempfile.mkdtemp(prefix="dv", dir="/tmp"))
            os.chmod(self._private_run_dir, 0o755)
            run_dir = self._private_run_dir
        self._run_dir = run_dir
        self.home.mkdir(parents=True, exist_ok=True)
        if self._is_root:
            # The mail account must reach and write its home; everything else
            # in base_dir stays root-only (0711 lets it pass, not list).
            os.chmod(self.base_dir, 0o711)
            os.chmod(self.home.parent, 0o711)
            os.chown(self.home, self._mail_uid, self._mail_gid)
            if self.maildir.exists():
                for path in [self.maildir, *self.maildir.rglob("*")]:
                    os.lchown(path, self._mail_uid, self._mail_gid)
            blocked = _first_untraversable(self.home, self._mail_uid, self._mail_gid)
            if blocked is not None:
                raise RuntimeError(
                    f"Dovecot never accesses mail as root, so uid {self._mail_uid} must reach "
                    f"{self.home}, but {blocked} is not traversable for it; use a base_dir like "
                    "tempfile.mkdtemp(prefix='dv', dir='/tmp')"
                )
        passwd = self.base_dir / "passwd"
        passwd.write_text(f"{self._user}:{{PLAIN}}{self._password}::::::\n")
        os.chmod(passwd, 0o600)

    def _make_certificate(self) -> None:
        tls_dir = self.cert_file.parent
        tls_dir.mkdir(exist_ok=True)
        key = tls_dir / "key.pem"
        if shutil.which("openssl") is None:
            raise RuntimeError("ssl=True needs the openssl command (apt-get install openssl)")
        result = subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256",
                "-days", "2", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-keyout", str(key), "-out", str(self.cert_file),
            ],
            capture_output=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"openssl failed: {result.stderr.decode(errors='replace')}")
        os.chmod(key, 0o600)

    def _write_config(self) -> None:
        assert self._run_dir is not None and self._port is not None
        base = self.base_dir
        lines = [
            "# Generated by router.testing; nothing from /etc/dovecot is used.",
            f"base_dir = {self._run_dir}",
            f"state_dir = {base / 'state'}",
            f"instance_name = sandbox-{self._port}",
            f"log_path = {self.log_file}",
            "protocols = imap",
            f"listen = {LOOPBACK}",
            # The login/internal users below must exist; on root they are
            # unprivileged because imap-login refuses to run as root.
            f"default_login_user = {self._login_user}",
            f"default_internal_user = {self._internal_user}",
            f"default_internal_group = {self._internal_group}",
            "first_valid_uid = 1" if self._is_root else "first_valid_uid = 0",
            "first_valid_gid = 0",
            "last_valid_uid = 0",
            "disable_plaintext_auth = no",
            "auth_mechanisms = plain login",
            # Don't make failing-login tests wait 2 s per attempt, and don't
            # let anvil's per-IP penalty slow down later tests.
            "auth_failure_delay = 0",
            f"login_trusted_networks = {LOOPBACK}/32",
            "mail_location = maildir:~/Maildir:LAYOUT=fs:INBOX=~/Maildir/INBOX",
            "namespace inbox {",
            "  inbox = yes",
            "  separator = /",
            "}",
            "passdb {",
            "  driver = passwd-file",
            f"  args = scheme=PLAIN username_format=%u {base / 'passwd'}",
            "}",
            "userdb {",
            "  driver = static",
            f"  args = uid={self._mail_uid} gid={self._mail_gid} home={base / 'home'}/%u",
            "}",
        ]
        if self.ssl:
            key = self.cert_file.parent / "key.pem"
            lines += [
                "ssl = yes",
                f"ssl_cert = <{self.cert_file}",
                f"ssl_key = <{key}",
                "ssl_min_protocol = TLSv1.2",
            ]
        else:
            # The compiled-in default is ssl=yes, which fails without a cert.
            lines.append("ssl = no")
        if self.disable_move:
            lines.append(f"imap_capability = {_CAPABILITIES_WITHOUT_MOVE}")
        login_chroot = [] if self._is_root else ["  chroot ="]
        lines += [
            "service imap-login {",
            *login_chroot,
            "  inet_listener imap {",
            f"    address = {LOOPBACK}",
            f"    port = {self._port}",
            "  }",
            "  inet_listener imaps {",
            f"    address = {LOOPBACK}",
            f"    port = {self._ssl_port if self.ssl else 0}",
            "    ssl = yes",
            "  }",
            "}",
        ]
        if not self._is_root:
            # Without root there is no chroot() and no setuid(): every
            # service has to run as the current user.
            lines += [
                "service anvil {",
                "  chroot =",
                "}",
                "service auth-worker {",
                f"  user = {self._internal_user}",
                "}",
            ]
        self.config_file.write_text("\n".join(lines) + "\n")

    def _wait_ready(self) -> None:
        """Poll until the port greets and a LOGIN + SELECT succeeds.

        A bare TCP accept is not enough: the kernel accepts on the listener
        even when imap-login or the mail process is failing (imap-login
        refusing to run as root looked exactly like that). The greeting is
        awaited in short slices so a master that dies meanwhile is noticed at
        once, and a foreign listener on the port cannot stall the probe.
        """
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout
        last_error: BaseException | None = None
        while time.monotonic() < deadline:
            self._raise_if_exited()
            try:
                self._await_greeting(deadline)
                with self.client(timeout=max(0.5, deadline - time.monotonic())) as c:
                    c.select_folder("INBOX")
                if self.ssl:
                    ctx = ssl.create_default_context(cafile=str(self.cert_file))
                    with self.client(tls="implicit", ssl_context=ctx, timeout=max(0.5, deadline - time.monotonic())):
                        pass
                return
            except (OSError, IMAPClient.Error) as exc:
                last_error = exc
                time.sleep(0.02)
        self._raise_if_exited()
        raise RuntimeError(
            f"dovecot did not serve a login on {self.host}:{self._port} within "
            f"{self.start_timeout}s (last error: {last_error!r})\n{self.log_tail()}"
        )

    def _raise_if_exited(self) -> None:
        assert self._proc is not None
        if self._proc.poll() is not None:
            raise RuntimeError(
                f"dovecot exited with status {self._proc.returncode} during startup\n{self.log_tail()}"
            )

    def _await_greeting(self, deadline: float) -> None:
        with socket.create_connection((self.host, self.port), timeout=0.5) as sock:
            sock.settimeout(0.05)
            data = b""
            while b"\n" not in data:
                self._raise_if_exited()
                if time.monotonic() > deadline:
                    raise TimeoutError("no IMAP greeting")
                try:
                    chunk = sock.recv(512)
                except TimeoutError:
                    continue
                if not chunk:
                    raise ConnectionError("connection closed before the IMAP greeting")
                data += chunk
            if not data.startswith(b"* OK"):
                raise ConnectionError(f"unexpected greeting {data[:80]!r}")


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


def _stop_all_at_exit() -> None:
    with _LIVE_LOCK:
        live = list(_LIVE)
    for server in live:
        server.stop()


atexit.register(_stop_all_at_exit)


# ---------------------------------------------------------------------------
# SMTP
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedMessage:
    """One message accepted by :class:`SmtpSink`."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    received_at: float
    peer: Any = None


@dataclass
class _Failure:
    code: int
    text: str
    remaining: int | None
    stage: Literal["DATA", "RCPT"]


class _SinkHandler:
    """aiosmtpd handler; runs on the controller's event-loop thread."""

    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        refusal = self._sink._take_failure("RCPT", server)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        refusal = self._sink._take_failure("DATA", server)
        if refusal is not None:
            return refusal
        raw = envelope.original_content
        if raw is None:
            raw = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        self._sink._record(
            ReceivedMessage(
                mail_from=envelope.mail_from,
                rcpt_tos=tuple(envelope.rcpt_tos),
                data=raw,
                received_at=time.time(),
                peer=session.peer,
            )
        )
        return "250 2.0.0 OK: queued"


def _make_controller_class() -> type:
    from aiosmtpd.controller import Controller

    class _PortZeroController(Controller):  # type: ignore[misc]
        """Controller that binds port 0 and learns the real port.

        Stock Controller probes ``self.port`` after binding, so port 0 would
        break its readiness check; binding first removes the free-port race.
        """

        def _create_server(self) -> Any:
            async def create() -> asyncio.AbstractServer:
                server = await self.loop.create_server(
                    self._factory_invoker, host=self.hostname, port=self.port, ssl=self.ssl_context
                )
                self.port = server.sockets[0].getsockname()[1]
                return server

            return create()

    return _PortZeroController


class SmtpSink:
    """A real SMTP server on 127.0.0.1 that keeps what it is sent.

    ``fail_with`` injects refusals so retry/backoff and bounce handling are
    tested against real SMTP replies rather than mocked exceptions.
    """

    def __init__(self, hostname: str = LOOPBACK, port: int = 0) -> None:
        self._hostname = hostname
        self._requested_port = port
        self._controller: Any = None
        self._messages: list[ReceivedMessage] = []
        self._failure: _Failure | None = None
        self._cond = threading.Condition()

    @property
    def host(self) -> str:
        return self._hostname

    @property
    def port(self) -> int:
        """Listening port; still answers after stop() (the port a restart reuses)."""
        if self._controller is not None:
            return int(self._controller.port)
        if self._requested_port:
            return self._requested_port
        raise RuntimeError("SmtpSink not started")

    @property
    def messages(self) -> list[ReceivedMessage]:
        """Snapshot of accepted messages, oldest first."""
        with self._cond:
            return list(self._messages)

    def __enter__(self) -> SmtpSink:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        if self._controller is not None:
            raise RuntimeError("SmtpSink already running")
        controller = _make_controller_class()(
            _SinkHandler(self),
            hostname=self._hostname,
            port=self._requested_port,
            server_hostname="sink.sandbox.invalid",
            ready_timeout=10.0,
        )
        try:
            controller.start()
        except BaseException:
            # A failed start leaves the controller's private loop open.
            if controller._thread is not None:
                controller.stop(no_assert=True)
            if not controller.loop.is_closed():
                controller.loop.close()
            raise
        self._controller = controller
        # Later starts reuse the port, so "SMTP server went away and came
        # back" can be tested against an unchanged daemon config.
        self._requested_port = int(controller.port)
        log.info("smtp sink ready on %s:%s", self.host, self.port)

    def stop(self) -> None:
        """Stop listening; recorded messages and failure settings are kept."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def restart(self) -> None:
        """Stop and start again on the same port."""
        self.stop()
        self.start()

    def fail_with(
        self,
        code: int,
        text: str = "Sandbox-injected failure",
        count: int | None = None,
        *,
        stage: Literal["DATA", "RCPT"] = "DATA",
    ) -> None:
        """Answer the next ``count`` DATA (or RCPT) commands with ``code text``.

        ``count=None`` keeps failing until :meth:`clear_failures`. A 421 also
        closes the connection, as RFC 5321 requires of a server saying it is
        shutting the channel.
        """
        if not 400 <= code <= 599:
            raise ValueError("fail_with needs a 4xx or 5xx code")
        if count is not None and count < 1:
            raise ValueError("count must be >= 1 or None")
        with self._cond:
            self._failure = _Failure(code, text, count, stage)

    def clear_failures(self) -> None:
        with self._cond:
            self._failure = None

    def clear(self) -> None:
        """Forget recorded messages (failures are kept)."""
        with self._cond:
            self._messages.clear()

    def wait_for(self, n: int, timeout: float = 10.0) -> list[ReceivedMessage]:
        """Block until at least ``n`` messages arrived; raise TimeoutError otherwise."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._messages) >= n, timeout):
                raise TimeoutError(f"SmtpSink got {len(self._messages)} message(s), expected {n} within {timeout}s")
            return list(self._messages)

    # Called from the event-loop thread.
    def _take_failure(self, stage: str, server: Any) -> str | None:
        with self._cond:
            failure = self._failure
            if failure is None or failure.stage != stage:
                return None
            if failure.remaining is not None:
                failure.remaining -= 1
                if failure.remaining == 0:
                    self._failure = None
        if failure.code == 421 and server.transport is not None:
            # Runs after aiosmtpd has written the reply; close() flushes it first.
            asyncio.get_running_loop().call_soon(server.transport.close)
        return f"{failure.code} {failure.text}"

    def _record(self, message: ReceivedMessage) -> None:
        with self._cond:
            self._messages.append(message)
            self._cond.notify_all()



# ---------------------------------------------------------------------------
# A router configuration for a sandbox (demo, benchmarks, tests)


def router_config(
    path: Path,
    dovecot: Dovecot,
    sink: SmtpSink,
    state_dir: Path,
    password_env: str,
    **sections: dict[str, Any],
) -> Path:
    """Write a config.toml that points the router at this sandbox.

    `sections` override or add keys, e.g. imap={"poll_interval_seconds": 5};
    the model and training data default to the checkout's.
    """
    repo = Path(__file__).resolve().parents[1]
    base: dict[str, dict[str, Any]] = {
        "imap": {"host": dovecot.host, "port": dovecot.port, "security": "none", "username": dovecot.user,
                 "password_env": password_env},
        "smtp": {"host": sink.host, "port": sink.port, "security": "none", "from_address": "support@exchange.example"},
        "state": {"path": str(state_dir / "router.sqlite3")},
        "model": {"path": str(repo / "models" / "current.joblib"), "training_data": str(repo / "training_data")},
    }
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    lines: list[str] = []
    for name, values in base.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in values.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
