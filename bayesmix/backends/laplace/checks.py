"""What the laplace backend refuses before fitting: a link it does not fit, options that do
not apply to the family, models without random terms, and maximum-likelihood problems
without a finite estimate (more rows needed than fixed effects; a covariance with more
columns than levels)."""

from __future__ import annotations

from ...errors import DataError, FamilyError, OptionsError
from ...spec import ModelSpec
from .options import LaplaceOptions

__all__ = ["check_model"]

_LINKS = {"gaussian": ("identity",), "bernoulli": ("logit", "probit", "cloglog"),
          "binomial": ("logit", "probit", "cloglog"), "poisson": ("log",),
          "ordinal": ("logit", "probit"), "negbinomial": ("log",), "negbinomial1": ("log",),
          "gamma": ("log", "inverse"), "beta": ("logit",), "student_t": ("identity",),
          "lognormal": ("identity",), "zero_inflated_poisson": ("log",),
          "zero_inflated_negbinomial": ("log",)}

def check_model(spec: ModelSpec, options: LaplaceOptions) -> None:
    design = spec.design
    fam = design.family
    if fam.link.name not in _LINKS.get(fam.name, ()):
        raise FamilyError(
            f"the laplace backend fits the {fam.name} family with the "
            f"{' / '.join(_LINKS[fam.name])} link, not {fam.link.name!r}"
        )
    if options.reml and not fam.has_sigma:
        raise OptionsError(
            f"reml=True applies to linear mixed models only (gaussian and lognormal "
            f"families), not {fam.name}; "
            "leave reml unset (the fit maximises the Laplace approximation of the likelihood)"
        )
    if options.nagq > 1 and (fam.has_sigma or len(design.terms) != 1
                             or design.terms[0].r != 1):
        raise OptionsError(
            f"nagq={options.nagq} (adaptive Gauss-Hermite quadrature) needs a non-Gaussian "
            "model with a single scalar random term such as (1 | g), as glmer; this model "
            f"has {len(design.terms)} random term(s) "
            f"({', '.join(f'{t.label}: {t.r} column(s)' for t in design.terms)})"
            f"{' and the ' + fam.name + ' family (exact without quadrature)' if fam.has_sigma else ''}"
            "; use nagq=1 (the Laplace approximation)"
        )
    if (fam.kernel_parameters or fam.zero_inflated) and options.nagq != 1:
        what = list(fam.kernel_parameters) + (["zero-inflation"] if fam.zero_inflated else [])
        raise OptionsError(
            f"nagq={options.nagq} is not available for the {fam.name} family (its "
            f"{', '.join(what)} and β are estimated with the Laplace approximation, as "
            "glmmTMB); use nagq=1"
        )
    if fam.name == "ordinal" and options.nagq == 0:
        raise OptionsError(
            "nagq=0 is not available for the ordinal family (the thresholds are estimated "
            "with the Laplace approximation, as clmm); use nagq=1"
        )
    if not design.terms:
        raise DataError(
            f"the formula {design.formula!r} has no random-effects term such as (1 | group); "
            "the laplace backend fits mixed models"
        )
    if spec.all_flat:
        for t in design.terms:
            if t.correlated and t.r > t.m:
                raise DataError(
                    f"term ({' + '.join(t.columns)} | {t.group}) has {t.r} columns but "
                    f"{t.group!r} has {t.m} levels: its {t.r}×{t.r} covariance "
                    f"({t.n_theta} parameters) cannot be estimated by maximum likelihood from "
                    f"{t.m} levels; use || for independent effects, fewer columns, or priors "
                    "(priors='default')")
    if fam.has_sigma and design.n <= design.p:
        raise DataError(
            f"{design.n} rows for {design.p} fixed-effect columns: a linear mixed model needs "
            "more rows than fixed effects (as lme4 requires); drop "
            "predictors, or use backend='nuts' with proper priors on them")
