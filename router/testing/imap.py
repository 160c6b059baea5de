"""What the IMAP test servers (Dovecot, Cyrus, Courier) share: one account, a
logged-in client and the client-side helpers tests use.

Tests speak in router's logical folder names (``Routed/Security``); each
server maps them to its own (``INBOX.Routed.Security``) with its personal
namespace prefix and hierarchy separator, exactly as router does at connect.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from pathlib import Path

from imapclient import IMAPClient

from router.testing.procs import ServerProcess, logical_to_server, server_to_logical

# What a start-up probe may meet before the server serves: a refused or reset
# connection, a greeting without a working login yet.
NOT_YET: tuple[type[BaseException], ...] = (OSError, IMAPClient.Error)


class ImapServer(ServerProcess):
    """An IMAP server process on loopback with one account; append / folders / uids / list_folder / flags
    over :meth:`client`."""

    @property
    def prefix(self) -> str:
        """The personal namespace prefix ("" or "INBOX.")."""
        return ""

    @property
    def separator(self) -> str:
        """The hierarchy delimiter the server shows clients."""
        return "/"

    def __init__(self, base_dir: Path, user: str, password: str, *, start_timeout: float,
                 port: int | None = None) -> None:
        """Configure (not start) the server; without ``port`` a free one is picked at the first start."""
        self.base_dir = Path(base_dir).absolute()
        self._user = user
        self._password = password
        self.start_timeout = start_timeout
        self._port = port
        self._proc = None

    @property
    def port(self) -> int:
        """Plain IMAP port, picked at the first start() and kept by restart()."""
        if self._port is None:
            raise RuntimeError(f"{self.title} has no port yet: call start() first")
        return self._port

    @property
    def user(self) -> str:
        return self._user

    @property
    def password(self) -> str:
        return self._password

    def client(self, timeout: float = 10.0) -> IMAPClient:
        """A logged-in IMAPClient; use it as a context manager to log out."""
        return self._login(self._user, self._password, timeout)

    def _login(self, user: str, password: str, timeout: float = 10.0) -> IMAPClient:
        client = IMAPClient(self.host, self.port, ssl=False, timeout=timeout)
        try:
            client.login(user, password)
        except BaseException:
            client.shutdown()
            raise
        return client

    def server_name(self, logical: str) -> str:
        """The name this server uses for router's logical ``a/b`` folder."""
        return logical_to_server(logical, self.prefix, self.separator)

    def logical_name(self, name: str) -> str:
        """Router's logical ``a/b`` name for a folder name this server lists."""
        return server_to_logical(name, self.prefix, self.separator)

    def append(self, folder: str, raw: bytes, flags: Sequence[bytes | str] = (), msg_time: dt.datetime | None = None) -> int:
        """APPEND ``raw`` to logical ``folder`` (created if missing); returns its UID."""
        name = self.server_name(folder)
        with self.client() as c:
            if not c.folder_exists(name):
                c.create_folder(name)
            response = c.append(name, raw, flags=tuple(flags), msg_time=msg_time)
        match = re.search(rb"APPENDUID \d+ (\d+)", response)
        if match is None:
            raise RuntimeError(f"{self.title} sent no APPENDUID: {response!r}")
        return int(match.group(1))

    def folders(self) -> list[str]:
        with self.client() as c:
            return sorted(self.logical_name(name) for _flags, _delim, name in c.list_folders())

    def uids(self, folder: str = "INBOX") -> list[int]:
        """UIDs in logical ``folder``, ascending (read-only: flags are not touched)."""
        with self.client() as c:
            c.select_folder(self.server_name(folder), readonly=True)
            return sorted(c.search("ALL"))

    def uidvalidity(self, folder: str = "INBOX") -> int:
        with self.client() as c:
            return int(c.folder_status(self.server_name(folder), [b"UIDVALIDITY"])[b"UIDVALIDITY"])

    def list_folder(self, folder: str = "INBOX") -> list[bytes]:
        """Raw RFC 822 bytes of every message in logical ``folder``, by ascending UID.

        Uses BODY.PEEK so \\Seen is not set as a side effect.
        """
        with self.client() as c:
            c.select_folder(self.server_name(folder), readonly=True)
            uids = sorted(c.search("ALL"))
            if not uids:
                return []
            data = c.fetch(uids, ["BODY.PEEK[]"])
            return [data[uid][b"BODY[]"] for uid in uids]

    def flags(self, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        """UID -> flags, for checking \\Seen / \\Deleted handling."""
        with self.client() as c:
            c.select_folder(self.server_name(folder), readonly=True)
            uids = c.search("ALL")
            if not uids:
                return {}
            return {uid: tuple(d[b"FLAGS"]) for uid, d in c.fetch(uids, ["FLAGS"]).items()}

    def _login_probe(self, deadline: float) -> bool:
        """Ready means the account can log in and SELECT INBOX (a bare accept on the port is not enough)."""
        with self.client(timeout=2) as c:
            c.select_folder("INBOX")
        return True
