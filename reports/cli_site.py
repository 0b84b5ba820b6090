"""CLI for the static site: ``fmreview site --out DIR``."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("site", help="build the catalog as a static site (model cards, leaderboards, search); "
                                    "works from disk or any static host")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (new, empty, or a previous site)")
    p.add_argument("--catalog", metavar="DIR", help="catalog directory (default: $FMREVIEW_CATALOG or the shipped one)")
    p.add_argument("--records", metavar="DIR", help="zoo verification records: reported vs reproduced on model pages")
    p.add_argument("--review", metavar="DIR", help="a literature review folder: its PRISMA counts on the home page")
    p.add_argument("--base-url", metavar="URL", help="where the site will be hosted (absolute URLs in sitemap.xml)")
    p.add_argument("--force", action="store_true", help="write into a folder holding other files (they are kept)")
    p.add_argument("--quiet", action="store_true", help="no summary line")
    p.set_defaults(handler=cmd_site)


def cmd_site(args) -> int:
    from .site import build_site

    b = build_site(args.out, catalog=args.catalog, records=args.records, review=args.review, force=args.force,
                   base_url=args.base_url)
    if not args.quiet:
        print(f"wrote {len(b.files)} files ({b.pages} pages) to {b.out} in {b.seconds:.1f} s; "
              f"open {b.out / 'index.html'}")
    return 0
