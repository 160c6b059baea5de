"""Operations against a real Dovecot and aiosmtpd: corrections, `router label`, `router requeue`.

The daemon, `router label`, `router requeue` and `router train` run as
subprocesses exactly as an operator or analyst would run them; the analyst's
"move into Corrections/<category>" is a real IMAP MOVE from another client.
"""

from __future__ import annotations

import email
import email.policy
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from daemonkit import env_for, forwards, mailbox_ids, make_mail, parsed, replies, run_once, write_config
from secretkit import b58check
import mailkit
from router.testing import Dovecot, SmtpSink

SECURITY = "security-team@exchange.example"
COMPLIANCE = "compliance-team@exchange.example"
GENERAL = "support-team@exchange.example"

# A tiny labelled set with the router's three categories, so `router train` takes seconds.
_TRAIN_ROWS = {
    "security": ["someone logged into my account and stole my coins", "my account was hacked last night",
                 "unauthorized withdrawal from my wallet", "I got a phishing mail pretending to be you",
                 "my 2fa phone was stolen", "strange login from another country"],
    "compliance": ["my account is frozen please unfreeze it", "kyc verification was rejected",
                   "I need a tax statement for last year", "police request about an account",
                   "source of funds documents attached", "large withdrawal special request"],
    "general": ["withdrawal failed yesterday please check", "deposit not credited after two hours",
                "what are the trading fees", "how do I use the api", "the app crashes on login page", "promotion question"],
}


def _cli(cfg: Path, dovecot: Dovecot, *args: str, log_level: str = "INFO", timeout: float = 120) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "router", "--config", str(cfg), "--log-level", log_level, "--log-format", "json", *args]
    return subprocess.run(cmd, env=env_for(dovecot), capture_output=True, text=True, timeout=timeout)


def _mid(raw: bytes) -> str:
    return (parsed(raw).get("Message-ID") or "").strip()


def _db(tmp: Path) -> sqlite3.Connection:
    db = sqlite3.connect(tmp / "state" / "router.sqlite3")
    db.row_factory = sqlite3.Row
    return db


def _analyst_move(dovecot: Dovecot, source: str, message_id: str, target: str) -> None:
    """What an analyst does in a mail client: find the mail, drag it to another folder (IMAP MOVE)."""
    with dovecot.client() as c:
        c.select_folder(source)
        uids = c.search(["HEADER", "Message-ID", message_id])
        assert len(uids) == 1, (source, message_id, uids)
        c.move(uids, target)


def _write_training_csv(path: Path) -> Path:
    lines = ["text,label"] + [f"{t},{label}" for label, texts in _TRAIN_ROWS.items() for t in texts]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _train(cfg: Path, dovecot: Dovecot, data: Path, out: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], dict]:  # type: ignore[type-arg]
    proc = _cli(cfg, dovecot, "train", "--data", str(data), "--out", str(out), "--holdout", "0", "--no-progress", *extra)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc, json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))


