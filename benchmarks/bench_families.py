"""The families with a dispersion parameter or zero-inflation: laplace (maximum likelihood and
the Bayesian Laplace) against glmmTMB on the same fits, in one run.

glmmTMB is timed inside R (``system.time`` of the ``glmmTMB`` call, the median of
``--repeat`` fits after one warm-up); bayesmix the same way in this process (after one
warm-up fit per model: imports and numba's cache). Cases: Salamanders NB2, grouseticks NB2
Salamanders ZIP and ZINB (zi ~ mined) and the simulated sets of
``tests/reference/families_data.csv`` (NB1, gamma, beta, t, ZINB with zi ~ x).

    python -m benchmarks.bench_families --repeat 5

Writes ``benchmarks/results/families_vs_glmmtmb.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import time
import warnings
from pathlib import Path

import pandas as pd

import bayesmix as bm

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
SIM = ROOT / "tests" / "reference" / "families_data.csv"
# name: (data, formula, our family, our link, glmmTMB family, zero-inflation formula)
CASES = {
    "Salamanders_nb2": ("Salamanders", "count ~ mined + (1 | site)", "negbinomial", None,
                        "nbinom2()", None),
    "Salamanders_zip": ("Salamanders", "count ~ mined + (1 | site)", "poisson", None,
                        "poisson()", "~ mined"),
    "Salamanders_zinb": ("Salamanders", "count ~ mined + (1 | site)", "negbinomial", None,
                         "nbinom2()", "~ mined"),
    "grouseticks_nb2": ("grouseticks",
                        "TICKS ~ YEAR + scale(HEIGHT) + (1 | BROOD) + (1 | LOCATION)",
                        "negbinomial", None, "nbinom2()", None),
    "sim_nb1": ("sim", "y_nb1 ~ x + (1 | g)", "negbinomial1", None, "nbinom1()", None),
    "sim_gamma": ("sim", "y_gamma ~ x + (1 | g)", "gamma", "log", 'Gamma(link = "log")',
                  None),
    "sim_beta": ("sim", "y_beta ~ x + (1 | g)", "beta", None, "beta_family()", None),
    "sim_t": ("sim", "y_t ~ x + (1 | g)", "student_t", None, "t_family()", None),
    "sim_zinb": ("sim", "y_zinb ~ x + (1 | g)", "negbinomial", None, "nbinom2()", "~ x"),
}


def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(SIM) if name == "sim" else bm.datasets.load(name)


def _glmmtmb_seconds(data: str, formula: str, family: str, zi: str | None,
                     repeat: int) -> float:
    if data == "sim":
        load = f'd <- read.csv("{SIM}", stringsAsFactors = TRUE)'
    else:
        load = (f'd <- read.csv("{ROOT / "bayesmix" / "datasets" / "data" / data}.csv", '
                "stringsAsFactors = TRUE)")
    script = f"""suppressMessages(library(glmmTMB)); {load}
if (!is.null(d$YEAR)) d$YEAR <- factor(d$YEAR)
if (!is.null(d$mined)) d$mined <- factor(d$mined, levels = c("yes", "no"))
f <- function() glmmTMB({formula}, data = d, family = {family}, ziformula = {zi or "~0"})
invisible(f())
t <- replicate({repeat}, system.time(f())[["elapsed"]])
cat(median(t))"""
    out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True,
                         check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _ours(data, formula, family, link, repeat, **kw) -> float:
    df = _data(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bm.fit(formula, df, family, link=link, backend="laplace", **kw)
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            bm.fit(formula, df, family, link=link, backend="laplace", **kw)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    out = {}
    for name, (data, formula, family, link, tmb, zi) in CASES.items():
        ml = _ours(data, formula, family, link, args.repeat, priors="flat", zi=zi)
        bayes = _ours(data, formula, family, link, args.repeat, zi=zi)
        tmb_s = _glmmtmb_seconds(data, formula, tmb, zi, args.repeat)
        out[name] = {"bayesmix_ml_s": ml, "bayesmix_bayesian_laplace_s": bayes,
                     "glmmTMB_s": tmb_s, "ml_ratio_glmmTMB_over_bayesmix": tmb_s / ml}
        print(name, {k: round(v, 3) for k, v in out[name].items()}, flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "families_vs_glmmtmb.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
