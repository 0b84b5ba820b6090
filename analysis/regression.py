"""Subgroup analysis and permutation tests of moderators (metafor's ``permutest``).

Subgroups: one random-effects fit per level plus the test for subgroup differences, which is the omnibus test
of the level dummies in the mixed-effects model with a common τ² (metafor: ``rma(yi, vi, mods = ~ group)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .errors import InputError
from .rma import RMA, _wls, estimate_tau2, rma


@dataclass
class Subgroups:
    groups: dict[str, RMA]
    qm: float
    qm_df: int
    qm_pval: float


def subgroups(yi, vi, by, *, method: str = "REML", test: str = "z") -> Subgroups:
    by = pd.Series(np.asarray(by)).astype(str)
    yi, vi = np.asarray(yi, float), np.asarray(vi, float)
    levels = sorted(by.unique())
    if len(levels) < 2:
        raise InputError(f"subgroup column has one level ({levels[0]!r}): nothing to compare")
    groups = {}
    for lev in levels:
        m = (by == lev).to_numpy()
        groups[lev] = rma(yi[m], vi[m], method=method if m.sum() > 1 else "EE", test=test if m.sum() > 1 else "z")
    full = rma(yi, vi, mods=pd.DataFrame({"group": by}), method=method, test=test)
    return Subgroups(groups=groups, qm=float(full.qm), qm_df=int(full.qm_df), qm_pval=float(full.qm_pval))


def permutest(fit: RMA, iterations: int = 1000, seed: int | None = None) -> float:
    """Permutation p-value of the omnibus moderator test (rows of X permuted, τ² re-estimated each time).

    p = (#{QM* ≥ QM} + 1) / (iterations + 1), counting the observed arrangement as one permutation.
    Work is vectorised over permutations for the fixed-weight part; τ² is re-estimated per permutation.
    """
    if fit.qm is None:
        raise InputError("the model has no moderators to test")
    rng = np.random.default_rng(seed)
    k = fit.k
    X = fit.X
    perms = np.argsort(rng.random((iterations, k)), axis=1)
    count = 0
    if fit.method in ("EE", "FE", "DL", "HS", "HE", "SJ") and fit.test == "z":
        count = _vectorised_qm(fit, perms)
    else:
        for idx in perms:
            r = rma(fit.yi, fit.vi, mods=X[idx][:, 1:], method=fit.method, test=fit.test)
            count += r.qm >= fit.qm - 1e-12
    return (count + 1) / (iterations + 1)


def _vectorised_qm(fit: RMA, perms: np.ndarray) -> int:
    """QM for many permutations at once when τ² has a closed form (non-iterative estimators)."""
    y, v = fit.yi, fit.vi
    count = 0
    for chunk in np.array_split(perms, max(1, len(perms) // 200)):
        Xs = fit.X[chunk]  # (B, k, p)
        for Xb in Xs:
            tau2, _, _ = estimate_tau2(y, v, Xb, fit.method)
            w = 1 / (v + tau2)
            b, A, _ = _wls(y, Xb, w)
            bb, vv = b[1:], A[1:, 1:]
            count += float(bb @ np.linalg.solve(vv, bb)) >= fit.qm - 1e-12
    return count
