"""Effect sizes: metafor's ``escalc`` (same measure names, formulas and zero-cell defaults) plus the measures
machine-learning papers need (AUC with the Hanley–McNeil variance, proportions on the logit scale, mean
metrics such as Dice).

All functions take array-likes and return ``(yi, vi)`` as float arrays; :func:`escalc` works on a DataFrame
and appends ``yi`` and ``vi`` columns. Sampling variances follow metafor's default ``vtype="LS"``.
Zero cells: for RR, OR and RD, ``add=1/2`` is added to every cell of a table that has a zero (metafor's
``to="only0"``); for PLO and PR, to the events and non-events of a study with a zero; PAS and PFT need none.

References: Viechtbauer (2010), metafor ``escalc`` documentation; Hanley & McNeil (1982) Radiology 143:29–36.
"""

from __future__ import annotations


import numpy as np
import pandas as pd
from scipy.special import gammaln

from .errors import InputError

MEASURES = ("RR", "OR", "RD", "SMD", "MD", "ROM", "PLO", "PR", "PAS", "PFT", "ZCOR", "COR", "AUC", "MN")

# the columns each measure reads, named as metafor's arguments
COLUMNS = {
    "RR": ("ai", "bi", "ci", "di"), "OR": ("ai", "bi", "ci", "di"), "RD": ("ai", "bi", "ci", "di"),
    "SMD": ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"), "MD": ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"),
    "ROM": ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"),
    "PLO": ("xi", "ni"), "PR": ("xi", "ni"), "PAS": ("xi", "ni"), "PFT": ("xi", "ni"),
    "ZCOR": ("ri", "ni"), "COR": ("ri", "ni"),
    "AUC": ("auc", "npos", "nneg"),
    "MN": ("mi", "sdi", "ni"),
}


def _arr(name: str, x) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    bad = ~np.isfinite(a)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"row {i + 1}, column {name}: expected a finite number, got {a[i]}")
    return a


def _nonneg(name: str, a: np.ndarray) -> None:
    if (a < 0).any():
        i = int(np.flatnonzero(a < 0)[0])
        raise InputError(f"row {i + 1}, column {name}: counts cannot be negative (got {a[i]:g})")


def _positive(name: str, a: np.ndarray) -> None:
    if (a <= 0).any():
        i = int(np.flatnonzero(a <= 0)[0])
        raise InputError(f"row {i + 1}, column {name}: must be positive (got {a[i]:g})")


def two_by_two(measure: str, ai, bi, ci, di, add: float = 0.5):
    """RR (log risk ratio), OR (log odds ratio), RD (risk difference) from 2×2 tables."""
    ai, bi, ci, di = (_arr(n, v) for n, v in zip(("ai", "bi", "ci", "di"), (ai, bi, ci, di)))
    for n, v in zip(("ai", "bi", "ci", "di"), (ai, bi, ci, di)):
        _nonneg(n, v)
    zero = (ai == 0) | (bi == 0) | (ci == 0) | (di == 0)
    ai, bi, ci, di = (v + add * zero for v in (ai, bi, ci, di))
    n1, n2 = ai + bi, ci + di
    _positive("ai+bi", n1)
    _positive("ci+di", n2)
    p1, p2 = ai / n1, ci / n2
    with np.errstate(divide="ignore"):
        if measure == "RR":
            return np.log(p1) - np.log(p2), 1 / ai - 1 / n1 + 1 / ci - 1 / n2
        if measure == "OR":
            return np.log(p1 / (1 - p1)) - np.log(p2 / (1 - p2)), 1 / ai + 1 / bi + 1 / ci + 1 / di
        if measure == "RD":
            return p1 - p2, p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2
    raise InputError(f"unknown 2x2 measure {measure!r}")


def _cmi(m: np.ndarray) -> np.ndarray:
    """Exact small-sample correction factor of Hedges' g (metafor's .cmicalc)."""
    return np.exp(gammaln(m / 2) - 0.5 * np.log(m / 2) - gammaln((m - 1) / 2))


def two_means(measure: str, m1i, sd1i, n1i, m2i, sd2i, n2i):
    """SMD (bias-corrected Hedges' g), MD (raw mean difference), ROM (log ratio of means)."""
    m1, s1, n1, m2, s2, n2 = (_arr(n, v) for n, v in zip(COLUMNS["MD"], (m1i, sd1i, n1i, m2i, sd2i, n2i)))
    for name, v in (("sd1i", s1), ("sd2i", s2)):
        _nonneg(name, v)
    for name, v in (("n1i", n1), ("n2i", n2)):
        _positive(name, v)
    if measure == "MD":
        return m1 - m2, s1**2 / n1 + s2**2 / n2
    if measure == "SMD":
        m = n1 + n2 - 2
        sp = np.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / m)
        yi = _cmi(m) * (m1 - m2) / sp
        return yi, 1 / n1 + 1 / n2 + yi**2 / (2 * (n1 + n2))
    if measure == "ROM":
        _positive("m1i", m1)
        _positive("m2i", m2)
        return np.log(m1 / m2), s1**2 / (n1 * m1**2) + s2**2 / (n2 * m2**2)
    raise InputError(f"unknown two-group measure {measure!r}")


