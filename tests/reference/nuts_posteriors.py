"""Long NUTS runs of the public data sets, as references for the Bayesian Laplace
(tests/test_laplace_bayes.py): posterior mean, SD, 5% and 95% quantiles and bulk ESS of every
scalar (β, SDs, correlations, σ, and the random effects b), under the default priors that
``priors="default"`` gives both backends.

4 chains × 5000 draws after 2000 tuning steps: the Monte Carlo error of a mean is about
SD/√ESS ≈ 0.01 posterior SD, a tenth of the tightest tolerance the tests use.

Run:  .venv/bin/python tests/reference/nuts_posteriors.py   (writes nuts_posteriors.json)
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import numpy as np

import bayesmix as bm
from bayesmix.backends.nuts.diagnostics import ess_bulk

CASES = {
    "sleepstudy": ("Reaction ~ Days + (Days | Subject)", "gaussian"),
    "Penicillin": ("diameter ~ 1 + (1 | plate) + (1 | sample)", "gaussian"),
    "Pastes": ("strength ~ 1 + (1 | batch/cask)", "gaussian"),
    "Dyestuff": ("Yield ~ 1 + (1 | Batch)", "gaussian"),
    "cbpp": ("cbind(incidence, size - incidence) ~ period + (1 | herd)", "binomial"),
    "grouseticks": ("TICKS ~ YEAR + scale(HEIGHT) + (1 | BROOD) + (1 | LOCATION)",
                    "poisson"),
    "Contraception": ("use ~ age + I(age^2) + urban + livch + (1 | district)", "bernoulli"),
}
DRAWS, TUNE, CHAINS, SEED = 5000, 2000, 4, 20261203


def scalars(posterior) -> dict[str, np.ndarray]:
    """Every scalar of the shared posterior variables, (chain, draw) each, named
    ``var[i,j]``; the constant diagonal and upper triangle of correlation matrices left out."""
    out = {}
    for name, arr in posterior.items():
        values = arr.values if hasattr(arr, "values") else np.asarray(arr)
        shape = values.shape[2:]
        for idx in np.ndindex(*shape):
            if name.startswith("cor_") and idx[0] <= idx[1]:
                continue
            key = f"{name}[{','.join(map(str, idx))}]" if idx else name
            out[key] = values[(slice(None), slice(None)) + idx]
    return out


def summarise(posterior) -> dict[str, dict]:
    out = {}
    for key, draws in scalars(posterior).items():
        flat = draws.ravel()
        out[key] = {"mean": float(flat.mean()), "sd": float(flat.std(ddof=1)),
                    "q05": float(np.quantile(flat, 0.05)),
                    "q95": float(np.quantile(flat, 0.95)),
                    "ess_bulk": float(ess_bulk(draws))}
    return out


def main() -> None:
    results = {"settings": {"draws": DRAWS, "tune": TUNE, "chains": CHAINS, "seed": SEED,
                            "priors": "default", "bayesmix": bm.__version__}}
    for dataset, (formula, family) in CASES.items():
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit = bm.fit(formula, bm.datasets.load(dataset), family, backend="nuts",
                         draws=DRAWS, tune=TUNE, chains=CHAINS, seed=SEED,
                         target_accept=0.95, progressbar=False, log_likelihood=False)
        results[dataset] = {
            "formula": formula, "family": family,
            "seconds": time.perf_counter() - start,
            "status": fit.info.status, "divergences": fit.info.extra["divergences"],
            "max_rhat": fit.info.extra["max_rhat"],
            "min_ess_bulk": fit.info.extra["min_ess_bulk"],
            "warnings": [str(w.message) for w in caught
                         if issubclass(w.category, bm.errors.BayesmixWarning)],
            "scalars": summarise(fit.idata.posterior),
        }
        print(dataset, round(results[dataset]["seconds"], 1), fit.info.status,
              fit.info.extra["divergences"], fit.info.extra["max_rhat"], flush=True)
    path = Path(__file__).resolve().parent / "nuts_posteriors.json"
    path.write_text(json.dumps(results, indent=1))
    print("wrote", path)


if __name__ == "__main__":
    main()
