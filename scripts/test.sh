#!/usr/bin/env bash
# One command: set up and run the whole test suite (real Dovecot, Cyrus, Courier and aiosmtpd).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest -q "$@"
