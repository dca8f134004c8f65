"""Priors: densities against SciPy / PyMC / analytic integrals, addressing, defaults."""

import json

import numpy as np
import pytest
from scipy import integrate, stats

import bayesmix as bm
from bayesmix.backends import check_priors, get_backend
from bayesmix.errors import PriorError
from bayesmix.spec import default_priors, model_spec, parameter_names
from bayesmix.spec.priors import pymc_vector_dist

SCALAR_PRIORS = [
    bm.Normal(1.5, 2.0),
    bm.StudentT(4.0, -1.0, 3.0),
    bm.HalfNormal(2.5),
    bm.HalfStudentT(3.0, 2.0),
    bm.Exponential(0.25),
    bm.Gamma(2.0, 0.5),
    bm.LogNormal(0.3, 0.7),
]


@pytest.fixture(scope="module")
def sleep():
    return bm.datasets.load("sleepstudy")


@pytest.mark.parametrize("prior", SCALAR_PRIORS, ids=str)
def test_density_is_normalised_and_matches_scipy(prior):
    lo = 0.0 if prior.support == "positive" else -np.inf
    total, _ = integrate.quad(lambda x: np.exp(prior.logp(x)), lo, np.inf, limit=200)
    assert total == pytest.approx(1.0, abs=1e-7)
    x = np.array([0.1, 0.7, 2.0, 5.0])
    np.testing.assert_allclose(prior.logp(x), prior.to_scipy().logpdf(x), rtol=1e-12)


@pytest.mark.parametrize("prior", SCALAR_PRIORS, ids=str)
def test_pymc_distribution_has_the_same_density(prior):
    import pymc as pm

    x = np.array([0.1, 0.7, 2.0, 5.0])
    with pm.Model() as model:
        prior.to_pymc("p", shape=4)
    logp = model.compile_logp(jacobian=False, sum=False, mode="FAST_COMPILE")
    point = model.initial_point()
    value_name = model.rvs_to_values[model["p"]].name
    point[value_name] = (np.log(x) if value_name.endswith("_log__") else x)
    # Some of PyMC's normalising constants are float32 literals (HalfNormal's log √(2/π) is
    # off by 3e-8), hence an absolute tolerance of 1e-6: far below any modelling difference.
    np.testing.assert_allclose(logp(point)[0], prior.logp(x), rtol=0, atol=1e-6)


def test_vector_dist_gives_each_element_its_own_prior():
    import pymc as pm

    mixed = [bm.HalfNormal(5), bm.Exponential(0.1), bm.HalfStudentT(3, 2)]
    x = np.array([1.0, 2.0, 3.0])
    got = pm.logp(pymc_vector_dist(mixed), x).eval()
    np.testing.assert_allclose(got, [p.logp(v) for p, v in zip(mixed, x)], atol=1e-6)
    same = [bm.Normal(0, 1), bm.Normal(2, 3)]
    got = pm.logp(pymc_vector_dist(same), x[:2]).eval()
    np.testing.assert_allclose(got, [p.logp(v) for p, v in zip(same, x[:2])], atol=1e-6)
    with pytest.raises(PriorError, match="correlation matrix"):
        pymc_vector_dist([bm.LKJ(2.0)])


@pytest.mark.parametrize("eta", [0.5, 1.0, 2.0, 4.0])
def test_lkj_density_two_by_two_integrates_to_one(eta):
    prior = bm.LKJ(eta)

    def density(r):
        return np.exp(prior.logp(np.array([[1.0, r], [r, 1.0]])))

    total, _ = integrate.quad(density, -1, 1)
    assert total == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("eta", [2.5, 4.0])
def test_lkj_density_three_by_three_integrates_to_one(eta):
    """∫ det(R)^(η−1) over the 3 × 3 correlation matrices, by cubature (for η = 1 it is the
    elliptope's volume π²/2). PyMC 5.28's LKJCorr adds this log-constant instead of
    subtracting it (harmless for sampling), so PyMC is not the reference here."""
    prior = bm.LKJ(eta)
    log_c = prior.logp(np.eye(3))  # det(I) = 1: the normalising constant alone

    def density(r23, r13, r12):
        det = 1 - r12**2 - r13**2 - r23**2 + 2 * r12 * r13 * r23
        return np.exp(log_c) * max(det, 0.0) ** (eta - 1)

    def edge(sign):
        return lambda r12, r13: r12 * r13 + sign * np.sqrt((1 - r12**2) * (1 - r13**2))

    total, _ = integrate.tplquad(density, -1, 1, -1, 1, edge(-1), edge(1), epsabs=1e-7)
    assert total == pytest.approx(1.0, abs=1e-5)
    R = np.array([[1.0, 0.3, -0.2], [0.3, 1.0, 0.4], [-0.2, 0.4, 1.0]])
    assert prior.logp(R) == pytest.approx(log_c + (eta - 1) * np.log(np.linalg.det(R)))


