"""bayesmix's nuts and (Bayesian) laplace backends against bambi: effective samples per
second, side by side.

Both libraries fit the same data with the same priors (as far as the two allow, see
``PRIORS``), the same sampler (nutpie: bambi through ``inference_method="nutpie"``, which calls
``pm.sample(nuts_sampler="nutpie")``), and the same chains, tune, draws and seed. Each fit runs
in its own fresh subprocess (imports and data generation happen before the clock starts), so
its peak memory (maxrss) is its own. The clock covers everything a user waits for: model
build, compilation, sampling and the library's post-processing (bayesmix also computes its
pointwise log-likelihood and convergence checks inside ``fit``).

Run length: 2 chains × (1000 tune + 1000 draws), the default of ``pm.sample`` (which bambi
inherits) on this 2-core machine; ``--chains/--tune/--draws`` change it for both libraries.

The figure of merit is the minimum bulk ESS over the parameters both models share (fixed
effects, random-effect SDs, σ, and every random effect), divided by that wall time. ESS is
computed for both with ``bayesmix.backends.nuts.diagnostics`` (the same estimator as ArviZ's
``ess(method="bulk")``, vectorised; the tests check they agree to 1e-12).

``--libraries bayesmix,laplace,bambi`` adds the Bayesian Laplace (``backend="laplace"``, the
same priors, ``--chains`` × ``--draws`` draws). Its draws of β and b given each point of the
hyperparameters are independent, but the hyperparameters (and, outside the Gaussian family,
β) come from weighted importance points, resampled: their effective sample size is the
weights' ESS, which its record uses for them (``min_ess_bulk`` is the smaller of that and the
bulk ESS of the rest), not the ESS of the resampled draws.

Cases:

- ``sleepstudy``: ``Reaction ~ Days + (1|Subject) + (0 + Days|Subject)`` (bambi cannot fit
  the correlated ``(Days|Subject)``).
- ``logistic``: ``y ~ 1 + x + (1 + x | g)``, bernoulli, from ``benchmarks/datagen.py``.
  bambi fits the two SDs with independent priors (it has no correlated random effects);
  bayesmix fits the correlated model (LKJ(2) on the correlation), a strictly larger model;
  ``--uncorrelated`` makes bayesmix fit ``(1 + x || g)``, bambi's model.

Priors (identical numbers on both sides):

- sleepstudy: Intercept Normal(298.51, 261.01), Days Normal(0, 48.89),
  sd(Intercept|Subject) HalfNormal(261.01), sd(Days|Subject) HalfNormal(48.89),
  sigma HalfStudentT(4, 56.17) -- bambi's own defaults for this model. bambi puts the
  intercept prior on the intercept at the mean of Days (it centres predictors); bayesmix on the
  intercept at Days = 0; with a prior this wide the difference is immaterial.
- logistic: Intercept Normal(0, 2.5), x Normal(0, 2.5), sd(Intercept|g) HalfNormal(2.5),
  sd(x|g) HalfNormal(2.5); bayesmix also LKJ(2) on cor(g).

PyTensor caches compiled functions on disk; bayesmix's compiled model takes the data as
arguments, so from the second fit of a model of the same structure and shapes it comes from
that cache. ``--cold-cache`` runs bayesmix of the first repeat twice in a fresh, empty compile
directory: its first fit ever (``bayesmix_cold``) and the next (``bayesmix``); bambi runs in
the default directory (its model embeds the data, so numba cannot cache it whatever the
directory). Repeat r uses seed + r for the data and the chains of both libraries; the summary
gives medians over repeats and the median of the per-repeat ratios.

    python -m benchmarks.bench_nuts_vs_bambi --case sleepstudy --repeats 3 --cold-cache
    python -m benchmarks.bench_nuts_vs_bambi --case logistic --rows 100000 --groups 10000 \
        --cold-cache
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.memory import available_gb

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]

SLEEP_FORMULA = "Reaction ~ Days + (1|Subject) + (0 + Days|Subject)"
LOGIT_FORMULA = "y ~ 1 + x + (1 + x | g)"
SLEEP_PRIORS = {"intercept": (298.5079, 261.0092), "Days": (0.0, 48.8915),
                "sd_intercept": 261.0092, "sd_Days": 48.8915, "sigma": (4.0, 56.1721)}
LOGIT_PRIORS = {"intercept": (0.0, 2.5), "x": (0.0, 2.5), "sd_intercept": 2.5, "sd_x": 2.5}
# bambi's peak memory at 100k rows × 10k groups was about 16 GB; do not start it with less
# than this much available.
BAMBI_BIG_NEED_GB = 20.0


def _data(args):
    if args.case == "sleepstudy":
        import bayesmix

        return bayesmix.datasets.load("sleepstudy")
    from benchmarks.datagen import glmm_data

    return glmm_data(args.rows, args.groups, family="bernoulli", seed=args.seed)


def _bayesmix_model(args):
    """(formula, family, priors) of the benchmark's model in bayesmix, bambi's priors."""
    import bayesmix as bm

    if args.case == "sleepstudy":
        p = SLEEP_PRIORS
        priors = {"(Intercept)": bm.Normal(*p["intercept"]), "Days": bm.Normal(*p["Days"]),
                  "sd(Subject)": bm.HalfNormal(p["sd_intercept"]),
                  "sd(Subject.1)": bm.HalfNormal(p["sd_Days"]),
                  "sigma": bm.HalfStudentT(*p["sigma"])}
        return SLEEP_FORMULA, "gaussian", priors
    p = LOGIT_PRIORS
    priors = {"(Intercept)": bm.Normal(*p["intercept"]), "x": bm.Normal(*p["x"]),
              "sd(g)": bm.HalfNormal(p["sd_intercept"]), "sd(x|g)": bm.HalfNormal(p["sd_x"])}
    if args.uncorrelated:  # bambi's model exactly
        return LOGIT_FORMULA.replace("| g", "|| g"), "bernoulli", priors
    priors["cor(g)"] = bm.LKJ(2.0)
    return LOGIT_FORMULA, "bernoulli", priors


def _draws_and_hyper(fit):
    """The posterior draws by name (correlations left out) and the hyperparameters' names."""
    post = fit.idata.posterior
    names = [n for n in post.data_vars if not n.startswith("cor_")]
    return {n: post[n].values for n in names}, [n for n in names if not n.startswith("b_")]


