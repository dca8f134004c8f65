"""ModelSpec = Design + one prior per parameter (declarative; imports no PyMC).

Parameters are named as users read them:

- fixed effects by their column names (``"(Intercept)"``, ``"Days"``);
- ``"sd(<column>|<term>)"`` for the SD of a random column, with ``"sd(<term>)"`` short for
  the term's intercept (or its only column);
- ``"cor(<term>)"`` for the correlations of a correlated term (an LKJ prior);
- ``"sigma"`` (residual SD of the gaussian and lognormal families, scale of Student-t),
  ``"phi"`` (dispersion, shape or precision of negbinomial, negbinomial1, gamma, beta),
  ``"nu"`` (Student-t's degrees of freedom) and ``"cutpoints"`` (ordinal thresholds);
- ``"zi_<column>"`` for a zero-inflation coefficient (``"zi_(Intercept)"``, ``"zi_minedno"``;
  logit scale).

A family's parameter (φ, ν, Student-t's σ) can be held at a value with ``Constant(value)``
instead of a prior.

Priors can also be set by role: ``"fixed"`` (all fixed effects but the intercept),
``"intercept"``, ``"sd"``, ``"cor"``, ``"zi"`` (every zero-inflation coefficient). A name beats a role; anything unset keeps its default.

``priors="blme"`` (blme's default priors) or a :class:`~bayesmix.spec.blme.BlmePriors` asks
for blme's posterior mode instead: every parameter's prior is then flat and the blme priors
act as penalties (:mod:`bayesmix.spec.blme`; the laplace backend honours them).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

import numpy as np

from ..design import Design
from ..errors import PriorError
from .blme import BlmePriors
from .defaults import ZI_PREFIX, default_priors
from .priors import CORRELATION, POSITIVE, REAL, Constant, Flat, Prior

__all__ = ["ModelSpec", "model_spec", "parameter_names", "ROLES"]

ROLES = ("fixed", "intercept", "sd", "cor", "sigma", "phi", "nu", "cutpoints", "zi")


def _kind(name: str) -> str:
    if name.startswith(ZI_PREFIX):
        return "zi"
    if name.startswith("sd("):
        return "sd"
    if name.startswith("cor("):
        return "cor"
    if name in ("sigma", "phi", "nu", "cutpoints"):
        return name
    return "intercept" if name == "(Intercept)" else "fixed"


_SUPPORT = {
    "fixed": REAL,
    "intercept": REAL,
    "cutpoints": REAL,
    "zi": REAL,
    "sd": POSITIVE,
    "sigma": POSITIVE,
    "phi": POSITIVE,
    "nu": POSITIVE,
    "cor": CORRELATION,
}


def parameter_names(design: Design) -> list[str]:
    """Every parameter that takes a prior, in a fixed order."""
    return list(default_priors(design))


def _aliases(design: Design) -> dict[str, str]:
    out = {"Intercept": "(Intercept)"} if "(Intercept)" in design.x_names else {}
    if "(Intercept)" in design.zi_names:
        out[ZI_PREFIX + "Intercept"] = ZI_PREFIX + "(Intercept)"
    labels = {t.label for t in design.terms}
    for t in design.terms:
        if "(Intercept)" in t.columns:
            out[f"sd({t.label})"] = f"sd((Intercept)|{t.label})"
            out[f"sd(Intercept|{t.label})"] = f"sd((Intercept)|{t.label})"
        elif t.r == 1:
            out[f"sd({t.label})"] = f"sd({t.columns[0]}|{t.label})"
        if t.group != t.label and t.group not in labels:
            for col in t.columns:
                out.setdefault(f"sd({col}|{t.group})", f"sd({col}|{t.label})")
    return out


@dataclass(frozen=True, eq=False)
class ModelSpec:
    """A design with a prior for every parameter.

    Attributes
    ----------
    design : Design
    priors : mapping name → Prior
        Every parameter of :func:`parameter_names`, in that order.
    sources : mapping name → str
        ``"default"``, ``"flat"``, ``"user"`` or ``"blme"``: where each prior came from.
    blme : BlmePriors or None
        blme's priors, when the spec asks for blme's posterior mode.
    """

    design: Design
    priors: Mapping[str, Prior]
    sources: Mapping[str, str]
    blme: BlmePriors | None = None

    @property
    def family(self):
        return self.design.family

    # The read-only mappings pickle (and deep-copy) as plain dicts.
    def __getstate__(self):
        return {"design": self.design, "priors": dict(self.priors),
                "sources": dict(self.sources), "blme": self.blme}

    def __setstate__(self, state):
        object.__setattr__(self, "design", state["design"])
        object.__setattr__(self, "priors", MappingProxyType(dict(state["priors"])))
        object.__setattr__(self, "sources", MappingProxyType(dict(state["sources"])))
        object.__setattr__(self, "blme", state["blme"])

    @property
    def all_flat(self) -> bool:
        """Whether every prior is flat (the frequentist, lme4 setting), parameters held
        constant aside."""
        return all(p.is_flat or isinstance(p, Constant) for p in self.priors.values())

    def constants(self) -> dict[str, float]:
        """The family's parameters held at a value (a :class:`Constant` prior), by name."""
        return {k: float(p.value) for k, p in self.priors.items() if isinstance(p, Constant)}

    def free_family_parameters(self) -> tuple[str, ...]:
        """The row kernel's parameters that are estimated (not held constant), in
        :attr:`Family.kernel_parameters` order."""
        fixed = self.constants()
        return tuple(k for k in self.design.family.kernel_parameters if k not in fixed)

    def family_vector(self, free: np.ndarray) -> np.ndarray:
        """The kernel's parameter vector from the free parameters' values (constants
        inserted in their places)."""
        fixed = self.constants()
        values = iter(np.asarray(free, dtype=float))
        return np.array([fixed[k] if k in fixed else next(values)
                         for k in self.design.family.kernel_parameters], dtype=float)

    def beta_priors(self) -> list[Prior]:
        """Priors of the fixed effects, in X's column order."""
        return [self.priors[name] for name in self.design.x_names]

    def sd_priors(self, label: str) -> list[Prior]:
        """Priors of the SDs of a term's columns, in column order."""
        term = self.design.term(label)
        return [self.priors[f"sd({col}|{label})"] for col in term.columns]

    def zi_priors(self) -> list[Prior]:
        """Priors of the zero-inflation coefficients, in X_zi's column order."""
        return [self.priors[ZI_PREFIX + name] for name in self.design.zi_names]

    def cor_prior(self, label: str) -> Prior | None:
        """The LKJ (or flat) prior of a correlated term, None for uncorrelated terms."""
        return self.priors.get(f"cor({label})")

    @property
    def sigma_prior(self) -> Prior | None:
        return self.priors.get("sigma")

    def family_prior(self, name: str) -> Prior | None:
        """The prior of one of the family's parameters (``"sigma"``, ``"phi"``, ``"nu"``)."""
        return self.priors.get(name)

    @property
    def cutpoints_prior(self) -> Prior | None:
        return self.priors.get("cutpoints")

    def describe(self) -> dict[str, str]:
        """``{name: "Normal(0, 10) [user]"}`` for every parameter, for result attrs (and
        the blme priors under ``"blme"``)."""
        out = {k: f"{p} [{self.sources[k]}]" for k, p in self.priors.items()}
        if self.blme is not None:
            out["blme"] = self.blme.describe()
        return out

    def unsupported(self, allowed) -> list[str]:
        """Names of parameters whose prior fails ``allowed(kind, prior)``."""
        return [k for k, p in self.priors.items() if not allowed(_kind(k), p)]


