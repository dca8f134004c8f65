"""Simulate tests/reference/families_data.csv: one data set per new family (seeded).

600 rows, 40 groups, y_<family> = response of that family with η = 0.5 + 0.4 x + b_g,
b_g ~ N(0, 0.6²); y_zip and y_zinb are zero-inflated Poisson and NB2 (φ = 2) counts with
the same η and zero-inflation probability π = expit(−0.8 + 0.7 x). Run from the repository root: python tests/reference/families_data.py
"""

import numpy as np
import pandas as pd
from scipy import special

rng = np.random.default_rng(20261203)
n, m = 600, 40
g = rng.integers(0, m, n)
x = rng.normal(size=n)
b = rng.normal(0, 0.6, m)
eta = 0.5 + 0.4 * x + b[g]
mu = np.exp(eta)
out = pd.DataFrame({"g": [f"g{k:02d}" for k in g], "x": np.round(x, 6)})
# NB2: Var = mu + mu^2 / 2; NB1: Var = mu (1 + 1.5).
out["y_nb2"] = rng.negative_binomial(2.0, 2.0 / (2.0 + mu))
k = mu / 1.5
out["y_nb1"] = rng.negative_binomial(k, 1.0 / (1.0 + 1.5))
out["y_gamma"] = np.round(rng.gamma(4.0, mu / 4.0), 8)
p = special.expit(eta - 0.5)
out["y_beta"] = np.round(rng.beta(p * 20.0, (1 - p) * 20.0), 8)
out["y_t"] = np.round(eta + 1.0 * rng.standard_t(5.0, n), 8)
out["y_lognormal"] = np.round(np.exp(eta + 0.5 * rng.normal(size=n)), 8)
# Drawn after the other columns, which stay as they were.
structural = rng.random(n) < special.expit(-0.8 + 0.7 * x)
out["y_zip"] = np.where(structural, 0, rng.poisson(mu))
out["y_zinb"] = np.where(structural, 0, rng.negative_binomial(2.0, 2.0 / (2.0 + mu)))
out.to_csv("tests/reference/families_data.csv", index=False)
