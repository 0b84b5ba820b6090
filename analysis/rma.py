"""Random- and fixed-effects meta-analysis and meta-regression: metafor's ``rma.uni`` in numpy.

Model: yᵢ = xᵢ'β + uᵢ + εᵢ, uᵢ ~ N(0, τ²), εᵢ ~ N(0, vᵢ). Weights wᵢ = 1/(vᵢ + τ²).
Everything is computed on k-vectors and p×p matrices (p = number of coefficients), never k×k, so a fit costs
O(k p²) and k = 10⁶ studies fit in well under a second.

τ² estimators (``method``), as in metafor 3.8 (Viechtbauer 2005, 2010):
  EE/FE  τ² = 0
  DL     (Q − (k−p)) / tr(P)                       DerSimonian–Laird, P with wᵢ = 1/vᵢ
  HE     (RSSₒₗₛ − tr(PₒₗₛV)) / (k−p)              Hedges
  HS     (Q − k) / Σwᵢ                             Hunter–Schmidt
  SJ     τ₀² · Q(τ₀²) / (k−p), τ₀² = var(y)(k−1)/k  Sidik–Jonkman
  ML     root of  y'PPy = Σwᵢ                      maximum likelihood
  REML   root of  y'PPy = tr(P)                    restricted maximum likelihood
  PM, EB root of  Q(τ²) = k − p                    Paule–Mandel; empirical Bayes gives the same root
All are truncated at 0. Iterative ones are solved with a bracketing root finder to machine precision (metafor
needs ``control=list(threshold=1e-12)`` to agree to 1e-6); failure to converge raises ConvergenceError naming
the estimator and the iterations used.

Tests: ``test="z"`` (normal) or ``"knha"`` (Knapp–Hartung: Var(β̂) scaled by Q(τ̂²)/(k−p), t with k−p df).
I² = 100 τ²/(τ² + ṽ) and H² = (τ² + ṽ)/ṽ with the typical within-study variance ṽ = (k−p)/tr(P) (metafor;
from τ², not from Q). The CI of τ² is the Q-profile interval (Viechtbauer 2007).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, stats

from .errors import ConvergenceError, InputError

METHODS = ("EE", "FE", "DL", "HE", "HS", "SJ", "ML", "REML", "EB", "PM")
TESTS = ("z", "knha")
MAXITER = 1000


# ------------------------------------------------------------------------------------------ linear algebra


def _wls(y, X, w):
    """β̂, (X'WX)⁻¹ and residuals of the weighted least-squares fit."""
    XtW = X.T * w
    A = np.linalg.inv(XtW @ X)
    b = A @ (XtW @ y)
    return b, A, y - X @ b


def _xdx(X, d):
    """X' diag(d) X."""
    return (X.T * d) @ X


class _Traces:
    """Traces of P = W − WX(X'WX)⁻¹X'W products without forming k×k matrices."""

    def __init__(self, X, w, v=None):
        self.X, self.w, self.v = X, w, v
        self.A = np.linalg.inv(_xdx(X, w))

    def trP(self):
        return self.w.sum() - np.trace(self.A @ _xdx(self.X, self.w**2))

    def trPP(self):
        N = self.A @ _xdx(self.X, self.w**2)
        return (self.w**2).sum() - 2 * np.trace(self.A @ _xdx(self.X, self.w**3)) + np.trace(N @ N)

    def trPV(self):
        return (self.w * self.v).sum() - np.trace(self.A @ _xdx(self.X, self.w**2 * self.v))

    def trPVP(self):
        N, M = _xdx(self.X, self.w**2), _xdx(self.X, self.w**2 * self.v)
        return ((self.v * self.w**2).sum() - 2 * np.trace(self.A @ _xdx(self.X, self.w**3 * self.v))
                + np.trace(self.A @ N @ self.A @ M))

    def trPVPV(self):
        M = self.A @ _xdx(self.X, self.w**2 * self.v)
        return ((self.w * self.v) ** 2).sum() - 2 * np.trace(self.A @ _xdx(self.X, self.w**3 * self.v**2)) + np.trace(M @ M)


def _qgen(y, v, X, tau2):
    """Generalised Q: Σ wᵢ (yᵢ − xᵢ'β̂)² with wᵢ = 1/(vᵢ + τ²)."""
    w = 1.0 / (v + tau2)
    _, _, e = _wls(y, X, w)
    return float(np.sum(w * e * e))


def _solve(f, method: str, start_hi: float) -> float:
    """Root of a decreasing-at-the-root function on [0, ∞) (τ² = 0 when f(0) ≤ 0)."""
    f0 = f(0.0)
    if f0 <= 0:
        return 0.0
    hi, n = max(start_hi, 1e-8), 0
    while f(hi) > 0:
        hi *= 4
        n += 1
        if n > 200:
            raise ConvergenceError(f"{method}: could not bracket the root of the τ² estimating equation "
                                   f"(τ² > {hi:.3g} after {n} expansions)")
    try:
        root, res = optimize.brentq(f, 0.0, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=MAXITER,
                                    full_output=True)
    except (RuntimeError, ValueError) as e:
        raise ConvergenceError(f"{method}: root finding for τ² did not converge after {MAXITER} iterations ({e})") from None
    if not res.converged:
        raise ConvergenceError(f"{method}: root finding for τ² did not converge after {res.iterations} iterations")
    return float(root)


def loglik(y, v, X, tau2: float, method: str) -> float:
    """(Restricted) log-likelihood of the random-effects model at τ² (constants included, as metafor)."""
    k, p = X.shape
    w = 1.0 / (v + tau2)
    _, A, e = _wls(y, X, w)
    rss = float(np.sum(w * e * e))
    if method == "ML":
        return -0.5 * k * np.log(2 * np.pi) - 0.5 * float(np.sum(np.log(v + tau2))) - 0.5 * rss
    _, logdet = np.linalg.slogdet(np.linalg.inv(A))
    return -0.5 * (k - p) * np.log(2 * np.pi) - 0.5 * float(np.sum(np.log(v + tau2))) - 0.5 * logdet - 0.5 * rss


def _is_intercept(X) -> bool:
    return X.shape[1] == 1 and bool(np.all(X[:, 0] == 1.0))


def _intercept_score(y, v, method):
    """(scalar, vectorised) (RE)ML score for the intercept-only model: y'PPy − Σw (ML) or − tr(P) (REML)."""

    def grid_score(t):
        w = 1.0 / (v[None, :] + np.asarray(t, dtype=float)[:, None])
        sw = w.sum(axis=1)
        mu = (w @ y) / sw
        ypp = np.sum((w * (y[None, :] - mu[:, None])) ** 2, axis=1)
        return ypp - (sw if method == "ML" else sw - np.sum(w * w, axis=1) / sw)

    def score(t):
        w = 1.0 / (v + t)
        sw = w.sum()
        e = y - (w @ y) / sw
        we = w * e
        return float(we @ we - (sw if method == "ML" else sw - (w @ w) / sw))

    return score, grid_score


def _maximise_likelihood(y, v, X, method, score, scale, grid_score=None) -> float:
    """The τ² ≥ 0 maximising the (RE)ML likelihood.

    The score can have several roots (the likelihood is not always unimodal), so every +→− sign change on a
    log-spaced grid around the data's scale is solved, and the candidate with the highest likelihood wins,
    τ² = 0 included (metafor reaches the same answer by Fisher scoring from the HE estimate plus a check
    against τ² = 0)."""
    grid = np.concatenate([[0.0], scale * 4.0 ** np.arange(-12, 7)])
    vals = grid_score(grid) if grid_score is not None else np.array([score(t) for t in grid])
    while vals[-1] > 0:  # extend until the score turns negative
        grid = np.append(grid, grid[-1] * 4)
        vals = np.append(vals, score(grid[-1]))
        if len(grid) > 300:
            raise ConvergenceError(f"{method}: the likelihood still increases at τ² = {grid[-1]:.3g}")
    candidates = [0.0] if vals[0] <= 0 else []
    for lo, hi, flo, fhi in zip(grid[:-1], grid[1:], vals[:-1], vals[1:]):
        if flo > 0 >= fhi:
            try:
                root, res = optimize.brentq(score, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps,
                                            maxiter=MAXITER, full_output=True)
            except (RuntimeError, ValueError) as e:
                raise ConvergenceError(f"{method}: root finding for τ² did not converge after {MAXITER} iterations ({e})") from None
            if not res.converged:
                raise ConvergenceError(f"{method}: root finding for τ² did not converge after {res.iterations} iterations")
            candidates.append(float(root))
    if not candidates:
        raise ConvergenceError(f"{method}: no maximum of the likelihood found for τ² in [0, {grid[-1]:.3g}]")
    if len(candidates) == 1:
        return candidates[0]
    return max(candidates, key=lambda t: loglik(y, v, X, t, method))


def estimate_tau2(y, v, X, method: str) -> tuple[float, float, dict]:
    """(τ², SE(τ²), extra) for one estimator, as metafor's rma.uni."""
    k, p = X.shape
    m = method.upper()
    extra: dict = {}
    if m in ("EE", "FE"):
        return 0.0, float("nan"), extra
    if m in ("DL", "HS"):
        w = 1.0 / v
        _, _, e = _wls(y, X, w)
        Q = float(np.sum(w * e * e))
        t = _Traces(X, w)
        trP, trPP = t.trP(), t.trPP()
        if m == "DL":
            tau2 = max(0.0, (Q - (k - p)) / trP)
            se = np.sqrt((2 * (k - p) + 4 * tau2 * trP + 2 * tau2**2 * trPP) / trP**2)
        else:
            tau2 = max(0.0, (Q - k) / w.sum())
            se = np.sqrt((2 * (k - p) + 4 * tau2 * trP + 2 * tau2**2 * trPP) / w.sum() ** 2)
        return tau2, float(se), extra
    if m == "HE" or m in ("ML", "REML"):
        ones = np.ones(k)
        _, _, e = _wls(y, X, ones)
        t = _Traces(X, ones, v)
        trPV = t.trPV()
        he = (float(np.sum(e * e)) - trPV) / (k - p)
        if m == "HE":
            tau2 = max(0.0, he)
            se = np.sqrt((2 * t.trPVPV() + 4 * tau2 * trPV + 2 * tau2**2 * (k - p)) / (k - p) ** 2)
            return tau2, float(se), extra
        scale = max(he, float(np.var(y)), 1e-8)

        if _is_intercept(X):
            score, grid_score = _intercept_score(y, v, m)
        else:
            grid_score = None

            def score(tau2):
                w = 1.0 / (v + tau2)
                _, _, e = _wls(y, X, w)
                ypp = float(np.sum((w * e) ** 2))
                return ypp - (w.sum() if m == "ML" else _Traces(X, w).trP())

        tau2 = _maximise_likelihood(y, v, X, m, score, scale, grid_score)
        w = 1.0 / (v + tau2)
        se = np.sqrt(2 / (w**2).sum()) if m == "ML" else np.sqrt(2 / _Traces(X, w).trPP())
        return tau2, float(se), extra
    if m in ("PM", "EB"):
        tau2 = _solve(lambda t2: _qgen(y, v, X, t2) - (k - p), m, max(float(np.var(y)), 1e-8))
        w = 1.0 / (v + tau2)
        return tau2, float(np.sqrt(2 * k**2 / (k - p) / w.sum() ** 2)), extra
    if m == "SJ":
        tau0 = float(np.var(y))  # var(y)(k−1)/k
        if tau0 <= 0:
            raise InputError("SJ: all outcomes are equal, so the Sidik–Jonkman starting value is 0")
        w = 1.0 / (v + tau0)
        _, _, e = _wls(y, X, w)
        tau2 = max(0.0, tau0 * float(np.sum(w * e * e)) / (k - p))
        t = _Traces(X, w, v)
        se = np.sqrt(tau0**2 / (k - p) ** 2 * (2 * t.trPVPV() + 4 * tau2 * t.trPVP() + 2 * tau2**2 * t.trPP()))
        extra["tau2_0"] = tau0
        return tau2, float(se), extra
    raise InputError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")


# ------------------------------------------------------------------------------------------------ model


@dataclass
class RMA:
    """A fitted rma.uni model. Coefficient arrays are in the order of ``coef_names`` (intercept first)."""

    yi: np.ndarray
    vi: np.ndarray
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
    tau2: float
    se_tau2: float
    i2: float
    h2: float
    q: float
    q_df: int
    q_pval: float
    qm: float | None
    qm_df: int | None
    qm_pval: float | None
    r2: float | None
    s2_knha: float
    weights: np.ndarray
    labels: list[str] = field(default_factory=list)

    # ---- the intercept-only view (the usual "pooled estimate")
    @property
    def k(self) -> int:
        return len(self.yi)

    @property
    def p(self) -> int:
        return self.X.shape[1]

    @property
    def df(self) -> int:
        return self.k - self.p

    @property
    def estimate(self) -> float:
        return float(self.beta[0])

    @property
    def intercept_only(self) -> bool:
        return self.p == 1 and np.all(self.X[:, 0] == 1)

    def _crit(self) -> float:
        a = 1 - self.level
        return float(stats.t.ppf(1 - a / 2, self.df) if self.test == "knha" else stats.norm.ppf(1 - a / 2))

    def predict(self, newmods=None) -> dict:
        """Pooled (or fitted) value with CI and prediction interval, as metafor's predict()."""
        x = np.ones(1) if newmods is None else np.concatenate([[1.0], np.atleast_1d(np.asarray(newmods, float))])
        if len(x) != self.p:
            raise InputError(f"predict needs {self.p - 1} moderator value(s), got {len(x) - 1}")
        pred = float(x @ self.beta)
        se = float(np.sqrt(x @ self.vb @ x))
        c = self._crit()
        pse = float(np.sqrt(se**2 + self.tau2))
        if self.method in ("EE", "FE"):  # no between-study distribution to predict from (as metafor)
            pse = float("nan")
        return {"pred": pred, "se": se, "ci_low": pred - c * se, "ci_high": pred + c * se,
                "pi_low": pred - c * pse, "pi_high": pred + c * pse}

    def confint(self) -> dict:
        """Q-profile CI for τ² (Viechtbauer 2007) and the implied CIs for I² and H²."""
        lo, hi = tau2_qprofile(self.yi, self.vi, self.X, self.level)
        vt = _typical_v(self.vi, self.X)
        return {"tau2": (self.tau2, lo, hi),
                "i2": tuple(100 * t / (t + vt) for t in (self.tau2, lo, hi)),
                "h2": tuple((t + vt) / vt for t in (self.tau2, lo, hi))}

    def weights_percent(self) -> np.ndarray:
        return 100 * self.weights / self.weights.sum()

    def to_dict(self) -> dict:
        pr = self.predict() if self.intercept_only else {}
        ci = (None, None, None) if self.method in ("EE", "FE") else self.confint()["tau2"]
        return {
            "k": self.k, "method": self.method, "test": self.test, "estimate": self.estimate,
            "se": float(self.se[0]), "stat": float(self.stat[0]), "pval": float(self.pval[0]),
            "ci_low": float(self.ci_low[0]), "ci_high": float(self.ci_high[0]),
            "pi_low": _num(pr.get("pi_low")), "pi_high": _num(pr.get("pi_high")),
            "tau2": self.tau2, "se_tau2": None if np.isnan(self.se_tau2) else self.se_tau2,
            "tau2_ci_low": ci[1], "tau2_ci_high": ci[2], "i2": self.i2, "h2": self.h2,
            "q": self.q, "q_pval": self.q_pval,
        }

    def to_frame(self) -> pd.DataFrame:
        """Coefficient table (estimate, se, stat, pval, ci)."""
        return pd.DataFrame({"estimate": self.beta, "se": self.se, "stat": self.stat, "pval": self.pval,
                             "ci_low": self.ci_low, "ci_high": self.ci_high}, index=self.coef_names)

    def summary(self) -> str:
        model = "Equal-effects" if self.method in ("EE", "FE") else "Random-effects"
        lines = [f"{model} model (k = {self.k}; tau^2 estimator: {self.method}; test: {self.test})", ""]
        if self.method not in ("EE", "FE"):
            lo, hi = self.confint()["tau2"][1:]
            lines.append(f"tau^2 = {self.tau2:.4f} (SE = {self.se_tau2:.4f}; {100 * self.level:.0f}% CI {lo:.4f} to {hi:.4f})")
            lines.append(f"tau   = {np.sqrt(self.tau2):.4f}")
        lines.append(f"I^2   = {self.i2:.2f}%    H^2 = {self.h2:.2f}")
        lines.append(f"Q(df = {self.q_df}) = {self.q:.4f}, p = {self.q_pval:.4g}")
        if self.qm is not None:
            lab = "F" if self.test == "knha" else "QM"
            lines.append(f"Test of moderators: {lab}(df = {self.qm_df}) = {self.qm:.4f}, p = {self.qm_pval:.4g}"
                         + (f"; R^2 = {self.r2:.2f}%" if self.r2 is not None else ""))
        lines.append("")
        lines.append(self.to_frame().to_string(float_format=lambda x: f"{x:.4f}"))
        if self.intercept_only:
            pr = self.predict()
            lines.append("")
            lines.append(f"Prediction interval: {pr['pi_low']:.4f} to {pr['pi_high']:.4f}")
        return "\n".join(lines)

    def __repr__(self) -> str:  # pragma: no cover - convenience
        return self.summary()


def _num(x):
    return None if x is None or not np.isfinite(x) else float(x)


def _typical_v(vi, X) -> float:
    k, p = X.shape
    return (k - p) / _Traces(X, 1.0 / vi).trP()


def tau2_qprofile(yi, vi, X, level: float = 0.95) -> tuple[float, float]:
    """Q-profile confidence interval of τ²: Q(τ²) equals the χ²(k−p) quantiles (decreasing in τ²)."""
    k, p = X.shape
    a = 1 - level
    upper_q, lower_q = stats.chi2.ppf(1 - a / 2, k - p), stats.chi2.ppf(a / 2, k - p)
    q0 = _qgen(yi, vi, X, 0.0)
    start = max(float(np.var(yi)), 1e-8)

    def bound(target):
        if q0 < target:
            return 0.0
        return _solve(lambda t2: _qgen(yi, vi, X, t2) - target, "Q-profile CI", start)

    return bound(upper_q), bound(lower_q)


def _check(yi, vi):
    yi = np.asarray(yi, dtype=float).ravel()
    vi = np.asarray(vi, dtype=float).ravel()
    if yi.shape != vi.shape:
        raise InputError(f"yi has {yi.size} values but vi has {vi.size}")
    for name, a in (("yi", yi), ("vi", vi)):
        bad = ~np.isfinite(a)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"row {i + 1}, column {name}: expected a finite number, got {a[i]}")
    if (vi <= 0).any():
        i = int(np.flatnonzero(vi <= 0)[0])
        raise InputError(f"row {i + 1}, column vi: sampling variances must be positive, got {vi[i]:g}")
    return yi, vi


