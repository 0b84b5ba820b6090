"""CLI for the catalog: ``catalog validate|stats|fmt|schema``, ``models``, ``datasets``, ``papers``,
``results`` and ``show``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fmreview.catalog.vocab import choices

from .cli import UserError
from .tables import render

FORMATS = ("table", "csv", "json")


def _catalog_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--catalog", metavar="DIR", help="catalog directory (default: $FMREVIEW_CATALOG or the shipped one)")


def _format_arg(p: argparse.ArgumentParser, listing: bool = True) -> None:
    p.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    if listing:
        p.add_argument("--wide", action="store_true",
                       help="table: print every cell in full on one line (default: long cells wrap onto further lines)")


def _load(args):
    from fmreview.catalog import load

    return load(args.catalog)


def register(sub) -> None:
    cat = sub.add_parser("catalog", help="validate, format and summarise the catalog")
    csub = cat.add_subparsers(dest="catalog_command", metavar="ACTION")
    csub.required = True

    p = csub.add_parser("validate", help="check every file; list every problem with file:line (exit 1 if any) and "
                        "every warning (likely mistakes that can be true; exit 0 when there are only warnings)")
    _catalog_arg(p)
    p.add_argument("--strict", action="store_true", help="also an error for every GitHub or Hugging Face source URL "
                   "that names no commit")
    p.set_defaults(handler=cmd_validate)

    p = csub.add_parser("stats", help="size of the evidence base: counts by entity, family, band, modality, task, year")
    _catalog_arg(p)
    _format_arg(p, listing=False)
    p.set_defaults(handler=cmd_stats)

    p = csub.add_parser("fmt", help="rewrite files in canonical key order; says which files it changed")
    _catalog_arg(p)
    p.add_argument("--check", action="store_true", help="only list files that are not canonical (exit 1 if any)")
    p.add_argument("files", nargs="*", metavar="FILE", help="only these catalog files (default: all)")
    p.set_defaults(handler=cmd_fmt)

    p = csub.add_parser("schema", help="print the catalog's JSON Schema")
    p.set_defaults(handler=cmd_schema)

    p = sub.add_parser("models", help="list models (filters combine with AND; comma-separated values with OR)")
    _catalog_arg(p)
    _format_arg(p)
    p.add_argument("--modality", help=f"{choices('modality')} (case-insensitive; aliases such as CT accepted)")
    p.add_argument("--task", help=choices("task"))
    p.add_argument("--family", help=choices("family"))
    p.add_argument("--band", help=choices("band"))
    p.add_argument("--group", dest="model_group", help=choices("model_group"))
    p.add_argument("--since", type=int, metavar="YEAR")
    p.add_argument("--until", type=int, metavar="YEAR")
    p.add_argument("--open-weights", action="store_true", help="only models with public weights")
    p.add_argument("--search", dest="text", metavar="TEXT", help="substring of id, name, architecture, organisation")
    p.set_defaults(handler=cmd_models)

    p = sub.add_parser("datasets", help="list datasets")
    _catalog_arg(p)
    _format_arg(p)
    p.add_argument("--modality", help=choices("modality"))
    p.add_argument("--task", help=choices("task"))
    p.add_argument("--dimensionality", help=choices("dimensionality"))
    p.add_argument("--access", help=choices("access"))
    p.add_argument("--since", type=int, metavar="YEAR")
    p.add_argument("--until", type=int, metavar="YEAR")
    p.add_argument("--search", dest="text", metavar="TEXT")
    p.set_defaults(handler=cmd_datasets)

    p = sub.add_parser("papers", help="list papers")
    _catalog_arg(p)
    _format_arg(p)
    p.add_argument("--kind", help=choices("paper_kind"))
    p.add_argument("--since", type=int, metavar="YEAR")
    p.add_argument("--until", type=int, metavar="YEAR")
    p.add_argument("--search", dest="text", metavar="TEXT")
    p.set_defaults(handler=cmd_papers)

    p = sub.add_parser("results", help="list reported results")
    _catalog_arg(p)
    _format_arg(p)
    p.add_argument("--model", help="model id(s), comma-separated (an unknown id is an error)")
    p.add_argument("--dataset", help="dataset id(s), comma-separated")
    p.add_argument("--metric", help=choices("metric"))
    p.add_argument("--setting", help=choices("setting"))
    p.add_argument("--task", help=f"the result's task: {choices('task')}")
    p.add_argument("--prompt", help=choices("prompt"))
    p.add_argument("--prompt-count", type=int, metavar="N", help="results with N prompts (e.g. 3 points)")
    p.add_argument("--condition", metavar="TEXT", help="results under this condition (e.g. 'input 256×256')")
    p.add_argument("--source", help="source paper id(s), comma-separated")
    p.add_argument("--reported-by", dest="reported_by", help=choices("reported_by"))
    p.add_argument("--modality", help=f"the result's own modality ({choices('modality')}); a result on a dataset of "
                   "several modalities matches only if it names its own")
    p.add_argument("--anatomy", metavar="WORD", help="the result's own anatomy (e.g. abdomen, chest), likewise")
    p.add_argument("--exclude-doubtful", action="store_true", help="leave out results marked doubt:")
    p.add_argument("--exclude-aggregates", action="store_true",
                   help="leave out results marked aggregate: (means over other results)")
    p.add_argument("--verified", action="store_true",
                   help="only the results with a verification record of the zoo: reported and reproduced side by "
                   "side (fraction scale), the reproduced 95%% CI, the verdict and the number of runs; where a result "
                   "has several runs, a full run against the current catalog value speaks for it, the newest first")
    p.add_argument("--records", metavar="DIR", help="with --verified: the records folder (default $FMREVIEW_RECORDS "
                   "or the zoo's default)")
    p.set_defaults(handler=cmd_results)

    p = sub.add_parser("show", help="one entry with everything linked to it")
    _catalog_arg(p)
    p.add_argument("id")
    p.add_argument("--format", choices=("yaml", "json"), default="yaml")
    p.add_argument("--records", metavar="DIR", help="the zoo's records folder: a result (or a model's results) "
                   "with a verification record shows reproduced beside reported (default $FMREVIEW_RECORDS or the "
                   "zoo's default folder, where it exists)")
    p.set_defaults(handler=cmd_show)


# ------------------------------------------------------------------------------------------------ handlers


def cmd_validate(args) -> int:
    from fmreview.catalog import store

    root = Path(args.catalog) if args.catalog else store.default_root()
    raw = None
    try:
        raw = store.read_catalog(root)
        problems = raw.problems
    except Exception as e:  # CatalogError for a missing directory
        problems = getattr(e, "problems", None) or [str(e)]
    key = lambda p: (p.file, p.line or 0, p.field)
    warnings = sorted(raw.warnings, key=key) if raw is not None else []
    for w in warnings:
        print(f"warning: {w}")
    if raw is not None and not raw.problems:
        from fmreview.catalog.pinning import census, unpinned_problems

        total, bad = census(raw)
        if getattr(args, "strict", False):
            problems = list(problems) + unpinned_problems(raw)
        elif bad:
            print(f"note: {total - len(bad)} of {total} GitHub and Hugging Face source URLs name the commit they were "
                  f"read at ({100 * (total - len(bad)) / total:.0f}%); --strict lists the other {len(bad)} as errors",
                  file=sys.stderr)
    if problems:
        for p in sorted(problems, key=key):
            print(p)
        n = len(problems)
        print(f"{n} problem{'s' if n != 1 else ''} in {root}", file=sys.stderr)
        return 1
    print(_ok_line(raw, root, len(warnings)))
    return 0


def _ok_line(raw, root: Path, n_warnings: int) -> str:
    """Counts of every kind of file the loader reads (store.KINDS), so a file that was skipped shows."""
    from fmreview.catalog.store import KINDS

    files = {"papers": len(raw.papers), "models": len(raw.models), "datasets": len(raw.datasets),
             "results": len(raw.result_files), "protocols": len(raw.protocols)}
    assert set(files) == set(KINDS), "a new kind of catalog file needs its count here"
    n_results = sum(len(e.record.results) for e in raw.result_files)
    warned = f" ({n_warnings} warning{'s' if n_warnings != 1 else ''})" if n_warnings else ""
    return (f"catalog OK{warned}: {sum(files.values())} files: {files['papers']} papers, {files['models']} models, "
            f"{files['datasets']} datasets, {files['results']} results files with {n_results} results"
            + (f", {files['protocols']} protocols" if files["protocols"] else "") + f" ({root})")


def cmd_stats(args) -> int:
    from fmreview.catalog.stats import catalog_stats

    stats = catalog_stats(_load(args))
    if args.format == "json":
        print(json.dumps(stats, indent=2))
        return 0
    for section, table in stats.items():
        if isinstance(table, dict):
            print(f"{section}:")
            for k, v in table.items():
                print(f"  {k:<28} {v}")
        else:
            print(f"{section}: {table}")
    return 0


def cmd_fmt(args) -> int:
    from fmreview.catalog.fmt import format_catalog
    from fmreview.catalog.store import default_root

    root = Path(args.catalog) if args.catalog else default_root()
    try:
        changed = format_catalog(root, check=args.check, files=args.files)
    except ValueError as e:
        raise UserError(str(e)) from None
    for p in changed:
        print(("not canonical: " if args.check else "formatted: ") + _rel(p, root))
    n = len(changed)
    if not changed:
        print(f"nothing to change: every file is in canonical form ({root})")
    elif args.check:
        print(f"{n} file{'s' if n != 1 else ''} not in canonical form; run `fmreview catalog fmt`")
    else:
        print(f"formatted {n} file{'s' if n != 1 else ''} ({root})")
    return 1 if (args.check and changed) else 0


def _rel(path: Path, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)


def cmd_schema(args) -> int:
    from fmreview.catalog.schema import json_schema

    print(json.dumps(json_schema(), indent=2, sort_keys=False))
    return 0


TABLE_COLUMNS = {
    "models": ["id", "name", "year", "family", "band", "modalities", "tasks", "parameters", "hf_repo"],
    "datasets": ["id", "name", "modalities", "tasks", "dimensionality", "images", "volumes", "access"],
    "papers": ["id", "year", "kind", "venue", "title"],
    "results": ["id", "model", "dataset", "subset", "metric", "value_reported", "unit", "setting", "prompt", "source",
                "locator"],
}
WRAP = 40  # table cells wrap at this width unless --wide


def _emit(df, kind: str, args, optional: tuple[str, ...] = ()) -> int:
    """Print a listing; ``optional`` columns join the table (after prompt) only when some row has a value."""
    cols = list(TABLE_COLUMNS[kind])
    for extra in reversed(optional):
        if extra in df.columns and df[extra].notna().any():
            cols.insert(cols.index("prompt") + 1, extra)
    if kind == "results":
        if not df["subset"].notna().any():
            cols.remove("subset")
        if df["split"].nunique() > 1:  # folds, val/test: otherwise identical-looking rows
            cols.insert(cols.index("metric"), "split")
    wide = getattr(args, "wide", False)
    sys.stdout.write(render(df, args.format, cols, max_width=None if wide else WRAP, wrap=not wide))
    return 0


def _flags(df):
    """The results listing's mark for aggregates and doubtful values (the full text is in csv/json)."""
    if df.empty:
        return df.assign(flags=None, source=None)
    flags = [",".join(w for w, on in (("aggregate", a), ("doubt", d)) if on) or None
             for a, d in zip(df["aggregate"].notna(), df["doubt"].notna())]
    return df.assign(flags=flags, source=df["source_paper"])


