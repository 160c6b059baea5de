"""A private Courier-IMAP 5.0 server (Debian bookworm's build) on loopback.

``courier-imap`` conflicts with ``dovecot-imapd`` in apt, so scripts/setup.sh
``apt-get download``s it with courier-base, courier-authlib(-userdb),
courier-authdaemon and libcourier-unicode4, unpacks them under
:data:`COURIER_ROOT` with ``dpkg-deb -x`` and apt-installs only libraries.

Courier's paths are compiled in: the config (``/etc/courier``), authdaemond's
socket (``/run/courier/authdaemon/socket``) and its modules
(``/usr/lib/courier-authlib``).  The server therefore runs in a private mount
namespace (``unshare -m``, we run as root) in which those three directories
are bind mounts of this instance's own directories, and ``/run`` is a private
tmpfs; nothing outside ``base_dir`` is written (the two mount points
``/etc/courier`` and ``/usr/lib/courier-authlib`` must exist as empty
directories; setup.sh creates them).

The login goes the real way: couriertcpd -> imaplogin -> authdaemond
(authuserdb, a userdb built by makeuserdb) -> imapd on the user's Maildir.
Courier shows personal folders as ``INBOX.`` with ``.``, has UIDPLUS and IDLE
but no MOVE.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path
from typing import ClassVar

from router.testing.imap import NOT_YET, ImapServer
from router.testing.procs import LOOPBACK, _first_untraversable, free_port

COURIER_ROOT = Path(os.environ.get("ROUTER_TEST_SERVERS", "/opt/router-test-servers")) / "courier"
_MOUNT_POINTS = ("/etc/courier", "/usr/lib/courier-authlib")
# Debian's IMAP_CAPABILITY plus AUTH=PLAIN on the plain port (loopback only).
_CAPABILITY = "IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=REFERENCES SORT QUOTA IDLE AUTH=PLAIN"


class Courier(ImapServer):
    """Courier-IMAP with one userdb account; config, Maildir and log under ``base_dir``."""

    name: ClassVar[str] = "courier"
    title: ClassVar[str] = "Courier"
    prefix = "INBOX."
    separator = "."

    def __init__(self, base_dir: Path, user: str = "support", password: str = "sandbox-password", *,
                 root: Path = COURIER_ROOT, start_timeout: float = 20.0) -> None:
        super().__init__(base_dir, user, password, start_timeout=start_timeout)
        self.root = root

    @property
    def log_file(self) -> Path:
        return self.base_dir / "courier.log"

    @property
    def maildir(self) -> Path:
        return self.base_dir / "home" / self._user / "Maildir"

    # -- lifecycle ------------------------------------------------------------
    def stop(self, timeout: float = 5.0) -> None:
        """Stop couriertcpd, authdaemond and every imapd of the session; keep the Maildir."""
        self._stop_session(timeout, terminate_members=True)

    # -- internals -------------------------------------------------------------
    def _check_installed(self) -> None:
        tcpd = self.root / "usr" / "sbin" / "couriertcpd"
        if not tcpd.is_file():
            raise RuntimeError(f"Courier-IMAP is not installed at {self.root} ({tcpd} missing): run scripts/setup.sh, "
                               "which unpacks Debian's courier-imap there without replacing Dovecot")
        if os.geteuid() != 0:
            raise RuntimeError("Courier's compiled-in paths are provided by a private mount namespace, which needs root")
        if shutil.which("unshare") is None or shutil.which("openssl") is None:
            raise RuntimeError("Courier's harness needs unshare (util-linux) and openssl")
        for point in _MOUNT_POINTS:
            Path(point).mkdir(parents=True, exist_ok=True)  # empty mount points, as the packages would create

    def _launch(self) -> None:
        """Build the userdb and Maildir, start couriertcpd + authdaemond in a private mount namespace."""
        self._prepare()
        self._spawn(["unshare", "-m", "sh", str(self.base_dir / "launch.sh")], self.log_file,
                    env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})

    def _prepare(self) -> None:
        base, root = self.base_dir, self.root
        for sub in ("etc", "run"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        for sub in ("cur", "new", "tmp"):
            (self.maildir / sub).mkdir(parents=True, exist_ok=True)
        if self._port is None:
            self._port = free_port()
        nobody = pwd.getpwnam("nobody")
        shutil.copy(root / "etc" / "courier" / "imapd", base / "etc" / "imapd")
        (base / "etc" / "authdaemonrc").write_text(
            'authmodulelist="authuserdb"\ndaemons=2\nauthdaemonvar=/run/courier/authdaemon\nDEBUG_LOGIN=0\nDEFAULTOPTIONS=""\nLOGGEROPTS=""\n')
        hashed = subprocess.run(["openssl", "passwd", "-6", "-stdin"], input=self._password.encode(), capture_output=True,
                                check=True).stdout.decode().strip()
        home = self.maildir.parent
        userdb = base / "etc" / "userdb"
        userdb.write_text(f"{self._user}\tuid={nobody.pw_uid}|gid={nobody.pw_gid}|home={home}|mail={self.maildir}|systempw={hashed}\n")
        os.chmod(userdb, 0o600)
        makeuserdb = (root / "usr" / "sbin" / "makeuserdb").read_text()
        makedat = root / "usr" / "lib" / "courier" / "courier-authlib" / "makedatprog"
        (base / "makeuserdb").write_text(makeuserdb.replace("/usr/lib/courier/courier-authlib/makedatprog", str(makedat)))
        libs = ":".join(str(root / d) for d in ("usr/lib", "usr/lib/x86_64-linux-gnu", "usr/lib/courier-authlib"))
        (base / "launch.sh").write_text("\n".join([
            "# Generated by router.testing.courier; runs inside `unshare -m`.",
            "set -e",
            "mount --make-rprivate /",
            f"mount --bind {base / 'etc'} /etc/courier",
            f"mount --bind {root / 'usr/lib/courier-authlib'} /usr/lib/courier-authlib",
            "mount -t tmpfs -o mode=0755 router-courier /run",
            "mkdir -p /run/courier/authdaemon",
            f"export LD_LIBRARY_PATH={libs}",
            f"perl {base / 'makeuserdb'}",
            f"{root / 'usr/lib/courier/courier-authlib/authdaemond'} &",
            "set -a",
            ". /etc/courier/imapd",
            f'IMAP_CAPABILITY="{_CAPABILITY}"',
            "set +a",
            (f"exec {root / 'usr/sbin/couriertcpd'} -address={LOOPBACK} -maxprocs=40 -maxperip=40 -nodnslookup -noidentlookup "
             f"{self._port} {root / 'usr/lib/courier/courier/imaplogin'} {root / 'usr/bin/imapd'} Maildir"),
            "",
        ]))
        os.chmod(base, 0o755)
        for path in [home.parent, home, *home.rglob("*")]:
            os.lchown(path, nobody.pw_uid, nobody.pw_gid)
        blocked = _first_untraversable(self.maildir, nobody.pw_uid, nobody.pw_gid)
        if blocked is not None:
            raise RuntimeError(f"Courier's imapd runs as nobody, which cannot traverse {blocked}; use a base_dir under /tmp")

    def _wait_ready(self) -> None:
        self._await_ready(self._login_probe, retry_on=NOT_YET)
