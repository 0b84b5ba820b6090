"""CLI for the review report: ``fmreview report``."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("report", help="build the review report (Markdown + self-contained HTML, figures, tables)")
    p.add_argument("--out", default="report", metavar="DIR", help="output directory (default: report)")
    p.add_argument("--catalog", metavar="DIR", help="catalog directory (default: $FMREVIEW_CATALOG or the shipped one)")
    p.add_argument("--since", type=int, metavar="YEAR", help="first year of the trend analysis")
    p.add_argument("--until", type=int, metavar="YEAR", help="last year of the trend analysis (e.g. the last complete "
                   "year of your search)")
    p.add_argument("--include-doubtful", action="store_true", help="pool values the catalog marks doubtful too "
                   "(left out by default)")
    p.add_argument("--review", metavar="DIR", help="review folder whose decisions give the PRISMA flow (default: the "
                   "catalog's own review/ folder where it has one, else its prisma.csv)")
    p.add_argument("--records", metavar="DIR", help="the zoo's verification records for the Reproduced section "
                   "(default: $FMREVIEW_RECORDS or the zoo's default folder, where it exists)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(handler=cmd_report)


def cmd_report(args) -> int:
    from .report import build_report

    out = build_report(args.out, catalog=args.catalog, quiet=args.quiet, since=args.since, until=args.until,
                       include_doubtful=args.include_doubtful, review=args.review,
                       records=args.records)
    if not args.quiet:
        print(f"wrote {out / 'report.html'} and {out / 'report.md'}")
    return 0