def model_spec(
    design: Design,
    priors: str | Mapping[str, Prior | str] | None = None,
    *,
    base: str = "default",
) -> ModelSpec:
    """Attach priors to a design.

    Parameters
    ----------
    design : Design
    priors : None, "default", "flat", "blme", BlmePriors or dict
        None uses ``base``; a dict sets priors by parameter name or role on top of the
        defaults; "blme" / BlmePriors ask for blme's posterior mode. See the module
        docstring for the names.
    base : {"default", "flat"}
        What ``priors=None`` means (backends pass their own default).

    Raises
    ------
    PriorError
        Unknown name (the message lists the valid ones), a value that is not a Prior, or a
        prior whose support does not fit the parameter.
    """
    if isinstance(priors, str) and priors == "blme":
        priors = BlmePriors()
    if isinstance(priors, BlmePriors):
        flat = {k: Flat() for k in default_priors(design)}
        return ModelSpec(design, MappingProxyType(flat),
                         MappingProxyType({k: "blme" for k in flat}), blme=priors)
    if isinstance(priors, str):
        base, priors = priors, None
    if base not in ("default", "flat"):
        raise PriorError(f"priors must be 'default', 'flat', 'blme' or a dict, not {base!r}")
    defaults = default_priors(design)
    if base == "flat":
        chosen: dict[str, Prior] = {k: Flat() for k in defaults}
        sources = {k: "flat" for k in defaults}
    else:
        chosen, sources = dict(defaults), {k: "default" for k in defaults}
    if priors is None:
        return ModelSpec(design, MappingProxyType(chosen), MappingProxyType(sources))
    if not isinstance(priors, Mapping):
        raise PriorError(
            f"priors must be 'default', 'flat' or a dict of name → Prior, not "
            f"{type(priors).__name__}"
        )

    aliases = _aliases(design)
    by_role, by_name = {}, {}
    for key, value in priors.items():
        prior = _as_prior(key, value)
        if key in ROLES:
            by_role[key] = prior
        elif key in defaults or key in aliases:
            by_name[aliases.get(key, key)] = prior
        else:
            raise PriorError(_unknown(key, defaults, aliases))
    for name in defaults:
        kind = _kind(name)
        if name in by_name:
            chosen[name], sources[name] = by_name[name], "user"
        elif kind in by_role:
            chosen[name], sources[name] = by_role[kind], "user"
    for name, prior in chosen.items():
        _check_support(name, prior, design)
    return ModelSpec(design, MappingProxyType(chosen), MappingProxyType(sources))


