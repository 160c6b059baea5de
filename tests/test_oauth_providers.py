"""OAuth2 token sources at their HTTP seam: msal, google-auth and the generic
RFC 6749 client talk real HTTP to router.testing.oauth2.TokenServer on
loopback (RedirectSession maps the providers' hosts there; anything else is
refused), so no test reaches the outside network."""

from __future__ import annotations

import io
import json
import logging
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from router import config, oauth
from router.commands import login as login_cmd
from router.errors import ConfigError
from router.oauth import health
from router.oauth.errors import EX_NOPERM, GrantError, TokenUnavailable
from router.oauth.settings import OAuth2Settings, parse
from router.oauth.tokens import TokenFile
from router.testing.oauth2 import (
    GOOGLE_HOST,
    MICROSOFT_HOST,
    RedirectSession,
    TokenServer,
)

TENANT = "contoso.onmicrosoft.com"


@pytest.fixture
def server() -> Any:
    with TokenServer(lifetime=3600) as s:
        yield s


@pytest.fixture(autouse=True)
def _fresh() -> Any:
    oauth.forget()
    health.reset()
    yield
    oauth.forget()
    health.reset()


def settings(tmp_path: Path, **keys: Any) -> OAuth2Settings:
    parsed = parse(keys, "imap.oauth2", tmp_path)
    assert parsed is not None
    return parsed


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- microsoft (msal) ---------------------------------------------------------------


