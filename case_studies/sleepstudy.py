"""Case study: sleepstudy, `Reaction ~ Days + (Days | Subject)`, four ways.

- laplace, REML and flat priors: must be lmer's fit (checked against lme4 1.1-31);
- nuts with bayesmix's default weakly informative priors: the full posterior;
- map at the covariance the laplace fit estimated: lmer's β̂ and BLUPs again, now as the
  joint mode with Gaussian uncertainty;
and the three side by side, with the question a user asks: where do approximate and full
Bayes differ, and why?
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import bayesmix as bm

from ._report import Report, reference_fit, table

FORMULA = "Reaction ~ Days + (Days | Subject)"


def main() -> None:
    data = bm.datasets.load("sleepstudy")
    report = Report("sleepstudy", "sleepstudy: approximate and full Bayes side by side")
    report.add(f"Model: `{FORMULA}` on lme4's sleepstudy (180 rows, 18 subjects).")

    laplace = bm.fit(FORMULA, data, backend="laplace", reml=True, seed=1)
    nuts = bm.fit(FORMULA, data, backend="nuts", draws=1000, tune=1000, chains=4, seed=1,
                  progressbar=False)
    map_fit = bm.fit(FORMULA, data, backend="map", covariance=laplace, seed=1)

    ref = reference_fit("sleepstudy", "sleepstudy_lmer_corr_REML")
    lme4 = pd.DataFrame({"estimate": ref["fixef"]["estimate"],
                         "std_error": ref["fixef"]["std_error"]},
                        index=pd.Index(ref["fixef"]["names"], name="coef"))
    fe = pd.concat({"lme4": lme4, "laplace": laplace.fixef()[["estimate", "std_error"]],
                    "map": map_fit.fixef()[["estimate", "std_error"]],
                    "nuts": nuts.fixef()[["estimate", "std_error"]]}, axis=1)
    fe.columns = [f"{a} {b}" for a, b in fe.columns]
    report.add("## Fixed effects", "", table(fe), "",
               "laplace reproduces lme4 (REML log-likelihood "
               f"{laplace.loglik:.6f} vs lme4's {ref['logLik']:.6f}); map at laplace's "
               "covariance returns the same β̂ and standard errors (lmer's β̂ is the GLS "
               "estimate at θ̂). The NUTS posterior means are close, with posterior SDs a "
               "little wider: they carry the uncertainty in the variance components that "
               "the plug-in standard errors ignore.")

    vc = pd.concat({"laplace": laplace.varcorr().set_index(["kind", "term", "term2"])
                    [["estimate"]],
                    "nuts": nuts.varcorr().set_index(["kind", "term", "term2"])
                    [["estimate", "std_error", "hdi_3%", "hdi_97%", "r_hat"]]}, axis=1)
    vc.columns = [f"{a} {b}" for a, b in vc.columns]
    vc.index = [k if k == "sigma" else f"{k}({t}{',' + t2 if isinstance(t2, str) else ''})"
                for k, t, t2 in vc.index]
    lme4_sd = ref["random_effects"][0]["sd"] + [ref["random_effects"][0]["corr"][0][1],
                                                  ref["sigma"]]
    vc.insert(0, "lme4", lme4_sd)
    report.add("## Variance components", "", table(vc), "",
               "The posterior of the SDs is right-skewed (18 subjects inform the between-"
               "subject SDs): its mean sits above the REML mode, and the 94% HDI of the "
               "correlation is wide — the data say little about it, which the REML point "
               "estimate alone does not show.")

    re_l = laplace.ranef().set_index(["level", "term"])
    re_n = nuts.ranef().set_index(["level", "term"])
    diff = (re_n["estimate"] - re_l["estimate"]) / re_n["std_error"]
    report.add("## Random effects", "",
               f"Largest difference between the NUTS posterior means and lmer's conditional "
               f"modes of b, in posterior SDs: {np.abs(diff).max():.2f} (median "
               f"{np.abs(diff).median():.2f}). lmer's conditional SDs are smaller than the "
               f"posterior SDs by a median factor of "
               f"{np.median(re_l['std_error'] / re_n['std_error']):.2f}: they condition on θ̂.")

    timing = pd.DataFrame(
        {"seconds": [sum(f.info.timings.values()) for f in (laplace, map_fit, nuts)]},
        index=pd.Index(["laplace", "map", "nuts"], name="backend"))
    report.add("## Time", "", table(timing, 3), "",
               f"nuts: {nuts.info.timings.get('compile', float('nan')):.1f} s of that is "
               "compilation, paid once per model.")
    report.write()


if __name__ == "__main__":
    main()