def _bayesmix_fit(args, data):
    import bayesmix as bm

    formula, family, priors = _bayesmix_model(args)
    import pymc  # noqa: F401  (imported before the clock, as bambi's import does)

    start = time.perf_counter()
    fit = bm.fit(formula, data, family, backend="nuts", priors=priors, draws=args.draws,
                 tune=args.tune, chains=args.chains, seed=args.seed, progressbar=False,
                 **({"nutpie_mode": args.nutpie_mode} if args.nutpie_mode else {}))
    seconds = time.perf_counter() - start
    draws, hyper = _draws_and_hyper(fit)
    return seconds, draws, hyper, {"timings": dict(fit.info.timings),
                                   "nutpie_mode": fit.info.extra.get("nutpie_mode"),
                                   "divergences": fit.info.extra.get("divergences")}


def _laplace_fit(args, data):
    """The Bayesian Laplace with :func:`_bayesmix_fit`'s priors."""
    import bayesmix as bm

    formula, family, priors = _bayesmix_model(args)
    start = time.perf_counter()
    fit = bm.fit(formula, data, family, backend="laplace", priors=priors, draws=args.draws,
                 chains=args.chains, seed=args.seed, log_likelihood=False)
    seconds = time.perf_counter() - start
    draws, hyper = _draws_and_hyper(fit)
    diag = fit.info.extra["diagnostics"]
    return seconds, draws, hyper, {"timings": dict(fit.info.timings),
                                   "weights_ess": diag.get("ess"), "points": diag["points"],
                                   "pareto_khat": diag.get("pareto_khat"),
                                   "status": fit.info.status,
                                   "outer": fit.info.extra["hyperparameters"]}


def _bambi_fit(args, data):
    import bambi as bmb

    if args.case == "sleepstudy":
        p = SLEEP_PRIORS
        priors = {"Intercept": bmb.Prior("Normal", mu=p["intercept"][0], sigma=p["intercept"][1]),
                  "Days": bmb.Prior("Normal", mu=p["Days"][0], sigma=p["Days"][1]),
                  "1|Subject": bmb.Prior("Normal", mu=0, sigma=bmb.Prior(
                      "HalfNormal", sigma=p["sd_intercept"])),
                  "Days|Subject": bmb.Prior("Normal", mu=0, sigma=bmb.Prior(
                      "HalfNormal", sigma=p["sd_Days"])),
                  "sigma": bmb.Prior("HalfStudentT", nu=p["sigma"][0], sigma=p["sigma"][1])}
        formula, family = SLEEP_FORMULA, "gaussian"
    else:
        p = LOGIT_PRIORS
        priors = {"Intercept": bmb.Prior("Normal", mu=p["intercept"][0], sigma=p["intercept"][1]),
                  "x": bmb.Prior("Normal", mu=p["x"][0], sigma=p["x"][1]),
                  "1|g": bmb.Prior("Normal", mu=0, sigma=bmb.Prior(
                      "HalfNormal", sigma=p["sd_intercept"])),
                  "x|g": bmb.Prior("Normal", mu=0, sigma=bmb.Prior("HalfNormal",
                                                                    sigma=p["sd_x"]))}
        formula, family = LOGIT_FORMULA, "bernoulli"
    start = time.perf_counter()
    model = bmb.Model(formula, data, family=family, priors=priors)
    idata = model.fit(draws=args.draws, tune=args.tune, chains=args.chains,
                      inference_method="nutpie", random_seed=args.seed, progressbar=False)
    seconds = time.perf_counter() - start
    post = idata.posterior
    names = [n for n in post.data_vars if not n.endswith("_offset")]
    draws = {n: post[n].values for n in names}
    hyper = [n for n in names if not ("|" in n and not n.endswith("_sigma"))]
    divergences = int(idata.sample_stats["diverging"].sum())
    return seconds, draws, hyper, {"divergences": divergences}


