#!/bin/sh
# Set up if needed, then run the test suite (default tier: pytest's `-m "not slow"`).
# Extra arguments go to pytest, e.g. `sh scripts/test.sh -m slow` for the slow tier.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
