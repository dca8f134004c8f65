"""``Fit.update``: the same model refitted on new data or with a change (lme4's ``update``).

What the fit keeps is reused: the formula, family and link, zero-inflation formula, the
weights column, the formula's ``context``, every prior (the defaults too, which were scaled
to the first data set: the same model; ``priors="default"`` rescales them to the new data),
the backend and its options. The nuts backend builds the new model's graph; its compiled
function comes from the on-disk cache when the data have the same shapes (and the random
terms the same parameterization). The laplace backend reuses the symbolic analysis of its
sparse factor when the new data have the same grouping structure
(:func:`bayesmix.linalg.analyze` keeps the latest ones).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import pandas as pd

from ..errors import BayesmixError

if TYPE_CHECKING:
    from .fit import Fit

__all__ = ["update"]

_MODEL_KEYS = ("formula", "family", "link", "zi", "weights", "priors", "backend",
               "na_action")


def _priors(fit: Fit):
    """The fit's priors, every one of them: the same model (the defaults are not rescaled
    to the new data; pass ``priors="default"`` for that)."""
    spec = fit.spec
    if spec.blme is not None:
        return spec.blme
    if all(src == "flat" for src in spec.sources.values()):
        return "flat"
    return dict(spec.priors)


def update(fit: Fit, data: pd.DataFrame | None = None, **changes) -> Fit:
    """Refit ``fit``'s model on ``data`` with ``changes``.

    Parameters
    ----------
    fit : Fit
    data : DataFrame
        The data to fit (a Fit keeps no data frame, so it is required).
    **changes
        Any of ``formula``, ``family``, ``link``, ``zi``, ``weights``, ``priors``,
        ``backend``, ``na_action``, and backend options (``draws=2000``, ``reml=False``);
        options of another backend start from that backend's defaults.
    """
    from ..api import fit as fit_model

    if data is None:
        raise BayesmixError("update needs data=...: a Fit keeps the model, not the data")
    design = fit.design
    model = {k: changes.pop(k) for k in _MODEL_KEYS if k in changes}
    family = model.get("family", design.family)
    link = model.get("link", None if "family" in model else design.family.link.name)
    if "family" not in model and family.zero_inflated:
        family = family.count_family.name
    weights = model.get("weights", design.weights_column)
    if weights is None and design.weights is not None and "weights" not in model:
        raise BayesmixError("the fit's prior weights were given as an array; pass "
                            "weights=... for the new data")
    backend = model.get("backend", fit.backend)
    options = {}
    if fit.options is not None and backend == fit.backend:
        options = {f.name: getattr(fit.options, f.name)
                   for f in dataclasses.fields(fit.options)}
    options.update(changes)
    return fit_model(
        model.get("formula", design.formula), data, family, link=link,
        zi=model.get("zi", design.zi_formula), weights=weights,
        na_action=model.get("na_action", "drop"), context=design.context,
        backend=backend, priors=model.get("priors", _priors(fit)), **options)
