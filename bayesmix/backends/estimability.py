"""Whether a maximum-likelihood (flat-prior) estimate can exist: lme4's checks and more.

A constant response (every Bernoulli outcome 0, every count 0, every Gaussian value equal)
and outcomes separated by a predictor have no finite maximum-likelihood estimate: the
optimum is at infinity, and an optimizer stops wherever the objective is flat enough
(an intercept of −31 with a standard error of 10⁶). With proper priors the posterior exists,
so these checks apply to flat priors; the messages say which prior makes the model
estimable.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError

__all__ = ["constant_response", "check_estimable", "separated", "SEPARATED_ETA",
           "separation_message"]

# |β_k| · max|x_k| beyond this on the logit or log scale: probabilities within e^-30 of 0 or
# 1, or means below e^-30: separation (an infinite estimate), not an estimate.
SEPARATED_ETA = 30.0
_BINARY = ("bernoulli", "binomial", "ordinal")
_COUNTS = ("poisson", "negbinomial", "negbinomial1", "zero_inflated_poisson",
           "zero_inflated_negbinomial")


def constant_response(design) -> str | None:
    """A description of a response with a single value (where that makes the estimate
    infinite or σ zero), or None."""
    y = np.asarray(design.y, dtype=float)
    if y.size == 0:
        return None
    fam = design.family.name
    name = design.response_name
    if fam in ("bernoulli", "binomial"):
        n = np.ones_like(y) if design.trials is None else np.asarray(design.trials, float)
        if np.all(y == 0):
            return f"the response {name!r} has no successes (every row is 0)"
        if np.all(y == n):
            return f"the response {name!r} has only successes"
    elif fam in _COUNTS and np.all(y == 0):
        return f"the response {name!r} is 0 in every row"
    elif fam in ("gaussian", "lognormal", "student_t") and np.ptp(y) == 0:
        return f"the response {name!r} is constant ({y[0]:g} in every row)"
    return None


def check_estimable(spec) -> None:
    """Refuse a flat-prior fit whose maximum-likelihood estimate cannot be finite."""
    message = constant_response(spec.design)
    if message is None:
        return
    if spec.design.family.name in ("gaussian", "lognormal", "student_t"):
        raise DataError(f"{message}: there is no variation to model (σ would be 0); check "
                        "the response column")
    flat = [k for k, p in zip(spec.design.x_names, spec.beta_priors()) if p.is_flat]
    if flat:
        raise DataError(
            f"{message}: the maximum-likelihood intercept is infinite (lme4: 'Response is "
            f"constant'). With flat priors on {', '.join(flat)} there is no finite estimate; "
            "give the fixed effects proper priors (priors='default' on the laplace or nuts "
            "backend), or check the response")


def separated(spec, beta) -> list[str]:
    """Flat-prior fixed effects whose estimate moves η by more than :data:`SEPARATED_ETA`
    across the column's range (binary, ordinal and count families)."""
    design = spec.design
    if design.family.name not in _BINARY + _COUNTS or design.p == 0:
        return []
    beta = np.asarray(beta, dtype=float)
    span = np.max(np.abs(design.X), axis=0)
    return [name for name, b, s, prior in zip(design.x_names, beta, span, spec.beta_priors())
            if prior.is_flat and not abs(b) * s <= SEPARATED_ETA]


def separation_message(names) -> str:
    where = ", ".join(names) if names else "the fixed effects"
    example = names[0] if names else "x"
    return (
        f"infinite estimates for {where} (more than {SEPARATED_ETA:g} on the link scale "
        "across the data): the outcome is (quasi-)separated by these columns, or some "
        "level has only zeros, so their maximum-likelihood estimate does not exist under "
        f"flat priors; give them a Normal prior, e.g. priors={{{example!r}: Normal(0, 2.5)}}"
        ", or use the default priors")
