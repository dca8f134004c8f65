"""Grouping factors: integer codes and level labels, as R's ``factor()`` and ``a:b`` make them.

A Categorical keeps its category order (unused categories dropped, as lme4 does); any other
column is sorted like R's ``factor()``. An interaction ``a:b`` has the observed combinations as
levels, ``a`` varying slowest, labelled ``"la:lb"`` (lme4's order and labels).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = ["Grouping", "grouping", "codes_for"]


@dataclass(frozen=True, eq=False)
class Grouping:
    """Codes (int32, 0 … m−1) and level labels of one grouping factor."""

    codes: np.ndarray
    levels: pd.Index


def _single(column: pd.Series) -> Grouping:
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = np.asarray(column.cat.codes, dtype=np.int64)
        used = np.bincount(codes, minlength=len(column.cat.categories)) > 0
        if used.all():
            return Grouping(codes.astype(np.int32), pd.Index(column.cat.categories))
        remap = np.cumsum(used) - 1
        return Grouping(
            remap[codes].astype(np.int32), pd.Index(column.cat.categories[used])
        )
    codes, uniques = pd.factorize(column, sort=True)
    return Grouping(codes.astype(np.int32), pd.Index(uniques))


def grouping(data: pd.DataFrame, factors: tuple[str, ...]) -> Grouping:
    """The grouping factor of the interaction of ``factors`` (one or more columns)."""
    for f in factors:
        if f not in data.columns:
            cols = ", ".join(map(str, list(data.columns)[:30]))
            raise DataError(
                f"grouping factor {f!r} is not a column of the data; available columns: {cols}"
            )
    parts = [_single(data[f]) for f in factors]
    if len(parts) == 1:
        return parts[0]
    combined = np.zeros(len(data), dtype=np.int64)
    for part in parts:
        combined = combined * len(part.levels) + part.codes
    codes, uniques = pd.factorize(combined, sort=True)
    labels = [np.asarray(p.levels.astype(str)) for p in parts]
    pieces = []
    rest = uniques.copy()
    for part, lab in zip(reversed(parts), reversed(labels)):
        pieces.append(lab[rest % len(part.levels)])
        rest //= len(part.levels)
    pieces.reverse()
    joined = pieces[0].astype(object)
    for piece in pieces[1:]:
        joined = joined + ":" + piece.astype(object)
    return Grouping(codes.astype(np.int32), pd.Index(joined))


def codes_for(levels: pd.Index, data: pd.DataFrame, factors: tuple[str, ...]) -> np.ndarray:
    """Codes of new rows against known ``levels``; −1 marks a level not seen when fitting."""
    if len(factors) == 1:
        values = data[factors[0]]
        if isinstance(values.dtype, pd.CategoricalDtype):
            values = values.astype(levels.dtype if levels.dtype != object else object)
        try:
            codes = np.asarray(levels.get_indexer(values), dtype=np.int32)
        except (TypeError, ValueError):
            codes = np.full(len(values), -1, dtype=np.int32)
        missing = codes < 0
        if missing.any():
            # A level given as another type (the number 308 for the level "308"): its label.
            by_label = levels.astype(str).get_indexer(values[missing].astype(str))
            codes[missing] = by_label
        return codes
    joined = data[factors[0]].astype(str).astype(object)
    for f in factors[1:]:
        joined = joined + ":" + data[f].astype(str).astype(object)
    return np.asarray(levels.get_indexer(joined), dtype=np.int32)
