"""Multilevel and multivariate meta-analysis: metafor's ``rma.mv`` in numpy.

Model: y = Xβ + Σₗ Zₗuₗ + s + ε with ε ~ N(0, V) (known sampling (co)variances), nested random intercepts
uₗ ~ N(0, σ²ₗ I) (``random="source/dataset"``, metafor's ``~ 1 | source/dataset``) and at most one structured
term s for several outcomes per cluster (``random="outcome | study"``, metafor's ``~ outcome | study``) whose
within-cluster covariance is Cov(sᵢ, sⱼ) = Σ[outcomeᵢ, outcomeⱼ] with
  CS   Σ = τ² (ρ J + (1 − ρ) I)                   compound symmetry
  HCS  Σₐb = τₐ τb (ρ + (1 − ρ) δₐb)               heteroscedastic compound symmetry
  UN   Σₐb = τₐ τb ρₐb                             unstructured
``rho`` fixes ρ (contrast-based network meta-analysis uses CS with ρ = 1/2).

The marginal covariance M = V + Σₗ σ²ₗ ZₗZₗ' + S is block-diagonal over the connected components of the
grouping factors (and of V's off-diagonal pattern). Every computation runs on those blocks, batched by block
size, so no k×k matrix is ever formed: a fit costs O(Σ nᵦ³) per iteration.

Estimation: (restricted) maximum likelihood,
  ℓ_ML   = −½ [k log 2π + log|M| + r'M⁻¹r]
  ℓ_REML = −½ [(k−p) log 2π − log|X'X| + log|M| + log|X'M⁻¹X| + r'M⁻¹r]      (r = y − Xβ̂, as metafor)
maximised by Fisher scoring with step halving, with exact gradient ∂ℓ/∂θⱼ = −½ tr(P Dⱼ) + ½ y'P Dⱼ P y and
expected information ½ tr(P Dⱼ P Dₖ) (P = M⁻¹ − M⁻¹X(X'M⁻¹X)⁻¹X'M⁻¹ for REML, M⁻¹ for ML; Dⱼ = ∂M/∂θⱼ).
Variance components are bounded at 0 (an estimate on the bound is exactly 0, where metafor's log-scale
optimiser stops near 1e-10).

Tests: ``test="z"`` or ``"t"`` (t with k − p df, as metafor's ``test="t"``). QE is the test of residual
heterogeneity with weights V⁻¹; QM the Wald test of the moderators (an F test with ``test="t"``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse, stats
from scipy.sparse.csgraph import connected_components

from .errors import ConvergenceError, InputError
from .rma import design

STRUCTS = ("CS", "HCS", "UN")
MAXITER = 500


# ------------------------------------------------------------------------------------------ the random part


@dataclass
class RandomSpec:
    """The parsed ``random`` argument: nested intercept factors (outermost first) and a structured term."""

    nested: list[str]  # names, outermost first: "source", "source/dataset"
    nested_codes: list[np.ndarray]  # integer codes, one array per level
    inner: str | None = None
    outer: str | None = None
    inner_codes: np.ndarray | None = None
    inner_levels: list[str] = field(default_factory=list)
    outer_codes: np.ndarray | None = None


def _codes(values) -> np.ndarray:
    return pd.factorize(pd.Series(values).astype(str), sort=True)[0]


def _data_column(data, name: str, k: int) -> np.ndarray:
    if data is None:
        raise InputError(f"random term names the column {name!r}, but no data frame was given (data=…)")
    if name not in data.columns:
        raise InputError(f"random term names the column {name!r}; columns are: {', '.join(map(str, data.columns))}")
    col = data[name]
    if len(col) != k:
        raise InputError(f"column {name!r} has {len(col)} values for k = {k} outcomes")
    if col.isna().any():
        i = int(np.flatnonzero(col.isna().to_numpy())[0])
        raise InputError(f"row {i + 1}, column {name}: missing value in a grouping column")
    return col.astype(str).to_numpy()


def parse_random(random, data, k: int) -> RandomSpec:
    """``"a/b"`` or ``"~ 1 | a/b"``: nested intercepts; ``"inner | outer"``: a structured term (at most one)."""
    terms = [random] if isinstance(random, str) else list(random or [])
    spec = RandomSpec(nested=[], nested_codes=[])
    for term in terms:
        t = term.strip().lstrip("~").strip()
        if "|" in t:
            left, right = (s.strip() for s in t.split("|", 1))
        else:
            left, right = "1", t
        if not right:
            raise InputError(f"random term {term!r}: expected 'A/B' or '1 | A/B' or 'inner | outer'")
        if left == "1":
            parts = [p.strip() for p in right.split("/")]
            if any(not p for p in parts):
                raise InputError(f"random term {term!r}: an empty factor name between '/'")
            path = None
            for j, part in enumerate(parts):
                col = _data_column(data, part, k)
                path = col if path is None else np.char.add(np.char.add(path, "\x1f"), col)
                spec.nested.append("/".join(parts[: j + 1]))
                spec.nested_codes.append(_codes(path))
        else:
            if spec.inner is not None:
                raise InputError("only one structured random term ('inner | outer') is supported")
            if "/" in right or not re.fullmatch(r"[^|/]+", left):
                raise InputError(f"random term {term!r}: a structured term is 'inner | outer' with one factor each")
            spec.inner, spec.outer = left, right
            inner = _data_column(data, left, k)
            spec.inner_codes = _codes(inner)
            spec.inner_levels = sorted(set(inner))
            spec.outer_codes = _codes(_data_column(data, right, k))
    return spec


class _Struct:
    """Parameters ↔ Σ (m×m) of the structured term, with ∂Σ/∂θ for each free parameter."""

    def __init__(self, kind: str, m: int, rho_fixed):
        self.kind, self.m = kind, m
        self.rho_fixed = None if rho_fixed is None else float(rho_fixed)
        if kind == "UN" and self.rho_fixed is not None:
            raise InputError("rho can be fixed for struct CS or HCS, not UN")
        if self.rho_fixed is not None and not -1 < self.rho_fixed < 1:
            raise InputError(f"rho must lie in (−1, 1), got {self.rho_fixed}")
        n_tau = 1 if kind == "CS" else m
        n_rho = 0 if self.rho_fixed is not None else (1 if kind in ("CS", "HCS") else m * (m - 1) // 2)
        self.n_tau, self.n_rho = n_tau, n_rho
        self.pairs = [(a, b) for a in range(m) for b in range(a + 1, m)]

    @property
    def n(self) -> int:
        return self.n_tau + self.n_rho

    def kinds(self) -> list[str]:  # per parameter: "var" (CS τ²), "sd" (τ of HCS/UN), "rho"
        return (["var"] if self.kind == "CS" else ["sd"] * self.m) + ["rho"] * self.n_rho

    def _rho_matrix(self, theta):
        m = self.m
        if self.kind in ("CS", "HCS"):
            r = self.rho_fixed if self.rho_fixed is not None else theta[self.n_tau]
            return r * np.ones((m, m)) + (1 - r) * np.eye(m)
        R = np.eye(m)
        for (a, b), r in zip(self.pairs, theta[self.n_tau:]):
            R[a, b] = R[b, a] = r
        return R

    def sigma(self, theta) -> np.ndarray:
        R = self._rho_matrix(theta)
        if self.kind == "CS":
            return theta[0] * R
        tau = np.asarray(theta[: self.m])
        return np.outer(tau, tau) * R

    def derivatives(self, theta) -> list[np.ndarray]:
        m = self.m
        R = self._rho_matrix(theta)
        out = []
        if self.kind == "CS":
            out.append(R.copy())
            if self.n_rho:
                out.append(theta[0] * (np.ones((m, m)) - np.eye(m)))
            return out
        tau = np.asarray(theta[:m])
        for c in range(m):
            d = np.zeros((m, m))
            d[c, :] = R[c, :] * tau
            d[:, c] += R[:, c] * tau
            out.append(d)  # the diagonal gets 2τ_c
        if self.kind == "HCS" and self.n_rho:
            out.append(np.outer(tau, tau) * (np.ones((m, m)) - np.eye(m)))
        elif self.kind == "UN":
            for a, b in self.pairs:
                d = np.zeros((m, m))
                d[a, b] = d[b, a] = tau[a] * tau[b]
                out.append(d)
        return out

    def names(self, levels) -> list[str]:
        tau = ["tau2"] if self.kind == "CS" else [f"tau2[{lv}]" for lv in levels]
        if self.kind in ("CS", "HCS"):
            return tau + (["rho"] if self.n_rho else [])
        return tau + [f"rho[{levels[a]},{levels[b]}]" for a, b in self.pairs]


# ------------------------------------------------------------------------------------------------ blocks


class Blocks:
    """Rows grouped into the independent blocks of M, batched by block size.

    ``groups`` is a list of dicts, one per block size s, with ``idx`` (nb, s) row numbers and the (nb, s, s)
    arrays V, G (one per nested level), S (same outer cluster of the structured term) and ``inner`` codes."""

    def __init__(self, labels: np.ndarray, y, X, Vcoo, spec: RandomSpec):
        order = np.lexsort((np.arange(len(labels)), labels))
        _, start, counts = np.unique(labels[order], return_index=True, return_counts=True)
        self.n_blocks = len(counts)
        self.groups = []
        block_of = np.empty(len(labels), dtype=np.int64)
        pos = np.empty(len(labels), dtype=np.int64)
        gid = np.empty(self.n_blocks, dtype=np.int64)
        slot = np.empty(self.n_blocks, dtype=np.int64)
        for s in np.unique(counts):
            which = np.flatnonzero(counts == s)
            idx = order[start[which][:, None] + np.arange(s)[None, :]]  # (nb, s)
            g = {"s": int(s), "idx": idx, "y": y[idx], "X": X[idx]}
            block_of[idx] = np.arange(len(which))[:, None]
            pos[idx] = np.arange(s)[None, :]
            gid[which] = len(self.groups)
            slot[which] = np.arange(len(which))
            g["G"] = [(c[idx][:, :, None] == c[idx][:, None, :]).astype(float) for c in spec.nested_codes]
            if spec.inner_codes is not None:
                oc = spec.outer_codes[idx]
                g["S"] = (oc[:, :, None] == oc[:, None, :]).astype(float)
                g["inner"] = spec.inner_codes[idx]
            g["V"] = np.zeros((len(which), s, s))
            self.groups.append(g)
        # scatter V's entries into their blocks
        rows, cols, vals = Vcoo
        blk = np.searchsorted(np.unique(labels), labels)  # block number of each row (labels sorted unique)
        bg = gid[blk[rows]]
        for j, g in enumerate(self.groups):
            sel = bg == j
            r, c = rows[sel], cols[sel]
            np.add.at(g["V"], (block_of[r], pos[r], pos[c]), vals[sel])
        self.block_of, self.pos, self.gid, self.slot = block_of, pos, gid, slot
        self.block_label = blk


def _partition(k: int, spec: RandomSpec, Vcoo, extra=None) -> np.ndarray:
    """Block labels: connected components of rows linked by a shared group or a non-zero covariance."""
    rows, cols, _ = Vcoo
    off = rows != cols
    pieces_r, pieces_c = [rows[off]], [cols[off]]
    n = k
    factors = list(spec.nested_codes)
    if spec.outer_codes is not None:
        factors.append(spec.outer_codes)
    if extra is not None:
        factors.append(extra)
    for codes in factors:
        pieces_r.append(np.arange(k))
        pieces_c.append(n + codes)
        n += int(codes.max()) + 1
    r, c = np.concatenate(pieces_r), np.concatenate(pieces_c)
    graph = sparse.coo_matrix((np.ones(len(r)), (r, c)), shape=(n, n))
    _, lab = connected_components(graph, directed=False)
    return lab[:k]


def _coo(V, k: int):
    """(rows, cols, values) of the sampling covariance given as vi (k), a k×k array or a sparse matrix."""
    if sparse.issparse(V):
        if V.shape != (k, k):
            raise InputError(f"V is {V.shape[0]}×{V.shape[1]} for k = {k} outcomes")
        c = sparse.coo_matrix(V)
        rows, cols, vals = c.row.astype(np.int64), c.col.astype(np.int64), c.data.astype(float)
    else:
        a = np.asarray(V, dtype=float)
        if a.ndim == 1 or (a.ndim == 2 and 1 in a.shape and a.size == k and k != 1):
            a = a.ravel()
            if a.size != k:
                raise InputError(f"vi has {a.size} values for k = {k} outcomes")
            bad = ~np.isfinite(a)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise InputError(f"row {i + 1}, column vi: expected a finite number, got {a[i]}")
            if (a < 0).any():
                i = int(np.flatnonzero(a < 0)[0])
                raise InputError(f"row {i + 1}, column vi: a sampling variance cannot be negative, got {a[i]:g}")
            nz = np.flatnonzero(a)
            return nz, nz, a[nz]
        if a.shape != (k, k):
            raise InputError(f"V is {'×'.join(map(str, a.shape))} for k = {k} outcomes")
        rows, cols = np.nonzero(a)
        vals = a[rows, cols]
    if not np.isfinite(vals).all():
        raise InputError("V holds a non-finite value")
    if (vals[rows == cols] < 0).any():
        i = int(rows[rows == cols][vals[rows == cols] < 0][0])
        raise InputError(f"row {i + 1}: a sampling variance cannot be negative")
    return rows, cols, vals


# ------------------------------------------------------------------------------------------------ the fit


@dataclass
class RMAMV:
    """A fitted rma.mv model. ``sigma2`` holds one variance per nested level, outermost first."""

    yi: np.ndarray
    X: np.ndarray
    coef_names: list[str]
    method: str
    test: str
    level: float
    beta: np.ndarray
    vb: np.ndarray
    se: np.ndarray
    stat: np.ndarray
    pval: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    df: float | None  # t-test degrees of freedom (k − p), None for z
    sigma2: list[float]
    sigma2_names: list[str]
    sigma2_levels: list[int]
    struct: str | None
    tau2: list[float]
    rho: list[float]
    struct_names: list[str]
    loglik: float
    deviance: float
    aic: float
    bic: float
    aicc: float
    n_params: int
    qe: float | None
    qe_df: int
    qe_pval: float | None
    qm: float | None
    qm_df: int | None
    qm_pval: float | None
    iterations: int
    labels: list[str]
    random: RandomSpec = field(repr=False)
    theta: np.ndarray = field(repr=False)
    _engine: object = field(repr=False, default=None)

    @property
    def k(self) -> int:
        return len(self.yi)

    @property
    def p(self) -> int:
        return self.X.shape[1]

    @property
    def estimate(self) -> float:
        return float(self.beta[0])

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"estimate": self.beta, "se": self.se, "stat": self.stat, "pval": self.pval,
                             "ci_low": self.ci_low, "ci_high": self.ci_high}, index=self.coef_names)

    def predict(self, newmods=None) -> dict:
        """Fitted value with CI, and a prediction interval that adds every variance component (as metafor's
        predict for models without a structured term)."""
        x = np.ones(1) if newmods is None else np.concatenate([[1.0], np.atleast_1d(np.asarray(newmods, float))])
        if len(x) != self.p:
            raise InputError(f"predict needs {self.p - 1} moderator value(s), got {len(x) - 1}")
        pred = float(x @ self.beta)
        se = float(np.sqrt(x @ self.vb @ x))
        a = 1 - self.level
        crit = float(stats.t.ppf(1 - a / 2, self.df) if self.df else stats.norm.ppf(1 - a / 2))
        extra = sum(self.sigma2) + (self.tau2[0] if len(self.tau2) == 1 else 0.0)
        pse = float(np.sqrt(se**2 + extra))
        return {"pred": pred, "se": se, "ci_low": pred - crit * se, "ci_high": pred + crit * se,
                "pi_low": pred - crit * pse, "pi_high": pred + crit * pse}

    def to_dict(self) -> dict:
        """JSON-ready: the keys of ``fmreview meta`` for the first coefficient plus the variance components."""
        pr = self.predict() if self.p == 1 and self.coef_names[0] == "intrcpt" else {}
        out = {
            "k": self.k, "method": self.method, "test": self.test, "estimate": self.estimate,
            "se": float(self.se[0]), "stat": float(self.stat[0]), "pval": float(self.pval[0]),
            "ci_low": float(self.ci_low[0]), "ci_high": float(self.ci_high[0]),
            "pi_low": pr.get("pi_low"), "pi_high": pr.get("pi_high"),
            "df": self.df, "sigma2": list(self.sigma2), "sigma2_names": list(self.sigma2_names),
            "sigma2_levels": list(self.sigma2_levels), "struct": self.struct, "tau2": list(self.tau2),
            "rho": list(self.rho), "loglik": self.loglik, "deviance": self.deviance, "aic": self.aic,
            "bic": self.bic, "aicc": self.aicc, "q": self.qe, "q_df": self.qe_df, "q_pval": self.qe_pval,
            "qm": self.qm, "qm_df": self.qm_df, "qm_pval": self.qm_pval,
        }
        return out

    def summary(self) -> str:
        lines = [f"Multivariate meta-analysis model (k = {self.k}; method: {self.method}; test: {self.test})", ""]
        lines.append(f"logLik = {self.loglik:.4f}   deviance = {self.deviance:.4f}   AIC = {self.aic:.4f}   "
                     f"BIC = {self.bic:.4f}   AICc = {self.aicc:.4f}")
        lines.append("")
        if self.sigma2:
            lines.append("Variance components:")
            for name, s2, n in zip(self.sigma2_names, self.sigma2, self.sigma2_levels):
                lines.append(f"  sigma^2 {name:<24} {s2:.4f}  (sqrt {np.sqrt(s2):.4f}; {n} levels)")
        if self.struct:
            lines.append(f"Structured term {self.random.inner} | {self.random.outer} (struct {self.struct}):")
            for name, v in zip(self.struct_names, [*self.tau2, *self.rho]):
                lines.append(f"  {name:<32} {v:.4f}")
        if self.qe is not None:
            lines.append(f"Test for residual heterogeneity: QE(df = {self.qe_df}) = {self.qe:.4f}, p = {self.qe_pval:.4g}")
        if self.qm is not None:
            lab = "F" if self.test == "t" else "QM"
            lines.append(f"Test of moderators: {lab}(df = {self.qm_df}) = {self.qm:.4f}, p = {self.qm_pval:.4g}")
        lines += ["", self.to_frame().to_string(float_format=lambda x: f"{x:.4f}")]
        return "\n".join(lines)

    def __repr__(self) -> str:  # pragma: no cover - convenience
        return self.summary()


class _Engine:
    """Likelihood, gradient and expected information on the blocks, for one parameter vector."""

    def __init__(self, blocks: Blocks, spec: RandomSpec, struct: _Struct | None, method: str, p: int, k: int,
                 logdet_xtx: float):
        self.b, self.spec, self.struct, self.method = blocks, spec, struct, method
        self.p, self.k, self.logdet_xtx = p, k, logdet_xtx
        self.L = len(spec.nested_codes)

    def n_params(self) -> int:
        return self.L + (self.struct.n if self.struct else 0)

    def kinds(self) -> list[str]:
        return ["var"] * self.L + (self.struct.kinds() if self.struct else [])

    def _M(self, g, theta):
        M = g["V"].copy()
        for l in range(self.L):
            M += theta[l] * g["G"][l]
        if self.struct:
            sig = self.struct.sigma(theta[self.L:])
            inn = g["inner"]
            M += g["S"] * sig[inn[:, :, None], inn[:, None, :]]
        return M

    def _D(self, g, theta) -> list[np.ndarray]:
        D = list(g["G"])
        if self.struct:
            inn = g["inner"]
            for d in self.struct.derivatives(theta[self.L:]):
                D.append(g["S"] * d[inn[:, :, None], inn[:, None, :]])
        return D

    def evaluate(self, theta, derivatives: bool = True):
        """(loglik, gradient, information, beta, A) at theta; loglik is −inf where M is not positive definite."""
        p = self.p
        XtMiX = np.zeros((p, p))
        XtMiy = np.zeros(p)
        logdet = 0.0
        cache = []
        for g in self.b.groups:
            M = self._M(g, theta)
            try:
                C = np.linalg.cholesky(M)
            except np.linalg.LinAlgError:
                return -np.inf, None, None, None, None
            piv = np.diagonal(C, axis1=1, axis2=2)
            scale = np.sqrt(np.max(np.diagonal(M, axis1=1, axis2=2)))
            if piv.min() <= 1e-8 * max(scale, 1e-300):  # numerically singular (no residual variation left)
                return -np.inf, None, None, None, None
            logdet += 2.0 * float(np.log(piv).sum())
            Mi = np.linalg.inv(M)
            Mi = 0.5 * (Mi + np.swapaxes(Mi, 1, 2))
            MiX = Mi @ g["X"]
            XtMiX += _xty(g["X"], MiX)
            XtMiy += _xty(MiX, g["y"][:, :, None])[:, 0]
            cache.append((Mi, MiX))
        try:
            A = np.linalg.inv(XtMiX)
        except np.linalg.LinAlgError:
            return -np.inf, None, None, None, None
        beta = A @ XtMiy
        self.last = (np.array(theta, dtype=float), beta, A)  # the fit reuses the final evaluation
        rss = 0.0
        for (Mi, MiX), g in zip(cache, self.b.groups):
            r = g["y"] - g["X"] @ beta
            Mir = (Mi @ r[:, :, None])[:, :, 0]
            rss += float(np.sum(r * Mir))
            g["_Mir"] = Mir
        k = self.k
        if self.method == "ML":
            ll = -0.5 * (k * np.log(2 * np.pi) + logdet + rss)
        else:
            _, ld = np.linalg.slogdet(XtMiX)
            ll = -0.5 * ((k - p) * np.log(2 * np.pi) - self.logdet_xtx + logdet + ld + rss)
        if not derivatives:
            return ll, None, None, beta, A
        q = self.n_params()
        tr = np.zeros(q)
        u = np.zeros(q)
        T = np.zeros((q, q))
        Q = np.zeros((q, p, p))
        W = np.zeros((q, q, p, p))
        reml = self.method == "REML"
        for (Mi, MiX), g in zip(cache, self.b.groups):
            D = self._D(g, theta)
            Mir = g.pop("_Mir")
            MiD = [Mi @ d for d in D]
            N = [md @ MiX for md in MiD] if reml else None
            for j, (d, md) in enumerate(zip(D, MiD)):
                tr[j] += np.trace(md, axis1=1, axis2=2).sum()
                u[j] += float(np.sum(Mir * (d @ Mir[:, :, None])[:, :, 0]))
                if reml:
                    Q[j] += _xty(MiX, d @ MiX)
                for m in range(j, q):
                    T[j, m] += float(np.sum(md * np.swapaxes(MiD[m], 1, 2)))
                    if reml:
                        W[j, m] += _xty(MiX, d @ N[m])
        if reml:
            trA = np.array([np.trace(A @ Q[j]) for j in range(q)])
            grad = -0.5 * (tr - trA) + 0.5 * u
            info = np.zeros((q, q))
            for j in range(q):
                for m in range(j, q):
                    info[j, m] = 0.5 * (T[j, m] - 2 * np.trace(A @ W[j, m]) + np.trace(A @ Q[j] @ A @ Q[m]))
        else:
            grad = -0.5 * tr + 0.5 * u
            info = 0.5 * T
        info = np.triu(info) + np.triu(info, 1).T
        return ll, grad, info, beta, A


def _xty(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Σ_b A_b' B_b for batches (nb, s, p) and (nb, s, q): one matrix product."""
    return A.reshape(-1, A.shape[-1]).T @ B.reshape(-1, B.shape[-1])


