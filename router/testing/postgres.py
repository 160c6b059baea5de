"""A throw-away PostgreSQL server for integration tests and benchmarks.

The PostgreSQL state store (router/state/postgres.py) is proven against a real
server, like the IMAP and SMTP code is against Dovecot and aiosmtpd: the
Debian binaries (``/usr/lib/postgresql/<major>/bin``) run ``initdb`` into a
fresh directory under ``/tmp`` and ``postgres`` listens on 127.0.0.1 at a free
port, its socket directory private to the instance.  Nothing of the system's
cluster (``/etc/postgresql``, ``/var/lib/postgresql``) is read or touched.

PostgreSQL refuses to run as root, so when the caller is root the data
directory is owned by the ``postgres`` account (or ``nobody``) and the server
is started through ``setpriv`` as that account.  ``setpriv --pdeathsig`` also
ties the server to the calling process: a SIGKILLed test run takes it down.

Client connections use a password (SCRAM-SHA-256 on TCP, RFC 7677), so the
tests exercise the store's ``password_file``/``password_env`` path; this
module runs only the server's own tools (``initdb``, ``createdb``,
``pg_isready``) and never imports a database driver.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import ClassVar

from router.testing.procs import ServerProcess, _tail, free_port, terminate

__all__ = ["Postgres", "postgres_bindir"]


def postgres_bindir() -> Path:
    """The newest Debian PostgreSQL's bin directory (initdb, postgres, createdb)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name)
                   if p.parent.parent.name.isdigit() else 0)
    if not found:
        raise RuntimeError("PostgreSQL not found under /usr/lib/postgresql: the state-store harness needs a real server "
                           "(Debian/Ubuntu: apt-get install postgresql, or run scripts/setup.sh)")
    return found[-1].parent


def _server_account() -> pwd.struct_passwd | None:
    """The unprivileged account the server runs as when we are root; None when we are not."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root and neither the 'postgres' nor the 'nobody' account exists for PostgreSQL")


class Postgres(ServerProcess):
    """One PostgreSQL server on loopback, owned by this process.

    ``with Postgres() as pg: url = pg.url("router")`` — the superuser is
    ``user`` with a random ``password``; :meth:`create_database` makes a fresh
    database per test.  :meth:`stop` keeps nothing: the directory is removed.
    """

    name: ClassVar[str] = "postgres"
    title: ClassVar[str] = "PostgreSQL"
    exited_message: ClassVar[str] = "postgres exited during start-up:\n{log}"
    timeout_message: ClassVar[str] = "postgres did not accept connections within {timeout}s:\n{log}"
    stop_at_exit: ClassVar[bool] = True

    def __init__(self, base_dir: Path | None = None, *, user: str = "router", start_timeout: float = 30.0) -> None:
        self._own_dir = base_dir is None
        self.base_dir = Path(tempfile.mkdtemp(prefix="router-pg-")) if base_dir is None else base_dir
        self.user = user
        self.password = secrets.token_urlsafe(18)
        self.start_timeout = start_timeout
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._bindir = postgres_bindir()
        self._account = _server_account()

    # -- paths -------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.base_dir / "run"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "postgres.log"

    @property
    def password_file(self) -> Path:
        """The password alone on one line (what the store's `password_file` reads)."""
        return self.base_dir / "password"

    def url(self, database: str = "postgres") -> str:
        """The store's `[state] url` for `database` (no password: that comes from a file or env)."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    # -- life cycle (start() and the context manager come from ServerProcess) ------
    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server and remove its directory (when this object made it)."""
        self.halt(timeout)
        self._forget()
        if self._own_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def resume(self) -> None:
        """Start a halted server again on the same port with its data: an outage, as clients see one."""
        self._start_server()
        self._wait_ready()

    def halt(self, timeout: float = 15.0) -> None:
        """Fast shutdown (SIGINT: roll back and disconnect clients), SIGKILL if it lingers; the data stays."""
        proc, self._proc = self._proc, None
        if proc is not None:
            terminate(proc, timeout, signum=signal.SIGINT, name=self.name)

    def create_database(self, name: str) -> str:
        """A new empty database owned by `user`; returns its url."""
        self._run([str(self._bindir / "createdb"), "-h", self.host, "-p", str(self.port), "-U", self.user, name],
                  as_server=False, env={"PGPASSWORD": self.password})
        return self.url(name)

    def log_tail(self, lines: int = 30) -> str:
        return _tail(self.log_file, lines, empty="<empty log>")

    # -- internals --------------------------------------------------------------------
    def _initdb(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.base_dir.chmod(0o755)  # the server account must traverse it
        self.socket_dir.mkdir(exist_ok=True)
        pwfile = self.base_dir / "initdb.pw"
        pwfile.write_text(self.password + "\n")
        self.password_file.write_text(self.password + "\n")
        self.password_file.chmod(0o600)
        if self._account is not None:
            for path in (self.base_dir, self.socket_dir, pwfile):
                os.chown(path, self._account.pw_uid, self._account.pw_gid)
        try:
            self._run([str(self._bindir / "initdb"), "-D", str(self.data_dir), "-U", self.user, f"--pwfile={pwfile}",
                       "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
                       "--no-sync", "--no-instructions"], as_server=True)
        finally:
            pwfile.unlink(missing_ok=True)

    def _launch(self) -> None:
        """initdb (once) and launch ``postgres``; start() then waits until it accepts connections.

        Any failure raises RuntimeError with the log tail: a test that needs
        PostgreSQL fails loudly, never skips.
        """
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        self.port = free_port()
        self._start_server()

    def _start_server(self) -> None:
        argv = [str(self._bindir / "postgres"), "-D", str(self.data_dir), "-h", self.host, "-p", str(self.port),
                "-k", str(self.socket_dir), "-c", "fsync=off", "-c", "synchronous_commit=off",
                "-c", "full_page_writes=off", "-c", "max_connections=200", "-c", "shared_buffers=32MB"]
        if shutil.which("setpriv") is None:
            raise RuntimeError("setpriv (util-linux) not found: it ties PostgreSQL to the test process")
        as_account: list[str] = []
        if self._account is not None:
            as_account = [f"--reuid={self._account.pw_uid}", f"--regid={self._account.pw_gid}", "--clear-groups"]
            self.log_file.touch()
            os.chown(self.log_file, self._account.pw_uid, self._account.pw_gid)
        self._spawn(argv, self.log_file, setpriv_args=as_account)

    def _port_for_log(self) -> object:
        return self.port

    def _wait_ready(self) -> None:
        isready = [str(self._bindir / "pg_isready"), "-q", "-h", self.host, "-p", str(self.port), "-U", self.user]
        self._await_ready(lambda _deadline: subprocess.run(isready, check=False).returncode == 0)

    def _run(self, argv: list[str], *, as_server: bool, env: dict[str, str] | None = None) -> None:
        if as_server and self._account is not None:
            argv = ["setpriv", f"--reuid={self._account.pw_uid}", f"--regid={self._account.pw_gid}", "--clear-groups",
                    "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, cwd=self.base_dir, check=False,
                              env={**os.environ, "LC_ALL": "C.UTF-8", **(env or {})})
        if done.returncode != 0:
            raise RuntimeError(f"{Path(argv[argv.index('--') + 1] if '--' in argv else argv[0]).name} failed "
                               f"({done.returncode}): {(done.stderr or done.stdout).strip()[-800:]}")

