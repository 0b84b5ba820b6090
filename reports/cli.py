"""The ``fmreview`` command: parse, call, print.

Each area registers its subcommands from its own module (``cli_catalog``, ``cli_meta``, ``cli_zoo``,
``cli_report``) through ``register(subparsers)``; every handler returns an exit code. Errors a user can act on
are raised as :class:`UserError` (or a layer's own error type, see :func:`user_errors`) and printed without a
traceback, exit 1. Anything else
is a bug: it is reported as ``fmreview: internal error: …`` (exit 2) rather than as a traceback, unless
``FMREVIEW_DEBUG`` is set.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

AREAS = ("cli_catalog", "cli_meta", "cli_rank", "cli_report", "cli_zoo", "cli_lit", "cli_site")

# Each layer's "your input is wrong" exceptions, by module (see user_errors); the zoo's are turned into UserError
# by its commands, which know what to say.
USER_ERRORS = {"fmreview.catalog.errors": ("CatalogError", "QueryError"),
               "fmreview.analysis.errors": ("AnalysisError",),
               "fmreview.lit.review": ("ReviewError",)}


class UserError(Exception):
    """A problem with the user's input: printed as ``fmreview: error: …``, exit 1."""


def _version() -> str:
    import importlib.metadata as md

    try:
        return md.version("fmreview")
    except md.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fmreview",
        description="Catalog, meta-analysis, review report and reference zoo for medical foundation models.",
    )
    parser.add_argument("--version", action="version", version=f"fmreview {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    register_all(sub, AREAS)
    return parser


def register_all(sub, modules) -> None:
    """Let each module of fmreview.reports (``cli_catalog`` …) add its subcommands to ``sub``."""
    for name in modules:
        importlib.import_module(f"fmreview.reports.{name}").register(sub)


def user_errors() -> tuple[type[BaseException], ...]:
    """The exception types that mean "the input is wrong": each layer's own (the catalog's problems and queries,
    the analyses' input and convergence errors, the review folder's), never a bare ValueError, which from a
    library deep inside a fit is a bug to report, not the user's fault. A type can only have been raised if its
    module was imported, so only loaded modules are looked in (an error costs no imports)."""
    types: list[type[BaseException]] = [UserError, FileNotFoundError]
    for module, names in USER_ERRORS.items():
        if (m := sys.modules.get(module)) is not None:
            types.extend(getattr(m, n) for n in names)
    return tuple(types)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except user_errors() as e:
        print(f"fmreview: error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `fmreview models | head`
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # a bug: say so in one line, not with a traceback
        if os.environ.get("FMREVIEW_DEBUG"):
            raise
        where = _where(e)
        print(f"fmreview: internal error: {type(e).__name__}: {e}{where} (please report, with the command; "
              "FMREVIEW_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 2


def _where(exc: BaseException) -> str:
    """' at module.py:LINE' of the innermost frame in fmreview's own code, for the bug report."""
    tb, found = exc.__traceback__, None
    while tb is not None:
        fn = tb.tb_frame.f_code.co_filename
        if "site-packages" not in fn and os.sep + "lib" + os.sep + "python" not in fn:
            found = f" at {os.path.basename(fn)}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found or ""


if __name__ == "__main__":
    sys.exit(main())
