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


def test_assess_reports_each_problem_with_advice():
    rng = np.random.default_rng(0)
    good = rng.standard_normal((4, 500, 3))
    stuck = good.copy()
    stuck[0] += 3.0
    stats = {"diverging": np.zeros((4, 500), bool),
             "reached_max_treedepth": np.zeros((4, 500), bool)}
    summary, messages = D.assess({"beta": good}, stats, chains=4, max_treedepth=10)
    assert messages == () and summary["divergences"] == 0
    assert 1.0 <= summary["max_rhat"] < 1.01
    stats["diverging"][1, :7] = True
    stats["reached_max_treedepth"][2, :5] = True
    summary, messages = D.assess({"beta": stuck, "sd_g": good[:, :50, :1]}, stats, chains=4,
                                 max_treedepth=10)
    text = " ".join(messages)
    assert "7 of 2000 draws after tuning diverged" in text and "target_accept=0.95" in text
    assert "R-hat is" in text and "beta[" in text
    assert "Low effective sample size" in text and "beta[" in text
    assert "5 of 2000 draws stopped at max_treedepth=10" in text
    assert summary["divergences"] == 7 and summary["max_rhat"] > 1.1
    # 4 × 50 independent draws: ESS ≈ 200, below the 100 per chain asked for.
    stats = {"diverging": np.zeros((4, 50), bool)}
    summary, messages = D.assess({"sd_g": good[:, :50, :1]}, stats, chains=4, max_treedepth=10)
    ess_message = [m for m in messages if "effective sample size" in m]
    assert len(ess_message) == 1 and "ESS bulk" in ess_message[0] and "sd_g[0]" in ess_message[0]
    assert "want at least 400" in ess_message[0] and "Increase draws" in ess_message[0]


def test_correlation_diagonal_is_ignored():
    rng = np.random.default_rng(1)
    cor = np.ones((2, 200, 2, 2))
    cor[..., 0, 1] = cor[..., 1, 0] = np.tanh(rng.standard_normal((2, 200)))
    stats = {"diverging": np.zeros((2, 200), bool)}
    summary, messages = D.assess({"cor_g": cor}, stats, chains=2, max_treedepth=10,
                                 skip_diagonal=("cor_g",))
    assert summary["max_rhat_parameter"] in ("cor_g[0,1]", "cor_g[1,0]")
