"""Sampling variances for reported performance numbers, which ML papers rarely give directly.

The ladder, applied per row, first rung that applies wins (``vi_source`` says which):
  1. reported uncertainty: ``sd`` with ``n`` → SD²/n; ``se`` → SE²; a CI → ((high − low)/(2 z))²
  2. ``binomial`` for a proportion of the counted cases, with its denominator: accuracy (and balanced accuracy,
     approximately) over n, sensitivity over ``n_positive``, specificity over ``n_negative``: p(1−p)/denominator.
     Only where the cases are what the proportion counts: on rows whose ``task`` (when the frame has one) is
     case-level (classification, prognosis, VQA, retrieval). A segmentation's pixel accuracy or a detection's
     precision is a proportion of pixels or objects, not of the n images, and precision's denominator (the
     predicted positives) is never known: those rows fall through.
  3. ``hanley-mcneil`` for AUC with positives and negatives (Hanley & McNeil 1982)
  A reported SD, SE or CI of zero (a rounded spread) does not count as reported: the row falls through.
  4. ``imputed``: from the median coefficient of variation (SD/mean) of the rows that report an SD, as
     (CV·value)²/n when n is known; otherwise the median of the variances the other rows of the set report
     (rungs 1–3: "a typical precision"); and when nothing in the set allows a variance, every row gets the
     sample variance of the values (an equal-weight analysis; its pooled SE is the SE of the mean).
Imputed rows are flagged so a sensitivity analysis can drop them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .effects import hanley_mcneil

# metric -> the column that holds the proportion's denominator
BINOMIAL_METRICS = {"accuracy": "n", "balanced-accuracy": "n", "sensitivity": "n_positive", "specificity": "n_negative"}
CASE_TASKS = {"classification", "prognosis", "vqa", "retrieval"}  # tasks whose n counts the proportion's units


def _z(level) -> np.ndarray:
    return stats.norm.ppf(0.5 + np.asarray(level, dtype=float) / 2)


def derive_variances(df: pd.DataFrame, value: str = "value") -> pd.DataFrame:
    """Add ``vi`` and ``vi_source`` to a frame with columns value, metric and (optional) sd, se, ci_low,
    ci_high, ci_level, n, n_positive, n_negative (all on the value's scale)."""
    out = df.copy()
    k = len(out)
    col = lambda c: pd.to_numeric(out[c], errors="coerce").to_numpy(dtype=float) if c in out else np.full(k, np.nan)
    y, sd, se, lo, hi = col(value), col("sd"), col("se"), col("ci_low"), col("ci_high")
    level, n, npos, nneg = col("ci_level"), col("n"), col("n_positive"), col("n_negative")
    metric = out["metric"].astype(str).to_numpy() if "metric" in out else np.array([""] * k)
    vi = np.full(k, np.nan)
    src = np.array([""] * k, dtype=object)

    def fill(mask, values, name):
        # a variance of 0 (e.g. "SD 0.0" over seeds, printed to one decimal) carries no weight information:
        # such rows fall through to the next rung
        values = np.broadcast_to(np.asarray(values, dtype=float), (k,))
        m = mask & np.isnan(vi) & (values > 0)
        vi[m] = values[m]
        src[m] = name

    fill(~np.isnan(sd) & ~np.isnan(n) & (n > 0), sd**2 / np.where(n > 0, n, 1), "sd")
    fill(~np.isnan(se), se**2, "se")
    lv = np.where(np.isnan(level), 0.95, level)
    fill(~np.isnan(lo) & ~np.isnan(hi), ((hi - lo) / (2 * _z(lv))) ** 2, "ci")
    counts = {"n": n, "n_positive": npos, "n_negative": nneg}
    denom = np.full(k, np.nan)
    for m, c in BINOMIAL_METRICS.items():
        denom = np.where(metric == m, counts[c], denom)
    if "task" in out:  # rows without a task (a user's own frame) are taken to count cases
        task = out["task"]
        denom = np.where(task.isna().to_numpy() | task.isin(CASE_TASKS).to_numpy(), denom, np.nan)
    binom = ~np.isnan(denom) & (denom > 0)
    fill(binom, y * (1 - y) / np.where(binom, denom, 1), "binomial")
    auc = (metric == "auc") & ~np.isnan(npos) & ~np.isnan(nneg) & (npos > 0) & (nneg > 0)
    if auc.any():
        v = np.full(k, np.nan)
        v[auc] = hanley_mcneil(np.clip(y[auc], 0, 1), npos[auc], nneg[auc])[1]
        fill(auc, v, "hanley-mcneil")
    missing = np.isnan(vi)
    if missing.any():
        has_sd = (sd > 0) & (np.abs(y) > 0)  # NaN compares False: only informative SDs
        if has_sd.any():
            cv = float(np.median(sd[has_sd] / np.abs(y[has_sd])))
            fill(missing & ~np.isnan(n) & (n > 0), (cv * y) ** 2 / np.where(n > 0, n, 1), "imputed")
        still = np.isnan(vi)
        if still.any():
            known = ~np.isnan(vi) & (src != "imputed")
            if known.any():  # others in the set report a precision: assume a typical one
                fallback = float(np.median(vi[known]))
            else:  # nothing does: equal weights, the spread of the values themselves
                pool = y[~np.isnan(y)]
                fallback = float(np.var(pool, ddof=1)) if len(pool) > 1 else np.nan
            fill(still, fallback, "imputed")
    vi = np.where(vi <= 0, np.nan, vi)
    out["vi"], out["vi_source"] = vi, src
    return out
