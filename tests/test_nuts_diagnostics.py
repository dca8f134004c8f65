"""Vectorised R-hat / ESS against ArviZ, and the convergence messages."""

import arviz as az
import numpy as np
import pytest

from bayesmix.backends.nuts import diagnostics as D


def _ar1_chains(rng, chains, draws, phis, shift_every=7):
    k = len(phis)
    x = np.zeros((chains, draws, k))
    noise = rng.standard_t(3, size=(chains, draws, k))
    for t in range(1, draws):
        x[:, t] = phis * x[:, t - 1] + noise[:, t]
    x[1, :, ::shift_every] += 0.5  # some parameters with a chain that disagrees
    return x


@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")
@pytest.mark.parametrize("chains, draws", [(4, 301), (2, 40), (1, 50), (3, 9), (2, 4)])
def test_matches_arviz(chains, draws):
    rng = np.random.default_rng(chains * 1000 + draws)
    x = _ar1_chains(rng, chains, draws, np.linspace(-0.3, 0.97, 12)) if chains > 1 else \
        rng.standard_normal((chains, draws, 12)).cumsum(axis=1)
    got = D.diagnostics(x)
    for k in range(x.shape[2]):
        one = x[:, :, k]
        np.testing.assert_allclose(got["rhat"][k], az.rhat(one), rtol=1e-12, equal_nan=True)
        np.testing.assert_allclose(got["ess_bulk"][k], az.ess(one, method="bulk"),
                                   rtol=1e-10, equal_nan=True)
        np.testing.assert_allclose(got["ess_tail"][k], az.ess(one, method="tail"),
                                   rtol=1e-10, equal_nan=True)


def test_shapes_constants_and_short_chains():
    x = np.ones((2, 10, 3, 2))
    out = D.diagnostics(x)
    assert out["rhat"].shape == (3, 2) and np.all(np.isnan(out["rhat"]))
    assert np.all(out["ess_bulk"] == 20)  # ArviZ's convention for constant draws
    assert np.all(np.isnan(D.ess_bulk(np.zeros((2, 3)))))  # fewer than 4 draws


def _stats(chains, draws, diverging=0, at_depth=0):
    div = np.zeros((chains, draws), bool)
    div.flat[:diverging] = True
    depth = np.zeros((chains, draws), bool)
    depth.flat[:at_depth] = True
    return {"diverging": div, "reached_max_treedepth": depth}


def _shifted(draws, chain_shift):
    """Independent N(0, 1) draws whose first chain is moved by ``chain_shift`` SDs: with
    4 × 1000 draws a shift of 0.45 gives R-hat ≈ 1.02, a shift of 1 R-hat ≈ 1.1."""
    out = draws.copy()
    out[0] += chain_shift
    return out


def _rhat_of(x):
    return float(D.rhat(x))


