"""Every `router` command is documented where a reader looks: README.md or docs/."""

from __future__ import annotations

import argparse
from pathlib import Path

from router.cli import build_parser

REPO = Path(__file__).resolve().parent.parent


def _commands() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(sub.choices)


def test_every_command_is_documented_in_the_readme_or_docs() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))])
    commands = _commands()
    assert len(commands) >= 9
    missing = [c for c in commands if f"router {c}" not in text]
    assert missing == [], f"commands with no `router <command>` in README.md or docs/: {missing}"
