"""The Laplace backend against lme4, in the same run, plus its memory growth.

(a) InstEval, ``y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept:service)``, ML: bayesmix
    (``draws=0``: the estimates alone, as lme4; and with the default idata draws) against
    ``lmer(..., REML = FALSE)`` with R's default multithreaded OpenBLAS and with one thread
    (its faster setting when the machine is busy), each run ``--repeat`` times interleaved;
    medians, and the ratio to the faster lme4 setting.
(b) Logistic ``y ~ 1 + x + (1 + x | g)`` (``benchmarks/datagen.py``, θ estimated, nAGQ = 1):
    bayesmix at 100k rows / 10k levels and 1M rows / 100k levels; lme4's ``glmer`` at the
    size it manages (100k rows; 300k rows took ~290 s here), on the same data written to CSV.
(c) Memory: bayesmix's peak RSS on (b) at three sizes, rows and levels growing together.

Every fit runs in its own process (``spawn``); lme4 is timed inside R with ``system.time``
around the fitting call only (data loaded, lme4 warmed up on a small fit), bayesmix with
``perf_counter`` around ``bayesmix.fit`` (design build included) after a warm-up fit on 2,000
rows (imports, numba cache loads). The load average is recorded with each record. R here
uses Debian's multithreaded OpenBLAS; bayesmix runs its BLAS single-threaded
(:mod:`bayesmix.linalg.threads`).

    python -m benchmarks.bench_laplace            # full run (~8 minutes with R)
    python -m benchmarks.bench_laplace --parts insteval --repeat 5
    python -m benchmarks.bench_laplace --quick    # small sizes, for checking the script
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.memory import rss_gb

RESULTS = Path(__file__).resolve().parent / "results"
INSTEVAL = "y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept:service)"
LOGISTIC = "y ~ 1 + x + (1 + x | g)"


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def _bayesmix_job(kind, rows, levels, draws, queue):
    import warnings

    import bayesmix
    from benchmarks.datagen import glmm_data

    if kind == "insteval":
        data = bayesmix.datasets.load("InstEval")
        formula, family, opts = INSTEVAL, "gaussian", {"reml": False}
        warm = data.iloc[:2000]
    else:
        data = glmm_data(rows, levels, seed=11)
        formula, family, opts = LOGISTIC, "bernoulli", {}
        warm = glmm_data(2000, 200, seed=12)
    with warnings.catch_warnings():
        # Warm-up on a small data set (lazy imports, numba cache loads), as lme4 is warmed.
        warnings.simplefilter("ignore")
        bayesmix.fit(formula, warm, family, backend="laplace", draws=min(draws, 10), **opts, priors="flat")
    rss_before = rss_gb()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = bayesmix.fit(formula, data, family, backend="laplace", draws=draws, **opts, priors="flat")
    seconds = time.perf_counter() - start
    queue.put({
        "library": "bayesmix", "seconds": seconds, "peak_rss_gb": _peak_gb(),
        "rss_before_gb": rss_before, "loglik": fit.loglik, "converged": fit.converged,
        "evaluations": fit.info.iterations,
        "timings": {k: round(v, 3) for k, v in fit.info.timings.items()},
        "beta": fit.estimates.beta.tolist(), "theta": fit.estimates.theta.tolist(),
        "loadavg": os.getloadavg()[0],
    })


def run_bayesmix(kind, rows=None, levels=None, draws=0, timeout=1200):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_bayesmix_job, args=(kind, rows, levels, draws, queue))
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        proc.kill()
        return {"library": "bayesmix", "status": f"stopped after {timeout} s"}
    return {"status": "ok", **queue.get()} if proc.exitcode == 0 else {
        "library": "bayesmix", "status": f"failed ({proc.exitcode})"}


_R_INSTEVAL = """
suppressMessages(library(lme4))
invisible(lmer(y ~ 1 + (1 | d), data = InstEval[1:2000, ], REML = FALSE))  # warm-up
tm <- system.time(f <- lmer(y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept:service),
                            data = InstEval, REML = FALSE))
