"""Benchmark of the map backend (Diamond's job) against scikit-learn's L2 logistic regression.

Configurations (each in its own subprocess, so that its peak memory is its own maxrss):

- ``one_factor``: logistic ``y ~ 1 + x + (1 + x | g)``, 10M rows, 1M levels, covariance known;
- ``crossed``: the same plus a crossed ``(1 | h)`` with 1M levels;
- ``sklearn`` (at a size both run): the same one-factor model as an L2-penalised logistic
  regression on one-hot encoded groups, the "simple baseline" Diamond was compared against,
  side by side with the map backend on the same rows.

The L2 penalty matches the prior exactly: each level's one-hot block is multiplied by T (the
Cholesky factor of the brand covariance), so its coefficients are u with b = T u and the prior
b ~ N(0, Σ) is the penalty ½‖u‖² (C = 1); the fixed slope column is scaled by 10³ so that its
penalty is negligible (β is flat in the map fit) and sklearn leaves the intercept unpenalised.
Both then minimise the same objective: we report how close sklearn's solution gets, its time,
and the held-out log-loss of both (rows generated with the same random effects).

Usage::

    python -m benchmarks.bench_map                 # all configurations (needs ≥ 12 GB free)
    python -m benchmarks.bench_map --quick         # 1/10 of the sizes
    python -m benchmarks.bench_map --configs sklearn

Prints a table and writes ``benchmarks/results/map.json`` (``map_quick.json`` with --quick).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
SIZES = {
    "one_factor": dict(rows=10_000_000, levels=1_000_000, crossed=None),
    "crossed": dict(rows=10_000_000, levels=1_000_000, crossed=1_000_000),
    "sklearn": dict(rows=1_000_000, levels=100_000, crossed=None),
}
FREE_GB_NEEDED = 12


def _cov():
    from benchmarks.datagen import COR, SD

    return np.array([[SD[0] ** 2, COR * SD[0] * SD[1]], [COR * SD[0] * SD[1], SD[1] ** 2]])


def _maxrss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _warm_up() -> float:
    """Load (or, the first time ever, compile) the numba kernels on a tiny data set."""
    import bayesmix
    from benchmarks.datagen import SD_CROSSED, glmm_data

    start = time.perf_counter()
    tiny = glmm_data(2000, 200, crossed_levels=200, seed=9)
    for formula, cov in (("y ~ 1 + x + (1 + x | g)", {"g": _cov()}),
                         ("y ~ 1 + x + (1 + x | g) + (1 | h)",
                          {"g": _cov(), "h": SD_CROSSED**2})):
        bayesmix.fit(formula, tiny, "bernoulli", backend="map", covariance=cov, draws=10,
                     dense_max=1)
    return time.perf_counter() - start


def _map_record(fit, wall: float) -> dict:
    info = fit.info
    return {
        "fit_wall_s": wall, "timings_s": dict(info.timings), "newton_iterations": info.iterations,
        "converged": info.converged, "solver": info.extra["solver"],
        "newton_decrement": info.extra["newton_decrement"], "grad_norm": info.extra["grad_norm"],
        "cg_iterations": list(info.extra["cg_iterations"]), "draws": info.extra["draws"],
        "beta": fit.estimates.beta.tolist(), "beta_se": fit.estimates.beta_se.tolist(),
    }


def run_map(name: str, rows: int, levels: int, crossed: int | None) -> dict:
    import bayesmix
    from benchmarks.datagen import SD_CROSSED, glmm_data

    warm = _warm_up()
    start = time.perf_counter()
    data = glmm_data(rows, levels, crossed_levels=crossed, seed=0)
    gen = time.perf_counter() - start
    formula, cov = "y ~ 1 + x + (1 + x | g)", {"g": _cov()}
    if crossed:
        formula += " + (1 | h)"
        cov["h"] = SD_CROSSED**2
    load0 = os.getloadavg()
    start = time.perf_counter()
    fit = bayesmix.fit(formula, data, "bernoulli", backend="map", covariance=cov, seed=0)
    wall = time.perf_counter() - start
    return {"config": name, "rows": rows, "levels": levels, "crossed_levels": crossed,
            "formula": formula, "datagen_s": gen, "warmup_s": warm, **_map_record(fit, wall),
            "loadavg_before": load0, "loadavg_after": os.getloadavg(),
            "maxrss_gb": _maxrss_gb()}


def _one_hot_design(design, T, slope_scale):
    """Sparse [x·slope_scale, one-hot(g) ⊗ ([1, x] T)]: coefficients (β_x / scale, u)."""
    import scipy.sparse as sp

    term = design.terms[0]
    n, m = design.n, term.m
    A = term.X @ T  # rows of Z Λ for the term
    rows = np.repeat(np.arange(n), 2)
    cols = (2 * term.codes[:, None] + np.arange(2)[None, :]).ravel()
    Z = sp.csr_matrix((A.ravel(), (rows, cols)), shape=(n, 2 * m))
    x = sp.csr_matrix(design.X[:, 1:] * slope_scale)
    return sp.hstack([x, Z], format="csr")


def _log_loss(y, eta):
    return float(np.mean(np.logaddexp(0, eta) - y * eta))


def _objective(design, T, beta, u) -> float:
    """The common objective: Σ log-loss + ½‖u‖² (flat β), at either solution."""
    term = design.terms[0]
    eta = design.X @ beta + np.einsum("ij,ij->i", term.X @ T, u[term.codes])
    return float(np.sum(np.logaddexp(0, eta) - design.y * eta) + 0.5 * np.sum(u * u))


def run_sklearn(name: str, rows: int, levels: int, crossed=None) -> dict:
    from sklearn.linear_model import LogisticRegression

    import bayesmix
    from bayesmix.design import new_data
    from benchmarks.datagen import glmm_data

    warm = _warm_up()
    n_test = rows // 5
    data = glmm_data(rows + n_test, levels, seed=0)
    train, test = data.iloc[:rows], data.iloc[rows:]
    formula, cov = "y ~ 1 + x + (1 + x | g)", {"g": _cov()}
    load0 = os.getloadavg()
    start = time.perf_counter()
    fit = bayesmix.fit(formula, train, "bernoulli", backend="map", covariance=cov, seed=0)
    map_wall = time.perf_counter() - start

    T = np.linalg.cholesky(_cov())
    scale = 1e3
    start = time.perf_counter()
    design = bayesmix.build_design(formula, train, "bernoulli")
    Xs = _one_hot_design(design, T, scale)
    prep = time.perf_counter() - start
    model = LogisticRegression(C=1.0, solver="lbfgs", tol=1e-8, max_iter=10_000)
    start = time.perf_counter()
    model.fit(Xs, design.y)
    sk_wall = time.perf_counter() - start

    beta_sk = np.array([model.intercept_[0], model.coef_[0, 0] * scale])
    u_sk = model.coef_[0, 1:].reshape(-1, 2)
    b_sk = u_sk @ T.T
    est = fit.estimates
    # held-out log-loss of both fits (test rows of known levels, same random effects)
    nd = new_data(design, test)
    known = nd.codes["g"] >= 0
    Xt, Zt, codes = nd.X[known], nd.term_X["g"][known], nd.codes["g"][known]
    y_test = test["y"].to_numpy()[known]
    eta_map = Xt @ est.beta + np.einsum("ij,ij->i", Zt, est.terms[0].b[codes])
    eta_sk = Xt @ beta_sk + np.einsum("ij,ij->i", Zt, b_sk[codes])
    u_map = np.linalg.solve(T, est.terms[0].b.T).T
    return {
        "config": name, "rows": rows, "levels": levels, "loadavg_before": load0,
        "loadavg_after": os.getloadavg(), "warmup_s": warm,
        "map": _map_record(fit, map_wall),
        "sklearn": {"fit_s": sk_wall, "one_hot_prep_s": prep, "solver": "lbfgs",
                    "n_iter": int(model.n_iter_[0]), "tol": 1e-8,
                    "beta": beta_sk.tolist()},
        "max_abs_diff_beta": float(np.max(np.abs(beta_sk - est.beta))),
        "max_abs_diff_b": float(np.max(np.abs(b_sk - est.terms[0].b))),
        "rms_b": float(np.sqrt(np.mean(est.terms[0].b ** 2))),
        "objective_map": _objective(design, T, est.beta, u_map),
        "objective_sklearn": _objective(design, T, beta_sk, u_sk),
        "test_log_loss_map": _log_loss(y_test, eta_map),
        "test_log_loss_sklearn": _log_loss(y_test, eta_sk),
        "ratio_sklearn_over_map": sk_wall / map_wall,
        "maxrss_gb": _maxrss_gb(),
    }


def _free_gb() -> float:
    with open("/proc/meminfo") as fh:
        info = dict(line.split(":", 1) for line in fh)
    return int(info["MemAvailable"].split()[0]) / 2**20


def _worker(config: str, quick: bool) -> None:
    size = dict(SIZES[config])
    if quick:
        size = {k: (v // 10 if v else v) for k, v in size.items()}
    runner = run_sklearn if config == "sklearn" else run_map
    print(json.dumps(runner(config, **size)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker, args.quick)
        return
    records = []
    for config in args.configs:
        need = FREE_GB_NEEDED / (10 if args.quick else 1)
        while _free_gb() < need:
            print(f"waiting: {_free_gb():.1f} GB available, {config} needs {need:.0f} GB")
            time.sleep(30)
        cmd = [sys.executable, "-m", "benchmarks.bench_map", "--worker", config]
        out = subprocess.run(cmd + (["--quick"] if args.quick else []), capture_output=True,
                             text=True, cwd=Path(__file__).resolve().parents[1])
        if out.returncode != 0:
            raise SystemExit(f"{config} failed:\n{out.stderr}")
        records.append(json.loads(out.stdout.strip().splitlines()[-1]))
        _print(records[-1])
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / ("map_quick.json" if args.quick else "map.json")
    # a run of some configurations replaces their records and keeps the others
    kept = json.loads(path.read_text())["records"] if path.exists() else []
    done = {r["config"] for r in records}
    records = [r for r in kept if r["config"] not in done] + records
    records.sort(key=lambda r: list(SIZES).index(r["config"]))
    path.write_text(json.dumps({"machine": os.uname().nodename, "cpus": os.cpu_count(),
                                "records": records}, indent=2))
    print(f"wrote {path}")


def _print(rec: dict) -> None:
    if rec["config"] == "sklearn":
        m, s = rec["map"], rec["sklearn"]
        print(f"\n[{rec['config']}] {rec['rows']:,} rows × {rec['levels']:,} levels   "
              f"load {rec['loadavg_before'][0]:.1f}")
        print(f"  map      {m['fit_wall_s']:8.2f} s  Newton {m['newton_iterations']}  "
              f"test log-loss {rec['test_log_loss_map']:.6f}")
        print(f"  sklearn  {s['fit_s']:8.2f} s  lbfgs {s['n_iter']} iterations (+ one-hot "
              f"{s['one_hot_prep_s']:.2f} s)  test log-loss {rec['test_log_loss_sklearn']:.6f}")
        print(f"  sklearn / map time: {rec['ratio_sklearn_over_map']:.1f}×   max |Δβ| "
              f"{rec['max_abs_diff_beta']:.2e}   max |Δb| {rec['max_abs_diff_b']:.2e} "
              f"(rms b {rec['rms_b']:.3f})   peak {rec['maxrss_gb']:.2f} GB")
        print(f"  objective (Σ log-loss + ½‖u‖²): map {rec['objective_map']:.6f}, sklearn "
              f"{rec['objective_sklearn']:.6f}")
        return
    t = rec["timings_s"]
    print(f"\n[{rec['config']}] {rec['rows']:,} rows × {rec['levels']:,} levels"
          + (f" × {rec['crossed_levels']:,} crossed" if rec["crossed_levels"] else "")
          + f"   load {rec['loadavg_before'][0]:.1f}")
    print(f"  fit {rec['fit_wall_s']:.2f} s (" + ", ".join(f"{k} {v:.2f}" for k, v in t.items())
          + f")   Newton {rec['newton_iterations']}  CG {rec['cg_iterations']}   "
          f"peak {rec['maxrss_gb']:.2f} GB   (data generation {rec['datagen_s']:.1f} s, "
          f"warm-up {rec['warmup_s']:.1f} s)")


if __name__ == "__main__":
    main()
