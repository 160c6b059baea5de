"""The IMAP mailbox.  The only module that imports imapclient.

Why these choices (RFC 3501 / 9051 unless noted):
- Messages are fetched with BODY.PEEK[] so nothing is marked \\Seen by
  accident, and RFC822.SIZE is read first so oversize mail can be
  quarantined without downloading it whole.
- New mail is found by `UID SEARCH UID n:*` above the last UID handled; IDLE
  (RFC 2177) is only a wake-up, re-issued well within the 29-minute limit.
- Filing uses MOVE (RFC 6851) where offered, else COPY + UID EXPUNGE (UIDPLUS,
  RFC 4315), else COPY and a keyword flag that later searches exclude (a plain
  EXPUNGE could remove other clients' deleted mail).
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from collections.abc import Callable, Iterator

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from router.config import ImapSettings
from router.errors import LoginError, MailboxError
from router.oauth.sasl import imap_login

log = logging.getLogger(__name__)


class Refused(MailboxError):
    """The server answered NO or BAD to filing (quota, a folder name it refuses).

    Retrying would stall the mailbox on one message, so callers set it aside.
    """


# Errors that mean "the connection is gone or unusable": reconnect and retry.
CONNECTION_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    socket.timeout,
    ssl.SSLError,
    IMAPClientError,
    EOFError,
)


class Mailbox:
    """A connected, logged-in IMAP session on one folder."""

    def __init__(self, settings: ImapSettings) -> None:
        self.settings = settings
        self.client: IMAPClient | None = None
        self.uidvalidity = 0
        self.uidnext = 0  # UIDNEXT at the last SELECT (0: the server did not say)
        self.capabilities: frozenset[str] = frozenset()
        self._folders: set[str] = set()

    # -- connection -------------------------------------------------------
    def connect(self) -> None:
        s = self.settings
        context = ssl.create_default_context()
        if s.security == "none" or s.host in ("127.0.0.1", "localhost", "::1"):
            # Loopback sandboxes use self-signed certificates.
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        try:
            client = IMAPClient(
                s.host, port=s.port, ssl=s.security == "ssl", ssl_context=context, timeout=s.timeout
            )
            if s.security == "starttls":
                client.starttls(context)
            imap_login(client, s)  # password, or XOAUTH2/OAUTHBEARER with [imap.oauth2]
        except IMAPClientError as exc:
            raise LoginError(f"IMAP login to {s.host}:{s.port} as {s.username} failed: {_first_line(exc)}") from None
        except (OSError, ssl.SSLError) as exc:
            raise MailboxError(f"cannot reach IMAP server {s.host}:{s.port}: {_first_line(exc)}") from None
        self.client = client
        self.capabilities = frozenset(c.decode().upper() if isinstance(c, bytes) else str(c).upper() for c in client.capabilities())
        info = client.select_folder(s.folder)
        self.uidvalidity = int(info.get(b"UIDVALIDITY", 0))
        self.uidnext = int(info.get(b"UIDNEXT", 0))
        log.info("imap connected", extra={"host": s.host, "folder": s.folder, "uidvalidity": self.uidvalidity})

    def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            client.logout()
        except Exception:  # noqa: BLE001 - closing a broken connection
            try:
                client.shutdown()
            except Exception:  # noqa: BLE001
                pass

    def __enter__(self) -> Mailbox:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def c(self) -> IMAPClient:
        if self.client is None:
            raise MailboxError("not connected")
        return self.client

    def has(self, capability: str) -> bool:
        return capability.upper() in self.capabilities

    # -- reading ----------------------------------------------------------
    def reselect(self) -> int:
        """Select the folder again; returns the (possibly new) UIDVALIDITY."""
        info = self.c.select_folder(self.settings.folder)
        self.uidvalidity = int(info.get(b"UIDVALIDITY", 0))
        self.uidnext = int(info.get(b"UIDNEXT", 0))
        return self.uidvalidity

    def pending_uids(self, above: int = 0) -> list[int]:
        """UIDs not yet filed by us; with `above`, only those newer than it.

        `UID n:*` always matches the highest UID even when it is below n
        (RFC 3501 section 6.4.8), hence the filter after the search.
        """
        criteria: list[str] = ["UID", f"{above + 1}:*"] if above else ["ALL"]
        if not self.has("MOVE") and not self.has("UIDPLUS"):
            criteria += ["NOT", "KEYWORD", self.settings.move_fallback_keyword]
        return sorted(u for u in (int(x) for x in self.c.search(criteria)) if u > above)

    def sizes(self, uids: list[int]) -> dict[int, int]:
        out: dict[int, int] = {}
        for chunk in _chunks(uids, 500):
            for uid, data in self.c.fetch(chunk, ["RFC822.SIZE"]).items():
                out[int(uid)] = int(data.get(b"RFC822.SIZE", 0))
        return out

    def fetch(self, uids: list[int]) -> dict[int, bytes]:
        """Raw bytes of the messages, without setting \\Seen."""
        out: dict[int, bytes] = {}
        if not uids:
            return out
        for uid, data in self.c.fetch(uids, ["BODY.PEEK[]"]).items():
            raw = data.get(b"BODY[]")
            if raw is not None:
                out[int(uid)] = bytes(raw)
        return out

    def fetch_header(self, uid: int) -> bytes:
        data = self.c.fetch([uid], ["BODY.PEEK[HEADER]"]).get(uid, {})
        return bytes(data.get(b"BODY[HEADER]", b""))

    # -- writing ----------------------------------------------------------
    def ensure_folder(self, folder: str) -> None:
        """Create the folder when missing; Refused when the server will not."""
        if folder in self._folders:
            return
        try:
            self._ensure_folder(folder)
        except IMAPClientAbortError:
            raise
        except IMAPClientError as exc:
            raise Refused(f"{folder}: {_first_line(exc)}") from None

    def _ensure_folder(self, folder: str) -> None:
        if not self.c.folder_exists(folder):
            try:
                self.c.create_folder(folder)
            except IMAPClientError:
                if not self.c.folder_exists(folder):  # lost a race with another client
                    raise
            try:
                self.c.subscribe_folder(folder)
            except IMAPClientError:
                pass
        self._folders.add(folder)

    def file(self, uid: int, folder: str) -> str:
        """Move one message out of the folder; returns the method used."""
        return self.file_many([uid], folder)

    def file_many(self, uids: list[int], folder: str) -> str:
        """Move messages out of the folder in one command; returns the method used.

        Raises Refused when the server turns the command down; a broken
        connection still raises a connection error (reconnect and retry).
        """
        try:
            return self._file_many(uids, folder)
        except IMAPClientAbortError:
            raise
        except IMAPClientError as exc:
            raise Refused(f"{folder}: {_first_line(exc)}") from None

    def _file_many(self, uids: list[int], folder: str) -> str:
        self.ensure_folder(folder)
        if self.has("MOVE"):
            self.c.move(uids, folder)
            return "move"
        self.c.copy(uids, folder)
        if self.has("UIDPLUS"):
            self.c.add_flags(uids, [b"\\Deleted"], silent=True)
            self.c.uid_expunge(uids)
            return "copy+uid_expunge"
        self.c.add_flags(uids, [self.settings.move_fallback_keyword.encode(), b"\\Seen"], silent=True)
        return "copy+flag"


    # -- other folders (requeue, corrections, label) --------------------------
    def select(self, folder: str) -> bool:
        """Select another folder; False when it does not exist.

        `reselect()` goes back to the configured folder; `file()` moves out
        of whichever folder is selected.
        """
        if not self.c.folder_exists(folder):
            return False
        self.c.select_folder(folder)
        return True

    def count(self, folder: str) -> int:
        """How many messages `folder` holds (STATUS, no SELECT); 0 if missing."""
        if not self.c.folder_exists(folder):
            return 0
        return int(self.c.folder_status(folder, [b"MESSAGES"]).get(b"MESSAGES", 0))

    def _live(self, criteria: list[str]) -> list[int]:
        if not self.has("MOVE") and not self.has("UIDPLUS"):
            criteria = [*criteria, "NOT", "KEYWORD", self.settings.move_fallback_keyword]
        return sorted(int(x) for x in self.c.search(criteria))

    def all_uids(self) -> list[int]:
        """UIDs in the selected folder, without copies already moved on."""
        return self._live(["ALL"])

    def search_message_id(self, message_id: str) -> list[int]:
        """UIDs in the selected folder whose Message-ID header is exactly `message_id`."""
        found = self._live(["HEADER", "Message-ID", message_id])
        if not found:
            return []
        out = []
        for uid, data in self.c.fetch(found, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]).items():
            raw = b"".join(v for k, v in data.items() if isinstance(k, bytes) and k.startswith(b"BODY[HEADER") and isinstance(v, bytes))
            value = raw.split(b":", 1)[1] if b":" in raw else b""
            if b" ".join(value.split()).decode("ascii", "replace").strip() == message_id.strip():
                out.append(int(uid))
        return sorted(out)

    # -- waiting ----------------------------------------------------------
    def idle_wait(self, max_seconds: float, should_stop: Callable[[], bool]) -> bool:
        """IDLE until the server reports new mail, max_seconds pass or should_stop().

        Returns True when the server said something (new mail, expunge...).
        """
        client = self.c
        client.idle()
        deadline = time.monotonic() + max_seconds
        woke = False
        try:
            while time.monotonic() < deadline and not should_stop():
                responses = client.idle_check(timeout=min(0.5, max(0.05, deadline - time.monotonic())))
                if any(_is_news(r) for r in responses):
                    woke = True
                    break
        finally:
            client.idle_done()
        return woke



def _is_news(response: object) -> bool:
    if isinstance(response, tuple) and len(response) >= 2:
        return response[1] in (b"EXISTS", b"RECENT", b"EXPUNGE")
    return False


def _chunks(items: list[int], n: int) -> Iterator[list[int]]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _first_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]
