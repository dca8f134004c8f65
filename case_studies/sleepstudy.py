"""Case study: sleepstudy, `Reaction ~ Days + (Days | Subject)`, side by side.

- laplace with the default priors: the Bayesian Laplace, the posterior of everything;
- nuts with the same priors: the full posterior by MCMC;
- laplace with flat priors: lmer's REML fit (checked against lme4 1.1-31);
- map at the covariance that fit estimated: lmer's β̂ and BLUPs again, as the joint mode.

The question a user asks: where do the fast and the exact posterior differ, and where does a
point estimate of the covariance understate the uncertainty?
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import bayesmix as bm

from ._plots import b_forest, beta_forest, sd_densities
from ._report import Report, arguments, fixef_side_by_side, reference_fit, table

FORMULA = "Reaction ~ Days + (Days | Subject)"


def _lme4_reference():
    ref = reference_fit("sleepstudy", "sleepstudy_lmer_corr_REML")
    fixef = pd.DataFrame({"estimate": ref["fixef"]["estimate"],
                          "std_error": ref["fixef"]["std_error"]},
                         index=pd.Index(ref["fixef"]["names"], name="coef"))
    re = ref["random_effects"][0]
    points = {"sd((Intercept)|Subject)": re["sd"][0], "sd(Days|Subject)": re["sd"][1],
              "sigma": ref["sigma"]}
    return ref, fixef, points


def main(out) -> None:
    data = bm.datasets.load("sleepstudy")
    report = Report("sleepstudy", "sleepstudy: the Bayesian Laplace, NUTS, lme4 and map", out)
    report.add(f"Model: `{FORMULA}` on lme4's sleepstudy (180 rows, 18 subjects); default "
               "weakly informative priors for the two Bayesian fits (the same model).")

    bayes = bm.fit(FORMULA, data, backend="laplace", seed=1)
    nuts = bm.fit(FORMULA, data, backend="nuts", draws=1000, tune=1000, chains=4, seed=1,
                  progressbar=False)
    flat = bm.fit(FORMULA, data, backend="laplace", priors="flat", seed=1)
    map_fit = bm.fit(FORMULA, data, backend="map", covariance=flat, seed=1)
    ref, lme4, points = _lme4_reference()

    fe = fixef_side_by_side({"laplace (Bayes)": bayes, "nuts": nuts,
                             "laplace (flat) = lme4": flat, "map": map_fit})
    report.add("## Fixed effects", "", table(fe), "",
               f"The flat-prior laplace fit is lmer's (REML log-likelihood "
               f"{flat.loglik:.6f} vs lme4's {ref['logLik']:.6f}); map at its covariance "
               "returns the same β̂ and standard errors. The Bayesian Laplace and NUTS agree "
               "(posterior means and SDs), and their SDs are wider than lmer's standard "
               "errors: they integrate over the variance components, which the plug-in "
               "standard errors hold fixed.")
    report.figure(beta_forest({"laplace (Bayes)": bayes, "nuts": nuts, "map": map_fit},
                              reference=("lme4", lme4)),
                  "beta", "β: posterior mean and 94% interval (Bayesian fits); estimate ± "
                  "1.88 SE (lme4, map)")

    vc = pd.concat({"laplace (Bayes)": bayes.varcorr().set_index(["kind", "term", "term2"])
                    [["estimate", "std_error"]],
                    "nuts": nuts.varcorr().set_index(["kind", "term", "term2"])
                    [["estimate", "std_error"]],
                    "lme4": flat.varcorr().set_index(["kind", "term", "term2"])[["estimate"]]},
                   axis=1)
    vc.columns = [f"{a} {b}" for a, b in vc.columns]
    vc.index = [k if k == "sigma" else f"{k}({t}{',' + t2 if isinstance(t2, str) else ''})"
                for k, t, t2 in vc.index]
    report.add("## Variance components", "", table(vc), "",
               "The posterior of the SDs is right-skewed (18 subjects inform the between-"
               "subject SDs): its mean sits above the REML mode, and the correlation's "
               "posterior is wide — the data say little about it, which a point estimate "
               "alone does not show. The Bayesian Laplace's densities lie on NUTS's.")
    report.figure(sd_densities({"laplace (Bayes)": bayes, "nuts": nuts, "map": map_fit},
                               points={"lme4": points}),
                  "sds", "Posterior densities of the SDs and σ (histograms), map's fixed "
                  "values (dashed) and lme4's REML estimates (dotted)")

    re_b = bayes.ranef().set_index(["level", "term"])
    re_n = nuts.ranef().set_index(["level", "term"])
    re_f = flat.ranef().set_index(["level", "term"])
    diff = (re_n["estimate"] - re_b["estimate"]) / re_n["std_error"]
    report.add("## Random effects", "",
               f"Largest difference between the posterior means of b from NUTS and from the "
               f"Bayesian Laplace, in posterior SDs: {np.abs(diff).max():.2f} (median "
               f"{np.abs(diff).median():.2f}). lmer's conditional SDs are smaller than the "
               f"posterior SDs by a median factor of "
               f"{np.median(re_f['std_error'] / re_n['std_error']):.2f}: they condition on θ̂.")
    report.figure(b_forest({"laplace (Bayes)": bayes, "nuts": nuts, "lme4": flat}, "Subject"),
                  "b", "Random intercepts of 12 subjects: posterior mean and 94% interval; "
                  "lmer's conditional mode ± 1.88 conditional SD")

    timing = pd.DataFrame(
        {"seconds": [sum(f.info.timings.values()) for f in (bayes, nuts, flat, map_fit)]},
        index=pd.Index(["laplace (Bayes)", "nuts", "laplace (flat)", "map"], name="fit"))
    report.add("## Time", "", table(timing, 3), "",
               f"nuts: {nuts.info.timings.get('compile', float('nan')):.1f} s of that is "
               "compilation (once per model structure and shapes).")
    report.write()


if __name__ == "__main__":
    main(arguments("sleepstudy").out)
