"""Shared fixtures: real Dovecot, aiosmtpd and PostgreSQL servers on loopback.

A test that asks for one of these servers and cannot get it ERRORS (the
fixture raises RuntimeError with Dovecot's log tail); it is never skipped,
because a skipped integration test reads as a passing one in CI summaries.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from router.testing import Dovecot, SmtpSink
from router.testing.courier import Courier
from router.testing.cyrus import Cyrus
from router.testing.postgres import Postgres


def _servers(cls: Callable[..., Any], prefix: str, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Start servers of one family with custom options; all are stopped at teardown.

    Each instance gets a fresh short directory under /tmp rather than
    tmp_path itself: pytest's tmp_path is too deep for unix sockets and,
    when running as root, sits in a 0700 directory that the unprivileged
    mail account the servers insist on cannot traverse. Logs are copied
    into tmp_path so they survive for post-mortems.
    """
    started: list[tuple[Any, Path]] = []

    def make(**kwargs: Any) -> Any:
        base = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
        server = cls(base, **kwargs)
        started.append((server, base))
        server.start()
        return server

    yield make

    errors: list[BaseException] = []
    for index, (server, base) in enumerate(started):
        try:
            server.stop()
        except BaseException as exc:  # keep stopping the others
            errors.append(exc)
        if server.log_file.exists():
            shutil.copy(server.log_file, tmp_path / f"{cls.__name__.lower()}-{index}.log")
        shutil.rmtree(base, ignore_errors=True)
    if errors:
        raise errors[0]


@pytest.fixture
def dovecot_factory(tmp_path: Path) -> Iterator[Callable[..., Dovecot]]:
    """Dovecot instances with custom options (layouts, capabilities, auth)."""
    yield from _servers(Dovecot, "dv", tmp_path)


@pytest.fixture
def cyrus_factory(tmp_path: Path) -> Iterator[Callable[..., Cyrus]]:
    """Cyrus IMAP (Debian's build, unpacked by scripts/setup.sh); not installed is an error naming it, never a skip."""
    yield from _servers(Cyrus, "cy", tmp_path)


@pytest.fixture
def courier_factory(tmp_path: Path) -> Iterator[Callable[..., Courier]]:
    """Courier-IMAP (Debian's build in a private mount namespace)."""
    yield from _servers(Courier, "co", tmp_path)


@pytest.fixture
def dovecot(dovecot_factory: Callable[..., Dovecot]) -> Dovecot:
    """A running plain-text Dovecot (MOVE, IDLE, UIDPLUS advertised)."""
    return dovecot_factory()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A running SMTP sink recording every accepted message."""
    with SmtpSink() as sink:
        yield sink


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    """One real PostgreSQL for the session (initdb + postgres on loopback); each test takes a fresh database."""
    with Postgres() as server:
        yield server


_DATABASES = iter(range(1, 1_000_000))


@pytest.fixture
def postgres_url(postgres_server: Postgres) -> str:
    """A fresh, empty database on the session's PostgreSQL; its password is in `postgres_server.password_file`."""
    return postgres_server.create_database(f"t{next(_DATABASES)}")
