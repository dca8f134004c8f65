"""Saving a Fit to one NetCDF file and loading it back without the original data.

The file is the fit's InferenceData (``InferenceData.to_netcdf``) with, besides the draws,
the ``mode`` group and the log-likelihood:

- ``constant_data``: X, the zero-inflation columns, each random term's columns
  (``<label>_X``) and level codes, trials, offset and weights; ``observed_data``: y;
- ``attrs["bayesmix_fit"]``: a JSON document (:data:`FORMAT`) with the design's metadata —
  formula, family and link, column names, the random terms (grouping factors, levels,
  structure, θ layout), and for every model-matrix encoding its right-hand side, the levels
  of its categorical columns and formulaic's transform state (``scale()`` centres, ...) —,
  the priors and the FitInfo.

:func:`load` rebuilds the Design from these (the encodings by replaying each right-hand side
on a small frame with the stored levels, then restoring the transform state), so that
``summary``, ``fixef``, ``varcorr``, ``predict`` (on new data too), ``simulate`` and
``posterior_predictive`` work in a new process. Not stored: the data frame itself and
functions passed as ``context`` (pass them to :func:`load` again); blme's prior settings are
kept only as text in ``attrs["priors"]``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import BayesmixError

__all__ = ["save", "load", "FORMAT"]

FORMAT = "bayesmix-fit/1"


def _plain(value):
    """JSON-able form of NumPy scalars and arrays (inf and NaN as strings)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _model_meta(model) -> dict | None:
    if model is None:
        return None
    columns = {}
    for c in model.columns:
        if c in (model.levels or {}):
            columns[c] = {"kind": "categorical", "levels": _plain(list(model.levels[c])),
                          "ordered": c in model.ordered}
        else:
            columns[c] = {"kind": "numeric"}
    return {"rhs": model.rhs, "what": model.what, "names": list(model.names),
            "columns": columns, "transform_state": _plain(model.spec.transform_state)}


def _rebuild_model(meta: dict | None, context):
    """The encoding replayed on a small frame with the stored levels, its transform state
    restored; None when the right-hand side cannot be replayed."""
    if meta is None:
        return None
    from ..formula.matrices import ModelColumns, model_columns

    cols = meta["columns"]
    size = max([3] + [len(c["levels"]) for c in cols.values() if c["kind"] == "categorical"])
    frame = {}
    for name, c in cols.items():
        if c["kind"] == "categorical":
            levels = c["levels"]
            frame[name] = pd.Categorical([levels[i % len(levels)] for i in range(size)],
                                         categories=levels, ordered=c["ordered"])
        else:
            frame[name] = np.arange(1.0, size + 1.0)
    model = model_columns(meta["rhs"], pd.DataFrame(frame), context, what=meta["what"])
    if list(model.names) != meta["names"]:
        raise BayesmixError(
            f"cannot rebuild the encoding of '{meta['rhs']}' from the saved levels (columns "
            f"{list(model.names)}, saved {meta['names']})")
    spec = model.spec.update(transform_state=meta["transform_state"])
    levels = {k: tuple(c["levels"]) for k, c in cols.items() if c["kind"] == "categorical"}
    ordered = tuple(k for k, c in cols.items() if c.get("ordered"))
    return ModelColumns(np.zeros((0, len(model.names))), model.names, model.term_columns,
                        spec, meta["rhs"], tuple(cols), levels, meta["what"], ordered)


def _design_meta(design) -> dict:
    terms = []
    for t in design.terms:
        terms.append({"group": t.group, "label": t.label, "factors": list(t.factors),
                      "levels": _plain(list(t.levels)), "columns": list(t.columns),
                      "structure": t.structure, "z_offset": int(t.z_offset),
                      "theta_index": _plain(t.theta_index),
                      "models": [_model_meta(m) for m in t.models]})
    return {
        "formula": design.formula, "family": design.family.name,
        "link": design.family.link.name, "zi_formula": design.zi_formula,
        "response_name": design.response_name,
        "response_levels": None if design.response_levels is None
        else _plain(list(design.response_levels)),
        "x_names": list(design.x_names), "zi_names": list(design.zi_names),
        "rows": _plain(list(design.rows)), "n_dropped": int(design.n_dropped),
        "theta_bounded": [bool(v) for v in np.isfinite(design.theta_lower)],
        "theta_names": list(design.theta_names), "terms": terms,
        "fixed_model": _model_meta(design.fixed_model),
        "zi_model": _model_meta(design.zi_model),
    }


