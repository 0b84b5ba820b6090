"""The missing-variance ladder, rung by rung, by hand."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from fmreview.analysis.effects import hanley_mcneil
from fmreview.analysis.variance import derive_variances


def test_each_rung():
    df = pd.DataFrame([
        {"metric": "dice", "value": 0.8, "sd": 0.1, "n": 25},                          # sd²/n
        {"metric": "dice", "value": 0.8, "se": 0.03},                                  # se²
        {"metric": "dice", "value": 0.8, "ci_low": 0.7, "ci_high": 0.9},               # ((hi-lo)/2z)²
        {"metric": "accuracy", "value": 0.9, "n": 100},                                # p(1-p)/n
        {"metric": "auc", "value": 0.85, "n_positive": 40, "n_negative": 60},          # Hanley-McNeil
        {"metric": "accuracy", "value": 0.9, "sd": 0.0, "n": 50},                      # SD 0 falls through
        {"metric": "dice", "value": 0.6, "n": 36},                                     # imputed from median CV
    ])
    out = derive_variances(df)
    z = stats.norm.ppf(0.975)
    expect = [0.01 / 25, 0.0009, (0.2 / (2 * z)) ** 2, 0.09 / 100, float(hanley_mcneil([0.85], [40], [60])[1][0]),
              0.09 / 50, (0.1 / 0.8 * 0.6) ** 2 / 36]
    np.testing.assert_allclose(out.vi, expect, rtol=1e-12)
    assert out.vi_source.tolist() == ["sd", "se", "ci", "binomial", "hanley-mcneil", "binomial", "imputed"]


def test_nothing_reported_means_equal_weights():
    out = derive_variances(pd.DataFrame({"metric": ["dice"] * 3, "value": [0.7, 0.8, 0.9]}))
    assert out.vi.tolist() == pytest.approx([0.01] * 3) and set(out.vi_source) == {"imputed"}


def test_rows_without_n_next_to_rows_with_n_get_the_median_reported_variance():
    """Mixed sets (n for some benchmarks only) impute a typical sampling variance, not the spread of the values."""
    df = pd.DataFrame([
        {"metric": "accuracy", "value": 0.5, "n": 100},    # 0.0025
        {"metric": "accuracy", "value": 0.9, "n": 900},    # 0.0001
        {"metric": "accuracy", "value": 0.8, "n": 400},    # 0.0004
        {"metric": "accuracy", "value": 0.3},              # no n: median of the three
    ])
    out = derive_variances(df)
    assert out.vi.tolist() == pytest.approx([0.0025, 0.0001, 0.0004, 0.0004])
    assert out.vi_source.tolist() == ["binomial"] * 3 + ["imputed"]


def test_binomial_needs_the_proportions_own_denominator_and_case_level_units():
    """p(1-p)/m only where m counts what the proportion counts: n for accuracy, positives for sensitivity,
    negatives for specificity; never for precision (its denominator, the predicted positives, is not reported),
    and never for a segmentation's pixel accuracy or a detection's object-level recall over n images."""
    df = pd.DataFrame([
        {"metric": "sensitivity", "value": 0.8, "n": 200, "n_positive": 50, "task": "classification"},
        {"metric": "specificity", "value": 0.9, "n": 200, "n_negative": 150, "task": "classification"},
        {"metric": "sensitivity", "value": 0.8, "n": 200, "task": "classification"},   # positives unknown
        {"metric": "precision", "value": 0.7, "n": 200, "task": "classification"},
        {"metric": "accuracy", "value": 0.95, "n": 40, "task": "segmentation"},      # pixel accuracy
        {"metric": "sensitivity", "value": 0.85, "n": 40, "n_positive": 40, "task": "detection"},
        {"metric": "accuracy", "value": 0.6, "n": 500, "task": "vqa"},
        {"metric": "accuracy", "value": 0.5, "n": 100, "task": None},                # a user's frame: cases
    ])
    out = derive_variances(df)
    assert out.vi_source.tolist() == ["binomial", "binomial", "imputed", "imputed", "imputed", "imputed",
                                      "binomial", "binomial"]
    np.testing.assert_allclose(out.vi[[0, 1, 6, 7]], [0.16 / 50, 0.09 / 150, 0.24 / 500, 0.25 / 100], rtol=1e-12)


def test_a_spread_over_training_runs_is_not_a_sampling_error():
    """An SD over 3 seeds on 1,000 test images is not an SE of SD/sqrt(1000): the test set's sampling variance
    comes from the other rungs, and the seeds' variability is added as SD²/runs."""
    df = pd.DataFrame([
        {"metric": "accuracy", "value": 0.9, "sd": 0.02, "n": 1000, "uncertainty_over": "runs", "runs": 3,
         "task": "classification"},
        {"metric": "dice", "value": 0.8, "sd": 0.1, "n": 25, "uncertainty_over": "cases"},
        {"metric": "auc", "value": 0.8, "sd": 0.01, "uncertainty_over": "bootstrap"},        # bootstrap SD = SE
        {"metric": "dice", "value": 0.7, "sd": 0.03, "n": 50, "uncertainty_over": None},      # not stated
        {"metric": "dice", "value": 0.75, "se": 0.02, "uncertainty_over": "folds"},           # SE over folds
    ])
    out = derive_variances(df)
    cv = 0.1 / 0.8  # the one case-level SD is what imputation learns from
    expect = [0.09 / 1000 + 0.02**2 / 3, 0.01 / 25, 0.0001, (cv * 0.7) ** 2 / 50]
    np.testing.assert_allclose(out.vi[:4], expect, rtol=1e-12)
    assert out.vi_source.tolist()[:4] == ["binomial", "sd", "sd", "imputed"]
    np.testing.assert_allclose(out.vi_runs, [0.02**2 / 3, 0, 0, 0, 0.02**2], rtol=1e-12)
    # the folds row: no sampling rung applies (no n), so it is imputed (median of the reported ones), plus SE²
    assert out.vi_source[4] == "imputed"
    assert out.vi[4] == pytest.approx(np.median([0.09 / 1000, 0.01 / 25, 0.0001]) + 0.02**2)
