"""Rank-based comparison of many treatments (models) over many blocks (datasets), as machine learning does it.

Demšar (2006), *Statistical comparisons of classifiers over multiple data sets*, JMLR 7:1–30, and
Benavoli, Corani & Mangili (2016), *Should we really use post-hoc tests based on mean-ranks?*, JMLR 17:1–10.

Within each complete block (every treatment has a value) the k treatments are ranked, 1 = best, ties getting the
average of the ranks they span. With rᵢⱼ the rank of treatment j in block i and N complete blocks:

  mean rank        R̄ⱼ = (1/N) Σᵢ rᵢⱼ
  Friedman         χ²_F = [12/(N k (k+1)) Σⱼ Rⱼ² − 3 N (k+1)] / C,   Rⱼ = N R̄ⱼ,   df = k − 1
                   C = 1 − Σ (t³ − t) / (N k (k² − 1)) over every group of t tied values in a block
                   (C = 1 without ties; this is scipy.stats.friedmanchisquare)
  Nemenyi          two treatments differ when |R̄ⱼ − R̄ₗ| ≥ CD = q_α √(k (k+1) / (6 N)),
                   q_α = Q₁₋α(k, ∞) / √2, Q the studentized range distribution; the pairwise p-value is
                   P(Q(k, ∞) ≥ √2 |R̄ⱼ − R̄ₗ| / √(k (k+1) / (6 N)))  (scikit-posthocs' posthoc_nemenyi_friedman)
  Wilcoxon–Holm    each pair by the Wilcoxon signed-rank test over the same N blocks (scipy.stats.wilcoxon,
                   its defaults), the k(k−1)/2 p-values adjusted by Holm's step-down method. Benavoli et al.
                   recommend this over the mean-rank tests, whose verdict on a pair depends on the other
                   treatments in the comparison.

Blocks missing a treatment are dropped (and reported): ranks are only comparable over the same k treatments.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .errors import InputError

#: keys of :meth:`RankComparison.to_dict` (the ``fmreview rank --format json`` contract)
PAIR_COLUMNS = ("a", "b", "mean_rank_diff", "nemenyi_pval", "wilcoxon_stat", "wilcoxon_pval", "wilcoxon_pval_holm",
                "n")


def nemenyi_q(k: int, alpha: float = 0.05) -> float:
    """Nemenyi's critical value q_α for k treatments: Q₁₋α(k, ∞)/√2 ≈ 2.3437 for k = 3 (Demšar 2006, Table 5a)."""
    if k < 2:
        raise InputError(f"the Nemenyi test needs at least 2 treatments, got k = {k}")
    if not 0 < alpha < 1:
        raise InputError(f"alpha must lie strictly between 0 and 1, got {alpha}")
    return float(stats.studentized_range.ppf(1 - alpha, k, np.inf) / np.sqrt(2))


def critical_difference(k: int, n: int, alpha: float = 0.05) -> float:
    """Nemenyi critical difference of mean ranks: CD = q_α √(k (k+1) / (6 N)) (Demšar 2006, §3.2.2)."""
    if n < 1:
        raise InputError(f"the critical difference needs at least 1 block, got N = {n}")
    return nemenyi_q(k, alpha) * float(np.sqrt(k * (k + 1) / (6.0 * n)))


