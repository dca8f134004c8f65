"""Case study: cbpp, a binomial GLMM, `cbind(incidence, size - incidence) ~ period + (1 | herd)`.

Three answers to "what is the period effect?":
- laplace (flat priors): glmer's Laplace fit, β optimised on the marginal (Laplace) likelihood;
- map at laplace's herd SD: the joint mode of (β, b), which is glmer's nAGQ = 0 answer at
  that SD — and is *not* the Laplace β̂ in a non-Gaussian model;
- nuts with default priors: the full posterior.
"""

from __future__ import annotations

import pandas as pd

import bayesmix as bm

from ._report import Report, reference_fit, table

FORMULA = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


def main() -> None:
    data = bm.datasets.load("cbpp")
    report = Report("cbpp", "cbpp: Laplace, joint mode and NUTS for a binomial GLMM")
    report.add(f"Model: `{FORMULA}`, binomial (logit), lme4's cbpp (56 rows, 15 herds).")

    laplace = bm.fit(FORMULA, data, "binomial", backend="laplace", seed=1)
    joint = bm.fit(FORMULA, data, "binomial", backend="map", covariance=laplace, seed=1)
    nuts = bm.fit(FORMULA, data, "binomial", backend="nuts", draws=1000, tune=1000,
                  chains=4, seed=1, progressbar=False)
    ref = reference_fit("cbpp", "cbpp_glmer_Laplace")
    lme4 = pd.DataFrame({"estimate": ref["fixef"]["estimate"],
                         "std_error": ref["fixef"]["std_error"]},
                        index=pd.Index(ref["fixef"]["names"], name="coef"))
    fe = pd.concat({"glmer": lme4, "laplace": laplace.fixef()[["estimate", "std_error"]],
                    "map": joint.fixef()[["estimate", "std_error"]],
                    "nuts": nuts.fixef()[["estimate", "std_error"]]}, axis=1)
    fe.columns = [f"{a} {b}" for a, b in fe.columns]
    sd = {"glmer": ref["random_effects"][0]["sd"][0],
          "laplace": laplace.varcorr()["estimate"].iloc[0],
          "nuts (posterior mean)": nuts.varcorr()["estimate"].iloc[0]}
    report.add(
        "## Fixed effects", "", table(fe), "",
        f"laplace matches glmer (log-likelihood {laplace.loglik:.4f} vs glmer's "
        f"{ref['logLik']:.4f}; glmer evaluates log|L| one PIRLS step early, hence the last "
        "digits). The joint mode at the same herd SD shrinks the intercept towards 0 "
        "(it maximises over b instead of integrating b out), the attenuation Diamond-style "
        "fits accept for speed. NUTS's posterior means sit near the Laplace estimates; its "
        "posterior SDs are wider since they also integrate over the herd SD.",
    )
    report.add("## Herd SD", "", table(pd.DataFrame({"sd(herd)": sd}).rename_axis("fit")),
               "", "With 15 herds the posterior of the SD is skewed and its mean lies above "
               "the Laplace mode.")
    report.write()


if __name__ == "__main__":
    main()
