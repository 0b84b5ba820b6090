"""CLI for the meta-analysis engine: ``fmreview effects`` and ``fmreview meta``."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from .cli import UserError

EFFECT_COLUMNS = ("ai", "bi", "ci", "di", "n1i", "n2i", "m1i", "m2i", "sd1i", "sd2i", "xi", "ni", "ri", "mi", "sdi",
                  "auc", "npos", "nneg")


def register(sub) -> None:
    p = sub.add_parser("effects", help="compute effect sizes yi, vi (metafor's escalc) from a CSV")
    p.add_argument("file", metavar="FILE.csv")
    p.add_argument("--measure", required=True, help="RR OR RD SMD MD ROM PLO PR PAS PFT ZCOR COR AUC MN")
    for c in EFFECT_COLUMNS:
        p.add_argument(f"--{c}", metavar="COL", help=f"column holding {c}")
    p.add_argument("--add", type=float, default=0.5, help="added to cells of tables with a zero (default 1/2)")
    p.add_argument("--out", metavar="FILE", help="write CSV here (default: stdout)")
    p.set_defaults(handler=cmd_effects)

    p = sub.add_parser("meta", help="random-effects meta-analysis of yi, vi from a CSV (or the catalog)")
    p.add_argument("file", metavar="FILE.csv", nargs="?")
    p.add_argument("--yi", default="yi", metavar="COL")
    p.add_argument("--vi", default="vi", metavar="COL")
    p.add_argument("--label", metavar="COL", help="study labels for plots and tables")
    p.add_argument("--method", default="REML", help="EE DL HE HS SJ ML REML EB PM (default REML; with --random: "
                   "REML or ML)")
    p.add_argument("--test", default="z", choices=("z", "knha", "t"),
                   help="z; knha (Knapp–Hartung, univariate); t (k − p df, with --random)")
    p.add_argument("--random", metavar="A/B", help="multilevel model (metafor's rma.mv): nested random intercepts, "
                   "outermost first, e.g. source/dataset; or 'inner | outer' for a structured term")
    p.add_argument("--struct", default="CS", choices=("CS", "HCS", "UN"), help="with 'inner | outer' (default CS)")
    p.add_argument("--robust", metavar="COL", help="with --random: cluster-robust tests clustered on COL "
                   "(CR2 with Satterthwaite df, as clubSandwich)")
    p.add_argument("--rho", type=float, metavar="R", help="with --random: outcomes sharing the innermost "
                   "--random level that groups several of them (one test set) have sampling correlation R "
                   "(metafor's vcalc)")
    p.add_argument("--profile", metavar="PATH", help="with --random: profile likelihood plot of each variance "
                   "component (.svg/.png by extension; both without)")
    p.add_argument("--level", type=float, default=0.95)
    p.add_argument("--format", choices=("json", "table"), default="table")
    p.add_argument("--bias", action="store_true", help="Egger (both forms), Begg, trim-and-fill")
    p.add_argument("--leave-one-out", action="store_true")
    p.add_argument("--cumulative", action="store_true")
    p.add_argument("--mods", metavar="COL,COL", help="moderators (text columns are dummy-coded)")
    p.add_argument("--by", metavar="COL", help="subgroup analysis by this column")
    p.add_argument("--permutations", type=int, metavar="N", help="permutation test of the moderators")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--forest", metavar="PATH", help="write a forest plot (.svg/.png by extension; both without)")
    p.add_argument("--funnel", metavar="PATH", help="write a funnel plot")
    # questions asked of the catalog (see fmreview.reports.catalog_meta)
    catalog_filters(p, "pool results from the catalog instead of FILE")
    p.add_argument("--include-doubtful", action="store_true", help="with --from-catalog: keep values marked doubtful "
                   "(left out by default; aggregate rows are always left out)")
    p.add_argument("--compare", nargs=2, metavar=("MODEL_A", "MODEL_B"),
                   help="with --from-catalog: effect = A − B on each dataset both were evaluated on")
    p.add_argument("--model", help="with --from-catalog and no --compare: pool one model's results")
    evidence_filters(p)
    p.set_defaults(handler=cmd_meta)

    p = sub.add_parser("nma", help="network meta-analysis of arm-level results (a score per model per dataset)")
    p.add_argument("file", metavar="FILE.csv", nargs="?")
    p.add_argument("--study", default="study", metavar="COL", help="column naming the study (dataset)")
    p.add_argument("--treatment", default="treatment", metavar="COL", help="column naming the treatment (model)")
    p.add_argument("--yi", default="yi", metavar="COL", help="the arm's outcome")
    p.add_argument("--vi", metavar="COL", help="its sampling variance; leave out when none is known (the "
                   "additive model: τ² absorbs the residual)")
    p.add_argument("--reference", metavar="T", help="reference treatment (default: the one in most studies)")
    p.add_argument("--lower-is-better", action="store_true", help="smaller outcomes are better (P-scores)")
    p.add_argument("--level", type=float, default=0.95)
    p.add_argument("--format", choices=("json", "table"), default="table")
    p.add_argument("--league", metavar="PATH.csv", help="write the league table as CSV")
    p.add_argument("--netgraph", metavar="PATH", help="write the network graph (.svg/.png; both without)")
    p.add_argument("--forest", metavar="PATH", help="write a forest plot of the effects against the reference")
    catalog_filters(p, "the catalog's results instead of FILE (the metric's direction sets --lower-is-better)")
    p.add_argument("--include-doubtful", action="store_true", help="with --from-catalog: keep values marked doubtful")
    evidence_filters(p)
    p.set_defaults(handler=cmd_nma)


def catalog_filters(p, what: str) -> None:
    """``--from-catalog`` and the filters every analysis of the catalog takes (meta, nma, rank)."""
    p.add_argument("--from-catalog", action="store_true", help=what)
    p.add_argument("--catalog", metavar="DIR")
    p.add_argument("--metric", help="with --from-catalog: e.g. dice, auc")
    p.add_argument("--setting", help="with --from-catalog: e.g. zero-shot")
    p.add_argument("--prompt", help="with --from-catalog: e.g. box")
    p.add_argument("--prompt-count", type=int, metavar="N", help="with --from-catalog: results with N prompts")
    p.add_argument("--condition", metavar="TEXT", help="with --from-catalog: results under this condition, as the "
                   "catalog names it (e.g. 'input 256×256')")
    p.add_argument("--source", help="with --from-catalog: source paper id")


def evidence_filters(p) -> None:
    """``--verified-only``, ``--values`` and ``--records``: the zoo's verification records as evidence (meta, nma;
    the rule is :mod:`fmreview.reports.reproduced`'s)."""
    p.add_argument("--verified-only", action="store_true",
                   help="with --from-catalog: only results the reference zoo re-ran with the verdict 'reproduced' "
                   "(a full run under the protocol the result states, within its tolerance); 'not reproduced', "
                   "'inconclusive' (CI covers the reported value, or a --limit run), 'indicative' (no protocol "
                   "stated) and stale records (the catalog value changed since) do not count")
    p.add_argument("--values", choices=("reported", "reproduced"), default="reported",
                   help="with --from-catalog: pool the values the sources reported (default) or the zoo's reproduced "
                   "ones, each with its record's 95%% bootstrap CI as its uncertainty; 'reproduced' keeps only "
                   "results with a record of a full run under the stated protocol (any verdict but 'indicative'; "
                   "not stale)")
    p.add_argument("--records", metavar="DIR", help="with --verified-only or --values reproduced: the records "
                   "folder (default $FMREVIEW_RECORDS or the zoo's default)")


