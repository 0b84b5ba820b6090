"""``fmreview lit import | search | dedup | records``: bringing search results into a review and grouping the
duplicates. Parse, call fmreview.lit, print."""

from __future__ import annotations

import json
import sys

from fmreview.reports.cli_lit import review_arg


def register(lsub) -> None:
    p = lsub.add_parser("import", help="import search exports (RIS, BibTeX, PubMed .nbib, Web of Science, CSV/TSV, "
                                       "OpenAlex JSON, arXiv Atom) into a review folder (created if needed)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--source", required=True, metavar="NAME",
                   help="the database the export came from: pubmed, scopus, embase, wos, arxiv, …")
    p.add_argument("--format", dest="input_format", default=None,
                   choices=["ris", "bibtex", "medline", "wos", "csv", "tsv", "openalex", "arxiv"],
                   help="the file format (default: recognised from the content and extension)")
    review_arg(p)
    p.set_defaults(handler=cmd_import)

    p = lsub.add_parser("search", help="search OpenAlex or arXiv and import the results (cached in the review)")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--openalex", metavar="QUERY")
    g.add_argument("--arxiv", metavar="QUERY")
    p.add_argument("--max", type=int, default=500, metavar="N", help="at most N records (default 500)")
    review_arg(p)
    p.set_defaults(handler=cmd_search)

    p = lsub.add_parser("dedup", help="group duplicate records (DOI, arXiv id, PMID, title); never deletes")
    p.add_argument("--threshold", type=float, default=None, metavar="T",
                   help="fuzzy title threshold, rapidfuzz ratio 0-100 (default: review.yaml dedup.title_threshold, 95)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--split", metavar="ID", help="take a record out of its group (remembered on re-runs)")
    g.add_argument("--merge", nargs=2, metavar="ID", help="put two records in one group (remembered on re-runs)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    review_arg(p)
    p.set_defaults(handler=cmd_dedup)

    p = lsub.add_parser("records", help="list a review's records with their duplicate group")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    review_arg(p)
    p.set_defaults(handler=cmd_records)


def _warn(lines) -> None:
    for w in lines:
        print(f"fmreview: warning: {w}", file=sys.stderr)


def cmd_import(args) -> int:
    from fmreview.lit.importers import import_files

    results = import_files(args.review, args.files, args.source, args.input_format)
    for r in results:
        _warn(r.warnings)
        again = f" (imported before, {r.already})" if r.already else ""
        print(f"{r.file}: {r.format}, {r.records} records, {r.new} new{again}")
    return 0


def cmd_search(args) -> int:
    from fmreview.lit.search import search

    source, query = ("openalex", args.openalex) if args.openalex is not None else ("arxiv", args.arxiv)
    res = search(args.review, source, query, args.max)
    for r in res.imports:
        _warn(r.warnings)
    cached = "" if res.requests else " (from the cache)"
    print(f"{source}: {query!r}: {len(res.pages)} pages, {res.requests} requests{cached}, {res.records} records, "
          f"{res.new} new")
    return 0


def cmd_dedup(args) -> int:
    from fmreview.lit import dedup as d
    from fmreview.lit.review import Review

    review = Review(args.review)
    d.threshold_of(review, args.threshold)  # a bad threshold is refused before a split or merge is saved
    if args.split:
        d.split(review, args.split)
    elif args.merge:
        d.merge(review, *args.merge)
    res = d.dedup(review, args.threshold)
    if args.format == "json":
        print(json.dumps(res.to_json(), indent=2, ensure_ascii=False))
        return 0
    from fmreview.reports.tables import render
    import pandas as pd

    recs = review.records
    rows = [{"keep": g.keep, "duplicates": ",".join(m for m in g.members if m != g.keep), "reason": g.reason,
             "title": recs[g.keep].title} for g in res.groups]
    print(f"{res.records} records, {res.unique} unique, {len(res.groups)} groups")
    if rows:
        sys.stdout.write(render(pd.DataFrame(rows), "table", keep=("keep", "duplicates")))
    return 0


def cmd_records(args) -> int:
    import pandas as pd

    from fmreview.lit.review import Review
    from fmreview.reports.tables import render

    review = Review(args.review)
    dup = review.duplicate_of()
    rows = [{"id": r.id, "title": r.title, "year": r.year, "doi": r.doi, "arxiv": r.arxiv, "pmid": r.pmid,
             "source": r.source, "duplicate_of": dup.get(r.id)} for r in sorted(review.records.values(),
                                                                                 key=lambda r: r.id)]
    cols = ["id", "title", "year", "doi", "arxiv", "pmid", "source", "duplicate_of"]
    df = pd.DataFrame(rows, columns=cols, dtype=object)
    if args.format == "json":
        # built here, not through the frame, so that years stay integers and empty cells are null
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    sys.stdout.write(render(df, args.format, ["id", "year", "source", "duplicate_of", "doi", "arxiv", "title"]))
    return 0
