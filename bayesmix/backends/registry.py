"""One registry of backends, one protocol, one return type.

A backend is a :class:`Backend` value exported as ``BACKEND`` by its package. Packages are
imported on first use, so ``import bayesmix`` does not pay for PyMC or numba compilation.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import OptionsError, PriorError
from ..spec import ModelSpec, Prior

__all__ = ["Backend", "get_backend", "backend_names", "make_options", "check_priors"]

_MODULES = {
    "laplace": "bayesmix.backends.laplace",
    "nuts": "bayesmix.backends.nuts",
    "map": "bayesmix.backends.map",
}


@dataclass(frozen=True)
class Backend:
    """A fitting method.

    Attributes
    ----------
    name : str
    options : type
        Frozen dataclass of the backend's options with their defaults; its ``__post_init__``
        validates values.
    run : callable (ModelSpec, options) → Fit
        The backend's fitting function; call it through :meth:`fit`, which first checks
        the options type and the priors.
    honours : callable (kind, Prior) → bool
        Whether the backend can use this prior on a parameter of this kind ("fixed",
        "intercept", "sd", "cor", "sigma", "cutpoints").
    default_priors : {"default", "flat"} or callable Design → str
        What ``priors=None`` means for this backend (possibly depending on the design).
    description : str
    """

    name: str
    options: type
    run: Callable[..., Any]
    honours: Callable[[str, Prior], bool]
    default_priors: str | Callable[[Any], str] = "default"

    def default_priors_for(self, design) -> str:
        """What ``priors=None`` means for ``design``."""
        value = self.default_priors
        return value(design) if callable(value) else value
    description: str = ""

    def fit(self, spec: ModelSpec, options=None):
        """Fit ``spec`` with ``options`` (the backend's options object; None: defaults).

        Raises PriorError when the spec holds a prior this backend cannot honour (rather than
        silently fitting a different model) and OptionsError for another backend's options.
        """
        options = self.options() if options is None else options
        if not isinstance(options, self.options):
            raise OptionsError(
                f"the {self.name!r} backend takes {self.options.__name__}, not "
                f"{type(options).__name__}; build it with make_options(backend, **keywords)"
            )
        check_priors(spec, self)
        return dataclasses.replace(self.run(spec, options), options=options)


def backend_names() -> list[str]:
    return list(_MODULES)


def get_backend(name: str) -> Backend:
    """The backend registered under ``name``."""
    if name not in _MODULES:
        raise OptionsError(
            f"unknown backend {name!r}; available backends: {', '.join(_MODULES)}"
        )
    return importlib.import_module(_MODULES[name]).BACKEND


def make_options(backend: Backend, **kwargs):
    """The backend's options object from keywords; unknown keywords raise OptionsError."""
    valid = [f.name for f in dataclasses.fields(backend.options)]
    unknown = [k for k in kwargs if k not in valid]
    if unknown:
        raise OptionsError(
            f"unknown option{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
            f"for backend {backend.name!r}; valid options: {', '.join(valid)}"
        )
    return backend.options(**kwargs)


def check_priors(spec: ModelSpec, backend: Backend) -> None:
    """Raise PriorError if the backend cannot honour one of the spec's priors."""
    from ..spec.modelspec import _kind

    if spec.blme is not None and backend.name != "laplace":
        raise PriorError(
            f"blme's priors ({spec.blme.describe()}) define blme's posterior mode, which the "
            f"laplace backend computes; the {backend.name!r} backend cannot honour them. Use "
            "backend='laplace', or the catalogue's priors (HalfNormal, LKJ, Normal, ...)"
        )
    bad = spec.unsupported(backend.honours)
    if not bad:
        return
    lines = []
    for name in bad:
        prior = spec.priors[name]
        able = []
        for other in _MODULES:
            if other == backend.name:
                continue
            try:
                if get_backend(other).honours(_kind(name), prior):
                    able.append(other)
            except ImportError:
                continue
        where = f"backends that can: {', '.join(able)}" if able else "no backend can"
        lines.append(f"{name}: {prior} ({where})")
    raise PriorError(
        f"the {backend.name!r} backend cannot honour these priors:\n  "
        + "\n  ".join(lines)
    )