def _evidence(args) -> dict:
    """The evidence options as keyword arguments of the catalog frames; refused without --from-catalog."""
    if not args.from_catalog and (args.verified_only or args.values != "reported" or args.records):
        raise UserError("--verified-only, --values and --records select catalog results: add --from-catalog")
    return {"verified_only": args.verified_only, "values": args.values, "records": args.records,
            "log": lambda note: print(f"note: {note}", file=sys.stderr)}


def _read_csv(path: str) -> pd.DataFrame:
    if path == "-":
        return pd.read_csv(sys.stdin)
    p = Path(path)
    if not p.exists():
        raise UserError(f"{path}: no such file")
    if not p.is_file():
        raise UserError(f"{path}: not a file (expected a CSV with a header row)")
    try:
        return pd.read_csv(p)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as e:
        raise UserError(f"{path}: not a readable CSV ({e})") from None


def _write(text: str, out: str | None) -> None:
    if out:
        from fmreview.catalog.yamlio import write_atomic

        write_atomic(Path(out), text)
    else:
        sys.stdout.write(text)


def cmd_effects(args) -> int:
    from fmreview.analysis.effects import escalc

    df = _read_csv(args.file)
    cols = {c: getattr(args, c) for c in EFFECT_COLUMNS if getattr(args, c)}
    out = escalc(args.measure, df, add=args.add, **cols)
    buf = io.StringIO()
    out.to_csv(buf, index=False, lineterminator="\n", float_format="%.10g")
    _write(buf.getvalue(), args.out)
    return 0


