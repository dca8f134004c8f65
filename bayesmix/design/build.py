"""``build_design``: formula + data frame → :class:`Design`.

The steps mirror lme4's ``lFormula``: parse, drop incomplete rows (``na.omit``), evaluate the
response, the fixed part (dropping rank-deficient columns) and the offsets, build the random
terms, then check the model is estimable before anything is fitted.
"""

from __future__ import annotations

import warnings
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..errors import (DataError, FamilyError, MissingValuesWarning, RankDeficiencyWarning,
                      ScaleWarning)
from ..families import Family, get_family
from ..formula.matrices import ModelColumns, columns_used, evaluate, model_columns
from ..formula.parser import ParsedFormula, parse_formula
from .design import Design
from .lambda_template import lambda_template
from .random_terms import build_terms
from .response import build_response
from .zmatrix import z_matrix

__all__ = ["build_design"]

# Relative residual norm below which a fixed-effect column counts as a linear combination of
# the columns before it (R's rankMatrix / lm use 1e-7 on the QR diagonal).
_RANK_TOL = 1e-7


def _frame(data) -> pd.DataFrame:
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


def _check_mixed_types(data: pd.DataFrame, used: list[str]) -> None:
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


def _used_columns(parsed: ParsedFormula, data: pd.DataFrame, weights,
                  zi_rhs: str | None = None) -> list[str]:
    texts = [parsed.response, parsed.fixed, *parsed.offsets]
    if zi_rhs is not None:
        texts.append(zi_rhs)
    texts += [t.expr for t in parsed.random]
    used: list[str] = []
    for text in texts:
        used += [c for c in columns_used(text, data) if c not in used]
    for term in parsed.random:
        used += [f for f in term.factors if f in data.columns and f not in used]
    if isinstance(weights, str) and weights in data.columns and weights not in used:
        used.append(weights)
    return used


def _drop_missing(data: pd.DataFrame, used: list[str], na_action: str):
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


def _independent_columns(X: np.ndarray) -> np.ndarray:
    """Indices of the columns kept, left to right, dropping each column that is (numerically)
    a linear combination of the ones kept before it, as R does for rank-deficient X."""
    norms = np.sqrt(np.einsum("ij,ij->j", X, X))
    Xs = X / np.where(norms > 0, norms, 1.0)
    G = Xs.T @ Xs
    kept: list[int] = []
    L = np.zeros((0, 0))
    for j in range(X.shape[1]):
        if norms[j] == 0:
            continue
        g = G[kept, j]
        w = np.linalg.solve(L, g) if kept else g
        resid2 = G[j, j] - w @ w
        if resid2 <= _RANK_TOL**2 * 1e2:
            continue
        k = len(kept)
        L_new = np.zeros((k + 1, k + 1))
        L_new[:k, :k] = L
        L_new[k, :k] = w
        L_new[k, k] = np.sqrt(resid2)
        L = L_new
        kept.append(j)
    return np.array(kept, dtype=np.intp)


def _fixed_part(
    parsed: ParsedFormula, data: pd.DataFrame, family: Family, context
) -> tuple[ModelColumns, np.ndarray, tuple[str, ...]]:
    model = model_columns(parsed.fixed, data, context, what="fixed effects")
    X, names = model.values, model.names
    if family.name == "ordinal" and "(Intercept)" in names:
        # The thresholds play the intercept's part (ordinal::clmm has none in X).
        keep = [i for i, nm in enumerate(names) if nm != "(Intercept)"]
        X, names = X[:, keep], tuple(names[i] for i in keep)
    _check_finite(X, names, "fixed-effect column")
    if X.shape[1]:
        kept = _independent_columns(X)
        if len(kept) < X.shape[1]:
            dropped = [names[i] for i in range(X.shape[1]) if i not in set(kept)]
            warnings.warn(
                f"the fixed-effect model matrix is rank deficient; dropping "
                f"{len(dropped)} column(s): {', '.join(dropped)}",
                RankDeficiencyWarning,
                stacklevel=3,
            )
            X, names = X[:, kept], tuple(names[i] for i in kept)
    return model, np.ascontiguousarray(X), names