def test_lkj_uniform_is_one_over_the_elliptope_volume():
    # The 3 × 3 correlation matrices form the elliptope, of volume π²/2.
    assert bm.LKJ(1.0).logp(np.eye(3)) == pytest.approx(-np.log(np.pi**2 / 2), abs=1e-12)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: bm.Normal(0, -1), "sigma must be positive"),
        (lambda: bm.HalfNormal(0), "sigma must be positive"),
        (lambda: bm.Exponential(np.inf), "must be finite"),
        (lambda: bm.Gamma(-1, 1), "alpha must be positive"),
        (lambda: bm.LKJ(0), "eta must be positive"),
    ],
)
def test_bad_parameters_are_refused(make, match):
    with pytest.raises(PriorError, match=match):
        make()


def test_issue_example_addresses_by_role_and_name(sleep):
    design = bm.build_design("Reaction ~ Days + (Days | Subject)", sleep)
    priors = {
        "fixed": bm.Normal(0, 10),
        "Days": bm.Normal(0, 5),
        "sd(Subject)": bm.HalfNormal(20),
        "sd(Days|Subject)": bm.HalfNormal(5),
        "cor(Subject)": bm.LKJ(2),
        "sigma": bm.Exponential(0.04),
    }
    spec = model_spec(design, priors)
    assert spec.priors["Days"] == bm.Normal(0, 5)  # a name beats its role
    assert spec.priors["sd((Intercept)|Subject)"] == bm.HalfNormal(20)
    assert spec.priors["sd(Days|Subject)"] == bm.HalfNormal(5)
    assert spec.priors["cor(Subject)"] == bm.LKJ(2)
    assert spec.priors["sigma"] == bm.Exponential(0.04)
    assert spec.sources["(Intercept)"] == "default"  # "fixed" leaves the intercept alone
    spec = model_spec(design, {"intercept": bm.Normal(250, 50), "sd": bm.HalfNormal(30)})
    assert spec.priors["(Intercept)"] == bm.Normal(250, 50)
    assert spec.sd_priors("Subject") == [bm.HalfNormal(30), bm.HalfNormal(30)]


def test_unknown_name_lists_the_valid_names(sleep):
    design = bm.build_design("Reaction ~ Days + (Days | Subject)", sleep)
    with pytest.raises(PriorError) as err:
        model_spec(design, {"sd(Day|Subject)": bm.HalfNormal(5)})
    msg = str(err.value)
    assert "sd(Day|Subject)" in msg
    for name in parameter_names(design):
        assert name in msg
    assert "fixed" in msg and "sd(Subject)" in msg


def test_wrong_support_is_refused(sleep):
    design = bm.build_design("Reaction ~ Days + (Days | Subject)", sleep)
    with pytest.raises(PriorError, match="positive"):
        model_spec(design, {"sd(Subject)": bm.Normal(0, 5)})
    with pytest.raises(PriorError, match="LKJ"):
        model_spec(design, {"cor(Subject)": bm.HalfNormal(1)})


def test_defaults_follow_the_documented_formulas(sleep):
    """The defaults of defaults.py's table, recomputed here from the data.

    External check: bambi 0.17 reports Intercept Normal(298.5079, 261.0092) and Days
    Normal(0, 48.8915) for this model. Both follow rstanarm's autoscaling; bambi uses the
    population SD (ddof=0) where we use R's sd (ddof=1), so its numbers are reproduced here
    with ddof=0 (the slope scale is the same either way).
    """
    design = bm.build_design("Reaction ~ Days + (Days | Subject)", sleep)
    d = default_priors(design)
    y, days = sleep["Reaction"].to_numpy(), sleep["Days"].to_numpy(float)
    s, sx = y.std(ddof=1), days.std(ddof=1)
    assert d["(Intercept)"].mu == pytest.approx(y.mean())
    assert d["(Intercept)"].sigma == pytest.approx(2.5 * s * np.sqrt(1 + (days.mean() / sx) ** 2))
    assert d["(Intercept)"].mu == pytest.approx(298.5079, abs=1e-4)
    s0, sx0 = y.std(ddof=0), days.std(ddof=0)
    assert 2.5 * s0 * np.sqrt(1 + (days.mean() / sx0) ** 2) == pytest.approx(261.0092, abs=1e-4)
    assert d["Days"].mu == 0.0 and d["Days"].sigma == pytest.approx(48.8915, abs=1e-4)
    assert d["sd((Intercept)|Subject)"].sigma == pytest.approx(2.5 * s)
    assert d["sd(Days|Subject)"].sigma == pytest.approx(2.5 * s / sx)
    assert d["cor(Subject)"] == bm.LKJ(2.0)
    assert d["sigma"].lam == pytest.approx(1 / s)


