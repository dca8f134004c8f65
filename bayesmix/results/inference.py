"""The inference tools lme4 users reach for: ``coef``, ``vcov``, ``fitted``, ``residuals``,
``confint`` and ``anova``, on mode-based and sampled fits alike, each labelled by what it is.

- mode-based fits (laplace with flat priors, map): Wald quantities from the estimates and
  their covariance; likelihood-ratio tests between nested maximum-likelihood fits (a REML
  fit is refitted by ML first, as lme4's ``anova``);
- sampled fits (nuts, the Bayesian Laplace): posterior means, covariances and equal-tailed
  intervals of the draws; models are compared by PSIS-LOO (``az.compare``).
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import BayesmixError
from . import naming

if TYPE_CHECKING:
    from .fit import Fit

__all__ = ["coef", "vcov", "fitted", "residuals", "confint", "anova"]


def coef(fit: Fit) -> dict[str, pd.DataFrame]:
    """lme4's ``coef``: per random term, per level, β plus that level's b (the fixed
    effects alone for columns the term does not have); posterior means for sampled fits."""
    design = fit.design
    beta = fit.fixef()["estimate"].to_numpy()
    out = {}
    for k, t in enumerate(design.terms):
        if fit.estimates is not None:
            b = fit.estimates.terms[k].b
        else:
            draws = fit.idata.posterior[naming.b_var(t.label)].values
            b = draws.reshape(-1, t.m, t.r).mean(axis=0)
        table = pd.DataFrame(np.tile(beta, (t.m, 1)), columns=list(design.x_names),
                             index=pd.Index(t.levels.astype(str), name=t.group))
        for c, col in enumerate(t.columns):
            if col not in table.columns:
                table[col] = 0.0
            table[col] = table[col] + b[:, c]
        out[t.label] = table
    return out


def vcov(fit: Fit) -> pd.DataFrame:
    """Covariance of β: Cov(β̂) of a mode-based fit, the posterior covariance otherwise."""
    names = list(fit.design.x_names)
    if fit.estimates is not None:
        cov = fit.estimates.beta_cov
        if cov is None:
            raise BayesmixError("this fit has no covariance of β (hessian=False?)")
    else:
        draws = fit.idata.posterior[naming.BETA].values.reshape(-1, len(names))
        cov = np.atleast_2d(np.cov(draws, rowvar=False))
    return pd.DataFrame(cov, index=names, columns=names)


def fitted(fit: Fit) -> pd.Series:
    """E[y | η] at the fitted rows, random effects included (lme4's ``fitted``); for
    binomial responses the probability, for ordinal the expected category code."""
    design = fit.design
    mu = fit.predict()
    if design.family.name == "ordinal":
        return pd.Series(mu.to_numpy() @ np.arange(mu.shape[1]), index=mu.index,
                         name="fitted")
    return mu.rename("fitted")


def _response_scale(design):
    y = np.asarray(design.y, dtype=float)
    if design.family.name == "binomial" and design.trials is not None:
        return y / design.trials, np.asarray(design.trials, float)
    return y, None


def _family_params(fit) -> dict:
    if fit.estimates is not None:
        params = dict(fit.estimates.family_params or {})
        if fit.estimates.sigma is not None:
            params["sigma"] = fit.estimates.sigma
        if fit.estimates.zi_coef is not None:
            from scipy import special

            params["zi_prob"] = special.expit(fit.design.X_zi @ fit.estimates.zi_coef)
        return params
    post = fit.idata.posterior
    params = {k: float(post[k].mean()) for k in fit.design.family.parameters}
    if fit.design.X_zi is not None:
        from scipy import special

        gamma = post[naming.BETA_ZI].values.reshape(-1, fit.design.X_zi.shape[1]).mean(0)
        params["zi_prob"] = special.expit(fit.design.X_zi @ gamma)
    return params


def residuals(fit: Fit, kind: str = "response") -> pd.Series:
    """Residuals at the fitted rows.

    ``"response"``: y − μ (proportions for binomial, as R); ``"pearson"``: (y − μ) √w / √V
    with V the family's variance (R's for the GLM families, Var(y) given the family's
    parameters for the others, 1 for the Gaussian as lme4); ``"deviance"``:
    sign(y − μ) √(w d(y, μ)) for gaussian, binomial and poisson.
    """
    design = design_ = fit.design
    fam = design.family
    if fam.name == "ordinal":
        raise BayesmixError("residuals are not defined for the ordinal family; compare "
                            "predict() probabilities with the observed categories instead")
    if kind not in ("response", "pearson", "deviance"):
        raise BayesmixError(f"kind must be 'response', 'pearson' or 'deviance', not {kind!r}")
    y, n = _response_scale(design_)
    mu = fitted(fit).to_numpy()
    w = np.ones_like(y) if design.weights is None else np.asarray(design.weights, float)
    r = y - mu
    if kind == "response":
        return pd.Series(r, index=design.rows, name="residual")
    if kind == "pearson":
        if fam.name == "gaussian":
            v = np.ones_like(mu)
        elif fam.name in ("bernoulli", "binomial"):
            v = mu * (1 - mu) / (1.0 if n is None else n)
        elif fam.name == "poisson":
            v = mu
        else:
            eta = fit.predict(kind="link").to_numpy()
            count_mu = fam.link.inverse(eta)
            v = fam.variance(eta if fam.name == "lognormal" else count_mu,
                             params=_family_params(fit))
        return pd.Series(r * np.sqrt(w / v), index=design.rows, name="pearson")
    if fam.name not in ("gaussian", "bernoulli", "binomial", "poisson"):
        raise BayesmixError(f"deviance residuals are defined here for gaussian, binomial and "
                            f"poisson, not {fam.name}; use kind='pearson'")
    if fam.name in ("bernoulli", "binomial"):
        d = fam.unit_deviance(np.asarray(design.y, float), mu, design.trials)
    else:
        d = fam.unit_deviance(y, mu)
    return pd.Series(np.sign(r) * np.sqrt(np.clip(w * d, 0, None)), index=design.rows,
                     name="deviance")


def confint(fit: Fit, method: str = "auto", level: float = 0.95) -> pd.DataFrame:
    """Intervals for β (and the zero-inflation coefficients) and, from draws, the SDs,
    correlations and the family's parameters.

    ``"wald"``: estimate ± z SE (mode-based fits; NaN for the variance components, as lme4's
    ``confint(method="Wald")``). ``"posterior"``: equal-tailed quantiles of the posterior
    draws (sampled fits and the Bayesian Laplace). ``"auto"``: posterior where there is one,
    Wald otherwise. Columns ``lower``, ``upper``, ``method``.
    """
    if not 0.0 < level < 1.0:
        raise BayesmixError(f"level must be a probability such as 0.95, not {level!r}")
    posterior = fit.idata.attrs.get("inference") == "posterior"
    if method == "auto":
        method = "posterior" if posterior else "wald"
    if method == "profile":
        from ..backends.laplace.profile import profile_confint

        return profile_confint(fit, level)
    if method not in ("wald", "posterior"):
        raise BayesmixError(f"method must be 'wald', 'profile', 'posterior' or 'auto', not "
                            f"{method!r}")
    tail = 0.5 * (1.0 - level)
    if method == "posterior":
        if not posterior:
            raise BayesmixError(
                "this fit reports the mode (flat priors, or the map backend): its draws hold "
                "the covariance parameters fixed, so they give no posterior interval for "
                "them; use method='wald' or 'profile', or fit with priors")
        rows = []
        for name, table in (("beta", fit.fixef()), ("beta_zi", _zi_or_none(fit))):
            if table is None:
                continue
            draws = fit.idata.posterior[name].values.reshape(-1, len(table))
            lo, hi = np.quantile(draws, [tail, 1 - tail], axis=0)
            rows += [(f"{name}[{c}]", a, b) for c, a, b in zip(table.index, lo, hi)]
        for label, vals in _variance_draws(fit):
            lo, hi = np.quantile(vals, [tail, 1 - tail])
            rows.append((label, lo, hi))
        return pd.DataFrame(rows, columns=["parameter", "lower", "upper"]).set_index(
            "parameter").assign(method="posterior", level=level)
    if posterior:
        raise BayesmixError("Wald intervals apply to mode-based fits; this fit has a "
                            "posterior: use method='posterior'")
    z = stats.norm.ppf(1 - tail)
    rows = []
    for name, table in (("beta", fit.fixef()), ("beta_zi", _zi_or_none(fit))):
        if table is None:
            continue
        rows += [(f"{name}[{c}]", e - z * s, e + z * s)
                 for c, e, s in zip(table.index, table["estimate"], table["std_error"])]
    vc = fit.varcorr()
    for _, r in vc.iterrows():
        rows.append((_vc_label(r), np.nan, np.nan))
    return pd.DataFrame(rows, columns=["parameter", "lower", "upper"]).set_index(
        "parameter").assign(method="wald", level=level)


def _zi_or_none(fit):
    return fit.zi_fixef() if fit.design.X_zi is not None else None


def _vc_label(row) -> str:
    if row["kind"] in ("sd", "cor"):
        t2 = f",{row['term2']}" if isinstance(row["term2"], str) else ""
        return f"{row['kind']}({row['term']}{t2}|{row['group']})"
    return row["kind"]


def _variance_draws(fit):
    post = fit.idata.posterior
    for t in fit.design.terms:
        sd = post[naming.sd_var(t.label)].values.reshape(-1, t.r)
        for c, col in enumerate(t.columns):
            yield f"sd({col}|{t.label})", sd[:, c]
        if t.correlated:
            cor = post[naming.cor_var(t.label)].values.reshape(-1, t.r, t.r)
            for c in range(t.r):
                for a in range(c + 1, t.r):
                    yield f"cor({t.columns[a]},{t.columns[c]}|{t.label})", cor[:, a, c]
    for name in fit.design.family.parameters:
        yield name, post[name].values.ravel()


def _ml_refit(fit):
    """An ML refit of a REML fit (lme4's anova refits too)."""
    from ..backends import get_backend, make_options

    backend = get_backend("laplace")
    return backend.fit(fit.spec, make_options(backend, reml=False, draws=0))


def anova(*fits: Fit) -> pd.DataFrame:
    """Compare nested models: likelihood-ratio tests for maximum-likelihood fits (REML fits
    refitted by ML, with a note), a PSIS-LOO comparison (``az.compare``) for fits with a
    posterior. Models are ordered by their number of parameters, as lme4's ``anova``."""
    if len(fits) < 2:
        raise BayesmixError("anova compares two or more fits")
    posterior = [f.idata.attrs.get("inference") == "posterior" for f in fits]
    if all(posterior):
        import arviz as az

        missing = [k for k, f in enumerate(fits) if "log_likelihood" not in f.idata.groups()]
        if missing:
            raise BayesmixError(f"fit(s) {missing} have no pointwise log-likelihood; refit "
                                "with log_likelihood=True")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            table = az.compare({f"model{k + 1}": f.idata for k, f in enumerate(fits)})
        return table.assign(method="PSIS-LOO (az.compare)")
    if any(posterior):
        raise BayesmixError("anova compares fits of one kind: all maximum-likelihood (flat "
                            "priors) or all with a posterior")
    notes = []
    prepared = []
    for f in fits:
        if f.info.method == "REML":
            notes.append(f"{f.design.formula}: refitted by ML")
            f = _ml_refit(f)
        if f.backend == "map":
            raise BayesmixError("the map backend reports a conditional log-likelihood at a "
                                "fixed covariance; anova needs marginal likelihoods (laplace)")
        if f.info.loglik is None or f.info.df is None:
            raise BayesmixError(f"{f.design.formula}: no log-likelihood to compare")
        prepared.append(f)
    n = {f.design.n for f in prepared}
    if len(n) > 1:
        raise BayesmixError(f"the fits use different numbers of rows ({sorted(n)}): the "
                            "likelihoods are not comparable (missing values dropped?)")
    order = sorted(range(len(prepared)), key=lambda k: prepared[k].info.df)
    rows = []
    prev = None
    for k in order:
        f = prepared[k]
        ll, df = f.info.loglik, f.info.df
        row = {"model": f.design.formula, "npar": df, "AIC": -2 * ll + 2 * df,
               "BIC": -2 * ll + np.log(f.design.n) * df, "logLik": ll, "deviance": -2 * ll,
               "Chisq": np.nan, "Df": np.nan, "Pr(>Chisq)": np.nan}
        if prev is not None:
            chisq = max(2 * (ll - prev.info.loglik), 0.0)
            ddf = df - prev.info.df
            row.update({"Chisq": chisq, "Df": ddf,
                        "Pr(>Chisq)": stats.chi2.sf(chisq, ddf) if ddf > 0 else np.nan})
        rows.append(row)
        prev = f
    table = pd.DataFrame(rows).set_index("model")
    table.attrs["notes"] = notes
    return table
