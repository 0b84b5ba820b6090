"""Sensitivity analyses: leave-one-out, cumulative meta-analysis and influence diagnostics
(metafor's leave1out, cumul and influence: rstudent, Cook's distance, DFFITS, hat values)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .rma import RMA, rma


def _refit(fit: RMA, keep: np.ndarray) -> RMA:
    return rma(fit.yi[keep], fit.vi[keep], method=fit.method, test=fit.test, level=fit.level)


def leave1out(fit: RMA) -> pd.DataFrame:
    """One row per omitted study: estimate, se, ci, tau2, i2, q of the model fitted without it."""
    rows = []
    for i in range(fit.k):
        keep = np.arange(fit.k) != i
        r = _refit(fit, keep)
        rows.append({"omitted": fit.labels[i], "estimate": r.estimate, "se": float(r.se[0]),
                     "ci_low": float(r.ci_low[0]), "ci_high": float(r.ci_high[0]), "tau2": r.tau2, "i2": r.i2,
                     "q": r.q})
    return pd.DataFrame(rows)


def cumul(fit: RMA, order=None) -> pd.DataFrame:
    """Cumulative meta-analysis adding studies in the given order (default: as given)."""
    idx = np.arange(fit.k) if order is None else np.asarray(order)
    rows = []
    for j in range(1, fit.k + 1):
        sel = idx[:j]
        if j == 1:
            rows.append({"added": fit.labels[sel[-1]], "k": 1, "estimate": float(fit.yi[sel[0]]),
                         "se": float(np.sqrt(fit.vi[sel[0]])), "tau2": 0.0, "i2": 0.0})
            continue
        r = rma(fit.yi[sel], fit.vi[sel], method=fit.method, test=fit.test, level=fit.level)
        rows.append({"added": fit.labels[sel[-1]], "k": j, "estimate": r.estimate, "se": float(r.se[0]),
                     "tau2": r.tau2, "i2": r.i2})
    return pd.DataFrame(rows)


def influence(fit: RMA) -> pd.DataFrame:
    """Case diagnostics as metafor's influence(): rstudent, dffits, cook.d, hat, weight (%)."""
    k = fit.k
    A = np.linalg.inv((fit.X.T * fit.weights) @ fit.X)
    hat = fit.weights * np.einsum("ij,jk,ik->i", fit.X, A, fit.X)
    rstudent, dffits, cook = np.empty(k), np.empty(k), np.empty(k)
    vb_inv = np.linalg.inv(fit.vb)
    for i in range(k):
        keep = np.arange(k) != i
        r = rma(fit.yi[keep], fit.vi[keep], mods=None if fit.p == 1 else fit.X[keep][:, 1:],
                method=fit.method, test=fit.test)
        xi = fit.X[i]
        pred = float(xi @ r.beta)
        se_pred2 = float(xi @ r.vb @ xi)
        rstudent[i] = (fit.yi[i] - pred) / np.sqrt(fit.vi[i] + r.tau2 + se_pred2)
        d = fit.beta - r.beta
        cook[i] = float(d @ vb_inv @ d)
        dffits[i] = (float(xi @ fit.beta) - pred) / np.sqrt(hat[i] * (r.tau2 + fit.vi[i]))
    return pd.DataFrame({"study": fit.labels, "rstudent": rstudent, "dffits": dffits, "cook_d": cook, "hat": hat,
                         "weight": fit.weights_percent()})
