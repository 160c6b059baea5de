"""Metrics, health and logs of a real daemon run (Dovecot + aiosmtpd)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from daemonkit import REPO, http_get, make_mail, metric, metrics_section, start_daemon, stop_daemon, wait_until, write_config
from router.testing import Dovecot, SmtpSink, free_port


def test_metrics_match_what_happened_and_healthz(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    general = [make_mail(i) for i in range(4)]
    security = [make_mail(10 + i, subject="Account Hacked - UID 55501234", body="Someone logged into my account and withdrew all my BTC. I did not do it.") for i in range(2)]
    automated = [make_mail(20, subject="Automatic reply: hello", body="I am away", Auto_Submitted="auto-replied")]
    for raw in general + security + automated:
        dovecot.append("INBOX", raw)
    port = free_port()
    cfg = write_config(tmp_path, dovecot, smtp_sink, metrics=metrics_section(port, 4),
                       imap={"poll_interval_seconds": 1})
    log = tmp_path / "daemon.log"
    proc = start_daemon(cfg, dovecot, log)
    try:
        assert wait_until(lambda: not dovecot.uids("INBOX") and len(smtp_sink.messages) >= 12, 60), log.read_text()[-3000:]
        status, text = http_get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        assert metric(text, "router_messages_total", route="general", outcome="handled") == 4
        assert metric(text, "router_messages_total", route="security", outcome="handled") == 2
        assert metric(text, "router_messages_total", route="automated", outcome="handled") == 1
        assert metric(text, "router_forwards_total") == 6
        assert metric(text, "router_replies_total", outcome="sent") == 6
        assert metric(text, "router_replies_total", outcome="suppressed", reason="automated") == 1
        assert metric(text, "router_processing_seconds_count") == 7
        assert metric(text, "router_backlog_messages") == 0
        assert metric(text, "router_last_successful_poll_timestamp_seconds") > 0
        assert re.search(r'router_model_info\{version="m-[0-9a-f]+"\} 1\.0', text)
        assert http_get(f"http://127.0.0.1:{port}/healthz")[0] == 200
        dovecot.stop()  # the mailbox can no longer be reached
        assert wait_until(lambda: http_get(f"http://127.0.0.1:{port}/healthz")[0] == 503, 20)
        assert metric(http_get(f"http://127.0.0.1:{port}/metrics")[1], "router_imap_errors_total") >= 1
        assert stop_daemon(proc, timeout=10) == 0  # a clean exit on SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # Logs: JSON lines, one event per decision and per action, with ids and timings.
    events = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    decided = [e for e in events if e["event"] == "decided"]
    handled = [e for e in events if e["event"] == "message handled"]
    forwarded = [e for e in events if e["event"] == "forwarded"]
    assert len(decided) == 7 and len(handled) == 7 and len(forwarded) == 6
    assert all(e["message_id"] and e["case_id"] and e["route"] for e in decided + handled)
    assert all("ms" in e for e in handled)
    body_words = "withdrew all my BTC"
    assert body_words not in log.read_text()


def test_logging_layer_redacts_secrets(capsys) -> None:  # type: ignore[no-untyped-def]
    import logging

    from router import logs

    logs.setup("DEBUG", "json")
    logging.getLogger("router.test").info("customer wrote password: Hunter2!secret and 验证码 482913", extra={"subject": "my pwd is abc12345x"})
    err = capsys.readouterr().err
    assert "Hunter2!secret" not in err and "482913" not in err and "abc12345x" not in err
    assert "[REDACTED:password]" in err and "[REDACTED:otp]" in err
    logs.setup("INFO", "text")
    logging.getLogger("router.test").warning("api secret: sk9f8a7s6d5f4g3h2j1k0lqwertyuiop")
    assert "sk9f8a7s6d5f4g3h2j1k0lqwertyuiop" not in capsys.readouterr().err
    _ = REPO