def _column(df: pd.DataFrame, name: str, what: str) -> np.ndarray:
    if name not in df.columns:
        raise UserError(f"no column {name!r} for {what}; columns are: {', '.join(map(str, df.columns))}")
    col = pd.to_numeric(df[name], errors="coerce")
    bad = col.isna() | ~np.isfinite(col.fillna(0))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise UserError(f"row {i + 1}, column {name}: expected a finite number, got {df[name].iloc[i]!r}")
    return col.to_numpy(dtype=float)


def meta_json(df: pd.DataFrame, yi: str = "yi", vi: str = "vi", *, method="REML", test="z", level=0.95,
              bias=False, leave_one_out=False, cumulative=False, mods=None, by=None, permutations=None,
              seed=None, label=None) -> tuple[dict, object]:
    """The ``fmreview meta`` result as a JSON-ready dict (keys that do not apply are None), and the fit."""
    from fmreview.analysis import bias as b
    from fmreview.analysis import rma, sensitivity
    from fmreview.analysis.regression import permutest, subgroups

    y, v = _column(df, yi, "--yi"), _column(df, vi, "--vi")
    if label and label not in df.columns:
        raise UserError(f"no column {label!r} for --label; columns are: {', '.join(map(str, df.columns))}")
    labels = df[label].astype(str).tolist() if label else None
    fit = rma(y, v, method=method, test=test, level=level, labels=labels)
    out = fit.to_dict()
    out.update({"bias": None, "leave_one_out": None, "cumulative": None, "moderators": None, "subgroups": None})
    if bias:
        from fmreview.analysis.errors import AnalysisError

        def attempt(fn):  # a test that cannot run on these data is null, with the reason in `notes`
            try:
                return fn(), None
            except AnalysisError as exc:
                return None, str(exc)

        (e, n1), (el, n2), (rk, n3), (tf, n4) = (attempt(lambda: b.regtest(fit)),
                                                 attempt(lambda: b.regtest(fit, model="lm")),
                                                 attempt(lambda: b.ranktest(fit)), attempt(lambda: b.trimfill(fit)))
        out["bias"] = {
            "egger": {"stat": e.stat, "pval": e.pval} if e else {"stat": None, "pval": None},
            "egger_lm": {"stat": el.stat, "pval": el.pval} if el else {"stat": None, "pval": None},
            "begg": {"tau": rk.tau, "pval": rk.pval} if rk else {"tau": None, "pval": None},
            "trimfill": ({"k0": tf.k0, "side": tf.side, "estimate": tf.fit.estimate, "se": float(tf.fit.se[0]),
                          "tau2": tf.fit.tau2} if tf else
                         {"k0": None, "side": None, "estimate": None, "se": None, "tau2": None}),
            "notes": sorted({n for n in (n1, n2, n3, n4) if n}),
        }
    if leave_one_out:
        l1 = sensitivity.leave1out(fit)
        out["leave_one_out"] = [{"omitted": r.omitted, "estimate": r.estimate, "se": r.se, "ci_low": r.ci_low,
                                  "ci_high": r.ci_high, "tau2": r.tau2, "i2": r.i2} for r in l1.itertuples()]
    if cumulative:
        cu = sensitivity.cumul(fit)
        out["cumulative"] = [{"estimate": r.estimate, "tau2": r.tau2} for r in cu.itertuples()]
    if mods:
        names = [m.strip() for m in mods.split(",") if m.strip()]
        missing = [m for m in names if m not in df.columns]
        if missing:
            raise UserError(f"no moderator column {missing[0]!r}; columns are: {', '.join(map(str, df.columns))}")
        mf = rma(y, v, mods=df[names].reset_index(drop=True), method=method, test=test, level=level)
        perm = permutest(mf, permutations, seed) if permutations else None
        out["moderators"] = {"names": mf.coef_names, "coef": mf.beta.tolist(), "se": mf.se.tolist(),
                             "pval": mf.pval.tolist(), "qm": mf.qm, "qm_pval": mf.qm_pval, "r2": mf.r2,
                             "tau2": mf.tau2, "permutation_pval": perm}
    if by:
        if by not in df.columns:
            raise UserError(f"no column {by!r} for --by; columns are: {', '.join(map(str, df.columns))}")
        sg = subgroups(y, v, df[by], method=method, test=test)
        out["subgroups"] = {"groups": {lev: {"k": f.k, "estimate": f.estimate, "se": float(f.se[0]), "tau2": f.tau2}
                                       for lev, f in sg.groups.items()},
                            "qm": sg.qm, "qm_pval": sg.qm_pval}
    return out, fit


