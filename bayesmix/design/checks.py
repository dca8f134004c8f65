"""Checks of the data a design is built from: column names and types, missing values,
weights, finite values, scales and the random terms' sizes. Each refuses with a message that
names the column or term and the fix, or warns where the input can be used as it is."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..errors import DataError, MissingValuesWarning, ScaleWarning
from ..families import Family

__all__ = ["frame_of", "check_mixed_types", "drop_missing", "check_finite", "weights_of",
           "check_scales", "check_terms"]


def frame_of(data) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, dict):
        frame = pd.DataFrame(data)
    else:
        raise DataError(
            f"data must be a pandas DataFrame (or a dict of columns), not {type(data).__name__}"
        )
    if len(frame) == 0:
        raise DataError("the data has no rows")
    names = [str(c) for c in frame.columns]
    repeated = sorted({c for c in names if names.count(c) > 1})
    if repeated:
        raise DataError(
            f"the data has several columns named {', '.join(map(repr, repeated))}; give "
            "every column its own name (pandas keeps duplicates, the formula cannot tell "
            "them apart)")
    if any(not isinstance(c, str) for c in frame.columns):
        # Formulas name columns by text: 0 is written `0`.
        frame = frame.set_axis(names, axis=1)
    return frame


def check_mixed_types(data: pd.DataFrame, used: list[str]) -> None:
    """An object column holding numbers and text is refused: it would become a factor
    whose levels are the numbers (a stray string in a numeric column)."""
    for c in used:
        col = data[c]
        if col.dtype != object:
            continue
        values = col.dropna()
        numeric = values.map(lambda v: isinstance(v, (int, float, np.number))
                             and not isinstance(v, bool))
        if numeric.any() and not numeric.all():
            first = values[~numeric].iloc[0]
            row = values[~numeric].index[0]
            row = row.item() if hasattr(row, "item") else row
            raise DataError(
                f"column {c!r} holds both numbers and text (e.g. {first!r} at row "
                f"{row!r}); convert it with pd.to_numeric(..., "
                "errors='coerce') for a numeric predictor, or with .astype(str) / "
                "astype('category') for a factor")


def drop_missing(data: pd.DataFrame, used: list[str], na_action: str):
    if na_action not in ("drop", "raise"):
        raise DataError(f"na_action must be 'drop' or 'raise', not {na_action!r}")
    if not used:
        return data, 0
    missing = data[used].isna()
    counts = missing.sum()
    mask = missing.any(axis=1).to_numpy()
    n_bad = int(mask.sum())
    if n_bad == 0:
        return data, 0
    detail = ", ".join(f"{c} ({int(k):,})" for c, k in counts.items() if k)
    if na_action == "raise":
        raise DataError(
            f"{n_bad:,} of {len(data):,} rows have missing values in columns used by the "
            f"model: {detail}; drop them, impute them, or pass na_action='drop'"
        )
    if n_bad == len(data):
        raise DataError(f"every row has a missing value in a used column: {detail}")
    warnings.warn(
        f"dropped {n_bad:,} of {len(data):,} rows with missing values in {detail}",
        MissingValuesWarning,
        stacklevel=3,
    )
    return data.loc[~mask], n_bad


def check_finite(values: np.ndarray, names, what: str) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        col = int(np.nonzero(bad.any(axis=0))[0][0]) if values.ndim == 2 else None
        row = int(np.nonzero(bad.any(axis=1) if values.ndim == 2 else bad)[0][0])
        name = names[col] if col is not None else names
        raise DataError(
            f"{what} {name!r} is not finite at row {row} (a transform such as log() of a "
            "non-positive value?); fix or drop those rows"
        )


def weights_of(weights, data: pd.DataFrame) -> np.ndarray | None:
    if weights is None:
        return None
    source = weights if isinstance(weights, str) else "weights"
    if isinstance(weights, str):
        if weights not in data.columns:
            raise DataError(f"weights column {weights!r} is not in the data")
        values = data[weights]
    else:
        values = np.asarray(weights).reshape(-1)
    if not pd.api.types.is_numeric_dtype(np.asarray(values).dtype) or \
            pd.api.types.is_bool_dtype(np.asarray(values).dtype):
        raise DataError(
            f"{source!r} must hold numbers (prior weights), not {np.asarray(values).dtype} "
            "values; convert them with pd.to_numeric")
    w = np.asarray(values, dtype=float)
    if not isinstance(weights, str):
        if len(w) != len(data):
            raise DataError(
                f"weights has {len(w)} entries but the data has {len(data)} rows used; pass a "
                "column name so rows dropped for missing values are dropped from it too"
            )
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise DataError("weights must be finite and non-negative")
    return w


# A ratio of column SDs beyond this (or a Gaussian response SD outside its inverse range)
# puts the optimizers and samplers at the edge of floating point (lme4 checks scales too).
_SCALE_RATIO = 1e5


def check_scales(X: np.ndarray, names, y: np.ndarray, family: Family) -> None:
    sds = {}
    for j, name in enumerate(names):
        col = X[:, j]
        sd = float(np.std(col))
        if sd > 0 and not np.all((col == 0) | (col == 1)):
            sds[name] = sd
    message = None
    if len(sds) > 1 and max(sds.values()) / min(sds.values()) > _SCALE_RATIO:
        big, small = max(sds, key=sds.get), min(sds, key=sds.get)
        message = (f"the fixed-effect columns are on very different scales ({big!r} SD "
                   f"{sds[big]:.3g}, {small!r} SD {sds[small]:.3g})")
    elif sds and not 1 / _SCALE_RATIO <= max(sds.values()) <= _SCALE_RATIO:
        big = max(sds, key=sds.get)
        message = f"the fixed-effect column {big!r} has SD {sds[big]:.3g}"
    if message is None and family.name == "gaussian":
        sd = float(np.std(y))
        if sd > 0 and not 1 / _SCALE_RATIO <= sd <= _SCALE_RATIO:
            message = f"the response has SD {sd:.3g}"
    if message:
        warnings.warn(
            f"{message}: rescale (scale(x), or other units) so values are of order 1 — "
            "optimizers and samplers lose precision, and short NUTS runs can fail, at "
            "extreme scales", ScaleWarning, stacklevel=3)


def check_terms(terms, n: int, family: Family) -> None:
    for t in terms:
        if t.m < 2:
            raise DataError(
                f"grouping factor {t.group!r} has a single level ({t.levels[0]!r}) in the "
                f"{n:,} rows used; a random effect needs at least two levels — drop the term "
                "or use the variable as a fixed effect"
            )
        if family.name == "gaussian" and t.m >= n:
            raise DataError(
                f"grouping factor {t.group!r} has {t.m:,} levels for {n:,} rows: every row is "
                "its own group, so its variance cannot be told apart from the residual "
                "variance; remove the term (or use a non-Gaussian family)"
            )
        if family.name == "gaussian" and t.q >= n and t.m < n:
            raise DataError(
                f"term ({' + '.join(t.columns)} | {t.group}) has {t.q:,} random effects for "
                f"{n:,} rows; with the residual variance they are unidentifiable — simplify "
                "the term"
            )