def _project(theta, kinds):
    t = theta.copy()
    for j, kd in enumerate(kinds):
        if kd in ("var", "sd"):
            t[j] = max(t[j], 0.0)
        else:
            t[j] = min(max(t[j], -1 + 1e-10), 1 - 1e-10)
    return t


def fisher_scoring(engine: _Engine, theta0: np.ndarray, fixed=None, maxiter: int = MAXITER):
    """Maximise the (restricted) likelihood over theta ≥ bounds; ``fixed`` maps parameter index → value."""
    kinds = engine.kinds()
    fixed = dict(fixed or {})
    theta = _project(np.asarray(theta0, float), kinds)
    for j, v in fixed.items():
        theta[j] = v
    ll, g, info, _, _ = engine.evaluate(theta)
    if not np.isfinite(ll):
        raise ConvergenceError("the marginal covariance is not positive definite at the starting values "
                               "(all sampling variances 0 and a variance component 0?)")
    free_all = [j for j in range(len(theta)) if j not in fixed]
    for it in range(1, maxiter + 1):
        free = [j for j in free_all if not (kinds[j] in ("var", "sd") and theta[j] <= 0 and g[j] <= 0)]
        if not free:
            return theta, ll, it
        I = info[np.ix_(free, free)]
        try:
            step_f = np.linalg.solve(I, g[free])
        except np.linalg.LinAlgError:
            step_f = np.linalg.lstsq(I, g[free], rcond=None)[0]
        step = np.zeros_like(theta)
        step[free] = step_f
        lam = 1.0
        for _ in range(60):
            cand = _project(theta + lam * step, kinds)
            for j, v in fixed.items():
                cand[j] = v
            ll_c, g_c, info_c, _, _ = engine.evaluate(cand)
            if np.isfinite(ll_c) and ll_c >= ll - 1e-12 * (1 + abs(ll)):
                break
            lam /= 2
        else:
            return theta, ll, it  # no ascent direction left: at the maximum to machine precision
        moved = float(np.max(np.abs(cand - theta) / np.maximum(1.0, np.abs(theta)))) if len(theta) else 0.0
        theta, ll_prev, ll, g, info = cand, ll, ll_c, g_c, info_c
        if moved < 1e-11 and abs(ll - ll_prev) < 1e-13 * (1 + abs(ll)):
            return theta, ll, it
    raise ConvergenceError(f"{engine.method}: Fisher scoring did not converge in {maxiter} iterations "
                           f"(last parameters {np.array2string(theta, precision=4)})")


