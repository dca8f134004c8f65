"""NUTS compile time on a fresh machine: first fit, then new priors, then new data.

Each case runs three fresh processes one after the other, sharing one empty per-user cache
directory (``XDG_CACHE_HOME`` points into a temporary folder; bayesmix keeps numba's and
PyTensor's caches there), as on a machine that never ran bayesmix:

1. ``first``: the model with its default priors (empty caches);
2. ``new priors``: the same model with other prior values;
3. ``new data``: the same structure on another data set of the same shapes (the response
   perturbed: its data-scaled default priors differ too). A data set for which the backend
   chooses another parameterization of a term (centred or not, from the data) is another
   graph and compiles once more.

Reports the backend's ``build`` and ``compile`` timings and the whole ``bm.fit`` per step.
Cases: sleepstudy ``Reaction ~ Days + (Days | Subject)`` and the logistic GLMM of
bench_nuts_vs_bambi (100,000 rows × 10,000 levels).

    python -m benchmarks.bench_nuts_compile

Writes ``benchmarks/results/nuts_compile.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]

_JOB = r'''
import json, sys, time, warnings
import numpy as np
import bayesmix as bm
warnings.simplefilter("ignore")
case, step = sys.argv[1], sys.argv[2]
if case == "sleepstudy":
    data = bm.datasets.load("sleepstudy")
    formula, family, response, slope = ("Reaction ~ Days + (Days | Subject)", "gaussian",
                                         "Reaction", "Days")
else:
    from benchmarks.datagen import glmm_data
    data = glmm_data(100_000, 10_000, family="bernoulli", seed=1)
    formula, family, response, slope = "y ~ 1 + x + (1 + x | g)", "bernoulli", "y", "x"
priors = None
if step == "new priors":
    priors = {slope: bm.Normal(0.5, 3.0)}
if step == "new data":
    rng = np.random.default_rng(2)
    y = data[response].to_numpy()
    if family == "gaussian":
        y = y + rng.normal(0.0, 0.1 * y.std(), len(y))
    else:
        y = np.where(rng.random(len(y)) < 0.05, 1 - y, y)
    data = data.assign(**{response: y})
start = time.perf_counter()
fit = bm.fit(formula, data, family, backend="nuts", priors=priors, draws=200, tune=200,
             chains=2, seed=1, progress=False, progressbar=False)
total = time.perf_counter() - start
print(json.dumps({"total_s": total, "build_s": fit.info.timings["build"],
                  "compile_s": fit.info.timings["compile"],
                  "sample_s": fit.info.timings["sample"]}))
'''


def run_case(case: str) -> dict:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "XDG_CACHE_HOME": tmp, "PYTHONWARNINGS": "ignore"}
        env.pop("NUMBA_CACHE_DIR", None)
        env.pop("PYTENSOR_FLAGS", None)
        for step in ("first", "new priors", "new data"):
            res = subprocess.run([sys.executable, "-c", _JOB, case, step], cwd=ROOT, env=env,
                                 capture_output=True, text=True, check=True)
            out[step] = json.loads(res.stdout.strip().splitlines()[-1])
            print(case, step, {k: round(v, 2) for k, v in out[step].items()}, flush=True)
    return out


def main() -> None:
    results = {case: run_case(case) for case in ("sleepstudy", "logistic_100k")}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "nuts_compile.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
