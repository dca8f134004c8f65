"""The Laplace backend: random effects integrated out on a sparse Cholesky factor (lme4's method).

Part 1 fits at the mode with flat priors, reproducing lmer (ML / REML) and glmer (Laplace,
nAGQ = 1, and nAGQ = 0). The pieces follow the maths: :mod:`.pls` (Gaussian profiled deviance
and REML criterion), :mod:`.pirls` (PIRLS and the Laplace deviance), :mod:`.gradient` (their
analytic gradients), :mod:`.information` (average-information Hessians), :mod:`.start`
(moment starting values), :mod:`.optimize` (Newton and derivative-free optimizers),
:mod:`.results` (estimates and the Gaussian approximation as InferenceData), :mod:`.backend`
(the fit). The objectives :class:`~.pls.LmmObjective` and
:class:`~.pirls.GlmmObjective` give the Laplace marginal log-likelihood as a function of the
covariance parameters for reuse.
"""

from ..registry import Backend
from .backend import fit
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
        "factor; estimates at the mode as lme4 (lmer ML/REML, glmer nAGQ=1 and 0)"
    ),
)