def _start(y, X, blocks: Blocks, engine: _Engine) -> np.ndarray:
    beta = np.linalg.solve(X.T @ X, X.T @ y)  # X has full rank (checked)
    resid = y - X @ beta
    total = max(float(np.var(resid)), 1e-8)
    vbar = float(np.mean([np.mean(np.diagonal(g["V"], axis1=1, axis2=2)) for g in blocks.groups]))
    share = max(total - vbar, total * 0.1) / max(engine.n_params(), 1)
    theta = []
    for kd in engine.kinds():
        theta.append(share if kd == "var" else np.sqrt(share) if kd == "sd" else 0.1)
    return np.array(theta, dtype=float)


def _full_rank(X: np.ndarray) -> bool:
    """Rank of X from X'X (p×p), which is what a k × p model matrix with k ≫ p costs least to check."""
    if X.shape[0] < X.shape[1]:
        return False
    G = X.T @ X
    w = np.linalg.eigvalsh(G)
    return bool(w.min() > max(w.max(), 1.0) * X.shape[1] * np.finfo(float).eps * 1e3)


def _check_y(yi) -> np.ndarray:
    y = np.asarray(yi, dtype=float).ravel()
    bad = ~np.isfinite(y)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"row {i + 1}, column yi: expected a finite number, got {y[i]}")
    return y