def test_microsoft_app_only_secret_uses_the_exchange_scope_and_forces_a_new_token(tmp_path: Path, server: TokenServer,
                                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    server.add_client("app-id", "s3cret-value")
    monkeypatch.setenv("ROUTER_TEST_SECRET", "s3cret-value")
    s = settings(tmp_path, provider="microsoft", client_id="app-id", tenant=TENANT, client_secret_env="ROUTER_TEST_SECRET")
    assert s.grant == "client_credentials" and s.scopes == ("https://outlook.office365.com/.default",)
    http = RedirectSession(server)
    source = oauth.build(s, http)
    first = source.token()
    assert server.is_active(first)
    assert source.token() == first  # cached while valid
    forced = source.token(force=True)
    assert forced != first and server.is_active(forced)
    assert all(MICROSOFT_HOST in u for u in http.urls)
    assert any(u.endswith(f"/{TENANT}/oauth2/v2.0/token") for u in http.urls)
    requests_ = [r for r in server.grants.requests if r.get("issued")]
    assert [r["grant_type"] for r in requests_] == ["client_credentials", "client_credentials"]
    assert "https://outlook.office365.com/.default" in requests_[0]["scope"]
    assert 3500 < source.expires_in() <= 3600


def test_microsoft_wrong_secret_is_a_grant_error_without_the_secret(tmp_path: Path, server: TokenServer,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    server.add_client("app-id", "right-secret")
    monkeypatch.setenv("ROUTER_TEST_SECRET", "wrong-secret-XYZ")
    s = settings(tmp_path, provider="microsoft", client_id="app-id", tenant=TENANT, client_secret_env="ROUTER_TEST_SECRET")
    with pytest.raises(GrantError) as err:
        oauth.build(s, RedirectSession(server)).token()
    assert "invalid_client" in str(err.value) and "wrong-secret-XYZ" not in str(err.value)
    assert err.value.exit_code == EX_NOPERM
    assert "\n" not in str(err.value)


def test_microsoft_delegated_refresh_token_rotates_into_the_token_file(tmp_path: Path, server: TokenServer) -> None:
    server.add_client("public-app")
    first = server.issue_refresh_token()
    TokenFile(tmp_path / "ms.json").save(first)
    s = settings(tmp_path, provider="microsoft", client_id="public-app", tenant=TENANT, token_file="ms.json")
    assert s.grant == "refresh_token"
    source = oauth.build(s, RedirectSession(server))
    assert server.is_active(source.token())
    saved = TokenFile(tmp_path / "ms.json").refresh_token()
    assert saved != first and saved in server.live_refresh_tokens()
    assert mode(tmp_path / "ms.json") == 0o600


def test_microsoft_device_code_login_saves_the_refresh_token(tmp_path: Path, server: TokenServer) -> None:
    server.add_client("public-app")
    s = settings(tmp_path, provider="microsoft", client_id="public-app", tenant=TENANT, token_file="var/ms.json")
    out = io.StringIO()
    approver = threading.Timer(1.5, server.approve_device)
    approver.start()
    try:
        done = login_cmd.login(s, http=RedirectSession(server), out=out)
    finally:
        approver.cancel()
    assert "ABCD-EFGH" in out.getvalue()  # the device code message was shown
    saved = TokenFile(tmp_path / "var" / "ms.json").refresh_token()
    assert saved in server.live_refresh_tokens() and saved not in out.getvalue() and saved not in done
    assert mode(tmp_path / "var" / "ms.json") == 0o600


# -- google (google-auth) -------------------------------------------------------------


def _service_account_file(path: Path) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    path.write_text(json.dumps({
        "type": "service_account", "project_id": "p", "private_key_id": "k1", "private_key": pem,
        "client_email": "router@p.iam.gserviceaccount.com", "client_id": "123",
        "token_uri": f"https://{GOOGLE_HOST}/token",
    }))
    return path


def test_google_service_account_acts_as_the_mailbox_with_the_mail_scope(tmp_path: Path, server: TokenServer) -> None:
    sa = _service_account_file(tmp_path / "sa.json")
    s = settings(tmp_path, provider="google", service_account_file=str(sa), subject="support@exchange.example")
    assert s.grant == "service_account" and s.scopes == ("https://mail.google.com/",)
    http = RedirectSession(server)
    token = oauth.build(s, http).token()
    assert server.introspect(token)["username"] == "support@exchange.example"
    jwt = [r for r in server.grants.requests if r["grant_type"].endswith("jwt-bearer")]
    assert jwt and jwt[0]["sub"] == "support@exchange.example" and jwt[0]["scope"] == "https://mail.google.com/"
    assert all(GOOGLE_HOST in u for u in http.urls)


def test_google_installed_app_refresh_token_is_redeemed_and_rotation_saved(tmp_path: Path, server: TokenServer) -> None:
    server.add_client("desktop-client", "desktop-secret")
    (tmp_path / "secret").write_text("desktop-secret\n")
    first = server.issue_refresh_token()
    TokenFile(tmp_path / "g.json").save(first)
    s = settings(tmp_path, provider="google", client_id="desktop-client", client_secret_file="secret", token_file="g.json")
    token = oauth.build(s, RedirectSession(server)).token()
    assert server.is_active(token)
    assert TokenFile(tmp_path / "g.json").refresh_token() in server.live_refresh_tokens()


def test_google_revoked_refresh_token_is_a_grant_error(tmp_path: Path, server: TokenServer) -> None:
    TokenFile(tmp_path / "g.json").save(server.issue_refresh_token())
    server.revoke_all()
    s = settings(tmp_path, provider="google", client_id="desktop-client", token_file="g.json")
    with pytest.raises(GrantError, match="invalid_grant"):
        oauth.build(s, RedirectSession(server)).token()


def test_google_installed_app_login_over_the_loopback_redirect(tmp_path: Path, server: TokenServer) -> None:
    import requests

    server.add_client("desktop-client", "desktop-secret")
    (tmp_path / "secret").write_text("desktop-secret\n")
    s = settings(tmp_path, provider="google", client_id="desktop-client", client_secret_file="secret", token_file="g.json")
    seen: list[str] = []

    def browser(url: str) -> None:  # the person signs in; Google redirects to our loopback listener
        from urllib.parse import parse_qs, urlsplit

        seen.append(url)
        q = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        requests.get(q["redirect_uri"], params={"code": "auth-code-1", "state": q["state"]}, timeout=10)

    login_cmd.login(s, http=RedirectSession(server), out=io.StringIO(), open_url=browser)
    q = seen[0]
    assert "code_challenge_method=S256" in q and "access_type=offline" in q and "mail.google.com" in q
    assert TokenFile(tmp_path / "g.json").refresh_token() in server.live_refresh_tokens()


# -- generic RFC 6749 ---------------------------------------------------------------


def test_generic_refreshes_before_expiry_and_persists_each_rotation(tmp_path: Path) -> None:
    with TokenServer(lifetime=2) as server:
        TokenFile(tmp_path / "t.json").save(server.issue_refresh_token())
        s = settings(tmp_path, provider="generic", client_id="c", token_url=server.token_url, token_file="t.json")
        source = oauth.build(s)
        tokens = set()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            token = source.token()
            assert server.is_active(token)  # never handed out an expired or nearly expired token
            tokens.add(token)
            time.sleep(0.2)
        assert len(tokens) >= 4  # lifetime 2 s, refreshed at half-life
        assert TokenFile(tmp_path / "t.json").refresh_token() in server.live_refresh_tokens()
        assert mode(tmp_path / "t.json") == 0o600


def test_generic_unreachable_endpoint_is_temporary(tmp_path: Path) -> None:
    TokenFile(tmp_path / "t.json").save("rt-x")
    s = settings(tmp_path, provider="generic", client_id="c", token_url="http://127.0.0.1:9/token", token_file="t.json", timeout=2)
    with pytest.raises(TokenUnavailable):
        oauth.build(s).token()


def test_generic_login_reads_the_refresh_token_from_stdin(tmp_path: Path, server: TokenServer) -> None:
    rt = server.issue_refresh_token()
    s = settings(tmp_path, provider="generic", client_id="c", token_url=server.token_url, token_file="t.json")
    done = login_cmd.login(s, stdin=io.StringIO(rt + "\n"), out=io.StringIO())
    assert rt not in done
    saved = TokenFile(tmp_path / "t.json").refresh_token()
    assert saved != rt and saved in server.live_refresh_tokens()  # redeemed once, rotation kept


def test_token_file_write_is_atomic_and_private(tmp_path: Path) -> None:
    store = TokenFile(tmp_path / "t.json")
    store.save("rt-1")
    store.update("rt-2")
    assert store.refresh_token() == "rt-2" and mode(tmp_path / "t.json") == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]  # no temp file left behind
    with pytest.raises(GrantError, match="router login"):
        TokenFile(tmp_path / "missing.json").refresh_token()


# -- no secret in logs, metrics, health ---------------------------------------------


def test_tokens_and_secrets_never_reach_logs_metrics_or_health(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from prometheus_client import generate_latest

    from router import metrics

    caplog.set_level(logging.DEBUG)
    with TokenServer(lifetime=1) as server:
        server.add_client("c", "client-secret-ABC")
        monkeypatch.setenv("ROUTER_TEST_SECRET", "client-secret-ABC")
        TokenFile(tmp_path / "t.json").save(server.issue_refresh_token())
        s = parse({"provider": "generic", "client_id": "c", "client_secret_env": "ROUTER_TEST_SECRET",
                   "token_url": server.token_url, "token_file": "t.json", "grant": "refresh_token"},
                  "imap.oauth2", tmp_path, health_file=tmp_path / "login-health.json")
        assert s is not None
        source = oauth.build(s)
        seen = [source.token() for _ in range(2)] + [source.token(force=True)]
        server.revoke_all()
        with pytest.raises(GrantError) as err:
            source.token(force=True)
        secrets_ = set(seen) | {"client-secret-ABC"} | set(server.grants.revoked)
        exposed = caplog.text + str(err.value) + generate_latest(metrics.REGISTRY).decode() + (tmp_path / "login-health.json").read_text()
        assert secrets_ and not [x for x in secrets_ if x in exposed]
        assert "access token refreshed" in caplog.text  # the logs were captured
        assert health.problem() and "grant refused" in str(health.problem())
        assert 'router_login_failures_total{reason="grant_refused",server="imap"}' in generate_latest(metrics.REGISTRY).decode()


# -- config -----------------------------------------------------------------------


def test_config_keys_are_validated_with_the_key_named(tmp_path: Path) -> None:
    def load(body: str) -> config.Settings:
        (tmp_path / "c.toml").write_text(body)
        return config.load(tmp_path / "c.toml")

    assert load("").imap.oauth2 is None
    ok = load('[imap.oauth2]\nprovider = "microsoft"\nclient_id = "x"\ntenant = "t"\nclient_secret_env = "S"\n'
              '[smtp.oauth2]\nprovider = "generic"\nclient_id = "x"\ntoken_url = "https://idp.example/token"\ntoken_file = "t.json"\nmechanism = "oauthbearer"\n')
    assert ok.imap.oauth2 is not None and ok.imap.oauth2.grant == "client_credentials"
    assert ok.smtp.oauth2 is not None and ok.smtp.oauth2.mechanism == "oauthbearer" and ok.smtp.oauth2.token_file == tmp_path / "t.json"
    assert ok.imap.oauth2.health_file == ok.state_path.parent / "login-health.json"
    bad = {
        '[imap.oauth2]\nprovider = "yahoo"\n': "imap.oauth2.provider",
        '[imap.oauth2]\nprovider = "generic"\nclientid = "x"\n': "imap.oauth2.clientid: unknown key",
        '[imap.oauth2]\nprovider = "microsoft"\nclient_id = "x"\nclient_secret_env = "S"\n': "imap.oauth2.tenant",
        '[imap.oauth2]\nprovider = "generic"\nclient_id = "x"\ntoken_file = "t"\n': "imap.oauth2.token_url",
        '[smtp.oauth2]\nprovider = "google"\nclient_id = "x"\n': "smtp.oauth2.token_file",
        '[imap.oauth2]\nprovider = "generic"\nclient_id = "x"\ntoken_file = "t"\ntoken_url = "http://idp.example/t"\n': "must be https",
        '[imap.oauth2]\nprovider = "generic"\nmechanism = "plain"\n': "imap.oauth2.mechanism",
    }
    for body, expected in bad.items():
        with pytest.raises(ConfigError, match=expected.replace(".", r"\.")):
            load(body)


def test_microsoft_app_only_certificate_sends_a_signed_client_assertion(tmp_path: Path, server: TokenServer) -> None:
    import base64 as b64

    from router.testing.oauth2 import _jwt_claims

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (tmp_path / "app.pem").write_bytes(pem)
    server.add_client("app-id", "unused-secret")
    forms: list[dict[str, str]] = []
    original = server.token_request

    def spy(form: dict[str, str], basic: tuple[str, str] | None) -> tuple[int, dict[str, Any]]:
        forms.append(form)
        return original(form, basic)

    server.token_request = spy  # type: ignore[method-assign]
    s = settings(tmp_path, provider="microsoft", client_id="app-id", tenant=TENANT, certificate="app.pem",
                 certificate_thumbprint="A1B2C3D4E5F60718293A4B5C6D7E8F9012345678")
    assert s.grant == "client_credentials"
    assert server.is_active(oauth.build(s, RedirectSession(server)).token())
    form = forms[-1]
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    claims = _jwt_claims(form["client_assertion"])
    assert claims["iss"] == claims["sub"] == "app-id" and claims["aud"].endswith(f"/{TENANT}/oauth2/v2.0/token")
    header = json.loads(b64.urlsafe_b64decode(form["client_assertion"].split(".")[0] + "=="))
    assert header["alg"].startswith(("RS", "PS")) and ("x5t" in header or "x5t#S256" in header)
    assert "client_secret" not in form


def test_router_login_command_exit_codes(tmp_path: Path, server: TokenServer, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from router import cli

    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[state]\npath = "{tmp_path / "state" / "r.sqlite3"}"\n'
                   f'[imap.oauth2]\nprovider = "generic"\nclient_id = "c"\ntoken_url = "{server.token_url}"\ntoken_file = "t.json"\n')
    good = server.issue_refresh_token()
    monkeypatch.setattr("sys.stdin", io.StringIO(good + "\n"))
    assert cli.main(["--config", str(cfg), "login", "--refresh-token-stdin"]) == 0
    assert TokenFile(tmp_path / "t.json").refresh_token() in server.live_refresh_tokens()
    monkeypatch.setattr("sys.stdin", io.StringIO("rt-not-issued\n"))
    assert cli.main(["--config", str(cfg), "login", "--refresh-token-stdin"]) == EX_NOPERM
    err = capsys.readouterr().err
    assert "grant refused (invalid_grant" in err and "rt-not-issued" not in err and good not in err
    assert cli.main(["--config", str(cfg), "login", "--server", "smtp"]) == 1  # no [smtp.oauth2]: a config error


def test_sasl_initial_responses_follow_xoauth2_and_rfc7628() -> None:
    from router.oauth.sasl import _responder, initial_response

    assert initial_response("xoauth2", "a@b.example", "tok") == "user=a@b.example\x01auth=Bearer tok\x01\x01"
    # RFC 7628 section 3.1: GS2 header with the authzid escaped per RFC 5801 (',' -> =2C, '=' -> =3D)
    assert initial_response("oauthbearer", "a=b,c@d.example", "tok") == "n,a=a=3Db=2Cc@d.example,\x01auth=Bearer tok\x01\x01"
    # after an error challenge the client acknowledges instead of re-sending the token (RFC 7628 section 3.2.3)
    bearer = _responder("oauthbearer", "u", "tok")
    assert "tok" in bearer() and bearer(b'{"status":"invalid_token"}') == "\x01"
    xoauth = _responder("xoauth2", "u", "tok")
    assert "tok" in xoauth() and xoauth(b"{}") == ""
