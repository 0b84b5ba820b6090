"""Write inputs.csv and expected.json for tests/test_ranks.py: reference numbers from scipy, scikit-posthocs and
statsmodels, computed here independently of fmreview (run from anywhere: ``python make_fixtures.py``).

Cases (column ``case`` of inputs.csv; one row per dataset × model with its ``score``):
  posthocs-k3   scikit-posthocs' own example of posthoc_nemenyi_friedman (6 blocks × 3 groups, integers, a tie)
  ties-k5       14 complete datasets × 5 models with scores on a 0.01 grid (ties within datasets) and 2 datasets
                missing a model (to be dropped); higher is better
  hd95-k8       25 datasets × 8 models of distance-like scores, lower is better

Versions used are recorded in expected.json.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import scikit_posthocs
import scipy
import statsmodels
from scikit_posthocs import posthoc_nemenyi_friedman
from scipy import stats
from statsmodels.stats.multitest import multipletests

HERE = Path(__file__).parent
ALPHA = 0.05


def long(case, values, models, datasets):
    return [{"case": case, "dataset": d, "model": m, "score": float(values[i, j])}
            for i, d in enumerate(datasets) for j, m in enumerate(models) if np.isfinite(values[i, j])]


def cases():
    rng = np.random.default_rng(20060101)
    rows = []
    x = np.array([[31, 27, 24], [31, 28, 31], [45, 29, 46], [21, 18, 48], [42, 36, 46], [32, 17, 40]], float)
    rows += long("posthocs-k3", x, ["g1", "g2", "g3"], [f"b{i + 1}" for i in range(6)])
    models = ["sam", "medsam", "sam-med2d", "biomedparse", "universeg"]
    x = np.round(rng.uniform(0.60, 0.80, (16, 5)) + np.array([0.00, 0.06, 0.03, 0.08, -0.02]), 2)
    x[3, 1] = x[3, 0]  # make sure of ties, including a three-way one
    x[7, 2] = x[7, 3] = x[7, 4]
    x[14, 2] = np.nan  # two datasets missing a model
    x[15, 0] = np.nan
    rows += long("ties-k5", x, models, [f"ds{i:02d}" for i in range(16)])
    x = np.round(rng.gamma(4.0, 2.0, (25, 8)) * np.linspace(1.0, 1.6, 8), 3)
    rows += long("hd95-k8", x, [f"m{j}" for j in range(8)], [f"set{i:02d}" for i in range(25)])
    return pd.DataFrame(rows), {"posthocs-k3": False, "ties-k5": False, "hd95-k8": True}


def expected(df: pd.DataFrame, lower_is_better: bool) -> dict:
    wide = df.pivot(index="dataset", columns="model", values="score")
    complete = wide.dropna()
    dropped = sorted(set(wide.index) - set(complete.index))
    x = complete.to_numpy()
    n, k = x.shape
    names = list(complete.columns)
    fr = stats.friedmanchisquare(*x.T) if k >= 3 else None
    ranks = stats.rankdata(x if lower_is_better else -x, axis=1, method="average")
    q = stats.studentized_range.ppf(1 - ALPHA, k, np.inf) / np.sqrt(2)
    nem = posthoc_nemenyi_friedman(complete)
    pairs = {}
    for a, b in itertools.combinations(sorted(names), 2):
        w = stats.wilcoxon(complete[a], complete[b])
        pairs[f"{a}|{b}"] = {"nemenyi_pval": float(nem.loc[a, b]), "wilcoxon_stat": float(w.statistic),
                             "wilcoxon_pval": float(w.pvalue)}
    keys = list(pairs)
    holm = multipletests([pairs[p]["wilcoxon_pval"] for p in keys], method="holm")[1]
    for p, h in zip(keys, holm):
        pairs[p]["wilcoxon_pval_holm"] = float(h)
    return {"lower_is_better": lower_is_better, "n_blocks": n, "dropped_blocks": dropped,
            "friedman": {"stat": float(fr.statistic), "pval": float(fr.pvalue)},
            "mean_ranks": dict(zip(names, map(float, ranks.mean(axis=0)))),
            "q_alpha": float(q), "cd": float(q * np.sqrt(k * (k + 1) / (6 * n))), "pairs": pairs}


def main() -> None:
    df, direction = cases()
    df.to_csv(HERE / "inputs.csv", index=False, lineterminator="\n", float_format="%.10g")
    back = pd.read_csv(HERE / "inputs.csv")  # the numbers the tests will read
    out = {"alpha": ALPHA,
           "versions": {"scipy": scipy.__version__, "scikit_posthocs": scikit_posthocs.__version__,
                        "statsmodels": statsmodels.__version__},
           "cases": {c: expected(back[back.case == c], lower) for c, lower in direction.items()}}
    (HERE / "expected.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