def _plot(kind: str, fit, path: str, xlabel: str) -> None:
    from .meta_plots import forest, funnel
    from .plotting import save_as

    save_as(forest(fit, xlabel=xlabel) if kind == "forest" else funnel(fit, xlabel=xlabel), path)


def _table(out: dict, fit) -> str:
    lines = [fit.summary()]
    if out["bias"]:
        bb = out["bias"]
        lines.append("")
        if bb["egger"]["stat"] is not None:
            lines.append(f"Egger (mixed-effects, sei): z = {bb['egger']['stat']:.4f}, p = {bb['egger']['pval']:.4g}")
        if bb["egger_lm"]["stat"] is not None:
            lines.append(f"Egger (weighted regression): t = {bb['egger_lm']['stat']:.4f}, p = {bb['egger_lm']['pval']:.4g}")
        if bb["begg"]["tau"] is not None:
            lines.append(f"Begg rank correlation: tau = {bb['begg']['tau']:.4f}, p = {bb['begg']['pval']:.4g}")
        if bb["trimfill"]["k0"] is not None:
            lines.append(f"Trim-and-fill: {bb['trimfill']['k0']} missing on the {bb['trimfill']['side']}; "
                         f"adjusted estimate {bb['trimfill']['estimate']:.4f} (SE {bb['trimfill']['se']:.4f})")
        lines += [f"Not computed: {n}" for n in bb["notes"]]
    if out["moderators"]:
        m = out["moderators"]
        lines += ["", f"Moderators: QM = {m['qm']:.4f}, p = {m['qm_pval']:.4g}, R² = {m['r2']}"]
        for n, c, s, p in zip(m["names"], m["coef"], m["se"], m["pval"]):
            lines.append(f"  {n:<24} {c:9.4f}  SE {s:.4f}  p {p:.4g}")
        if m["permutation_pval"] is not None:
            lines.append(f"  permutation p = {m['permutation_pval']:.4g}")
    if out["subgroups"]:
        s = out["subgroups"]
        lines += ["", f"Subgroups: test for differences QM = {s['qm']:.4f}, p = {s['qm_pval']:.4g}"]
        for lev, g in s["groups"].items():
            lines.append(f"  {lev:<24} k = {g['k']:<3} estimate {g['estimate']:.4f} (SE {g['se']:.4f}), tau² {g['tau2']:.4g}")
    if out["leave_one_out"]:
        lines += ["", "Leave-one-out (each study omitted in turn):",
                  f"  {'omitted':<28} {'estimate':>9} {'ci_low':>9} {'ci_high':>9} {'tau2':>9} {'I2':>7}"]
        lines += [f"  {str(r['omitted'])[:28]:<28} {r['estimate']:9.4f} {r['ci_low']:9.4f} {r['ci_high']:9.4f} "
                  f"{r['tau2']:9.4f} {r['i2']:6.2f}%" for r in out["leave_one_out"]]
    if out["cumulative"]:
        lines += ["", "Cumulative estimates: " + ", ".join(f"{r['estimate']:.4f}" for r in out["cumulative"])]
    return "\n".join(lines) + "\n"


def _say_left_out(left) -> None:
    """Analyses never pool an aggregate with its parts and leave doubtful values out: say so (stderr)."""
    if left and (left.get("aggregate") or left.get("doubtful")):
        print(f"note: left out {left['aggregate']} aggregate result(s) and {left['doubtful']} value(s) marked "
              "doubtful (--include-doubtful puts the doubtful ones back)", file=sys.stderr)


