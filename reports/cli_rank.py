"""CLI for rank comparisons of many models over many datasets: ``fmreview rank`` (Friedman, Nemenyi CD, Wilcoxon–Holm)."""

from __future__ import annotations

import json
import sys

from .cli import UserError
from .cli_meta import _read_csv, catalog_filters


def register(sub) -> None:
    p = sub.add_parser("rank", help="Friedman/Nemenyi/Wilcoxon–Holm rank comparison of treatments over blocks")
    p.add_argument("file", metavar="FILE.csv", nargs="?", help="one row per (block, treatment) with its value")
    p.add_argument("--block", metavar="COL", help="column naming the block (e.g. the dataset)")
    p.add_argument("--treatment", metavar="COL", help="column naming the treatment (e.g. the model)")
    p.add_argument("--value", metavar="COL", help="column holding the value compared (e.g. dice)")
    p.add_argument("--lower-is-better", action="store_true", help="smaller values rank better (e.g. hd95)")
    p.add_argument("--alpha", type=float, default=0.05, help="level of the Nemenyi critical difference (0.05)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--cd-diagram", metavar="PATH", help="write a critical-difference diagram "
                   "(.svg/.png by extension; both without)")
    # the question asked of the catalog (see fmreview.reports.catalog_meta.benchmark_frame)
    catalog_filters(p, "rank the catalog's models instead of FILE (the metric's direction sets --lower-is-better)")
    p.add_argument("--include-doubtful", action="store_true", help="with --from-catalog: keep values marked doubtful")
    p.set_defaults(handler=cmd_rank)


def _metric_lower_is_better(metric: str | None, flag: bool) -> bool:
    """The catalog metric's own direction where the vocabulary knows the metric, else the user's flag."""
    from fmreview.catalog import vocab

    word = vocab.canonical("metric", metric) if metric else None
    if word is None:
        return flag
    lower = not vocab.METRICS[word].higher_is_better
    if flag and not lower:
        raise UserError(f"--lower-is-better contradicts the metric {word!r}, for which higher values are better")
    return lower


def _frame(args):
    """(long DataFrame, block, treatment, value column names, lower_is_better, figure title)."""
    if args.from_catalog:
        if args.file:
            raise UserError("give FILE.csv or --from-catalog, not both")
        from .catalog_meta import benchmark_frame

        from .benchmark_tables import complete_blocks

        # rank tests need every model on every dataset: the largest complete sub-table of the catalog's
        df = complete_blocks(benchmark_frame(catalog=args.catalog, metric=args.metric, setting=args.setting,
                                             prompt=args.prompt, prompt_count=args.prompt_count,
                                             condition=args.condition, source=args.source,
                                             include_doubtful=args.include_doubtful))
        title = ", ".join(str(x) for x in (args.metric, args.setting, args.prompt) if x)
        return df, "study", "treatment", "yi", _metric_lower_is_better(args.metric, args.lower_is_better), title
    if not args.file:
        raise UserError("give FILE.csv with --block, --treatment and --value columns, or --from-catalog")
    missing = [f"--{o}" for o in ("block", "treatment", "value") if not getattr(args, o)]
    if missing:
        raise UserError(f"{args.file}: name the columns with {', '.join(missing)}")
    return _read_csv(args.file), args.block, args.treatment, args.value, args.lower_is_better, None


def _plot(result, path: str, title: str | None) -> None:
    from .plotting import save_as
    from .rank_plots import cd_diagram

    save_as(cd_diagram(result, title=title), path)


def cmd_rank(args) -> int:
    from fmreview.analysis.ranks import rank_comparison

    df, block, treatment, value, lower, title = _frame(args)
    result = rank_comparison(df, block, treatment, value, lower_is_better=lower, alpha=args.alpha)
    if args.cd_diagram:
        _plot(result, args.cd_diagram, title)
    if args.format == "json":
        print(json.dumps(result.to_dict(), indent=2))
    else:
        sys.stdout.write(result.summary() + "\n")
    return 0
