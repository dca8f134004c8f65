"""The nuts backend's pm.Model against an independent NumPy log posterior.

The model drops parameter-free constants, so the check compares log-density *differences*
between two random parameter points: the PyMC model (``jacobian=False``, i.e. the density of
the constrained parameters) against priors' SciPy densities + the families' NumPy
log-likelihoods + N(0, 1) / N(0, Σ) densities of the random effects. Agreement to 1e-8
(relative to the size of the differences) means the likelihood, the link, weights, offsets,
the intercept centring and both parameterisations are wired exactly. A correlated term's
prior is checked as LKJ(η) on R (``bayesmix.LKJ.logp``) times the Jacobian of its canonical
partial correlations u ↦ R, taken by finite differences, so the analytic Jacobian of
:mod:`bayesmix.spec.correlation` is tested too (r = 2 and r = 3).
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import bayesmix as bm
from bayesmix.spec.correlation import cholesky_from_cpc_numpy
from bayesmix.backends.nuts.draws import posterior_draws
from bayesmix.results.loglik import pointwise_loglik
from bayesmix.backends.nuts.likelihood import ordinal_logp
from bayesmix.backends.nuts.model import build_model
from bayesmix.families.family import ordinal_loglik
from bayesmix.spec import model_spec


def _data(seed=0, n=72, m=8):
    rng = np.random.default_rng(seed)
    g = rng.integers(0, m, n)
    x = rng.normal(1.0, 1.5, n)
    z = rng.normal(size=n)
    eta = 0.3 + 0.5 * x + rng.normal(0, 0.5, m)[g] + rng.normal(0, 0.3, m)[g] * x
    trials = rng.integers(1, 6, n)
    return pd.DataFrame({
        "g": pd.Categorical([f"g{k}" for k in g]),
        "x": x, "z": z,
        "y": eta + rng.normal(0, 0.7, n),
        "yb": (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int),
        "s": rng.binomial(trials, 1 / (1 + np.exp(-eta))), "n": trials,
        "c": rng.poisson(np.exp(0.3 * eta)),
        "t": rng.uniform(0.5, 2.0, n),
        "w": rng.uniform(0.2, 3.0, n),
        "o": pd.Categorical(np.digitize(eta + rng.logistic(size=n), [-0.5, 0.7, 1.8]),
                            ordered=True),
    })


CASES = [
    ("y ~ x + (x | g)", "gaussian", None, None),
    ("y ~ x + (x + z | g)", "gaussian", None, None),
    ("y ~ x + z + (x || g)", "gaussian", None, "w"),
    ("y ~ x + offset(z) + (1 | g)", "gaussian", "log", None),
    ("yb ~ x + (x | g)", "bernoulli", None, None),
    ("yb ~ x + (1 | g)", "bernoulli", "probit", "w"),
    ("cbind(s, n - s) ~ x + (x | g)", "binomial", None, None),
    ("cbind(s, n - s) ~ x + (1 | g)", "binomial", "cloglog", None),
    ("c ~ x + offset(log(t)) + (x | g)", "poisson", None, "w"),
    ("o ~ x + (1 | g)", "ordinal", None, None),
    ("o ~ x + z + (x | g)", "ordinal", None, "w"),
]


def _constrained_point(model, layout, spec, rng):
    """Random constrained values of every free RV and the matching value-var point."""
    import pymc as pm

    values, point = {}, {}
    for rv in model.free_RVs:
        shape = tuple(int(s) for s in rv.shape.eval())
        name = rv.name
        if name.startswith("cpc_"):
            val = rng.normal(0, 0.7, shape)
        elif name == "cutpoints":
            val = np.sort(rng.normal(0, 1.5, shape))
        elif name.startswith("sd_") or name == "sigma":
            val = rng.uniform(0.4, 2.0, shape)
        else:
            val = rng.normal(0, 1.0, shape)
        values[name] = val
        value_var = model.rvs_to_values[rv]
        transform = model.rvs_to_transforms.get(rv)
        if transform is not None:
            val = transform.forward(pm.math.constant(val), *rv.owner.inputs).eval()
        point[value_var.name] = val
    return values, point


def _correlation(u, r):
    L = cholesky_from_cpc_numpy(u, r)
    return L @ L.T


def _log_jacobian_u_to_r(u, r, h=1e-5):
    """log |det ∂R_lower/∂u| by central differences (independent of the analytic form)."""
    rows, cols = np.tril_indices(r, -1)
    J = np.empty((u.size, u.size))
    for k in range(u.size):
        step = np.zeros(u.size)
        step[k] = h
        J[:, k] = (_correlation(u + step, r)[rows, cols]
                   - _correlation(u - step, r)[rows, cols]) / (2 * h)
    return np.linalg.slogdet(J)[1]


def _reference_logp(spec, layout, values, model):
    """Independent log posterior (up to constants) in NumPy / SciPy."""
    design = spec.design
    chains_draws = {k: np.asarray(v)[None, None] for k, v in values.items()}
    post = posterior_draws(spec, layout, chains_draws)
    total = 0.0
    beta = post["beta"][0, 0]
    for name, prior, b in zip(design.x_names, spec.beta_priors(), beta):
        total += float(prior.logp(b))
    for t, tl in zip(design.terms, layout.terms):
        b = post[f"b_{t.label}"][0, 0]
        if tl.correlated:
            sd, u = values[tl.sd], values[tl.corr]
            total += sum(float(p.logp(s)) for p, s in zip(spec.sd_priors(t.label), sd))
            R = _correlation(u, t.r)
            total += spec.cor_prior(t.label).logp(R) + _log_jacobian_u_to_r(u, t.r)
            if tl.centred:
                cov = R * np.outer(sd, sd)
                total += stats.multivariate_normal(np.zeros(t.r), cov).logpdf(b).sum()
            else:
                total += stats.norm.logpdf(values[tl.effects]).sum()
        else:
            sd = values[tl.sd]
            total += sum(float(p.logp(s)) for p, s in zip(spec.sd_priors(t.label), sd))
            if tl.centred:
                total += stats.norm.logpdf(b, 0, sd).sum()
            else:
                total += stats.norm.logpdf(values[tl.effects]).sum()
    if design.family.has_sigma:
        total += float(spec.sigma_prior.logp(values["sigma"]))
    if design.family.name == "ordinal":
        total += float(np.sum(spec.cutpoints_prior.logp(values["cutpoints"])))
    total += float(pointwise_loglik(spec.design, post).sum())
    return total


@pytest.mark.parametrize("parameterization", ["noncentred", "centred"])
@pytest.mark.parametrize("formula, family, link, weights", CASES, ids=[c[0] for c in CASES])
def test_model_log_density_matches_numpy(formula, family, link, weights, parameterization):
    data = _data()
    design = bm.build_design(formula, data, family, link=link, weights=weights)
    spec = model_spec(design)
    model, layout = build_model(spec, parameterization=parameterization)
    logp = model.compile_logp(jacobian=False, mode="FAST_COMPILE")
    rng = np.random.default_rng(1)
    diffs_model, diffs_ref = [], []
    v0, p0 = _constrained_point(model, layout, spec, rng)
    base_model, base_ref = logp(p0), _reference_logp(spec, layout, v0, model)
    for _ in range(2):
        v, p = _constrained_point(model, layout, spec, rng)
        diffs_model.append(logp(p) - base_model)
        diffs_ref.append(_reference_logp(spec, layout, v, model) - base_ref)
    np.testing.assert_allclose(diffs_model, diffs_ref, rtol=1e-8, atol=1e-6)


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_ordinal_log_probabilities_match_the_family(link):
    import pytensor.tensor as pt

    rng = np.random.default_rng(3)
    codes = rng.integers(0, 4, 50)
    eta = rng.normal(0, 3, 50)
    cuts = np.array([-1.0, 0.2, 1.5])
    got = ordinal_logp(codes, pt.as_tensor(eta), pt.as_tensor(cuts), 4, link).eval()
    # PyMC's normal_lcdf goes through PyTensor's erfcx, accurate to ~1e-7 relative.
    rtol = 1e-10 if link == "logit" else 1e-6
    np.testing.assert_allclose(got, ordinal_loglik(codes, eta, cuts, link), rtol=rtol)
    # Probabilities of the four categories sum to one at every η.
    total = sum(np.exp(ordinal_logp(np.full(50, k), pt.as_tensor(eta), pt.as_tensor(cuts),
                                    4, link).eval()) for k in range(4))
    np.testing.assert_allclose(total, 1.0, rtol=1e-12 if link == "logit" else 1e-6)


def test_model_has_named_dims_and_no_dense_z():
    data = _data()
    design = bm.build_design("y ~ x + (x | g)", data)
    model, layout = build_model(model_spec(design), parameterization="noncentred")
    assert list(model.coords["coef"]) == ["x"]
    assert list(model.coords["g_term"]) == ["(Intercept)", "x"]
    assert list(model.coords["g_level"]) == [f"g{k}" for k in range(8)]
    assert model.named_vars_to_dims["z_g"] == ("g_level", "g_term")
    # The largest data are the term's model columns X_k (n × r) and the response (n); a
    # dense Z would be n × m r (here 72 × 16, eight times X_k). Data enter as shared
    # variables (cacheable compiled functions), so no constant may be of length n.
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.basic import Constant
    from pytensor.graph.traversal import ancestors

    graph = list(ancestors([model.logp()]))
    data = {v.name: v.get_value() for v in graph if isinstance(v, SharedVariable)}
    assert max(np.size(d) for d in data.values()) <= design.n * design.terms[0].r
    np.testing.assert_array_equal(data["data_Z0"], design.terms[0].X)
    np.testing.assert_array_equal(data["data_codes0"], design.terms[0].codes)
    consts = [v for v in graph if isinstance(v, Constant)]
    assert max(np.size(c.data) for c in consts) < design.n


@pytest.mark.parametrize("formula, family, link, weights", [
    ("y ~ x + (x | g)", "gaussian", None, "w"),
    ("cbind(s, n - s) ~ x + (1 | g)", "binomial", None, None),
    ("yb ~ x + (1 | g)", "bernoulli", "probit", None),
    ("yb ~ x + (1 | g)", "bernoulli", "cloglog", "w"),
    ("c ~ x + offset(log(t)) + (1 | g)", "poisson", None, None),
])
def test_pointwise_loglik_matches_scipy(formula, family, link, weights):
    """The log_likelihood group against scipy.stats, R's constants included."""
    from scipy import special

    data = _data(seed=4)
    design = bm.build_design(formula, data, family, link=link, weights=weights)
    spec = model_spec(design)
    rng = np.random.default_rng(5)
    post = {"beta": rng.normal(0, 0.4, (2, 3, len(design.x_names)))}
    eta = np.einsum("cdp,np->cdn", post["beta"], design.X)
    for t in design.terms:
        b = rng.normal(0, 0.3, (2, 3, t.m, t.r))
        post[f"b_{t.label}"] = b
        eta += np.einsum("cdnr,nr->cdn", b[:, :, t.codes], t.X)
    if design.offset is not None:
        eta += design.offset
    y = design.y
    if family == "gaussian":
        post["sigma"] = rng.uniform(0.5, 1.5, (2, 3))
        ref = stats.norm.logpdf(y, eta, post["sigma"][..., None] / np.sqrt(design.weights))
    elif family == "poisson":
        ref = stats.poisson.logpmf(y, np.exp(eta))
    else:
        n = design.trials if design.trials is not None else np.ones_like(y)
        mu = {"logit": special.expit, "probit": special.ndtr,
              "cloglog": lambda e: -np.expm1(-np.exp(e))}[design.family.link.name](eta)
        ref = stats.binom.logpmf(y, n, mu)
        if weights:
            ref = design.weights * ref
    np.testing.assert_allclose(pointwise_loglik(spec.design, post), ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("f", ["softplus", "exp"])
def test_fused_kernel_matches_its_definition_in_both_backends(f):
    """The numba kernel and the NumPy perform give Σ a η − c f(η) and its gradient."""
    import pytensor
    import pytensor.tensor as pt

    from bayesmix.backends.nuts.kernels import linear_exp_loglik

    rng = np.random.default_rng(7)
    eta_val = rng.normal(0, 8 if f == "softplus" else 2, 500)
    a, c = rng.uniform(0, 3, 500), rng.uniform(0.5, 4, 500)
    eta = pt.dvector("eta")
    total = linear_exp_loglik(eta, a, c, f)
    fx = np.logaddexp(0, eta_val) if f == "softplus" else np.exp(eta_val)
    dfx = 1 / (1 + np.exp(-eta_val)) if f == "softplus" else np.exp(eta_val)
    for mode in ("NUMBA", "FAST_COMPILE"):
        fn = pytensor.function([eta], [total, pt.grad(total, eta)], mode=mode)
        value, grad = fn(eta_val)
        np.testing.assert_allclose(value, np.sum(a * eta_val - c * fx), rtol=1e-12)
        np.testing.assert_allclose(grad, a - c * dfx, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("mode", ["NUMBA", "FAST_COMPILE"])
@pytest.mark.parametrize("r", [1, 2, 3])  # the kernels unroll r = 1 and 2
def test_grouped_row_dot_and_its_adjoint(mode, r):
    """η = Σ_c B[codes, c] X[:, c] against dense Z·vec(B), and the scatter against Zᵀ g, in
    the numba kernels and the NumPy perform; the gradient of ⟨g, η⟩ is the scatter."""
    import pytensor
    import pytensor.tensor as pt

    from bayesmix.backends.nuts.grouped import GroupedScatter, grouped_row_dot

    rng = np.random.default_rng(3)
    n, m = 300, 17
    codes = rng.integers(0, m, n)
    codes[:m] = np.arange(m)
    X = rng.normal(size=(n, r))
    Z = np.zeros((n, m * r))
    for c in range(r):
        Z[np.arange(n), codes * r + c] = X[:, c]
    B_val, g_val = rng.normal(size=(m, r)), rng.normal(size=n)
    B = pt.tensor("B", dtype="float64", shape=(m, r))
    g = pt.dvector("g")
    eta = grouped_row_dot(B, codes, X)
    fn = pytensor.function([B, g], [eta, GroupedScatter(m)(g, codes, X),
                                    pt.grad(pt.dot(g, eta), B)], mode=mode)
    value, scatter, grad = fn(B_val, g_val)
    np.testing.assert_allclose(value, Z @ B_val.ravel(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(scatter.ravel(), Z.T @ g_val, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad, scatter, rtol=1e-12, atol=1e-12)


def test_chain_start_points_are_safe_to_draw_from_several_threads():
    """nutpie draws each chain's start from its own thread (CI once failed with
    "Failed to initialize point" when two chains shared one PyTensor function unguarded)."""
    from concurrent.futures import ThreadPoolExecutor

    from bayesmix.backends.nuts.sample import _numba_functions

    data = _data()
    spec = model_spec(bm.build_design("y ~ x + (x | g)", data))
    model, layout = build_model(spec, parameterization="noncentred")
    _, _, x0, _ = _numba_functions(model, layout.initial, seed=0)
    seeds = list(range(400))
    expected = [x0(s) for s in seeds]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(x0, seeds))
    for s, a, b in zip(seeds, expected, got):
        np.testing.assert_array_equal(a, b, err_msg=f"seed {s}")


def test_compiled_log_density_runs_without_the_gil_and_matches_pytensor():
    """The chains' gradients run in parallel only if the compiled call releases the GIL."""
    import pytensor

    from bayesmix.backends.nuts.nogil import bound_call

    x = pytensor.tensor.dvector("x")
    data = pytensor.shared(np.arange(5.0), name="d", shape=(5,))
    fn = pytensor.function([x], [pytensor.tensor.sum(x * data), 2.0 * x], mode="NUMBA")
    call = bound_call(fn)
    value = np.linspace(0.0, 1.0, 5)
    for got, want in zip(call(value), fn(value)):
        np.testing.assert_allclose(got, want, rtol=1e-15)
    assert call.dispatcher.targetoptions["nogil"] is True
    direct = bound_call(fn, nogil=False)
    for got, want in zip(direct(value), fn(value)):
        np.testing.assert_allclose(got, want, rtol=1e-15)
    assert not direct.dispatcher.targetoptions.get("nogil", False)
