"""Case study: InstEval, `y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept:service)`.

73,421 ratings of 1,128 lecturers (d) by 2,972 students (s), crossed: the data set lme4's
authors use to show off sparse methods. The Bayesian Laplace gives the posterior of every
parameter (β, σ, three SDs, all 4,128 random effects) in about the time lmer takes for its
ML point estimate; here next to that estimate (laplace with flat priors, checked against
lme4 1.1-31) and, with ``--nuts`` (slow: several minutes), next to NUTS on the same model.
"""

from __future__ import annotations

import time

import pandas as pd

import bayesmix as bm

from ._plots import b_forest, beta_forest, sd_densities
from ._report import Report, arguments, fixef_side_by_side, reference_fit, table

FORMULA = "y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept:service)"


def _timed(*args, **kwargs):
    start = time.perf_counter()
    fit = bm.fit(*args, **kwargs)
    return fit, time.perf_counter() - start


def main(out, with_nuts: bool = False) -> None:
    data = bm.datasets.load("InstEval")
    report = Report("insteval", "InstEval: the Bayesian Laplace next to lme4's estimate", out)
    report.add(f"Model: `{FORMULA}`, {len(data):,} ratings, 2,972 students crossed with "
               "1,128 lecturers; default weakly informative priors for the Bayesian fits.")
    bayes, t_bayes = _timed(FORMULA, data, backend="laplace", seed=1)
    flat, t_flat = _timed(FORMULA, data, backend="laplace", priors="flat", reml=False,
                          draws=0)
    ref = reference_fit("InstEval", "InstEval_lmer_ML")
    fits = {"laplace (Bayes)": bayes}
    timing = {"laplace (Bayes): posterior of everything": t_bayes,
              "laplace (flat): lme4's ML estimate": t_flat,
              "lme4 lmer ML (reference run)": ref["time_s"]["median"]}
    if with_nuts:
        nuts, t_nuts = _timed(FORMULA, data, backend="nuts", draws=1000, tune=1000, chains=4,
                              seed=1, progressbar=False)
        fits["nuts"] = nuts
        timing["nuts: posterior of everything"] = t_nuts
    lme4 = pd.DataFrame({"estimate": ref["fixef"]["estimate"],
                         "std_error": ref["fixef"]["std_error"]},
                        index=pd.Index(ref["fixef"]["names"], name="coef"))
    fe = fixef_side_by_side({**fits, "laplace (flat)": flat}, lme4=lme4)
    report.add("## Fixed effects", "", table(fe), "",
               f"laplace with flat priors is lmer's ML fit (log-likelihood {flat.loglik:.3f} "
               f"vs lme4's {ref['logLik']:.3f}). With 73k rows the posterior of β is "
               "close to the ML estimate and its standard error.")
    report.figure(beta_forest(fits, reference=("lme4", lme4)), "beta",
                  "β: posterior mean and 94% interval; lme4's estimate ± 1.88 SE")
    sds = {f"sd((Intercept)|{r['group']})": r["sd"][0] for r in ref["random_effects"]}
    sds["sigma"] = ref["sigma"]
    vc = pd.concat({name: f.varcorr().set_index("group")[["estimate", "std_error"]]
                    for name, f in fits.items()}, axis=1)
    vc.columns = [f"{a} {b}" for a, b in vc.columns]
    vc["lme4 ML"] = [sds[f"sd((Intercept)|{g})"] if g != "Residual" else sds["sigma"]
                     for g in vc.index]
    report.add("## Variance components", "", table(vc), "",
               "Many students and lecturers determine their SDs well; the 28 department × "
               "service cells leave sd(dept:service) uncertain, which its posterior shows "
               "and the point estimate does not.")
    report.figure(sd_densities(fits, points={"lme4": sds}), "sds",
                  "Posterior densities of the SDs and σ; lme4's ML estimates dotted")
    report.figure(b_forest({**fits, "lme4 (flat laplace)": flat}, "d"), "b",
                  "12 lecturers' effects: posterior mean and 94% interval; the conditional "
                  "mode ± 1.88 conditional SD")
    d = bayes.info.extra["diagnostics"]
    report.add("## Time", "", table(pd.DataFrame({"seconds": timing}).rename_axis("fit"), 3),
               "", f"The Bayesian Laplace integrated the 4 hyperparameters on {d['points']} "
               f"importance points (Pareto k̂ {d['pareto_khat']:.2f}, weights' ESS "
               f"{d['ess']:.0f}) and drew {bayes.idata.posterior.sizes['draw']} × "
               f"{bayes.idata.posterior.sizes['chain']} draws of every parameter. The lme4 "
               "time is that of the shared reference fit on another run of the machine; "
               "`python -m benchmarks.bench_bayes_laplace` times both in one run.")
    report.write()


def _flags(parser) -> None:
    parser.add_argument("--nuts", action="store_true", help="also fit NUTS (slow)")


if __name__ == "__main__":
    args = arguments("insteval", _flags)
    main(args.out, args.nuts)
