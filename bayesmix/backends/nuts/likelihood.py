"""Log-likelihood of the response given the linear predictor, as PyTensor expressions.

The sampler only needs the log density up to constants that do not depend on the
parameters, so the canonical-link cases are written in their cheapest form
(``y η − n softplus(η)`` for the logit link, ``y η − exp(η)`` for the log link, both through
the fused kernel of :mod:`bayesmix.backends.nuts.kernels`); the full
pointwise log-likelihood, with R's constants, is computed afterwards from the draws, as for
every backend (:mod:`bayesmix.results.loglik`).

Prior weights follow lme4: for the Gaussian family they are precision weights
(y_i ~ N(η_i, σ² / w_i)); for the others the log-likelihood of row i is multiplied by w_i.
Rows with weight 0 carry no information and are left out.
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt

from ...design import Design
from ...errors import FamilyError
from .graph_inputs import data_var
from .kernels import linear_exp_loglik

__all__ = ["loglik_sum", "ordinal_logp"]


def _log_sigmoid(x):
    return -pt.softplus(-x)


def _mean(link: str, eta):
    """μ = g⁻¹(η) for the links of the supported families."""
    if link == "identity":
        return eta
    if link == "log":
        return pt.exp(eta)
    if link == "logit":
        return pt.sigmoid(eta)
    if link == "probit":
        return 0.5 * pt.erfc(-eta / np.sqrt(2.0))
    if link == "cloglog":
        return -pt.expm1(-pt.exp(eta))
    raise FamilyError(f"the nuts backend has no {link!r} link")


def _binary_logp(link: str, eta, y, n):
    """Σ-terms y log μ + (n − y) log(1 − μ), written stably (probit, cloglog; the logit link
    goes through the fused kernel)."""
    if link == "probit":
        log_mu = pt.log(0.5 * pt.erfc(-eta / np.sqrt(2.0)))
        log_1m = pt.log(0.5 * pt.erfc(eta / np.sqrt(2.0)))
        return y * log_mu + (n - y) * log_1m
    if link == "cloglog":
        # μ = 1 − exp(−exp(η)): log(1 − μ) = −exp(η), log μ = log(−expm1(−exp(η))).
        e = pt.exp(eta)
        return y * pt.log(-pt.expm1(-e)) - (n - y) * e
    raise FamilyError(f"the nuts backend has no {link!r} link for binary data")


def ordinal_logp(codes: np.ndarray, eta, cutpoints, n_levels: int, link: str = "logit"):
    """Pointwise log P(y = j) of the cumulative model g(P(y ≤ j)) = α_j − η.

    With u = α_j − η and l = α_{j−1} − η (l < u), for the logistic F:
    log(F(u) − F(l)) = log F(u) + log F(−l) + log(1 − exp(l − u)); for the normal F
    (probit): log F(u) + log(1 − F(l)/F(u)) below 0 and the same in survival functions
    above. The end categories keep only the finite terms. Every branch is finite, so no NaN
    gradients leak through the selection.
    """
    if link == "probit":
        return _ordinal_probit_logp(codes, eta, cutpoints, n_levels)
    codes = np.asarray(codes, dtype=np.int64)
    first, last = codes == 0, codes == n_levels - 1
    middle = ~(first | last)
    code_var = data_var(codes, "data_ycodes", np.int64)
    lower_pad = pt.concatenate([cutpoints[:1] - 1.0, cutpoints])
    upper_pad = pt.concatenate([cutpoints, cutpoints[-1:] + 1.0])
    u = upper_pad[code_var] - eta
    low = lower_pad[code_var] - eta
    out = (pt.switch(data_var(first, "data_yfirst", bool), 0.0, _log_sigmoid(-low))
           + pt.switch(data_var(last, "data_ylast", bool), 0.0, _log_sigmoid(u)))
    if bool(np.any(middle)):
        out = out + pt.switch(data_var(middle, "data_ymiddle", bool),
                              pt.log1mexp(pt.minimum(low - u, -1e-12)), 0.0)
    return out


def _ordinal_probit_logp(codes: np.ndarray, eta, cutpoints, n_levels: int):
    from pymc.distributions.dist_math import normal_lcdf

    codes = np.asarray(codes, dtype=np.int64)
    code_var = data_var(codes, "data_ycodes", np.int64)
    lower_pad = pt.concatenate([cutpoints[:1] - 1.0, cutpoints])
    upper_pad = pt.concatenate([cutpoints, cutpoints[-1:] + 1.0])
    u = upper_pad[code_var] - eta
    low = lower_pad[code_var] - eta
    log_fu, log_sl = normal_lcdf(0.0, 1.0, u), normal_lcdf(0.0, 1.0, -low)
    below = log_fu + pt.log1mexp(pt.minimum(normal_lcdf(0.0, 1.0, low) - log_fu, -1e-12))
    above = log_sl + pt.log1mexp(pt.minimum(normal_lcdf(0.0, 1.0, -u) - log_sl, -1e-12))
    middle = pt.switch(low > 0, above, below)
    first = data_var(codes == 0, "data_yfirst", bool)
    last = data_var(codes == n_levels - 1, "data_ylast", bool)
    return pt.switch(first, log_fu, pt.switch(last, log_sl, middle))


def _family_logp(name: str, link: str, eta, y: np.ndarray, params: dict):
    """Pointwise log p(y | η, φ / σ, ν) of the families with parameters, without the terms
    that depend on y alone (the row constants of :func:`bayesmix.families.kernels.
    row_constants`)."""
    y_var = data_var(y, "data_y")
    if name == "negbinomial":
        phi = params["phi"]
        log_phi = pt.log(phi)
        return (pt.gammaln(y_var + phi) - pt.gammaln(phi) + phi * log_phi + y_var * eta
                - (y_var + phi) * (log_phi + pt.softplus(eta - log_phi)))
    if name == "negbinomial1":
        phi = params["phi"]
        k = pt.exp(eta) / phi
        return (pt.gammaln(y_var + k) - pt.gammaln(k) - k * pt.log1p(phi)
                + y_var * (pt.log(phi) - pt.log1p(phi)))
    if name == "gamma":
        a = params["phi"]
        base = a * pt.log(a) - pt.gammaln(a) + a * data_var(np.log(y), "data_logy")
        if link == "log":
            return base - a * y_var * pt.exp(-eta) - a * eta
        # η ≤ 0 is outside the inverse link's domain: −inf there, without a NaN gradient.
        safe = pt.switch(eta > 0, eta, 1.0)
        return pt.switch(eta > 0, base - a * y_var * safe + a * pt.log(safe), -np.inf)
    if name == "beta":
        phi = params["phi"]
        mu = pt.sigmoid(eta)
        return (pt.gammaln(phi) - pt.gammaln(mu * phi) - pt.gammaln((1.0 - mu) * phi)
                + mu * phi * data_var(np.log(y), "data_logy")
                + (1.0 - mu) * phi * data_var(np.log1p(-y), "data_log1my"))
    if name == "student_t":
        sigma, nu = params["sigma"], params["nu"]
        z2 = pt.sqr((y_var - eta) / sigma)
        return (pt.gammaln(0.5 * (nu + 1.0)) - pt.gammaln(0.5 * nu)
                - 0.5 * pt.log(nu * np.pi) - pt.log(sigma)
                - 0.5 * (nu + 1.0) * pt.log1p(z2 / nu))
    raise FamilyError(f"the nuts backend does not fit the {name!r} family")


def _zero_inflated_logp(name: str, eta, y: np.ndarray, params: dict):
    """Pointwise log p(y | η, ζ) of the zero-inflated Poisson and NB2 (ζ = logit π in
    ``params["zeta"]``), without −log y!: log(1 − π) + log p_c(y) for y > 0,
    log(π + (1 − π) p_c(0)) for y = 0 (both branches finite, so no NaN gradient)."""
    zeta = params["zeta"]
    log_1mpi = _log_sigmoid(-zeta)
    if name == "zero_inflated_poisson":
        count = data_var(y, "data_y") * eta - pt.exp(eta)
        count0 = -pt.exp(eta)
    else:
        count = _family_logp("negbinomial", "log", eta, y, params)
        log_phi = pt.log(params["phi"])
        count0 = -params["phi"] * pt.softplus(eta - log_phi)
    zero = pt.logaddexp(_log_sigmoid(zeta), log_1mpi + count0)
    return pt.switch(data_var(y == 0, "data_yzero", bool), zero, log_1mpi + count)


def loglik_sum(design: Design, eta, sigma=None, cutpoints=None, params=None):
    """Σ_i w_i log p(y_i | η_i) up to parameter-free constants, as one scalar expression.

    ``params``: the family's parameters by name (φ; σ and ν of Student-t; ``zeta``, the
    rows' zero-inflation log-odds, of a zero-inflated family). Every array of
    the data enters as a named input (:func:`~.data.data_var`), never as a constant, so
    the compiled function stays cacheable. The lognormal is the Gaussian on log y (its
    Jacobian is a constant).
    """
    fam = design.family
    y = np.ascontiguousarray(design.y, dtype=float)
    if fam.name == "lognormal":
        y = np.log(y)
    w = None if design.weights is None else np.ascontiguousarray(design.weights, dtype=float)
    n = None
    if fam.name in ("bernoulli", "binomial"):
        n = np.ones_like(y) if design.trials is None else np.asarray(design.trials, float)
    if w is not None and np.any(w == 0):
        keep = np.flatnonzero(w > 0)
        kept = data_var(keep, "data_keep", np.int64)
        eta = eta[kept]
        if params and "zeta" in params:
            params = {**params, "zeta": params["zeta"][kept]}
        y, w = y[keep], w[keep]
        n = None if n is None else n[keep]
    if fam.has_sigma:
        mu = _mean(fam.link.name, eta)
        resid2 = pt.sqr(data_var(y, "data_y") - mu)
        if w is not None:
            resid2 = data_var(w, "data_w") * resid2
        return -0.5 * pt.sum(resid2) / pt.sqr(sigma) - y.size * pt.log(sigma)
    wt = np.ones_like(y) if w is None else w
    if fam.name in ("bernoulli", "binomial") and fam.link.name == "logit":
        return linear_exp_loglik(eta, data_var(wt * y, "data_a"), data_var(wt * n, "data_c"),
                                 "softplus")
    if fam.name == "poisson" and fam.link.name == "log":
        return linear_exp_loglik(eta, data_var(wt * y, "data_a"), data_var(wt, "data_c"),
                                 "exp")
    if fam.zero_inflated:
        terms = _zero_inflated_logp(fam.name, eta, y, params)
        return pt.sum(terms if w is None else data_var(w, "data_w") * terms)
    if fam.kernel_parameters:
        terms = _family_logp(fam.name, fam.link.name, eta, y, params or {})
        return pt.sum(terms if w is None else data_var(w, "data_w") * terms)
    y_var = data_var(y, "data_y")
    if fam.name in ("bernoulli", "binomial"):
        terms = _binary_logp(fam.link.name, eta, y_var, data_var(n, "data_trials"))
    elif fam.name == "poisson":
        mu = _mean(fam.link.name, eta)
        terms = y_var * pt.log(mu) - mu
    elif fam.name == "ordinal":
        n_levels = len(design.response_levels)
        terms = ordinal_logp(y.astype(np.int64), eta, cutpoints, n_levels, fam.link.name)
    else:
        raise FamilyError(f"the nuts backend does not fit the {fam.name!r} family")
    return pt.sum(terms if w is None else data_var(w, "data_w") * terms)
