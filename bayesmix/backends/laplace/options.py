"""Options of the Laplace backend (validated; ``bayesmix.fit(..., backend="laplace", **options)``)."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import OptionsError
from ...linalg import METHODS
from ..options import DrawOptions

__all__ = ["LaplaceOptions", "OPTIMIZERS", "INTEGRATE"]

OPTIMIZERS = ("cobyqa", "lbfgsb", "powell")
INTEGRATE = ("auto", "importance", "grid", "nuts")


@dataclass(frozen=True)
class LaplaceOptions(DrawOptions):
    """Options of the Laplace backend (``draws``, ``chains``, ``seed`` and
    ``log_likelihood`` as every backend: :class:`~bayesmix.backends.options.DrawOptions`;
    the draws come from the Gaussian approximation at the mode).

    Attributes
    ----------
    reml : bool or None
        Gaussian family: maximise the REML criterion (True, lmer's default) or the likelihood
        (False). None means True for the Gaussian family; setting True for another family is an
        error (REML is defined for linear mixed models only).
    nagq : int
        Non-Gaussian families: 1 = Laplace approximation with θ and β (and the ordinal
        thresholds) optimized together outside PIRLS (glmer's default nAGQ = 1, clmm's
        Laplace); 0 = β estimated inside PIRLS and only θ optimized (glmer's nAGQ = 0:
        faster, slightly different estimates; not for the ordinal family); k > 1 = adaptive
        Gauss-Hermite quadrature with k nodes per level (glmer's and clmm's nAGQ = k) for
        models with one scalar random term, with flat priors.
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
        PIRLS stops when the Newton decrement (the squared distance to the mode in
        standard-error units) falls below ``pirls_tol`` (1 + |F|), F the negative log density
        of the field at the mode, or stalls at the rounding floor of F. At the floor by
        default: the Laplace deviance's log-determinant is first-order sensitive to an
        unconverged u.
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
        GLMMs with nagq = 1: the covariance of β̂ (and of the ordinal thresholds) is twice
        the inverse of the Hessian of the Laplace deviance over (θ, β, α), by finite
        differences, as lme4's ``vcov`` and clmm (True); or the covariance of the joint
        Gaussian of (u, β) at θ̂, which ignores the uncertainty of θ̂ (False, cheaper). The
        draws of β in ``idata`` have the same covariance.
    factorization : {"auto", "blocked", "cholmod"}
        Sparse Cholesky method (see :func:`bayesmix.linalg.analyze`).
    integrate : {"auto", "importance", "grid", "nuts"}
        With priors other than flat (the Bayesian Laplace), how the posterior of the
        covariance parameters is integrated (:mod:`~bayesmix.backends.laplace.integrate`):
        importance sampling from Student-t proposals at the mode with Pareto smoothing and
        its k̂ diagnostic; R-INLA's grid in the Hessian's standardized coordinates (few
        parameters: the points grow as steps^d; the SDs' draws then take the grid's
        values); or NUTS over them, exact up to Monte Carlo error and costliest. "auto"
        is importance sampling, followed by NUTS over the covariance parameters when k̂
        rejects the weights and NUTS is predicted to take under two minutes (else the fit
        warns, naming the alternatives).
    psi_points : int or None
        Importance points, or the NUTS draws of the covariance parameters over all chains;
        None: for importance sampling as many as ~3 s of evaluations allow (64 to 1024, a
        power of 2), for NUTS 1000.
    psi_max_points : int
        The importance points grow, up to this many, while the Pareto k̂ exceeds 0.5 or
        the weights' effective sample size is below a quarter of the points; the grid may
        not have more points than this.
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
    integrate: str = "auto"
    psi_points: int | None = None
    psi_max_points: int = 4096

    def __post_init__(self):
        self._check_draw_options(min_draws=0)
        if self.reml not in (None, True, False):
            raise OptionsError(f"reml must be True, False or None, not {self.reml!r}")
        if (isinstance(self.nagq, bool) or not isinstance(self.nagq, int)
                or not 0 <= self.nagq <= 100):
            raise OptionsError(f"nagq must be an integer from 0 to 100 (0: β inside PIRLS, 1: "
                               f"Laplace, k > 1: adaptive quadrature), not {self.nagq!r}")
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
        for name, least in (("max_evals", 1), ("pirls_max_iter", 1), ("psi_max_points", 8)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise OptionsError(f"{name} must be an integer ≥ {least}, not {value!r}")
        if self.integrate not in INTEGRATE:
            raise OptionsError(f"unknown integrate {self.integrate!r}; valid values: "
                               f"{', '.join(INTEGRATE)}")
        if self.psi_points is not None and (
                isinstance(self.psi_points, bool) or not isinstance(self.psi_points, int)
                or self.psi_points < 8):
            raise OptionsError(f"psi_points must be an integer ≥ 8 or None, not "
                               f"{self.psi_points!r}")
        if not isinstance(self.hessian, bool):
            raise OptionsError(f"hessian must be True or False, not {self.hessian!r}")
        if self.gradient not in ("auto", True, False) or not isinstance(self.gradient,
                                                                         (bool, str)):
            raise OptionsError(f"gradient must be 'auto', True or False, not "
                               f"{self.gradient!r}")
