"""Multilevel, robust and network meta-analysis speed: fmreview vs metafor's rma.mv (Rscript, if installed) on the
same data, in one run.

Targets (issue 10): three-level REML at k = 5 000 in 500 clusters ≥ 100× faster than metafor (dense and
sparse=TRUE); k = 100 000 in 10 000 clusters ≤ 2 s in < 2 GB; CR2 at k = 100 000 ≤ 2 s; NMA of 50 treatments over
500 datasets ≤ 1 s. Times are the best of a few runs in-process; "process" adds Python start-up and imports.
Usage: python benchmarks/bench_mv.py [--no-r]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

from fmreview.analysis import nma, rma_mv, robust

sys.path.insert(0, str(__import__('pathlib').Path(__file__).parent))
from bench_meta import best  # noqa: E402

TIMEOUT = 1800  # seconds allowed to one metafor fit


def three_level(k, clusters, seed=0):
    rng = np.random.default_rng(seed)
    per = k // clusters
    cl = np.repeat(np.arange(clusters), per)
    sub = np.tile(np.repeat(np.arange(per // 2 or 1), 2)[:per], clusters)
    vi = rng.uniform(0.01, 0.1, k)
    u = rng.normal(0, 0.2, clusters)[cl] + rng.normal(0, 0.1, (clusters, per)).ravel()
    return pd.DataFrame({"cluster": cl, "sub": sub, "yi": 0.3 + u + rng.normal(0, np.sqrt(vi)), "vi": vi})


def network(treatments, studies, seed=0):
    rng = np.random.default_rng(seed)
    eff = rng.normal(0, 0.05, treatments)
    rows = []
    for s in range(studies):
        base = rng.normal(0.7, 0.1)
        for t in range(treatments):
            rows.append({"study": f"s{s}", "treatment": f"t{t:02d}", "yi": base + eff[t] + rng.normal(0, 0.02)})
    return pd.DataFrame(rows)


def metafor(df, sparse):
    if not shutil.which("Rscript"):
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        df.to_csv(f, index=False)
    code = (f"suppressMessages(library(metafor)); d <- read.csv('{f.name}'); "
            f"t <- system.time(rma.mv(yi, vi, random = ~ 1 | cluster/sub, data=d, sparse={'TRUE' if sparse else 'FALSE'}))"
            "[['elapsed']]; cat(t)")
    try:
        out = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True, timeout=TIMEOUT)
        return float(out.stdout.strip())
    except subprocess.TimeoutExpired:
        return float("inf")  # printed as inf: metafor did not finish within TIMEOUT seconds
    except Exception:
        return None


def process_time(code):
    s = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-r", action="store_true")
    args = ap.parse_args()
    rows = []
    d5 = three_level(5000, 500)
    t = best(lambda: rma_mv(d5.yi, d5.vi, data=d5, random="cluster/sub"), 3)
    row = {"case": "3-level REML k=5,000 (500 clusters)", "fmreview_s": t}
    if not args.no_r:
        row["metafor_dense_s"] = metafor(d5, False)
        row["metafor_sparse_s"] = metafor(d5, True)
    rows.append(row)
    d100 = three_level(100_000, 10_000)
    fit = None

    def big():
        nonlocal fit
        fit = rma_mv(d100.yi, d100.vi, data=d100, random="cluster/sub")

    rows.append({"case": "3-level REML k=100,000 (10,000 clusters)", "fmreview_s": best(big, 2)})
    rows.append({"case": "CR2 + Satterthwaite at k=100,000", "fmreview_s": best(lambda: robust(fit, d100.cluster,
                                                                                              clubSandwich=True), 2)})
    net = network(50, 500)
    rows.append({"case": "NMA 50 treatments x 500 datasets (no variances)",
                 "fmreview_s": best(lambda: nma(net, vi=None), 2)})
    code = ("import numpy as np, pandas as pd, sys; sys.path.insert(0, 'benchmarks'); from bench_mv import three_level; "
            "from fmreview.analysis import rma_mv; d = three_level(5000, 500); rma_mv(d.yi, d.vi, data=d, random='cluster/sub')")
    rows.append({"case": "whole process, k=5,000 (imports + data + fit)", "fmreview_s": process_time(code)})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = pd.DataFrame(rows)
    if "metafor_dense_s" in out:
        out["speedup_dense"] = out.metafor_dense_s / out.fmreview_s
        out["speedup_sparse"] = out.metafor_sparse_s / out.fmreview_s
    print(out.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    print(f"peak RSS of this process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
