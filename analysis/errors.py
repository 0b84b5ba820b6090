"""Errors of the statistics layer: values a user can act on (row, column, estimator)."""


class AnalysisError(ValueError):
    """Base class: bad input or a model that cannot be fitted."""


class InputError(AnalysisError):
    """Bad input data: names the row and column where possible."""


class ConvergenceError(AnalysisError):
    """An iterative estimator did not converge: names the estimator and the iterations used."""