def run_worker(args) -> dict:
    """One fit in this process; the record is printed as the last line of stdout."""
    import numpy as np

    from bayesmix.backends.nuts.diagnostics import ess_bulk

    if args.worker == "bambi":
        import bambi  # noqa: F401
    else:
        import bayesmix  # noqa: F401
    data = _data(args)
    fit = {"bambi": _bambi_fit, "laplace": _laplace_fit}.get(args.worker, _bayesmix_fit)
    load = os.getloadavg()
    seconds, draws, hyper, extra = fit(args, data)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    ess = {n: float(np.min(ess_bulk(v))) for n, v in draws.items()}
    if args.worker == "laplace":
        # Drawn at weighted importance points: their ESS is the weights'.
        outer = {n for n in draws if n.startswith(("sd_", "sigma"))}
        if args.case == "logistic":
            outer.add("beta")
        for n in outer:
            ess[n] = min(ess[n], extra["weights_ess"])
    min_all = min(ess.values())
    min_hyper = min(ess[n] for n in hyper)
    return {
        "library": args.worker, "case": args.case, "seconds": seconds,
        "min_ess_bulk": min_all, "min_ess_bulk_hyper": min_hyper,
        "ess_per_s": min_all / seconds, "ess_per_s_hyper": min_hyper / seconds,
        "ess_by_variable": ess, "peak_rss_gb": peak, "loadavg_before": load,
        "loadavg_after": os.getloadavg(), **extra,
    }


def _spawn(worker: str, args, timeout: float, seed: int,
           compiledir: str | None = None) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.bench_nuts_vs_bambi", "--worker", worker,
           "--case", args.case, "--rows", str(args.rows), "--groups", str(args.groups),
           "--draws", str(args.draws), "--tune", str(args.tune), "--chains",
           str(args.chains), "--seed", str(seed)]
    if args.nutpie_mode:
        cmd += ["--nutpie-mode", args.nutpie_mode]
    if args.uncorrelated:
        cmd += ["--uncorrelated"]
    env = dict(os.environ)
    if compiledir is not None:  # PyTensor's compile cache (numba's included) lives here
        env["PYTENSOR_FLAGS"] = ",".join(
            f for f in (env.get("PYTENSOR_FLAGS", ""), f"base_compiledir={compiledir}") if f)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                         env=env)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        return {"library": worker, "error": (out.stderr or out.stdout)[-2000:]}
    return json.loads(lines[-1])


