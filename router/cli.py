"""The `router` command line: thin commands over library calls.

Domain errors (RouterError) become one-line messages and exit 1; bad usage
exits 2 (argparse, or a UsageError from a command); success exits 0.  This is
the edge: commands return or raise, only `main` turns that into an exit code.
`main(argv)` keeps it testable.
"""

from __future__ import annotations

import argparse
import sys

from router import __version__, logs
from router.commands import check_config, evaluate, label, login, promote, requeue, run, status, train, triage
from router.commands.common import load_settings, print_json, repo_relative
from router.errors import RouterError, UsageError
from router.state import DatabaseError

# In the order `router --help` lists them.
COMMANDS = (run, triage, train, evaluate, promote, status, check_config, requeue, label, login)
__all__ = ["COMMANDS", "build_parser", "load_settings", "main", "print_json", "repo_relative"]


_FAILURES: tuple[type[Exception], ...] = (OSError, *DatabaseError)  # one line, no traceback


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
    parser = _global_parser()
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.setup(args.log_level, args.log_format)
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"router {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except RouterError as exc:
        print(f"router: error: {exc}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 1))  # e.g. 77: an OAuth2 grant was refused (router.oauth.errors)
    except KeyboardInterrupt:
        print("router: interrupted", file=sys.stderr)
        return 130
    except _FAILURES as exc:
        print(f"router: error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0

