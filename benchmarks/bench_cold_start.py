"""A user's first fit in a fresh process against the same fit repeated in that process.

Each repeat starts a new Python process that imports arviz, then bayesmix (timed separately),
loads InstEval, then times ``bayesmix.fit`` of the laplace flat-prior model four times: the
first call is *cold* (numba kernels loaded from the on-disk cache, first-call dispatch,
lazy imports inside the backend), the median of the other three is *warm*. The ratio
cold / warm is what a user pays once per process beyond the fit itself. The numba cache is
warmed by one throw-away process first, as it is after installation.

    python -m benchmarks.bench_cold_start --repeat 5
    python -m benchmarks.bench_cold_start --draws 0

Writes ``benchmarks/results/cold_start.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]

_JOB = r'''
import json, time, warnings
t0 = time.perf_counter()
import arviz
t1 = time.perf_counter()
import bayesmix
t2 = time.perf_counter()
warnings.simplefilter("ignore")
data = bayesmix.datasets.load("InstEval")
kw = {{}} if {draws!r} is None else {{"draws": {draws!r}}}
seconds, timings = [], []
for _ in range(4):
    start = time.perf_counter()
    fit = bayesmix.fit("y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept:service)", data,
                       priors="flat", reml=False, **kw)
    seconds.append(time.perf_counter() - start)
    timings.append({{k: round(v, 3) for k, v in fit.info.timings.items()}})
print(json.dumps({{"import_arviz": t1 - t0, "import_bayesmix": t2 - t1, "fits": seconds,
                  "timings": timings, "loglik": fit.loglik}}))
'''


def _one(draws) -> dict:
    out = subprocess.run([sys.executable, "-c", _JOB.format(draws=draws)], cwd=ROOT,
                         capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--draws", type=int, default=None,
                    help="draws per chain (default: the backend's default)")
    ap.add_argument("--out", default="cold_start.json")
    args = ap.parse_args(argv)

    _one(args.draws)
    runs = [_one(args.draws) for _ in range(args.repeat)]
    cold = [r["fits"][0] for r in runs]
    warm = [statistics.median(r["fits"][1:]) for r in runs]
    ratios = [c / w for c, w in zip(cold, warm)]
    result = {
        "job": "InstEval laplace flat ML, bayesmix.fit in a fresh process",
        "draws": args.draws, "repeat": args.repeat, "load": os.getloadavg()[0],
        "cold_s": cold, "warm_s": warm, "ratio_cold_warm": ratios,
        "median_ratio": statistics.median(ratios),
        "import_bayesmix_s": statistics.median(r["import_bayesmix"] for r in runs),
        "import_arviz_s": statistics.median(r["import_arviz"] for r in runs),
        "timings_cold_warm": [[r["timings"][0], r["timings"][1]] for r in runs],
    }
    for c, w, r in zip(cold, warm, ratios):
        print(f"cold {c:6.2f} s  warm {w:6.2f} s  ratio {r:4.2f}")
    print(f"median ratio {result['median_ratio']:.2f}; imports: bayesmix "
          f"{result['import_bayesmix_s']:.2f} s, arviz {result['import_arviz_s']:.2f} s")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / args.out).write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
