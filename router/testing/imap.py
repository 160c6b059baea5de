"""Client-side helpers shared by the IMAP test servers (Cyrus, Courier).

Tests speak in router's logical folder names (``Routed/Security``); each
server maps them to its own (``INBOX.Routed.Security``) with its personal
namespace prefix and hierarchy separator, exactly as router does at connect.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from imapclient import IMAPClient

from router.testing.procs import logical_to_server, server_to_logical


class ImapHelpers:
    """append / folders / uids / list_folder / flags over ``self.client()``."""

    prefix = ""
    separator = "/"

    def client(self) -> IMAPClient:
        raise NotImplementedError

    def server_name(self, logical: str) -> str:
        return logical_to_server(logical, self.prefix, self.separator)

    def logical_name(self, name: str) -> str:
        return server_to_logical(name, self.prefix, self.separator)

    def append(self, folder: str, raw: bytes, flags: Sequence[bytes | str] = ()) -> int:
        """APPEND ``raw`` to logical ``folder`` (created if missing); returns its UID."""
        name = self.server_name(folder)
        with self.client() as c:
            if not c.folder_exists(name):
                c.create_folder(name)
            response = c.append(name, raw, flags=tuple(flags))
        match = re.search(rb"APPENDUID \d+ (\d+)", response)
        if match is None:
            raise RuntimeError(f"the server sent no APPENDUID: {response!r}")
        return int(match.group(1))

    def folders(self) -> list[str]:
        with self.client() as c:
            return sorted(self.logical_name(name) for _flags, _delim, name in c.list_folders())

    def uids(self, folder: str = "INBOX") -> list[int]:
        with self.client() as c:
            c.select_folder(self.server_name(folder), readonly=True)
            return sorted(c.search("ALL"))

    def uidvalidity(self, folder: str = "INBOX") -> int:
        with self.client() as c:
            return int(c.folder_status(self.server_name(folder), [b"UIDVALIDITY"])[b"UIDVALIDITY"])

    def list_folder(self, folder: str = "INBOX") -> list[bytes]:
        """Raw bytes of every message in logical ``folder`` by UID (BODY.PEEK: no \\\\Seen)."""
        with self.client() as c:
            c.select_folder(self.server_name(folder), readonly=True)
            uids = sorted(c.search("ALL"))
            if not uids:
                return []
            data = c.fetch(uids, ["BODY.PEEK[]"])
            return [data[uid][b"BODY[]"] for uid in uids]

    def flags(self, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
        with self.client() as c:
            c.select_folder(self.server_name(folder), readonly=True)
            uids = c.search("ALL")
            if not uids:
                return {}
            return {uid: tuple(d[b"FLAGS"]) for uid, d in c.fetch(uids, ["FLAGS"]).items()}
