"""Options of the nuts backend (``bayesmix.fit(..., backend="nuts", **options)``)."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import OptionsError
from ..options import DrawOptions

__all__ = ["NutsOptions"]

_CHOICES = {
    "sampler": ("nutpie", "pymc"),
    "nutpie_mode": ("auto", "cfunc", "pyfunc"),
    "mass_matrix": ("auto", "diag", "low_rank"),
    "parameterization": ("auto", "centred", "noncentred"),
}


def _integer(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise OptionsError(f"{name} must be an integer ≥ {minimum}, not {value!r}")


@dataclass(frozen=True)
class NutsOptions(DrawOptions):
    """How the nuts backend samples (``draws``, ``chains``, ``seed`` and ``log_likelihood``
    as every backend: :class:`~bayesmix.backends.options.DrawOptions`).

    Parameters
    ----------
    draws : int
        Draws kept per chain (after tuning), at least 1.
    tune : int
        Tuning (warm-up) iterations per chain, discarded.
    chains : int
    cores : int or None
        Chains run at the same time (threads for nutpie, processes for PyMC); None uses
        every CPU.
    seed : int or None
        Seed of the sampler (and of the jittered starting points).
    log_likelihood : {"auto", True, False}
        See :class:`~bayesmix.backends.options.DrawOptions`.
    sampler : {"nutpie", "pymc"}
        nutpie (Rust NUTS with its mass-matrix adaptation) or PyMC's ``pm.sample``.
    nutpie_mode : {"auto", "cfunc", "pyfunc"}
        How nutpie evaluates the model (see :mod:`bayesmix.backends.nuts.sample`): "pyfunc"
        calls a compiled function that comes from PyTensor's disk cache for later models of
        the same structure and shapes and runs the chains' gradients in parallel; "cfunc"
        saves the Python call per gradient at 10–15 s of compilation in every process;
        "auto" picks by the predicted total time.
    target_accept : float in (0, 1)
        Target acceptance rate of the step-size adaptation; raise it (0.95, 0.99) when there
        are divergences.
    max_treedepth : int
        Largest tree depth of NUTS (2^depth leapfrog steps at most).
    mass_matrix : {"auto", "diag", "low_rank"}
        Diagonal, or (nutpie only) diagonal plus a low-rank correction that follows strong
        posterior correlations, such as those between an SD and its centred random effects.
        "auto" takes "low_rank" with nutpie when a term is centred (there it gave 4–5× the
        effective samples per gradient on sleepstudy) or the model has at most 2000
        parameters, and "diag" otherwise (on a large non-centred model the low-rank update
        costs ~45% more per step and memory for its adaptation window, for no clear gain).
    parameterization : {"auto", "centred", "noncentred"}
        Form of the random effects (see :mod:`bayesmix.backends.nuts.model`); "auto" chooses
        per term from the data's signal-to-noise ratio.
    progressbar : bool
    prior_only : bool
        Sample from the prior (the likelihood is left out).
    """

    draws: int = 1000
    chains: int = 4
    tune: int = 1000
    cores: int | None = None
    sampler: str = "nutpie"
    nutpie_mode: str = "auto"
    target_accept: float = 0.8
    max_treedepth: int = 10
    mass_matrix: str = "auto"
    parameterization: str = "auto"
    progressbar: bool = True
    prior_only: bool = False

    def __post_init__(self):
        self._check_draw_options(min_draws=1)
        _integer("draws", self.draws, 1)
        _integer("chains", self.chains, 1)
        _integer("tune", self.tune, 0)
        _integer("max_treedepth", self.max_treedepth, 1)
        if self.cores is not None:
            _integer("cores", self.cores, 1)
        for name, valid in _CHOICES.items():
            value = getattr(self, name)
            if not any(value is v or (type(value) is type(v) and value == v) for v in valid):
                raise OptionsError(
                    f"{name}={value!r} is not valid; choose one of: "
                    + ", ".join(map(repr, valid))
                )
        if isinstance(self.target_accept, bool) or not isinstance(
            self.target_accept, (int, float)
        ) or not 0.0 < self.target_accept < 1.0:
            raise OptionsError(
                f"target_accept must lie strictly between 0 and 1, not {self.target_accept!r}"
            )
        for name in ("progressbar", "prior_only"):
            if not isinstance(getattr(self, name), bool):
                raise OptionsError(f"{name} must be True or False")
        if self.sampler == "pymc" and self.mass_matrix == "low_rank":
            raise OptionsError(
                "mass_matrix='low_rank' needs sampler='nutpie' (PyMC's NUTS adapts a diagonal "
                "mass matrix)"
            )
