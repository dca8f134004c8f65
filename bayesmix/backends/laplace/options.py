"""Options of the Laplace backend (validated; ``bayesmix.fit(..., backend="laplace", **options)``)."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import OptionsError
from ...linalg import METHODS

__all__ = ["LaplaceOptions", "OPTIMIZERS"]

OPTIMIZERS = ("cobyqa", "lbfgsb", "powell")


@dataclass(frozen=True)
class LaplaceOptions:
    """Options of the Laplace backend.

    Attributes
    ----------
    reml : bool or None
        Gaussian family: maximise the REML criterion (True, lmer's default) or the likelihood
        (False). None means True for the Gaussian family; setting True for another family is an
        error (REML is defined for linear mixed models only).
    nagq : {1, 0}
        Non-Gaussian families: 1 = Laplace approximation with θ and β optimized together
        outside PIRLS (glmer's default nAGQ = 1); 0 = β estimated inside PIRLS and only θ
        optimized (glmer's nAGQ = 0: faster, slightly different estimates). Adaptive
        Gauss-Hermite quadrature (nAGQ > 1) is not implemented.
    optimizer : {"cobyqa", "lbfgsb", "powell"}
        Derivative-free bounded optimizer, used when ``gradient`` is False or no analytic
        gradient exists (probit / cloglog links, nagq = 0): scipy's COBYQA (the successor of
        Powell's BOBYQA, lme4's default), L-BFGS-B with finite-difference gradients, or
        Powell's conjugate directions.
    ftol : float
        Absolute tolerance on the objective (−2 log-likelihood) at convergence.
    xtol : float
        Tolerance on the parameters at convergence (final trust-region radius of COBYQA).
    max_evals : int
        Maximum evaluations of the objective per optimization stage.
    pirls_tol : float
        PIRLS stops when the Newton decrement falls below ``pirls_tol`` × (1 + penalized
        deviance) (or stalls at the rounding floor). Tight by default: the Laplace deviance's
        log-determinant is first-order sensitive to an unconverged u.
    pirls_max_iter : int
        Maximum PIRLS iterations (each with up to 10 step halvings).
    gradient : bool
        Optimize with L-BFGS-B on analytic gradients (True): over θ for the Gaussian family
        (gradient of the profiled deviance / REML criterion), over (θ, β) for nagq = 1 with a
        canonical link (logit, Poisson log). False, and the other GLMM cases, use
        ``optimizer`` derivative-free (for GLMMs in glmer's two stages).
    gtol : float
        Gradient tolerance of that optimization (deviance units per standard error of β).
    hessian : bool
        GLMMs with nagq = 1: standard errors of β̂ from the finite-difference Hessian of the
        Laplace deviance over (θ, β), as lme4's ``vcov`` (True), or from the PIRLS system at
        θ̂, ignoring the uncertainty of θ̂ (False, cheaper).
    factorization : {"auto", "blocked", "cholmod"}
        Sparse Cholesky method (see :func:`bayesmix.linalg.analyze`).
    draws : int
        Number of draws from the Gaussian approximation at the mode stored in ``idata``
        (0 stores the mode only, as a single draw).
    seed : int or None
        Seed of those draws.
    """

    reml: bool | None = None
    nagq: int = 1
    optimizer: str = "cobyqa"
    ftol: float = 1e-9
    xtol: float = 1e-7
    max_evals: int = 10_000
    pirls_tol: float = 1e-20
    pirls_max_iter: int = 30
    gradient: bool = True
    gtol: float = 1e-5
    hessian: bool = True
    factorization: str = "auto"
    draws: int = 1000
    seed: int | None = 0

    def __post_init__(self):
        if self.reml not in (None, True, False):
            raise OptionsError(f"reml must be True, False or None, not {self.reml!r}")
        if isinstance(self.nagq, bool) or not isinstance(self.nagq, int) or self.nagq < 0:
            raise OptionsError(f"nagq must be 0 or 1, not {self.nagq!r}")
        if self.nagq > 1:
            raise OptionsError(
                f"nagq={self.nagq}: adaptive Gauss-Hermite quadrature is not implemented; "
                "use nagq=1 (Laplace, glmer's default) or nagq=0 (β inside PIRLS)"
            )
        if self.optimizer not in OPTIMIZERS:
            raise OptionsError(
                f"unknown optimizer {self.optimizer!r}; valid values: {', '.join(OPTIMIZERS)}"
            )
        if self.factorization not in METHODS:
            raise OptionsError(
                f"unknown factorization {self.factorization!r}; valid values: "
                f"{', '.join(METHODS)}"
            )
        for name in ("ftol", "xtol", "pirls_tol", "gtol"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise OptionsError(f"{name} must be a positive number, not {value!r}")
        for name, least in (("max_evals", 1), ("pirls_max_iter", 1), ("draws", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise OptionsError(f"{name} must be an integer ≥ {least}, not {value!r}")
        for name in ("hessian", "gradient"):
            if not isinstance(getattr(self, name), bool):
                raise OptionsError(f"{name} must be True or False, not "
                                   f"{getattr(self, name)!r}")
        if self.seed is not None and (isinstance(self.seed, bool)
                                      or not isinstance(self.seed, int)):
            raise OptionsError(f"seed must be an integer or None, not {self.seed!r}")
