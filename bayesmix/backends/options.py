"""What every backend's options share: how many draws, in how many chains, from which seed,
and whether the pointwise log-likelihood is stored. The same words mean the same thing in
every backend (see :class:`DrawOptions`); each backend's options class extends it."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import OptionsError

__all__ = ["DrawOptions", "integer_option"]


def integer_option(name: str, value, minimum: int) -> None:
    """Raise OptionsError unless ``value`` is an integer ≥ ``minimum`` (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise OptionsError(f"{name} must be an integer ≥ {minimum}, not {value!r}")


@dataclass(frozen=True)
class DrawOptions:
    """Options about the draws in ``fit.idata.posterior``, common to every backend.

    Parameters
    ----------
    draws : int or None
        Draws per chain. For ``nuts`` the MCMC draws kept after tuning (default 1000); for
        the mode-based backends the draws from their approximation of the posterior. None
        lets the backend choose (:func:`bayesmix.results.storage.default_draws`: up to 1000,
        fewer when the random effects are so many that the draws would exceed the storage
        budget); 0 (mode-based backends only) stores no draws: the fit then has its
        estimates only.
    chains : int or None
        Independent chains (MCMC chains, or independent streams of draws); None: the
        backend's default (4 for nuts, 1 otherwise).
    seed : int or None
        Seed of every random number the fit uses; the same seed gives the same result. None
        draws fresh entropy, in every backend.
    log_likelihood : {"auto", True, False}
        Store the pointwise log-likelihood (``idata.log_likelihood``, needed by LOO /
        ``az.compare``). "auto" stores it when chains × draws × rows stays within
        :data:`bayesmix.results.storage.LOG_LIKELIHOOD_VALUES` and otherwise says in the
        fit's messages how to get it.
    """

    draws: int | None = None
    chains: int | None = None
    seed: int | None = None
    log_likelihood: bool | str = "auto"

    def __post_init__(self):
        self._check_draw_options(min_draws=0)

    def _check_draw_options(self, min_draws: int) -> None:
        if self.draws is not None:
            integer_option("draws", self.draws, min_draws)
        if self.chains is not None:
            integer_option("chains", self.chains, 1)
        if self.seed is not None:
            integer_option("seed", self.seed, 0)
        ll = self.log_likelihood
        if not (ll is True or ll is False or (isinstance(ll, str) and ll == "auto")):
            raise OptionsError(f"log_likelihood must be 'auto', True or False, not "
                               f"{self.log_likelihood!r}")
