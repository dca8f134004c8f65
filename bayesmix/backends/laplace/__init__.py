"""The Laplace backend: random effects integrated out on a sparse Cholesky factor (lme4's method).

With priors (the default) it is the Bayesian Laplace (:mod:`.bayes`): the posterior of the
covariance parameters from the Laplace marginal (:mod:`.hyper`, :mod:`.marginal`), integrated
(:mod:`.integrate`), with draws of every parameter. With flat priors it fits at the mode,
reproducing lmer (ML / REML), glmer (Laplace, nAGQ = 1, and nAGQ = 0) and clmm (ordinal,
Laplace). Both are optimizers / integrators over the covariance parameters around the
latent-Gaussian engine (:mod:`bayesmix.latent`): :mod:`.objective` (the profiled
deviance, REML criterion and Laplace deviance), :mod:`.gradient` (their analytic gradients),
:mod:`.information` (average-information Hessians), :mod:`.start` (moment starting values),
:mod:`.optimize` (Newton and derivative-free optimizers), :mod:`.packing` (estimates and the
Gaussian approximation), :mod:`.fit` (the fit).
"""

from ...spec import LKJ, Normal
from ..registry import Backend
from .fit import fit
from .options import LaplaceOptions

__all__ = ["BACKEND", "LaplaceOptions", "fit"]


def _honours(kind: str, prior) -> bool:
    """Flat priors anywhere; Normal on β (it stays in the Gaussian field); any prior on the
    SDs, σ, the family's φ and ν and the zero-inflation coefficients; LKJ on correlations.
    Thresholds of the ordinal family: flat only."""
    if prior.is_flat:
        return True
    if kind in ("fixed", "intercept"):
        return isinstance(prior, Normal)
    if kind == "cor":
        return isinstance(prior, LKJ)
    return kind in ("sd", "sigma", "phi", "nu", "zi")


def _default_priors(design) -> str:
    """The weakly informative defaults (the Bayesian Laplace, the same model as nuts), but
    flat for the ordinal family, whose thresholds the Bayesian Laplace does not integrate."""
    return "flat" if design.family.name == "ordinal" else "default"


BACKEND = Backend(
    name="laplace",
    options=LaplaceOptions,
    run=fit,
    honours=_honours,
    default_priors=_default_priors,
    description=(
        "random effects integrated out on a sparse Cholesky factor: with priors the "
        "Bayesian Laplace (posterior of every parameter); with flat priors lme4's estimates "
        "at the mode (lmer ML/REML, glmer nAGQ=1 and 0) and ordinal::clmm"
    ),
)
