"""Random terms of a design: grouping codes, columns, and θ in lme4's order.

lme4 first expands ``(a + b || g)`` into separate terms ``(1 | g) + (0 + a | g) + (0 + b | g)``,
then reorders all terms when their numbers of levels are not already non-increasing: the new
order is ``rev(order(nlevels))`` (so ties come out in reverse formula order). θ stacks each
term's lower triangle, column by column, in that order. We do exactly the same for θ, so θ,
``theta_lower`` and ``theta_names`` match lme4's entry for entry.

Our terms (:class:`ReTerm`) are then assembled for users rather than for the optimizer: the
single-column pieces of one ``||`` term are merged back into one term with a diagonal T_k,
whose entries simply point to their lme4 θ positions (``ReTerm.theta_index``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import FormulaError
from ..formula.matrices import ModelColumns, formula_terms, model_columns
from ..formula.parser import RandomTermSpec
from .grouping import Grouping, grouping
from .reterm import DIAGONAL, UNSTRUCTURED, ReTerm

__all__ = ["build_terms", "lme4_term_order"]


@dataclass(frozen=True, eq=False)
class _Block:
    """One term as lme4 sees it after expanding ``||``."""

    spec: int
    piece: int
    group: Grouping
    models: tuple[ModelColumns, ...]
    independent: bool

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(name for model in self.models for name in model.names)

    @property
    def X(self) -> np.ndarray:
        if len(self.models) == 1:
            return self.models[0].values
        return np.column_stack([m.values for m in self.models])

    @property
    def n_theta(self) -> int:
        r = len(self.columns)
        return r * (r + 1) // 2


def lme4_term_order(nlevels: Sequence[int]) -> list[int]:
    """lme4's term order (``mkReTrms``): unchanged when the numbers of levels are already
    non-increasing, else ``rev(order(nlevels))`` with R's stable ``order``."""
    nl = list(nlevels)
    if not any(b > a for a, b in zip(nl, nl[1:])):
        return list(range(len(nl)))
    ascending = sorted(range(len(nl)), key=lambda i: nl[i])
    return ascending[::-1]


def _blocks(
    specs: Sequence[RandomTermSpec], data: pd.DataFrame, context: Mapping[str, Any] | None
) -> list[_Block]:
    cache: dict[tuple[str, ...], Grouping] = {}
    blocks = []
    for i, spec in enumerate(specs):
        if spec.factors not in cache:
            cache[spec.factors] = grouping(data, spec.factors)
        group = cache[spec.factors]
        what = f"random term ({spec.expr} {'||' if spec.independent else '|'} {spec.group})"
        if not spec.independent:
            model = model_columns(spec.expr, data, context, what=what)
            if not model.names:
                raise FormulaError(
                    f"the {what} has no columns (no intercept, no variable); write "
                    f"(1 | {spec.group}) for a random intercept, or drop the term")
            blocks.append(_Block(i, 0, group, (model,), False))
            continue
        pieces = ["1" if t == "1" else f"0 + {t}" for t in formula_terms(spec.expr, data)]
        for j, piece in enumerate(pieces):
            model = model_columns(piece, data, context, what=what)
            blocks.append(_Block(i, j, group, (model,), True))
    return blocks


def _theta_names(group: str, columns: tuple[str, ...], rows, cols) -> list[str]:
    return [
        f"{group}.{columns[a]}" if a == c else f"{group}.{columns[a]}.{columns[c]}"
        for a, c in zip(rows, cols)
    ]


def build_terms(
    specs: Sequence[RandomTermSpec],
    data: pd.DataFrame,
    context: Mapping[str, Any] | None = None,
) -> tuple[tuple[ReTerm, ...], np.ndarray, tuple[str, ...]]:
    """Random terms, θ lower bounds and θ names for the parsed random part.

    Returns
    -------
    terms : tuple of ReTerm
        In the order of their first θ entry; ``z_offset`` assigned in that order.
    theta_lower : ndarray
    theta_names : tuple of str
    """
    blocks = _blocks(specs, data, context)
    order = lme4_term_order([len(b.group.levels) for b in blocks])
    start: dict[int, int] = {}
    lower: list[float] = []
    names: list[str] = []
    for k in order:
        b = blocks[k]
        start[k] = len(lower)
        r = len(b.columns)
        for c in range(r):
            for a in range(c, r):
                lower.append(0.0 if a == c else -np.inf)
                names.extend(_theta_names(specs[b.spec].group, b.columns, [a], [c]))

    # Merge runs of single-column pieces of one `||` term into a diagonal term.
    merged: list[list[int]] = []
    for k, b in enumerate(blocks):
        prev = blocks[merged[-1][-1]] if merged else None
        if (
            b.independent
            and len(b.columns) == 1
            and prev is not None
            and prev.independent
            and prev.spec == b.spec
            and len(prev.columns) == 1
        ):
            merged[-1].append(k)
        else:
            merged.append([k])

    raw = []
    for ks in merged:
        first = blocks[ks[0]]
        spec = specs[first.spec]
        if len(ks) == 1 and not (first.independent and len(first.columns) == 1):
            theta_index = np.arange(start[ks[0]], start[ks[0]] + first.n_theta)
            structure = UNSTRUCTURED
            models = first.models
        else:
            theta_index = np.array([start[k] for k in ks])
            structure = DIAGONAL
            models = tuple(m for k in ks for m in blocks[k].models)
        raw.append((int(theta_index.min()), spec, first.group, models, structure, theta_index))
    raw.sort(key=lambda item: item[0])

    seen: dict[str, int] = {}
    terms = []
    offset = 0
    for _, spec, group, models, structure, theta_index in raw:
        count = seen.get(spec.group, 0)
        seen[spec.group] = count + 1
        label = spec.group if count == 0 else f"{spec.group}.{count}"
        columns = tuple(name for m in models for name in m.names)
        X = models[0].values if len(models) == 1 else np.column_stack([m.values for m in models])
        X = np.ascontiguousarray(X, dtype=float)
        term = ReTerm(
            group=spec.group,
            label=label,
            factors=spec.factors,
            levels=group.levels,
            codes=group.codes,
            columns=columns,
            X=X,
            structure=structure,
            z_offset=offset,
            theta_index=theta_index.astype(np.intp),
            models=models,
        )
        offset += term.q
        terms.append(term)
    return tuple(terms), np.array(lower, dtype=float), tuple(names)
