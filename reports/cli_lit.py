"""CLI for the search side of a review: ``fmreview lit …``. Each part registers its own actions:
records (import, records, dedup, search), screening (screen, decide, simulate), flow (prisma, promote, export)."""

from __future__ import annotations

PARTS = ("cli_lit_records", "cli_lit_screen", "cli_lit_flow")


def register(sub) -> None:
    from .cli import register_all

    p = sub.add_parser("lit", help="import, deduplicate and screen search results; PRISMA counts from the decisions")
    lsub = p.add_subparsers(dest="lit_command", metavar="ACTION")
    lsub.required = True
    register_all(lsub, PARTS)


def review_arg(p) -> None:
    p.add_argument("--review", required=True, metavar="DIR", help="the review folder")
