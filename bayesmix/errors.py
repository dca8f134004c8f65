"""Exceptions and warnings raised by bayesmix.

Every error a user can trigger with bad input derives from :class:`BayesmixError`, so
``except bayesmix.BayesmixError`` catches them all, and each message names the problem and
the fix.
"""

from __future__ import annotations


class BayesmixError(Exception):
    """Base class of all bayesmix errors caused by the user's input."""


class FormulaError(BayesmixError, ValueError):
    """The formula does not parse or refers to something it cannot use."""

    def __init__(self, message: str, formula: str | None = None, position: int | None = None):
        if formula is not None and position is not None:
            message = f"{message}\n  {formula}\n  {' ' * position}^"
        super().__init__(message)
        self.formula = formula
        self.position = position


class DataError(BayesmixError, ValueError):
    """The data cannot be used with this model (missing column, bad values, too few levels)."""


class FamilyError(BayesmixError, ValueError):
    """Unknown family or link, or a response the family cannot take."""


class PriorError(BayesmixError, ValueError):
    """Unknown prior name, bad prior parameters, or a prior a backend cannot honour."""


class OptionsError(BayesmixError, TypeError):
    """Unknown or invalid backend option."""


class BayesmixWarning(UserWarning):
    """Base class of bayesmix warnings."""


class MissingValuesWarning(BayesmixWarning):
    """Rows with missing values were dropped."""


class RankDeficiencyWarning(BayesmixWarning):
    """Fixed-effect columns were dropped because X is rank deficient."""


class ConvergenceWarning(BayesmixWarning):
    """An optimizer or sampler did not converge, or its diagnostics are poor."""


class SingularFitWarning(BayesmixWarning):
    """The covariance estimate lies on the boundary (a variance is 0 or a correlation is ±1)."""


class ScaleWarning(BayesmixWarning):
    """Predictors or the response on extreme scales (numerical precision at risk)."""
