"""Trends in the literature: counts per year, growth rates from a Poisson (or negative-binomial) GLM, and a
chi-square test for trend in shares (Cochran–Armitage).

Growth: log E[count_t] = a + b·t; annual growth rate = exp(b) − 1 with its Wald CI exp(b ± z·SE) − 1.
Years inside the observed range with no entries count as zeros. When the Pearson dispersion exceeds 1.5 a
negative-binomial GLM (alpha estimated) replaces the Poisson one and the result says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .errors import InputError


@dataclass
class Growth:
    group: str
    years: tuple[int, int]
    total: int
    rate: float
    ci_low: float
    ci_high: float
    pval: float
    family: str


def counts_by_year(years, groups=None, *, all_years=None) -> pd.DataFrame:
    """Table of counts: one row per year (every year in range), one column per group."""
    years = pd.Series(np.asarray(years)).dropna().astype(int)
    if years.empty:
        return pd.DataFrame()
    g = pd.Series(np.asarray(groups) if groups is not None else ["all"] * len(years)).loc[years.index]
    table = pd.crosstab(years.to_numpy(), g.astype(str).to_numpy())
    span = all_years or range(int(years.min()), int(years.max()) + 1)
    table = table.reindex(list(span), fill_value=0)
    table.index.name, table.columns.name = "year", None
    return table


def growth(counts: pd.Series, group: str = "all", level: float = 0.95) -> Growth:
    """Annual growth rate of a yearly count series (index = year)."""
    import statsmodels.api as sm

    counts = counts.astype(float)
    if len(counts) < 3 or counts.sum() == 0:
        raise InputError(f"{group}: need counts in at least 3 years to estimate growth")
    t = np.asarray(counts.index, dtype=float) - float(counts.index.min())
    X = sm.add_constant(t)
    import warnings

    with warnings.catch_warnings():  # perfect fits (exact doubling) are fine here
        warnings.simplefilter("ignore")
        fit = sm.GLM(counts.to_numpy(), X, family=sm.families.Poisson()).fit()
    family = "poisson"
    dispersion = fit.pearson_chi2 / max(fit.df_resid, 1)
    if dispersion > 1.5 and (counts > 0).sum() >= 4:
        try:
            nb = sm.NegativeBinomial(counts.to_numpy(), X).fit(disp=0, maxiter=200)
            if nb.mle_retvals.get("converged", True):
                b, se, p = float(nb.params[1]), float(nb.bse[1]), float(nb.pvalues[1])
                family = "negative-binomial"
                z = stats.norm.ppf(0.5 + level / 2)
                return Growth(group, (int(counts.index.min()), int(counts.index.max())), int(counts.sum()),
                              float(np.expm1(b)), float(np.expm1(b - z * se)), float(np.expm1(b + z * se)), p, family)
        except Exception:  # fall back to the Poisson fit, said in `family`
            family = "poisson (negative-binomial did not converge)"
    b, se, p = float(fit.params[1]), float(fit.bse[1]), float(fit.pvalues[1])
    z = stats.norm.ppf(0.5 + level / 2)
    return Growth(group, (int(counts.index.min()), int(counts.index.max())), int(counts.sum()),
                  float(np.expm1(b)), float(np.expm1(b - z * se)), float(np.expm1(b + z * se)), p, family)


def growth_table(table: pd.DataFrame, min_total: int = 5) -> pd.DataFrame:
    rows = []
    for col in table.columns:
        if table[col].sum() < min_total or (table[col] > 0).sum() < 2:
            continue
        try:
            g = growth(table[col], str(col))
        except InputError:
            continue
        rows.append({"group": g.group, "first_year": g.years[0], "last_year": g.years[1], "n": g.total,
                     "annual_growth": g.rate, "ci_low": g.ci_low, "ci_high": g.ci_high, "pval": g.pval,
                     "model": g.family})
    return pd.DataFrame(rows, columns=["group", "first_year", "last_year", "n", "annual_growth", "ci_low", "ci_high",
                                       "pval", "model"])


def trend_in_share(successes, totals, scores=None) -> tuple[float, float]:
    """Cochran–Armitage chi-square test for a linear trend in proportions (1 df): (statistic, p)."""
    x = np.asarray(successes, dtype=float)
    n = np.asarray(totals, dtype=float)
    keep = n > 0
    x, n = x[keep], n[keep]
    s = np.arange(len(x), dtype=float) if scores is None else np.asarray(scores, dtype=float)[keep]
    if len(x) < 2 or n.sum() == 0:
        raise InputError("need at least two non-empty years for a trend test")
    N, X = n.sum(), x.sum()
    p = X / N
    if p in (0.0, 1.0):
        return 0.0, 1.0
    t = np.sum(s * (x - n * p))
    var = p * (1 - p) * (np.sum(n * s**2) - np.sum(n * s) ** 2 / N)
    if var <= 0:
        return 0.0, 1.0
    chi2 = t**2 / var
    return float(chi2), float(stats.chi2.sf(chi2, 1))
