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

import grp
import logging
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path
from typing import ClassVar, Literal

from imapclient import IMAPClient

from router.testing.imap import NOT_YET, ImapServer
from router.testing.procs import (
    LOOPBACK,
    _first_existing_user,
    _first_untraversable,
    _read_from,
    _session_members,
    _signal,
    _tail,
    free_port,
    kill_leftovers,
)

log = logging.getLogger(__name__)

DOVECOT_BINARY = "/usr/sbin/dovecot"

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

# The same list without any of the extensions router can do without: MOVE
# (RFC 6851), UIDPLUS (RFC 4315), IDLE (RFC 2177), CONDSTORE/QRESYNC (RFC 7162).
# Servers like that still exist (old Courier builds, appliances); each of
# router's fallbacks is tested against this variant.
_MINIMAL_CAPABILITIES = " ".join(
    c for c in _CAPABILITIES_WITHOUT_MOVE.split() if c not in ("UIDPLUS", "IDLE", "CONDSTORE", "QRESYNC")
)

Layout = Literal["fs", "maildir++", "inbox-prefix"]

# layout -> (mail_location, namespace settings, hierarchy separator, personal prefix)
_LAYOUTS: dict[str, tuple[str, list[str], str, str]] = {
    # router's historical sandbox: folders are directories, "/" separates.
    "fs": ("maildir:~/Maildir:LAYOUT=fs:INBOX=~/Maildir/INBOX", ["  separator = /"], "/", ""),
    # Dovecot's stock Maildir++: ".Routed.Security" directories, "." separates,
    # no prefix (the separator is Maildir++'s default, as in Debian's config).
    "maildir++": ("maildir:~/Maildir", [], ".", ""),
    # Courier / Cyrus style: every personal folder lives under "INBOX.".
    "inbox-prefix": ("maildir:~/Maildir", ["  separator = .", "  prefix = INBOX."], ".", "INBOX."),
}


