"""CLI for ``fmreview zoo sweep``: plan, run (here or on Ray), show a progress bar and a closing table."""

from __future__ import annotations

import argparse
import sys

from .cli import UserError
from .tables import render

DESCRIPTION = """\
Re-run every catalog result the data root can serve: one job per (result, checkpoint, dataset), each verified
as `fmreview zoo verify` does and written as a record to --records.

A result is a job when its model has weights (--checkpoint-root DIR/<model id> when that folder exists, else the
hub checkpoint, fetched once per sweep), a recipe fits it, and --data-root DIR/<dataset id> exists (a MedMNIST
.npz, an image folder with labels.csv, or a NIfTI imagesTr/labelsTr folder; DIR/<dataset id>.npz also works).

Resume: a job whose record exists (same result, model, checkpoint sha256 and dataset fingerprint) is skipped, so
rerunning the same command after a stop or a failure runs only what has no record yet. A failed job is
written to RECORDS/failed/<result id>.json with its error, does not stop the others, and is retried by the next
run. Ctrl-C or SIGTERM stops the sweep: finished records stay, none is half-written."""

EPILOG = """\
exit status:
  0  every job is done or skipped
  1  a job failed (its error is in RECORDS/failed/), the sweep was interrupted, or the input is wrong
     (no such folder, no job to run, Ray missing or unreachable)"""


def _ids(text: str) -> list[str]:
    ids = [t.strip() for t in text.split(",") if t.strip()]
    if not ids:
        raise argparse.ArgumentTypeError(f"{text!r}: expected one or more ids separated by commas")
    return ids


def _gpus(text: str) -> float:
    try:
        n = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not n >= 0:
        raise argparse.ArgumentTypeError(f"{text}: expected 0 or more GPUs (fractions such as 0.5 share one)")
    return n


def register(zs) -> None:
    from .cli_zoo import _positive

    p = zs.add_parser("sweep", help="verify every result a data root can serve (resumable; here or on Ray)",
                      description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=_ids, metavar="M,…", help="only these models")
    p.add_argument("--result", type=_ids, metavar="ID,…", help="only these results")
    p.add_argument("--data-root", required=True, metavar="DIR", help="one folder per dataset: DIR/<dataset id>")
    p.add_argument("--checkpoint-root", metavar="DIR",
                   help="weights you have, one folder per model: DIR/<model id> (used instead of downloading)")
    p.add_argument("--records", required=True, metavar="DIR", help="where the records go (and are found on a rerun)")
    p.add_argument("--catalog", metavar="DIR")
    p.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="local: in this process, one job after another; ray: one Ray task per job")
    p.add_argument("--ray-address", metavar="ADDR",
                   help="an existing Ray cluster (HEAD:6379); default: start a Ray on this machine")
    p.add_argument("--gpus-per-job", type=_gpus, metavar="N",
                   help="GPUs each Ray task reserves (default 1 when the cluster has GPUs, else 0)")
    p.add_argument("--device", choices=("cuda", "cpu", "auto"), default="auto")
    p.add_argument("--batch-size", type=_positive, default=32)
    p.add_argument("--bootstrap", type=_positive, default=1000, metavar="N", help="bootstrap resamples for the CIs")
    p.add_argument("--feature-cache", metavar="DIR",
                   help="where features are cached per checkpoint × dataset (default RECORDS/.features)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--quiet", action="store_true", help="no progress bar or messages on standard error")
    p.set_defaults(handler=cmd_sweep)


def _bar(total: int, args):
    """tqdm on standard error, only for a person watching (a terminal, table output, not --quiet)."""
    if args.quiet or args.format == "json" or not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="job", file=sys.stderr, dynamic_ncols=True)


def cmd_sweep(args) -> int:
    import pandas as pd

    from fmreview.catalog import load
    from fmreview.zoo.sweep import SweepError, SweepInterrupted, plan_jobs, run_sweep

    if args.backend == "local" and args.gpus_per_job is not None:
        raise UserError("--gpus-per-job applies to --backend ray (a local sweep runs on --device)")
    cat = load(args.catalog)
    try:
        plan = plan_jobs(cat, args.data_root, checkpoint_root=args.checkpoint_root, models=args.model,
                         results=args.result)
    except (SweepError, LookupError) as e:
        raise UserError(str(e)) from None
    bar = _bar(len(plan.jobs), args)

    def say(s: str) -> None:
        if args.quiet:
            return
        (bar.write if bar else lambda t: print(t, file=sys.stderr))(f"fmreview zoo: {s}")

    say(f"{len(plan.jobs)} job{'s' if len(plan.jobs) != 1 else ''} planned"
        + (f"; left out: {plan.summary()}" if plan.left_out else ""))

    def progress(o) -> None:
        if bar:
            bar.set_postfix_str(f"{o.job.result}: {o.status}", refresh=False)
            bar.update(1)
        if o.status == "failed":
            say(f"{o.job.result} failed: {o.error}")

    try:
        outcomes = run_sweep(cat, plan, records=args.records, catalog=args.catalog, backend=args.backend,
                             ray_address=args.ray_address, gpus_per_job=args.gpus_per_job, device=args.device,
                             batch_size=args.batch_size, n_boot=args.bootstrap, feature_cache=args.feature_cache,
                             on_outcome=progress, log=say)
    except (SweepInterrupted, SweepError) as e:
        raise UserError(str(e)) from None
    finally:
        if bar:
            bar.close()
    df = pd.DataFrame([o.row() for o in outcomes], columns=["result", "model", "dataset", "status", "verdict",
                                                            "record"])
    sys.stdout.write(render(df, args.format, ["result", "model", "dataset", "status", "verdict"], keep=("result",)))
    counts = {s: sum(o.status == s for o in outcomes) for s in ("done", "skipped", "failed")}
    say(f"{len(outcomes)} job{'s' if len(outcomes) != 1 else ''}: " + ", ".join(f"{n} {s}" for s, n in counts.items())
        + (f"; the errors are in {args.records}/failed/; rerun to retry them"
           if counts["failed"] else ""))
    return 1 if counts["failed"] else 0
