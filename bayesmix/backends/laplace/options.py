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
    gradient : {"auto", True, False}
        Optimize by Newton steps on the analytic gradient and the average-information
        Hessian (:func:`~bayesmix.backends.laplace.optimize.minimize_newton`, from moment
        starting values): over θ for the Gaussian family, over (θ, β) for nagq = 1 with a
        canonical link (logit, Poisson log). ``"auto"`` does so where it is the cheaper path:
        always for those GLMMs (the derivative-free stages need 10-50× more PIRLS solves), and
        for LMMs on the blocked factorization, where a gradient costs about two
        factorizations (InstEval ML: 5 evaluations, 0.45 s, against 40-100 derivative-free
        ones); on a CHOLMOD factorization the selected inverse behind the gradient cost 20× a
        factorization (20k rows, 2,000 × 6,000 crossed levels: 1.9 s against 39 s), so LMMs
        there use ``optimizer``. True forces the Newton path wherever a gradient exists; False,
        and the other GLMM cases, use ``optimizer`` derivative-free (GLMMs in glmer's two
        stages).
    gtol : float
        Convergence tolerance of the Newton path: it stops when the Newton decrement gᵀB⁻¹g
        falls below gtol², i.e. when the gradient is below gtol in standard-error units (the
        distance to the optimum in standard errors of the estimates).
    hessian : bool
        GLMMs with nagq = 1: standard errors of β̂ from the finite-difference Hessian of the
        Laplace deviance over (θ, β), as lme4's ``vcov`` (True), or from the PIRLS system at
        θ̂, ignoring the uncertainty of θ̂ (False, cheaper).
    factorization : {"auto", "blocked", "cholmod"}
        Sparse Cholesky method (see :func:`bayesmix.linalg.analyze`).
    draws : int
        Number of draws from the Gaussian approximation at the mode stored in ``idata``
        (0 stores the mode only, as a single draw), at most ``max_stored`` / (rows + random
        effects + fixed effects) (a message says when the cap applies).
    max_stored : int
        Cap on draws × (rows + random effects + fixed effects), the numbers the draws and
        their pointwise log-likelihood put in ``idata``. The default, 5 million (40 MB),
        keeps 1,000 draws up to about 5,000 rows; InstEval (73k rows) gets 64 draws, a
        million rows 4. Writing that memory is most of the cost of the draws (measured on
        InstEval: 257 draws, 160 MB, took 0.3-0.6 s, as long as the fit; 64 draws 0.1 s).
        Raise it for more draws on large data.
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
    gradient: bool | str = "auto"
    gtol: float = 1e-5
    hessian: bool = True
    factorization: str = "auto"
    draws: int = 1000
    max_stored: int = 5_000_000
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
        for name, least in (("max_evals", 1), ("pirls_max_iter", 1), ("draws", 0),
                            ("max_stored", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise OptionsError(f"{name} must be an integer ≥ {least}, not {value!r}")
        if not isinstance(self.hessian, bool):
            raise OptionsError(f"hessian must be True or False, not {self.hessian!r}")
        if self.gradient not in ("auto", True, False) or not isinstance(self.gradient,
                                                                         (bool, str)):
            raise OptionsError(f"gradient must be 'auto', True or False, not "
                               f"{self.gradient!r}")
        if self.seed is not None and (isinstance(self.seed, bool)
                                      or not isinstance(self.seed, int)):
            raise OptionsError(f"seed must be an integer or None, not {self.seed!r}")
