"""One module per subcommand; each has `register(subparsers)`."""

from __future__ import annotations

import argparse


def register_all(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from router.commands import check_config, evaluate, label, login, promote, requeue, run, status, train, triage

    for module in (run, triage, train, evaluate, promote, status, check_config, requeue, label, login):
        module.register(sub)
