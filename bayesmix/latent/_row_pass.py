"""numba pass over the rows for the factor-based mode: η, the family's terms, in one loop.

One pass replaces a dozen NumPy temporaries, which dominated the cost of a PIRLS step. The
family maths is :func:`bayesmix.families.kernels.row_terms`; this module only walks the rows
of ZΛ (CSR, ``width`` entries per row) and X.
"""

from __future__ import annotations

from numba import njit

from ..families.kernels import row_terms

__all__ = ["eta_terms", "terms_at", "threshold_cross", "row_f"]


@njit(cache=True, nogil=True)
def eta_terms(fam, link, y, trials, pw, alpha, data, cols, width, X, beta, offset, u, eta,
              w, score):
    """η = offset + Xβ + ZΛu, the information weights w = h and scores −g of every row;
    returns Σ f (the negative log-likelihood without the rows' constants; +inf outside the
    family's domain). ``trials`` and ``pw`` may be empty (1 for every row)."""
    n = y.shape[0]
    p = X.shape[1]
    has_n = trials.shape[0] > 0
    has_w = pw.shape[0] > 0
    total = 0.0
    for i in range(n):
        e = offset[i]
        for k in range(p):
            e += X[i, k] * beta[k]
        base = i * width
        for f in range(width):
            e += data[base + f] * u[cols[base + f]]
        eta[i] = e
        t = row_terms(fam, link, y[i], e, trials[i] if has_n else 1.0,
                      pw[i] if has_w else 1.0, 1.0, alpha)
        total += t[0]
        score[i] = -t[1]
        w[i] = t[2]
    return total


@njit(cache=True, nogil=True)
def terms_at(fam, link, y, trials, pw, alpha, eta, w, score):
    """:func:`eta_terms` at a given η (no random effects involved)."""
    n = y.shape[0]
    has_n = trials.shape[0] > 0
    has_w = pw.shape[0] > 0
    total = 0.0
    for i in range(n):
        t = row_terms(fam, link, y[i], eta[i], trials[i] if has_n else 1.0,
                      pw[i] if has_w else 1.0, 1.0, alpha)
        total += t[0]
        score[i] = -t[1]
        w[i] = t[2]
    return total


@njit(cache=True, nogil=True)
def threshold_cross(fam, link, y, trials, pw, alpha, eta, out):
    """out[i, k] = ∂²f_i/∂η_i∂α_k for the ordinal thresholds (zero elsewhere): how the rows
    couple the random effects with α in the Hessian."""
    n = y.shape[0]
    has_n = trials.shape[0] > 0
    has_w = pw.shape[0] > 0
    out[:, :] = 0.0
    for i in range(n):
        t = row_terms(fam, link, y[i], eta[i], trials[i] if has_n else 1.0,
                      pw[i] if has_w else 1.0, 1.0, alpha)
        if t[3] >= 0:
            out[i, t[3]] += t[10]
        if t[4] >= 0:
            out[i, t[4]] += t[11]


@njit(cache=True, nogil=True)
def row_f(fam, link, y, trials, pw, alpha, eta, out):
    """out[i] = f_i(η_i), the row's term of the negative log-likelihood (no constants)."""
    n = y.shape[0]
    has_n = trials.shape[0] > 0
    has_w = pw.shape[0] > 0
    for i in range(n):
        out[i] = row_terms(fam, link, y[i], eta[i], trials[i] if has_n else 1.0,
                           pw[i] if has_w else 1.0, 1.0, alpha)[0]
