"""CLI for the reference zoo: ``fmreview zoo list|show|verify|status``."""

from __future__ import annotations

import json
import sys

from .cli import UserError, register_all
from .tables import render


STRICT_EXIT = 3  # zoo verify --strict: the verdict was not "reproduced"


def _positive(text: str) -> int:
    import argparse

    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n}: expected a positive whole number")
    return n


def register(sub) -> None:
    z = sub.add_parser("zoo", help="the reference model zoo: list, show, verify, sweep, lock, status")
    zs = z.add_subparsers(dest="zoo_command", metavar="ACTION")
    zs.required = True
    p = zs.add_parser("list", help="catalog models with a downloadable checkpoint")
    p.add_argument("--catalog", metavar="DIR")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--any-host", action="store_true", help="include checkpoints not on the Hugging Face hub")
    p.add_argument("--verifiable", action="store_true",
                   help="only checkpoints with a recipe that can re-run one of their reported results")
    p.set_defaults(handler=cmd_list)
    p = zs.add_parser("show", help="one zoo entry")
    p.add_argument("model")
    p.add_argument("--catalog", metavar="DIR")
    p.set_defaults(handler=cmd_show)
    p = zs.add_parser("verify", help="re-run a reported evaluation and write a verification record")
    p.add_argument("model")
    p.add_argument("--catalog", metavar="DIR")
    p.add_argument("--result", metavar="ID", help="catalog result to re-run (default: the first one a recipe fits)")
    p.add_argument("--data", metavar="DIR", help="the dataset, obtained under its licence (nothing is downloaded)")
    p.add_argument("--device", choices=("cuda", "cpu", "auto"), default="auto")
    p.add_argument("--batch-size", type=_positive, default=32)
    p.add_argument("--limit", type=_positive, metavar="N",
                   help="evaluate the first N test cases only (verdict: inconclusive)")
    p.add_argument("--checkpoint", metavar="local-dir:PATH", help="use weights you already have")
    p.add_argument("--trust-remote-code", action="store_true", help="allow a checkpoint's own Python code to run")
    p.add_argument("--records", metavar="DIR", help="where records go (default $FMREVIEW_RECORDS or ~/.local/share)")
    p.add_argument("--bootstrap", type=_positive, default=1000, metavar="N")
    p.add_argument("--strict", action="store_true",
                   help=f"exit {STRICT_EXIT} when the verdict is not 'reproduced' (for CI)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(handler=cmd_verify)
    p = zs.add_parser("status", help="all verification records: reported vs reproduced")
    p.add_argument("--records", metavar="DIR")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.set_defaults(handler=cmd_status)
    register_all(zs, ("cli_zoo_lock",))  # zoo actions kept in modules of their own
    register_all(zs, ("cli_zoo_sweep",))


def _cat(args):
    from fmreview.catalog import load

    return load(args.catalog)


def cmd_list(args) -> int:
    from fmreview.zoo.registry import registry_frame

    df = registry_frame(_cat(args), hub=None if args.any_host else "huggingface")
    if args.verifiable:
        df = df[df["recipes"].map(bool)].reset_index(drop=True)
    sys.stdout.write(render(df, args.format, ["model", "repo_id", "format", "gated", "sha256_pinned", "recipes"]))
    return 0


def cmd_show(args) -> int:
    from fmreview.zoo.registry import entry

    try:
        e = entry(_cat(args), args.model, hub=None)
    except LookupError as exc:
        raise UserError(str(exc)) from None
    doc = e.row() | {"checkpoint": e.checkpoint.model_dump(mode="json", exclude_none=True)}
    print(json.dumps(doc, indent=2))
    return 0


def cmd_verify(args) -> int:
    from fmreview.zoo.datasets import DataError
    from fmreview.zoo.download import DownloadError
    from fmreview.zoo.loading import LoadError
    from fmreview.zoo.verify import VerifyError, verify

    log = (lambda s: None) if args.quiet else (lambda s: print(f"fmreview zoo: {s}", file=sys.stderr))
    try:
        rec = verify(_cat(args), args.model, result_id=args.result, data=args.data, device=args.device,
                     batch_size=args.batch_size, limit=args.limit, checkpoint=args.checkpoint,
                     trust_remote_code=args.trust_remote_code, records=args.records, n_boot=args.bootstrap, log=log)
    except (VerifyError, DownloadError, LoadError, DataError, LookupError) as exc:
        raise UserError(str(exc)) from None
    print(f"{rec['result']}: reported {rec['reported']:.4f}, reproduced {rec['reproduced']:.4f} "
          f"[{rec['ci_low']:.4f}, {rec['ci_high']:.4f}], delta {rec['delta']:+.4f} (tolerance {rec['tolerance']:.4f}) "
          f"-> {rec['verdict'].upper()}")
    if rec.get("verdict_note"):
        print(f"note: {rec['verdict_note']}")
    print(f"record: {rec['file']}")
    if args.strict and rec["verdict"] != "reproduced":
        print(f"fmreview zoo: the verdict is {rec['verdict']!r}; --strict exits {STRICT_EXIT} unless it is "
              "'reproduced'", file=sys.stderr)
        return STRICT_EXIT
    return 0


def cmd_status(args) -> int:
    from fmreview.zoo.records import load_records

    df = load_records(args.records)
    sys.stdout.write(render(df, args.format, ["result", "model", "metric", "reported", "reproduced", "delta",
                                              "verdict", "device"]))
    return 0
