"""The IMAP mailbox.  The only module that imports imapclient.

Why these choices (RFC 3501 / 9051 unless noted):
- Messages are fetched with BODY.PEEK[] so nothing is marked \\Seen by
  accident, and RFC822.SIZE is read first so oversize mail can be
  quarantined without downloading it whole.
- New mail is found by `UID SEARCH UID n:*` above the last UID handled; IDLE
  (RFC 2177) is only a wake-up, re-issued well within the 29-minute limit.
- Filing uses MOVE (RFC 6851) where offered, else COPY + UID EXPUNGE (UIDPLUS,
  RFC 4315), else COPY and a keyword flag that later searches exclude (a plain
  EXPUNGE could remove other clients' deleted mail).  Capabilities are read
  from the server after login, never assumed.
- Folder names in the configuration are logical paths written with "/"
  (`Routed/Security`, `已处理/安全`).  The server's own name is the personal
  namespace prefix (NAMESPACE, RFC 2342; without it the delimiter from
  `LIST "" ""`, RFC 3501 section 6.3.8) plus the segments joined by the server's
  hierarchy delimiter: `INBOX.Routed.Security` on Courier or Cyrus,
  `Routed.Security` on a stock Dovecot Maildir++.  imapclient applies modified
  UTF-7 (RFC 3501 section 5.1.3).  A logical name starting with a backslash
  (`\\Junk`) names the folder the server flags with that SPECIAL-USE attribute
  (RFC 6154).
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
from router.errors import ConfigError, LoginError, MailboxError
from router.oauth.sasl import imap_login

log = logging.getLogger(__name__)


class FolderError(ConfigError):
    """A configured folder cannot be used on this server: its name contains the
    server's delimiter, or the server refused to create or select it at start.

    A configuration problem, not a lost connection: retrying cannot fix it.
    """


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
        self.greeting = ""
        self.prefix = ""  # personal namespace prefix, e.g. "INBOX."
        self.delimiter = "/"  # the server's hierarchy delimiter
        self._folders: set[str] = set()
        self._special: dict[str, str] = {}

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
            self.greeting = _text(client.welcome)
            if s.security == "starttls":
                client.starttls(context)
            self.login(client)
        except IMAPClientError as exc:
            raise LoginError(f"IMAP login to {s.host}:{s.port} as {s.username} failed: {_first_line(exc)}") from None
        except (OSError, ssl.SSLError) as exc:
            raise MailboxError(f"cannot reach IMAP server {s.host}:{s.port}: {_first_line(exc)}") from None
        self.client = client
        self.capabilities = frozenset(c.decode().upper() if isinstance(c, bytes) else str(c).upper() for c in client.capabilities())
        self.prefix, self.delimiter = self._personal_namespace()
        self._special = {}
        self._folders = set()
        self.reselect()
        log.info("imap connected", extra={"host": s.host, "folder": s.folder, "uidvalidity": self.uidvalidity,
                                          "namespace": self.prefix, "delimiter": self.delimiter})

    def login(self, client: IMAPClient) -> None:
        """Authenticate the fresh session (the one place credentials are used)."""
        imap_login(client, self.settings)  # password, or XOAUTH2/OAUTHBEARER with [imap.oauth2]

    def _personal_namespace(self) -> tuple[str, str]:
        """(prefix, delimiter) of the personal namespace: RFC 2342, else `LIST "" ""`."""
        if self.has("NAMESPACE"):
            personal = self.c.namespace().personal
            if personal:
                prefix, delimiter = personal[0]
                return _text(prefix), _text(delimiter) if delimiter else ""
        # RFC 3501 6.3.8: LIST "" "" returns the hierarchy delimiter of the root.
        for _flags, delimiter, _name in self.c.list_folders("", ""):
            return "", _text(delimiter) if delimiter else ""
        return "", ""

    # -- folder names ---------------------------------------------------------
    def server_name(self, logical: str) -> str:
        """The server's name for a logical `a/b` folder (see the module docstring)."""
        if logical.startswith("\\"):
            return self._special_use(logical)
        segments = logical.split("/")
        if segments[0].upper() == "INBOX" and len(segments) == 1:
            return "INBOX"
        if any(not seg for seg in segments):
            raise FolderError(f"folder {logical!r}: empty segment (write folders as a/b, no leading, trailing or double '/')")
        if self.delimiter and self.delimiter != "/":
            bad = [seg for seg in segments if self.delimiter in seg]
            if bad:
                raise FolderError(f"folder {logical!r}: segment {bad[0]!r} contains {self.delimiter!r}, this server's "
                                  "hierarchy delimiter; rename it (use '/' for sub-folders)")
        joined = (self.delimiter or "/").join(segments)
        if self.prefix and (joined + (self.delimiter or "")).upper().startswith(self.prefix.upper()):
            return joined  # already written under the prefix, e.g. INBOX/Routed on an INBOX. server
        return self.prefix + joined

    def _special_use(self, attribute: str) -> str:
        """The folder carrying an RFC 6154 attribute such as \\Junk; FolderError if none."""
        key = attribute.lower()
        if key not in self._special:
            found = None
            try:
                for flags, _delim, name in self.c.list_folders():
                    if any(_text(f).lower() == key for f in flags):
                        found = name
                        break
            except IMAPClientAbortError:
                raise
            except IMAPClientError as exc:
                raise FolderError(f"folder {attribute!r}: the server refused LIST: {_first_line(exc)}") from None
            if found is None:
                raise FolderError(f"folder {attribute!r}: the server flags no folder {attribute} (RFC 6154 SPECIAL-USE); "
                                  "configure a folder name instead")
            self._special[key] = found
        return self._special[key]

    def check_folder(self, logical: str, create: bool = True) -> str:
        """Make sure a configured folder is usable at start; returns its server name.

        Raises FolderError naming the logical folder, the server name tried
        and the server's reply when the server refuses it.
        """
        name = self.server_name(logical)
        try:
            if create:
                self._ensure_folder(name)
            elif not self.c.folder_exists(name):
                raise FolderError(f"folder {logical!r} (server name {name!r}) does not exist")
        except IMAPClientAbortError:
            raise
        except IMAPClientError as exc:
            raise FolderError(f"folder {logical!r}: the server refused {name!r}: {_first_line(exc)}") from None
        return name

    def exists(self, logical: str) -> bool:
        return bool(self.c.folder_exists(self.server_name(logical)))

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
        name = self.server_name(self.settings.folder)
        try:
            info = self.c.select_folder(name)
        except IMAPClientAbortError:
            raise
        except IMAPClientError as exc:
            raise FolderError(f"folder {self.settings.folder!r}: the server refused to select {name!r}: {_first_line(exc)}") from None
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
        """Create the (logical) folder when missing; Refused when the server will not."""
        try:
            name = self.server_name(folder)
        except FolderError as exc:
            raise Refused(str(exc)) from None
        if name in self._folders:
            return
        try:
            self._ensure_folder(name)
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
        except FolderError as exc:
            raise Refused(str(exc)) from None
        except IMAPClientAbortError:
            raise
        except IMAPClientError as exc:
            raise Refused(f"{folder}: {_first_line(exc)}") from None

    def _file_many(self, uids: list[int], logical: str) -> str:
        self.ensure_folder(logical)
        folder = self.server_name(logical)
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
        name = self.server_name(folder)
        if not self.c.folder_exists(name):
            return False
        self.c.select_folder(name)
        return True

    def count(self, folder: str) -> int:
        """How many messages `folder` holds (STATUS, no SELECT); 0 if missing."""
        name = self.server_name(folder)
        if not self.c.folder_exists(name):
            return 0
        return int(self.c.folder_status(name, [b"MESSAGES"]).get(b"MESSAGES", 0))

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


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def _first_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]