def _as_prior(key: str, value) -> Prior:
    if isinstance(value, Prior):
        return value
    if isinstance(value, str) and value.lower() == "flat":
        return Flat()
    raise PriorError(
        f"prior for {key!r} must be a bayesmix prior such as Normal(0, 10) or 'flat', "
        f"not {value!r}"
    )


def _unknown(key: str, defaults, aliases) -> str:
    names = list(defaults) + [a for a in aliases if a not in defaults]
    return (
        f"no parameter named {key!r}; priors can be set by role ({', '.join(ROLES)}) or by "
        f"name: {', '.join(names)}"
    )


def _check_support(name: str, prior: Prior, design: Design) -> None:
    if isinstance(prior, Constant):
        allowed = design.family.kernel_parameters
        if name not in allowed:
            raise PriorError(
                f"{prior} on {name!r}: a parameter can be held constant only among the "
                f"family's parameters ({', '.join(allowed) or 'none for ' + design.family.name})"
                "; give it a prior instead"
            )
        if not prior.value > 0:
            raise PriorError(f"{prior} on {name!r}: the value must be positive")
        return
    if prior.is_flat:
        return
    want = _SUPPORT[_kind(name)]
    if prior.support != want:
        hint = {
            REAL: "use Normal, StudentT or 'flat'",
            POSITIVE: "use HalfNormal, HalfStudentT, Exponential, Gamma or LogNormal",
            CORRELATION: "use LKJ(eta)",
        }[want]
        raise PriorError(
            f"prior {prior} on {name!r} has {prior.support} support but the parameter is "
            f"{want}; {hint}"
        )
