"""Adaptive Gauss–Hermite quadrature (nagq > 1) against glmer's and clmm's AGQ fits."""

import numpy as np
import pytest
from scipy import stats

import bayesmix
from conftest import shared_fits


def _agq(dataset: str):
    return next(f for f in shared_fits(dataset).values() if f["method"].startswith("AGQ"))


def test_cbpp_nagq25_matches_glmer():
    """glmer(..., nAGQ = 25): θ, β and standard errors to 1e-4 relative (the issue's 1e-3;
    measured ~1e-5). glmer's AGQ log-likelihood sums deviance residuals, i.e. it is the
    log-likelihood minus the saturated model's (Σ log Binomial(y | n, y/n)); we report the
    log-likelihood itself, and the difference is exactly that constant (to 1e-8)."""
    ref = _agq("cbpp")
    fit = bayesmix.fit(ref["formula"], bayesmix.datasets.load("cbpp"), "binomial",
                       backend="laplace", priors="flat", nagq=25)
    assert fit.info.method == "AGQ(nAGQ=25)"
    np.testing.assert_allclose(fit.estimates.theta, ref["theta"]["value"], rtol=1e-4)
    fe = fit.fixef()
    np.testing.assert_allclose(fe["estimate"], ref["fixef"]["estimate"], rtol=1e-4)
    np.testing.assert_allclose(fe["std_error"], ref["fixef"]["std_error"], rtol=1e-4)
    d = fit.design
    saturated = stats.binom.logpmf(d.y, d.trials, d.y / d.trials).sum()
    assert fit.info.loglik - saturated == pytest.approx(ref["logLik"], abs=1e-6)


def test_wine_nagq10_matches_clmm():
    ref = _agq("wine")
    fit = bayesmix.fit("rating ~ temp + contact + (1 | judge)", bayesmix.datasets.load("wine"),
                       "ordinal", backend="laplace", nagq=10)
    assert fit.info.loglik == pytest.approx(ref["logLik"], abs=1e-6)
    np.testing.assert_allclose(fit.fixef()["estimate"], ref["fixef"]["estimate"], rtol=1e-4)
    np.testing.assert_allclose(fit.estimates.cutpoints, ref["thresholds"]["estimate"],
                               rtol=1e-4)
    assert fit.varcorr()["estimate"].item() == pytest.approx(ref["random_effects"][0]["sd"][0],
                                                             rel=1e-4)


def test_one_node_is_the_laplace_approximation_and_more_nodes_converge():
    """The rule with one node reproduces the Laplace deviance at any point; at the AGQ
    estimate the rule's value settles as nodes are added (25 vs 50 nodes: < 1e-8)."""
    from bayesmix.backends.laplace.objective import GlmmObjective
    from bayesmix.latent import latent_field, new_state

    design = bayesmix.build_design("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                                   bayesmix.datasets.load("cbpp"), "binomial")
    x = np.array([0.7, -1.4, -1.0, -1.1, -1.6])
    values = {}
    for k in (1, 2, 25, 50):
        obj = GlmmObjective(new_state(latent_field(design)), k)
        values[k] = obj(x)
        if k == 1:
            laplace = obj.last.laplace
    assert values[1] == pytest.approx(laplace, rel=1e-12)
    assert abs(values[2] - values[1]) > 1e-3
    assert values[25] == pytest.approx(values[50], abs=1e-8)


@pytest.mark.parametrize(("formula", "family", "match"), [
    ("Reaction ~ Days + (Days | Subject)", "gaussian", r"single scalar random term.*gaussian"),
    ("TICKS ~ YEAR + (1 | BROOD) + (1 | LOCATION)", "poisson", "has 2 random term"),
])
def test_quadrature_needs_one_scalar_term(formula, family, match):
    data = bayesmix.datasets.load("sleepstudy" if family == "gaussian" else "grouseticks")
    with pytest.raises(bayesmix.OptionsError, match=match):
        bayesmix.fit(formula, data, family, backend="laplace", priors="flat", nagq=5)


def test_quadrature_with_priors_is_refused():
    with pytest.raises(bayesmix.OptionsError, match="nagq=5 applies to flat priors"):
        bayesmix.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                     bayesmix.datasets.load("cbpp"), "binomial", backend="laplace", nagq=5)
