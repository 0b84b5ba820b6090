"""Sampling variances for reported performance numbers, which ML papers rarely give directly.

The ladder, applied per row, first rung that applies wins (``vi_source`` says which):
  1. reported sampling uncertainty: an ``sd`` over the test cases with ``n`` → SD²/n, a bootstrap SD → SD²;
     ``se`` → SE²; a CI → ((high − low)/(2 z))². What the spread is over comes from the ``uncertainty_over``
     column (cases, bootstrap, runs, folds, not-stated; a frame without the column is taken to report spreads
     over cases). A spread over training runs or folds is not a sampling error of the test set (an SD of 0.1
     over 3 seeds on 20,000 test images is not an SE of 0.1/sqrt(20,000)); nor is an SD whose spread is not
     stated, so neither feeds this rung.
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

Then the training's own variability is added where the source gives it: a value that is the mean of ``runs``
trainings (or folds) with an SD over them has the extra variance SD²/runs (an SE or CI over runs: SE² as
given); ``vi_runs`` holds that part (0 where there is none).
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
    level, n, npos, nneg, runs = col("ci_level"), col("n"), col("n_positive"), col("n_negative"), col("runs")
    metric = out["metric"].astype(str).to_numpy() if "metric" in out else np.array([""] * k)
    if "uncertainty_over" in out:
        over = out["uncertainty_over"].astype(object).where(out["uncertainty_over"].notna(), "not-stated")
        over = over.astype(str).to_numpy()
    else:
        over = np.full(k, "cases", dtype=object)
    of_runs = np.isin(over, ["runs", "folds"])
    vi = np.full(k, np.nan)
    src = np.array([""] * k, dtype=object)

    def fill(mask, values, name):
        # a variance of 0 (e.g. "SD 0.0" over seeds, printed to one decimal) carries no weight information:
        # such rows fall through to the next rung
        values = np.broadcast_to(np.asarray(values, dtype=float), (k,))
        m = mask & np.isnan(vi) & (values > 0)
        vi[m] = values[m]
        src[m] = name

    fill((over == "cases") & ~np.isnan(sd) & ~np.isnan(n) & (n > 0), sd**2 / np.where(n > 0, n, 1), "sd")
    fill((over == "bootstrap") & ~np.isnan(sd), sd**2, "sd")
    fill(~of_runs & ~np.isnan(se), se**2, "se")
    lv = np.where(np.isnan(level), 0.95, level)
    ci_var = ((hi - lo) / (2 * _z(lv))) ** 2
    fill(~of_runs & ~np.isnan(lo) & ~np.isnan(hi), ci_var, "ci")
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
        has_sd = (over == "cases") & (sd > 0) & (np.abs(y) > 0)  # NaN compares False: informative case SDs
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
    # the training's variability, where the value is a mean over runs (or folds) and the source gives its spread
    extra = np.where(~np.isnan(sd) & (runs >= 2), sd**2 / np.where(runs >= 2, runs, 1),
                     np.where(~np.isnan(se), se**2, np.where(~np.isnan(lo) & ~np.isnan(hi), ci_var, np.nan)))
    extra = np.where(of_runs & (extra > 0) & ~np.isnan(vi), extra, 0.0)
    out["vi"], out["vi_source"], out["vi_runs"] = vi + extra, src, extra
    return out
