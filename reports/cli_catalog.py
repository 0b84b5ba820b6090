"""CLI for the catalog: ``catalog validate|stats|fmt|schema``, ``models``, ``datasets``, ``papers``,
``results`` and ``show``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .tables import render

FORMATS = ("table", "csv", "json")


def _catalog_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--catalog", metavar="DIR", help="catalog directory (default: $FMREVIEW_CATALOG or the shipped one)")


def _format_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")


def _load(args):
    from fmreview.catalog import load

    return load(args.catalog)


def register(sub) -> None:
    cat = sub.add_parser("catalog", help="validate, format and summarise the catalog")
    csub = cat.add_subparsers(dest="catalog_command", metavar="ACTION")
    csub.required = True

    p = csub.add_parser("validate", help="check every file; list every problem with file:line (exit 1 if any)")
    _catalog_arg(p)
    p.set_defaults(handler=cmd_validate)

    p = csub.add_parser("stats", help="size of the evidence base: counts by entity, family, band, modality, task, year")
    _catalog_arg(p)
    _format_arg(p)
    p.set_defaults(handler=cmd_stats)

    p = csub.add_parser("fmt", help="rewrite files in canonical key order")
    _catalog_arg(p)
    p.add_argument("--check", action="store_true", help="only list files that are not canonical (exit 1 if any)")
    p.set_defaults(handler=cmd_fmt)

    p = csub.add_parser("schema", help="print the catalog's JSON Schema")
    p.set_defaults(handler=cmd_schema)

    p = sub.add_parser("models", help="list models (filters combine with AND; comma-separated values with OR)")
    _catalog_arg(p)
    _format_arg(p)
    p.add_argument("--modality", help="e.g. CT, mri, pathology")
    p.add_argument("--task", help="e.g. segmentation, classification")
    p.add_argument("--family", help="vision-only | vision-language | multimodal-llm")
    p.add_argument("--band", help="general | modality-specific | organ-task-specific")
    p.add_argument("--group", dest="model_group", help="pretrained | vision-fm | vision-language-fm | multimodal-fm")
    p.add_argument("--since", type=int, metavar="YEAR")
    p.add_argument("--until", type=int, metavar="YEAR")
    p.add_argument("--open-weights", action="store_true", help="only models with public weights")
    p.add_argument("--search", dest="text", metavar="TEXT", help="substring of id, name, architecture, organisation")
    p.set_defaults(handler=cmd_models)

    p = sub.add_parser("datasets", help="list datasets")
    _catalog_arg(p)
    _format_arg(p)
    p.add_argument("--modality")
    p.add_argument("--task")
    p.add_argument("--dimensionality", help="2d | 3d | video")
    p.add_argument("--access", help="open | registration | restricted")
    p.add_argument("--since", type=int, metavar="YEAR")
    p.add_argument("--until", type=int, metavar="YEAR")
    p.add_argument("--search", dest="text", metavar="TEXT")
    p.set_defaults(handler=cmd_datasets)

    p = sub.add_parser("papers", help="list papers")
    _catalog_arg(p)
    _format_arg(p)
    p.add_argument("--kind", help="method | benchmark | review | dataset")
    p.add_argument("--since", type=int, metavar="YEAR")
    p.add_argument("--until", type=int, metavar="YEAR")
    p.add_argument("--search", dest="text", metavar="TEXT")
    p.set_defaults(handler=cmd_papers)

    p = sub.add_parser("results", help="list reported results")
    _catalog_arg(p)
    _format_arg(p)
    p.add_argument("--model", help="model id(s), comma-separated")
    p.add_argument("--dataset", help="dataset id(s)")
    p.add_argument("--metric", help="e.g. dice, auc")
    p.add_argument("--setting", help="zero-shot | few-shot | linear-probe | knn | fine-tune | adapter | mil")
    p.add_argument("--task")
    p.add_argument("--prompt", help="box | point | text | none …")
    p.add_argument("--prompt-count", type=int, metavar="N", help="results with N prompts (e.g. 3 points)")
    p.add_argument("--condition", metavar="TEXT", help="results under this condition (e.g. 'input 256×256')")
    p.add_argument("--source", help="source paper id(s)")
    p.add_argument("--modality", help="modality of the dataset")
    p.add_argument("--verified", action="store_true",
                   help="add the zoo's verification records (reproduced value and verdict) beside each result")
    p.add_argument("--records", metavar="DIR", help="with --verified: records directory")
    p.set_defaults(handler=cmd_results)

    p = sub.add_parser("show", help="one entry with everything linked to it")
    _catalog_arg(p)
    p.add_argument("id")
    p.add_argument("--format", choices=("yaml", "json"), default="yaml")
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
    if problems:
        for p in sorted(problems, key=lambda p: (p.file, p.line or 0, p.field)):
            print(p)
        n = len(problems)
        print(f"{n} problem{'s' if n != 1 else ''} in {root}", file=sys.stderr)
        return 1
    n_results = sum(len(e.record.results) for e in raw.result_files)
    print(f"catalog OK: {len(raw.papers)} papers, {len(raw.models)} models, {len(raw.datasets)} datasets, "
          f"{n_results} results in {len(raw.result_files)} files ({root})")
    return 0


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

    changed = format_catalog(args.catalog, check=args.check)
    for p in changed:
        print(("not canonical: " if args.check else "formatted: ") + str(p))
    return 1 if (args.check and changed) else 0


def cmd_schema(args) -> int:
    from fmreview.catalog.schema import json_schema

    print(json.dumps(json_schema(), indent=2, sort_keys=False))
    return 0


TABLE_COLUMNS = {
    "models": ["id", "name", "year", "family", "band", "modalities", "tasks", "parameters", "hf_repo"],
    "datasets": ["id", "name", "modalities", "tasks", "dimensionality", "images", "volumes", "access"],
    "papers": ["id", "year", "kind", "venue", "title"],
    "results": ["id", "model", "dataset", "metric", "value_reported", "unit", "setting", "prompt", "locator"],
}


def _emit(df, kind: str, fmt: str, optional: tuple[str, ...] = ()) -> int:
    """Print a listing; ``optional`` columns join the table (after prompt) only when some row has a value."""
    cols = list(TABLE_COLUMNS[kind])
    for extra in reversed(optional):
        if df[extra].notna().any():
            cols.insert(cols.index("prompt") + 1, extra)
    sys.stdout.write(render(df, fmt, cols))
    return 0


def cmd_models(args) -> int:
    cat = _load(args)
    df = cat.models_where(modality=args.modality, task=args.task, family=args.family, band=args.band,
                          model_group=args.model_group, since=args.since, until=args.until,
                          open_weights=True if args.open_weights else None, text=args.text)
    return _emit(df, "models", args.format)


def cmd_datasets(args) -> int:
    cat = _load(args)
    df = cat.datasets_where(modality=args.modality, task=args.task, dimensionality=args.dimensionality,
                            access=args.access, since=args.since, until=args.until, text=args.text)
    return _emit(df, "datasets", args.format)


def cmd_papers(args) -> int:
    cat = _load(args)
    return _emit(cat.papers_where(kind=args.kind, since=args.since, until=args.until, text=args.text), "papers", args.format)


def cmd_results(args) -> int:
    cat = _load(args)
    df = cat.results_where(model=args.model, dataset=args.dataset, metric=args.metric, setting=args.setting,
                           task=args.task, prompt=args.prompt, prompt_count=args.prompt_count,
                           condition=args.condition, source=args.source, modality=args.modality)
    if args.verified:
        from fmreview.zoo.records import load_records

        rec = load_records(args.records)[["result", "reproduced", "ci_low", "ci_high", "verdict"]]
        rec = rec.rename(columns={"result": "id", "ci_low": "reproduced_ci_low", "ci_high": "reproduced_ci_high"})
        df = df.merge(rec.drop_duplicates("id", keep="last"), on="id", how="left")
        sys.stdout.write(render(df, args.format, ["id", "model", "dataset", "metric", "value", "reproduced",
                                                  "verdict", "locator"]))
        return 0
    return _emit(df, "results", args.format, optional=("prompt_count", "condition"))


def cmd_show(args) -> int:
    from fmreview.catalog.links import linked
    from fmreview.catalog.yamlio import dumps

    from .cli import UserError

    cat = _load(args)
    doc = linked(cat, args.id)
    if doc is None:
        import difflib

        ids = list(cat.models["id"]) + list(cat.datasets["id"]) + list(cat.papers["id"]) + list(cat.results["id"])
        hint = difflib.get_close_matches(args.id, ids, n=3, cutoff=0.6)
        raise UserError(f"no entry with id {args.id!r}" + (f" (did you mean {', '.join(hint)}?)" if hint else ""))
    if args.format == "json":
        print(json.dumps(doc, indent=2, default=str))
    else:
        sys.stdout.write(dumps(doc))
    return 0
