"""The Bayesian Laplace against lme4's point estimate (and bambi's NUTS), in the same run.

(a) InstEval, ``y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept:service)``: bayesmix's
    laplace backend with the default priors — the posterior of every parameter, 4 chains ×
    1000 draws of β, σ, the three SDs and all 4,100 random effects — against lme4's
    ``lmer(..., REML = FALSE)`` point estimate (R's default multithreaded OpenBLAS, and one
    thread), interleaved ``--repeat`` times; medians, and the ratio to the faster lme4.
    ``--bambi`` adds one bambi + nutpie fit of the same model (2 chains × 1000 + 1000, its
    default priors), which took several minutes here.
(b) Logistic ``y ~ 1 + x + (1 + x | g)`` (``benchmarks/datagen.py``), 1M rows × 100k levels:
    the full posterior (default priors) — wall time and peak memory (goals: ≤ 60 s, ≤ 4 GB) —
    and the same at 100k × 10k for the memory's growth.

Every fit runs in its own process after a warm-up fit on a small data set (imports, numba
cache loads), timed around ``bayesmix.fit`` (design build included); lme4 inside R with
``system.time`` after its own warm-up (``benchmarks.bench_laplace.run_r``).

    python -m benchmarks.bench_bayes_laplace                 # (a) and (b), ~5 minutes
    python -m benchmarks.bench_bayes_laplace --parts insteval --repeat 5 --bambi
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import time
from pathlib import Path

from benchmarks.bench_laplace import _R_INSTEVAL, _median_record, run_r

RESULTS = Path(__file__).resolve().parent / "results"
INSTEVAL = "y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept:service)"
LOGISTIC = "y ~ 1 + x + (1 + x | g)"


def _job(kind, rows, levels, queue):
    import warnings

    import bayesmix
    from benchmarks.datagen import glmm_data

    if kind == "insteval":
        data = bayesmix.datasets.load("InstEval")
        formula, family, warm = INSTEVAL, "gaussian", data.iloc[:3000]
    else:
        data = glmm_data(rows, levels, seed=11)
        formula, family, warm = LOGISTIC, "bernoulli", glmm_data(2000, 200, seed=12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bayesmix.fit(formula, warm, family, backend="laplace", draws=10, chains=1)
        start = time.perf_counter()
        fit = bayesmix.fit(formula, data, family, backend="laplace", seed=1)
    seconds = time.perf_counter() - start
    post = fit.idata.posterior
    queue.put({
        "library": "bayesmix", "status": "ok", "seconds": seconds,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "fit_status": fit.info.status, "messages": list(fit.info.messages),
        "timings": {k: round(v, 3) for k, v in fit.info.timings.items()},
        "draws": {k: list(v.shape) for k, v in post.items()},
        "diagnostics": {k: v for k, v in fit.info.extra["diagnostics"].items()
                        if k in ("points", "proposals", "pareto_khat", "ess",
                                 "mode_evaluations")},
        "varcorr": fit.varcorr()[["group", "term", "kind", "estimate", "std_error"]]
        .to_dict("records"),
        "loadavg": os.getloadavg()[0],
    })


def _in_process(library: str, target, args: tuple, timeout: float) -> dict:
    """``target(*args, queue)`` in a fresh process (its own peak memory); its record, or
    why there is none."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        proc.kill()
        return {"library": library, "status": f"stopped after {timeout} s"}
    return queue.get() if proc.exitcode == 0 else {"library": library,
                                                    "status": f"failed ({proc.exitcode})"}


def _run(kind, rows=None, levels=None, timeout=1800) -> dict:
    return _in_process("bayesmix", _job, (kind, rows, levels), timeout)


def _bambi_job(queue):
    import bambi as bmb

    import bayesmix

    data = bayesmix.datasets.load("InstEval")
    data["y"] = data["y"].astype(float)
    start = time.perf_counter()
    model = bmb.Model("y ~ 1 + service + (1|s) + (1|d) + (1|dept:service)", data)
    idata = model.fit(draws=1000, tune=1000, chains=2, inference_method="nutpie",
                      random_seed=1, progressbar=False)
    queue.put({"library": "bambi", "status": "ok", "seconds": time.perf_counter() - start,
               "divergences": int(idata.sample_stats["diverging"].sum()),
               "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20})


def _run_bambi(timeout=3600) -> dict:
    return _in_process("bambi", _bambi_job, (), timeout)


def insteval(repeat: int, bambi: bool) -> dict:
    runs: dict[str, list] = {"bayesmix": [], "lme4": [], "lme4_1thread": []}
    for _ in range(repeat):
        runs["bayesmix"].append(_run("insteval"))
        runs["lme4"].append(run_r(_R_INSTEVAL))
        runs["lme4_1thread"].append(run_r(_R_INSTEVAL, one_thread=True))
    out = {name: _median_record(recs) for name, recs in runs.items()}
    for name, rec in out.items():
        print(f"(a) InstEval {name:14s} {rec.get('seconds', float('nan')):8.2f} s "
              f"{rec.get('status')}", flush=True)
    peers = [out[k]["seconds"] for k in ("lme4", "lme4_1thread")
             if out[k].get("status") == "ok"]
    if peers and out["bayesmix"].get("status") == "ok":
        out["ratio_to_fastest_lme4"] = out["bayesmix"]["seconds"] / min(peers)
        print(f"    Bayesian Laplace (posterior of everything) / lme4 ML point estimate: "
              f"{out['ratio_to_fastest_lme4']:.3f}", flush=True)
    if bambi:
        out["bambi"] = _run_bambi()
        print(f"(a) InstEval bambi+nutpie {out['bambi'].get('seconds', float('nan')):8.1f} s",
              flush=True)
    return out


def logistic() -> dict:
    out = {}
    for rows, levels in ((100_000, 10_000), (1_000_000, 100_000)):
        rec = _run("logistic", rows, levels)
        out[f"{rows}x{levels}"] = rec
        print(f"(b) logistic {rows:,} × {levels:,}: {rec.get('seconds', float('nan')):7.2f} s, "
              f"peak {rec.get('peak_rss_gb', float('nan')):.2f} GB, {rec.get('status')}",
              flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="insteval,logistic")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--bambi", action="store_true")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    records = {"cpu_count": os.cpu_count(), "loadavg_start": os.getloadavg()}
    if "insteval" in parts:
        records["insteval"] = insteval(args.repeat, args.bambi)
    if "logistic" in parts:
        records["logistic"] = logistic()
    records["loadavg_end"] = os.getloadavg()
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "bayes_laplace.json"
    path.write_text(json.dumps(records, indent=1, default=str))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
