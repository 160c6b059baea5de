"""A private Cyrus IMAP 3.6 server (Debian bookworm's build) on loopback.

Debian's ``cyrus-imapd`` conflicts with ``dovecot-imapd`` in apt, so
scripts/setup.sh does not install it: it ``apt-get download``s cyrus-imapd and
cyrus-common, unpacks them with ``dpkg-deb -x`` under :data:`CYRUS_ROOT` and
apt-installs only their libraries.  The binaries are run from there; every path
they need is given on the command line (``-C imapd.conf``, ``-M cyrus.conf``),
so nothing under /etc or /var is read or written.

``idled`` is started (Debian's cyrus.conf has it commented out, which turns
IDLE into a 60-second poll: docs/operations.md tells operators to enable it).
The configuration is Debian's namespace: ``unixhierarchysep: no`` and
``altnamespace: no``, i.e. personal folders under ``INBOX.`` with ``.`` as
separator.  Passwords live in a private sasldb (``saslpasswd2 -f``); an admin
account creates the user's mailbox (``user.<name>``) at first start.
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from imapclient import IMAPClient

from router.testing.imap import ImapHelpers
from router.testing.procs import (
    LOOPBACK,
    _first_untraversable,
    _session_members,
    _signal,
    _tail,
    free_port,
)

log = logging.getLogger(__name__)

CYRUS_ROOT = Path(os.environ.get("ROUTER_TEST_SERVERS", "/opt/router-test-servers")) / "cyrus"
_ADMIN = "cyradmin"


class Cyrus(ImapHelpers):
    """Cyrus IMAP with one user, its config, spool and sasldb under ``base_dir``."""

    prefix = "INBOX."
    separator = "."

    def __init__(self, base_dir: Path, user: str = "support", password: str = "sandbox-password", *,
                 root: Path = CYRUS_ROOT, start_timeout: float = 20.0) -> None:
        self.base_dir = Path(base_dir).absolute()
        self._user = user
        self._password = password
        self.root = root
        self.start_timeout = start_timeout
        self._port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._admin_password = "admin-" + password
        self._run_user = "nobody" if os.geteuid() == 0 else pwd.getpwuid(os.getuid()).pw_name

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("Cyrus has no port yet: call start() first")
        return self._port

    @property
    def user(self) -> str:
        return self._user

    @property
    def password(self) -> str:
        return self._password

    @property
    def log_file(self) -> Path:
        return self.base_dir / "master.log"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def bin_dir(self) -> Path:
        return self.root / "usr" / "lib" / "cyrus" / "bin"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def client(self, timeout: float = 10.0) -> IMAPClient:
        return self._login(self._user, self._password, timeout)

    def _login(self, user: str, password: str, timeout: float = 10.0) -> IMAPClient:
        client = IMAPClient(self.host, self.port, ssl=False, timeout=timeout)
        try:
            client.login(user, password)
        except BaseException:
            client.shutdown()
            raise
        return client

    # -- lifecycle ------------------------------------------------------------
    def start(self) -> None:
        """Write the config, start ``master -D`` and wait until the user can SELECT INBOX."""
        if self.running:
            raise RuntimeError("Cyrus already running")
        master = self.bin_dir / "master"
        if not master.is_file():
            raise RuntimeError(f"Cyrus IMAP is not installed at {self.root} ({master} missing): run scripts/setup.sh, "
                               "which unpacks Debian's cyrus-imapd there without replacing Dovecot")
        if shutil.which("saslpasswd2") is None:
            raise RuntimeError("saslpasswd2 not found: Cyrus' test accounts need sasl2-bin (scripts/setup.sh installs it)")
        try:
            self._prepare()
            env = {**os.environ, "LD_LIBRARY_PATH": str(self.root / "usr" / "lib" / "x86_64-linux-gnu")}
            argv = [str(master), "-C", str(self.base_dir / "imapd.conf"), "-M", str(self.base_dir / "cyrus.conf"),
                    "-p", str(self.base_dir / "master.pid"), "-D"]
            setpriv = shutil.which("setpriv")
            if setpriv is not None:
                argv = [setpriv, "--pdeathsig", "TERM", "--", *argv]
            with open(self.log_file, "ab") as out:
                self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, cwd=self.base_dir,
                                              env=env, start_new_session=True)
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        log.info("cyrus ready on %s:%s (dir %s)", self.host, self._port, self.base_dir)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop master and every process of its session; keep the spool."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        sid = proc.pid
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        grace = time.monotonic() + 2.0
        while _session_members(sid) and time.monotonic() < grace:
            time.sleep(0.02)
        for child in _session_members(sid):
            _signal(child, signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, lines: int = 40) -> str:
        return f"--- {self.log_file} ---\n{_tail(self.log_file, lines)}"

    # -- internals -------------------------------------------------------------
    def _prepare(self) -> None:
        base = self.base_dir
        # conf/socket: imapd binds its IDLE client sockets there (Cyrus 3.x).
        for sub in ("conf", "conf/socket", "spool", "sock"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        if self._port is None:
            self._port = free_port()
        bin_dir = self.bin_dir
        conf = base / "imapd.conf"
        conf.write_text("\n".join([
            "# Generated by router.testing.cyrus; nothing under /etc is read.",
            f"configdirectory: {base / 'conf'}",
            f"partition-default: {base / 'spool'}",
            "defaultpartition: default",
            f"cyrus_user: {self._run_user}",
            f"admins: {_ADMIN}",
            "sasl_pwcheck_method: auxprop",
            "sasl_auxprop_plugin: sasldb",
            f"sasl_sasldb_path: {base / 'sasldb2'}",
            "sasl_mech_list: PLAIN LOGIN",
            "allowplaintext: yes",
            "unixhierarchysep: no",
            "altnamespace: no",
            "servername: cyrus.sandbox.invalid",
            f"lmtpsocket: {base / 'sock' / 'lmtp'}",
            f"idlesocket: {base / 'sock' / 'idle'}",
            f"notifysocket: {base / 'sock' / 'notify'}",
            "syslog_prefix: cyrus-sandbox",
            "",
        ]))
        (base / "cyrus.conf").write_text("\n".join([
            "START {",
            f'  recover cmd="{bin_dir / "ctl_cyrusdb"} -C {conf} -r"',
            # Debian ships idled commented out; without it imapd re-checks an
            # IDLEing mailbox only every imapidlepoll (60 s) and push is gone.
            f'  idled cmd="{bin_dir / "idled"} -C {conf}"',
            "}",
            "SERVICES {",
            f'  imap cmd="{bin_dir / "imapd"} -C {conf}" listen="{LOOPBACK}:{self._port}" prefork=0',
            "}",
            "EVENTS {",
            "}",
            "",
        ]))
        for user, password in ((self._user, self._password), (_ADMIN, self._admin_password)):
            subprocess.run(["saslpasswd2", "-p", "-c", "-f", str(base / "sasldb2"), "-u", "cyrus.sandbox.invalid", user],
                           input=password.encode(), check=True, capture_output=True)
        if os.geteuid() == 0:
            account = pwd.getpwnam(self._run_user)
            os.chmod(base, 0o755)
            for path in [base, *base.rglob("*")]:
                os.lchown(path, account.pw_uid, account.pw_gid)
            blocked = _first_untraversable(base, account.pw_uid, account.pw_gid)
            if blocked is not None:
                raise RuntimeError(f"Cyrus runs as {self._run_user}, which cannot traverse {blocked}; use a base_dir under /tmp")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        last: BaseException | None = None
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise RuntimeError(f"cyrus master exited with status {self._proc.returncode}\n{self.log_tail()}")
            try:
                with self._login(_ADMIN, self._admin_password, timeout=2) as admin:
                    mailbox = f"user.{self._user}"
                    if not admin.folder_exists(mailbox):
                        admin.create_folder(mailbox)
                with self.client(timeout=2) as c:
                    c.select_folder("INBOX")
                return
            except (OSError, IMAPClient.Error) as exc:
                last = exc
                time.sleep(0.1)
        raise RuntimeError(f"cyrus did not serve a login on {self.host}:{self._port} within {self.start_timeout}s "
                           f"(last error: {last!r})\n{self.log_tail()}")
