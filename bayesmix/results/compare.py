"""Side-by-side comparison of fits of the same model by different backends."""

from __future__ import annotations

from typing import Mapping

import pandas as pd

from .fit import Fit

__all__ = ["compare"]


def _named(fits) -> dict:
    """A dict name → Fit (a list is named by backend: ``laplace``, ``laplace_2``, ...)."""
    if isinstance(fits, Mapping):
        return dict(fits)
    named: dict[str, Fit] = {}
    for f in fits:
        key = f.backend
        k = 2
        while key in named:
            key, k = f"{f.backend}_{k}", k + 1
        named[key] = f
    return named


def compare(fits: Mapping[str, Fit] | list[Fit], what: str = "all") -> pd.DataFrame:
    """Estimates and standard errors of several fits in one table.

    Parameters
    ----------
    fits : dict name → Fit, or list of Fit (named by backend)
    what : {"all", "fixef", "varcorr"}

    Returns
    -------
    DataFrame indexed by parameter (β, zero-inflation coefficients, ordinal thresholds,
    SDs, correlations and the family's parameters), with an ``estimate`` and ``std_error``
    column per fit (the posterior SD for sampled fits: the variance components' uncertainty
    where the backend has it).
    """
    fits = _named(fits)
    blocks = []
    for name, fit in fits.items():
        table = pd.concat(_rows(fit, what))
        table.columns = pd.MultiIndex.from_product([[name], table.columns])
        blocks.append(table)
    return pd.concat(blocks, axis=1)


def _rows(fit: Fit, what: str) -> list[pd.DataFrame]:
    """(estimate, std_error) per parameter of one fit, named as ``confint`` names them:
    ``beta[...]``, ``beta_zi[...]``, ``threshold[1|2]``, ``sd(...|...)``, ``cor(...)``,
    ``sigma``, ``phi``, ``nu``."""
    from .inference import _vc_label

    parts = []
    cols = ["estimate", "std_error"]
    if what in ("all", "fixef"):
        fe = fit.fixef()[cols]
        parts.append(fe.set_axis([f"beta[{i}]" for i in fe.index], axis=0))
        if fit.design.X_zi is not None:
            zi = fit.zi_fixef()[cols]
            parts.append(zi.set_axis([f"beta_zi[{i}]" for i in zi.index], axis=0))
        if fit.design.family.name == "ordinal":
            th = fit.thresholds()[cols]
            parts.append(th.set_axis([f"threshold[{i}]" for i in th.index], axis=0))
    if what in ("all", "varcorr"):
        vc = fit.varcorr()
        parts.append(vc[cols].set_axis([_vc_label(r) for _, r in vc.iterrows()], axis=0))
    return parts