def cmd_meta(args) -> int:
    xlabel = "Effect size"
    label = args.label
    evidence = _evidence(args)
    if args.from_catalog and args.random:
        from .catalog_meta import contrast_frame

        df = contrast_frame(catalog=args.catalog, metric=args.metric, setting=args.setting, prompt=args.prompt,
                            prompt_count=args.prompt_count, condition=args.condition, source=args.source,
                            compare=args.compare, **evidence)
        _say_left_out(df.attrs.get("left_out"))
        return cmd_meta_mv(args, df, "yi", None)
    if args.from_catalog:
        from .catalog_meta import catalog_frame

        df, xlabel = catalog_frame(catalog=args.catalog, metric=args.metric, setting=args.setting,
                                   prompt=args.prompt, prompt_count=args.prompt_count, condition=args.condition,
                                   source=args.source, compare=args.compare, model=args.model,
                                   include_doubtful=args.include_doubtful, **evidence)
        _say_left_out(df.attrs.get("left_out"))
        yi, vi, label = "yi", "vi", "label"
    else:
        if not args.file:
            raise UserError("give FILE.csv with --yi/--vi columns, or --from-catalog")
        df = _read_csv(args.file)
        yi, vi = args.yi, args.vi
    if args.random:
        return cmd_meta_mv(args, df, yi, vi)
    if args.robust or args.rho is not None:
        raise UserError("--robust and --rho need a multilevel model: add --random A/B")
    if args.test == "t":
        raise UserError("--test t is for --random models; the univariate t-type test is --test knha")
    out, fit = meta_json(df, yi, vi, method=args.method, test=args.test, level=args.level, bias=args.bias,
                         leave_one_out=args.leave_one_out, cumulative=args.cumulative, mods=args.mods, by=args.by,
                         permutations=args.permutations, seed=args.seed, label=label)
    if args.forest:
        _plot("forest", fit, args.forest, xlabel)
    if args.funnel:
        _plot("funnel", fit, args.funnel, xlabel)
    if args.format == "json":
        print(json.dumps(out, indent=2, default=float))
    else:
        sys.stdout.write(_table(out, fit))
    return 0


# ------------------------------------------------------------------------------------------ multilevel


def _with_residual_level(random: str, df: pd.DataFrame, v) -> str:
    """Without sampling variances a multilevel model needs a level that absorbs the residual: the rows
    themselves, added as the innermost level when no level is unique per row."""
    if np.any(np.asarray(v) > 0):
        return random
    parts = [p.strip() for p in random.lstrip("~").replace("1 |", "").split("/")]
    if all(p in df.columns for p in parts):
        last = df[parts].astype(str).agg("\x1f".join, axis=1)
        if last.is_unique:
            return random
    df["_row"] = np.arange(len(df))
    return f"{random}/_row"


def meta_mv_json(df: pd.DataFrame, yi: str, vi: str | None, *, random: str, method="REML", test="z", level=0.95,
                 mods=None, struct="CS", robust_col=None, rho=None) -> tuple[dict, object, object]:
    """``fmreview meta --random``: rma_mv (plus robust tests) as a JSON-ready dict, the fit and the robust fit."""
    from fmreview.analysis import rma_mv, robust, vcalc

    if method.upper() not in ("REML", "ML"):
        raise UserError(f"--random fits by REML or ML, not {method}")
    if test == "knha":
        raise UserError("--test knha is the univariate Knapp–Hartung test; with --random use --test t")
    y = _column(df, yi, "--yi")
    v = _column(df, vi, "--vi") if vi is not None else np.zeros(len(df))
    df = df.reset_index(drop=True).copy()
    random = _with_residual_level(random, df, v)
    V = v
    if rho is not None:
        inner = [p.strip() for p in random.lstrip("~").replace("1 |", "").split("/") if p.strip() != "_row"]
        for c in inner:
            if c not in df.columns:
                raise UserError(f"--random names the column {c!r}; columns are: {', '.join(map(str, df.columns))}")
        # the test set: the innermost level that groups several outcomes (an observation-level factor such as
        # esid in study/esid is unique per row, so its parent is the one outcomes share)
        share = None
        for j in range(len(inner), 0, -1):
            share = df[inner[:j]].astype(str).agg("\x1f".join, axis=1)
            if not share.is_unique:
                break
        V = vcalc(v, share, rho)
    mod_df = None
    if mods:
        names = [m.strip() for m in mods.split(",") if m.strip()]
        missing = [m for m in names if m not in df.columns]
        if missing:
            raise UserError(f"no moderator column {missing[0]!r}; columns are: {', '.join(map(str, df.columns))}")
        mod_df = df[names]
    fit = rma_mv(y, V, data=df, random=random, struct=struct, mods=mod_df, method=method, test=test, level=level)
    out = fit.to_dict()
    out.update({"tau2": (fit.tau2[0] if len(fit.tau2) == 1 else fit.tau2) if fit.tau2 else None, "se_tau2": None,
                "tau2_ci_low": None, "tau2_ci_high": None, "i2": None, "h2": None, "bias": None,
                "leave_one_out": None, "cumulative": None, "subgroups": None, "moderators": None, "robust": None,
                "random": random, "rho": rho})
    if mods:
        out["moderators"] = {"names": fit.coef_names, "coef": fit.beta.tolist(), "se": fit.se.tolist(),
                             "pval": fit.pval.tolist(), "qm": fit.qm, "qm_pval": fit.qm_pval}
    rb = None
    if robust_col:
        if robust_col not in df.columns:
            raise UserError(f"no column {robust_col!r} for --robust; columns are: {', '.join(map(str, df.columns))}")
        if df[robust_col].nunique() < 2:
            raise UserError(f"--robust {robust_col}: every outcome has the same {robust_col} "
                            f"({df[robust_col].iloc[0]!r}), and cluster-robust tests need at least 2 clusters; "
                            "cluster on a level with several values or leave --robust out")
        rb = robust(fit, df[robust_col], clubSandwich=True)
        out["robust"] = rb.to_dict()
    return out, fit, rb


