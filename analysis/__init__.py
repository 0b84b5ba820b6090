"""fmreview.analysis: numbers in, numbers out. Effect sizes, meta-analysis, bias, sensitivity, trends.

Works on arrays and DataFrames only (never on the catalog), so it can be used on anyone's numbers.
"""

from .bias import ranktest, regtest, trimfill
from .effects import escalc
from .errors import AnalysisError, ConvergenceError, InputError
from .regression import permutest, subgroups
from .rma import RMA, rma
from .sensitivity import cumul, influence, leave1out

__all__ = ["AnalysisError", "ConvergenceError", "InputError", "RMA", "cumul", "escalc", "influence", "leave1out",
           "permutest", "ranktest", "regtest", "rma", "subgroups", "trimfill"]
