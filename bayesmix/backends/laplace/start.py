"""Starting values of θ from moment equations (MINQUE(0)), for the Newton optimizer.

Every Laplace fit starts from a cheap, consistent estimate of the covariance parameters
instead of lme4's θ = 1: a Newton method converges in a few steps from a start near the
optimum, while θ = 1 can be far from it on the scale of the curvature (InstEval's
``dept:service`` SD ratio is 0.09, and the deviance is nearly flat in it at 1).

With residuals e of the model without random effects (working residuals of the GLM for other
families) and precision weights W, write Var(e) ≈ Σ_p σ_p V_p + σ₀² W⁻¹, where p runs over the
entries (a ≤ b) of every term's covariance Σ_k and V_p = Z_ka Z_kbᵀ + Z_kb Z_kaᵀ (Z_ka: the
term's column a spread over its levels). Matching the quadratic forms Q_p = sᵀV_ps (s = We)
to their expectations gives the linear system

    Σ_q tr(WV_pWV_q) σ_q + σ₀² tr(WV_p) = Q_p,        Σ_q tr(WV_q) σ_q + n σ₀² = sᵀW⁻¹s,

(σ₀² = 1 known outside the Gaussian family: it moves to the right-hand side). The traces are
sums over the cells of pairs of grouping factors, so the cost is a few passes over the rows.
The residuals are projected off X, and so are the expectations (without that the SDs of
terms with few levels come out low by about 1/levels). The estimates are projected onto
covariances whose eigenvalues are at least ``FLOOR``² so that no term starts on the
boundary, where the deviance is flat in θ.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...latent._row_pass import terms_at

__all__ = ["moment_theta", "lmm_start", "glm_start", "glmm_start", "FLOOR"]

# Smallest starting value of a diagonal entry of T_k (SD relative to σ, or on the link scale).
FLOOR = 0.05


def _components(term) -> list[tuple[int, int]]:
    """(a, b), a ≥ b, of the covariance entries of a term that are free."""
    if term.structure == "diagonal":
        return [(a, a) for a in range(term.r)]
    return [(a, b) for b in range(term.r) for a in range(b, term.r)]


def _sym(a: int, b: int) -> list[tuple[int, int]]:
    return [(a, b)] if a == b else [(a, b), (b, a)]


def _cell_sums(codes_k, codes_l, Xk, Xl, w):
    """P[a][c] = Σ_{rows in cell} w x_ka x_lc over the cells of the pair of factors."""
    if codes_l is None:
        cells, ncell = codes_k, int(codes_k.max()) + 1 if len(codes_k) else 0
    else:
        key = codes_k.astype(np.int64) * (int(codes_l.max()) + 1) + codes_l
        cells, uniques = pd.factorize(key)
        ncell = len(uniques)
    return [[np.bincount(cells, weights=w * Xk[:, a] * Xl[:, c], minlength=ncell)
             for c in range(Xl.shape[1])] for a in range(Xk.shape[1])]


def _v_times(term, a: int, b: int, WX: np.ndarray) -> np.ndarray:
    """V_p (WX) for the component p = (a, b) of a term: n × p."""
    out = np.zeros_like(WX)
    for a2, b2 in _sym(a, b):
        sums = np.column_stack([np.bincount(term.codes, weights=term.X[:, b2] * WX[:, c],
                                            minlength=term.m) for c in range(WX.shape[1])])
        out += term.X[:, a2][:, None] * sums[term.codes]
    return out


def moment_theta(design, X: np.ndarray, s: np.ndarray, w: np.ndarray,
                 sigma2_known: bool) -> np.ndarray | None:
    """θ from the moment equations, or None where they give no usable estimate.

    Parameters
    ----------
    design : Design
    X : ndarray (n, p)
        Fixed-effects columns; s must be orthogonal to them (Xᵀs = 0).
    s : ndarray (n,)
        Weighted residuals W e of the (weighted least-squares or GLM) fit without random
        effects.
    w : ndarray (n,)
        Precision weights W (prior weights; GLM working weights for other families).
    sigma2_known : bool
        True when the residual variance is 1 (non-Gaussian families, on the working scale).
    """
    terms = design.terms
    comps = [(k, a, b) for k, t in enumerate(terms) for a, b in _components(t)]
    nc = len(comps)
    n = len(s)
    Tm = np.zeros((nc + 1, nc + 1))
    Q = np.zeros(nc + 1)
    # Same-term pieces: per-level sums of x_a s and cell sums of w x_a x_c.
    level_s = [[np.bincount(t.codes, weights=t.X[:, a] * s, minlength=t.m)
                for a in range(t.r)] for t in terms]
    for i, (k, a, b) in enumerate(comps):
        mult = 1.0 if a == b else 2.0
        Q[i] = mult * (level_s[k][a] @ level_s[k][b])
        Tm[i, nc] = Tm[nc, i] = mult * float(np.sum(w * terms[k].X[:, a] * terms[k].X[:, b]))
    for k in range(len(terms)):
        for l in range(k, len(terms)):
            P = _cell_sums(terms[k].codes, None if k == l else terms[l].codes,
                           terms[k].X, terms[l].X, w)
            for i, (kk, a, b) in enumerate(comps):
                if kk != k:
                    continue
                for j, (ll, c, d) in enumerate(comps):
                    if ll != l:
                        continue
                    v = sum(P[a2][d2] @ P[b2][c2] for a2, b2 in _sym(a, b)
                            for c2, d2 in _sym(c, d))
                    Tm[i, j] = Tm[j, i] = v
    Tm[nc, nc] = n
    Q[nc] = float(np.sum(s * s / w))
    if X.shape[1]:
        # The residuals are projected off X (s = R y, R = W − WX G⁻¹XᵀW, G = XᵀWX), so
        # E[Q_p] uses tr(RV_pRV_q) = tr(WV_pWV_q) − 2 tr(G⁻¹Y_pᵀWY_q) + tr(G⁻¹K_pG⁻¹K_q)
        # with Y_p = V_pWX and K_p = XᵀWY_p (Y = X for the residual, V₀ = W⁻¹). Without it
        # the SDs of terms with few levels come out low by about 1/levels.
        WX = X * w[:, None]
        Y = [_v_times(terms[k], a, b, WX) for k, a, b in comps] + [X]
        Gi = np.linalg.inv(X.T @ WX)
        GK = [Gi @ (WX.T @ Yp) for Yp in Y]
        WY = [Yp * w[:, None] for Yp in Y]
        for i in range(nc + 1):
            for j in range(i + 1):
                corr = -2.0 * np.trace(Gi @ (WY[i].T @ Y[j])) + np.trace(GK[i] @ GK[j])
                Tm[i, j] += corr
                if i != j:
                    Tm[j, i] += corr
    if sigma2_known:
        sol = np.linalg.lstsq(Tm[:nc, :nc], Q[:nc] - Tm[:nc, nc], rcond=1e-12)[0]
        sigma2 = 1.0
    else:
        full = np.linalg.lstsq(Tm, Q, rcond=1e-12)[0]
        sol, sigma2 = full[:nc], float(full[nc])
    if not (np.all(np.isfinite(sol)) and np.isfinite(sigma2) and sigma2 > 0):
        return None
    theta = np.zeros(design.n_theta)
    for k, term in enumerate(terms):
        cov = np.zeros((term.r, term.r))
        for (kk, a, b), v in zip(comps, sol):
            if kk == k:
                cov[a, b] = cov[b, a] = v / sigma2
        vals, vecs = np.linalg.eigh(cov)
        cov = (vecs * np.maximum(vals, FLOOR**2)) @ vecs.T
        T = np.linalg.cholesky(cov)
        if term.structure == "diagonal":
            T = np.diag(np.sqrt(np.diag(cov)))
        theta[term.theta_index] = term.theta_from_T(T)
    return theta


def _working(field, eta: np.ndarray, alpha: np.ndarray | None = None,
             zeta: np.ndarray | None = None):
    """(Σ f, weights, scores) of every row at η (the families' row kernel; ``zeta``: the
    zero-inflation log-odds of a zero-inflated family)."""
    trials, pw = field.kernel_arrays(zeta)
    w, score = np.empty(field.n), np.empty(field.n)
    alpha = np.zeros(0) if alpha is None else alpha
    total = terms_at(field.family, field.link, field.y, trials, pw, alpha, eta, w, score)
    return total, w, score


def lmm_start(field) -> np.ndarray:
    """Starting θ of a Gaussian fit: moment estimates from the weighted least-squares
    residuals (lme4's θ = 1 where the moment equations give nothing usable)."""
    w = np.ones(field.n) if field.weights is None else field.weights
    resid = field.y - field.offset
    if field.p:
        XtW = field.X.T * w
        try:
            beta = np.linalg.solve(XtW @ field.X, XtW @ resid)
        except np.linalg.LinAlgError:
            return field.design.theta_init
        resid = resid - field.X @ beta
    theta = moment_theta(field.design, field.X, w * resid, w, sigma2_known=False)
    return field.design.theta_init if theta is None else theta


def glm_start(field, max_iter: int = 50, tol: float = 1e-10,
              alpha: np.ndarray | None = None, zeta: np.ndarray | None = None) -> np.ndarray:
    """β of the GLM without random effects (IRLS from R's starting values), glmer's start;
    ``alpha``: the family's parameters, ``zeta``: the zero-inflation log-odds, held fixed.

    Each IRLS step solves the p × p normal equations XᵀWX β = XᵀWz (p is small; a
    least-squares solve of the n × p system cost 10× more at a million rows).
    """
    fam = field.design.family
    n = 1.0 if field.trials is None else field.trials
    if fam.name in ("poisson", "negbinomial", "negbinomial1") or fam.zero_inflated:
        mu0 = field.y + 0.1
    elif fam.name in ("bernoulli", "binomial"):
        mu0 = (field.y + 0.5) / (n + 1.0)
    else:
        mu0 = field.y
    eta = fam.link.link(mu0)
    beta = np.zeros(field.p)
    dev_old = np.inf
    for _ in range(max_iter):
        dev, w, score = _working(field, eta, alpha, zeta)
        if np.any(w < 0):  # observed information (t, beta, NB1): a row's can be negative
            w = np.maximum(w, 1e-3 * float(np.median(np.abs(w))))
        if abs(dev - dev_old) < tol * (abs(dev) + 0.1):
            break
        dev_old = dev
        z = eta - field.offset + score / w
        XtW = field.X.T * w
        try:
            beta = np.linalg.solve(XtW @ field.X, XtW @ z)
        except np.linalg.LinAlgError:
            sw = np.sqrt(w)
            beta = np.linalg.lstsq(field.X * sw[:, None], z * sw, rcond=None)[0]
        eta = field.X @ beta + field.offset
    return beta


def glmm_start(field, beta: np.ndarray, alpha: np.ndarray | None = None,
               zeta: np.ndarray | None = None) -> np.ndarray:
    """Starting θ of a GLMM: moment estimates on the working scale of the GLM fit β (scores
    and working weights at its linear predictor), lme4's θ = 1 as the fallback."""
    eta = field.X @ beta + field.offset
    _, w, score = _working(field, eta, alpha, zeta)
    if not np.all(w > 0):
        return field.design.theta_init
    theta = moment_theta(field.design, field.X, score, w, sigma2_known=True)
    return field.design.theta_init if theta is None else theta
