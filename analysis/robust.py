"""Cluster-robust inference for multilevel models, and sampling covariances for dependent effects.

- ``robust(fit, cluster)``: metafor's ``robust()``. Default CR1 as metafor (sandwich with the model weights,
  scaled by J/(J − p), t tests with J − p df, J clusters). ``clubSandwich=True``: the CR2 estimator with
  Satterthwaite degrees of freedom (Pustejovsky & Tipton 2018), as clubSandwich's
  ``coef_test(fit, vcov = "CR2", test = "Satterthwaite")`` and ``robust(..., clubSandwich = TRUE)``:
    Mⱼ = the model's marginal covariance of cluster j, Rⱼ its upper Cholesky factor, B = (X'M⁻¹X)⁻¹,
    Aⱼ = Rⱼ' [Rⱼ (Mⱼ − XⱼBXⱼ') Rⱼ']^(−½) Rⱼ,   Var(β̂) = B [Σⱼ Xⱼ'Mⱼ⁻¹Aⱼeⱼeⱼ'AⱼMⱼ⁻¹Xⱼ] B,
    df = (tr Pᵢ)² / ‖Pᵢ‖²_F  with Pᵢ = diag(‖gᵢⱼ‖²) − HᵢHᵢ' over clusters (clubSandwich's P array), computed
    from its pieces, so no J×J matrix is formed.
- ``vcalc(vi, cluster, rho)``: metafor's ``vcalc``: Cov(yᵢ, yⱼ) = ρ √(vᵢvⱼ) for two outcomes of one cluster
  (clubSandwich's ``impute_covariance_matrix``), as a sparse block-diagonal matrix.
- ``rho_sensitivity``: the same model and CR2 test over a range of assumed ρ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse, stats

from .errors import InputError
from .multilevel import RMAMV, Blocks, RandomSpec, _xty, rma_mv


def vcalc(vi, cluster, rho: float, obs=None) -> sparse.csr_matrix:
    """Sampling covariance of outcomes sharing a cluster (a test set, a study): ρ √(vᵢ vⱼ) off the diagonal.
    Rows with the same ``obs`` within a cluster are the same observation (correlation 1)."""
    v = np.asarray(vi, dtype=float).ravel()
    cl = pd.Series(np.asarray(cluster)).astype(str).to_numpy()
    if len(cl) != len(v):
        raise InputError(f"cluster has {len(cl)} values for {len(v)} variances")
    if not -1 <= rho <= 1:
        raise InputError(f"rho must lie in [−1, 1], got {rho}")
    if (v < 0).any() or not np.isfinite(v).all():
        i = int(np.flatnonzero((v < 0) | ~np.isfinite(v))[0])
        raise InputError(f"row {i + 1}, column vi: expected a non-negative variance, got {v[i]}")
    codes = pd.factorize(cl, sort=True)[0]
    ob = None if obs is None else pd.factorize(pd.Series(np.asarray(obs)).astype(str), sort=True)[0]
    order = np.argsort(codes, kind="stable")
    _, start, counts = np.unique(codes[order], return_index=True, return_counts=True)
    rows, cols, vals = [], [], []
    sd = np.sqrt(v)
    for s0, n in zip(start, counts):
        idx = order[s0:s0 + n]
        r, c = np.meshgrid(idx, idx, indexing="ij")
        corr = np.full((n, n), float(rho))
        if ob is not None:
            corr[ob[idx][:, None] == ob[idx][None, :]] = 1.0
        np.fill_diagonal(corr, 1.0)
        rows.append(r.ravel())
        cols.append(c.ravel())
        vals.append((corr * np.outer(sd[idx], sd[idx])).ravel())
    k = len(v)
    return sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(k, k))


@dataclass
class Robust:
    """Cluster-robust coefficient tests; lists in the order of ``names``."""

    names: list[str]
    coef: np.ndarray
    vb: np.ndarray
    se: np.ndarray
    stat: np.ndarray
    df: np.ndarray
    pval: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    type: str  # "CR1" or "CR2"
    n_clusters: int
    level: float

    def to_dict(self) -> dict:
        return {"type": self.type, "n_clusters": self.n_clusters, "names": list(self.names),
                "coef": self.coef.tolist(), "se": self.se.tolist(), "stat": self.stat.tolist(),
                "df": self.df.tolist(), "pval": self.pval.tolist(), "ci_low": self.ci_low.tolist(),
                "ci_high": self.ci_high.tolist()}

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"estimate": self.coef, "se": self.se, "t": self.stat, "df": self.df,
                             "pval": self.pval, "ci_low": self.ci_low, "ci_high": self.ci_high}, index=self.names)

    def summary(self) -> str:
        df_rule = "Satterthwaite df" if self.type == "CR2" else f"df = J − p = {int(self.df[0])}"
        head = (f"Cluster-robust tests ({self.type}, {df_rule}; J = {self.n_clusters} clusters)")
        return head + "\n" + self.to_frame().to_string(float_format=lambda x: f"{x:.4f}")


def _cluster_blocks(fit: RMAMV, cluster) -> tuple[Blocks, int]:
    engine = fit._engine
    cl = np.asarray(cluster)
    if len(cl) != fit.k:
        raise InputError(f"cluster has {len(cl)} values for k = {fit.k} outcomes")
    cl_s = pd.Series(cl)
    if cl_s.isna().any():
        i = int(np.flatnonzero(cl_s.isna().to_numpy())[0])
        raise InputError(f"row {i + 1}: missing cluster value")
    codes = pd.factorize(cl_s.astype(str), sort=True)[0]
    J = int(codes.max()) + 1
    if J < 2:
        raise InputError("cluster-robust inference needs at least 2 clusters; all outcomes share one")
    if J == fit.k:
        raise InputError("every cluster holds a single outcome, so clustering adds nothing: choose the factor "
                         "that outcomes share (the source, the test set) as --robust")
    # the model's blocks must be nested in the clusters, else a cluster's covariance is not its own
    blk = engine.b.block_label
    per_block = pd.Series(codes).groupby(blk).nunique()
    if (per_block > 1).any():
        b = int(per_block.idxmax())
        rows = np.flatnonzero(blk == b)[:6] + 1
        raise InputError(f"the random effects are not nested in the clusters: rows {', '.join(map(str, rows))} "
                         "are correlated in the model but fall in different clusters; cluster at the outermost "
                         "random-effect level or coarser")
    spec: RandomSpec = engine.spec
    b = engine.b
    # rebuild the blocks on the cluster partition, with the model's V
    Vcoo = _rebuild_coo(b)
    return Blocks(codes, fit.yi, fit.X, Vcoo, spec), J


def _rebuild_coo(b: Blocks):
    rows, cols, vals = [], [], []
    for g in b.groups:
        idx = g["idx"]
        nb, s = idx.shape
        r = np.broadcast_to(idx[:, :, None], (nb, s, s))
        c = np.broadcast_to(idx[:, None, :], (nb, s, s))
        nz = g["V"] != 0
        rows.append(r[nz])
        cols.append(c[nz])
        vals.append(g["V"][nz])
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)


def _inv_sqrt_psd(G: np.ndarray) -> np.ndarray:
    """Symmetric G^(−½) of a batch of PSD matrices, eigenvalues ≤ 1e-12 dropped (clubSandwich's matrix_power)."""
    w, Q = np.linalg.eigh(G)
    wp = np.where(w > 1e-12, 1.0 / np.sqrt(np.where(w > 1e-12, w, 1.0)), 0.0)
    return (Q * wp[:, None, :]) @ np.swapaxes(Q, 1, 2)


def robust(fit: RMAMV, cluster, *, clubSandwich: bool = False, adjust: bool = True) -> Robust:
    """Cluster-robust tests of a multilevel fit (metafor's ``robust``; ``clubSandwich=True`` for CR2 with
    Satterthwaite df). ``cluster``: one label per outcome; the model's random effects must be nested in it."""
    blocks, J = _cluster_blocks(fit, cluster)
    engine = fit._engine
    theta, beta, X = fit.theta, fit.beta, fit.X
    p = X.shape[1]
    if J <= p and not clubSandwich:
        raise InputError(f"CR1 needs more clusters ({J}) than coefficients ({p})")
    parts = []
    XtMiX = np.zeros((p, p))
    try:
        for g in blocks.groups:
            M = engine._M(g, theta)
            C = np.linalg.cholesky(M)  # lower: M = C C'
            Mi = np.linalg.inv(M)
            XtMiX += _xty(g["X"], Mi @ g["X"])
            parts.append((g, M, C, Mi))
        B = np.linalg.inv(XtMiX)
        np.linalg.cholesky(B)
    except np.linalg.LinAlgError:
        raise InputError("the fitted model's covariance is singular, so no robust test can be formed (a variance "
                         "component is 0 and there are no sampling variances)") from None
    meat = np.zeros((p, p))
    level = fit.level
    a = 1 - level
    if not clubSandwich:
        for g, M, C, Mi in parts:
            e = g["y"] - g["X"] @ beta
            c = (np.swapaxes(g["X"], 1, 2) @ (Mi @ e[:, :, None]))[:, :, 0]
            meat += c.T @ c
        vb = B @ meat @ B
        if adjust:
            vb *= J / (J - p)
        se = np.sqrt(np.diag(vb))
        df = np.full(p, float(J - p))
        stat = beta / se
        pval = 2 * stats.t.sf(np.abs(stat), df)
        crit = stats.t.ppf(1 - a / 2, df)
        return Robust(list(fit.coef_names), beta.copy(), vb, se, stat, df, pval, beta - crit * se,
                      beta + crit * se, "CR1", J, level)
    # CR2 (clubSandwich, inverse-variance weights: the target is the model's M)
    LU = np.linalg.cholesky(B)  # lower: B = LU LU'
    d_all, h_all = [], []
    for g, M, C, Mi in parts:
        R = np.swapaxes(C, 1, 2)  # upper: M = R'R
        XBX = g["X"] @ B @ np.swapaxes(g["X"], 1, 2)
        G = R @ (M - XBX) @ C
        Aj = C @ _inv_sqrt_psd(G) @ R
        E = np.swapaxes(g["X"], 1, 2) @ Mi @ Aj  # Xⱼ'Mⱼ⁻¹Aⱼ  (nb, p, s)
        e = g["y"] - g["X"] @ beta
        c = (E @ e[:, :, None])[:, :, 0]
        meat += c.T @ c
        ME = B @ E
        gm = ME @ C  # clubSandwich's G: M E chol(Θ)'
        d_all.append(np.einsum("bpu,bpu->bp", gm, gm))  # (nb, p): ‖gᵢⱼ‖²
        h_all.append(ME @ (g["X"] @ LU))  # Hⱼ = M Eⱼ Uⱼ L_U  (nb, p, p)
    vb = B @ meat @ B
    d = np.concatenate(d_all)  # (J, p)
    H = np.concatenate(h_all)  # (J, p, p)
    df = np.empty(p)
    for i in range(p):
        hi = H[:, i, :]  # (J, u): column j of the clubSandwich h_i
        hn = np.einsum("ju,ju->j", hi, hi)
        trace = d[:, i].sum() - hn.sum()
        hh = hi.T @ hi
        frob = float(np.sum(d[:, i] ** 2) - 2 * np.sum(d[:, i] * hn) + np.sum(hh * hh))
        df[i] = trace**2 / frob
    se = np.sqrt(np.diag(vb))
    stat = beta / se
    pval = 2 * stats.t.sf(np.abs(stat), df)
    crit = stats.t.ppf(1 - a / 2, df)
    return Robust(list(fit.coef_names), beta.copy(), vb, se, stat, df, pval, beta - crit * se, beta + crit * se,
                  "CR2", J, level)


def rho_sensitivity(yi, vi, cluster, rhos=(0.0, 0.2, 0.4, 0.6, 0.8, 0.95), *, robust_cluster=None, **kwargs):
    """Refit ``rma_mv(yi, vcalc(vi, cluster, ρ), **kwargs)`` for each assumed within-cluster correlation ρ,
    with CR2 tests clustered on ``robust_cluster`` (default: ``cluster``). One row per ρ."""
    rows = []
    for r in rhos:
        V = vcalc(vi, cluster, r)
        fit = rma_mv(yi, V, **kwargs)
        rb = robust(fit, cluster if robust_cluster is None else robust_cluster, clubSandwich=True)
        row = {"rho": float(r), "estimate": fit.estimate, "se": float(fit.se[0]), "pval": float(fit.pval[0])}
        for name, s2 in zip(fit.sigma2_names, fit.sigma2):
            row[f"sigma2[{name}]"] = s2
        row.update(robust_se=float(rb.se[0]), robust_df=float(rb.df[0]), robust_pval=float(rb.pval[0]))
        rows.append(row)
    return pd.DataFrame(rows)


__all__ = ["Robust", "robust", "rho_sensitivity", "vcalc"]
