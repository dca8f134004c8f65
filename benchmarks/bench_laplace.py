"""The Laplace backend against lme4, in the same run, plus its memory growth.

(a) InstEval, ``y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept:service)``, ML: bayesmix
    (``draws=0``: the estimates alone, as lme4; and with the default 1000 idata draws) against
    ``lmer(..., REML = FALSE)``.
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

    python -m benchmarks.bench_laplace            # full run (~6 minutes with R)
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

RESULTS = Path(__file__).resolve().parent / "results"
INSTEVAL = "y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept:service)"
LOGISTIC = "y ~ 1 + x + (1 + x | g)"


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def _rss_gb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e9


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
        bayesmix.fit(formula, warm, family, backend="laplace", draws=min(draws, 10), **opts)
    rss_before = _rss_gb()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = bayesmix.fit(formula, data, family, backend="laplace", draws=draws, **opts)
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


def run_r(script: str, timeout: float = 1800) -> dict:
    if shutil.which("Rscript") is None:
        return {"library": "lme4", "status": "R not installed"}
    load = os.getloadavg()[0]
    try:
        out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True,
                             timeout=timeout)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-r", action="store_true", help="skip the lme4 runs")
    args = parser.parse_args()
    big = (100_000, 10_000) if args.quick else (1_000_000, 100_000)
    peer = (20_000, 2_000) if args.quick else (100_000, 10_000)
    sizes = ([(10_000, 1_000), (30_000, 3_000), (100_000, 10_000)] if args.quick else
             [(100_000, 10_000), (300_000, 30_000), (1_000_000, 100_000)])
    records = {"loadavg_start": os.getloadavg(), "cpu_count": os.cpu_count()}
    print(f"{'configuration':<44}{'seconds':>9}{'peak GB':>9}{'logLik':>18}{'load':>7}"
          f"{'evals':>7}")

    inst = {"bayesmix": run_bayesmix("insteval", draws=0),
            "bayesmix_draws1000": run_bayesmix("insteval", draws=1000)}
    if not args.no_r:
        inst["lme4"] = run_r(_R_INSTEVAL)
    for name, rec in inst.items():
        print(_row(f"(a) InstEval ML  {name}", rec))
    if inst["bayesmix"].get("status") == "ok" and inst.get("lme4", {}).get("status") == "ok":
        inst["ratio"] = inst["bayesmix"]["seconds"] / inst["lme4"]["seconds"]
        inst["ratio_with_draws"] = (inst["bayesmix_draws1000"]["seconds"]
                                    / inst["lme4"]["seconds"])
        print(f"    bayesmix / lme4 time: {inst['ratio']:.3f} "
              f"(with 1000 idata draws: {inst['ratio_with_draws']:.3f})")
    records["insteval"] = inst

    logi = {}
    logi[f"bayesmix_{peer[0]}"] = run_bayesmix("logistic", *peer, draws=0)
    logi[f"bayesmix_{big[0]}"] = run_bayesmix("logistic", *big, draws=0)
    logi[f"bayesmix_{big[0]}_draws1000"] = run_bayesmix("logistic", *big, draws=1000)
    if not args.no_r:
        logi[f"lme4_{peer[0]}"] = lme4_logistic(*peer)
    for name, rec in logi.items():
        print(_row(f"(b) logistic {name}", rec))
    pb, pl = logi[f"bayesmix_{peer[0]}"], logi.get(f"lme4_{peer[0]}", {})
    if pb.get("status") == "ok" and pl.get("status") == "ok":
        logi["ratio_at_peer_size"] = pb["seconds"] / pl["seconds"]
        print(f"    bayesmix / lme4 time at {peer[0]:,} rows: {logi['ratio_at_peer_size']:.4f}")
    records["logistic"] = logi

    mem = []
    for rows, levels in sizes:
        rec = run_bayesmix("logistic", rows, levels, draws=0)
        rec.update(rows=rows, levels=levels)
        mem.append(rec)
        print(_row(f"(c) memory {rows:,} rows / {levels:,} levels", rec))
    records["memory"] = mem
    if all(r.get("status") == "ok" for r in mem):
        base = mem[0]
        for r in mem[1:]:
            grow = (r["peak_rss_gb"] - r["rss_before_gb"]) / max(
                base["peak_rss_gb"] - base["rss_before_gb"], 1e-9)
            print(f"    fit memory (peak − before) ×{grow:.2f} for rows ×"
                  f"{r['rows'] / base['rows']:.0f}")
    records["loadavg_end"] = os.getloadavg()
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("laplace_quick.json" if args.quick else "laplace.json")
    out.write_text(json.dumps(records, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
