"""`router triage FILE... [--json]`: offline decision records (SPEC 8).

No network and no side effects: the files are only read.  A file that
cannot be read gets a one-line error on stderr (exit 1 at the end) and the
others are still triaged; unreadable mail gets a quarantine record.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
import sys
from pathlib import Path

from router import classify, pipeline
from router.commands.common import load_settings, print_json
from router.config import Settings
from router.errors import RouterError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("triage", help="decide what to do with .eml files, offline", description="Print the decision record of each .eml file, in order, with no side effects.")
    p.add_argument("files", nargs="+", metavar="FILE", help=".eml files (raw RFC 5322 messages)")
    p.add_argument("--json", action="store_true", help="print JSON Lines, one record per file")
    p.add_argument("--model", type=Path, help="model file (default: [model] path in config)")
    p.set_defaults(func=run)


def load_model(settings: Settings, explicit: Path | None) -> classify.Classifier | None:
    """The configured model, or None when none has been trained yet."""
    path = explicit or settings.model_path
    if explicit is None and not path.exists():
        return None
    return classify.load(path)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    classifier = load_model(settings, args.model)
    failures = 0
    rows = []
    for name in args.files:
        try:
            raw = _read(Path(name))
        except RouterError as exc:
            print(f"router: error: {exc}", file=sys.stderr)
            failures += 1
            continue
        _mail, decision = pipeline.triage(raw, settings, classifier)
        record = replace(decision, file=name).to_record()
        if args.json:
            print_json(record)
            sys.stdout.flush()
        else:
            rows.append(record)
    if rows:
        print(format_table(rows))
    return 1 if failures else 0


def _read(path: Path) -> bytes:
    if path.is_dir():
        raise RouterError(f"{path}: is a directory, not a message file")
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise RouterError(f"{path}: no such file") from None
    except PermissionError:
        raise RouterError(f"{path}: permission denied") from None
    except OSError as exc:
        raise RouterError(f"{path}: cannot read ({exc.strerror})") from None


def format_table(records: list[dict]) -> str:
    """A readable table: one line per message, the main facts of the record."""
    header = ("FILE", "ROUTE", "CATEGORY", "CONF", "LANG", "SUBJECT", "SECRETS", "MISSING", "ACTIONS")
    lines = [header]
    for r in records:
        subj = r["subject"]
        subject = subj["status"] + (f":{subj['type']}" if subj["type"] else "")
        actions = ",".join(a["type"] for a in r["actions"])
        lines.append(
            (
                _short(r.get("file", ""), 40),
                r["route"],
                r["category"],
                f"{r['confidence']:.2f}",
                r["language"],
                subject,
                ",".join(r["secrets"]) or "-",
                ",".join(r["evidence"]["missing"]) or "-",
                actions,
            )
        )
    widths = [max(len(str(row[i])) for row in lines) for i in range(len(header))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in lines)


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else "…" + text[-(n - 1):]