def holm(pvals) -> np.ndarray:
    """Holm's (1979) step-down adjusted p-values, in the order given.

    With p₍₁₎ ≤ … ≤ p₍ₘ₎: p̃₍ᵢ₎ = min(1, maxⱼ≤ᵢ (m − j + 1) p₍ⱼ₎). The running maximum keeps the adjusted values
    in the order of the raw ones (a hypothesis is rejected only if every smaller one is), the cap keeps them
    probabilities. Equals statsmodels' ``multipletests(method="holm")``.
    """
    p = np.asarray(pvals, dtype=float).ravel()
    if p.size == 0:
        return p.copy()
    if not np.all(np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise InputError(f"Holm's method needs p-values in [0, 1], got {p.tolist()}")
    m = p.size
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(stepped, 1.0)
    return out


def _tie_term(values: np.ndarray) -> float:
    """Σ (t³ − t) over the groups of tied values in one block."""
    _, t = np.unique(values, return_counts=True)
    return float(np.sum(t.astype(float) ** 3 - t))


@dataclass
class RankComparison:
    """Friedman test, mean ranks, Nemenyi critical difference and Wilcoxon–Holm pairs of k treatments over N blocks.

    ``treatments`` are ordered best first (by mean rank, then name); ``ranks`` is the N×k matrix of within-block
    ranks (1 = best) in the order of ``blocks`` and ``treatments``; ``pairs`` has one row per pair, ``a`` the
    better-ranked of the two, ``mean_rank_diff`` = R̄_b − R̄_a ≥ 0 and ``n`` the blocks the pair was compared on.
    """

    treatments: list
    blocks: list
    dropped_blocks: list
    ranks: np.ndarray
    mean_ranks: np.ndarray
    friedman_stat: float
    friedman_df: int
    friedman_pval: float
    alpha: float
    q_alpha: float
    cd: float
    lower_is_better: bool
    pairs: pd.DataFrame = field(repr=False)

    @property
    def k(self) -> int:
        return len(self.treatments)

    @property
    def n_blocks(self) -> int:
        return len(self.blocks)

    def cliques(self) -> list[list]:
        """Maximal groups of treatments (consecutive in rank order) whose mean ranks all lie within less than CD of
        each other: the groups Nemenyi's test cannot tell apart, drawn as bars in the CD diagram. Treatments
        different from every other one form no clique."""
        r = self.mean_ranks
        out, reach = [], 0
        for i in range(self.k):
            j = i
            while j + 1 < self.k and r[j + 1] - r[i] < self.cd:
                j += 1
            if j > i and j > reach:  # not inside the previous group
                out.append(self.treatments[i:j + 1])
                reach = j
        return out

    def to_frame(self) -> pd.DataFrame:
        """The pairs: one row per pair of treatments (columns as in ``to_dict()['pairs']``)."""
        return self.pairs.copy()

    def to_dict(self) -> dict:
        """JSON-ready: n_blocks, friedman {stat, pval}, mean_ranks, cd, pairs, and the settings used."""
        pairs = [{"a": str(r.a), "b": str(r.b), "mean_rank_diff": float(r.mean_rank_diff),
                  "nemenyi_pval": float(r.nemenyi_pval), "wilcoxon_stat": float(r.wilcoxon_stat),
                  "wilcoxon_pval": float(r.wilcoxon_pval), "wilcoxon_pval_holm": float(r.wilcoxon_pval_holm),
                  "n": int(r.n)} for r in self.pairs.itertuples(index=False)]
        return {
            "n_blocks": self.n_blocks,
            "friedman": {"stat": self.friedman_stat, "pval": self.friedman_pval},
            "mean_ranks": {str(t): float(m) for t, m in zip(self.treatments, self.mean_ranks)},
            "cd": self.cd,
            "pairs": pairs,
            "treatments": [str(t) for t in self.treatments],
            "alpha": self.alpha,
            "dropped_blocks": [str(b) for b in self.dropped_blocks],
            "lower_is_better": self.lower_is_better,
        }

    def summary(self) -> str:
        better = "lower" if self.lower_is_better else "higher"
        lines = [f"Rank comparison of {self.k} treatments over {self.n_blocks} complete blocks "
                 f"(rank 1 = best; {better} values are better)"]
        if self.dropped_blocks:
            lines.append(f"Dropped {len(self.dropped_blocks)} incomplete block(s): "
                         + ", ".join(map(str, self.dropped_blocks)))
        lines += ["", f"Friedman chi^2(df = {self.friedman_df}) = {self.friedman_stat:.4f}, "
                      f"p = {self.friedman_pval:.4g}",
                  f"Nemenyi critical difference (alpha = {self.alpha:g}): CD = {self.cd:.4f} "
                  f"(q_alpha = {self.q_alpha:.4f})", "", "Mean ranks:"]
        width = max(len(str(t)) for t in self.treatments)
        lines += [f"  {str(t):<{width}}  {m:.4f}" for t, m in zip(self.treatments, self.mean_ranks)]
        groups = self.cliques()
        lines += ["", "Not significantly different (Nemenyi, mean ranks within CD):"]
        lines += [f"  {{{', '.join(map(str, g))}}}" for g in groups] or ["  (none: every pair differs)"]
        lines += ["", f"Pairs (Wilcoxon signed-rank, Holm-adjusted over {len(self.pairs)} comparisons):"]
        table = self.pairs.rename(columns={"mean_rank_diff": "rank_diff", "wilcoxon_pval_holm": "wilcoxon_holm",
                                           "wilcoxon_stat": "W"})
        lines.append(table.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
        return "\n".join(lines)

    def __repr__(self) -> str:  # pragma: no cover - convenience
        return self.summary()


def _labels(df: pd.DataFrame, col: str) -> None:
    empty = df[col].isna().to_numpy()
    if empty.any():
        rows = (np.flatnonzero(empty) + 1).tolist()
        raise InputError(f"row(s) {_rows(rows)}, column {col}: empty label; every row needs a {col}")


def _shown(v) -> str:
    """A cell as the user wrote it: text quoted, numbers plain (not numpy's np.float64(inf))."""
    return repr(str(v)) if isinstance(v, str) else str(v)


def _rows(rows: list[int], most: int = 10) -> str:
    shown = ", ".join(map(str, rows[:most]))
    return shown + (f" and {len(rows) - most} more" if len(rows) > most else "")


def _matrix(data: pd.DataFrame, block: str, treatment: str, value: str) -> tuple[pd.DataFrame, list]:
    """The blocks × treatments table of values (complete blocks only) and the labels of the dropped blocks."""
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"expected a DataFrame with columns {block!r}, {treatment!r}, {value!r}; "
                         f"got {type(data).__name__}")
    missing = [c for c in (block, treatment, value) if c not in data.columns]
    if missing:
        raise InputError(f"no column {', '.join(map(repr, missing))}; columns are: "
                         f"{', '.join(map(str, data.columns))} (name the block, treatment and value columns)")
    df = data[[block, treatment, value]].reset_index(drop=True)
    _labels(df, block)
    _labels(df, treatment)
    y = pd.to_numeric(df[value], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(y)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise InputError(f"row(s) {_rows((rows + 1).tolist())}, column {value}: expected a finite number, got "
                         f"{_shown(df[value].iloc[rows[0]])}; drop or fill these rows (a block missing a treatment is "
                         f"dropped from the comparison automatically)")
    df = df.assign(**{value: y})
    dup = df.duplicated([block, treatment], keep=False).to_numpy()
    if dup.any():
        groups = df[dup].groupby([block, treatment], sort=False).groups
        named = [f"({block} {_shown(b)}, {treatment} {_shown(t)}) in rows {', '.join(str(i + 1) for i in idx)}"
                 for (b, t), idx in list(groups.items())[:10]]
        more = f" and {len(groups) - 10} more" if len(groups) > 10 else ""
        raise InputError(f"{len(groups)} duplicate (block, treatment) pair(s): {'; '.join(named)}{more}; keep one "
                         f"value per {block} and {treatment} (e.g. average repeated runs first)")
    treatments = pd.unique(df[treatment])
    if len(treatments) < 2:
        raise InputError(f"need at least 2 treatments in column {treatment!r} to compare, found "
                         f"{len(treatments)}: {', '.join(map(_shown, treatments))}")
    wide = df.pivot(index=block, columns=treatment, values=value)
    wide = wide.reindex(index=pd.unique(df[block]), columns=treatments)  # input order, not pivot's sorted order
    complete = wide.notna().all(axis=1).to_numpy()
    dropped = wide.index[~complete].tolist()
    if complete.sum() < 2:
        lacking = [f"{_shown(b)} lacks {', '.join(map(_shown, wide.columns[wide.loc[b].isna().to_numpy()]))}"
                   for b in dropped[:5]]
        raise InputError(f"need at least 2 complete blocks (a {block} with a {value} for every one of the "
                         f"{len(treatments)} treatments), found {int(complete.sum())} of {len(wide)}"
                         + (f"; {'; '.join(lacking)}" if lacking else "")
                         + f"; drop treatments seen on few {block}s or add their results")
    return wide[complete], dropped


def wilcoxon(a, b) -> tuple[float, float]:
    """(W, p) exactly as ``scipy.stats.wilcoxon(a, b)`` gives them (two-sided, zeros dropped, method 'auto'), but
    without scipy's slow path: for n ≤ 13 pairs with ties or zeros scipy runs an exact permutation test over all
    2**n sign flips with a per-flip Python call (~0.3 s a pair; a 50-model table has 1,225 pairs). The same
    permutation test is run here with the signed-rank sum vectorised over the flips."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    nonzero = d != 0
    absd = np.abs(d[nonzero])
    n = d.shape[0]
    ties = len(np.unique(absd)) < len(absd)
    if n > 13 or not (ties or not nonzero.all()):
        w = stats.wilcoxon(a, b)
        return float(w.statistic), float(w.pvalue)
    r = np.zeros(n)
    r[nonzero] = stats.rankdata(absd, method="average")  # ranks do not change when signs flip

    def r_plus(dd, axis=-1):
        return np.sum((dd > 0) * r, axis=axis)

    p = stats.permutation_test((d,), r_plus, permutation_type="samples", vectorized=True,
                               alternative="two-sided", n_resamples=9999).pvalue
    plus = float(r_plus(d))
    return min(plus, float(r[nonzero].sum()) - plus), float(p)


def rank_comparison(data: pd.DataFrame, block: str = "block", treatment: str = "treatment", value: str = "value",
                    *, lower_is_better: bool = False, alpha: float = 0.05) -> RankComparison:
    """Compare treatments over blocks by ranks (Demšar 2006; Benavoli et al. 2016): see the module docstring.

    ``data`` is long: one row per (block, treatment) with its ``value``; higher values are better unless
    ``lower_is_better``. Blocks without a value for every treatment are dropped and listed in ``dropped_blocks``.
    Raises InputError for missing columns, empty labels, non-finite values, duplicate (block, treatment) rows,
    fewer than 2 treatments or fewer than 2 complete blocks, or blocks that are all ties.
    """
    wide, dropped = _matrix(data, block, treatment, value)
    x = wide.to_numpy(dtype=float)
    n, k = x.shape
    # rank 1 = best: rank the values so that the best gets the smallest rank
    ranks = stats.rankdata(x if lower_is_better else -x, axis=1, method="average")
    mean = ranks.mean(axis=0)

    correction = 1 - sum(_tie_term(row) for row in x) / (n * k * (k * k - 1))
    if correction <= 0:  # only when every block gives every treatment the same value
        raise InputError(f"every complete block gives all {k} treatments the same {value}: nothing to rank")
    rank_sums = ranks.sum(axis=0)
    chi2 = (12.0 / (n * k * (k + 1)) * float(np.sum(rank_sums**2)) - 3.0 * n * (k + 1)) / correction
    chi2 = max(chi2, 0.0)  # −1e-15 from rounding when the rank sums are all equal
    pval = float(stats.chi2.sf(chi2, k - 1))

    q = nemenyi_q(k, alpha)
    se = float(np.sqrt(k * (k + 1) / (6.0 * n)))
    order = sorted(range(k), key=lambda j: (mean[j], str(wide.columns[j])))
    rows = []
    for ia, a in enumerate(order):
        for b in order[ia + 1:]:
            diff = float(mean[b] - mean[a])
            nem = float(stats.studentized_range.sf(np.sqrt(2) * diff / se, k, np.inf))
            d = x[:, a] - x[:, b]
            if np.any(d != 0):
                w_stat, w_p = wilcoxon(x[:, a], x[:, b])
            else:  # identical on every block: scipy returns W = 0, p = 1 too, but warns about 0/0 on the way
                w_stat, w_p = 0.0, 1.0
            rows.append({"a": wide.columns[a], "b": wide.columns[b], "mean_rank_diff": diff, "nemenyi_pval": nem,
                         "wilcoxon_stat": w_stat, "wilcoxon_pval": w_p, "n": n})
    pairs = pd.DataFrame(rows)
    pairs.insert(len(pairs.columns) - 1, "wilcoxon_pval_holm", holm(pairs["wilcoxon_pval"]))
    return RankComparison(
        treatments=[wide.columns[j] for j in order], blocks=wide.index.tolist(), dropped_blocks=dropped,
        ranks=ranks[:, order], mean_ranks=mean[order], friedman_stat=float(chi2), friedman_df=k - 1,
        friedman_pval=pval, alpha=float(alpha), q_alpha=q, cd=q * se, lower_is_better=bool(lower_is_better),
        pairs=pairs[list(PAIR_COLUMNS)],
    )
