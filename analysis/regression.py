"""Subgroup analysis and permutation tests of moderators (metafor's ``permutest``).

Subgroups: one random-effects fit per level plus the test for subgroup differences, which is the omnibus test
of the level dummies in the mixed-effects model with a common τ² (metafor: ``rma(yi, vi, mods = ~ group)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

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
    if fit.method in ("ML", "REML"):
        count = int(np.sum(_batched_qm(fit, perms) >= fit.qm - 1e-12))
    elif fit.method in ("EE", "FE", "DL", "HS", "HE", "SJ") and fit.test == "z":
        count = _vectorised_qm(fit, perms)
    else:
        for idx in perms:
            r = rma(fit.yi, fit.vi, mods=X[idx][:, 1:], method=fit.method, test=fit.test)
            count += r.qm >= fit.qm - 1e-12
    return (count + 1) / (iterations + 1)


def _batched_qm(fit: RMA, perms: np.ndarray, tol: float = 1e-10, maxiter: int = 200) -> np.ndarray:
    """QM for every permutation at once: (RE)ML τ² by Fisher scoring batched over permutations, started at
    the fitted model's τ² (metafor's permutest refits each permutation the same way, one at a time)."""
    y, v = fit.yi, fit.vi
    Xs = fit.X[perms]  # (B, k, p)
    B = len(perms)
    tau2 = np.full(B, fit.tau2)
    ml = fit.method == "ML"

    def parts(t2, idx):
        X = Xs[idx]
        w = 1.0 / (v[None, :] + t2[:, None])
        XtW = np.transpose(X, (0, 2, 1)) * w[:, None, :]
        A = np.linalg.inv(XtW @ X)
        b = np.einsum("bpq,bq->bp", A, XtW @ y)
        e = y[None, :] - np.einsum("bkp,bp->bk", X, b)
        return w, XtW, A, b, e, X

    active = np.arange(B)
    for _ in range(maxiter):
        t2 = tau2[active]
        w, XtW, A, b, e, X = parts(t2, active)
        ypp = np.sum((w * e) ** 2, axis=1)
        N = A @ (XtW * w[:, None, :]) @ X           # A X'W²X
        trP = w.sum(axis=1) - np.trace(N, axis1=1, axis2=2)
        M3 = A @ (XtW * (w**2)[:, None, :]) @ X     # A X'W³X
        trPP = (w**2).sum(axis=1) - 2 * np.trace(M3, axis1=1, axis2=2) + np.einsum("bij,bji->b", N, N)
        adj = (ypp - w.sum(axis=1)) / (w**2).sum(axis=1) if ml else (ypp - trP) / trPP
        at_zero = (t2 <= 0) & (adj < 0)  # the maximum is on the boundary
        adj = np.where(at_zero, 0.0, adj)
        while np.any(t2 + adj < 0):
            adj = np.where(t2 + adj < 0, adj / 2, adj)
        tau2[active] = t2 + adj
        moving = np.abs(adj) > tol * (1 + t2)
        active = active[moving]
        if active.size == 0:
            break
    w, XtW, A, b, e, _ = parts(tau2, np.arange(B))
    vb = A
    if fit.test == "knha":
        s2 = np.sum(w * e * e, axis=1) / (fit.k - fit.p)
        vb = A * s2[:, None, None]
    bb, vv = b[:, 1:], vb[:, 1:, 1:]
    qm = np.einsum("bp,bp->b", bb, np.linalg.solve(vv, bb[..., None])[..., 0])
    return qm / bb.shape[1] if fit.test == "knha" else qm


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
