"""Analytic gradients of the Laplace objectives against central finite differences.

The objectives are smooth to ~1e-10 (exact PLS; PIRLS converged to a Newton decrement of
1e-20), so central differences with h = 1e-5 are accurate to ~1e-6 relative: the tolerance is
1e-5 relative to the largest gradient entry.
"""

from __future__ import annotations

import numpy as np
import pytest

import bayesmix
from bayesmix.backends.laplace.objective import GlmmObjective, LmmObjective
from bayesmix.latent import latent_field, new_state
from benchmarks.datagen import glmm_data


def _fd(fun, x, h=1e-5):
    return np.array([(fun(x + h * e) - fun(x - h * e)) / (2 * h) for e in np.eye(len(x))])


def _start(design, diag=0.7, off=0.2):
    return np.where(np.isfinite(design.theta_lower), diag, off)


SYN = glmm_data(2000, 150, crossed_levels=20, seed=2)

GLMM_CASES = [
    ("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp", "binomial"),
    ("TICKS ~ YEAR + scale(HEIGHT) + (1 | BROOD) + (1 | LOCATION)", "grouseticks",
     "poisson"),
    ("y ~ 1 + x + (1 + x | g) + (1 | h)", None, "bernoulli"),
    ("y ~ 1 + x + (x || g)", None, "bernoulli"),
]


@pytest.mark.parametrize(("formula", "dataset", "family"), GLMM_CASES)
@pytest.mark.parametrize("method", ["blocked", "cholmod"])
def test_laplace_deviance_gradient(formula, dataset, family, method):
    data = SYN if dataset is None else bayesmix.datasets.load(dataset)
    design = bayesmix.build_design(formula, data, family)
    obj = GlmmObjective(new_state(latent_field(design, method)), 1)
    x = np.concatenate([_start(design), np.full(design.p, 0.1)])
    x[design.n_theta] = -1.0
    _, grad = obj.value_and_grad(x)
    fd = _fd(obj, x)
    assert np.max(np.abs(grad - fd)) < 1e-5 * np.max(np.abs(fd))


LMM_CASES = [
    ("Reaction ~ Days + (Days | Subject)", "sleepstudy", None),
    ("Reaction ~ Days + (Days | Subject)", "sleepstudy", "w"),
    ("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin", None),
    ("strength ~ 1 + (1 | batch/cask)", "Pastes", None),
    ("Reaction ~ Days + (Days || Subject)", "sleepstudy", None),
]


@pytest.mark.parametrize(("formula", "dataset", "weights"), LMM_CASES)
@pytest.mark.parametrize("method", ["blocked", "cholmod"])
@pytest.mark.parametrize("reml", [True, False])
def test_profiled_deviance_gradient(formula, dataset, weights, method, reml):
    data = bayesmix.datasets.load(dataset)
    data["w"] = 1.0 + np.arange(len(data)) % 3
    design = bayesmix.build_design(formula, data, weights=weights)
    obj = LmmObjective(new_state(latent_field(design, method)), reml)
    x = _start(design, 0.7, 0.1)
    _, grad = obj.value_and_grad(x)
    fd = _fd(obj, x, 1e-6)
    assert np.max(np.abs(grad - fd)) < 1e-5 * np.max(np.abs(fd))


def test_gradient_and_derivative_free_paths_agree():
    data = bayesmix.datasets.load("grouseticks")
    formula = "TICKS ~ YEAR + scale(HEIGHT) + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)"
    a = bayesmix.fit(formula, data, "poisson", draws=0, priors="flat")
    b = bayesmix.fit(formula, data, "poisson", draws=0, gradient=False, priors="flat")
    assert a.info.extra["gradient"] == "analytic"
    assert b.info.extra["evaluations_laplace"] > 3 * a.info.extra["evaluations_laplace"]
    assert abs(a.loglik - b.loglik) < 1e-6
    assert np.allclose(a.estimates.beta, b.estimates.beta, rtol=1e-4)
    assert np.allclose(a.fixef()["std_error"], b.fixef()["std_error"], rtol=1e-3)
