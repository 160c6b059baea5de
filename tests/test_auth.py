"""SPEC 6: a DMARC or DKIM failure in Authentication-Results -> authenticated: false."""

from __future__ import annotations


import pytest

import mailkit
from router import config, parse
from router.understand import auth

LIMITS = config.load(None, search=False).limits


def check(*results: str, name: str = "Authentication-Results") -> tuple[bool, str | None]:
    msg = mailkit.build([("From", "Alice Chen <alice.chen@mail.example>"), ("To", mailkit.SUPPORT), ("Subject", "Withdrawal pending"),
                         ("Message-ID", "<auth-1@mail.example>"), *((name, value) for value in results)],
                        "Hello, my withdrawal is pending.")
    mail = parse.parse(msg.as_bytes(), LIMITS)
    assert mail.problem is None
    return auth.check(mail)


def test_dmarc_fail() -> None:
    ok, reason = check("mx.exchange.example; spf=pass smtp.mailfrom=mail.example; dkim=pass header.d=mail.example; dmarc=fail (p=reject) header.from=mail.example")
    assert ok is False
    assert reason is not None and "dmarc=fail" in reason


def test_dkim_fail() -> None:
    ok, reason = check("mx.exchange.example; dkim=fail (bad signature) header.d=mail.example; dmarc=pass header.from=mail.example")
    assert ok is False
    assert reason is not None and "dkim=fail" in reason


def test_dkim_permerror() -> None:
    ok, reason = check("mx.exchange.example; dkim=permerror (no key for signature) header.d=mail.example")
    assert ok is False
    assert reason is not None and "dkim=permerror" in reason


def test_dmarc_permerror() -> None:
    assert check("mx.exchange.example; dmarc=permerror header.from=mail.example")[0] is False


@pytest.mark.parametrize("value", ["mx; DMARC=FAIL", "mx; dkim = fail", "mx;dkim=fail"])
def test_case_and_spacing(value: str) -> None:
    assert check(value)[0] is False


def test_pass() -> None:
    assert check("mx.exchange.example; spf=pass smtp.mailfrom=mail.example; dkim=pass header.d=mail.example; dmarc=pass header.from=mail.example") == (True, None)


@pytest.mark.parametrize(
    "value",
    [
        "mx.exchange.example; spf=fail smtp.mailfrom=mail.example; dkim=pass header.d=mail.example; dmarc=pass",
        "mx.exchange.example; dkim=none; dmarc=none",
        "mx.exchange.example; dkim=temperror; dmarc=temperror",
        "mx.exchange.example; dkim=neutral",
        "mx.exchange.example; none",
        "mx.exchange.example; arc=fail; dkim=pass; dmarc=pass",
        "mx.exchange.example; dmarc=failover-test",
    ],
)
def test_other_results_are_not_dmarc_or_dkim_failures(value: str) -> None:
    assert check(value) == (True, None)


@pytest.mark.parametrize(
    "value",
    [
        'mx.exchange.example; dkim=pass reason="earlier hop said dkim=fail" header.d=mail.example; dmarc=pass',
        "mx.exchange.example; dkim=pass (not dkim=fail as before) header.d=mail.example; dmarc=pass",
        "mx.exchange.example; dkim=pass header.b=xdkim=fail; dmarc=pass",
    ],
)
def test_fail_inside_free_text_or_a_value_is_not_a_result(value: str) -> None:
    assert check(value) == (True, None)


def test_absent_header() -> None:
    assert check() == (True, None)


def test_multiple_headers_one_failing() -> None:
    ok, reason = check(
        "mx.exchange.example; spf=pass; dkim=pass header.d=mail.example; dmarc=pass",
        "relay.mail.example; dkim=fail header.d=mail.example",
    )
    assert ok is False
    assert reason is not None and "dkim=fail" in reason


def test_multiple_headers_all_passing() -> None:
    assert check("mx.exchange.example; dkim=pass; dmarc=pass", "relay.mail.example; dkim=pass") == (True, None)


def test_two_signatures_one_failing() -> None:
    assert check("mx.exchange.example; dkim=pass header.d=mail.example; dkim=fail header.d=esp.example; dmarc=pass")[0] is False


def test_arc_authentication_results_failure_counts() -> None:
    assert check("i=1; mx.mail.example; dkim=fail; dmarc=fail", name="ARC-Authentication-Results")[0] is False
