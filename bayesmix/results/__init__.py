"""Results: the Fit type, InferenceData layout, tables, predictions, comparisons."""

from . import naming
from .compare import compare
from .estimates import Estimates, TermEstimate
from .fit import Fit, FitInfo
from .idata import make_idata
from .predict import predict

__all__ = ["Fit", "FitInfo", "Estimates", "TermEstimate", "make_idata", "predict",
           "compare", "naming"]
