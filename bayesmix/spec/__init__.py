"""Model specification: a Design plus declarative priors."""

from .blme import BlmeGamma, BlmeNormal, BlmePriors, BlmeT, BlmeWishart
from .defaults import default_priors, response_scale
from .modelspec import ROLES, ModelSpec, model_spec, parameter_names
from .notation import model_code
from .priors import (
    LKJ,
    Constant,
    Exponential,
    Flat,
    Gamma,
    HalfNormal,
    HalfStudentT,
    LogNormal,
    Normal,
    Prior,
    StudentT,
)

__all__ = [
    "ModelSpec",
    "model_spec",
    "parameter_names",
    "model_code",
    "default_priors",
    "response_scale",
    "ROLES",
    "Prior",
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
]
