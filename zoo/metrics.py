"""Evaluation metrics (numpy only) and a seeded percentile bootstrap.

AUC is the Mann–Whitney statistic with mid-ranks for ties (= scikit-learn's roc_auc_score); macro AUC averages
one-vs-rest AUCs, weighted AUC weights them by class prevalence. Balanced accuracy is the mean per-class recall. Dice = 2|A∩B|/(|A|+|B|) (1 when both empty).
NSD (normalised surface Dice, Nikolov et al. 2021) counts boundary pixels within ``tolerance`` pixels of the other
boundary.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, stats


def auc(y_true, score) -> float:
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(score, dtype=float)
    npos, nneg = int(y.sum()), int((~y).sum())
    if npos == 0 or nneg == 0:
        raise ValueError("AUC needs positive and negative cases")
    ranks = stats.rankdata(s)
    return float((ranks[y].sum() - npos * (npos + 1) / 2) / (npos * nneg))


def macro_auc(y_true, scores) -> float:
    y = np.asarray(y_true)
    scores = np.asarray(scores)
    if scores.ndim == 1:
        return auc(y, scores)
    return float(np.mean([auc(y == c, scores[:, c]) for c in range(scores.shape[1]) if 0 < (y == c).sum() < len(y)]))


def weighted_auc(y_true, scores) -> float:
    """One-vs-rest AUCs averaged with weights = class prevalence (scikit-learn's average='weighted')."""
    y = np.asarray(y_true)
    scores = np.asarray(scores)
    if scores.ndim == 1:
        return auc(y, scores)
    cols = [c for c in range(scores.shape[1]) if 0 < (y == c).sum() < len(y)]
    if not cols:
        raise ValueError("AUC needs positive and negative cases")
    w = np.array([(y == c).sum() for c in cols], dtype=float)
    return float(np.average([auc(y == c, scores[:, c]) for c in cols], weights=w))


def accuracy(y_true, y_pred) -> float:
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def balanced_accuracy(y_true, y_pred) -> float:
    y, p = np.asarray(y_true), np.asarray(y_pred)
    return float(np.mean([np.mean(p[y == c] == c) for c in np.unique(y)]))


def dice(pred, gt) -> float:
    a, b = np.asarray(pred).astype(bool), np.asarray(gt).astype(bool)
    denom = a.sum() + b.sum()
    return 1.0 if denom == 0 else float(2 * np.logical_and(a, b).sum() / denom)


def _border(m):
    return m & ~ndimage.binary_erosion(m)


def nsd(pred, gt, tolerance: float = 1.0) -> float:
    a, b = np.asarray(pred).astype(bool), np.asarray(gt).astype(bool)
    ba, bb = _border(a), _border(b)
    if not ba.any() and not bb.any():
        return 1.0
    if not ba.any() or not bb.any():
        return 0.0
    da, db = ndimage.distance_transform_edt(~ba), ndimage.distance_transform_edt(~bb)
    return float(((db[ba] <= tolerance).sum() + (da[bb] <= tolerance).sum()) / (ba.sum() + bb.sum()))


def bootstrap_ci(metric, *arrays, n: int = 1000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of ``metric(*arrays)`` resampling cases (rows) with replacement."""
    rng = np.random.default_rng(seed)
    k = len(arrays[0])
    vals = []
    for _ in range(n):
        idx = rng.integers(0, k, k)
        try:
            vals.append(metric(*(np.asarray(a)[idx] for a in arrays)))
        except ValueError:  # a resample without both classes
            continue
    if not vals:
        raise ValueError(f"none of the {n} bootstrap resamples could be scored (each lacked a class the metric needs)")
    a = (1 - level) / 2
    return float(np.quantile(vals, a)), float(np.quantile(vals, 1 - a))
