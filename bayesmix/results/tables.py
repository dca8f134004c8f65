"""Summary tables of a Fit: fixed effects, variance components, random effects.

Mode-based fits (laplace, map) report their estimates and standard errors; sampled fits (nuts)
report posterior means and SDs with a 94% HDI and the convergence diagnostics of ArviZ. The
columns ``estimate`` and ``std_error`` exist for every backend, so tables line up side by side.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import BayesmixError
from . import naming

if TYPE_CHECKING:
    from .fit import Fit

__all__ = ["fixef_table", "zi_fixef_table", "varcorr_table", "ranef_table",
           "thresholds_table"]

HDI_PROB = 0.94
_POSTERIOR_COLS = {
    "mean": "estimate",
    "sd": "std_error",
    "hdi_3%": "hdi_3%",
    "hdi_97%": "hdi_97%",
    "ess_bulk": "ess_bulk",
    "ess_tail": "ess_tail",
    "r_hat": "r_hat",
}


def _weighted_ess_cap(fit: Fit, var: str) -> float | None:
    """The effective sample size of variables drawn at weighted importance points (the
    Bayesian Laplace's hyperparameters): resampled draws repeat each point, so their ESS is
    the weights', not that of the draws."""
    import fnmatch
    import json

    attrs = fit.idata.attrs
    if "psi_ess" not in attrs:
        return None
    patterns = json.loads(attrs.get("psi_variables", "[]"))
    return float(attrs["psi_ess"]) if any(fnmatch.fnmatch(var, p) for p in patterns) else None


def _posterior_summary(fit: Fit, var: str) -> pd.DataFrame:
    """az.summary of one variable, columns renamed, in the variable's flattened C order."""
    import warnings

    import arviz as az

    with warnings.catch_warnings():
        # The constant diagonal of a correlation matrix has no R-hat (0/0); those rows are
        # dropped by the caller.
        warnings.simplefilter("ignore", RuntimeWarning)
        table = az.summary(fit.idata, var_names=[var], hdi_prob=HDI_PROB, kind="all",
                           round_to="none")
    table = table[list(_POSTERIOR_COLS)].rename(columns=_POSTERIOR_COLS)
    cap = _weighted_ess_cap(fit, var)
    if cap is not None:
        table["ess_bulk"] = np.minimum(table["ess_bulk"], round(cap))
        table["ess_tail"] = np.minimum(table["ess_tail"], round(cap))
    return table


def _coef_table(fit: Fit, names, var: str, estimate, cov, index_name: str) -> pd.DataFrame:
    """Estimates, SEs and Wald statistics of a mode-based fit, with glmer's z-test p-values
    outside the Gaussian families (lmer reports t statistics without p-values: their
    degrees of freedom are not defined); posterior summaries of a sampled fit."""
    if fit.estimates is not None:
        table = pd.DataFrame({"estimate": estimate}, index=pd.Index(names, name=index_name))
        if cov is not None:
            se = np.sqrt(np.clip(np.diag(cov), 0, None))
            table["std_error"] = se
            with np.errstate(divide="ignore", invalid="ignore"):
                table["statistic"] = estimate / se
            if not fit.design.family.has_sigma and fit.backend == "laplace":
                from scipy import stats

                table["p_value"] = 2.0 * stats.norm.sf(np.abs(table["statistic"]))
        else:
            table["std_error"] = np.nan
        return table
    table = _posterior_summary(fit, var)
    table.index = pd.Index(names, name=index_name)
    return table


def fixef_table(fit: Fit) -> pd.DataFrame:
    """One row per fixed effect, indexed by coefficient name."""
    est = fit.estimates
    return _coef_table(fit, fit.design.x_names, naming.BETA,
                       None if est is None else est.beta,
                       None if est is None else est.beta_cov, "coef")


def zi_fixef_table(fit: Fit) -> pd.DataFrame:
    """One row per zero-inflation coefficient (logit scale), indexed by column name."""
    design = fit.design
    if design.X_zi is None:
        raise BayesmixError(
            f"zero-inflation coefficients exist for zero-inflated families only (zi=... with "
            f"poisson or negbinomial), not {design.family.name}"
        )
    est = fit.estimates
    return _coef_table(fit, design.zi_names, naming.BETA_ZI,
                       None if est is None else est.zi_coef,
                       None if est is None else est.zi_coef_cov, "zi_coef")


def thresholds_table(fit: Fit) -> pd.DataFrame:
    """One row per ordinal threshold, indexed ``"1|2"``, ``"2|3"``, ..."""
    design = fit.design
    if design.family.name != "ordinal":
        raise BayesmixError(
            f"thresholds exist for the ordinal family only, not {design.family.name}"
        )
    index = pd.Index(naming.cutpoint_labels(design), name="threshold")
    if fit.estimates is not None:
        est = fit.estimates
        se = (np.sqrt(np.clip(np.diag(est.cutpoints_cov), 0, None))
              if est.cutpoints_cov is not None else np.full(len(index), np.nan))
        return pd.DataFrame({"estimate": est.cutpoints, "std_error": se}, index=index)
    table = _posterior_summary(fit, naming.CUTPOINTS)
    table.index = index
    return table


def _sd_rows(fit: Fit):
    design = fit.design
    rows = []
    if fit.estimates is not None:
        for t, te in zip(design.terms, fit.estimates.terms):
            for c, col in enumerate(t.columns):
                se = te.sd_se[c] if te.sd_se is not None else np.nan
                rows.append((t.label, col, None, "sd", te.sd[c], se))
            if t.correlated and te.cor is not None:
                for c in range(t.r):
                    for a in range(c + 1, t.r):
                        se = te.cor_se[a, c] if te.cor_se is not None else np.nan
                        rows.append(
                            (t.label, t.columns[a], t.columns[c], "cor", te.cor[a, c], se)
                        )
        if design.family.has_sigma and fit.estimates.sigma is not None:
            rows.append(("Residual", None, None, "sigma", fit.estimates.sigma, np.nan))
        params = fit.estimates.family_params or {}
        ses = fit.estimates.family_params_se or {}
        for name in design.family.kernel_parameters:
            if name in params:
                rows.append(("Residual", None, None, name, params[name],
                             ses.get(name, np.nan)))
        return pd.DataFrame(
            rows, columns=["group", "term", "term2", "kind", "estimate", "std_error"]
        )

    parts = []
    for t in design.terms:
        sd = _posterior_summary(fit, naming.sd_var(t.label))
        parts.append(sd.assign(group=t.label, term=list(t.columns), term2=None, kind="sd"))
        if t.correlated:
            cor = _posterior_summary(fit, naming.cor_var(t.label))
            pairs = [(a, c) for c in range(t.r) for a in range(c + 1, t.r)]
            cor = cor.iloc[[a * t.r + c for a, c in pairs]]
            parts.append(cor.assign(
                group=t.label,
                term=[t.columns[a] for a, _ in pairs],
                term2=[t.columns[c] for _, c in pairs],
                kind="cor",
            ))
    for name in design.family.parameters:
        part = _posterior_summary(fit, name)
        parts.append(part.assign(group="Residual", term=None, term2=None, kind=name))
    table = pd.concat(parts, ignore_index=True)
    meta = ["group", "term", "term2", "kind"]
    return table[meta + [c for c in table.columns if c not in meta]]


def varcorr_table(fit: Fit) -> pd.DataFrame:
    """One row per random-effect SD, per correlation, and per parameter of the family.

    Columns ``group`` (the term label, lme4's VarCorr group; "Residual" for the family's
    parameters), ``term``, ``term2`` (the second term of a correlation), ``kind`` ∈ {"sd",
    "cor", "sigma", "phi", "nu"}, ``estimate``, ``std_error``
    and, for sampled fits, HDI and diagnostics.
    """
    table = _sd_rows(fit)
    table["term2"] = table["term2"].astype(object)
    return table.reset_index(drop=True)


def ranef_table(fit: Fit) -> pd.DataFrame:
    """Random effects b in long form: ``group``, ``level``, ``term``, ``estimate``,
    ``std_error`` (conditional SD at the mode, or posterior SD)."""
    design = fit.design
    parts = []
    for k, t in enumerate(design.terms):
        levels = np.repeat(np.asarray(t.levels.astype(str)), t.r)
        terms = np.tile(np.array(t.columns, dtype=object), t.m)
        if fit.estimates is not None:
            te = fit.estimates.terms[k]
            est = te.b.reshape(-1)
            se = te.b_sd.reshape(-1) if te.b_sd is not None else np.full(t.q, np.nan)
            extra = {}
        else:
            draws = fit.idata.posterior[naming.b_var(t.label)].values
            flat = draws.reshape(-1, t.q)
            est, se = flat.mean(axis=0), flat.std(axis=0, ddof=1)
            lo, hi = np.quantile(flat, [0.03, 0.97], axis=0)
            extra = {"q3%": lo, "q97%": hi}
        parts.append(
            pd.DataFrame(
                {"group": t.label, "level": levels, "term": terms, "estimate": est,
                 "std_error": se, **extra}
            )
        )
    if not parts:
        return pd.DataFrame(columns=["group", "level", "term", "estimate", "std_error"])
    return pd.concat(parts, ignore_index=True)