class Dovecot(ImapServer):
    """A private Dovecot 2.3 IMAP server on 127.0.0.1 with one user.

    Layout under ``base_dir``: ``dovecot.conf``, ``passwd``, ``dovecot.log``,
    ``dovecot.stderr`` (messages printed before the log is opened), ``state/``,
    ``home/<user>/Maildir`` and, when the path is short enough for unix
    sockets, ``run/`` (otherwise a private ``/tmp/dv*`` directory, removed on
    stop). ``layout`` picks the folder naming the server shows clients:
    ``"fs"`` (``LAYOUT=fs``, ``/`` separator: ``Routed/Security`` is the
    directory ``Maildir/Routed/Security``), ``"maildir++"`` (Dovecot's stock
    Maildir++: ``.`` separator, no prefix: ``Routed.Security``) or
    ``"inbox-prefix"`` (personal namespace ``INBOX.`` with ``.``:
    ``INBOX.Routed.Security``, as Courier and Cyrus show it). A ``Junk``
    folder flagged ``\\Junk`` (RFC 6154 SPECIAL-USE) exists in every layout.
    """

    name: ClassVar[str] = "dovecot"
    title: ClassVar[str] = "Dovecot"
    exited_message: ClassVar[str] = "dovecot exited with status {status} during startup\n{log}"
    stop_at_exit: ClassVar[bool] = True

    def __init__(
        self,
        base_dir: Path,
        user: str = "support@exchange.example",
        password: str = "sandbox-password",
        *,
        ssl: bool = False,
        disable_move: bool = False,
        layout: Layout = "fs",
        minimal_capabilities: bool = False,
        auth_config: str | None = None,
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
        client-side). ``minimal_capabilities`` advertises no MOVE, UIDPLUS,
        IDLE or CONDSTORE (``imap_capability`` replaces the whole built-in
        list). ``auth_config``, when given, replaces the generated
        passdb/userdb sections verbatim (e.g. ``passdb { driver = oauth2 ...}``;
        later global settings such as ``auth_mechanisms`` in it override the
        generated ones); start() then only awaits the greeting, since a
        password login is not available to probe with.
        ``mail_user`` is
        the account owning the maildir when running as root (default
        ``nobody``); ignored otherwise. Ports default to free ones picked at
        the first :meth:`start` and kept by :meth:`restart`.
        ``die_with_parent`` makes the kernel stop the server if this process
        dies without calling :meth:`stop` (PR_SET_PDEATHSIG via util-linux
        ``setpriv``). The signal follows the *thread* that called
        :meth:`start`, so start from a thread that outlives the server (the
        main thread in tests and scripts) or pass False.
        """
        super().__init__(base_dir, user, password, start_timeout=start_timeout, port=port)
        self.ssl = ssl
        self.disable_move = disable_move
        if layout not in _LAYOUTS:
            raise ValueError(f"unknown Dovecot layout {layout!r}; choose one of {sorted(_LAYOUTS)}")
        self.layout: Layout = layout
        self.minimal_capabilities = minimal_capabilities
        self.auth_config = auth_config
        self._ssl_port = ssl_port
        self.binary = binary
        self.die_with_parent = die_with_parent
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
    def ssl_port(self) -> int | None:
        """Implicit-TLS IMAP port, or None when built with ``ssl=False``."""
        if not self.ssl:
            return None
        if self._ssl_port is None:
            raise RuntimeError("Dovecot has no port yet: call start() first")
        return self._ssl_port

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
    def separator(self) -> str:
        """The hierarchy delimiter this layout shows clients."""
        return _LAYOUTS[self.layout][2]

    @property
    def prefix(self) -> str:
        """The personal namespace prefix ("" or "INBOX.")."""
        return _LAYOUTS[self.layout][3]

    @property
    def maildir(self) -> Path:
        return self.home / "Maildir"

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

    def _check_installed(self) -> None:
        if not Path(self.binary).is_file():
            raise RuntimeError(
                f"{self.binary} not found: the IMAP integration harness needs a real Dovecot "
                "(Debian/Ubuntu: apt-get install dovecot-imapd)"
            )

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
        kill_leftovers(sid, name=self.name, interval=0.01)
        if self._run_dir is not None:
            # A SIGKILLed master leaves its pid file; a stale one could make
            # the next start() think Dovecot is still running (pid reuse).
            (self._run_dir / "master.pid").unlink(missing_ok=True)
        self._forget()
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
        # Dovecot sets SO_REUSEADDR, so TIME_WAIT sockets do not block rebinding.
        super().restart()

    # -- IMAP helpers -----------------------------------------------------

    def client(
        self,
        timeout: float = 10.0,
        *,
        tls: Literal["none", "starttls", "implicit"] = "none",
        ssl_context: ssl.SSLContext | None = None,
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
        self._spawn([self.binary, "-F", "-c", str(self.config_file)], self.base_dir / "dovecot.stderr",
                    die_with_parent=self.die_with_parent)

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
        location, namespace, _sep, _prefix = _LAYOUTS[self.layout]
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
            f"mail_location = {location}",
            "namespace inbox {",
            "  inbox = yes",
            *namespace,
            "  mailbox Junk {",
            "    special_use = \\Junk",
            "    auto = create",
            "  }",
            "}",
        ]
        lines += [self.auth_config] if self.auth_config is not None else self.password_auth_config()
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
        if self.minimal_capabilities:
            lines.append(f"imap_capability = {_MINIMAL_CAPABILITIES}")
        elif self.disable_move:
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

    def password_auth_config(self) -> list[str]:
        """The generated passdb (this sandbox's ``passwd`` file) and static userdb, as config lines.

        An ``auth_config`` that adds a passdb (e.g. oauth2) keeps these so the
        readiness probe's plain LOGIN still works.
        """
        base = self.base_dir
        return [
            "passdb {",
            "  driver = passwd-file",
            f"  args = scheme=PLAIN username_format=%u {base / 'passwd'}",
            "}",
            "userdb {",
            "  driver = static",
            f"  args = uid={self._mail_uid} gid={self._mail_gid} home={base / 'home'}/%u",
            "}",
        ]

    def _wait_ready(self) -> None:
        """Poll until the port greets and a LOGIN + SELECT succeeds.

        A bare TCP accept is not enough: the kernel accepts on the listener
        even when imap-login or the mail process is failing (imap-login
        refusing to run as root looked exactly like that). The greeting is
        awaited in short slices so a master that dies meanwhile is noticed at
        once, and a foreign listener on the port cannot stall the probe.
        """
        self._await_ready(self._ready_probe, retry_on=NOT_YET, interval=0.02)

    def _ready_probe(self, deadline: float) -> bool:
        self._await_greeting(deadline)
        if self.auth_config is not None:
            # Custom auth (e.g. passdb oauth2): this object cannot log
            # in with a password, so a greeting is all it can await.
            return True
        with self.client(timeout=max(0.5, deadline - time.monotonic())) as c:
            c.select_folder("INBOX")
        if self.ssl:
            ctx = ssl.create_default_context(cafile=str(self.cert_file))
            with self.client(tls="implicit", ssl_context=ctx, timeout=max(0.5, deadline - time.monotonic())):
                pass
        return True

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