def _check_finite(values: np.ndarray, names, what: str) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        col = int(np.nonzero(bad.any(axis=0))[0][0]) if values.ndim == 2 else None
        row = int(np.nonzero(bad.any(axis=1) if values.ndim == 2 else bad)[0][0])
        name = names[col] if col is not None else names
        raise DataError(
            f"{what} {name!r} is not finite at row {row} (a transform such as log() of a "
            "non-positive value?); fix or drop those rows"
        )


def _weights(weights, data: pd.DataFrame) -> np.ndarray | None:
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


def _check_scales(X: np.ndarray, names, y: np.ndarray, family: Family) -> None:
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


def _check_terms(terms, n: int, family: Family) -> None:
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


def _zero_inflation(zi, fam: Family) -> tuple[Family, str | None]:
    """The family and the zero-inflation right-hand side a ``zi=`` argument asks for."""
    if zi is None:
        return fam, ("1" if fam.zero_inflated else None)
    if not isinstance(zi, str):
        raise DataError(f"zi must be a one-sided formula such as '~ mined', not {zi!r}")
    if fam.name in ("poisson", "negbinomial") and fam.link.name == "log":
        fam = get_family(f"zero_inflated_{fam.name}")
    elif not fam.zero_inflated:
        raise FamilyError(
            f"zero-inflation (zi={zi!r}) applies to the poisson and negbinomial families "
            f"(log link), not {fam.name!r} with the {fam.link.name!r} link"
        )
    text = zi.strip()
    if "~" in text:
        lhs, _, text = text.partition("~")
        if lhs.strip():
            raise DataError(
                f"the zero-inflation formula {zi!r} has a left-hand side; write it one-sided, "
                "e.g. zi='~ mined'"
            )
    text = text.strip()
    if not text:
        raise DataError(f"the zero-inflation formula {zi!r} is empty; use zi='~ 1' for a "
                        "constant zero-inflation probability")
    if "|" in text:
        raise DataError(
            f"the zero-inflation formula {zi!r} has a random term; zero-inflation takes fixed "
            "effects only — move the grouping factor into the count formula, or use it as a "
            "fixed effect here"
        )
    return fam, text


def _zero_inflation_part(rhs: str, data: pd.DataFrame, context):
    model = model_columns(rhs, data, context, what="zero-inflation formula")
    X, names = model.values, model.names
    _check_finite(X, names, "zero-inflation column")
    if X.shape[1] == 0:
        raise DataError(f"the zero-inflation formula '~ {rhs}' has no columns; use '~ 1'")
    kept = _independent_columns(X)
    if len(kept) < X.shape[1]:
        dropped = [names[i] for i in range(X.shape[1]) if i not in set(kept)]
        warnings.warn(
            f"the zero-inflation model matrix is rank deficient; dropping {len(dropped)} "
            f"column(s): {', '.join(dropped)}", RankDeficiencyWarning, stacklevel=3)
        X, names = X[:, kept], tuple(names[i] for i in kept)
    return model, np.ascontiguousarray(X), tuple(names)


