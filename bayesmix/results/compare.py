"""Side-by-side comparison of fits of the same model by different backends."""

from __future__ import annotations

from typing import Mapping

import pandas as pd

from .fit import Fit

__all__ = ["compare"]


def compare(fits: Mapping[str, Fit] | list[Fit], what: str = "all") -> pd.DataFrame:
    """Estimates and standard errors of several fits in one table.

    Parameters
    ----------
    fits : dict name → Fit, or list of Fit (named by backend)
    what : {"all", "fixef", "varcorr"}

    Returns
    -------
    DataFrame indexed by parameter, with an ``estimate`` and ``std_error`` column per fit.
    """
    if not isinstance(fits, Mapping):
        named: dict[str, Fit] = {}
        for f in fits:
            key = f.backend
            k = 2
            while key in named:
                key, k = f"{f.backend}_{k}", k + 1
            named[key] = f
        fits = named
    blocks = []
    for name, fit in fits.items():
        parts = []
        if what in ("all", "fixef"):
            fe = fit.fixef()[["estimate", "std_error"]]
            parts.append(fe.set_axis([f"beta[{i}]" for i in fe.index], axis=0))
        if what in ("all", "varcorr"):
            vc = fit.varcorr()
            labels = [
                f"{k}({t}{',' + t2 if isinstance(t2, str) else ''}|{g})" if k != "sigma"
                else "sigma"
                for g, t, t2, k in zip(vc.group, vc.term, vc.term2, vc.kind)
            ]
            parts.append(vc[["estimate", "std_error"]].set_axis(labels, axis=0))
        table = pd.concat(parts)
        table.columns = pd.MultiIndex.from_product([[name], table.columns])
        blocks.append(table)
    return pd.concat(blocks, axis=1)
