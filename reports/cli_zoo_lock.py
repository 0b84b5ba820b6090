"""CLI: ``fmreview zoo lock MODEL|--all``: pin hub checkpoints (commit + sha256 and size of every file) in the
catalog (see :mod:`fmreview.zoo.lock`)."""

from __future__ import annotations

import json
import sys

from .cli import UserError


def register(zs) -> None:
    """Add ``lock`` to the ``zoo`` subcommands ``zs``."""
    p = zs.add_parser("lock", help="pin hub checkpoints in the catalog: the commit and every file's sha256 and size",
                      description="Resolve each Hugging Face checkpoint's commit (for its revision, or main) and the "
                      "sha256 and size of every file the zoo fetches (the files the entry lists, else configs and "
                      "one copy of the weights), and write them into the model's catalog file as revision and "
                      "files, changing nothing else. All or nothing: if one repository fails, nothing is written. "
                      "zoo verify and zoo sweep then fetch exactly that commit and refuse other bytes.")
    p.add_argument("model", nargs="?", help="model id (or --all)")
    p.add_argument("--all", action="store_true", help="every model with a Hugging Face checkpoint")
    p.add_argument("--catalog", metavar="DIR")
    p.add_argument("--token", metavar="TOKEN", help="hub token for gated repositories (default: $HF_TOKEN, or the "
                   "token `huggingface-cli login` stored)")
    p.add_argument("--dry-run", action="store_true", help="resolve and print, write nothing")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(handler=cmd_lock)


def cmd_lock(args) -> int:
    from fmreview.catalog import load
    from fmreview.zoo.lock import LockError, lock

    if bool(args.model) == bool(args.all):
        raise UserError("give a model id or --all (not both)")
    log = (lambda s: None) if args.quiet else (lambda s: print(f"fmreview zoo lock: {s}", file=sys.stderr))
    cat = load(args.catalog)
    try:
        pins, changed = lock(cat, None if args.all else args.model, token=args.token, dry_run=args.dry_run, log=log)
    except LockError as e:
        raise UserError(str(e)) from None
    rows = [p.row() for p in pins]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        for p in pins:
            what = "would change" if args.dry_run and p.changed else "locked" if p.changed else "already locked"
            chosen = " (files chosen by the zoo: the entry listed none)" if p.chosen else ""
            print(f"{p.model}: {p.repo_id}@{p.revision}: {len(p.files)} files, "
                  f"{sum(f['size'] for f in p.files):,} bytes: {what}{chosen}")
        verb = "would change" if args.dry_run else "changed"
        print(f"{len(pins)} checkpoint{'s' if len(pins) != 1 else ''} resolved; {len(changed)} catalog "
              f"file{'s' if len(changed) != 1 else ''} {verb}")
    return 0
