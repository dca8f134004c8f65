"""Profile-likelihood intervals of a linear mixed model (lme4's ``confint(method="profile")``).

The ML deviance with β profiled out by the penalized least squares,

    d(θ, σ) = log|L|² − Σ log wᵢ + r²(θ)/σ² + n log(2πσ²),

is written in the natural coordinates of the Bayesian Laplace (:mod:`.hyper`: log SD per
random column, atanh of the canonical partial correlations, log σ). For one coordinate held
at v, the others are minimised (warm-started from the neighbouring v); the signed root
ζ(v) = sign(v − v̂) √(d_v − d̂) crosses ±z at the interval's ends, found by bracketing and
Brent's method. A fixed effect is profiled the same way with its column moved into the
offset. As lme4, REML fits are profiled on the ML deviance (its intervals for a REML and an
ML fit are the same). Correlations are profiled for two-column terms, where the canonical
partial correlation is the correlation; for larger terms they are left out (NaN).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from scipy import optimize, stats

from ...errors import BayesmixError
from ...latent import latent_field, new_state, set_theta, solve_pls
from .hyper import HyperSpace

__all__ = ["profile_confint"]

_SEARCH = 12.0  # how far (in the coordinate's units) to look for the crossing


class _Deviance:
    """φ (and an optional fixed β_j = v) ↦ the ML deviance with the other β profiled."""

    def __init__(self, spec):
        self.spec = spec
        self.hyper = HyperSpace(spec)
        self.field = latent_field(spec.design)
        self.state = new_state(self.field)

    def __call__(self, phi: np.ndarray, field=None) -> float:
        hyp = self.hyper.unpack(phi)
        f = self.field if field is None else field
        self.state.field = f
        sol = solve_pls(set_theta(self.state, hyp.theta))
        s2 = hyp.sigma ** 2
        ldw = f.log_weights_sum
        value = sol.ldL2 - ldw + sol.pwrss / s2 + f.n * np.log(2.0 * np.pi * s2)
        return float(value) if np.isfinite(value) else np.inf

    def fixed_beta_field(self, j: int, value: float):
        f = self.field
        keep = [k for k in range(f.p) if k != j]
        return dataclasses.replace(f, X=np.ascontiguousarray(f.X[:, keep]),
                                   offset=f.offset + value * f.X[:, j])


def _minimize(fun, x0: np.ndarray) -> tuple[float, np.ndarray]:
    if x0.size == 0:
        return fun(x0), x0
    res = optimize.minimize(fun, x0, method="L-BFGS-B", options={"ftol": 1e-14,
                                                                  "gtol": 1e-9})
    res2 = optimize.minimize(fun, res.x, method="Nelder-Mead",
                             options={"xatol": 1e-8, "fatol": 1e-12, "maxfev": 4000})
    return (res2.fun, res2.x) if res2.fun < res.fun else (res.fun, res.x)


def _interval(zeta, centre: float, step: float, z: float, lower_limit: float | None):
    """The two roots of ζ(v) = ±z around the centre (ζ increasing through it)."""
    out = []
    for sign in (-1.0, 1.0):
        a, fa = centre, -sign * z
        b = centre
        found = None
        for k in range(1, 60):
            b = centre + sign * step * k * (1.0 if k < 8 else 2.0 ** (k - 7))
            if abs(b - centre) > _SEARCH * max(step, 1.0) * 8:
                break
            fb = zeta(b) - sign * z
            if np.sign(fb) != np.sign(fa if k > 1 else -sign):
                lo, hi = (a, b) if a < b else (b, a)
                found = optimize.brentq(lambda v: zeta(v) - sign * z, lo, hi, xtol=1e-10)
                break
            a, fa = b, fb
        if found is None:
            found = lower_limit if sign < 0 and lower_limit is not None else np.nan
        out.append(found)
    return out


def profile_confint(fit, level: float = 0.95) -> pd.DataFrame:
    """Profile intervals for β, the SDs, the correlations of two-column terms and σ of a
    Gaussian laplace fit with flat priors (ML or REML)."""
    design = fit.design
    if fit.backend != "laplace" or not design.family.has_sigma or fit.estimates is None:
        raise BayesmixError(
            "profile intervals are available for linear mixed models (gaussian or lognormal "
            "family) fitted by the laplace backend with flat priors; use method='wald' or, "
            "for fits with priors, method='posterior'")
    z = stats.norm.ppf(0.5 + 0.5 * level)
    dev = _Deviance(fit.spec)
    hyper = dev.hyper
    est = fit.estimates
    phi0 = hyper.from_theta(est.theta, est.sigma)
    d_hat, phi_hat = _minimize(dev, phi0)
    beta_hat = solve_pls(set_theta(dev.state, hyper.unpack(phi_hat).theta)).beta.copy()
    rows = []

    def coordinate(i: int, label: str, back, lower_limit):
        others = [k for k in range(hyper.dim) if k != i]
        warm = {"x": phi_hat[others]}

        def zeta(v):
            def fun(x):
                phi = np.empty(hyper.dim)
                phi[i], phi[others] = v, x
                return dev(phi)
            d, x = _minimize(fun, warm["x"])
            warm["x"] = x
            return np.sign(v - phi_hat[i]) * np.sqrt(max(d - d_hat, 0.0))

        lo, hi = _interval(zeta, phi_hat[i], 0.1, z, lower_limit)
        rows.append((label, back(lo), back(hi)))

    names = hyper.names
    k = 0
    for t in design.terms:
        for col in t.columns:
            coordinate(k, f"sd({col}|{t.label})", np.exp, -np.inf)
            k += 1
        if t.correlated:
            for c in range(t.r):
                for a in range(c + 1, t.r):
                    label = f"cor({t.columns[a]},{t.columns[c]}|{t.label})"
                    if t.r == 2:
                        coordinate(k, label, np.tanh, None)
                    else:
                        rows.append((label, np.nan, np.nan))
            k += t.r * (t.r - 1) // 2
    coordinate(names.index("log sigma"), "sigma", np.exp, None)
    se = fit.fixef()["std_error"].to_numpy()
    for j, name in enumerate(design.x_names):
        def zeta(v, j=j, warm={"x": phi_hat.copy()}):
            field = dev.fixed_beta_field(j, v)
            d, x = _minimize(lambda phi: dev(phi, field), warm["x"])
            warm["x"] = x
            return np.sign(v - beta_hat[j]) * np.sqrt(max(d - d_hat, 0.0))

        lo, hi = _interval(zeta, beta_hat[j], 0.5 * se[j], z, None)
        rows.append((f"beta[{name}]", lo, hi))
    dev.state.field = dev.field
    return pd.DataFrame(rows, columns=["parameter", "lower", "upper"]).set_index(
        "parameter").assign(method="profile", level=level)
