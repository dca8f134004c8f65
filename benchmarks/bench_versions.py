"""Two versions of bayesmix on the same jobs, in one run: is a change faster or slower?

Each job runs in a fresh process with ``PYTHONPATH`` pointing at one source tree (a git
worktree of the older commit, say), after a warm-up fit on a small data set (imports, numba
cache loads), and the versions alternate job by job so that both see the same machine load.
Reported: each version's median wall time of ``bayesmix.fit`` (design build included) and
the ratio old / new of the medians.

    git worktree add /tmp/old <commit>
    python -m benchmarks.bench_versions --old /tmp/old --repeat 3
    python -m benchmarks.bench_versions --old /tmp/old --jobs insteval --repeat 5

Jobs: ``insteval`` (laplace ML, estimates only and with the default draws),
``logistic_1m`` (laplace, logistic ``y ~ 1 + x + (1 + x | g)``, 1M rows, 100k levels, θ
estimated), ``map_10m`` (map, the same model at 10M rows and 1M levels, covariance known).
Writes ``benchmarks/results/versions.json``.
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
import json, os, sys, time, warnings, resource
import numpy as np
import bayesmix
from benchmarks.datagen import glmm_data
warnings.simplefilter("ignore")
job, draws = {job!r}, {draws!r}
kw = {{}} if draws is None else {{"draws": draws}}
if job == "insteval":
    data = bayesmix.datasets.load("InstEval")
    formula, family, opts = "y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept:service)", "gaussian", {{"reml": False, "priors": "flat"}}
    warm = data.iloc[:2000]
elif job == "logistic_1m":
    data = glmm_data(1_000_000, 100_000, seed=11)
    formula, family, opts = "y ~ 1 + x + (1 + x | g)", "bernoulli", {{"priors": "flat"}}
    warm = glmm_data(2000, 200, seed=12)
else:
    from benchmarks.datagen import COR, SD
    cov = np.array([[SD[0] ** 2, COR * SD[0] * SD[1]], [COR * SD[0] * SD[1], SD[1] ** 2]])
    data = glmm_data(10_000_000, 1_000_000, seed=0)
    formula, family, opts = "y ~ 1 + x + (1 + x | g)", "bernoulli", {{"backend": "map", "covariance": {{"g": cov}}, "seed": 0}}
    warm = glmm_data(2000, 200, seed=9)
bayesmix.fit(formula, warm, family, **opts, **({{"draws": 10}} if draws is None else kw))
start = time.perf_counter()
fit = bayesmix.fit(formula, data, family, **opts, **kw)
seconds = time.perf_counter() - start
print(json.dumps({{"seconds": seconds, "loglik": fit.loglik, "converged": bool(fit.converged),
                  "beta": [float(b) for b in fit.estimates.beta],
                  "timings": {{k: round(float(v), 3) for k, v in fit.info.timings.items()}},
                  "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                  "loadavg": os.getloadavg()[0], "module": bayesmix.__file__}}))
'''

JOBS = {"insteval": [0, None], "logistic_1m": [0, None], "map_10m": [None]}


def _run(tree: str, job: str, draws) -> dict:
    env = {**os.environ, "PYTHONPATH": tree}
    code = _JOB.format(job=job, draws=draws)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=tree)
    if out.returncode != 0:
        raise SystemExit(f"{job} ({tree}) failed:\n{out.stderr[-3000:]}")
    rec = json.loads(out.stdout.strip().splitlines()[-1])
    if not rec["module"].startswith(str(Path(tree).resolve())):
        raise SystemExit(f"{tree} ran {rec['module']}: PYTHONPATH did not take effect")
    return rec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, help="source tree of the older version")
    parser.add_argument("--new", default=str(ROOT), help="source tree of the newer version")
    parser.add_argument("--jobs", nargs="+", default=list(JOBS), choices=list(JOBS))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default="versions.json")
    args = parser.parse_args()
    records = []
    for job in args.jobs:
        for draws in JOBS[job]:
            runs = {"old": [], "new": []}
            for _ in range(args.repeat):
                for version in ("old", "new"):
                    rec = _run(getattr(args, version), job, draws)
                    runs[version].append(rec)
            med = {v: statistics.median(r["seconds"] for r in runs[v]) for v in runs}
            record = {"job": job, "draws": "default" if draws is None else draws,
                      "median_s": med, "ratio_old_over_new": med["old"] / med["new"],
                      "runs": runs}
            records.append(record)
            print(f"{job:12s} draws={record['draws']!s:8s} old {med['old']:7.2f} s  "
                  f"new {med['new']:7.2f} s  old/new {record['ratio_old_over_new']:.2f}  "
                  f"(loads {[round(r['loadavg'], 1) for r in runs['new']]})", flush=True)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / args.out
    path.write_text(json.dumps({"old": args.old, "new": args.new, "cpus": os.cpu_count(),
                                "records": records}, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
