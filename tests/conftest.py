"""Shared test helpers: where the reference values live."""

from __future__ import annotations

import json
from pathlib import Path

REFERENCE = Path(__file__).resolve().parent / "reference"
# The team's lme4/glmmTMB/ordinal fits (vendored copy of ../shared/reference).
SHARED_REFERENCE = REFERENCE / "shared"


def shared_fits(dataset: str) -> dict:
    """``{fit id: fit}`` of ``tests/reference/shared/<dataset>.json``."""
    data = json.loads((SHARED_REFERENCE / f"{dataset}.json").read_text())
    return {fit["id"]: fit for fit in data["fits"]}
