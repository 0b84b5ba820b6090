"""Meta-analysis speed: fmreview vs metafor (Rscript, if installed), statsmodels and PyMARE on the same data.

Targets: REML fit at k = 10 < 1 ms; k = 3 000 < 50 ms; k = 1 000 000 < 2 s within 1 GB; a 1 000-iteration
permutation test of one moderator at k = 50 < 0.2 s.
Usage: python benchmarks/bench_meta.py [--no-r]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import tempfile
import time
import warnings

import numpy as np

from fmreview.analysis import rma
from fmreview.analysis.regression import permutest


def data(k, seed=0):
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.01, 0.2, k)
    yi = rng.normal(0.3, np.sqrt(0.05 + vi))
    return yi, vi


def best(fn, repeat):
    t = []
    for _ in range(repeat):
        s = time.perf_counter()
        fn()
        t.append(time.perf_counter() - s)
    return min(t)


def metafor_time(k, reps):
    if not shutil.which("Rscript"):
        return None
    yi, vi = data(k)
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        np.savetxt(f, np.column_stack([yi, vi]), delimiter=",", header="yi,vi", comments="")
    code = (f"suppressMessages(library(metafor)); d <- read.csv('{f.name}'); "
            f"t <- system.time(for (i in 1:{reps}) rma(yi, vi, data=d, method='REML'))[['elapsed']]; cat(t/{reps})")
    try:
        out = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True, timeout=600)
        return float(out.stdout.strip())
    except Exception:
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-r", action="store_true")
    args = ap.parse_args()
    from statsmodels.stats.meta_analysis import combine_effects

    try:
        from pymare import estimators
        from pymare.core import Dataset
    except Exception:
        estimators = None
    print(f"{'k':>9}  {'fmreview REML':>14}  {'metafor REML':>13}  {'ratio':>7}  {'statsmodels':>12}  {'PyMARE REML':>12}")
    for k, reps in ((10, 200), (100, 100), (1000, 10), (3000, 5), (1_000_000, 1)):
        yi, vi = data(k)
        ours = best(lambda: rma(yi, vi, method="REML"), reps)
        mf = None if (args.no_r or k > 3000) else metafor_time(k, max(1, min(reps, 20 if k <= 1000 else 1)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sm = best(lambda: combine_effects(yi, vi, method_re="iterated"), max(1, reps // 5)) if k <= 100_000 else None
            pm = None
            if estimators is not None and k <= 3000:
                try:
                    pm = best(lambda: estimators.VarianceBasedLikelihoodEstimator(method="REML").fit_dataset(
                        Dataset(y=yi, v=vi)), max(1, reps // 10))
                except Exception:
                    pm = None
        fmt = lambda x: "n/a" if x is None else (f"{x * 1e3:.3f} ms" if x < 1 else f"{x:.2f} s")
        ratio = "n/a" if mf is None else f"{mf / ours:.0f}x"
        print(f"{k:>9}  {fmt(ours):>14}  {fmt(mf):>13}  {ratio:>7}  {fmt(sm):>12}  {fmt(pm):>12}")
    print(f"peak RSS after k = 1e6: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    yi, vi = data(50)
    x = np.random.default_rng(1).normal(size=50)
    fit = rma(yi, vi, mods=x, method="REML")
    t = best(lambda: permutest(fit, 1000, seed=0), 1)
    print(f"permutation test, 1 000 iterations, k = 50, REML: {t:.2f} s (target < 0.2 s)")
    fit = rma(yi, vi, mods=x, method="DL")
    t = best(lambda: permutest(fit, 1000, seed=0), 1)
    print(f"permutation test, 1 000 iterations, k = 50, DL:   {t:.2f} s")


if __name__ == "__main__":
    main()