def cmd_models(args) -> int:
    cat = _load(args)
    df = cat.models_where(modality=args.modality, task=args.task, family=args.family, band=args.band,
                          model_group=args.model_group, since=args.since, until=args.until,
                          open_weights=True if args.open_weights else None, text=args.text)
    return _emit(df, "models", args)


def cmd_datasets(args) -> int:
    cat = _load(args)
    df = cat.datasets_where(modality=args.modality, task=args.task, dimensionality=args.dimensionality,
                            access=args.access, since=args.since, until=args.until, text=args.text)
    return _emit(df, "datasets", args)


def cmd_papers(args) -> int:
    cat = _load(args)
    return _emit(cat.papers_where(kind=args.kind, since=args.since, until=args.until, text=args.text), "papers", args)


def cmd_results(args) -> int:
    cat = _load(args)
    df = cat.results_where(model=args.model, dataset=args.dataset, metric=args.metric, setting=args.setting,
                           task=args.task, prompt=args.prompt, prompt_count=args.prompt_count,
                           condition=args.condition, source=args.source, reported_by=args.reported_by,
                           modality=args.modality, anatomy=args.anatomy,
                           include_doubtful=not args.exclude_doubtful, include_aggregates=not args.exclude_aggregates)
    if args.verified:
        from .reproduced import chosen, side_by_side
        from .reproduced import load as load_records

        table = side_by_side(chosen(load_records(args.records, required=True), df))
        wide = getattr(args, "wide", False)
        sys.stdout.write(render(table, args.format, list(table.columns), max_width=None if wide else WRAP,
                                wrap=not wide))
        return 0
    if args.format == "table":  # csv and json keep the frame's own columns (aggregate, doubt, source_paper ...)
        df = _flags(df)
    return _emit(df, "results", args, optional=("prompt_count", "condition", "flags"))


