#!/usr/bin/env bash
# One command: set up, run the gates (ruff, mypy; configured in pyproject.toml)
# and the whole test suite (real Dovecot, Cyrus, Courier and aiosmtpd). Any finding fails it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check router tests bench
.venv/bin/mypy
exec .venv/bin/python -m pytest -q "$@"
