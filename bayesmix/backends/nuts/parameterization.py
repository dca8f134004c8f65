"""Centred or non-centred random effects, chosen per term from the data.

NUTS mixes well when the posterior is close to a standard Gaussian. Which form of a random
term gets there depends on how much each level's data say about its own effect:

- weakly informed levels (few rows, noisy families): b_j ≈ its prior N(0, Σ), so the
  non-centred form b_j = T z_j with z_j ~ N(0, I) is nearly independent of the SDs;
- well informed levels: b_j ≈ its data, and then the centred form b_j ~ N(0, Σ) is the
  one whose coordinates are nearly independent (the non-centred z_j = T⁻¹ b_j is then tightly
  coupled to the SDs, an inverted funnel).

The choice uses a signal-to-noise ratio per column c of the term, from one cheap moment fit
on a working response (the GLM linearised at the overall mean; the OLS residuals for the
Gaussian family): per level j, the weighted least-squares estimate b̂_j of the term's
coefficients, its sampling variance v_jc, and the spread of the b̂_jc across levels give
τ_c² ≈ var_j(b̂_jc) − mean_j(v_jc) (the method of moments), and

    ρ_c = τ_c² / median_j(v_jc).

A term is centred when ρ_c ≥ 1 for all its columns (the levels' data are at least as
precise as the spread of the effects), otherwise non-centred. Levels whose r × r normal
equations are singular (too few rows) do not inform the estimate; a term with fewer than
three usable levels stays non-centred, the safe choice.
"""

from __future__ import annotations

import numpy as np

from ...design import Design

__all__ = ["signal_to_noise", "choose_centred"]

MIN_LEVELS = 3


def _working(design: Design) -> tuple[np.ndarray, np.ndarray, float | None]:
    """Working response e, working weights W and a dispersion (None: estimate it)."""
    fam = design.family
    y = np.asarray(design.y, dtype=float)
    w = np.ones_like(y) if design.weights is None else np.asarray(design.weights, float)
    if fam.name in ("gaussian", "lognormal", "student_t"):
        if fam.name == "lognormal":
            y = np.log(y)
        sw = np.sqrt(w)
        beta, *_ = np.linalg.lstsq(design.X * sw[:, None], y * sw, rcond=None)
        if fam.link.name == "identity":
            return y - design.X @ beta, w, None
    if fam.kernel_parameters or fam.has_sigma or fam.zero_inflated:
        # Working scale at the mean of y, with y's variance (which includes the random
        # effects' share: a conservative information per row).
        mu = float(np.mean(y))
        if fam.name == "beta":
            mu = float(np.clip(mu, 1e-3, 1 - 1e-3))
        eta = float(fam.link.link(np.array(mu)))
        dmu = float(fam.link.mu_eta(np.array(eta)))
        var = max(float(np.var(y)), 1e-12)
        return (y - mu) / dmu, w * dmu * dmu / var, 1.0
    if fam.name == "ordinal":
        # Latent logistic scale: unit information per row is about that of a logistic
        # regression at p = 1/2 per threshold, 1/4; the working residual is centred codes.
        k = max(len(design.response_levels or ()), 2)
        return (y - y.mean()) * (4.0 / k), w * 0.25, 1.0
    n = np.ones_like(y) if design.trials is None else np.asarray(design.trials, float)
    mu = float(np.clip(y.sum() / n.sum(), 1e-3, 1 - 1e-3)) if fam.name != "poisson" else \
        max(float(y.mean()), 1e-3)
    eta = float(fam.link.link(np.array(mu)))
    dmu = float(fam.link.mu_eta(np.array(eta)))
    if fam.name == "poisson":
        var = mu
        return (y - mu) / dmu, w * dmu * dmu / var, 1.0
    var = mu * (1.0 - mu)
    return (y - n * mu) / (n * dmu), w * n * dmu * dmu / var, 1.0


def _term_fit(t, e: np.ndarray, W: np.ndarray, phi: float | None):
    """Per-level WLS of e on the term's columns: (b̂ (m, r), v (m, r), usable levels, φ)."""
    r, m, X = t.r, t.m, t.X
    A = np.zeros((m, r, r))
    rhs = np.zeros((m, r))
    np.add.at(A, t.codes, W[:, None, None] * X[:, :, None] * X[:, None, :])
    np.add.at(rhs, t.codes, W[:, None] * X * e[:, None])
    dets = np.linalg.det(A) if r > 1 else A[:, 0, 0]
    scale = np.maximum(np.abs(np.einsum("mii->m", A)), 1e-300) ** r
    usable = np.abs(dets) > 1e-10 * scale
    b_hat, v = np.zeros((m, r)), np.full((m, r), np.inf)
    if usable.sum() < MIN_LEVELS:
        return b_hat, v, usable, phi
    Ainv = np.linalg.inv(A[usable])
    b_hat[usable] = np.einsum("mij,mj->mi", Ainv, rhs[usable])
    if phi is None:
        rows = usable[t.codes]
        resid = e[rows] - np.einsum("ic,ic->i", X[rows], b_hat[t.codes[rows]])
        dof = rows.sum() - usable.sum() * r
        phi = (float(np.sum(W[rows] * resid ** 2) / dof) if dof > 0 else
               float(np.sum(W * e * e) / max(len(e) - 1, 1)))
    v[usable] = phi * np.einsum("mii->mi", Ainv)
    return b_hat, v, usable, phi


def signal_to_noise(design: Design, sweeps: int = 2) -> dict[str, np.ndarray]:
    """ρ_c for every column of every term, keyed by term label (NaN where undefined).

    With several terms (crossed or nested factors) the estimates are refined by
    ``sweeps`` rounds of backfitting: each term is fitted to the working residual minus the
    other terms' current (shrunken) effects.
    """
    e, W, phi = _working(design)
    terms = design.terms
    shrunk = {t.label: np.zeros((t.m, t.r)) for t in terms}
    rho: dict[str, np.ndarray] = {}
    for _ in range(max(1, sweeps) if len(terms) > 1 else 1):
        for t in terms:
            others = e.copy()
            for u in terms:
                if u is not t:
                    others -= np.einsum("ic,ic->i", u.X, shrunk[u.label][u.codes])
            b_hat, v, usable, disp = _term_fit(t, others, W, phi)
            if usable.sum() < MIN_LEVELS:
                rho[t.label] = np.full(t.r, np.nan)
                continue
            bu, vu = b_hat[usable], v[usable]
            tau2 = np.var(bu, axis=0, ddof=1) - vu.mean(axis=0)
            rho[t.label] = tau2 / np.median(vu, axis=0)
            keep = np.maximum(tau2, 0.0)
            shrunk[t.label] = np.where(usable[:, None], b_hat * keep / (keep + v), 0.0)
    return rho


def choose_centred(design: Design) -> dict[str, bool]:
    """Whether to centre each term (label → bool), by the rule in the module docstring."""
    rho = signal_to_noise(design)
    return {label: bool(np.all(np.isfinite(v)) and np.all(v >= 1.0))
            for label, v in rho.items()}