cat(sprintf('{"seconds": %.4f, "cpu": %.4f, "loglik": %.10f, "feval": %d}', tm[["elapsed"]],
            tm[["user.self"]] + tm[["sys.self"]], as.numeric(logLik(f)), f@optinfo$feval))
"""

_R_LOGISTIC = """
suppressMessages(library(lme4))
d <- read.csv("{csv}")
d$g <- factor(d$g)
tm <- system.time(f <- glmer(y ~ 1 + x + (1 + x | g), data = d, family = binomial,
                             nAGQ = {nagq}))
cat(sprintf('{{"seconds": %.4f, "cpu": %.4f, "loglik": %.10f, "beta": [%.8f, %.8f]}}',
            tm[["elapsed"]], tm[["user.self"]] + tm[["sys.self"]], as.numeric(logLik(f)),
            fixef(f)[1], fixef(f)[2]))
"""


def run_r(script: str, timeout: float = 1800, one_thread: bool = False) -> dict:
    """Run an R script; ``one_thread`` limits R's (multithreaded Debian) OpenBLAS to one
    thread, lme4's best setting on a busy machine."""
    if shutil.which("Rscript") is None:
        return {"library": "lme4", "status": "R not installed"}
    load = os.getloadavg()[0]
    env = dict(os.environ)
    if one_thread:
        env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    try:
        out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True,
                             timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"library": "lme4", "status": f"stopped after {timeout:.0f} s"}
    if out.returncode != 0:
        return {"library": "lme4", "status": f"failed: {out.stderr[-300:]}"}
    return {"library": "lme4", "status": "ok", "loadavg": load,
            **json.loads(out.stdout.strip().splitlines()[-1])}


def lme4_logistic(rows: int, levels: int, nagq: int = 1) -> dict:
    from benchmarks.datagen import glmm_data

    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "data.csv"
        glmm_data(rows, levels, seed=11).to_csv(csv, index=False)
        return run_r(_R_LOGISTIC.format(csv=csv, nagq=nagq))


def _row(label, rec):
    if rec.get("status") != "ok":
        return f"{label:<44}{rec.get('status')}"
    mem = f"{rec['peak_rss_gb']:.2f}" if "peak_rss_gb" in rec else "-"
    evals = rec.get("evaluations", rec.get("feval", "-"))
    return (f"{label:<44}{rec['seconds']:>9.2f}{mem:>9}{rec['loglik']:>18.4f}"
            f"{rec.get('loadavg', float('nan')):>7.2f}{evals:>7}")