def rma_mv(yi, V, *, data=None, random=None, struct: str = "CS", rho=None, mods=None, method: str = "REML",
           test: str = "z", level: float = 0.95, intercept: bool = True, labels=None) -> RMAMV:
    """Fit metafor's ``rma.mv(yi, V, random = ~ 1 | a/b, struct=…, mods=…, method=…, test=…)``.

    ``V``: sampling variances (a k-vector), or their covariance as a k×k array or scipy sparse matrix (see
    :func:`fmreview.analysis.robust.vcalc`). ``random``: ``"a/b"`` (nested intercepts, outermost first),
    ``"inner | outer"`` (a structured term with ``struct`` CS, HCS or UN; ``rho`` fixes its correlation), or a
    list of both; column names refer to ``data``. ``mods``: as in :func:`fmreview.analysis.rma` (text columns
    dummy-coded, first sorted level as reference); a 2-D array with ``intercept=False`` is used as X itself.
    """
    y = _check_y(yi)
    k = len(y)
    method, test, struct = method.upper(), test.lower(), struct.upper()
    if method not in ("REML", "ML"):
        raise InputError(f"unknown method {method!r}; expected REML or ML")
    if test not in ("z", "t"):
        raise InputError(f"unknown test {test!r}; expected z or t")
    if struct not in STRUCTS:
        raise InputError(f"unknown struct {struct!r}; expected one of {', '.join(STRUCTS)}")
    if isinstance(mods, np.ndarray) and mods.ndim == 2 and not intercept:
        X = np.asarray(mods, dtype=float)
        names = [f"X{j + 1}" for j in range(X.shape[1])]
        if X.shape[0] != k:
            raise InputError(f"the model matrix has {X.shape[0]} rows for k = {k} outcomes")
        if not _full_rank(X):
            raise InputError("the model matrix is not of full rank (collinear or empty columns)")
    elif isinstance(mods, pd.DataFrame) and not intercept and all(pd.api.types.is_numeric_dtype(mods[c]) for c in mods):
        X = mods.to_numpy(dtype=float)
        names = [str(c) for c in mods.columns]
        if not _full_rank(X):
            raise InputError("the model matrix is not of full rank (collinear or empty columns)")
    else:
        X, names = design(mods, k, intercept)
    p = X.shape[1]
    if k <= p:
        raise InputError(f"{k} outcomes cannot estimate {p} coefficient(s) and the variance components")
    spec = parse_random(random, data, k)
    sct = _Struct(struct, len(spec.inner_levels), rho) if spec.inner is not None else None
    if rho is not None and sct is None:
        raise InputError("rho applies to a structured random term ('inner | outer')")
    Vcoo = _coo(V, k)
    lab = _partition(k, spec, Vcoo)
    blocks = Blocks(lab, y, X, Vcoo, spec)
    _, logdet_xtx = np.linalg.slogdet(X.T @ X)
    engine = _Engine(blocks, spec, sct, method, p, k, logdet_xtx)
    if engine.n_params() == 0:
        raise InputError("rma_mv needs a random term (random='A/B' or 'inner | outer'); use rma() for a "
                         "fixed-effects model with known variances")
    theta, ll, iters = fisher_scoring(engine, _start(y, X, blocks, engine))
    return _finish(engine, blocks, theta, ll, iters, y, X, names, spec, sct, method, test, level, Vcoo, labels)


