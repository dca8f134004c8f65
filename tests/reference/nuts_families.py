"""Long NUTS runs of the families with a dispersion or shape parameter, as references for
the Bayesian Laplace (tests/test_dispersion_families.py): posterior mean, SD, 2.5%, 5%, 95%,
97.5% quantiles and bulk ESS of every scalar, under the default priors.

Data: tests/reference/families_data.csv (simulated with known parameters by
families_data.py) and Salamanders' negative binomial. 4 chains × 5000 draws after 2000
tuning steps, as nuts_posteriors.py.

Run:  .venv/bin/python tests/reference/nuts_families.py [case ...]   (writes
nuts_families.json; naming cases reruns only those and keeps the others' results)
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import bayesmix as bm
from bayesmix.backends.nuts.diagnostics import ess_bulk

HERE = Path(__file__).resolve().parent
# name: (data set, formula, family, link, zero-inflation formula)
CASES = {
    "nb2": ("families", "y_nb2 ~ x + (1 | g)", "negbinomial", None, None),
    "nb1": ("families", "y_nb1 ~ x + (1 | g)", "negbinomial1", None, None),
    "gamma_log": ("families", "y_gamma ~ x + (1 | g)", "gamma", "log", None),
    "beta": ("families", "y_beta ~ x + (1 | g)", "beta", None, None),
    "student_t": ("families", "y_t ~ x + (1 | g)", "student_t", None, None),
    "lognormal": ("families", "y_lognormal ~ x + (1 | g)", "lognormal", None, None),
    "Salamanders_nb2": ("Salamanders", "count ~ mined + (1 | site)", "negbinomial", None,
                        None),
    "zip": ("families", "y_zip ~ x + (1 | g)", "poisson", None, "~ x"),
    "zinb": ("families", "y_zinb ~ x + (1 | g)", "negbinomial", None, "~ x"),
}
DRAWS, TUNE, CHAINS, SEED = 5000, 2000, 4, 20261203


def load(dataset: str) -> pd.DataFrame:
    if dataset == "families":
        return pd.read_csv(HERE / "families_data.csv")
    return bm.datasets.load(dataset)


def summarise(posterior) -> dict[str, dict]:
    """Every scalar of the posterior variables (β, SDs, the family's parameters, b)."""
    out = {}
    for name, arr in posterior.items():
        values = np.asarray(arr.values if hasattr(arr, "values") else arr)
        for idx in np.ndindex(*values.shape[2:]):
            key = f"{name}[{','.join(map(str, idx))}]" if idx else name
            draws = values[(slice(None), slice(None)) + idx]
            flat = draws.ravel()
            q = np.quantile(flat, [0.025, 0.05, 0.95, 0.975])
            out[key] = {"mean": float(flat.mean()), "sd": float(flat.std(ddof=1)),
                        "q025": float(q[0]), "q05": float(q[1]), "q95": float(q[2]),
                        "q975": float(q[3]), "ess_bulk": float(ess_bulk(draws))}
    return out


def main(names: list[str]) -> None:
    path = HERE / "nuts_families.json"
    results = json.loads(path.read_text()) if names and path.exists() else {}
    results["settings"] = {"draws": DRAWS, "tune": TUNE, "chains": CHAINS, "seed": SEED,
                           "priors": "default", "bayesmix": bm.__version__}
    for name in names or list(CASES):
        dataset, formula, family, link, zi = CASES[name]
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = bm.fit(formula, load(dataset), family, link=link, zi=zi, backend="nuts",
                         draws=DRAWS, tune=TUNE, chains=CHAINS, seed=SEED,
                         target_accept=0.95, progressbar=False, log_likelihood=False)
        results[name] = {
            "dataset": dataset, "formula": formula, "family": family, "link": link, "zi": zi,
            "seconds": time.perf_counter() - start, "status": fit.info.status,
            "divergences": fit.info.extra["divergences"],
            "max_rhat": fit.info.extra["max_rhat"],
            "min_ess_bulk": fit.info.extra["min_ess_bulk"],
            "scalars": summarise(fit.idata.posterior),
        }
        print(name, round(results[name]["seconds"], 1), fit.info.status,
              fit.info.extra["divergences"], fit.info.extra["max_rhat"], flush=True)
    path.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
