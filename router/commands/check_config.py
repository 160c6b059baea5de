"""`router check-config`: validate config.toml with errors that name the key."""

from __future__ import annotations

import argparse

from router.commands.common import load_settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check-config", help="validate the configuration file", description="Validate config.toml; errors name the key.")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    source = settings.source or "built-in defaults"
    print(f"config OK: {source} ({len(settings.issue_types)} issue types, model {settings.model_path})")
    return 0