def test_correction_folder_reroutes_once_files_records_and_trains(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    raw = make_mail(1, subject="Withdrawal Failed - UID 12345678",
                    body="My USDT withdrawal failed yesterday with a network fee error, please check.")
    mid = _mid(raw)
    dovecot.append("INBOX", raw)
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    first = run_once(cfg, dovecot)
    assert first.returncode == 0, first.stderr[-2000:]
    assert mid in mailbox_ids(dovecot)["Routed/General"]
    assert [r for _, r in forwards(smtp_sink)[mid]] == [(GENERAL,)]
    # the daemon created the correction folders for the analysts
    assert {"Corrections/security", "Corrections/compliance", "Corrections/general"} <= set(dovecot.folders())

    # The analyst decides this was a security matter and drags it into Corrections/security.
    _analyst_move(dovecot, "Routed/General", mid, "Corrections/security")
    sent_before = len(smtp_sink.messages)
    second = run_once(cfg, dovecot)
    assert second.returncode == 0, second.stderr[-2000:]
    fw = forwards(smtp_sink)[mid]
    assert [r for _, r in fw] == [(GENERAL,), (SECURITY,)], fw
    assert fw[0][0] != fw[1][0]  # the correction is a new mail downstream, not a duplicate of the first
    new = [parsed(m.data) for m in smtp_sink.messages[sent_before:]]
    assert len(new) == 1 and new[0]["Subject"].strip().startswith("[SECURITY]") and new[0]["X-Router-Category"] == "security"
    boxes = mailbox_ids(dovecot)
    assert mid in boxes["Routed/Security"] and mid not in boxes.get("Routed/General", [])
    assert boxes.get("Corrections/security") == []

    db = _db(tmp_path)
    rows = [dict(r) for r in db.execute("SELECT * FROM corrections")]
    assert len(rows) == 1, rows
    row = rows[0]
    assert (row["message_id"], row["original_category"], row["original_route"], row["corrected_category"], row["source"]) == (
        mid, "general", "general", "security", "mailbox")
    assert "Withdrawal Failed" in row["text"] and "withdrawal failed yesterday" in row["text"] and row["language"] == "en"
    assert row["ts"] > 0
    db.close()

    # Nothing more is sent on later runs.
    sent = len(smtp_sink.messages)
    third = run_once(cfg, dovecot)
    assert third.returncode == 0 and len(smtp_sink.messages) == sent
    assert mid in mailbox_ids(dovecot)["Routed/Security"]

    # `router train` finds the state store through --config and learns from the correction.
    data = _write_training_csv(tmp_path / "small.csv")
    proc, meta = _train(cfg, dovecot, data, tmp_path / "with.joblib")
    assert meta["n_corrections"] == 1 and meta["n_examples"] == sum(len(v) for v in _TRAIN_ROWS.values()) + 1
    assert meta["label_counts"]["security"] == len(_TRAIN_ROWS["security"]) + 1
    assert "corrections: 1 used" in proc.stdout
    proc, meta = _train(cfg, dovecot, data, tmp_path / "without.joblib", "--no-corrections")
    assert meta["n_corrections"] == 0 and meta["n_examples"] == sum(len(v) for v in _TRAIN_ROWS.values())
    assert "left out" in proc.stdout


def test_label_command_reroutes_once_and_evaluate_reports_later_corrections(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    raw = make_mail(2)  # a withdrawal question: routed to general
    mid = _mid(raw)
    dovecot.append("INBOX", raw)
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    assert run_once(cfg, dovecot).returncode == 0
    assert mid in mailbox_ids(dovecot)["Routed/General"]
    assert [r for _, r in forwards(smtp_sink)[mid]] == [(GENERAL,)]

    # A model made before the correction: its evaluation must count the correction as unseen.
    data = _write_training_csv(tmp_path / "small.csv")
    _train(cfg, dovecot, data, tmp_path / "m.joblib")
    before = _cli(cfg, dovecot, "evaluate", "--model", str(tmp_path / "m.joblib"), "--data", str(data), "--json")
    assert before.returncode == 0, before.stderr[-2000:]
    assert json.loads(before.stdout)["corrections"]["n"] == 0

    label = _cli(cfg, dovecot, "label", mid, "compliance", "--json")
    assert label.returncode == 0, label.stderr[-2000:]
    out = json.loads(label.stdout)
    assert out["forwarded_to"] == COMPLIANCE and out["found_in"] == "Routed/General" and out["folder"] == "Routed/Compliance"
    assert out["original_category"] == "general" and out["recorded"] is True
    assert [r for _, r in forwards(smtp_sink)[mid]] == [(GENERAL,), (COMPLIANCE,)]
    boxes = mailbox_ids(dovecot)
    assert mid in boxes["Routed/Compliance"] and mid not in boxes.get("Routed/General", [])
    db = _db(tmp_path)
    rows = [dict(r) for r in db.execute("SELECT message_id, original_category, corrected_category, source FROM corrections")]
    assert rows == [{"message_id": mid, "original_category": "general", "corrected_category": "compliance", "source": "label"}]
    # the case now belongs to the compliance team, so follow-ups go there too
    case_route = db.execute("SELECT c.route FROM cases c JOIN case_messages m ON c.case_id=m.case_id WHERE m.message_id=?", (mid,)).fetchone()
    assert case_route[0] == "compliance"
    db.close()

    # Labelling again (or a daemon run) sends nothing more.
    sent = len(smtp_sink.messages)
    again = _cli(cfg, dovecot, "label", mid, "compliance", "--json")
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout)["forwarded_to"] is None and json.loads(again.stdout)["recorded"] is False
    assert run_once(cfg, dovecot).returncode == 0
    assert len(smtp_sink.messages) == sent
    assert _db(tmp_path).execute("SELECT COUNT(*) FROM corrections").fetchone()[0] == 1

    # evaluate: the correction came after the model, so it is reported separately
    after = _cli(cfg, dovecot, "evaluate", "--model", str(tmp_path / "m.joblib"), "--data", str(data), "--json")
    assert after.returncode == 0, after.stderr[-2000:]
    c = json.loads(after.stdout)["corrections"]
    assert c["n"] == 1 and 0.0 <= c["accuracy"] <= 1.0 and "not in its training data" in c["note"]
    text = _cli(cfg, dovecot, "evaluate", "--model", str(tmp_path / "m.joblib"), "--data", str(data))
    assert text.returncode == 0 and "corrections: n=1" in text.stdout and "not in its training data" in text.stdout

    # a model trained with the correction does not count it as unseen
    _train(cfg, dovecot, data, tmp_path / "m2.joblib")
    later = _cli(cfg, dovecot, "evaluate", "--model", str(tmp_path / "m2.joblib"), "--data", str(data), "--json")
    assert json.loads(later.stdout)["corrections"]["n"] == 0

    missing = _cli(cfg, dovecot, "label", "<nope@mail.example>", "security")
    assert missing.returncode == 1 and [ln for ln in missing.stderr.splitlines() if ln.startswith("router: error:")] == [missing.stderr.strip().splitlines()[-1]]
    assert "not found" in missing.stderr.strip().splitlines()[-1]


def _multipart(i: int) -> bytes:
    return mailkit.mail("Withdrawal Failed - UID 12345678", "My withdrawal failed, the transaction record is attached.",
                        sender=f"customer{i}@mail.example", message_id=f"<multi{i}@mail.example>",
                        attachments=[("transactions.csv", b"date,amount\n2026-11-23,100 USDT\n", "text/csv")])


def _replies_to(sink: SmtpSink, mid: str) -> int:
    return sum(1 for msg, _ in replies(sink) if (msg.get("In-Reply-To") or "").strip() == mid)


def test_requeue_after_a_fix_handles_once_and_never_repeats_what_was_sent(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    tight = {"max_message_bytes": 2000, "max_parts": 1}
    cfg = write_config(tmp_path, dovecot, smtp_sink, limits=tight)
    routed = make_mail(10)  # single part, small: handled normally (forwarded and acknowledged)
    dovecot.append("INBOX", routed)
    assert run_once(cfg, dovecot).returncode == 0
    c_mid = _mid(routed)
    assert len(forwards(smtp_sink)[c_mid]) == 1 and _replies_to(smtp_sink, c_mid) == 1

    big = make_mail(11, body="My USDT withdrawal failed yesterday, please check the transaction. " * 50)  # over 2000 bytes
    multi = _multipart(12)  # more MIME parts than allowed: quarantined after parsing, reply suppressed
    dead = make_mail(13)
    for raw in (big, multi, dead):
        dovecot.append("INBOX", raw)
    smtp_sink.fail_with(550, "5.1.1 mailbox unavailable", count=None)  # `dead`'s forward fails for good
    assert run_once(cfg, dovecot).returncode == 0
    smtp_sink.clear_failures()
    a_mid, b_mid, d_mid = _mid(big), _mid(multi), _mid(dead)
    boxes = mailbox_ids(dovecot)
    assert sorted(boxes["Quarantine"]) == sorted([a_mid, b_mid]) and boxes["DeadLetter"] == [d_mid]
    db = _db(tmp_path)
    assert db.execute("SELECT outcome FROM replies WHERE message_id=?", (b_mid,)).fetchone()[0] == "suppressed"
    db.close()
    sent = len(smtp_sink.messages)
    assert sent == 2

    usage = _cli(cfg, dovecot, "requeue")
    assert usage.returncode == 2 and "at least one" in usage.stderr

    # The fix: limits back to normal. Then requeue the quarantine, the dead letter, and the routed one.
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    dry = _cli(cfg, dovecot, "requeue", "--folder", "quarantine", "--dry-run", "--json")
    assert dry.returncode == 0 and json.loads(dry.stdout)["count"] == 2
    assert sorted(mailbox_ids(dovecot)["Quarantine"]) == sorted([a_mid, b_mid])  # a dry run changes nothing
    q = _cli(cfg, dovecot, "requeue", "--folder", "quarantine", "--json")
    assert q.returncode == 0, q.stderr[-2000:]
    qout = json.loads(q.stdout)
    assert qout["count"] == 2 and {m["message_id"] for m in qout["moved"]} == {a_mid, b_mid}
    assert all(m["known"] and m["from"] == "Quarantine" and m["to"] == "INBOX" for m in qout["moved"])
    d = _cli(cfg, dovecot, "requeue", "--message-id", d_mid, "--json")
    assert d.returncode == 0, d.stderr[-2000:]
    dout = json.loads(d.stdout)["moved"]
    assert [(m["message_id"], m["from"], m["already_sent"]) for m in dout] == [(d_mid, "DeadLetter", [])]
    c = _cli(cfg, dovecot, "requeue", "--folder", "general", "--message-id", c_mid, "--json")
    assert c.returncode == 0, c.stderr[-2000:]
    cout = json.loads(c.stdout)["moved"]
    assert [(s["purpose"], s["to"]) for s in cout[0]["already_sent"]] == [("forward", GENERAL)]
    assert sorted(mailbox_ids(dovecot)["INBOX"]) == sorted([a_mid, b_mid, d_mid, c_mid])
    assert len(smtp_sink.messages) == sent  # requeue itself sends nothing

    run = run_once(cfg, dovecot)
    assert run.returncode == 0, run.stderr[-2000:]
    fw = forwards(smtp_sink)
    for mid in (a_mid, b_mid, d_mid):
        assert [r for _, r in fw[mid]] == [(GENERAL,)], (mid, fw.get(mid))
        assert _replies_to(smtp_sink, mid) == 1, mid  # a suppressed reply did not block this one
    assert [r for _, r in fw[c_mid]] == [(GENERAL,)]  # forwarded before the requeue: not again
    assert _replies_to(smtp_sink, c_mid) == 1  # acknowledged before: not again
    assert len(smtp_sink.messages) == sent + 6
    boxes = mailbox_ids(dovecot)
    assert sorted(boxes["Routed/General"]) == sorted([a_mid, b_mid, c_mid, d_mid])
    assert boxes["INBOX"] == [] and boxes["Quarantine"] == [] and boxes["DeadLetter"] == []
    db = _db(tmp_path)
    assert {r[0] for r in db.execute("SELECT message_id FROM events WHERE kind='requeued'")} == {a_mid, b_mid, c_mid, d_mid}
    outcomes = dict(db.execute("SELECT message_id, outcome FROM messages").fetchall())
    assert all(outcomes[m] == "general" for m in (a_mid, b_mid, c_mid, d_mid)), outcomes
    db.close()

    # handled once: a further run sends nothing, and requeueing the empty quarantine moves nothing
    assert run_once(cfg, dovecot).returncode == 0
    assert len(smtp_sink.messages) == sent + 6
    empty = _cli(cfg, dovecot, "requeue", "--folder", "quarantine", "--json")
    assert empty.returncode == 0 and json.loads(empty.stdout)["count"] == 0
    gone = _cli(cfg, dovecot, "requeue", "--message-id", a_mid)
    assert gone.returncode == 1 and "no matching message" in gone.stderr


# -- the plant test: no secret value leaves the router, whatever it does ----------------------------------------


def _planted() -> dict[str, tuple[str, str]]:
    """kind -> (mail body, the secret value in it)."""
    from mnemonic import Mnemonic

    wif = b58check(b"\x80" + bytes.fromhex("0c28fca386c7a227600b2fe50b7cae11ec86d3bf1fbe471be89827e19d72aa1d") + b"\x01")
    seed = Mnemonic("english").to_mnemonic(bytes(range(16)))
    hexkey = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
    values = {
        "password": ("Hi, someone logged into my account. My password is Zq8!vRt2#pLm please lock it.", "Zq8!vRt2#pLm"),
        "otp": ("I received a 2FA code 493817 I did not ask for, is my account hacked?", "493817"),
        "private_key": (f"My wallet private key: {hexkey} was it leaked?", hexkey),
        "wif": (f"Here is my key {wif} can you check the balance", wif),
        "seed_phrase": (f"my recovery phrase is {seed} and my funds are gone", seed),
        "api_secret": ("API key abc, API secret: aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY - it made trades I did not place",
                       "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY"),
    }
    return values


def _needles(value: str) -> list[bytes]:
    """The value, and for a seed phrase every run of four of its words."""
    words = value.split()
    out = [value]
    if len(words) >= 12:
        out += [" ".join(words[i : i + 4]) for i in range(len(words) - 3)]
    return [n.encode("utf-8") for n in out]


def _decoded_parts(data: bytes) -> list[bytes]:
    """Every header block and decoded leaf payload of a mail, attached messages included."""
    out = [data]
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    for part in msg.walk():
        out.append(str(part.items()).encode("utf-8", "replace"))
        if not part.is_multipart():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                out.append(payload)
    return out


def test_planted_secrets_never_leave_the_router(tmp_path: Path, dovecot: Dovecot, smtp_sink: SmtpSink) -> None:
    from router.understand.secrets import find_secrets

    planted = _planted()
    mids = {}
    for i, (kind, (body, value)) in enumerate(planted.items()):
        hits = [body[h.start : h.end] for h in find_secrets(body)]
        assert value in hits, (kind, hits)  # the plant is a real secret to the detector
        raw = make_mail(100 + i, subject="Account Compromised - UID 12345678", body=body)
        mids[kind] = _mid(raw)
        dovecot.append("INBOX", raw)
    cfg = write_config(tmp_path, dovecot, smtp_sink)
    daemon = _cli(cfg, dovecot, "run", "--once", log_level="DEBUG")
    assert daemon.returncode == 0, daemon.stderr[-2000:]
    fw = forwards(smtp_sink)
    assert all([r for _, r in fw[m]] == [(SECURITY,)] for m in mids.values()), fw
    assert sorted(mailbox_ids(dovecot)["Restricted"]) == sorted(mids.values())

    label = _cli(cfg, dovecot, "label", mids["api_secret"], "compliance", "--json", log_level="DEBUG")
    assert label.returncode == 0, label.stderr[-2000:]
    assert json.loads(label.stdout)["forwarded_to"] == COMPLIANCE
    again = _cli(cfg, dovecot, "run", "--once", log_level="DEBUG")
    assert again.returncode == 0, again.stderr[-2000:]

    db = _db(tmp_path)
    corrections = [dict(r) for r in db.execute("SELECT * FROM corrections")]
    db.close()
    assert len(corrections) == 1 and "[REDACTED:api_secret]" in corrections[0]["text"]
    correction_text = json.dumps(corrections, ensure_ascii=False).encode("utf-8")

    state_dir = tmp_path / "state"
    store = b"".join(p.read_bytes() for p in sorted(state_dir.glob("router.sqlite3*")))
    assert (state_dir / "router.sqlite3").exists() and len(store) > 4096
    logs = (daemon.stdout + daemon.stderr + label.stdout + label.stderr + again.stdout + again.stderr).encode("utf-8")
    assert b'"level": "debug"' in logs or b'"level": "info"' in logs  # the logs are really there
    forwarded = [m.data for m in smtp_sink.messages if b"X-Router-Original-Message-ID" in m.data]
    assert len(forwarded) == len(planted) + 1  # six to security, one correction to compliance
    assert all(b"[REDACTED:" in b"".join(_decoded_parts(d)) for d in forwarded)
    sent = [chunk for m in smtp_sink.messages for chunk in _decoded_parts(m.data)]

    for kind, (_body, value) in planted.items():
        for needle in _needles(value):
            assert needle not in logs, (kind, "log")
            assert needle not in store, (kind, "state store")
            assert needle not in correction_text, (kind, "corrections")
            assert not any(needle in chunk for chunk in sent), (kind, "sent mail")
    # and the plant really is in the originals kept in the restricted folder (the test can see secrets)
    kept = b"".join(chunk for raw in dovecot.list_folder("Restricted") for chunk in _decoded_parts(raw))
    assert all(value.encode() in kept for _body, value in planted.values())