def _median(values):
    values = sorted(values)
    return values[len(values) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=["sleepstudy", "logistic"], default="sleepstudy")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=10_000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--nutpie-mode", default=None, choices=["auto", "cfunc", "pyfunc"])
    parser.add_argument("--libraries", default="bayesmix,bambi")
    parser.add_argument("--uncorrelated", action="store_true",
                        help="logistic case: bayesmix fits (1 + x || g), bambi's model")
    parser.add_argument("--cold-cache", action="store_true",
                        help="run bayesmix twice per repeat in a fresh PyTensor compile "
                             "directory: its first fit ever (cold) and the next one (warm)")
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--worker", choices=["bayesmix", "laplace", "bambi"], default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_worker(args)))
        return

    big = args.case == "logistic" and args.rows * args.groups >= 1e9
    records = []
    for rep in range(args.repeats):
        # ESS is random: each repeat draws new chains (and, for the simulated case, new data)
        # with seed + repeat, the same for both libraries.
        seed = args.seed + rep
        for lib in args.libraries.split(","):
            if lib == "bambi" and big and available_gb() < BAMBI_BIG_NEED_GB:
                print(f"skip bambi: {available_gb():.1f} GB available, need "
                      f"{BAMBI_BIG_NEED_GB:.0f} GB", flush=True)
                records.append({"library": "bambi", "skipped": "not enough memory"})
                continue
            runs = [(lib, None)]
            cold = lib == "bayesmix" and args.cold_cache and rep == 0
            if cold:
                fresh = tempfile.mkdtemp(prefix="bench_pytensor_")
                runs = [("bayesmix_cold", fresh), (lib, fresh)]
            for label, compiledir in runs:
                rec = _spawn(lib, args, args.timeout, seed, compiledir)
                rec["library"], rec["repeat"], rec["seed"] = label, rep, seed
                records.append(rec)
                if "error" in rec:
                    print(f"{label}: ERROR {rec['error'][-500:]}", flush=True)
                else:
                    print(f"{label:13s} {rec['seconds']:8.1f} s  min ESS "
                          f"{rec['min_ess_bulk']:7.0f}  ESS/s {rec['ess_per_s']:7.2f}  (hyper "
                          f"{rec['ess_per_s_hyper']:7.2f})  peak {rec['peak_rss_gb']:5.2f} GB"
                          f"  load {rec['loadavg_before'][0]:.1f}", flush=True)
            if cold:
                shutil.rmtree(fresh, ignore_errors=True)
    summary = {}
    for lib in ("bayesmix", "bayesmix_cold", "laplace", "bambi"):
        ok = [r for r in records if r.get("library") == lib and "seconds" in r]
        if ok:
            summary[lib] = {k: _median([r[k] for r in ok]) for k in
                            ("seconds", "min_ess_bulk", "ess_per_s", "ess_per_s_hyper",
                             "peak_rss_gb")}
    if "bayesmix" in summary and "bambi" in summary:
        a, b = summary["bayesmix"], summary["bambi"]
        summary["ratio_ess_per_s"] = a["ess_per_s"] / b["ess_per_s"]
        summary["ratio_ess_per_s_hyper"] = a["ess_per_s_hyper"] / b["ess_per_s_hyper"]
        summary["ratio_peak_memory"] = a["peak_rss_gb"] / b["peak_rss_gb"]
        print(f"bayesmix / bambi: ESS/s × {summary['ratio_ess_per_s']:.2f} "
              f"(hyperparameters × {summary['ratio_ess_per_s_hyper']:.2f}), peak memory × "
              f"{summary['ratio_peak_memory']:.3f}")
    per_repeat = []
    for rep in range(args.repeats):
        pair = {r["library"]: r for r in records if r.get("repeat") == rep and "seconds" in r}
        if "bayesmix" in pair and "bambi" in pair:
            per_repeat.append(pair["bayesmix"]["ess_per_s"] / pair["bambi"]["ess_per_s"])
    if per_repeat:
        summary["ratio_ess_per_s_by_repeat"] = per_repeat
        summary["median_ratio_ess_per_s"] = _median(per_repeat)
        print("per repeat (seed + r): ESS/s × " + ", ".join(f"{v:.2f}" for v in per_repeat)
              + f"; median × {summary['median_ratio_ess_per_s']:.2f}")
    for peer in ("bambi", "bayesmix"):
        if "laplace" in summary and peer in summary:
            a, b = summary["laplace"], summary[peer]
            summary[f"laplace_over_{peer}_ess_per_s"] = a["ess_per_s"] / b["ess_per_s"]
            print(f"laplace / {peer}: ESS/s × {a['ess_per_s'] / b['ess_per_s']:.2f}")
    if "bayesmix_cold" in summary and "bambi" in summary:
        a, b = summary["bayesmix_cold"], summary["bambi"]
        summary["ratio_ess_per_s_cold"] = a["ess_per_s"] / b["ess_per_s"]
        print(f"bayesmix (cold compile cache) / bambi: ESS/s × "
              f"{summary['ratio_ess_per_s_cold']:.2f}")
    result = {
        "case": args.case,
        "config": {k: getattr(args, k) for k in ("rows", "groups", "draws", "tune", "chains",
                                                 "seed", "repeats", "nutpie_mode",
                                                 "uncorrelated", "cold_cache")},
        "cpu_count": os.cpu_count(),
        "records": records,
        "summary": summary,
    }
    if args.case == "sleepstudy":
        result["config"].pop("rows")
        result["config"].pop("groups")
    RESULTS.mkdir(exist_ok=True)
    suffix = "_uncorrelated" if args.uncorrelated else ""
    name = args.out or (f"nuts_vs_bambi_{args.case}.json" if args.case == "sleepstudy" else
                        f"nuts_vs_bambi_{args.case}_{args.rows}x{args.groups}{suffix}.json")
    (RESULTS / name).write_text(json.dumps(result, indent=1))
    print(f"wrote {RESULTS / name}")


if __name__ == "__main__":
    main()
