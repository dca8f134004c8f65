"""A design's encoding applied to new rows, for prediction.

The fixed columns are rebuilt with the fitted encoding (same reference levels, same ``scale()``
centres); each random term's rows are mapped to the fitted levels, with −1 marking a level the
model has not seen (its random effect is then the population value, 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import DataError
from ..formula.matrices import evaluate
from .design import Design

__all__ = ["NewData", "new_data"]


@dataclass(frozen=True, eq=False)
class NewData:
    """New rows encoded like a design.

    Attributes
    ----------
    X : ndarray (n_new, p)
    offset : ndarray (n_new,) or None
    codes : dict label → ndarray of int32
        Level index per random term; −1 for a level not in the fitted data.
    term_X : dict label → ndarray (n_new, r)
    new_levels : dict label → list
        The unseen levels of each term (empty lists when all are known).
    new_codes : dict label → ndarray of int32
        Per row, the index of its level in ``new_levels[label]``; −1 for a seen level.
    rows : pandas.Index
    X_zi : ndarray (n_new, m) or None
        The zero-inflation columns of a zero-inflated family.
    """

    X: np.ndarray
    offset: np.ndarray | None
    codes: dict
    term_X: dict
    new_levels: dict
    rows: pd.Index
    X_zi: np.ndarray | None = None
    new_codes: dict | None = None


def new_data(design: Design, data: pd.DataFrame, *, allow_new_levels: bool = True) -> NewData:
    """Encode ``data`` with ``design``'s encoding.

    Parameters
    ----------
    design : Design
    data : DataFrame
        Must hold the predictors the formula uses (the response is not needed).
    allow_new_levels : bool
        If False, a grouping level not seen in the fitted data raises DataError.
    """
    from .grouping import codes_for

    if not isinstance(data, pd.DataFrame) or len(data) == 0:
        raise DataError("new data must be a non-empty pandas DataFrame")
    if any(not isinstance(c, str) for c in data.columns):
        data = data.set_axis([str(c) for c in data.columns], axis=1)  # as build_design
    ctx = design.context
    full = design.fixed_model.on(data, ctx)
    names = design.fixed_model.names
    keep = [names.index(nm) for nm in design.x_names]
    X = full[:, keep]
    offset = None
    for expr in design.parsed.offsets:
        values = np.asarray(evaluate(expr, data, ctx, what="offset"), dtype=float)
        offset = values if offset is None else offset + values
    codes, term_X, unseen, new_codes = {}, {}, {}, {}
    for t in design.terms:
        missing = [f for f in t.factors if f not in data.columns]
        if missing:
            raise DataError(
                f"new data lacks the grouping column(s) {', '.join(missing)} of term "
                f"{t.label!r}"
            )
        absent = data[list(t.factors)].isna().any(axis=1).to_numpy()
        if absent.any():
            raise DataError(
                f"the grouping column(s) {', '.join(map(repr, t.factors))} of term "
                f"{t.label!r} have missing values in the new data ({int(absent.sum())} rows, "
                f"first row {data.index[int(np.argmax(absent))]!r}); give those rows a "
                "level (a new one is predicted by new_levels=...) or drop them")
        c = codes_for(t.levels, data, t.factors)
        new = c < 0
        nc = np.full(len(c), -1, dtype=np.int32)
        if new.any():
            labels = data.loc[new, list(t.factors)].astype(str).agg(":".join, axis=1)
            levels, inverse = np.unique(labels.to_numpy(dtype=str), return_inverse=True)
            levels = [str(v) for v in levels]
            if not allow_new_levels:
                shown = ", ".join(map(repr, levels[:10])) + (" …" if len(levels) > 10 else "")
                raise DataError(
                    f"grouping factor {t.group!r} has levels not seen when fitting: {shown}; "
                    "pass new_levels='population' to predict them at the population value, "
                    "or 'sample' to draw their effects from the fitted covariance"
                )
            unseen[t.label] = levels
            nc[new] = inverse
        else:
            unseen[t.label] = []
        new_codes[t.label] = nc
        codes[t.label] = c
        term_X[t.label] = t.columns_on(data, ctx)
    X_zi = None
    if design.zi_model is not None:
        full = design.zi_model.on(data, ctx)
        names = design.zi_model.names
        X_zi = full[:, [names.index(nm) for nm in design.zi_names]]
    for arr in [X, *term_X.values()] + ([] if X_zi is None else [X_zi]):
        if not np.all(np.isfinite(arr)):
            raise DataError("new data has missing or non-finite values in the predictors")
    return NewData(X, offset, codes, term_X, unseen, data.index, X_zi, new_codes)
