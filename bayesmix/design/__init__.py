"""Designs: y, X, Z and the random-effects structure of a formula on a data set."""

from .build import build_design
from .design import Design
from .newdata import NewData, new_data
from .random_terms import lme4_term_order
from .reterm import DIAGONAL, UNSTRUCTURED, ReTerm

__all__ = [
    "build_design",
    "Design",
    "ReTerm",
    "NewData",
    "new_data",
    "lme4_term_order",
    "UNSTRUCTURED",
    "DIAGONAL",
]
