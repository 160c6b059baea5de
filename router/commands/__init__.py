"""One module per subcommand; each has `register(subparsers)`."""

from __future__ import annotations

import argparse


def register_all(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from router.commands import check_config, triage

    for module in (triage, check_config):
        module.register(sub)
    for name in ("train", "evaluate", "promote", "run", "status", "requeue", "label"):
        try:
            module = __import__(f"router.commands.{name.replace('-', '_')}", fromlist=["register"])
        except ModuleNotFoundError:
            continue
        module.register(sub)