def _median_record(recs: list[dict]) -> dict:
    """The run with the median time (all runs' times kept in ``runs``)."""
    ok = [r for r in recs if r.get("status") == "ok"]
    if not ok:
        return recs[0]
    ok.sort(key=lambda r: r["seconds"])
    return {**ok[len(ok) // 2], "runs": [r["seconds"] for r in recs if "seconds" in r]}


def insteval(repeat: int, with_r: bool) -> dict:
    """(a): bayesmix (draws=0 and the default draws) and lme4 (R's default multithreaded
    OpenBLAS, and one thread), interleaved ``repeat`` times; median runs."""
    runs: dict[str, list] = {"bayesmix": [], "bayesmix_draws1000": []}
    if with_r:
        runs.update(lme4=[], lme4_1thread=[])
    for _ in range(repeat):
        runs["bayesmix"].append(run_bayesmix("insteval", draws=0))
        runs["bayesmix_draws1000"].append(run_bayesmix("insteval", draws=1000))
        if with_r:
            runs["lme4"].append(run_r(_R_INSTEVAL))
            runs["lme4_1thread"].append(run_r(_R_INSTEVAL, one_thread=True))
    inst = {name: _median_record(recs) for name, recs in runs.items()}
    for name, rec in inst.items():
        print(_row(f"(a) InstEval ML  {name}", rec))
    peers = [inst[k] for k in ("lme4", "lme4_1thread")
             if inst.get(k, {}).get("status") == "ok"]
    if inst["bayesmix"].get("status") == "ok" and peers:
        fastest = min(r["seconds"] for r in peers)
        inst["ratio"] = inst["bayesmix"]["seconds"] / fastest
        inst["ratio_with_draws"] = inst["bayesmix_draws1000"]["seconds"] / fastest
        print(f"    bayesmix / fastest lme4 time (medians of {repeat}): {inst['ratio']:.3f} "
              f"(with the default draws: {inst['ratio_with_draws']:.3f})")
    return inst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-r", action="store_true", help="skip the lme4 runs")
    parser.add_argument("--parts", default="insteval,logistic,memory",
                        help="comma-separated subset of insteval, logistic, memory")
    parser.add_argument("--repeat", type=int, default=3,
                        help="InstEval runs per configuration (medians reported)")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    big = (100_000, 10_000) if args.quick else (1_000_000, 100_000)
    peer = (20_000, 2_000) if args.quick else (100_000, 10_000)
    sizes = ([(10_000, 1_000), (30_000, 3_000), (100_000, 10_000)] if args.quick else
             [(100_000, 10_000), (300_000, 30_000), (1_000_000, 100_000)])
    records = {"loadavg_start": os.getloadavg(), "cpu_count": os.cpu_count()}
    print(f"{'configuration':<44}{'seconds':>9}{'peak GB':>9}{'logLik':>18}{'load':>7}"
          f"{'evals':>7}")
    if "insteval" in parts:
        records["insteval"] = insteval(args.repeat, not args.no_r)
    if "logistic" in parts:
        records["logistic"] = logistic(big, peer, not args.no_r)
    if "memory" in parts:
        records["memory"] = memory(sizes)
    records["loadavg_end"] = os.getloadavg()
    RESULTS.mkdir(exist_ok=True)
    name = "laplace_quick" if args.quick else "laplace"
    if parts != {"insteval", "logistic", "memory"}:
        name += "_" + "_".join(sorted(parts))
    out = RESULTS / f"{name}.json"
    out.write_text(json.dumps(records, indent=1))
    print(f"wrote {out}")


def logistic(big, peer, with_r: bool) -> dict:
    """(b): bayesmix at the peer size and at the big size (draws=0 and the default draws),
    lme4's glmer at the peer size."""
    logi = {}
    logi[f"bayesmix_{peer[0]}"] = run_bayesmix("logistic", *peer, draws=0)
    logi[f"bayesmix_{big[0]}"] = run_bayesmix("logistic", *big, draws=0)
    logi[f"bayesmix_{big[0]}_draws1000"] = run_bayesmix("logistic", *big, draws=1000)
    if with_r:
        logi[f"lme4_{peer[0]}"] = lme4_logistic(*peer)
    for name, rec in logi.items():
        print(_row(f"(b) logistic {name}", rec))
    pb, pl = logi[f"bayesmix_{peer[0]}"], logi.get(f"lme4_{peer[0]}", {})
    if pb.get("status") == "ok" and pl.get("status") == "ok":
        logi["ratio_at_peer_size"] = pb["seconds"] / pl["seconds"]
        print(f"    bayesmix / lme4 time at {peer[0]:,} rows: {logi['ratio_at_peer_size']:.4f}")
    return logi


def memory(sizes) -> list[dict]:
    """(c): peak RSS growth of the logistic fit, rows and levels growing together."""
    mem = []
    for rows, levels in sizes:
        rec = run_bayesmix("logistic", rows, levels, draws=0)
        rec.update(rows=rows, levels=levels)
        mem.append(rec)
        print(_row(f"(c) memory {rows:,} rows / {levels:,} levels", rec))
    if all(r.get("status") == "ok" for r in mem):
        base = mem[0]
        for r in mem[1:]:
            grow = (r["peak_rss_gb"] - r["rss_before_gb"]) / max(
                base["peak_rss_gb"] - base["rss_before_gb"], 1e-9)
            print(f"    fit memory (peak − before) ×{grow:.2f} for rows ×"
                  f"{r['rows'] / base['rows']:.0f}")
    return mem


if __name__ == "__main__":
    main()
