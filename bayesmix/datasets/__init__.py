"""Classic multilevel data sets, shipped with bayesmix (see ``PROVENANCE.md``).

Factors come back as pandas Categoricals whose categories follow R's level order, so that
treatment contrasts pick the same reference level as R and coefficient names match lme4's.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import pandas as pd

from ..errors import DataError

__all__ = ["load", "names", "describe"]

_PACKAGE = "bayesmix.datasets"


@lru_cache(maxsize=1)
def _manifest() -> dict:
    text = resources.files(_PACKAGE).joinpath("data/manifest.json").read_text()
    return json.loads(text)


def names() -> list[str]:
    """Names of the bundled data sets, in alphabetical order."""
    return sorted(_manifest(), key=str.lower)


def describe(name: str) -> dict:
    """The manifest entry of a data set: source package, version, columns and their R classes."""
    return _manifest()[_canonical(name)]


def _canonical(name: str) -> str:
    lookup = {k.lower(): k for k in _manifest()}
    try:
        return lookup[name.lower()]
    except (KeyError, AttributeError):
        raise DataError(
            f"no bundled data set named {name!r}; available: {', '.join(names())}"
        ) from None


def load(name: str) -> pd.DataFrame:
    """Load a bundled data set as a DataFrame.

    Parameters
    ----------
    name : str
        Data set name, case-insensitive (``"sleepstudy"``, ``"InstEval"``, ...); see
        :func:`names`.

    Returns
    -------
    pandas.DataFrame
        Numeric columns as float or int; factors as ``pd.Categorical`` with R's level order
        (``ordered=True`` for R's ordered factors). A fresh copy on every call.
    """
    entry = _manifest()[_canonical(name)]
    factor_cols = {c["name"]: c for c in entry["columns"] if "levels" in c}
    with resources.files(_PACKAGE).joinpath(f"data/{entry['file']}").open("rb") as fh:
        frame = pd.read_csv(fh, dtype={col: str for col in factor_cols}, keep_default_na=True)
    for col, info in factor_cols.items():
        frame[col] = pd.Categorical(
            frame[col],
            categories=info["levels"],
            ordered=info["r_class"] == "ordered_factor",
        )
        if frame[col].isna().sum() != info.get("n_missing", 0):
            raise DataError(f"data set {name!r}: column {col!r} has values outside its levels")
    for col in entry["columns"]:
        if col.get("r_class") == "integer" and frame[col["name"]].notna().all():
            frame[col["name"]] = frame[col["name"]].astype("int64")
        elif col.get("r_class") == "numeric":
            frame[col["name"]] = frame[col["name"]].astype("float64")
    return frame
