"""PIPELINING (RFC 2920) in `Outbox.send_bytes`, against a real aiosmtpd that offers it.

aiosmtpd reads commands one line at a time, so it answers pipelined
commands correctly, but it does not say PIPELINING in its EHLO answer; the
sink here adds the keyword (aiosmtpd's `handle_EHLO` hook).  Every test
checks what the server really got and said: the commands arrived together,
the message arrived once and unchanged, and a refusal at MAIL, RCPT or the
end of data is told apart as temporary or permanent exactly as without
pipelining, with the connection still usable after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from router.act.outbox import Outbox, PermFail, TempFail
from router.config import SmtpSettings
from router.testing import SmtpSink

FROM = "support@exchange.example"
TEAM = "team@exchange.example"
WIRE = (b"From: support@exchange.example\r\nTo: team@exchange.example\r\nSubject: pipelined\r\n"
        b"Message-ID: <p1@exchange.example>\r\n\r\nfirst line\r\n.a line starting with a dot\r\nlast line\r\n")


class _Seen:
    def __init__(self) -> None:
        self.ehlo = 0
        self.pipelined: list[bool] = []  # per MAIL: were RCPT and DATA already waiting behind it?


def _offer_pipelining(sink: SmtpSink, seen: _Seen, refuse_mail: str | None = None) -> None:
    handler: Any = sink._controller.handler  # the sink's aiosmtpd handler; hooks are read per connection

    async def handle_EHLO(server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]) -> list[str]:
        seen.ehlo += 1
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_MAIL(server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        waiting = bytes(server._reader._buffer)  # what the client sent after MAIL, not read yet
        seen.pipelined.append(b"RCPT TO:" in waiting and b"DATA\r\n" in waiting)
        if refuse_mail:
            return refuse_mail
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    handler.handle_EHLO = handle_EHLO
    handler.handle_MAIL = handle_MAIL


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        yield s


def _outbox(sink: SmtpSink) -> Outbox:
    return Outbox(SmtpSettings(host=sink.host, port=sink.port, security="none", username="", password_file=None,
                               password_env="", from_address=FROM, timeout=10.0, retry_base_seconds=1.0,
                               retry_max_seconds=2.0))


def test_pipelined_sends_arrive_once_and_unchanged(sink: SmtpSink) -> None:
    seen = _Seen()
    _offer_pipelining(sink, seen)
    outbox = _outbox(sink)
    try:
        outbox.send_bytes(WIRE, FROM, [TEAM])
        outbox.send_bytes(WIRE.replace(b"<p1@", b"<p2@"), "", [TEAM])  # the null sender of an acknowledgement
    finally:
        outbox.close()
    got = sink.messages
    assert [m.data for m in got] == [WIRE, WIRE.replace(b"<p1@", b"<p2@")]  # dot-stuffing undone by the server
    assert [(m.mail_from, m.rcpt_tos) for m in got] == [(FROM, (TEAM,)), ("<>", (TEAM,))]
    assert seen.ehlo == 1 and seen.pipelined == [True, True]  # one connection, both pipelined


@pytest.mark.parametrize(("code", "stage", "fail"), [(550, "RCPT", PermFail), (451, "RCPT", TempFail),
                                                     (554, "DATA", PermFail), (452, "DATA", TempFail),
                                                     (421, "RCPT", TempFail), (421, "DATA", TempFail)])
def test_refusals_are_judged_as_without_pipelining(sink: SmtpSink, code: int, stage: str, fail: type[Exception]) -> None:
    seen = _Seen()
    _offer_pipelining(sink, seen)
    outbox = _outbox(sink)
    try:
        sink.fail_with(code, "refused for the test", count=1, stage=stage)  # type: ignore[arg-type]
        with pytest.raises(fail, match=str(code)):
            outbox.send_bytes(WIRE, FROM, [TEAM])
        assert sink.messages == []
        outbox.send_bytes(WIRE, FROM, [TEAM])  # the next send goes through (a 421 closed: a new connection)
    finally:
        outbox.close()
    assert [m.data for m in sink.messages] == [WIRE]
    assert seen.pipelined and all(seen.pipelined)
    assert seen.ehlo == (2 if code == 421 else 1)


@pytest.mark.parametrize(("reply", "fail"), [("550 5.1.0 sender refused", PermFail), ("451 4.3.0 try later", TempFail)])
def test_a_refused_sender_sends_nothing(sink: SmtpSink, reply: str, fail: type[Exception]) -> None:
    seen = _Seen()
    _offer_pipelining(sink, seen, refuse_mail=reply)
    outbox = _outbox(sink)
    try:
        with pytest.raises(fail, match=reply[:3]):
            outbox.send_bytes(WIRE, FROM, [TEAM])
    finally:
        outbox.close()
    assert sink.messages == [] and seen.pipelined == [True]


def test_without_the_keyword_nothing_is_pipelined(sink: SmtpSink) -> None:
    outbox = _outbox(sink)
    try:
        outbox.send_bytes(WIRE, FROM, [TEAM])
    finally:
        outbox.close()
    assert [m.data for m in sink.messages] == [WIRE]