def save(fit, path) -> Path:
    """Write ``fit`` to ``path`` (NetCDF, see the module docstring); returns the path."""
    import arviz as az
    import xarray as xr

    from .. import __version__

    design, spec, info = fit.design, fit.spec, fit.info
    meta = {
        "format": FORMAT, "bayesmix": __version__, "design": _design_meta(design),
        "priors": {k: {"class": type(p).__name__, "params": _plain(p.params)}
                   for k, p in spec.priors.items()},
        "sources": dict(spec.sources),
        "info": _plain({"backend": info.backend, "method": info.method,
                        "converged": info.converged, "status": info.status,
                        "iterations": info.iterations, "messages": list(info.messages),
                        "singular": info.singular, "loglik": info.loglik,
                        "loglik_label": info.loglik_label, "df": info.df,
                        "timings": dict(info.timings), "extra": dict(info.extra)}),
    }
    groups = {g: fit.idata[g] for g in fit.idata.groups()}
    const = groups["constant_data"].copy()
    for t in design.terms:
        const[f"{t.label}_X"] = xr.DataArray(np.asarray(t.X), dims=("obs", f"{t.label}_term"))
    if design.X_zi is not None:
        const["X_zi"] = xr.DataArray(np.asarray(design.X_zi), dims=("obs", "zi_coef"))
    groups["constant_data"] = const
    idata = az.InferenceData(**groups)
    idata.attrs = {**fit.idata.attrs, "bayesmix_fit": json.dumps(meta)}
    path = Path(path)
    idata.to_netcdf(str(path))
    return path


def _array(ds, name, dtype=float):
    return None if name not in ds else np.ascontiguousarray(ds[name].values, dtype=dtype)


def load(path, context=None):
    """Read a fit written by :func:`save`.

    Parameters
    ----------
    path : str or Path
    context : mapping, optional
        Functions the formula calls beyond NumPy and R's elementary transforms (as given
        to ``fit``), needed to predict on new data.
    """
    import arviz as az

    from ..design import Design
    from ..design.lambda_template import lambda_template
    from ..design.reterm import ReTerm
    from ..design.zmatrix import z_matrix
    from ..families import get_family
    from ..formula.parser import parse_formula
    from ..spec import priors as prior_classes
    from ..spec.modelspec import ModelSpec
    from .fit import Fit, FitInfo

    path = Path(path)
    if not path.exists():
        raise BayesmixError(f"file not found: {path}")
    idata = az.from_netcdf(str(path))
    raw = idata.attrs.get("bayesmix_fit")
    if raw is None:
        raise BayesmixError(f"{path} is not a saved bayesmix fit (no 'bayesmix_fit' attr)")
    meta = json.loads(raw)
    if meta.get("format") != FORMAT:
        raise BayesmixError(f"{path} has format {meta.get('format')!r}; this bayesmix "
                            f"reads {FORMAT!r}")
    d = meta["design"]
    const, obs = idata.constant_data, idata.observed_data
    terms = []
    for t in d["terms"]:
        terms.append(ReTerm(
            group=t["group"], label=t["label"], factors=tuple(t["factors"]),
            levels=pd.Index(t["levels"], dtype=object),
            codes=_array(const, f"{t['label']}_code", np.int32), columns=tuple(t["columns"]),
            X=_array(const, f"{t['label']}_X"), structure=t["structure"],
            z_offset=t["z_offset"], theta_index=np.asarray(t["theta_index"], dtype=np.intp),
            models=tuple(_rebuild_model(m, context) for m in t["models"])))
    n = len(d["rows"])
    Z = z_matrix(terms, n)
    X = _array(const, "X")
    arrays = dict(y=_array(obs, "y"), trials=_array(const, "trials"),
                  weights=_array(const, "weights"), offset=_array(const, "offset"),
                  X=X, X_zi=_array(const, "X_zi"))
    for arr in list(arrays.values()) + [t.X for t in terms] + [t.codes for t in terms]:
        if arr is not None:
            arr.flags.writeable = False
    design = Design(
        formula=d["formula"], parsed=parse_formula(d["formula"]),
        family=get_family(d["family"], d["link"]), y=arrays["y"], trials=arrays["trials"],
        weights=arrays["weights"], offset=arrays["offset"],
        response_name=d["response_name"],
        response_levels=None if d["response_levels"] is None else tuple(d["response_levels"]),
        X=X, x_names=tuple(d["x_names"]), terms=tuple(terms), Z=Z,
        theta_lower=np.where(d["theta_bounded"], 0.0, -np.inf),
        theta_names=tuple(d["theta_names"]), lambda_template=lambda_template(terms, Z.shape[1]),
        rows=pd.Index(d["rows"]), n_dropped=d["n_dropped"],
        fixed_model=_rebuild_model(d["fixed_model"], context), offset_models=(),
        context=context, zi_formula=d["zi_formula"], X_zi=arrays["X_zi"],
        zi_names=tuple(d["zi_names"]), zi_model=_rebuild_model(d["zi_model"], context))
    priors = {k: getattr(prior_classes, p["class"])(**p["params"])
              for k, p in meta["priors"].items()}
    from types import MappingProxyType

    spec = ModelSpec(design, MappingProxyType(priors), MappingProxyType(meta["sources"]))
    info = dict(meta["info"])
    info["messages"] = tuple(info["messages"])
    attrs = {k: v for k, v in idata.attrs.items() if k != "bayesmix_fit"}
    idata.attrs = attrs
    return Fit(spec=spec, idata=idata, info=FitInfo(**info))
