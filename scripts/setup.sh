#!/bin/sh
# Prepare everything bayesmix needs, idempotently: Debian packages when missing (SuiteSparse
# and OpenBLAS for CHOLMOD and PyTensor, a C compiler and Python headers for the packages that
# build from source), then a virtual environment in .venv with bayesmix and its dev extras.
# Safe to run again: it only does what is missing. PYTHON=/path/to/python3.11 overrides the
# interpreter.
set -eu
cd "$(dirname "$0")/.."

find_python() {
    for candidate in "${PYTHON:-}" python3.11 python3 python; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    echo "bayesmix needs Python >= 3.11; set PYTHON=/path/to/python3.11" >&2
    exit 1
}
PY=$(find_python)

missing=""
if command -v dpkg >/dev/null 2>&1; then
    for pkg in libsuitesparse-dev libopenblas-dev; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
    done
    command -v gcc >/dev/null 2>&1 && command -v g++ >/dev/null 2>&1 ||
        missing="$missing build-essential"
    include=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
    [ -f "$include/Python.h" ] || missing="$missing python3-dev"
    [ -x .venv/bin/python ] || "$PY" -c 'import ensurepip' >/dev/null 2>&1 ||
        missing="$missing python3-venv"
fi
if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing Debian packages:$missing; run: sudo apt-get install -y$missing" >&2
        exit 1
    fi
    echo "installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.bayesmix-installed
want=$(cat pyproject.toml | cksum)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "installing Python packages into .venv (first run: a few minutes)"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[dev]"
    echo "$want" > "$stamp"
fi
