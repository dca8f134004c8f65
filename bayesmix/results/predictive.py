"""Responses simulated from a fitted model: lme4's ``simulate`` and the posterior
predictive distribution that ArviZ's ``plot_ppc`` reads.

- :func:`posterior_predictive`: one y_rep per posterior draw at the fitted rows, given that
  draw's β, b and family parameters (for mode-based fits, the draws of the Gaussian
  approximation at the mode), stored as the group ``posterior_predictive`` (variable ``y``,
  dims chain, draw, obs) next to ``observed_data``.
- :func:`simulate`: ``n`` new response vectors; mode-based fits simulate at the estimates,
  sampled fits at ``n`` posterior draws taken at random. The random effects are drawn anew
  from N(0, Σ) (``random="sample"``, lme4's default ``use.u = FALSE``) or kept at the fitted
  values (``"fitted"``, ``use.u = TRUE``) or left out (``"none"``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import BayesmixError
from ..families.sampling import sample_response
from . import naming
from .rows import ParameterDraws, encode_rows, require_trials

if TYPE_CHECKING:
    from .fit import Fit

__all__ = ["posterior_predictive", "simulate", "draw_response"]

_RANDOM = ("sample", "fitted", "none")


def draw_response(fit, rows, pd_, s, rng, fresh: bool = False) -> np.ndarray:
    """A new response vector on ``rows`` given parameter draw s (``fresh``: new random
    effects for every level)."""
    eta = pd_.eta(rows, s, rng, fresh=fresh)
    draw = pd_.take(s)
    return sample_response(fit.design.family, eta, rng, params=draw["params"],
                           trials=rows.trials, weights=rows.weights, zeta=pd_.zeta(rows, s),
                           cutpoints=draw["cutpoints"])


def posterior_predictive(fit: Fit, seed: int | None = None):
    """Add (or replace) the ``posterior_predictive`` group of ``fit.idata``: y_rep per
    posterior draw at the fitted rows. Returns the InferenceData."""
    rng = np.random.default_rng(seed)
    pd_ = ParameterDraws.from_posterior(fit)
    rows = encode_rows(fit, None, True, "population")
    y = np.stack([draw_response(fit, rows, pd_, s, rng, False) for s in range(pd_.S)])
    y = y.reshape(pd_.chains, pd_.S // pd_.chains, rows.n)
    import xarray as xr

    ds = xr.Dataset({naming.Y: (("chain", "draw", naming.OBS), y)},
                    coords={"chain": np.arange(y.shape[0]), "draw": np.arange(y.shape[1]),
                            naming.OBS: np.arange(rows.n)})
    ds.attrs["seed"] = -1 if seed is None else int(seed)
    idata = fit.idata
    if "posterior_predictive" in idata.groups():
        del idata.posterior_predictive
    idata.add_groups({"posterior_predictive": ds})
    return idata


def simulate(fit: Fit, n: int = 1, seed: int | None = None,
             newdata: pd.DataFrame | None = None, random: str = "sample") -> pd.DataFrame:
    """``n`` simulated response vectors (columns ``sim_1`` … ``sim_n``, rows as the data).

    Parameters
    ----------
    fit : Fit
    n : int
        Number of simulations.
    seed : int, optional
    newdata : DataFrame, optional
        Rows to simulate (the fitted rows by default); with ``random="fitted"`` a level not
        seen when fitting gets an effect drawn from N(0, Σ).
    random : {"sample", "fitted", "none"}
        New random effects for every level (lme4's default), the fitted ones, or none.
    """
    if random not in _RANDOM:
        raise BayesmixError(f"random must be one of {_RANDOM}, not {random!r}")
    if not (isinstance(n, (int, np.integer)) and n >= 1):
        raise BayesmixError(f"n must be a positive integer, not {n!r}")
    rng = np.random.default_rng(seed)
    rows = encode_rows(fit, newdata, random != "none", "sample")
    require_trials(fit, rows)
    if fit.estimates is not None:
        pd_ = ParameterDraws.from_estimates(fit)
        picks = np.zeros(n, dtype=np.int64)
    else:
        pd_ = ParameterDraws.from_posterior(fit)
        picks = rng.integers(0, pd_.S, n)
    sims = [draw_response(fit, rows, pd_, int(s), rng, random == "sample") for s in picks]
    return pd.DataFrame(np.column_stack(sims), index=rows.index,
                        columns=[f"sim_{k + 1}" for k in range(n)])
