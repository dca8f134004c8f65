"""Synthetic data for the benchmarks: GLMMs with known coefficients and covariances.

``python -m benchmarks.datagen --rows 10000000 --levels 1000000 --out data.parquet`` writes a
data set; the benchmarks call :func:`glmm_data` directly.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

# True values used by every generator (Diamond-like: modest slopes, SDs of the brand effects
# 0.5 and 0.25, correlation 0.3).
BETA = (-0.5, 0.8)
SD = (0.5, 0.25)
COR = 0.3
SD_CROSSED = 0.4


def glmm_data(
    n_rows: int,
    n_levels: int,
    *,
    family: str = "bernoulli",
    crossed_levels: int | None = None,
    seed: int = 0,
    shuffle_ids: bool = True,
) -> pd.DataFrame:
    """Rows of ``y ~ 1 + x + (1 + x | g)`` (+ ``(1 | h)`` when ``crossed_levels``).

    Parameters
    ----------
    n_rows, n_levels : int
        Rows and levels of g; every level gets about n_rows / n_levels rows.
    family : {"bernoulli", "poisson", "gaussian"}
    crossed_levels : int, optional
        Levels of a second, crossed grouping factor h with a random intercept.
    seed : int
    shuffle_ids : bool
        Use random integer ids (as real data has) rather than 0 … m−1 in order.

    Returns
    -------
    DataFrame with columns y, x, g (int64 ids) and h when crossed.
    """
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, n_levels, n_rows)
    x = rng.standard_normal(n_rows)
    cov = np.array([[SD[0] ** 2, COR * SD[0] * SD[1]], [COR * SD[0] * SD[1], SD[1] ** 2]])
    b = rng.standard_normal((n_levels, 2)) @ np.linalg.cholesky(cov).T
    eta = BETA[0] + BETA[1] * x + b[codes, 0] + b[codes, 1] * x
    frame = {"x": x}
    ids = rng.permutation(10 * n_levels)[:n_levels] if shuffle_ids else np.arange(n_levels)
    frame["g"] = ids[codes].astype(np.int64)
    if crossed_levels:
        hcodes = rng.integers(0, crossed_levels, n_rows)
        eta += SD_CROSSED * rng.standard_normal(crossed_levels)[hcodes]
        frame["h"] = hcodes.astype(np.int64)
    if family == "bernoulli":
        y = (rng.random(n_rows) < 1.0 / (1.0 + np.exp(-eta))).astype(np.int8)
    elif family == "poisson":
        y = rng.poisson(np.exp(np.minimum(eta, 20.0))).astype(np.int64)
    elif family == "gaussian":
        y = eta + rng.standard_normal(n_rows)
    else:
        raise ValueError(f"unknown family {family!r}")
    return pd.DataFrame({"y": y, **frame})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--levels", type=int, required=True)
    parser.add_argument("--crossed", type=int, default=None)
    parser.add_argument("--family", default="bernoulli")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    frame = glmm_data(args.rows, args.levels, family=args.family,
                      crossed_levels=args.crossed, seed=args.seed)
    frame.to_parquet(args.out) if args.out.endswith(".parquet") else frame.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
