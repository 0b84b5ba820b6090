"""fmreview.analysis: numbers in, numbers out. Effect sizes, meta-analysis (univariate, multilevel, network),
cluster-robust inference, rank tests, bias, sensitivity, trends.

Works on arrays and DataFrames only (never on the catalog), so it can be used on anyone's numbers.
"""

from .bias import ranktest, regtest, trimfill
from .effects import escalc
from .errors import AnalysisError, ConvergenceError, InputError
from .multilevel import RMAMV, profile, rma_mv
from .nma import NMA, Network, nma
from .ranks import RankComparison, critical_difference, holm, nemenyi_q, rank_comparison
from .regression import permutest, subgroups
from .rma import RMA, rma
from .robust import Robust, rho_sensitivity, robust, vcalc
from .sensitivity import cumul, influence, leave1out

__all__ = ["AnalysisError", "ConvergenceError", "InputError", "NMA", "Network", "RMA", "RMAMV", "RankComparison",
           "Robust", "critical_difference", "cumul", "escalc", "holm", "influence", "leave1out", "nemenyi_q", "nma",
           "permutest", "profile", "rank_comparison", "ranktest", "regtest", "rho_sensitivity", "rma", "rma_mv",
           "robust", "subgroups", "trimfill", "vcalc"]
