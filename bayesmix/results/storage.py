"""How much a fit stores: one policy for every backend.

Draws of the posterior cost (chains × draws) × (fixed + random effects) numbers, the pointwise
log-likelihood (chains × draws) × rows. Mode-based backends choose how many draws to make,
so they default to as many as :data:`DRAW_VALUES` allows (at most 1000, at least 10); the
log-likelihood is stored when it fits :data:`LOG_LIKELIHOOD_VALUES` (``log_likelihood="auto"``)
or when asked for (True).
"""

from __future__ import annotations

__all__ = ["DRAW_VALUES", "LOG_LIKELIHOOD_VALUES", "default_draws", "store_log_likelihood"]

# 160 MB of float64 each.
DRAW_VALUES = 20_000_000
LOG_LIKELIHOOD_VALUES = 20_000_000
_MOST, _LEAST = 1000, 10


def default_draws(requested: int | None, chains: int, q: int, p: int) -> int:
    """Draws per chain: ``requested``, or the most that keep chains × draws × (q + p) within
    :data:`DRAW_VALUES` (between 10 and 1000)."""
    if requested is not None:
        return requested
    fit = DRAW_VALUES // max(1, chains * (q + p))
    return int(min(_MOST, max(_LEAST, fit)))


def store_log_likelihood(option, values: int) -> tuple[bool, str | None]:
    """Whether to store a log-likelihood of ``values`` numbers, and the message if not."""
    if option is False:
        return False, None
    if option is True or values <= LOG_LIKELIHOOD_VALUES:
        return True, None
    return False, (
        f"The pointwise log-likelihood ({values:,} values: chains × draws × rows) was not "
        "stored to save memory; pass log_likelihood=True to store it (needed for LOO / "
        "compare), or fewer draws."
    )
