"""A real SMTP server (aiosmtpd) on loopback that records what it is sent."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal

from router.testing.procs import LOOPBACK, Lifecycle

log = logging.getLogger(__name__)


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

    class _PortZeroController(Controller):
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


class SmtpSink(Lifecycle):
    """A real SMTP server on 127.0.0.1 that keeps what it is sent.

    ``fail_with`` injects refusals so retry/backoff and bounce handling are
    tested against real SMTP replies rather than mocked exceptions.
    ``with SmtpSink() as sink:`` starts and stops it; :meth:`restart` comes
    back on the same port.
    """

    def __init__(self, hostname: str = LOOPBACK, port: int = 0, *, authenticator: Any = None) -> None:
        """``authenticator`` (aiosmtpd's, see router.testing.oauth2) makes AUTH
        required; its ``auth_<MECHANISM>`` methods add SASL mechanisms."""
        self._authenticator = authenticator
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

    def start(self) -> None:
        if self._controller is not None:
            raise RuntimeError("SmtpSink already running")
        handler = _SinkHandler(self)
        auth: dict[str, Any] = {}
        if self._authenticator is not None:
            for name in dir(self._authenticator):
                if name.startswith("auth_") or name == "handle_MAIL":  # aiosmtpd looks for these on the handler
                    setattr(handler, name, getattr(self._authenticator, name))
            auth = {"authenticator": self._authenticator, "auth_require_tls": False}
        controller = _make_controller_class()(
            handler,
            **auth,
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