def cmd_show(args) -> int:
    from fmreview.catalog.links import linked
    from fmreview.catalog.query import check_ids
    from fmreview.catalog.yamlio import dumps

    cat = _load(args)
    check_ids(cat, "entry", [args.id])
    doc = linked(cat, args.id)
    _with_reproduced(doc, cat, args)
    if args.format == "json":
        print(json.dumps(doc, indent=2, default=str))
    else:
        sys.stdout.write(dumps(doc))
    return 0


def _with_reproduced(doc: dict, cat, args) -> None:
    """``show RESULT`` / ``show MODEL``: the zoo's chosen record of each result beside its reported value."""
    from .reproduced import chosen, for_result
    from .reproduced import load as load_records

    if "result" not in doc and "model" not in doc:
        return
    records = load_records(getattr(args, "records", None), required=True)
    if records.empty:
        return
    res = cat.results
    if "result" in doc:
        table = chosen(records, res[res["id"] == args.id])
        got = for_result(table, args.id)
        if got:
            doc["reproduced"] = got
        return
    table = chosen(records, res[res["model"] == args.id])
    for row in doc.get("results", []):  # beside each reported value, in its unit
        got = for_result(table, row["id"])
        if got:
            row.update(reproduced=got["reproduced"], reproduced_ci=[got.get("ci_low"), got.get("ci_high")],
                       verdict=got["verdict"] + (" (stale)" if got["stale"] else ""), record=got["record"])
