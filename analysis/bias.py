"""Small-study effects and publication bias: metafor's regtest, ranktest and trimfill.

- ``regtest`` (Egger): by default a meta-regression of yᵢ on √vᵢ with the model's own τ² estimator and test
  (metafor's ``model="rma", predictor="sei"``); ``model="lm"`` is the classic weighted regression
  (Egger et al. 1997): yᵢ on √vᵢ with weights 1/vᵢ and a t-test with k−2 df.
- ``ranktest`` (Begg & Mazumdar 1994): Kendall's τ between the standardised deviates
  (yᵢ − θ̂)/√(vᵢ − Var θ̂) of the equal-effects estimate θ̂ and the variances vᵢ.
- ``trimfill`` (Duval & Tweedie 2000): estimators L0 and R0; the side is chosen as metafor does (the sign of
  the slope of yᵢ on √vᵢ), mirrored studies are added and the model is refitted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from .errors import InputError
from .rma import RMA, rma


@dataclass
class RegTest:
    stat: float
    pval: float
    df: int | None
    limit_estimate: float
    model: str


def regtest(fit: RMA, model: str = "rma") -> RegTest:
    sei = np.sqrt(fit.vi)
    if np.ptp(sei) == 0:
        raise InputError("Egger's test needs studies with different standard errors (all are equal here)")
    if model == "rma":
        r = rma(fit.yi, fit.vi, mods=sei, method=fit.method, test=fit.test)
        df = r.df if fit.test == "knha" else None
    elif model == "lm":
        r = rma(fit.yi, fit.vi, mods=sei, method="EE", test="knha")
        df = r.df
    else:
        raise InputError(f"regtest model must be 'rma' or 'lm', got {model!r}")
    return RegTest(stat=float(r.stat[1]), pval=float(r.pval[1]), df=df, limit_estimate=float(r.beta[0]), model=model)


@dataclass
class RankTest:
    tau: float
    pval: float


def ranktest(fit: RMA) -> RankTest:
    if np.ptp(fit.vi) == 0:
        raise InputError("the rank correlation test needs studies with different variances (all are equal here)")
    ee = rma(fit.yi, fit.vi, method="EE")
    theta, vb = ee.estimate, float(ee.vb[0, 0])
    z = (fit.yi - theta) / np.sqrt(fit.vi - vb)
    ties = len(np.unique(z)) < len(z) or len(np.unique(fit.vi)) < len(fit.vi)
    # R's cor.test(method="kendall") is exact for n < 50 without ties, else the normal approximation
    method = "exact" if (len(z) < 50 and not ties) else "asymptotic"
    res = stats.kendalltau(z, fit.vi, method=method)
    return RankTest(tau=float(res.statistic), pval=float(res.pvalue))


@dataclass
class TrimFill:
    k0: int
    side: str
    estimator: str
    fit: RMA
    filled_yi: np.ndarray
    filled_vi: np.ndarray


def trimfill(fit: RMA, estimator: str = "L0", side: str | None = None, maxiter: int = 100) -> TrimFill:
    if not fit.intercept_only:
        raise InputError("trim-and-fill needs a model without moderators")
    estimator = estimator.upper()
    if estimator not in ("L0", "R0"):
        raise InputError(f"estimator must be L0 or R0, got {estimator!r}")
    yi, vi = fit.yi.copy(), fit.vi.copy()
    if side is None and np.ptp(vi) == 0:
        raise InputError("trim-and-fill cannot choose a side when all studies have the same variance")
    if side is None:
        slope = rma(yi, vi, mods=np.sqrt(vi), method=fit.method).beta[1]
        side = "right" if slope < 0 else "left"
    if side == "right":
        yi = -yi
    order = np.argsort(yi, kind="stable")
    yi, vi = yi[order], vi[order]
    k = len(yi)
    k0, k0_prev, it = 0, -1, 0
    beta = 0.0
    while k0 != k0_prev:
        k0_prev = k0
        it += 1
        if it > maxiter:
            raise InputError(f"trim-and-fill did not converge in {maxiter} iterations")
        beta = rma(yi[: k - k0], vi[: k - k0], method=fit.method).estimate
        c = yi - beta
        ranks = stats.rankdata(np.abs(c), method="ordinal")
        signed = np.sign(c) * ranks
        if estimator == "R0":
            neg = -signed[signed < 0]
            k0 = (k - (neg.max() if neg.size else 0)) - 1
        else:
            sr = signed[signed > 0].sum()
            k0 = (4 * sr - k * (k + 1)) / (2 * k - 1)
        k0 = int(max(0, round(k0)))
    if k0 > 0:
        mirrored = 2 * beta - yi[k - k0:]
        fill_y = -mirrored if side == "right" else mirrored
        fill_v = vi[k - k0:]
        new = rma(np.concatenate([fit.yi, fill_y]), np.concatenate([fit.vi, fill_v]), method=fit.method)
    else:
        fill_y, fill_v, new = np.array([]), np.array([]), fit
    return TrimFill(k0=k0, side=side, estimator=estimator, fit=new, filled_yi=fill_y, filled_vi=fill_v)
