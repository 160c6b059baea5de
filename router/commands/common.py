"""What every command shares: reading the settings, printing JSON.

Commands live above the library and below `router.cli`; they import from
here, never from `router.cli`, so the layers stay acyclic.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from router import config


def load_settings(args: argparse.Namespace) -> config.Settings:
    return config.load(args.config)


def print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False))


def repo_relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
