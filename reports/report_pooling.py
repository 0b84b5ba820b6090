"""The report's pooled section: one analysis per benchmark table (network meta-analysis, rank tests) and
multilevel models with cluster-robust tests for the questions a review asks across sources."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fmreview.analysis import rank_comparison, rma_mv, robust
from fmreview.analysis.errors import AnalysisError
from fmreview.analysis.nma import nma
from fmreview.catalog import vocab

from .benchmark_tables import benchmark_tables, complete_blocks, usable, variant_contrasts
from .nma_plots import nma_forest, netgraph
from .rank_plots import cd_diagram

MAX_TABLES = 6
QUESTIONS = (  # (title, base model, metric, prompt): variants are the catalog's models built on the base
    ("Medical SAM variants vs SAM (Dice, box prompts)", "sam", "dice", "box"),
    ("SAM 2 variants vs SAM 2 (Dice, any prompt)", "sam2", "dice", None),
)

METHODS = (
    "Benchmark evidence is arm-level (a score per model per dataset), nested (labels in datasets in sources) and "
    "mostly reported without variances, so it is pooled as such rather than as independent pairwise "
    "comparisons. A benchmark table is the results of one source document under one protocol (metric, "
    "setting, prompt, number of prompts, condition); aggregate rows and values marked doubtful are left out. "
    "Labels within a dataset (organs, findings) are repeated measures of the same scans: they are averaged per "
    "model over the labels all of the dataset's models report, so each dataset counts once. Each table with at "
    "least two models on at least two datasets gets a network meta-analysis (contrast-based, multi-arm "
    "covariance, one τ² by REML; White et al. 2012), with the sampling variances when every arm has one that "
    "was reported or follows from n (an SD over the test cases or a bootstrap, an SE or CI, a proportion of n "
    "cases, Hanley–McNeil for an AUC; an SD over seeds, runs or folds is the training's variability, added as "
    "SD²/runs, never a sampling error), and otherwise the additive model-plus-dataset model whose τ² absorbs the "
    "residual (no variance is invented). P-scores (Rücker & Schwarzer 2015) rank the models, and the "
    "design-by-treatment test (Higgins et al. 2012) checks consistency where designs differ. Tables with at "
    "least three models get the rank analysis of machine learning on their complete datasets: Friedman's test, "
    "mean ranks and Nemenyi's critical difference (Demšar 2006). Questions across sources use a multilevel "
    "model (random intercepts for source and dataset, the innermost level absorbing the residual; REML) with "
    "cluster-robust CR2 tests and Satterthwaite degrees of freedom clustered on the source (Pustejovsky & "
    "Tipton 2018), which stay valid when the within-source correlation is misspecified."
)


def _reference(arms: pd.DataFrame, models: pd.DataFrame) -> str | None:
    """The base model most of the table's other models are built on (SAM for SAM variants), so effects read as
    'what adaptation bought'; None (the NMA's default: the model on most datasets) when no model is a base."""
    base = dict(zip(models.id, models.base_model))
    present = set(arms.treatment)
    counts = pd.Series([base.get(t) for t in present if base.get(t) in present], dtype=object).value_counts()
    return str(counts.index[0]) if len(counts) else None


def _order(tables, usable_numbers):
    """One table per source first (the one with most datasets), then the rest by size."""
    first = {}
    for t in sorted((t for t in tables if t.number in usable_numbers),
                    key=lambda t: (-t.cells.dataset.nunique(), t.number)):
        first.setdefault(t.source_paper, t)
    lead = sorted(first.values(), key=lambda t: t.number)
    rest = [t for t in tables if t.number in usable_numbers and first.get(t.source_paper) is not t]
    return lead + rest


def pooled_section(rep, b, results: pd.DataFrame, models: pd.DataFrame, include_doubtful: bool = False) -> None:
    res, left = usable(results, include_doubtful)
    b.append(("p", METHODS))
    if left["aggregate"] or left["doubtful"]:
        b.append(("p", f"Left out of every analysis: {left['aggregate']} aggregate result(s) (averages of other rows) "
                       f"and {left['doubtful']} value(s) marked doubtful in the catalog"
                       + ("" if include_doubtful else " (fmreview report --include-doubtful keeps the doubtful ones)")
                       + "."))
    tables = benchmark_tables(res)
    rows, analysable = [], set()
    prepared = {}
    for t in tables:
        arms, has_v, note = t.arms()
        n_ds, n_m = arms.study.nunique(), arms.treatment.nunique()
        if n_ds >= 2 and n_m >= 2:
            what = "NMA" + (" + rank tests" if n_m >= 3 else "")
            analysable.add(t.number)
            prepared[t.number] = (arms, has_v, note)
        elif t.cells.dataset.nunique() == 1:
            what = "not pooled: one dataset (its labels are one test set, not independent studies)"
        else:
            what = "not pooled: fewer than two datasets with two or more models"
        rows.append({"table": t.number, "source": t.source_paper, "metric": t.metric, "setting": t.setting,
                     "prompt": t.prompt, "prompt_count": t.prompt_count, "condition": t.condition,
                     "models": len(t.models), "datasets": t.cells.dataset.nunique(), "labels": t.n_labels,
                     "variances": "reported" if has_v else "none", "analysis": what})
    overview = pd.DataFrame(rows)
    b.append(("p", f"{len(tables)} benchmark tables with two or more models were found; {len(analysable)} of them "
                   f"have at least two datasets to pool over. The table numbers below are used throughout."))
    if len(overview):
        rep.table(b, overview, "benchmark_tables", "Benchmark tables in the catalog (one analysis per table)")
    shown = 0
    summary_rows = []
    for t in _order(tables, analysable):
        if shown == MAX_TABLES:
            break
        arms, has_v, note = prepared[t.number]
        try:
            net = nma(arms, vi="vi" if has_v else None, lower_is_better=t.lower_is_better, drop_single_arm=True,
                      reference=_reference(arms, models))
        except AnalysisError as exc:
            summary_rows.append({"table": t.number, "note": f"not pooled: {exc}"})
            continue
        shown += 1
        n = t.number
        mname = vocab.label("metric", t.metric)
        c = max(net.components, key=lambda c: len(c.treatments))
        b.append(("p", f"Table {n}: {t.title}. {len(c.treatments)} models on {c.n_studies} datasets"
                       + (f" ({note})" if note else "") + "."
                       + (f" {net.message}" if net.message else "")))
        ps = c.pscore
        eff = pd.DataFrame([{"treatment": c.reference, "estimate": 0.0, "se": 0.0, "ci_low": 0.0, "ci_high": 0.0}]
                           + [{k: e[k] for k in ("treatment", "estimate", "se", "ci_low", "ci_high")} for e in c.effects])
        eff["pscore"] = eff.treatment.map(ps)
        eff = eff.sort_values("pscore", ascending=False, kind="stable").reset_index(drop=True)
        inc = c.inconsistency
        row = {"table": n, "comparison": t.title, "models": len(c.treatments), "datasets": c.n_studies,
               "reference": c.reference, "model": "random effects" if has_v else "additive (no variances)",
               "tau2": c.tau2, "best": eff.treatment.iloc[0], "best_pscore": eff.pscore.iloc[0],
               "inconsistency_df": inc["df"], "inconsistency_p": inc["pval"]}
        rep.table(b, eff, f"table{n}_nma", f"Table {n}: {mname} difference against {c.reference} with P-scores "
                                           f"({'random effects' if has_v else 'additive model, no sampling variances'})")
        lg = c.league()
        rep.write_csv(lg, f"table{n}_league")
        rep.figure(b, netgraph(c, title=f"Table {n}: network of {len(c.treatments)} models"), f"table{n}_netgraph",
                   f"Table {n}: network graph; n = {len(c.treatments)} models on {c.n_studies} datasets, an edge per pair "
                   f"evaluated on the same dataset (label: number of datasets).")
        rep.figure(b, nma_forest(c, xlabel=f"Difference in {mname}"), f"table{n}_forest",
                   f"Table {n}: {len(c.effects)} models against {c.reference} with 95% CIs, best P-score on top "
                   f"(n = {c.n_studies} datasets).")
        if len(c.treatments) >= 3:
            sub = complete_blocks(arms[arms.treatment.isin(c.treatments)])
            if sub.study.nunique() >= 2 and sub.treatment.nunique() >= 3:
                try:
                    rk = rank_comparison(sub, "study", "treatment", "yi", lower_is_better=t.lower_is_better)
                except AnalysisError as exc:
                    row["rank_note"] = str(exc)
                else:
                    row.update(friedman_stat=rk.friedman_stat, friedman_p=rk.friedman_pval, cd=rk.cd,
                               rank_blocks=rk.n_blocks, rank_models=len(rk.treatments))
                    rep.figure(b, cd_diagram(rk, title=f"Table {n}: mean ranks ({rk.n_blocks} complete datasets)"),
                               f"table{n}_cd",
                               f"Table {n}: critical-difference diagram, n = {len(rk.treatments)} models on the "
                               f"{rk.n_blocks} datasets where all of them were evaluated (Friedman p = "
                               f"{rk.friedman_pval:.3g}; Nemenyi CD = {rk.cd:.2f} at α = 0.05; bars join models "
                               f"not significantly different).")
        summary_rows.append(row)
    if summary_rows:
        rep.table(b, pd.DataFrame(summary_rows), "pooled", "Pooled benchmark tables (network meta-analysis and ranks)")
    _questions(rep, b, res, models)


def _questions(rep, b, res: pd.DataFrame, models: pd.DataFrame) -> None:
    base_of = dict(zip(models.id, models.base_model))
    rows = []
    for title, base, metric, prompt in QUESTIONS:
        variants = sorted(m for m, bm in base_of.items() if bm == base)
        sel = res[(res.metric == metric) & ((res.prompt == prompt) if prompt else True)]
        df = variant_contrasts(sel, base, variants)
        row = {"question": title, "k": len(df), "variants": df.variant.nunique(), "sources": df.source.nunique(),
               "datasets": df[["source", "dataset"]].drop_duplicates().shape[0]}
        if len(df) < 3 or df.source.nunique() < 2:
            row["note"] = "not pooled: needs results from at least two sources (clusters) for CR2"
            rows.append(row)
            continue
        df = df.reset_index(drop=True)
        df["_row"] = np.arange(len(df))
        levels = ["source"]
        if df.groupby(["source", "dataset"]).size().max() > 1:
            levels.append("dataset")
        levels.append("_row")
        try:
            fit = rma_mv(df.yi, np.zeros(len(df)), data=df, random="/".join(levels))
            rb = robust(fit, df.source, clubSandwich=True)
        except (AnalysisError, np.linalg.LinAlgError) as exc:
            row["note"] = f"not pooled: {exc}"
            rows.append(row)
            continue
        row.update(estimate=fit.estimate, se=float(fit.se[0]), ci_low=float(fit.ci_low[0]),
                   ci_high=float(fit.ci_high[0]), robust_se=float(rb.se[0]), robust_df=float(rb.df[0]),
                   robust_p=float(rb.pval[0]), robust_ci_low=float(rb.ci_low[0]), robust_ci_high=float(rb.ci_high[0]),
                   **{f"sigma2_{n.replace('/_row', '/result').replace('_row', 'result')}": s
                      for n, s in zip(fit.sigma2_names, fit.sigma2)})
        rows.append(row)
    if rows:
        b.append(("p", "Questions across sources: the difference variant − base model in every table cell (source, "
                       "protocol, dataset, label) where both were evaluated, pooled by a multilevel model (random "
                       "intercepts for source, dataset where a source has several results per dataset, and result) "
                       "with CR2 cluster-robust tests clustered on the source. Small Satterthwaite degrees of "
                       "freedom mean few sources carry the answer."))
        rep.table(b, pd.DataFrame(rows), "questions", "Questions across sources (multilevel model, CR2)")
