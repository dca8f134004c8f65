"""lme4 formula syntax: our parser for the bar terms, formulaic for everything else."""

from .matrices import ModelColumns, default_context, model_columns
from .parser import ParsedFormula, RandomTermSpec, parse_formula

__all__ = [
    "parse_formula",
    "ParsedFormula",
    "RandomTermSpec",
    "model_columns",
    "ModelColumns",
    "default_context",
]