def test_defaults_on_the_link_scale_for_glmms():
    cbpp = bm.datasets.load("cbpp")
    design = bm.build_design("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                             cbpp, "binomial")
    d = default_priors(design)
    p = cbpp["incidence"].sum() / cbpp["size"].sum()
    assert d["(Intercept)"].mu == pytest.approx(np.log(p / (1 - p)))
    assert d["sd((Intercept)|herd)"] == bm.HalfNormal(2.5)
    assert "sigma" not in d


@pytest.mark.filterwarnings("ignore::bayesmix.errors.ConvergenceWarning")  # 50 draws
def test_priors_are_recorded_in_the_result(sleep):
    fit = bm.fit("Reaction ~ Days + (1 | Subject)", sleep, backend="nuts",
                 priors={"Days": bm.Normal(0, 5)}, draws=50, tune=50, chains=1, seed=1,
                 progressbar=False)
    recorded = json.loads(fit.idata.attrs["priors"])
    assert recorded["Days"] == "Normal(0, 5) [user]"
    assert recorded["sd((Intercept)|Subject)"].endswith("[default]")
    assert recorded["sigma"].startswith("Exponential(")


def test_flat_sd_prior_names_the_backends_that_can(sleep):
    design = bm.build_design("Reaction ~ Days + (Days | Subject)", sleep)
    spec = model_spec(design, {"sd(Subject)": "flat"})
    nuts = get_backend("nuts")
    with pytest.raises(PriorError) as err:
        check_priors(spec, nuts)
    msg = str(err.value)
    assert "sd((Intercept)|Subject): Flat()" in msg
    able = [name for name in ("laplace", "map")
            if get_backend(name).honours("sd", bm.Flat())]
    assert able, "the mode-based backends take flat priors on SDs"
    assert f"backends that can: {', '.join(able)}" in msg
    with pytest.raises(PriorError, match="cannot honour"):
        bm.fit("Reaction ~ Days + (Days | Subject)", sleep, backend="nuts",
               priors={"sd(Subject)": "flat"})


def test_flat_fixed_effects_are_allowed_but_not_for_prior_sampling(sleep):
    nuts = get_backend("nuts")
    assert nuts.honours("fixed", bm.Flat()) and nuts.honours("intercept", bm.Flat())
    assert not nuts.honours("sigma", bm.Flat()) and not nuts.honours("cutpoints", bm.Flat())
    with pytest.raises(PriorError, match="prior_only"):
        bm.fit("Reaction ~ Days + (1 | Subject)", sleep, backend="nuts",
               priors={"Days": "flat"}, prior_only=True, progressbar=False)


def test_half_t_scipy_counterpart():
    h = bm.HalfStudentT(3.0, 2.0).to_scipy()
    assert h.cdf(h.ppf(0.3)) == pytest.approx(0.3)
    # |T| for T ~ t_3(0, 2): mean 2 · 2√3 / π (the t's E|T| for ν = 3).
    assert h.mean() == pytest.approx(2 * 2 * np.sqrt(3) / np.pi, rel=1e-6)
    assert stats.kstest(np.abs(stats.t(3, 0, 2).rvs(4000, random_state=1)), h.cdf).pvalue > 1e-3


def test_the_pipeline_entry_point_checks_priors_and_options(sleep):
    """Calling a backend directly (the modular pipeline) refuses what bm.fit refuses: a prior
    the backend would silently ignore, or another backend's options object."""
    design = bm.build_design("Reaction ~ Days + (Days | Subject)", sleep)
    laplace, nuts = get_backend("laplace"), get_backend("nuts")
    with pytest.raises(PriorError, match="'laplace' backend cannot honour"):
        laplace.fit(model_spec(design, {"Days": bm.StudentT(3, 0, 5)}))
    with pytest.raises(bm.errors.OptionsError, match="takes LaplaceOptions, not NutsOptions"):
        laplace.fit(model_spec(design, "flat"), nuts.options())
    fit = laplace.fit(model_spec(design, "flat"), laplace.options(draws=0))
    assert fit.info.backend == "laplace" and fit.info.converged
