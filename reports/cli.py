"""The ``fmreview`` command: parse, call, print.

Each area registers its subcommands from its own module (``cli_catalog``, ``cli_meta``, ``cli_zoo``,
``cli_report``) through ``register(subparsers)``; every handler returns an exit code. Errors a user can act on
are raised as :class:`UserError` (or ``CatalogError``) and printed without a traceback, exit 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys

AREAS = ("cli_catalog", "cli_meta", "cli_rank", "cli_report", "cli_zoo")


class UserError(Exception):
    """A problem with the user's input: printed as ``fmreview: error: …``, exit 1."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fmreview",
        description="Catalog, meta-analysis, review report and reference zoo for medical foundation models.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for area in AREAS:
        try:
            module = importlib.import_module(f"fmreview.reports.{area}")
        except ModuleNotFoundError as e:  # an area not built yet
            if e.name == f"fmreview.reports.{area}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from fmreview.catalog.errors import CatalogError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (UserError, CatalogError, ValueError, FileNotFoundError) as e:
        print(f"fmreview: error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `fmreview models | head`
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
