"""Screening prioritisation: fmreview's simulation beside ASReview's default model, on the same labelled sets with
the same prior records, in one run.

    python benchmarks/bench_screening.py [DATA_DIR] [--model nb|logistic] [--seed S] [--no-asreview]

DATA_DIR defaults to ../shared/data/screening (the six Cohen 2006 sets from SYNERGY); the files are read where they
are, never copied. ASReview is not a dependency of fmreview: it lives in its own virtual environment,
/tmp/asreview-venv, created here with ``python -m venv`` and ``pip install asreview asreview-insights`` when absent
(pip picks the newest asreview that asreview-insights accepts). Its default model ("ELAS u4": TF-IDF uni+bigrams,
linear SVM, balanced weights) is run through ``asreview simulate --prior-idx …`` with the very prior records
fmreview used, and scored by ``asreview metrics`` (asreview-insights). Each ASReview order is also scored with
fmreview's own formulas (:func:`fmreview.lit.simulate.metrics`), because the two define WSS@95 a little
differently (see that module) and insights reports ATD as a count, not a fraction.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fmreview.lit.prioritise import texts_of
from fmreview.lit.simulate import choose_priors, metrics, read_labelled, simulate

VENV = Path("/tmp/asreview-venv")

# run inside the ASReview venv: insights' metrics and the screened labels (priors left out) as JSON
SCORE = r"""
import json, sys
from asreviewcontrib.insights.metrics import get_metrics
from asreviewcontrib.insights.utils import get_simulation_labels
import asreview
m = get_metrics(sys.argv[1], wss=[0.95])
items = {i["id"]: i["value"] for i in m["data"]["items"]}
print(json.dumps({"version": asreview.__version__, "wss95": items["wss"][0][1], "atd": items["atd"],
                  "labels": [int(v) for v in get_simulation_labels(sys.argv[1])]}))
"""


def ensure_asreview() -> Path:
    exe = VENV / "bin" / "asreview"
    if not exe.exists():
        print(f"creating {VENV} with asreview (once)…", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", "asreview", "asreview-insights"], check=True)
    return exe


def run_asreview(exe: Path, csv: Path, priors, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "sim.asreview"
        t0 = time.perf_counter()
        subprocess.run([str(exe), "simulate", str(csv), "--prior-idx", *map(str, priors), "--seed", str(seed),
                        "-o", str(project)], check=True, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        out = subprocess.run([str(VENV / "bin" / "python"), "-c", SCORE, str(project)], check=True,
                             capture_output=True, text=True)
    res = json.loads(out.stdout)
    res["seconds"] = seconds
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", nargs="?", type=Path,
                    default=Path(__file__).resolve().parents[2] / "shared/data/screening")
    ap.add_argument("--model", default="nb", choices=("nb", "logistic"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-asreview", action="store_true", help="fmreview only")
    args = ap.parse_args(argv)
    files = sorted(args.data.glob("*.csv"))
    if not files:
        print(f"no CSV files in {args.data}", file=sys.stderr)
        return 1
    exe = None if args.no_asreview else ensure_asreview()
    rows = []
    hdr = (f"{'dataset':<31} {'N':>5} {'R':>4} | {'fmreview ' + args.model:^30} | "
           f"{'ASReview default (insights)':^30} | {'ASReview order, our formulas':^22}")
    sub = (f"{'':<31} {'':>5} {'':>4} | {'WSS@95':>7} {'ATD':>6} {'n95':>5} {'time s':>7} | "
           f"{'WSS@95':>7} {'ATD':>6} {'ATD/N':>6} {'time s':>7} | {'WSS@95':>7} {'ATD':>6} {'n95':>5}")
    print(hdr)
    print(sub)
    for f in files:
        titles, abstracts, y = read_labelled(f)
        priors = choose_priors(y, 1, 1, args.seed)
        ours = simulate(texts_of(titles, abstracts), y, model=args.model, seed=args.seed, priors=priors)
        m = ours.metrics
        row = {"dataset": f.stem, "records": m.records, "relevant": m.relevant,
               "fmreview": {**ours.to_json(), "seconds": round(ours.seconds, 2)}}
        line = (f"{f.stem:<31} {m.records:>5} {m.relevant:>4} | {m.wss95:>7.3f} {m.atd:>6.3f} "
                f"{m.screened_at_95:>5} {ours.seconds:>7.2f} | ")
        if exe is not None:
            a = run_asreview(exe, f, priors.tolist(), args.seed)
            am = metrics(a["labels"])
            row["asreview"] = {"version": a["version"], "wss95_insights": a["wss95"], "atd_insights": a["atd"],
                               "wss95": am.wss95, "atd": am.atd, "screened_at_95": am.screened_at_95,
                               "seconds": round(a["seconds"], 2)}
            line += (f"{a['wss95']:>7.3f} {a['atd']:>6.1f} {a['atd'] / len(a['labels']):>6.3f} "
                     f"{a['seconds']:>7.2f} | {am.wss95:>7.3f} {am.atd:>6.3f} {am.screened_at_95:>5}")
        print(line, flush=True)
        rows.append(row)
    if exe is not None:
        print(f"ASReview {rows[0]['asreview']['version']} (ELAS u4); the same 1 + 1 prior records (seed {args.seed}) "
              "for both; priors left out of every metric; time includes ASReview's process start")
    ours_w = np.mean([r["fmreview"]["wss95"] for r in rows])
    print(f"mean WSS@95 fmreview {ours_w:.3f}"
          + (f", ASReview {np.mean([r['asreview']['wss95'] for r in rows]):.3f} (our formula)" if exe else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