def test_assess_classifies_constructed_draws():
    """The three classes, on draws whose R-hat, ESS and divergences are set by construction
    (the tolerances of the issue: warnings for R-hat 1.01–1.05 or a few divergences, not
    converged for R-hat > 1.05 on a population parameter or many divergences)."""
    rng = np.random.default_rng(0)
    good = rng.standard_normal((4, 1000, 3))
    b = rng.standard_normal((4, 1000, 20, 2))
    ok = D.assess({"beta": good, "b_g": b}, _stats(4, 1000), chains=4, max_treedepth=10)
    assert ok.status == D.CONVERGED and ok.messages == ()
    assert 1.0 <= ok.summary["max_rhat"] < D.RHAT_WARN

    # One random effect whose first chain is shifted: R-hat in (1.01, 1.05) → warnings.
    mild = b.copy()
    mild[:, :, 3, 1] = _shifted(b[:, :, 3, 1], 0.45)
    assert D.RHAT_WARN < _rhat_of(mild[:, :, 3, 1]) < D.RHAT_FAIL
    res = D.assess({"beta": good, "b_g": mild}, _stats(4, 1000), chains=4, max_treedepth=10)
    assert res.status == D.WARNINGS
    assert res.summary["max_rhat_parameter"] == "b_g[3,1]"
    assert res.messages[0].startswith("R-hat is") and "b_g[3,1]" in res.messages[0]

    # The same shift on β: still only a warning at R-hat < 1.05 ...
    beta_mild = good.copy()
    beta_mild[:, :, 1] = _shifted(good[:, :, 1], 0.45)
    assert D.RHAT_WARN < _rhat_of(beta_mild[:, :, 1]) < D.RHAT_FAIL
    res = D.assess({"beta": beta_mild}, _stats(4, 1000), chains=4, max_treedepth=10)
    assert res.status == D.WARNINGS
    # ... and a chain one SD away is R-hat > 1.05: not converged.
    stuck = good.copy()
    stuck[:, :, 2] = _shifted(good[:, :, 2], 1.0)
    assert _rhat_of(stuck[:, :, 2]) > D.RHAT_FAIL
    res = D.assess({"beta": stuck, "b_g": b}, _stats(4, 1000), chains=4, max_treedepth=10)
    assert res.status == D.NOT_CONVERGED and "beta[2]" in res.messages[0]

    # Divergences: 1 of 4000 is a warning, 1% or more is not converged.
    res = D.assess({"beta": good}, _stats(4, 1000, diverging=1), chains=4, max_treedepth=10)
    assert res.status == D.WARNINGS and "1 of 4000 draws" in res.messages[0]
    res = D.assess({"beta": good}, _stats(4, 1000, diverging=41), chains=4, max_treedepth=10)
    assert res.status == D.NOT_CONVERGED and "target_accept=0.95" in res.messages[0]

    # Tree depth: a warning only.
    res = D.assess({"beta": good}, _stats(4, 1000, at_depth=5), chains=4, max_treedepth=10)
    assert res.status == D.WARNINGS
    assert "5 of 4000 draws stopped at max_treedepth=10" in res.messages[0]


def test_assess_effective_sample_size_classes():
    """ESS below 100 per chain is a warning; below 100 in all for a population parameter
    the fit is not converged. Independent draws have ESS ≈ their number."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 60, 1))  # ESS ≈ 240: above 100, below 400
    res = D.assess({"sd_g": x}, _stats(4, 60), chains=4, max_treedepth=10)
    assert res.status == D.WARNINGS
    assert "want at least 400" in res.messages[0] and "sd_g[0]" in res.messages[0]
    # 4 × 20 draws of an AR(1) with φ = 0.9: ESS ≈ 80 · 0.1/1.9 ≈ 4.
    ar = np.zeros((4, 20, 1))
    for t in range(1, 20):
        ar[:, t] = 0.9 * ar[:, t - 1] + rng.standard_normal((4, 1))
    res = D.assess({"sd_g": ar}, _stats(4, 20), chains=4, max_treedepth=10)
    assert res.status == D.NOT_CONVERGED
    assert any("Too few effective draws" in m and "Increase draws" in m for m in res.messages)
    # For a random effect the same is only a warning (many b, each imprecise).
    res = D.assess({"sd_g": rng.standard_normal((4, 200, 1)), "b_g": ar}, _stats(4, 200),
                   chains=4, max_treedepth=10)
    assert res.status in (D.WARNINGS, D.NOT_CONVERGED)
    assert not any("Too few effective draws" in m for m in res.messages)


def test_correlation_diagonal_is_ignored():
    rng = np.random.default_rng(1)
    cor = np.ones((2, 200, 2, 2))
    cor[..., 0, 1] = cor[..., 1, 0] = np.tanh(rng.standard_normal((2, 200)))
    stats = {"diverging": np.zeros((2, 200), bool)}
    summary = D.assess({"cor_g": cor}, stats, chains=2, max_treedepth=10,
                       skip_diagonal=("cor_g",)).summary
    assert summary["max_rhat_parameter"] in ("cor_g[0,1]", "cor_g[1,0]")