def _finish(engine, blocks, theta, ll, iters, y, X, names, spec, sct, method, test, level, Vcoo, labels):
    k, p = X.shape
    last = getattr(engine, "last", None)
    if last is not None and np.array_equal(last[0], theta):
        beta, A = last[1], last[2]
    else:
        _, _, _, beta, A = engine.evaluate(theta, derivatives=False)
    if beta is None:
        raise ConvergenceError("the fitted marginal covariance is singular (a variance component is 0 and so "
                               "are the sampling variances): the model cannot be fitted to these data")
    if not np.all(np.diag(A) > 0):
        raise ConvergenceError("the fitted model is degenerate (a coefficient has no positive variance): the "
                               "variance components left no residual variation; simplify the random part")
    se = np.sqrt(np.diag(A))
    stat = beta / se
    a = 1 - level
    df = float(k - p) if test == "t" else None
    if df:
        pval = 2 * stats.t.sf(np.abs(stat), df)
        crit = stats.t.ppf(1 - a / 2, df)
    else:
        pval = 2 * stats.norm.sf(np.abs(stat))
        crit = stats.norm.ppf(1 - a / 2)
    qe, qe_p = _qe(blocks, k, p)
    qm = qm_df = qm_p = None
    has_int = names and names[0] == "intrcpt"
    if p > (1 if has_int else 0):
        idx = slice(1, p) if has_int else slice(0, p)
        bb, vv = beta[idx], A[idx, idx]
        qm_df = len(bb)
        qm = float(bb @ np.linalg.solve(vv, bb))
        if test == "t":
            qm /= qm_df
            qm_p = float(stats.f.sf(qm, qm_df, k - p))
        else:
            qm_p = float(stats.chi2.sf(qm, qm_df))
    L = len(spec.nested_codes)
    n_var = L + (sct.n if sct else 0)
    parms = p + n_var
    n_eff = k - p if method == "REML" else k
    dev = -2 * ll
    if method == "ML":  # metafor: deviance against the saturated model, −2 (ℓ − ℓ_sat), ℓ_sat = −½ (k log 2π + log|V|)
        ld_v = _logdet_v(blocks)
        if ld_v is not None:
            dev = -2 * (ll + 0.5 * (k * np.log(2 * np.pi) + ld_v))
    aic = -2 * ll + 2 * parms
    bic = -2 * ll + parms * np.log(n_eff)
    aicc = -2 * ll + 2 * parms * max(n_eff, parms + 2) / (max(n_eff, parms + 2) - parms - 1)
    tau2, rhos, snames = [], [], []
    if sct:
        st = theta[L:]
        tau2 = [float(st[0])] if sct.kind == "CS" else [float(t) ** 2 for t in st[: sct.m]]
        rhos = [sct.rho_fixed] if sct.rho_fixed is not None else [float(r) for r in st[sct.n_tau:]]
        snames = sct.names(spec.inner_levels)
        if sct.rho_fixed is not None:
            snames = snames + ["rho (fixed)"]
    return RMAMV(
        yi=y, X=X, coef_names=list(names), method=method, test=test, level=level, beta=beta, vb=A, se=se,
        stat=stat, pval=pval, ci_low=beta - crit * se, ci_high=beta + crit * se, df=df,
        sigma2=[float(t) for t in theta[:L]], sigma2_names=list(spec.nested),
        sigma2_levels=[int(c.max()) + 1 for c in spec.nested_codes], struct=sct.kind if sct else None,
        tau2=tau2, rho=rhos, struct_names=snames, loglik=float(ll), deviance=float(dev), aic=float(aic),
        bic=float(bic), aicc=float(aicc), n_params=parms, qe=qe, qe_df=k - p, qe_pval=qe_p, qm=qm, qm_df=qm_df,
        qm_pval=qm_p, iterations=iters,
        labels=list(map(str, labels)) if labels is not None else [f"{i + 1}" for i in range(k)],
        random=spec, theta=theta, _engine=engine)


