"""Evaluate the whole decision pipeline on evaluation/triage/ (issue 12).

The model alone is not what a customer meets: secrets, compromise signals,
subject types, the security threshold and the review rules all decide.  So
each evaluation mail is triaged exactly as the daemon would (pipeline.triage)
and scored on the decision: category accuracy and macro-F1, security recall
counting review, per language, buried-security mails, and for the .eml
mails from real clients whether every expected kind of evidence was counted.

Formats (written by the evaldata branch):
- ``*.jsonl`` rows with subject, text, label, lang, lang_detail,
  buried_security, writer: made into a plain RFC 5322 message;
- ``eml.jsonl`` rows with file (relative to it), label, lang, lang_detail,
  buried_security, client, expected_evidence: the .eml bytes as they are.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any

from sklearn.metrics import accuracy_score, f1_score

from router.classify import Classifier
from router.config import Settings
from router.errors import DataError


@dataclass(frozen=True)
class TriageCase:
    name: str
    raw: bytes
    label: str
    lang: str
    lang_detail: str
    buried_security: bool
    client: str = ""
    expected_evidence: tuple[str, ...] = field(default_factory=tuple)


def is_triage_set(paths: Sequence[Path]) -> bool:
    """True when the paths are a triage evaluation set (rows carry buried_security or an eml manifest)."""
    for path in paths:
        files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
        for f in files:
            if f.name == "eml.jsonl":
                return True
            try:
                first = next((line for line in f.read_text(encoding="utf-8").splitlines() if line.strip()), "")
                if f.suffix == ".jsonl" and "buried_security" in json.loads(first or "{}"):
                    return True
            except (OSError, ValueError):
                continue
    return False


def load_cases(paths: Sequence[Path], to_address: str) -> list[TriageCase]:
    out: list[TriageCase] = []
    for path in paths:
        files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
        for f in files:
            out.extend(_cases_from(f, to_address))
    if not out:
        raise DataError(f"no evaluation mails found in {', '.join(map(str, paths))}")
    return out


def _cases_from(path: Path, to_address: str) -> list[TriageCase]:
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise DataError(f"{path}:{n}: not valid JSON") from None
        if "file" in row:
            eml = path.parent / str(row["file"])
            if not eml.is_file():
                raise DataError(f"{path}:{n}: {eml} does not exist")
            raw = eml.read_bytes()
            name = str(row["file"])
        else:
            raw = _message(str(row.get("subject") or ""), str(row.get("text") or ""), to_address, f"{path.stem}-{n}")
            name = str(row.get("id") or f"{path.name}:{n}")
        out.append(TriageCase(
            name=name, raw=raw, label=str(row["label"]), lang=str(row.get("lang") or ""),
            lang_detail=str(row.get("lang_detail") or row.get("lang") or ""),
            buried_security=bool(row.get("buried_security")), client=str(row.get("client") or ""),
            expected_evidence=tuple(row.get("expected_evidence") or ()),
        ))
    return out


def _message(subject: str, text: str, to_address: str, ident: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Customer <customer@mail.example>"
    msg["To"] = to_address
    msg["Subject"] = subject
    msg["Date"] = formatdate(1_780_000_000, usegmt=True)
    msg["Message-ID"] = f"<{ident}@eval.example>"
    msg.set_content(text)
    return msg.as_bytes()


def evaluate_triage(settings: Settings, clf: Classifier | None, cases: Sequence[TriageCase]) -> dict[str, Any]:
    """Triage every case through the pipeline and score the decisions."""
    from router.pipeline import triage

    rows: list[dict[str, Any]] = []
    for case in cases:
        _mail, decision = triage(case.raw, settings, clf)
        present = set(decision.evidence.present)
        rows.append({
            "name": case.name, "label": case.label, "category": decision.category, "route": decision.route,
            "lang": case.lang, "lang_detail": case.lang_detail, "buried": case.buried_security,
            "evidence_ok": set(case.expected_evidence) <= present if case.expected_evidence else None,
            "missing_evidence": sorted(set(case.expected_evidence) - present),
            "stage": decision.model.stage if decision.model else "rule",
        })
    y = [r["label"] for r in rows]
    p = [r["category"] for r in rows]
    sec = [r for r in rows if r["label"] == "security"]
    caught = [r for r in sec if r["category"] == "security" or r["route"] == "review"]
    buried = [r for r in sec if r["buried"]]
    non_sec = [r for r in rows if r["label"] != "security"]
    ev = [r for r in rows if r["evidence_ok"] is not None]
    stages: dict[str, int] = {}
    for r in rows:
        stages[r["stage"]] = stages.get(r["stage"], 0) + 1
    return {
        "model_version": clf.version if clf else None,
        "n": len(rows),
        "accuracy": float(accuracy_score(y, p)),
        "macro_f1": float(f1_score(y, p, labels=sorted(set(y)), average="macro", zero_division=0)),
        "security_recall_with_review": len(caught) / len(sec) if sec else None,
        "buried_security_recall_with_review": (sum(1 for r in buried if r in caught) / len(buried)) if buried else None,
        "n_buried": len(buried),
        "cost": {
            "non_security_to_security": sum(1 for r in non_sec if r["category"] == "security"),
            "non_security_to_review": sum(1 for r in non_sec if r["route"] == "review"),
            "non_security": len(non_sec),
        },
        "review_rate": sum(1 for r in rows if r["route"] == "review") / len(rows),
        "per_language": _per(rows, "lang"),
        "per_language_detail": _per(rows, "lang_detail"),
        "evidence": {"mails": len(ev), "all_counted": sum(1 for r in ev if r["evidence_ok"]),
                     "missed": {r["name"]: r["missing_evidence"] for r in ev if not r["evidence_ok"]}},
        "stages": stages,
        "errors": [{k: r[k] for k in ("name", "label", "category", "route", "lang_detail", "stage")}
                   for r in rows if r["category"] != r["label"] and not (r["label"] == "security" and r["route"] == "review")],
    }


def _per(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    out = {}
    for value in sorted({str(r[key]) for r in rows}):
        sub = [r for r in rows if str(r[key]) == value]
        y = [r["label"] for r in sub]
        p = [r["category"] for r in sub]
        sec = [r for r in sub if r["label"] == "security"]
        out[value] = {
            "n": len(sub),
            "accuracy": float(accuracy_score(y, p)),
            "macro_f1": float(f1_score(y, p, labels=sorted(set(y)), average="macro", zero_division=0)),
            "security_recall_with_review": (sum(1 for r in sec if r["category"] == "security" or r["route"] == "review") / len(sec)) if sec else None,
        }
    return out


def format_triage(m: dict[str, Any]) -> str:
    def f(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.4f}"

    c = m["cost"]
    lines = [
        f"whole pipeline (model {m['model_version']}) on {m['n']} evaluation mails",
        f"category accuracy={m['accuracy']:.4f}  macro-F1={m['macro_f1']:.4f}",
        (f"security recall counting review={f(m['security_recall_with_review'])}  "
        f"buried security ({m['n_buried']})={f(m['buried_security_recall_with_review'])}"),
        (f"cost: {c['non_security_to_security']} non-security mails to security, {c['non_security_to_review']} to review "
        f"(of {c['non_security']}); review rate {m['review_rate']:.4f}"),
        f"evidence: every expected kind counted in {m['evidence']['all_counted']}/{m['evidence']['mails']} client mails",
        "decided by: " + ", ".join(f"{k} {v}" for k, v in sorted(m["stages"].items())),
        "",
        f"{'language':<12}{'n':>5}{'accuracy':>10}{'macro-F1':>10}{'sec recall':>12}",
    ]
    for lang, v in m["per_language_detail"].items():
        lines.append(f"{lang:<12}{v['n']:>5}{v['accuracy']:>10.4f}{v['macro_f1']:>10.4f}{f(v['security_recall_with_review']):>12}")
    for name, missing in m["evidence"]["missed"].items():
        lines.append(f"evidence not counted: {name}: {', '.join(missing)}")
    if m["errors"]:
        lines.append("")
        lines.append("wrong category:")
        for e in m["errors"]:
            lines.append(f"  {e['name']}: {e['label']} -> {e['category']} (route {e['route']}, {e['lang_detail']}, {e['stage']})")
    return "\n".join(lines)
