"""One module per subcommand; each has `register(subparsers)`."""

from __future__ import annotations

import argparse


def register_all(sub: argparse._SubParsersAction) -> None:
    from router.commands import check_config, evaluate, label, promote, requeue, run, status, train, triage

    for module in (run, triage, train, evaluate, promote, status, check_config, requeue, label):
        module.register(sub)
