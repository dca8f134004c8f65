"""Case study: Diamond's workflow — estimate the covariance on a subset, refit the coefficients
on everything at that covariance.

Data: logistic ``y ~ 1 + x + (1 + x | g)`` from ``benchmarks/datagen.py`` (true β = (−0.5,
0.8), SDs (0.5, 0.25), correlation 0.3). Step 1, "weekly": the laplace backend estimates the
covariance on the rows of a random 10% of the brands. Step 2, "daily": the map backend refits
β and every brand's b on all rows at that covariance. We check each step against the truth and
against the MAP at the true covariance.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

import bayesmix as bm
from benchmarks.datagen import BETA, COR, SD, glmm_data

from ._report import Report, arguments, table

FORMULA = "y ~ 1 + x + (1 + x | g)"


def main(out, rows: int = 2_000_000, levels: int = 200_000) -> None:
    report = Report("diamond", "Diamond's workflow: covariance on a subset, coefficients daily",
                    out)
    data = glmm_data(rows, levels, seed=3)
    brands = data["g"].unique()
    rng = np.random.default_rng(0)
    subset = data[data["g"].isin(rng.choice(brands, size=len(brands) // 10, replace=False))]
    report.add(f"Data: {rows:,} rows, {levels:,} brands (`{FORMULA}`, bernoulli); covariance "
               f"estimated on {len(subset):,} rows of 10% of the brands.")

    start = time.perf_counter()
    weekly = bm.fit(FORMULA, subset, "bernoulli", backend="laplace", draws=0, priors="flat")
    t_weekly = time.perf_counter() - start
    start = time.perf_counter()
    daily = bm.fit(FORMULA, data, "bernoulli", backend="map", covariance=weekly)
    t_daily = time.perf_counter() - start
    cov_true = np.array([[SD[0] ** 2, COR * SD[0] * SD[1]], [COR * SD[0] * SD[1], SD[1] ** 2]])
    oracle = bm.fit(FORMULA, data, "bernoulli", backend="map", covariance={"g": cov_true})

    vc = weekly.varcorr()
    report.add("## Step 1: covariance (laplace on the subset)", "",
               table(pd.DataFrame({"truth": [SD[0], SD[1], COR],
                                   "estimate": vc["estimate"].to_numpy()[:3]},
                                  index=pd.Index(["sd(Intercept)", "sd(x)", "cor"],
                                                 name="parameter"))), "",
               f"{t_weekly:.1f} s. With about 10 binary rows per brand the Laplace "
               "approximation is known to underestimate the variances a little (the "
               "integrand is far from Gaussian); the nuts backend removes that bias at a "
               "higher cost.")
    fe = pd.DataFrame({"truth": BETA,
                       "map at estimated Σ": daily.fixef()["estimate"].to_numpy(),
                       "std_error": daily.fixef()["std_error"].to_numpy(),
                       "map at true Σ": oracle.fixef()["estimate"].to_numpy()},
                      index=pd.Index(daily.design.x_names, name="coef"))
    b_daily = daily.estimates.term("g").b
    b_oracle = oracle.estimates.term("g").b
    report.add("## Step 2: coefficients (map on all rows)", "", table(fe), "",
               f"{t_daily:.1f} s for {rows:,} rows and {levels:,} brands "
               f"({daily.info.iterations} Newton iterations). The brand effects at the "
               f"estimated covariance differ from those at the true one by at most "
               f"{np.abs(b_daily - b_oracle).max():.3f} (RMS "
               f"{np.sqrt(np.mean((b_daily - b_oracle) ** 2)):.4f}). The joint mode's slope "
               "is attenuated relative to the truth when brands have few rows each (here "
               f"about {rows // levels}): that is the price of maximising over b rather than "
               "integrating it out (the laplace backend integrates it out).")
    report.write()


def _sizes(parser) -> None:
    parser.add_argument("rows", type=int, nargs="?", default=2_000_000)
    parser.add_argument("levels", type=int, nargs="?", default=200_000)


if __name__ == "__main__":
    args = arguments("diamond", _sizes)
    main(args.out, args.rows, args.levels)
