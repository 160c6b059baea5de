"""The command line: SPEC 8 records, SPEC 9 conventions, SPEC 10 config lookup."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from router.cli import build_parser, main

REPO = Path(__file__).resolve().parents[1]
SAMPLES = sorted((REPO / "samples").glob("*.eml"))
RECORD_KEYS = {"file", "message_id", "case_id", "language", "subject", "category", "confidence", "model",
               "evidence", "secrets", "sender", "route", "actions", "reasons"}


def _records(out: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_triage_json_lines_in_order_with_spec8_fields(capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(p) for p in reversed(SAMPLES)]
    assert main(["triage", "--json", *files]) == 0
    records = _records(capsys.readouterr().out)
    assert [r["file"] for r in records] == files
    for r in records:
        assert RECORD_KEYS <= set(r)
        assert r["language"] in ("zh", "en", "other")
        assert r["subject"]["status"] in ("ok", "missing_uid", "unknown_type", "absent")
        assert set(r["subject"]) >= {"status", "type", "uid"}
        assert r["category"] in ("security", "compliance", "general")
        assert r["route"] in ("security", "compliance", "general", "review", "quarantine", "automated")
        assert set(r["evidence"]) >= {"required", "present", "missing", "rejected"}
        assert set(r["sender"]) >= {"address", "authenticated", "automated"}
        assert all(s in ("password", "otp", "private_key", "seed_phrase", "api_secret") for s in r["secrets"])
        assert all(a["type"] in ("forward", "auto_reply", "move") for a in r["actions"])
        assert r["reasons"] and all(isinstance(x, str) for x in r["reasons"])
        assert 0.0 <= r["confidence"] <= 1.0
        if r["model"] is not None:
            assert set(r["model"]) >= {"category", "confidence", "version"}


def test_triage_records_for_the_sample_mailbox(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["triage", "--json", *map(str, SAMPLES)]) == 0
    by_name = {Path(r["file"]).name: r for r in _records(capsys.readouterr().out)}
    hacked = by_name["02-account-hacked-en-password.eml"]
    assert hacked["category"] == "security" and hacked["secrets"] == ["password"]
    assert "Tr0ub4dor" not in json.dumps(hacked)
    seed = by_name["11-stolen-seed-phrase-zh.eml"]
    assert seed["secrets"] == ["seed_phrase"] and seed["language"] == "zh"
    assert {"type": "move", "folder": "Restricted"} in seed["actions"]
    freeze = by_name["01-freeze-appeal-zh-gb2312.eml"]
    assert freeze["subject"] == {"status": "ok", "type": "account_freeze_appeal", "uid": "20231187"}
    assert freeze["evidence"]["present"] == ["identity"] and freeze["evidence"]["missing"] == []
    assert by_name["07-dangerous-attachment.eml"]["route"] == "quarantine"
    assert by_name["07-dangerous-attachment.eml"]["evidence"]["rejected"]
    assert by_name["06-bounce-dsn.eml"]["route"] == "automated"
    assert by_name["08-dmarc-fail.eml"]["sender"]["authenticated"] is False
    assert by_name["08-dmarc-fail.eml"]["route"] == "review"
    assert by_name["12-malformed-binary.eml"]["route"] == "quarantine"
    assert by_name["04-deposit-zh-tw-big5.eml"]["language"] == "zh"


def test_triage_is_deterministic_and_has_no_side_effects(tmp_path: Path) -> None:
    watched = [*SAMPLES, *(REPO / "models").iterdir(), *(REPO / "var").glob("*")] if (REPO / "var").exists() else [*SAMPLES, *(REPO / "models").iterdir()]
    before = {p: p.stat().st_mtime_ns for p in watched}
    run = lambda: subprocess.run([sys.executable, "-m", "router", "triage", "--json", *map(str, SAMPLES)],  # noqa: E731
                                 capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "ROUTER_CONFIG": ""}, check=True)
    a, b = run(), run()
    assert a.stdout == b.stdout and a.stdout.count("\n") == len(SAMPLES)
    assert list(tmp_path.iterdir()) == []
    after = {p: p.stat().st_mtime_ns for p in before if p.exists()}
    assert before == after
    assert not any(p.name.startswith("router-") and p.suffix == ".lock" for p in (REPO / "var").glob("*")) if (REPO / "var").exists() else True


def test_bad_input_gets_one_line_errors_or_quarantine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.eml"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.eml"
    garbage.write_bytes(os.urandom(4096))
    rc = main(["triage", "--json", str(tmp_path / "missing.eml"), str(tmp_path), str(empty), str(garbage)])
    out, err = capsys.readouterr()
    assert rc == 1
    assert err.splitlines() == [f"router: error: {tmp_path / 'missing.eml'}: no such file",
                                f"router: error: {tmp_path}: is a directory, not a message file"]
    records = _records(out)
    assert [r["route"] for r in records] == ["quarantine", "quarantine"]
    assert "Traceback" not in err


def test_table_output_without_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["triage", str(SAMPLES[0]), str(SAMPLES[1])]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["FILE", "ROUTE", "CATEGORY"] and len(lines) == 3


def test_every_command_has_help_and_bad_usage_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices  # noqa: SLF001
    assert {"run", "triage", "train", "evaluate", "promote", "status", "check-config"} <= set(commands)
    for name in commands:
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"])
        assert exc.value.code == 0
        assert "usage: router" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["--log-level", "LOUD", "status"])
    assert exc.value.code == 2


def test_config_lookup_order_and_errors_name_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from router import config

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ROUTER_CONFIG", raising=False)
    assert config.load().source is None  # built-in defaults
    (tmp_path / "config.toml").write_text('[routes]\ngeneral = "here@x.example"\n')
    assert config.load().routes["general"] == "here@x.example"
    env_cfg = tmp_path / "env.toml"
    env_cfg.write_text('[routes]\ngeneral = "env@x.example"\n')
    monkeypatch.setenv("ROUTER_CONFIG", str(env_cfg))
    assert config.load().routes["general"] == "env@x.example"
    flag_cfg = tmp_path / "flag.toml"
    flag_cfg.write_text('[routes]\ngeneral = "flag@x.example"\n[state]\npath = "rel/state.db"\n')
    s = config.load(str(flag_cfg))
    assert s.routes["general"] == "flag@x.example" and s.state_path == tmp_path / "rel" / "state.db"

    cases = {
        '[imap]\nport = "x"\n': "imap.port: must be an integer",
        '[imap]\nsecurity = "tls"\n': "imap.security: must be one of ssl, starttls, none",
        '[imap]\npassword = "hunter2"\n': "imap.password: passwords are not read from the config",
        '[smtp]\nfrom_address = "nope"\n': "smtp.from_address: is not an e-mail address",
        '[nosuch]\nx = 1\n': "nosuch: unknown section",
        '[folders]\nsecurity = ""\n': "folders.security: must not be empty",
        '[issue_types.x]\ncategory = "sales"\naliases = ["x"]\n': "issue_types.x.category: must be one of",
        '[subject]\nuid_pattern = "[0-9"\n': "subject.uid_pattern: invalid regular expression",
        "[imap\n": "invalid TOML",
    }
    for text, needle in cases.items():
        bad = tmp_path / "bad.toml"
        bad.write_text(text)
        assert main(["--config", str(bad), "check-config"]) == 1
        err = capsys.readouterr().err.strip()
        assert needle in err and err.count("\n") == 0, (text, err)
    assert main(["--config", str(REPO / "config.toml"), "check-config"]) == 0


def test_spec10_minimal_config_is_valid(tmp_path: Path) -> None:
    """A file holding only the keys shown in SPEC 10 is valid."""
    from router import config

    spec = (Path(__file__).resolve().parents[2] / "shared" / "SPEC.md").read_text(encoding="utf-8")
    block = spec.split("```toml", 1)[1].split("```", 1)[0]
    path = tmp_path / "spec.toml"
    path.write_text(block, encoding="utf-8")
    s = config.load(str(path))
    assert s.imap.port == 993 and s.folders["restricted"] == "Restricted" and s.metrics_listen == ""


def test_defaults_equal_the_shipped_config() -> None:
    from router import config

    shipped, builtin = config.load(str(REPO / "config.toml")), config.load(search=False)
    for field in ("routes", "folders", "uid_pattern", "issue_types", "limits", "own_addresses", "replies", "teams", "sla"):
        assert getattr(shipped, field) == getattr(builtin, field), field
    assert (shipped.imap.host, shipped.imap.port, shipped.smtp.port) == (builtin.imap.host, builtin.imap.port, builtin.smtp.port)
