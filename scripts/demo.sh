#!/usr/bin/env bash
# One command: set up, start a local mail sandbox with the sample mail, run the
# daemon once over it, and show where every message went.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m router.demo
