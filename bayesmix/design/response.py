"""The response vector, checked against what the family can take.

- gaussian: numeric.
- bernoulli: 0/1, booleans, or a two-level factor (second level = success, as R).
- binomial: ``cbind(successes, failures)``, or a bernoulli-style response (one trial each).
- poisson: non-negative integer counts.
- ordinal: a factor (its category order is the order of the outcomes) or integer scores.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..errors import FamilyError
from ..families import Family
from ..formula.matrices import evaluate
from ..formula.parser import ParsedFormula

__all__ = ["Response", "build_response"]


@dataclass(frozen=True, eq=False)
class Response:
    """y as float64 (successes for binomial, 0-based category codes for ordinal), trials for
    binomial, and the outcome labels for categorical responses."""

    y: np.ndarray
    trials: np.ndarray | None
    name: str
    levels: tuple | None


def _is_categorical(values: Any) -> bool:
    return isinstance(getattr(values, "dtype", None), pd.CategoricalDtype)


def _two_levels(values, name: str, family: Family) -> tuple[np.ndarray, tuple | None]:
    """0/1 floats from a binary response; second level = success."""
    if _is_categorical(values):
        cats = list(values.cat.categories)
        if len(cats) != 2:
            raise FamilyError(
                f"the {family.name} response {name!r} is a factor with {len(cats)} levels "
                f"({', '.join(map(str, cats[:6]))}); it needs exactly two (the second is the "
                "success). Use family='ordinal' for ordered outcomes with more levels."
            )
        return np.asarray(values.cat.codes, dtype=float), tuple(cats)
    arr = np.asarray(values)
    if arr.dtype == bool:
        return arr.astype(float), (False, True)
    if arr.dtype.kind in "OUS":
        levels = tuple(sorted(pd.unique(arr)))
        if len(levels) != 2:
            raise FamilyError(
                f"the {family.name} response {name!r} has {len(levels)} distinct values; "
                "it needs two (the second in sorted order is the success), or 0/1"
            )
        return (arr == levels[1]).astype(float), levels
    arr = arr.astype(float)
    bad = ~np.isin(arr, (0.0, 1.0))
    if bad.any():
        i = int(np.argmax(bad))
        hint = (
            " For counts out of several trials write cbind(successes, failures) with "
            "family='binomial'."
            if family.name == "bernoulli"
            else ""
        )
        raise FamilyError(
            f"the {family.name} response {name!r} must be 0/1, boolean or a two-level factor; "
            f"row {i} has {arr[i]!r}.{hint}"
        )
    return arr, None


def _counts(values: np.ndarray, what: str, family: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    bad = (arr < 0) | (arr != np.round(arr))
    if bad.any():
        rows = np.flatnonzero(bad)
        i = int(rows[0])
        hint = ("; for a non-negative continuous response use family='gamma' or "
                "'lognormal' (or 'gaussian')" if family != "binomial" else "")
        raise FamilyError(
            f"family {family!r} needs non-negative integer {what}; {len(rows)} of {len(arr)} "
            f"rows are not (first: row {i}, value {float(arr[i])!r}){hint}"
        )
    return arr


def build_response(
    parsed: ParsedFormula,
    data: pd.DataFrame,
    family: Family,
    context: Mapping[str, Any] | None = None,
) -> Response:
    """Evaluate and check the left-hand side of the formula for ``family``."""
    name = parsed.response
    if parsed.response_args is not None:
        if family.name != "binomial":
            raise FamilyError(
                f"cbind(successes, failures) is a binomial response; use family='binomial' "
                f"(got {family.name!r})"
            )
        s_expr, f_expr = parsed.response_args
        succ = _counts(evaluate(s_expr, data, context, what="successes"), "successes", "binomial")
        fail = _counts(evaluate(f_expr, data, context, what="failures"), "failures", "binomial")
        return Response(succ, succ + fail, name, None)

    values = evaluate(name, data, context, what="response")
    if family.name in ("bernoulli", "binomial"):
        y, levels = _two_levels(values, name, family)
        trials = np.ones_like(y) if family.name == "binomial" else None
        return Response(y, trials, name, levels)
    if family.name == "ordinal":
        return _ordinal(values, name)
    if _is_categorical(values) or np.asarray(values).dtype.kind in "OUSb":
        raise FamilyError(
            f"the {family.name} response {name!r} is not numeric; use family='bernoulli' for "
            "two levels or family='ordinal' for ordered categories"
        )
    y = np.asarray(values, dtype=float)
    if family.name in ("poisson", "negbinomial", "negbinomial1") or family.zero_inflated:
        y = _counts(y, "counts", family.name)
    _check_support(y, name, family.name)
    return Response(y, None, name, None)


# (test of the rows outside the support, the support in words, the usual remedy)
_SUPPORT = {
    "gamma": (lambda y: y <= 0, "y > 0",
              "drop those rows, or model them apart (a hurdle); a log-normal or gamma "
              "response cannot be 0"),
    "lognormal": (lambda y: y <= 0, "y > 0",
                  "drop those rows, or model log(y + c) with family='gaussian'"),
    "beta": (lambda y: (y <= 0) | (y >= 1), "0 < y < 1",
             "squeeze the values into the open interval, e.g. (y·(n − 1) + 0.5)/n "
             "(Smithson & Verkuilen), or use family='binomial' for counts out of a total"),
}


def _check_support(y: np.ndarray, name: str, family: str) -> None:
    """A response outside the family's support is refused with the count and the remedy."""
    if family not in _SUPPORT:
        return
    outside, support, remedy = _SUPPORT[family]
    with np.errstate(invalid="ignore"):
        bad = outside(y)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise FamilyError(
            f"family {family!r} needs {support}, but the response {name!r} is outside that "
            f"in {len(rows)} of {len(y)} rows (first: row {int(rows[0])}, value "
            f"{float(y[rows[0]])!r}); {remedy}"
        )


def _ordinal(values, name: str) -> Response:
    if _is_categorical(values):
        codes = np.asarray(values.cat.codes, dtype=np.int64)
        cats = list(values.cat.categories)
    else:
        codes, uniques = pd.factorize(np.asarray(values), sort=True)
        cats = list(uniques)
    used = np.bincount(codes, minlength=len(cats)) > 0
    if not used.all():
        unused = [str(c) for c, u in zip(cats, used) if not u]
        warnings.warn(
            f"ordinal response {name!r}: categories never observed were dropped: "
            f"{', '.join(unused)}",
            stacklevel=4,
        )
        codes = (np.cumsum(used) - 1)[codes]
        cats = [c for c, u in zip(cats, used) if u]
    if len(cats) < 2:
        raise FamilyError(f"the ordinal response {name!r} needs at least two observed categories")
    return Response(codes.astype(float), None, name, tuple(cats))