def cmd_meta_mv(args, df, yi, vi) -> int:
    for flag in ("bias", "leave_one_out", "cumulative"):
        if getattr(args, flag):
            raise UserError(f"--{flag.replace('_', '-')} is not available with --random (univariate models only)")
    if args.by or args.permutations or args.forest or args.funnel:
        raise UserError("--by, --permutations, --forest and --funnel are for univariate models; with --random use "
                        "--mods")
    out, fit, rb = meta_mv_json(df, yi, vi, random=args.random, method=args.method, test=args.test,
                                level=args.level, mods=args.mods, struct=args.struct, robust_col=args.robust,
                                rho=args.rho)
    if args.profile:
        from fmreview.analysis.multilevel import profile

        from .meta_plots import profile_plot
        from .plotting import save_as

        save_as(profile_plot([profile(fit, j, steps=15) for j in range(len(fit.theta))]), args.profile)
    if args.format == "json":
        print(json.dumps(out, indent=2, default=float))
    else:
        text = fit.summary()
        if rb is not None:
            text += "\n\n" + rb.summary()
        sys.stdout.write(text + "\n")
    return 0


# ------------------------------------------------------------------------------------------------- nma


def cmd_nma(args) -> int:
    from fmreview.analysis import nma

    vi = args.vi
    lower = args.lower_is_better
    note = None
    evidence = _evidence(args)
    if args.from_catalog:
        if args.file:
            raise UserError("give FILE.csv or --from-catalog, not both")
        from .catalog_meta import benchmark_frame
        from .cli_rank import _metric_lower_is_better

        df = benchmark_frame(catalog=args.catalog, metric=args.metric, setting=args.setting, prompt=args.prompt,
                             prompt_count=args.prompt_count, condition=args.condition, source=args.source,
                             include_doubtful=args.include_doubtful, **evidence)
        study, treatment, yi = "study", "treatment", "yi"
        vi = "vi" if df.attrs.get("has_variances") else None
        lower = _metric_lower_is_better(args.metric, args.lower_is_better)
        note = df.attrs.get("note")
        _say_left_out(df.attrs.get("left_out"))
        net = nma(df, study=study, treatment=treatment, yi=yi, vi=vi, reference=args.reference,
                  lower_is_better=lower, level=args.level, drop_single_arm=True)
    else:
        if not args.file:
            raise UserError("give FILE.csv (one row per study and treatment) or --from-catalog")
        df = _read_csv(args.file)
        net = nma(df, study=args.study, treatment=args.treatment, yi=args.yi, vi=vi, reference=args.reference,
                  lower_is_better=lower, level=args.level)
    if args.league:
        if not net.connected:
            raise UserError("the network is disconnected: write one league table per component (see the message)")
        buf = io.StringIO()
        net.components[0].league().to_csv(buf, index=False, lineterminator="\n", float_format="%.10g")
        _write(buf.getvalue(), args.league)
    for kind, path in (("netgraph", args.netgraph), ("forest", args.forest)):
        if path:
            from .nma_plots import nma_forest, netgraph
            from .plotting import save_as

            save_as(netgraph(net.components[0]) if kind == "netgraph" else nma_forest(net.components[0]), path)
    if args.format == "json":
        out = net.to_dict()
        if note:
            out["note"] = note
        print(json.dumps(out, indent=2, default=float))
    else:
        text = net.summary()
        if note:
            text = f"Note: {note}.\n\n" + text
        if net.dropped:
            text += f"\n\nLeft out (one arm under these filters): {', '.join(net.dropped)}"
        sys.stdout.write(text + "\n")
    if not net.connected:
        print(f"fmreview: {net.message}", file=sys.stderr)
        return 1
    return 0
