"""CLI for the end of a review's flow: ``fmreview lit prisma``, ``fmreview lit promote``, ``fmreview lit export``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .cli_lit import review_arg
from .cli_meta import _write


def register(lsub) -> None:
    p = lsub.add_parser("prisma", help="PRISMA 2020 counts derived from the review's decisions (checked)")
    review_arg(p)
    p.add_argument("--format", choices=("json", "csv", "svg"), default="json",
                   help="json (the counts), csv (the PRISMA2020 R package's layout, for its Shiny app) or svg (the "
                        "flow diagram); default json")
    p.add_argument("--out", metavar="PATH", help="write to PATH (default: standard output)")
    p.set_defaults(handler=cmd_prisma)

    p = lsub.add_parser("promote", help="write catalog papers for the included records (canonical YAML, validated, "
                                        "rolled back on failure)")
    review_arg(p)
    p.add_argument("--catalog", metavar="DIR", help="catalog directory (default: $FMREVIEW_CATALOG or the shipped one)")
    p.add_argument("--dry-run", action="store_true", help="say what would be written; write nothing")
    p.set_defaults(handler=cmd_promote)

    p = lsub.add_parser("export", help="export records as RIS, BibTeX or CSV (all, unique, or by final decision)")
    review_arg(p)
    p.add_argument("--format", choices=("ris", "bibtex", "csv"), required=True)
    p.add_argument("--subset", choices=("all", "unique"), default="all",
                   help="all records (default) or the unique ones (one per duplicate group)")
    p.add_argument("--stage", choices=("screening", "eligibility"),
                   help="with --decision: only records whose final decision at this stage is that decision")
    p.add_argument("--decision", choices=("include", "exclude", "maybe"))
    p.add_argument("--out", metavar="FILE", help="write to FILE (default: standard output)")
    p.set_defaults(handler=cmd_export)


def to_prisma(counts):
    """lit's plain counts as the analysis package's :class:`Prisma` (the CSV layout and the figure). The CSV
    separates "name, n" pairs with ';', so a ';' inside a source name becomes ','."""
    from fmreview.analysis.prisma import Prisma

    fix = lambda d: {k.replace(";", ","): v for k, v in d.items()}
    pr = Prisma(identified=fix(counts.identified), duplicates_removed=counts.duplicates_removed,
                screened=counts.screened, screened_excluded=counts.screened_excluded, sought=counts.sought,
                not_retrieved=counts.not_retrieved, assessed=counts.assessed,
                excluded_reasons=fix(counts.excluded_reasons), included=counts.included)
    pr.check()
    return pr


def cmd_prisma(args) -> int:
    from fmreview.lit.prisma import flow
    from fmreview.lit.review import Review


    counts = flow(Review(args.review))
    if args.format == "json":
        _write(json.dumps(counts.to_json(), indent=2, ensure_ascii=False) + "\n", args.out)
    elif args.format == "csv":
        _write(to_prisma(counts).to_csv(), args.out)
    else:
        from .plotting import figure_bytes, plt
        from .prisma_plot import prisma_figure

        fig = prisma_figure(to_prisma(counts), note=f"Counts derived from the decisions of the review folder "
                                                   f"{Path(args.review).name}/.")
        svg = figure_bytes(fig).decode("utf-8")
        plt.close(fig)
        _write(svg, args.out)  # like json and csv: standard output unless --out
    return 0


def cmd_promote(args) -> int:
    from fmreview.lit.promote import promote
    from fmreview.lit.review import Review

    res = promote(Review(args.review), catalog=args.catalog, dry_run=args.dry_run)
    verb = "would write" if res.dry_run else "wrote"
    for rid, pid, path in res.written:
        print(f"{verb} papers/{path.name} ({pid}) for record {rid}")
    for rid, pid, key in res.already:
        print(f"already in the catalog: record {rid} is the paper {pid} ({key})")
    print(f"{len(res.written)} paper(s) {verb}{', nothing written (dry run)' if res.dry_run else ''}; "
          f"{len(res.already)} already in the catalog")
    return 0


def cmd_export(args) -> int:
    from fmreview.lit.export import export
    from fmreview.lit.review import Review

    text, n = export(Review(args.review), args.format, subset=args.subset, stage=args.stage, decision=args.decision)
    _write(text, args.out)
    if args.out:
        print(f"wrote {n} record(s) to {args.out}", file=sys.stderr)
    return 0
