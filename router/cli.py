"""The `router` command line: thin commands over library calls.

Domain errors (RouterError) become one-line messages and exit 1; bad usage
exits 2 (argparse); success exits 0.  `main(argv)` keeps it testable.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

from router import __version__, config, logs
from router.errors import RouterError


def _global_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="router",
        description="Classify and route inbound support mail (Chinese and English).",
    )
    p.add_argument("--config", metavar="PATH", help="config file (default: $ROUTER_CONFIG, then ./config.toml, then built-in defaults)")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="log level (default INFO)")
    p.add_argument("--log-format", default="json", choices=["json", "text"], help="log format on stderr (default json)")
    p.add_argument("--version", action="version", version=f"router {__version__}")
    return p


def build_parser() -> argparse.ArgumentParser:
    from router.commands import register_all

    parser = _global_parser()
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    register_all(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.setup(args.log_level, args.log_format)
    try:
        return int(args.func(args) or 0)
    except RouterError as exc:
        print(f"router: error: {exc}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 1))  # e.g. 77: an OAuth2 grant was refused (router.oauth.errors)
    except KeyboardInterrupt:
        print("router: interrupted", file=sys.stderr)
        return 130
    except (OSError, sqlite3.Error) as exc:
        print(f"router: error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0


def load_settings(args: argparse.Namespace) -> config.Settings:
    return config.load(args.config)


def print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False))


def repo_relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