def proportions(measure: str, xi, ni, add: float = 0.5):
    """PLO (logit), PR (raw), PAS (arcsine), PFT (Freeman–Tukey double arcsine) of xi events out of ni."""
    x, n = _arr("xi", xi), _arr("ni", ni)
    _nonneg("xi", x)
    _positive("ni", n)
    if (x > n).any():
        i = int(np.flatnonzero(x > n)[0])
        raise InputError(f"row {i + 1}, column xi: {x[i]:g} events is more than ni = {n[i]:g}")
    if measure == "PAS":
        return np.arcsin(np.sqrt(x / n)), 1 / (4 * n)
    if measure == "PFT":
        return 0.5 * (np.arcsin(np.sqrt(x / (n + 1))) + np.arcsin(np.sqrt((x + 1) / (n + 1)))), 1 / (4 * n + 2)
    m = n - x
    zero = (x == 0) | (m == 0)
    x, m = x + add * zero, m + add * zero
    n = x + m
    p = x / n
    if measure == "PLO":
        return np.log(p / (1 - p)), 1 / x + 1 / m
    if measure == "PR":
        return p, p * (1 - p) / n
    raise InputError(f"unknown proportion measure {measure!r}")


def correlations(measure: str, ri, ni):
    """ZCOR (Fisher's z) and COR (raw correlation)."""
    r, n = _arr("ri", ri), _arr("ni", ni)
    if ((r <= -1) | (r >= 1)).any():
        i = int(np.flatnonzero((r <= -1) | (r >= 1))[0])
        raise InputError(f"row {i + 1}, column ri: a correlation must lie in (-1, 1), got {r[i]:g}")
    if (n <= 3).any():
        i = int(np.flatnonzero(n <= 3)[0])
        raise InputError(f"row {i + 1}, column ni: need more than 3 observations, got {n[i]:g}")
    if measure == "ZCOR":
        return np.arctanh(r), 1 / (n - 3)
    return r, (1 - r**2) ** 2 / (n - 1)


def hanley_mcneil(auc, npos, nneg):
    """AUC and its Hanley–McNeil (1982) variance.

    Var(A) = [A(1−A) + (n₊−1)(Q₁−A²) + (n₋−1)(Q₂−A²)] / (n₊ n₋),  Q₁ = A/(2−A),  Q₂ = 2A²/(1+A).
    """
    a, p, q = _arr("auc", auc), _arr("npos", npos), _arr("nneg", nneg)
    if ((a < 0) | (a > 1)).any():
        i = int(np.flatnonzero((a < 0) | (a > 1))[0])
        raise InputError(f"row {i + 1}, column auc: expected a value in [0, 1] (a fraction), got {a[i]:g}")
    _positive("npos", p)
    _positive("nneg", q)
    q1, q2 = a / (2 - a), 2 * a**2 / (1 + a)
    v = (a * (1 - a) + (p - 1) * (q1 - a**2) + (q - 1) * (q2 - a**2)) / (p * q)
    return a, v


def mean_metric(mi, sdi=None, ni=None, ci_low=None, ci_high=None, level: float = 0.95):
    """A mean metric (e.g. Dice over cases): variance SD²/n, or from a normal-theory CI ((hi−lo)/(2z))²."""
    m = _arr("mi", mi)
    if sdi is not None:
        s, n = _arr("sdi", sdi), _arr("ni", ni)
        _nonneg("sdi", s)
        _positive("ni", n)
        return m, s**2 / n
    lo, hi = _arr("ci_low", ci_low), _arr("ci_high", ci_high)
    z = _z(level)
    return m, ((hi - lo) / (2 * z)) ** 2


def _z(level: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.5 + level / 2))


def escalc(measure: str, data: pd.DataFrame | None = None, *, add: float = 0.5, **columns) -> pd.DataFrame:
    """metafor's escalc: ``escalc("OR", df, ai="tpos", bi="tneg", ci="cpos", di="cneg")``.

    ``columns`` map metafor's argument names to column names of ``data`` (or to arrays when data is None).
    Returns a copy of ``data`` with ``yi`` and ``vi`` appended.
    """
    measure = measure.upper()
    if measure not in COLUMNS:
        raise InputError(f"unknown measure {measure!r}; expected one of {', '.join(MEASURES)}")
    need = COLUMNS[measure]
    missing = [c for c in need if c not in columns]
    if missing:
        raise InputError(f"measure {measure} needs {', '.join('--' + c for c in missing)}")

    def get(arg):
        col = columns[arg]
        if data is None:
            return np.asarray(col, dtype=float)
        if isinstance(col, str):
            if col not in data.columns:
                raise InputError(f"no column {col!r} (given for {arg}); columns are: {', '.join(map(str, data.columns))}")
            try:
                return _arr(col, pd.to_numeric(data[col], errors="raise"))
            except (ValueError, TypeError) as e:
                raise InputError(f"column {col}: expected numbers ({e})") from None
        return np.asarray(col, dtype=float)

    vals = [get(a) for a in need]
    if measure in ("RR", "OR", "RD"):
        yi, vi = two_by_two(measure, *vals, add=add)
    elif measure in ("SMD", "MD", "ROM"):
        yi, vi = two_means(measure, *vals)
    elif measure in ("PLO", "PR", "PAS", "PFT"):
        yi, vi = proportions(measure, *vals, add=add)
    elif measure in ("ZCOR", "COR"):
        yi, vi = correlations(measure, *vals)
    elif measure == "AUC":
        yi, vi = hanley_mcneil(*vals)
    else:
        yi, vi = mean_metric(*vals)
    out = data.copy() if data is not None else pd.DataFrame({a: v for a, v in zip(need, vals)})
    out["yi"], out["vi"] = yi, vi
    return out


def logit(p):
    p = np.asarray(p, dtype=float)
    return np.log(p / (1 - p))


def expit(x):
    return 1 / (1 + np.exp(-np.asarray(x, dtype=float)))


__all__ = ["COLUMNS", "MEASURES", "correlations", "escalc", "expit", "hanley_mcneil", "logit", "mean_metric",
           "proportions", "two_by_two", "two_means"]