def build_design(
    formula: str,
    data: pd.DataFrame,
    family: str | Family = "gaussian",
    *,
    link: str | None = None,
    zi: str | None = None,
    weights: str | np.ndarray | None = None,
    na_action: str = "drop",
    context: Mapping[str, Any] | None = None,
) -> Design:
    """Build the design of an lme4-style formula on a data frame.

    Parameters
    ----------
    formula : str
        ``"y ~ 1 + x + (1 + x | g) + (1 | h)"``; see the README for the syntax.
    data : pandas.DataFrame
    family : str or Family
        A name of :data:`bayesmix.families.FAMILIES` (``"gaussian"``, ``"bernoulli"``,
        ``"binomial"``, ``"poisson"``, ``"negbinomial"``, ``"gamma"``, ``"beta"``, ...; see
        :class:`bayesmix.families.Family`) or a Family.
    link : str, optional
        Overrides the family's canonical link (``"probit"``, ``"cloglog"``, ...).
    zi : str, optional
        Zero-inflation formula (``"~ mined"``, glmmTMB's ``ziformula``): logit π = X_zi γ,
        fixed effects only. Given with ``"poisson"`` or ``"negbinomial"`` it makes the family
        zero-inflated; the zero-inflated families default to ``"~ 1"``.
    weights : str or array, optional
        Prior weights: a column name or an array of one weight per data row.
    na_action : {"drop", "raise"}
        Rows with missing values in the columns the model uses are dropped with a warning
        that counts them (lme4's ``na.omit``), or raise.
    context : mapping, optional
        Extra functions or values the formula may call, besides NumPy and R's elementary
        transforms.

    Returns
    -------
    Design
    """
    fam, zi_rhs = _zero_inflation(zi, get_family(family, link))
    parsed = parse_formula(formula)
    frame = _frame(data)
    used = _used_columns(parsed, frame, weights, zi_rhs)
    _check_mixed_types(frame, used)
    frame, n_dropped = _drop_missing(frame, used, na_action)

    response = build_response(parsed, frame, fam, context)
    if response.trials is not None and np.any(response.trials == 0):
        empty = response.trials == 0
        if empty.all():
            raise DataError("every row has 0 trials (cbind(0, 0)): there is nothing to fit")
        warnings.warn(
            f"dropped {int(empty.sum()):,} of {len(empty):,} rows with 0 trials "
            "(cbind(0, 0)): they carry no information (R's glm gives them weight 0)",
            MissingValuesWarning, stacklevel=2)
        frame = frame.loc[~empty]
        n_dropped += int(empty.sum())
        response = build_response(parsed, frame, fam, context)
    _check_finite(response.y, response.name, "response")
    fixed_model, X, x_names = _fixed_part(parsed, frame, fam, context)
    _check_scales(X, x_names, response.y, fam)
    offset, offset_models = None, []
    for expr in parsed.offsets:
        values = np.asarray(evaluate(expr, frame, context, what="offset"), dtype=float)
        _check_finite(values, f"offset({expr})", "offset")
        offset = values if offset is None else offset + values
    w = _weights(weights, frame)
    zi_model, X_zi, zi_names = None, None, ()
    if zi_rhs is not None:
        zi_model, X_zi, zi_names = _zero_inflation_part(zi_rhs, frame, context)

    n = len(frame)
    terms, theta_lower, theta_names = build_terms(parsed.random, frame, context)
    for t in terms:
        _check_finite(t.X, t.columns, f"column of random term ({t.group})")
    _check_terms(terms, n, fam)
    Z = z_matrix(terms, n)
    template = lambda_template(terms, Z.shape[1])

    arrays = [response.y, response.trials, w, offset, X, X_zi, Z.data, Z.indices, Z.indptr]
    arrays += [t.X for t in terms] + [t.codes for t in terms]
    for arr in arrays:
        if arr is not None:
            arr.flags.writeable = False

    return Design(
        formula=formula,
        parsed=parsed,
        family=fam,
        y=response.y,
        trials=response.trials,
        weights=w,
        offset=offset,
        response_name=response.name,
        response_levels=response.levels,
        X=X,
        x_names=x_names,
        terms=terms,
        Z=Z,
        theta_lower=theta_lower,
        theta_names=theta_names,
        lambda_template=template,
        rows=frame.index,
        n_dropped=n_dropped,
        fixed_model=fixed_model,
        offset_models=tuple(offset_models),
        context=context,
        zi_formula=None if zi_rhs is None else f"~ {zi_rhs}",
        X_zi=X_zi,
        zi_names=zi_names,
        zi_model=zi_model,
        weights_column=weights if isinstance(weights, str) else None,
    )
