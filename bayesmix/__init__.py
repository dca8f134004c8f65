"""bayesmix: Bayesian multilevel models from lme4 formulas."""

from ._cache import configure_numba_cache

configure_numba_cache()

from . import datasets  # noqa: E402
from .api import fit
from .design import Design, build_design
from .errors import (
    BayesmixError,
    DataError,
    FamilyError,
    FormulaError,
    OptionsError,
    PriorError,
)
from .families import Family, get_family
from .results import Fit, compare
from .results.inference import anova
from .results.persist import load
from .results.plots import plot_compare
from .spec import (
    LKJ,
    BlmeGamma,
    BlmeNormal,
    BlmePriors,
    BlmeT,
    BlmeWishart,
    Constant,
    Exponential,
    Flat,
    Gamma,
    HalfNormal,
    HalfStudentT,
    LogNormal,
    ModelSpec,
    Normal,
    StudentT,
    model_code,
    model_spec,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "fit",
    "build_design",
    "model_spec",
    "model_code",
    "ModelSpec",
    "Fit",
    "compare",
    "anova",
    "load",
    "plot_compare",
    "Normal",
    "StudentT",
    "HalfNormal",
    "HalfStudentT",
    "Exponential",
    "Gamma",
    "LogNormal",
    "LKJ",
    "Flat",
    "Constant",
    "BlmePriors",
    "BlmeWishart",
    "BlmeGamma",
    "BlmeNormal",
    "BlmeT",
    "Design",
    "datasets",
    "Family",
    "get_family",
    "BayesmixError",
    "DataError",
    "FamilyError",
    "FormulaError",
    "OptionsError",
    "PriorError",
]
