"""bayesmix.linalg against dense linear algebra on mixed-model patterns.

Every factorization (blocked; CHOLMOD natural / AMD / METIS / COLAMD) must give log|A|, L⁻¹Pb,
A⁻¹b and the diagonal blocks of A⁻¹ of A = ΛᵀZᵀWZΛ + I to rounding (1e-10 relative), for one
factor, nested, crossed and correlated/diagonal terms, with and without weights.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayesmix
from bayesmix import linalg


def _data(seed=1, n=1500):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "y": rng.standard_normal(n), "x": rng.standard_normal(n),
        "g": rng.integers(0, 120, n), "h": rng.integers(0, 25, n),
        "k": rng.integers(0, 6, n),
    })


FORMULAS = [
    "y ~ x + (1 + x | g)",
    "y ~ x + (1 + x | g) + (1 | h)",
    "y ~ x + (1 | g) + (x | h) + (1 | k)",
    "y ~ x + (x || h) + (1 | k)",
    "y ~ x + (1 | k/h)",
]
FACTORS = [("blocked", "natural"), ("cholmod", "natural"), ("cholmod", "amd"), ("cholmod", "metis"),
           ("cholmod", "colamd")]


def _dense(design, theta, w):
    ZL = design.Z_Lambda(theta)
    A = (ZL.T @ ZL.multiply(w[:, None])).toarray() + np.eye(design.q)
    return ZL, A


@pytest.mark.parametrize("formula", FORMULAS)
@pytest.mark.parametrize(("method", "ordering"), FACTORS)
def test_factor_matches_dense(formula, method, ordering):
    design = bayesmix.build_design(formula, _data())
    rng = np.random.default_rng(0)
    theta = design.theta_init + 0.4 * rng.standard_normal(design.n_theta)
    theta = np.where(np.isfinite(design.theta_lower), np.abs(theta), theta)
    w = rng.uniform(0.3, 3.0, design.n)
    ZL, A = _dense(design, theta, w)
    Ainv = np.linalg.inv(A)
    factor = linalg.analyze(linalg.z_structure(design), method=method, ordering=ordering,
                            dense_max=10**6)
    assert factor.method == method
    factor.update(ZL.data, w)
    assert np.isclose(factor.logdet(), np.linalg.slogdet(A)[1], rtol=1e-12)
    b = rng.standard_normal((design.q, 3))
    b_copy = b.copy()
    half = factor.solve_L(b)
    assert np.array_equal(b, b_copy)  # inputs untouched
    assert np.allclose(np.sum(half * half, 0), np.einsum("ij,ij->j", b, Ainv @ b),
                       rtol=1e-10)
    assert np.allclose(factor.solve(b), Ainv @ b, rtol=1e-9, atol=1e-12)
    assert np.allclose(factor.solve_Lt(factor.solve_L(b[:, 0])), Ainv @ b[:, 0],
                       rtol=1e-9, atol=1e-12)
    blocks = [(t.z_offset, t.m, t.r) for t in design.terms]
    for (offset, m, r), got in zip(blocks, factor.inverse_diag_blocks(blocks)):
        idx = offset + np.arange(m)[:, None] * r + np.arange(r)
        want = Ainv[idx[:, :, None], idx[:, None, :]]
        assert np.allclose(got, want, rtol=1e-9, atol=1e-13)


def test_draws_through_solve_Lt_have_covariance_A_inverse():
    design = bayesmix.build_design("y ~ x + (1 | g) + (1 | h)", _data(n=400))
    theta = np.array([0.8, 1.3])
    ZL, A = _dense(design, theta, np.ones(design.n))
    factor = linalg.analyze(linalg.z_structure(design))
    factor.update(ZL.data)
    z = np.random.default_rng(2).standard_normal((design.q, 200_000))
    x = factor.solve_Lt(z)
    # 200k draws: entries of the sample covariance are within ~4/sqrt(200k) ≈ 0.01 of the
    # truth relative to the diagonal scale.
    assert np.max(np.abs(np.cov(x) - np.linalg.inv(A))) < 0.01


def test_pattern_analysed_once_with_explicit_zeros():
    """θ = 0 makes ZΛ all zeros: the stored pattern must still be the full one, so the same
    symbolic analysis serves every later θ (scikit-sparse keeps explicit zeros)."""
    design = bayesmix.build_design("y ~ x + (1 | g) + (1 | h)", _data())
    st = linalg.z_structure(design)
    for method in ("blocked", "cholmod"):
        factor = linalg.analyze(st, method=method)
        factor.update(design.Z_Lambda(np.zeros(2)).data)
        assert np.isclose(factor.logdet(), 0.0, atol=1e-12)
        theta = np.array([1.1, 0.7])
        ZL, A = _dense(design, theta, np.ones(design.n))
        factor.update(ZL.data)
        assert np.isclose(factor.logdet(), np.linalg.slogdet(A)[1], rtol=1e-12)


def test_auto_choice_and_errors():
    data = _data()
    one = linalg.z_structure(bayesmix.build_design("y ~ x + (1 | g)", data))
    assert linalg.analyze(one).method == "blocked"
    crossed = linalg.z_structure(bayesmix.build_design("y ~ x + (1 | g) + (1 | h)", data))
    assert crossed.q_rest == 25
    assert linalg.analyze(crossed, dense_max=10).method == "cholmod"
    assert linalg.analyze(crossed).method == "blocked"
    with pytest.raises(ValueError, match="unknown ordering"):
        linalg.analyze(crossed, method="cholmod", ordering="best")
    with pytest.raises(ValueError, match="unknown method"):
        linalg.analyze(crossed, method="dense")


def test_single_threaded_blas_context():
    from threadpoolctl import threadpool_info

    with linalg.single_threaded_blas():
        blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
        assert blas and all(i["num_threads"] == 1 for i in blas)


@pytest.mark.parametrize("formula", FORMULAS)
@pytest.mark.parametrize("method", ["blocked", "cholmod"])
def test_row_inverse_matches_dense(formula, method):
    design = bayesmix.build_design(formula, _data(n=600))
    rng = np.random.default_rng(5)
    theta = np.where(np.isfinite(design.theta_lower), 0.9, 0.3)
    w = rng.uniform(0.5, 2.0, design.n)
    ZL, A = _dense(design, theta, w)
    Ainv = np.linalg.inv(A)
    factor = linalg.analyze(linalg.z_structure(design), method=method)
    factor.update(ZL.data, w)
    got = factor.row_inverse()
    cols = design.Z.indices.reshape(design.n, -1)
    want = Ainv[cols[:, :, None], cols[:, None, :]]
    assert np.allclose(got, want, rtol=1e-9, atol=1e-13)
