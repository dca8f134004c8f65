"""Factorizations of A = ΛᵀZᵀWZΛ + I on mixed-model patterns: blocked vs CHOLMOD orderings.

For each pattern the script times the symbolic analysis (once per design) and the numeric
update (per θ / PIRLS step, the median of a few) of

- ``blocked``: bayesmix's blocked factorization (level blocks + dense Schur complement of the
  trailing terms), only where the trailing block is small enough to be dense;
- ``cholmod-natural``: CHOLMOD (simplicial LDLᵀ, see ``bayesmix/linalg/cholmod.py`` for why
  not supernodal) in lme4's term order (most levels first);
- ``cholmod-amd`` / ``cholmod-metis``: the same with AMD / METIS orderings.

A configuration whose analysis or first factorization runs past ``--budget`` seconds is
stopped (it runs in a subprocess) and recorded as such.
The log-determinants of all methods are compared, so the table also checks them.

    python -m benchmarks.bench_cholesky           # full table (~15 minutes)
    python -m benchmarks.bench_cholesky --quick   # small patterns
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"

# name, formula, rows, levels of g, levels of h (crossed) or None
PATTERNS = [
    ("one factor, r=2", "y ~ x + (1 + x | g)", 1_000_000, 100_000, None),
    ("InstEval", None, None, None, None),
    ("100k x 1k crossed", "y ~ x + (1 | g) + (1 | h)", 1_000_000, 100_000, 1_000),
    ("1M x 1k crossed", "y ~ x + (1 | g) + (1 | h)", 2_000_000, 1_000_000, 1_000),
    ("200k x 2k crossed, r=2", "y ~ x + (1 + x | g) + (1 | h)", 1_000_000, 200_000, 2_000),
    ("20k x 4k crossed", "y ~ x + (1 | g) + (1 | h)", 200_000, 20_000, 4_000),
    ("50k x 20k crossed", "y ~ x + (1 | g) + (1 | h)", 500_000, 50_000, 20_000),
]
QUICK = [
    ("one factor, r=2", "y ~ x + (1 + x | g)", 100_000, 10_000, None),
    ("InstEval", None, None, None, None),
    ("10k x 500 crossed", "y ~ x + (1 | g) + (1 | h)", 100_000, 10_000, 500),
    ("5k x 2k crossed", "y ~ x + (1 | g) + (1 | h)", 50_000, 5_000, 2_000),
]
METHODS = [("blocked", "blocked", "natural"), ("cholmod-natural", "cholmod", "natural"),
           ("cholmod-amd", "cholmod", "amd"), ("cholmod-metis", "cholmod", "metis")]


def _design(formula, rows, g, h):
    import bayesmix
    from benchmarks.datagen import glmm_data

    if formula is None:
        data = bayesmix.datasets.load("InstEval")
        return bayesmix.build_design(
            "y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept:service)", data, "gaussian")
    data = glmm_data(rows, g, family="gaussian", crossed_levels=h, seed=3)
    return bayesmix.build_design(formula, data, "gaussian")


def _run(spec, method, ordering, dense_max, queue):
    from bayesmix import linalg

    design = _design(*spec[1:])
    q_rest = linalg.z_structure(design).q_rest
    if method == "blocked" and q_rest > dense_max:
        queue.put({"status": f"not applicable (q2 = {q_rest:,} too large to be dense)"})
        return
    theta = np.full(design.n_theta, 0.5)
    zl = design.Z_Lambda(theta).data
    w = np.random.default_rng(0).uniform(0.5, 1.5, design.n)
    start = time.perf_counter()
    factor = linalg.analyze(linalg.z_structure(design), method=method, ordering=ordering,
                            dense_max=10**9)
    analyse = time.perf_counter() - start
    times = []
    for _ in range(3 if design.n > 500_000 else 5):
        start = time.perf_counter()
        factor.update(zl, w)
        times.append(time.perf_counter() - start)
    queue.put({"status": "ok", "n": design.n, "q": design.q, "q_rest": linalg.z_structure(design).q_rest,
               "analyse_s": analyse, "update_s": float(np.median(times)),
               "first_update_s": times[0], "logdet": factor.logdet(),
               "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6})


def measure(spec, method, ordering, budget, dense_max):
    queue = mp.get_context("spawn").Queue()
    proc = mp.get_context("spawn").Process(target=_run,
                                          args=(spec, method, ordering, dense_max, queue))
    proc.start()
    proc.join(budget)
    if proc.is_alive():
        proc.kill()
        proc.join()
        return {"status": f"stopped after {budget:.0f} s"}
    if proc.exitcode != 0:
        return {"status": f"failed (exit code {proc.exitcode})"}
    return queue.get()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--budget", type=float, default=180.0)
    parser.add_argument("--dense-max", type=int, default=5_000,
                        help="largest trailing block the blocked method is tried on")
    parser.add_argument("--only", default=None, help="run the patterns whose name has this")
    args = parser.parse_args()
    patterns = QUICK if args.quick else PATTERNS
    if args.only:
        patterns = [p for p in patterns if args.only in p[0]]
    load = os.getloadavg()
    rows = []
    print(f"load average at start: {load[0]:.2f}")
    print(f"{'pattern':<24}{'method':<17}{'n':>10}{'q':>10}{'q2':>8}{'analyse s':>11}"
          f"{'update s':>10}{'peak GB':>9}  logdet / status")
    for spec in patterns:
        for label, method, ordering in METHODS:
            rec = {"pattern": spec[0], "method": label}
            rec.update(measure(spec, method, ordering, args.budget, args.dense_max))
            rows.append(rec)
            if rec["status"] == "ok":
                print(f"{spec[0]:<24}{label:<17}{rec['n']:>10,}{rec['q']:>10,}"
                      f"{rec['q_rest']:>8,}{rec['analyse_s']:>11.3f}{rec['update_s']:>10.3f}"
                      f"{rec['peak_rss_gb']:>9.2f}  {rec['logdet']:.6f}")
            else:
                print(f"{spec[0]:<24}{label:<17}{'':>57}  {rec['status']}")
    RESULTS.mkdir(exist_ok=True)
    name = "cholesky_quick" if args.quick else "cholesky"
    if args.only:
        name += "_" + "".join(ch if ch.isalnum() else "_" for ch in args.only)
    out = RESULTS / f"{name}.json"
    out.write_text(json.dumps({"loadavg_start": load, "loadavg_end": os.getloadavg(),
                               "budget_s": args.budget, "results": rows}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
