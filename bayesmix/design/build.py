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

from ..errors import DataError, FamilyError, MissingValuesWarning, RankDeficiencyWarning
from ..families import Family, get_family
from ..formula.matrices import ModelColumns, columns_used, evaluate, model_columns
from ..formula.parser import ParsedFormula, parse_formula
from .checks import (check_finite, check_mixed_types, check_scales, check_terms,
                     drop_missing, frame_of, weights_of)
from .design import Design
from .lambda_template import lambda_template
from .random_terms import build_terms
from .response import build_response
from .zmatrix import z_matrix

__all__ = ["build_design"]

# Relative residual norm below which a fixed-effect column counts as a linear combination of
# the columns before it (R's rankMatrix / lm use 1e-7 on the QR diagonal).
_RANK_TOL = 1e-7


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
    check_finite(X, names, "fixed-effect column")
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
    check_finite(X, names, "zero-inflation column")
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
    frame = frame_of(data)
    used = _used_columns(parsed, frame, weights, zi_rhs)
    check_mixed_types(frame, used)
    frame, n_dropped = drop_missing(frame, used, na_action)

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
    check_finite(response.y, response.name, "response")
    fixed_model, X, x_names = _fixed_part(parsed, frame, fam, context)
    check_scales(X, x_names, response.y, fam)
    offset, offset_models = None, []
    for expr in parsed.offsets:
        values = np.asarray(evaluate(expr, frame, context, what="offset"), dtype=float)
        check_finite(values, f"offset({expr})", "offset")
        offset = values if offset is None else offset + values
    w = weights_of(weights, frame)
    zi_model, X_zi, zi_names = None, None, ()
    if zi_rhs is not None:
        zi_model, X_zi, zi_names = _zero_inflation_part(zi_rhs, frame, context)

    n = len(frame)
    terms, theta_lower, theta_names = build_terms(parsed.random, frame, context)
    for t in terms:
        check_finite(t.X, t.columns, f"column of random term ({t.group})")
    check_terms(terms, n, fam)
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