def design(mods, k: int, intercept: bool = True) -> tuple[np.ndarray, list[str]]:
    """Model matrix from moderators: numeric columns as they are, text columns dummy-coded with the
    alphabetically first level as reference (as R's treatment contrasts)."""
    cols, names = ([np.ones(k)], ["intrcpt"]) if intercept else ([], [])
    if mods is None:
        return np.column_stack(cols), names
    if not isinstance(mods, pd.DataFrame):
        arr = np.asarray(mods)
        arr = arr.reshape(k, -1) if arr.ndim == 1 else arr
        mods = pd.DataFrame(arr, columns=[f"mod{j + 1}" for j in range(arr.shape[1])] if arr.shape[1] > 1 else ["mods"])
    for name in mods.columns:
        col = mods[name]
        if len(col) != k:
            raise InputError(f"moderator {name} has {len(col)} values for {k} studies")
        numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        if numeric:
            x = col.to_numpy(dtype=float)
            if not np.isfinite(x).all():
                i = int(np.flatnonzero(~np.isfinite(x))[0])
                raise InputError(f"row {i + 1}, column {name}: expected a finite number")
            if np.ptp(x) == 0:
                raise InputError(f"moderator {name} has one value ({x[0]:g}) in every study: it cannot explain anything")
            cols.append(x)
            names.append(str(name))
        else:
            if col.isna().any():
                i = int(np.flatnonzero(col.isna().to_numpy())[0])
                raise InputError(f"row {i + 1}, column {name}: missing moderator value")
            levels = sorted(col.astype(str).unique())
            if len(levels) < 2:
                raise InputError(f"moderator {name} has one level ({levels[0]!r}) in every study")
            for lev in levels[1:]:
                cols.append((col.astype(str) == lev).to_numpy(dtype=float))
                names.append(f"{name}{lev}")
    X = np.column_stack(cols)
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise InputError("the moderators are collinear (the model matrix is not of full rank)")
    return X, names