def _logdet_v(blocks: Blocks):
    total = 0.0
    for g in blocks.groups:
        sign, ld = np.linalg.slogdet(g["V"])
        if (sign <= 0).any():
            return None
        total += float(ld.sum())
    return total


def _qe(blocks: Blocks, k: int, p: int):
    """QE = r'V⁻¹r of the fit with weights V⁻¹ (None where V is singular, e.g. variances not known)."""
    XtWX = np.zeros((p, p))
    XtWy = np.zeros(p)
    inv = []
    for g in blocks.groups:
        try:
            np.linalg.cholesky(g["V"])
        except np.linalg.LinAlgError:
            return None, None
        Wi = np.linalg.inv(g["V"])
        WX = Wi @ g["X"]
        XtWX += _xty(g["X"], WX)
        XtWy += _xty(WX, g["y"][:, :, None])[:, 0]
        inv.append(Wi)
    b = np.linalg.solve(XtWX, XtWy)
    q = 0.0
    for Wi, g in zip(inv, blocks.groups):
        r = g["y"] - g["X"] @ b
        q += float(np.sum(r * (Wi @ r[:, :, None])[:, :, 0]))
    return q, float(stats.chi2.sf(q, k - p)) if k > p else None


def profile(fit: RMAMV, component: int = 0, values=None, steps: int = 20) -> pd.DataFrame:
    """Profile (restricted) log-likelihood of one variance component (metafor's ``profile.rma.mv``): the
    component is fixed at each value and the others are re-estimated. ``component`` indexes ``sigma2`` then
    the structured term's parameters."""
    engine = fit._engine
    if engine is None:
        raise InputError("this fit carries no likelihood to profile")
    n = engine.n_params()
    if not 0 <= component < n:
        raise InputError(f"component must be 0…{n - 1}")
    est = float(fit.theta[component])
    kind = engine.kinds()[component]
    if values is None:
        if kind == "rho":
            values = np.linspace(-0.95, 0.95, steps)
        else:
            hi = max(est * 3, 1e-4) if kind == "var" else max(est * 2, 1e-2)
            values = np.linspace(0, hi, steps)
    rows = []
    for v in values:
        theta, ll, _ = fisher_scoring(engine, fit.theta.copy(), fixed={component: float(v)})
        rows.append({"value": float(v) if kind != "sd" else float(v) ** 2, "loglik": float(ll)})
    names = fit.sigma2_names + fit.struct_names
    out = pd.DataFrame(rows)
    out.attrs["component"] = names[component] if component < len(names) else str(component)
    out.attrs["estimate"] = est if kind != "sd" else est**2
    out.attrs["loglik"] = fit.loglik
    out.attrs["method"] = fit.method
    return out
