"""OAuth2 logins against real servers: Dovecot 2.3 with `passdb oauth2`
validating bearer tokens at router.testing.oauth2's introspection endpoint
(RFC 7662), and aiosmtpd checking XOAUTH2 / OAUTHBEARER, with access tokens
that live a few seconds and refresh tokens that rotate on every use."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from daemonkit import PASSWORD_ENV, forwards, http_get, make_mail, metrics_section, stop_daemon, wait_until, write_config

from router import oauth
from router.act.outbox import Outbox, TempFail
from router.config import ImapSettings, SmtpSettings
from router.errors import LoginError
from router.mailbox import Mailbox
from router.oauth import health
from router.oauth.settings import parse
from router.oauth.tokens import TokenFile
from router.testing import Dovecot, SmtpSink, free_port
from router.testing.oauth2 import (
    TokenServer,
    XOAuth2Authenticator,
    drop_sessions,
    oauth_dovecot,
)


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    oauth.forget()
    health.reset()
    yield
    oauth.forget()
    health.reset()


class Sandbox:
    def __init__(self, tmp: Path, lifetime: float) -> None:
        self.tmp = tmp
        self.tokens = TokenServer(lifetime=lifetime).start()
        self.base = Path(tempfile.mkdtemp(prefix="dv", dir="/tmp"))
        os.chmod(self.base, 0o711)
        self.dovecot: Dovecot = oauth_dovecot(self.base, self.tokens)
        self.dovecot.start()
        self.auth = XOAuth2Authenticator(self.tokens)
        self.sink = SmtpSink(authenticator=self.auth)
        self.sink.start()
        self.token_file = tmp / "secrets" / "token.json"
        self.first_refresh = self.tokens.issue_refresh_token()
        TokenFile(self.token_file).save(self.first_refresh)

    def oauth_table(self, mechanism: str = "xoauth2") -> dict[str, Any]:
        return {"provider": "generic", "client_id": "router-test", "token_url": self.tokens.token_url,
                "token_file": str(self.token_file), "mechanism": mechanism}

    def config(self, **sections: dict[str, Any]) -> Path:
        extra = "".join(
            f"\n[{server}.oauth2]\n" + "".join(f'{k} = "{v}"\n' for k, v in self.oauth_table().items())
            for server in ("imap", "smtp"))
        return write_config(self.tmp, self.dovecot, self.sink, extra=extra,
                            smtp={"username": self.dovecot.user, "retry_base_seconds": 0.2, "retry_max_seconds": 2, "timeout": 10},
                            **sections)

    def imap(self, mechanism: str = "xoauth2") -> ImapSettings:
        return ImapSettings(host=self.dovecot.host, port=self.dovecot.port, security="none", username=self.dovecot.user,
                            password_file=None, password_env="", timeout=10,
                            oauth2=parse(self.oauth_table(mechanism), "imap.oauth2", self.tmp))

    def smtp(self, mechanism: str = "xoauth2") -> SmtpSettings:
        return SmtpSettings(host=self.sink.host, port=self.sink.port, security="none", username=self.dovecot.user,
                            password_file=None, password_env="", timeout=10, from_address="support@exchange.example",
                            oauth2=parse(self.oauth_table(mechanism), "smtp.oauth2", self.tmp))

    def close(self) -> None:
        self.sink.stop()
        self.dovecot.stop()
        self.tokens.stop()
        import shutil

        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    box = Sandbox(tmp_path, lifetime=4)
    yield box
    box.close()


def _router(cfg: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "router", "--config", str(cfg), "--log-level", "DEBUG", "--log-format", "json", *args]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop(PASSWORD_ENV, None)  # no password anywhere: only tokens can log in
    return env


def _leaked(text: str, tokens: list[str]) -> list[str]:
    """Tokens found in `text`, plain or inside a base64 SASL blob."""
    found = [t for t in tokens if t in text]
    for word in text.replace('"', " ").replace("'", " ").split():
        try:
            decoded = base64.b64decode(word + "=" * (-len(word) % 4), validate=False).decode("utf-8", "ignore")
        except ValueError:
            continue
        found += [t for t in tokens if t in decoded]
    return found


def test_daemon_keeps_processing_across_token_lifetimes_then_survives_a_revoked_grant(sandbox: Sandbox) -> None:
    port = free_port()
    cfg = sandbox.config(metrics=metrics_section(port),
                         imap={"poll_interval_seconds": 1, "timeout": 10})
    log = sandbox.tmp / "daemon.log"
    with log.open("ab") as fh:
        proc = subprocess.Popen(_router(cfg, "run"), env=_env(), stdout=fh, stderr=fh)
    lifetime = sandbox.tokens.lifetime
    try:
        started = time.monotonic()
        for i in range(4):  # four messages, one per token lifetime
            sandbox.dovecot.append("INBOX", make_mail(i, subject=f"Withdrawal Failed - UID 1234567{i}"))
            assert wait_until(lambda n=i + 1: len(forwards(sandbox.sink)) == n, 30), log.read_text()[-3000:]
            time.sleep(lifetime + 0.5)  # the session's token has expired by now...
            drop_sessions(sandbox.dovecot)  # ...and the server drops it, as Exchange does
        assert time.monotonic() - started > 3 * lifetime
        assert wait_until(lambda: sandbox.dovecot.uids("INBOX") == [], 20)
        fw = forwards(sandbox.sink)
        assert len(fw) == 4 and all(len(v) == 1 for v in fw.values())  # nothing lost, nothing twice
        assert sandbox.tokens.access_tokens_issued() >= 4
        # the rotated refresh token was persisted, privately
        saved = TokenFile(sandbox.token_file).refresh_token()
        assert saved != sandbox.first_refresh and saved in sandbox.tokens.live_refresh_tokens()
        assert stat.S_IMODE(sandbox.token_file.stat().st_mode) == 0o600
        assert len(sandbox.auth.accepted) >= 1 and sandbox.auth.rejected == 0  # SMTP logged in with XOAUTH2
        text = http_get(f"http://127.0.0.1:{port}/metrics")[1]
        assert 'router_oauth_token_expires_in_seconds{server="imap"}' in text
        assert http_get(f"http://127.0.0.1:{port}/healthz")[0] == 200

        # An admin revokes the grant: the daemon stays up, backs off, reports why.
        sandbox.tokens.revoke_all()
        drop_sessions(sandbox.dovecot)
        # unhealthy at once while it reconnects, then with the login's reason
        assert wait_until(lambda: "imap login failing" in http_get(f"http://127.0.0.1:{port}/healthz")[1], 30), log.read_text()[-3000:]
        status, body = http_get(f"http://127.0.0.1:{port}/healthz")
        assert status == 503
        assert "imap login failing" in body and "grant refused" in body and "invalid_grant" in body
        requests_before = len(sandbox.tokens.grants.requests)
        time.sleep(6)
        assert proc.poll() is None  # no crash (and so no crash loop under systemd)
        assert len(sandbox.tokens.grants.requests) - requests_before <= 5  # backoff, not a hot loop
        _, metrics_text = http_get(f"http://127.0.0.1:{port}/metrics")
        assert 'router_login_failures_total{reason="grant_refused",server="imap"}' in metrics_text
        st = subprocess.run(_router(cfg, "status"), env=_env(), capture_output=True, text=True, timeout=60, check=False)
        assert "imap login failing" in st.stdout and "run `router login`" in st.stdout, st.stdout + st.stderr
        assert stop_daemon(proc, timeout=15) == 0  # a clean exit on SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert "access token refreshed" in text  # the DEBUG log was captured
    assert _leaked(text, sandbox.tokens.issued()) == []


def test_run_once_with_a_revoked_grant_ends_with_exit_77_and_one_line(sandbox: Sandbox) -> None:
    cfg = sandbox.config()
    sandbox.dovecot.append("INBOX", make_mail(1))
    sandbox.tokens.revoke_all()
    started = time.monotonic()
    result = subprocess.run(_router(cfg, "run", "--once"), env=_env(), capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 77, result.stderr[-2000:]
    assert time.monotonic() - started < 60
    errors = [line for line in result.stderr.splitlines() if line.startswith("router: error:")]
    assert len(errors) == 1 and "grant refused (invalid_grant" in errors[0] and "router login" in errors[0]
    assert "Traceback" not in result.stderr
    assert sandbox.dovecot.uids("INBOX") != []  # nothing was lost: the mail waits
    assert _leaked(result.stderr, sandbox.tokens.issued()) == []


@pytest.mark.parametrize("mechanism", ["xoauth2", "oauthbearer"])
def test_imap_login_with_a_bearer_token_and_one_forced_refresh(tmp_path: Path, mechanism: str) -> None:
    box = Sandbox(tmp_path, lifetime=30)
    try:
        mb = Mailbox(box.imap(mechanism))
        mb.connect()
        assert mb.client is not None and mb.uidvalidity > 0
        mb.close()
        box.tokens.forget_access_tokens()  # the server stops accepting the token we hold
        mb = Mailbox(box.imap(mechanism))
        mb.connect()  # rejected once, refreshed, accepted
        mb.close()
        assert box.tokens.access_tokens_issued() == 2
        assert "server_rejected" not in str(health.problem())
    finally:
        box.close()


def test_imap_login_that_keeps_failing_names_the_server_not_the_token(sandbox: Sandbox) -> None:
    mb = Mailbox(sandbox.imap())
    mb.connect()
    mb.close()
    sandbox.tokens.revoke_all()
    with pytest.raises(LoginError) as err:
        Mailbox(sandbox.imap()).connect()  # the cached token is refused, the forced refresh finds the grant gone
    assert err.value.exit_code == 77  # type: ignore[attr-defined]
    assert _leaked(str(err.value), sandbox.tokens.issued()) == []


@pytest.mark.parametrize("mechanism", ["xoauth2", "oauthbearer"])
def test_smtp_xoauth2_against_aiosmtpd(sandbox: Sandbox, mechanism: str) -> None:
    outbox = Outbox(sandbox.smtp(mechanism))
    msg = EmailMessage()
    msg["Subject"] = "forward"
    msg["From"] = "support@exchange.example"
    msg.set_content("body")
    outbox.send(msg, "support@exchange.example", ["security-team@exchange.example"])
    outbox.close()
    sandbox.tokens.forget_access_tokens()  # refused once, then a fresh token
    outbox.send(msg, "support@exchange.example", ["security-team@exchange.example"])
    outbox.close()
    assert len(sandbox.sink.messages) == 2 and sandbox.auth.accepted == [sandbox.dovecot.user] * 2
    assert sandbox.auth.rejected == 1
    sandbox.tokens.revoke_all()
    with pytest.raises(TempFail) as err:  # the mail waits in the mailbox, it is not dead-lettered
        outbox.send(msg, "support@exchange.example", ["security-team@exchange.example"])
    assert "grant refused" in str(err.value) and _leaked(str(err.value), sandbox.tokens.issued()) == []
    assert len(sandbox.sink.messages) == 2
