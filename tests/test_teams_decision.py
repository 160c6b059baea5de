"""The issue 13 checks wired into the decision, the case clock, the forward and status (unit level).

End-to-end proof against Dovecot and aiosmtpd is in test_teams_daemon.py.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

import mailkit
from router import config, parse, pipeline, status
from router.act.forward import ESCALATION_HEADER, build_forward
from router.cases import join_case
from router.config import Settings, SlaSettings
from router.records import Decision, ParsedMail
from router.state import StoreLocation, open_store
from router.testing.postgres import Postgres

ADDR = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # EIP-55 test vector
TX = "0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060"
THEFT = (f"Someone is withdrawing my funds right now! 4,820 USDT went to {ADDR} on Ethereum.\n"
         f"TxID: {TX}\nPlease freeze my account.")
LURE = """您好，我收到下面这封邮件，这是你们发的吗？是真的吗？

---------- Forwarded message ---------
From: Exchange Support <security@exchange-support.top>
Date: Mon, 23 Nov 2026 10:00
Subject: Your account will be frozen
To: <lilei@mail.example>

Dear user, your account will be frozen. Verify now at https://exchange-support.top/login
Your verification code: 482913
Your withdrawal of 50,000 USDT is pending.
"""


@pytest.fixture(scope="module")
def settings() -> Settings:
    return config.load(None, search=False)


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> StoreLocation:
    """Where the case clock is kept: the SLA clock behaves the same on both backends."""
    if request.param == "sqlite":
        return StoreLocation(tmp_path / "s.sqlite3")
    server: Postgres = request.getfixturevalue("postgres_server")
    url: str = request.getfixturevalue("postgres_url")
    return StoreLocation(tmp_path / "unused.sqlite3", url=url, password_file=server.password_file)


def decide(settings: Settings, subject: str, body: str, mid: str = "<u1@mail.example>",
           **headers: str) -> tuple[ParsedMail, Decision]:
    raw = mailkit.mail(subject, body, sender="lilei@mail.example", message_id=mid, extra=headers)
    return pipeline.decide_mail(parse.parse(raw, settings.limits), settings, None)


def test_theft_mail_gets_entities_urgent_priority_and_reasons(settings: Settings) -> None:
    _mail, d = decide(settings, "账户被盗-UID12345678", THEFT)
    assert d.route == "security" and d.priority == "urgent"
    assert d.entities["uid"] == ["12345678"]
    assert d.entities["address"] == [{"value": ADDR, "chain": "ethereum"}]
    assert d.entities["txid"] == [{"value": TX, "chain": "ethereum"}]
    assert d.entities["amount"] == [{"value": "4820", "currency": "USDT"}]
    assert any("theft in progress" in r for r in d.reasons), d.reasons
    assert d.phishing_report is None and not d.chaser and not d.escalated


def test_new_record_fields_round_trip(settings: Settings) -> None:
    _mail, d = decide(settings, "Is this email real?", LURE)
    rec = d.to_record()
    for key in ("entities", "priority", "phishing_report", "chaser", "lure_secrets", "escalated"):
        assert key in rec, key
    again = Decision.from_record(json.loads(json.dumps(rec)))
    assert again.to_record() == rec
    assert again == dataclasses.replace(d, subject=again.subject, model=again.model, sender=again.sender,
                                        evidence=again.evidence)


def test_old_record_without_the_new_fields_still_reads(settings: Settings) -> None:
    _mail, d = decide(settings, "Withdrawal Failed - UID 12345678", "My withdrawal failed.")
    rec = d.to_record()
    for key in ("entities", "priority", "phishing_report", "chaser", "lure_secrets", "escalated"):
        del rec[key]
    old = Decision.from_record(rec)
    assert old.priority is None and old.entities == {} and old.phishing_report is None and not old.escalated


def test_phishing_report_goes_to_security_and_the_lure_code_is_not_the_customers_secret(settings: Settings) -> None:
    _mail, d = decide(settings, "这是你们发的邮件吗", LURE)
    assert d.route == "security" and d.category == "security"
    assert d.phishing_report is not None and "exchange-support.top" in d.phishing_report["domains"]
    assert d.secrets == (), d.secrets  # the lure's code is not the customer's secret
    assert d.lure_secrets == ("otp",)
    assert d.folder != settings.folders["restricted"]  # not filed as a mail with the customer's secrets
    assert d.priority == "high"  # a report is high; the lure's 50,000 USDT does not count
    assert not any("50000" in r for r in d.reasons), d.reasons
    assert "482913" not in json.dumps(d.to_record())


def test_the_same_code_in_the_customers_own_words_is_their_secret(settings: Settings) -> None:
    _mail, d = decide(settings, "Account Compromised - UID 12345678", "I gave them my verification code: 482913 and now my funds are gone.")
    assert "otp" in d.secrets and d.lure_secrets == ()


def test_clicked_lure_is_urgent(settings: Settings) -> None:
    body = LURE.replace("这是你们发的吗？是真的吗？", "这是你们发的吗？我已经点了链接并输入了验证码。")
    _mail, d = decide(settings, "这是你们发的邮件吗", body)
    assert d.phishing_report is not None and d.phishing_report["clicked"] is True
    assert d.priority == "urgent"


def test_compromise_findings_give_their_reasons(settings: Settings) -> None:
    _mail, d = decide(settings, "Help", "Someone logged into my account from Russia, it was not me. My 2FA was changed without my permission.")
    assert d.category == "security"
    assert sum("'" in r and ("login" in r or "changed" in r) for r in d.reasons) >= 1, d.reasons


def test_chaser_words_are_recorded(settings: Settings) -> None:
    _mail, d = decide(settings, "Withdrawal Failed - UID 12345678", "This is the third time I am asking: still no reply!")
    assert d.chaser
    assert any(r.startswith("chaser:") for r in d.reasons)


def _sla(settings: Settings, **kw: float | str) -> Settings:
    base = dict(hours={"low": 48.0, "normal": 48.0, "high": 24.0, "urgent": 24.0}, security_urgent_hours=4.0,
                near_share=0.75, escalation_share=0.5, escalation_address="lead@exchange.example")
    base.update(kw)
    return dataclasses.replace(settings, sla=SlaSettings(**base))  # type: ignore[arg-type]


def test_clock_starts_and_a_chaser_escalates_once_past_the_share(settings: Settings, location: StoreLocation) -> None:
    s = _sla(settings)
    store = open_store(location)
    t0 = 1_800_000_000.0
    mail1, d1 = decide(s, "账户被盗-UID12345678", THEFT, "<c1@mail.example>")
    d1 = join_case(store, d1, mail1, s.routing(), s.sla, now=t0)
    case = store.case(d1.case_id)
    assert case is not None and case.priority == "urgent" and case.received == t0
    assert case.due == t0 + 4 * 3600  # urgent security: 4 h
    assert not d1.escalated

    def follow(mid: str, at: float) -> Decision:
        m, d = decide(s, f"Re: [Case #{d1.case_id}] 账户被盗-UID12345678", "Any update? Still no reply.", mid)
        return join_case(store, d, m, s.routing(), s.sla, now=at)

    early = follow("<c2@mail.example>", t0 + 3600)  # 25 % of the window
    assert early.case_id == d1.case_id and not early.escalated
    late = follow("<c3@mail.example>", t0 + 2.5 * 3600)  # 62 %: past the 50 % share
    assert late.escalated and any("escalated to lead@exchange.example" in r for r in late.reasons)
    again = follow("<c4@mail.example>", t0 + 3.5 * 3600)
    assert not again.escalated  # never twice for the same case
    store.close()


def test_status_lists_cases_near_and_past_due(settings: Settings, location: StoreLocation) -> None:
    s = dataclasses.replace(_sla(settings), state_path=location.path, state_location=location)
    store = open_store(location)
    mail1, d1 = decide(s, "账户被盗-UID12345678", THEFT, "<p1@mail.example>")
    join_case(store, d1, mail1, s.routing(), s.sla, now=1.0)  # long past due
    mail2, d2 = decide(s, "Withdrawal Failed - UID 12345678", "My withdrawal failed.", "<p2@mail.example>")
    join_case(store, d2, mail2, s.routing(), s.sla)  # just received: on time
    store.close()
    data = status.collect(s)
    assert data["sla"]["counts"] == {"on_time": 1, "near": 0, "past_due": 1}
    assert [c["case_id"] for c in data["sla"]["cases"]] == [d1.case_id]
    assert f"case #{d1.case_id} past due" in status.format_status(data)


def test_forward_carries_entities_block_links_urgent_tag_and_priority_headers(settings: Settings) -> None:
    mail, d = decide(settings, "账户被盗-UID12345678", THEFT)
    msg = build_forward(b"", mail, d, "security-team@exchange.example", settings)
    assert str(msg["Subject"]).startswith("[URGENT][SECURITY]")
    assert msg["Importance"] == "high" and msg["X-Priority"].startswith("1")
    assert json.loads(str(msg["X-Router-Entities"]).replace("\n", "").replace("\r", "")) == d.to_record()["entities"]
    assert b'\r\nX-Router-Entities: {"uid":["12345678"]' in bytes(msg)  # one plain JSON line on the wire, no encoded words
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert text.startswith("What to act on:\n")
    assert f"https://etherscan.io/tx/{TX}" in text and f"https://etherscan.io/address/{ADDR}" in text
    assert "Amount: 4820 USDT" in text


def test_escalation_forward_is_marked(settings: Settings) -> None:
    mail, d = decide(settings, "账户被盗-UID12345678", THEFT)
    msg = build_forward(b"", mail, d, "lead@exchange.example", settings, purpose="escalation")
    assert str(msg["Subject"]).startswith("[ESCALATED][URGENT]")
    assert msg[ESCALATION_HEADER]
    assert "escalation" in str(msg["Message-ID"])


def test_lure_codes_are_redacted_in_the_teams_copy(settings: Settings) -> None:
    raw = mailkit.mail("这是你们发的邮件吗", LURE, sender="lilei@mail.example", message_id="<r1@mail.example>")
    mail, d = pipeline.decide_mail(parse.parse(raw, settings.limits), settings, None)
    msg = build_forward(raw, mail, d, "security-team@exchange.example", settings)
    assert msg["X-Router-Secrets"] == "none" and msg["X-Router-Phishing"] == "report"
    assert b"482913" not in bytes(msg)


def test_the_cases_first_message_decided_again_is_not_a_chaser(settings: Settings, location: StoreLocation) -> None:
    s = _sla(settings)
    store = open_store(location)
    t0 = 1_800_000_000.0
    mail1, d1 = decide(s, "账户被盗-UID12345678", THEFT, "<q1@mail.example>")
    join_case(store, d1, mail1, s.routing(), s.sla, now=t0)
    mail1, d1 = decide(s, "账户被盗-UID12345678", THEFT, "<q1@mail.example>")  # a requeue, 3 h later
    again = join_case(store, d1, mail1, s.routing(), s.sla, now=t0 + 3 * 3600)
    assert not again.escalated
    case = store.case(d1.case_id)
    assert case is not None and case.received == t0 and case.escalated is None
    store.close()


EVAL = Path(__file__).resolve().parents[1] / "evaluation" / "teams"


def _eval_mails() -> list[tuple[str, dict, bytes]]:  # type: ignore[type-arg]
    out = []
    for line in (EVAL / "mails.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if "eml" in row:
            raw = (EVAL / row["eml"]).read_bytes()
        else:
            raw = mailkit.mail(row["subject"], row["text"], sender="customer@mail.example", message_id=f"<{row['id']}@mail.example>")
        out.append((row["id"], row["expected"], raw))
    return out


def test_every_phishing_report_of_the_evaluation_set_goes_to_security_without_lure_secrets(settings: Settings) -> None:
    """The evaluation set through the whole pipeline: reports are routed, lure codes are not the customer's,
    priorities and chasers as labelled."""
    reports = 0
    for mid, expected, raw in _eval_mails():
        mail, d = pipeline.decide_mail(parse.parse(raw, settings.limits), settings, None)
        assert d.priority == expected["priority"], (mid, d.priority, d.reasons)
        assert d.chaser == expected["chaser"], (mid, d.reasons)
        if expected["phishing"] is None:
            continue
        reports += 1
        assert d.phishing_report is not None, mid
        assert d.route == "security", (mid, d.route, d.reasons)
        assert not set(d.secrets) & set(d.lure_secrets), (mid, d.secrets, d.lure_secrets)
        assert d.priority == expected["priority"], (mid, d.priority, d.reasons)
    assert reports >= 10