def rma(yi, vi, mods=None, *, method: str = "REML", test: str = "z", level: float = 0.95,
        labels=None, intercept: bool = True) -> RMA:
    """Fit metafor's rma.uni: ``rma(yi, vi, method="REML", test="z")``; ``mods`` adds moderators
    (an array, or a DataFrame whose text columns are dummy-coded)."""
    yi, vi = _check(yi, vi)
    method, test = method.upper(), test.lower()
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    if test not in TESTS:
        raise InputError(f"unknown test {test!r}; expected z or knha")
    k = len(yi)
    X, names = design(mods, k, intercept)
    p = X.shape[1]
    need = p + 1 if method not in ("EE", "FE") else p
    if k < max(need, 2 if method not in ("EE", "FE") else 1):
        raise InputError(f"{method} needs at least {max(need, 2)} studies for {p} coefficient(s); got k = {k}")
    if test == "knha" and k <= p:
        raise InputError(f"the Knapp–Hartung test needs k > {p} studies")

    tau2, se_tau2, _ = estimate_tau2(yi, vi, X, method)
    w = 1.0 / (vi + tau2)
    b, A, e = _wls(yi, X, w)
    s2 = float(np.sum(w * e * e)) / (k - p) if k > p else float("nan")
    vb = A * s2 if test == "knha" else A
    se = np.sqrt(np.diag(vb))
    stat = b / se
    a = 1 - level
    if test == "knha":
        pval = 2 * stats.t.sf(np.abs(stat), k - p)
        crit = stats.t.ppf(1 - a / 2, k - p)
    else:
        pval = 2 * stats.norm.sf(np.abs(stat))
        crit = stats.norm.ppf(1 - a / 2)

    # heterogeneity from the equal-effects fit
    w0 = 1.0 / vi
    _, _, e0 = _wls(yi, X, w0)
    q = float(np.sum(w0 * e0 * e0))
    q_pval = float(stats.chi2.sf(q, k - p)) if k > p else float("nan")
    if method in ("EE", "FE"):
        i2 = max(0.0, 100 * (q - (k - p)) / q) if q > 0 else 0.0
        h2 = q / (k - p) if k > p else float("nan")
    else:
        vt = (k - p) / _Traces(X, w0).trP()
        i2, h2 = 100 * tau2 / (tau2 + vt), (tau2 + vt) / vt

    qm = qm_df = qm_pval = r2 = None
    if p > 1:
        idx = slice(1, p) if intercept else slice(0, p)
        bb, vv = b[idx], vb[idx, idx]
        qm_df = len(bb)
        qm = float(bb @ np.linalg.solve(vv, bb))
        if test == "knha":
            qm = qm / qm_df
            qm_pval = float(stats.f.sf(qm, qm_df, k - p))
        else:
            qm_pval = float(stats.chi2.sf(qm, qm_df))
        if intercept and method not in ("EE", "FE"):
            tau2_0, _, _ = estimate_tau2(yi, vi, np.ones((k, 1)), method)
            r2 = 0.0 if tau2_0 <= 0 else max(0.0, 100 * (tau2_0 - tau2) / tau2_0)
    return RMA(yi=yi, vi=vi, X=X, coef_names=names, method=method, test=test, level=level, beta=b, vb=vb, se=se,
               stat=stat, pval=pval, ci_low=b - crit * se, ci_high=b + crit * se, tau2=float(tau2),
               se_tau2=float(se_tau2), i2=float(i2), h2=float(h2), q=q, q_df=k - p, q_pval=q_pval, qm=qm,
               qm_df=qm_df, qm_pval=qm_pval, r2=r2, s2_knha=s2, weights=w,
               labels=list(labels) if labels is not None else [f"Study {i + 1}" for i in range(k)])
