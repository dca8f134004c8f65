"""The Laplace backend: random effects integrated out on a sparse Cholesky factor (lme4's method).

With flat priors it fits at the mode, reproducing lmer (ML / REML), glmer (Laplace, nAGQ = 1,
and nAGQ = 0) and clmm (ordinal, Laplace). It is an optimizer over the covariance parameters
around the latent-Gaussian engine (:mod:`bayesmix.latent`): :mod:`.objective` (the profiled
deviance, REML criterion and Laplace deviance), :mod:`.gradient` (their analytic gradients),
:mod:`.information` (average-information Hessians), :mod:`.start` (moment starting values),
:mod:`.optimize` (Newton and derivative-free optimizers), :mod:`.packing` (estimates and the
Gaussian approximation), :mod:`.fit` (the fit).
"""

from ..registry import Backend
from .fit import fit
from .options import LaplaceOptions

__all__ = ["BACKEND", "LaplaceOptions", "fit"]


def _honours(kind: str, prior) -> bool:
    """Part 1 fits at the mode without priors: only flat priors are honoured."""
    return prior.is_flat


BACKEND = Backend(
    name="laplace",
    options=LaplaceOptions,
    run=fit,
    honours=_honours,
    default_priors="flat",
    description=(
        "random effects integrated out by the Laplace approximation on a sparse Cholesky "
        "factor; estimates at the mode as lme4 (lmer ML/REML, glmer nAGQ=1 and 0) and "
        "ordinal::clmm"
    ),
)
