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


# ------------------------------------------------------------------------------------- per paper
# The review's unit of analysis is the paper. A frame has one row per paper, a ``year`` column and extraction
# columns holding a word (family, band) or a list of words (modalities, tasks, adaptation, datasets); empty
# means the field is not extracted for that paper, and the paper drops out of that count only.


def _words(value) -> list:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, (list, tuple, set, np.ndarray)):
        return [v for v in value if v is not None and v == v]
    return [value] if value == value and value != "" else []


def explode_field(frame: pd.DataFrame, column: str, *, year: str = "year") -> pd.DataFrame:
    """One row per (paper, word) of ``column``, with the paper's year; papers without the field or a year drop out."""
    rows = [(i, y, w) for i, (y, v) in enumerate(zip(frame[year], frame[column]))
            if y is not None and y == y for w in dict.fromkeys(_words(v))]
    return pd.DataFrame(rows, columns=["paper", "year", column]).astype({"year": int}) if rows else \
        pd.DataFrame(columns=["paper", "year", column])


def papers_per_year(frame: pd.DataFrame, column: str, *, year: str = "year", order=None, all_years=None) -> pd.DataFrame:
    """Papers per year (rows, every year in range) by the words of ``column`` (columns, in ``order`` where given,
    then the rest sorted). A paper with several words counts once under each, so a row may add up to more
    papers than it has; a paper without the field is not counted."""
    long = explode_field(frame, column, year=year)
    if long.empty:
        return pd.DataFrame()
    table = counts_by_year(long.year, long[column], all_years=all_years)
    cols = [c for c in (order or []) if c in table.columns]
    return table[cols + sorted(c for c in table.columns if c not in cols)]


def papers_with_field(frame: pd.DataFrame, column: str, *, year: str = "year") -> pd.Series:
    """Papers per year that carry ``column`` at all (the denominators of a field's shares)."""
    has = frame[column].map(lambda v: bool(_words(v)))
    years = frame.loc[has, year].dropna().astype(int)
    if years.empty:
        return pd.Series(dtype=int)
    return years.value_counts().reindex(range(int(years.min()), int(years.max()) + 1), fill_value=0).sort_index()


def field_coverage(frame: pd.DataFrame, fields, *, total: int | None = None) -> pd.DataFrame:
    """How many papers carry each extraction field, and where it came from: the ``<field>_from`` column says
    'paper' (read in the paper, its README or card), 'list' (a list that classifies it) or 'inferred'."""
    total = len(frame) if total is None else total
    rows = []
    for f in fields:
        has = frame[f].map(lambda v: bool(_words(v)))
        src = frame.loc[has, f"{f}_from"] if f"{f}_from" in frame.columns else pd.Series([None] * int(has.sum()))
        rows.append({"field": f, "papers": int(has.sum()), "share": float(has.sum() / total) if total else float("nan"),
                     "from_paper": int((src == "paper").sum()), "from_list": int((src == "list").sum()),
                     "inferred": int((src == "inferred").sum())})
    return pd.DataFrame(rows, columns=["field", "papers", "share", "from_paper", "from_list", "inferred"])


def domains_per_year(frame: pd.DataFrame, *, modality: str = "modalities", task: str = "tasks",
                     year: str = "year", top: int | None = None, sep: str = " × ", skip=()) -> pd.DataFrame:
    """Application domains over time: papers per (modality × task) pair (rows, 'ct × segmentation') and year
    (columns). A paper counts once in every pair of its modalities and tasks; papers lacking either drop out.
    ``skip`` names modalities that are no domain of their own (the reports beside X-rays); ``top`` keeps the pairs
    with most papers (ties broken by name)."""
    rows = []
    skip = set(skip)
    for y, ms, ts in zip(frame[year], frame[modality], frame[task]):
        if y is None or y != y:
            continue
        for m in dict.fromkeys(w for w in _words(ms) if w not in skip):
            for t in dict.fromkeys(_words(ts)):
                rows.append((int(y), f"{m}{sep}{t}"))
    if not rows:
        return pd.DataFrame()
    long = pd.DataFrame(rows, columns=["year", "domain"])
    table = pd.crosstab(long.domain, long.year)
    table = table.reindex(columns=range(int(long.year.min()), int(long.year.max()) + 1), fill_value=0)
    totals = table.sum(axis=1)
    order = sorted(table.index, key=lambda d: (-int(totals[d]), d))
    table = table.loc[order[:top] if top else order]
    table.index.name, table.columns.name = "domain", "year"
    return table


def share_trends(table: pd.DataFrame, denominators: pd.Series, min_total: int = 5,
                 min_year_total: int = 5) -> pd.DataFrame:
    """For each column of a papers-per-year table: its share of the year's papers (``denominators``: papers per
    year carrying the field) in the first and last year with at least ``min_year_total`` papers (a share of two
    papers says little), and a Cochran–Armitage test for a linear trend in that share over every year (years
    weigh by their papers). Columns with fewer than ``min_total`` papers are left out."""
    rows = []
    den = denominators.reindex(table.index, fill_value=0)
    for col in table.columns:
        x = table[col].reindex(den.index, fill_value=0)
        if x.sum() < min_total or (den > 0).sum() < 2:
            continue
        chi2, p = trend_in_share(x.to_numpy(), den.to_numpy(), scores=np.asarray(den.index, dtype=float))
        nz = den[den >= min_year_total] if (den >= min_year_total).sum() >= 2 else den[den > 0]
        rows.append({"group": col, "papers": int(x.sum()), "first_year": int(nz.index[0]), "last_year": int(nz.index[-1]),
                     "share_first_year": float(x[nz.index[0]] / nz.iloc[0]),
                     "share_last_year": float(x[nz.index[-1]] / nz.iloc[-1]), "chi2_trend": chi2, "pval": p})
    return pd.DataFrame(rows, columns=["group", "papers", "first_year", "last_year", "share_first_year",
                                       "share_last_year", "chi2_trend", "pval"])
