#!/bin/sh
# The main job: set up if needed, then fit a model on a bundled data set.
# Default: Reaction ~ Days + (Days | Subject) on sleepstudy. Arguments are passed to
# `python -m bayesmix` (see `sh scripts/run.sh --help`).
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
if [ "$#" -eq 0 ]; then
    set -- fit sleepstudy "Reaction ~ Days + (Days | Subject)"
fi
exec .venv/bin/python -m bayesmix "$@"
