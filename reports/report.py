"""The review report: every figure, table and statistic built from the catalog in one run.

``build_report(out_dir, catalog=None)`` writes report.md, a self-contained report.html (figures embedded,
sortable tables), figures/*.svg|png and tables/*.csv. The same catalog gives byte-identical files: no dates,
a fixed SVG hash salt, sorted iteration everywhere.
"""

from __future__ import annotations

import base64
import io
import os
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pandas as pd

from fmreview.analysis.prisma import Prisma
from fmreview.analysis.trends import (counts_by_year, domains_per_year, field_coverage, growth_table, papers_per_year,
                                      papers_with_field, share_trends, trend_in_share)
from fmreview.catalog import load, vocab
from fmreview.catalog.query import papers_frame
from fmreview.catalog.stats import catalog_stats
from fmreview.catalog.yamlio import write_atomic

from .cli import UserError
from .plotting import PALETTE, plt, save
from .tables import _plain
from .prisma_plot import prisma_figure
from .report_pooling import pooled_section
from .reproduced import section as reproduced_section



class Report:
    def __init__(self, out: Path, quiet: bool):
        self.out, self.quiet = out, quiet
        self.sections: list[tuple[str, list]] = []  # (title, blocks); block = ("p", text) | ("fig", name, caption) | ("table", name, df)
        self.t0 = time.perf_counter()
        self.pending: list = []  # (figure, path without suffix)

    def log(self, msg: str) -> None:
        if not self.quiet:
            print(f"[{time.perf_counter() - self.t0:5.1f}s] {msg}", file=sys.stderr)

    def section(self, title: str) -> list:
        blocks: list = []
        self.sections.append((title, blocks))
        return blocks

    def figure(self, blocks, fig, name: str, caption: str) -> None:
        self.pending.append((fig, self.out / "figures" / name))  # written by save_figures()
        blocks.append(("fig", name, caption))

    def save_figures(self) -> None:
        """Write every figure made so far (SVG and PNG). Text layout and rasterising are most of a report's time,
        so where the platform can fork, the figures are shared out between worker processes (up to the CPU
        count, at most 4; ``FMREVIEW_WORKERS=1`` writes them here). Each file is written whole by one process,
        and the bytes are the same either way; a worker that fails leaves its figures to be written here, where
        any error surfaces."""
        pending, self.pending = self.pending, []
        workers = int(os.environ.get("FMREVIEW_WORKERS") or min(os.cpu_count() or 1, 4))
        workers = min(workers, len(pending))
        if workers < 2 or not hasattr(os, "fork"):
            for fig, path in pending:
                save(fig, path)
            return
        # the largest figures first, each to the least-loaded process (cost ~ number of text artists)
        from matplotlib.text import Text

        cost = {id(fig): len(fig.findobj(Text)) for fig, _ in pending}
        groups: list[list] = [[] for _ in range(workers)]
        load = [0] * workers
        for item in sorted(pending, key=lambda it: -cost[id(it[0])]):
            i = load.index(min(load))
            groups[i].append(item)
            load[i] += cost[id(item[0])]
        sys.stdout.flush()
        sys.stderr.flush()
        children = []
        for group in groups[1:]:
            pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child, which leaves through os._exit
                code = 0
                try:
                    for fig, path in group:
                        save(fig, path)
                except BaseException:
                    code = 1
                finally:
                    os._exit(code)
            children.append((pid, group))
        for fig, path in groups[0]:
            save(fig, path)
        for pid, group in children:
            _, status = os.waitpid(pid, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                for fig, path in group:
                    save(fig, path)
        for fig, _ in pending:
            plt.close(fig)

    def write_csv(self, df: pd.DataFrame, name: str) -> None:
        buf = io.StringIO()
        df.to_csv(buf, index=False, lineterminator="\n", float_format="%.6g")
        write_atomic(self.out / "tables" / f"{name}.csv", buf.getvalue())

    def table(self, blocks, df: pd.DataFrame, name: str, caption: str) -> None:
        self.write_csv(df, name)
        blocks.append(("table", name, df, caption))


# ------------------------------------------------------------------------------------------------ figures


def _stacked(table: pd.DataFrame, title: str, ylabel: str, vocabulary: str | None):
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    bottom = np.zeros(len(table))
    years = table.index.astype(int)
    for i, col in enumerate(table.columns):
        label = vocab.label(vocabulary, col) if vocabulary else col
        ax.bar(years, table[col].to_numpy(), bottom=bottom, color=PALETTE[i % len(PALETTE)], label=label, width=0.75)
        bottom += table[col].to_numpy()
    ax.set_xticks(years)
    ax.set_xticklabels([str(y) for y in years], rotation=45 if len(years) > 8 else 0)
    ax.set_ylabel(ylabel)
    ax.set_title(title, loc="left")
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: never over a bar
    return fig


def _heatmap(matrix: pd.DataFrame, title: str, xlabel: str, ylabel: str):
    h = max(2.6, 0.32 * len(matrix) + 1.2)
    w = max(4.5, 0.55 * len(matrix.columns) + 2.5)
    fig, ax = plt.subplots(figsize=(w, h))
    ax.imshow(matrix.to_numpy(), cmap="Blues", aspect="auto")
    ax.set_xticks(range(len(matrix.columns)))
    ax.set_xticklabels(matrix.columns, rotation=45, ha="right")
    ax.set_yticks(range(len(matrix.index)))
    ax.set_yticklabels(matrix.index)
    vmax = matrix.to_numpy().max() if matrix.size else 0
    for (i, j), v in np.ndenumerate(matrix.to_numpy()):
        if v:
            ax.text(j, i, str(int(v)), ha="center", va="center", fontsize=7, color="white" if v > vmax / 2 else "black")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, loc="left")
    ax.spines[:].set_visible(False)
    return fig


def _explode(df: pd.DataFrame, column: str) -> pd.DataFrame:
    return df[["id", "year", column]].explode(column).dropna(subset=[column])


# -------------------------------------------------------------------------------------------------- build


def _window(df: pd.DataFrame, since: int | None, until: int | None) -> pd.DataFrame:
    year = df.year.astype("Int64")
    keep = pd.Series(True, index=df.index)
    if since is not None:
        keep &= year >= since
    if until is not None:
        keep &= year <= until
    return df[keep.fillna(False).astype(bool)]


EXTRACTION_LABELS = {"modalities": "modality", "tasks": "task", "family": "family", "band": "band",
                     "model_group": "model group", "adaptation": "adaptation strategy", "datasets": "datasets"}


def _paper_trends(rep: Report, all_papers: pd.DataFrame, since: int | None, until: int | None) -> None:
    """The per-paper trend section (the review's unit of analysis is the paper): papers per year by family and
    band, dataset use, application domains (modality × task) and adaptation strategies over time, each counted on
    the papers whose extraction carries the field."""
    rep.log("per-paper trend figures and tables")
    b = rep.section("Trends in the literature, per paper")
    fields = list(EXTRACTION_LABELS)
    p = _window(all_papers, since, until)
    extracted = p[p[[f"{f}_from" for f in fields]].notna().any(axis=1)]
    cov = field_coverage(p, fields)
    parts = "; ".join(f"{EXTRACTION_LABELS[r.field]} {r.papers} ({r.from_paper} read in the paper, its README or "
                      f"card, {r.from_list} from a list that classifies it, {r.inferred} inferred)"
                      for r in cov.itertuples())
    window = f" in the window {since or '…'}–{until or '…'}" if since or until else ""
    b.append(("p", f"Each paper carries an extraction: what it studies, read from the paper itself or from a list "
                   f"that classifies it, with the source and locator, and marked inferred where a curator read it "
                   f"off the title. {len(extracted)} of the {len(p)} papers{window} carry one. Coverage by field: "
                   f"{parts}. Each count below is over the papers that carry its field; a paper with several "
                   f"words in a field counts once under each."))
    cov = cov.assign(field=cov.field.map(EXTRACTION_LABELS))
    rep.table(b, cov, "paper_extraction_coverage", f"Extraction coverage: papers carrying each field, of {len(p)}")
    years = p.year.dropna().astype(int)
    span = list(range(int(years.min()), int(years.max()) + 1)) if len(years) else None
    for field, title in (("family", "family"), ("band", "spectrum band")):
        t = papers_per_year(p, field, order=vocab.words(field), all_years=span)
        if not len(t):
            continue
        n = int(t.values.sum())
        rep.figure(b, _stacked(t, f"Papers per year by {title}", "Papers", field), f"papers_per_year_by_{field}",
                   f"Papers per year by the {title} of the model they study; n = {n} papers with a year and a "
                   f"{title} (of {len(p)}).")
        shares = share_trends(t, papers_with_field(p, field))
        shares = shares.assign(group=shares.group.map(lambda w: vocab.label(field, w)))
        rep.table(b, t.rename(columns=lambda w: vocab.label(field, w)).reset_index(), f"papers_per_year_by_{field}",
                  f"Papers per year by {title} (n = {n})")
        rep.table(b, shares, f"papers_{field}_share_trend", f"Trend in each {title}'s share of the year's papers "
                                                           f"(Cochran–Armitage χ², 1 df; n = {n})")
    ds = papers_per_year(p, "datasets", all_years=span)
    if len(ds):
        n_ds = int(p.datasets.map(bool).sum())
        top = sorted(ds.columns, key=lambda c: (-int(ds[c].sum()), c))[:15]
        use = ds[top].T
        use.index.name = "dataset"
        rep.figure(b, _heatmap(use, "Dataset use over time (papers)", "Year", "Dataset"), "paper_dataset_use",
                   f"Papers using each dataset per year (pretraining or evaluation, as the paper's sources or the "
                   f"catalog's results from it name them), the {len(top)} datasets used by most papers; n = {n_ds} "
                   f"papers with datasets.")
        rep.table(b, use.reset_index(), "paper_dataset_use", f"Papers per dataset and year (n = {n_ds} papers)")
    dom = domains_per_year(p, top=15, skip=vocab.PAIRED_MODALITIES)
    if len(dom):
        images = p.modalities.map(lambda ms: any(m not in vocab.PAIRED_MODALITIES for m in ms))
        n_dom = int((images & p.tasks.map(bool) & p.year.notna()).sum())
        labels = {d: " × ".join((vocab.label("modality", d.split(" × ")[0]), vocab.label("task", d.split(" × ")[1])))
                  for d in dom.index}
        dom_l = dom.rename(index=labels)
        rep.figure(b, _heatmap(dom_l, "Application domains over time (papers)", "Year", "Modality × task"),
                   "paper_domains", f"Papers per application domain (modality × task) and year, the {len(dom)} "
                                    f"domains with most papers; a paper counts in each pair of its modalities and "
                                    f"tasks (text, EHR and genomics beside the images are no domain of their own); "
                                    f"n = {n_dom} papers with an imaging modality, a task and a year.")
        rep.table(b, dom_l.reset_index(), "paper_domains", f"Papers per application domain and year (n = {n_dom})")
    ad = papers_per_year(p, "adaptation", order=vocab.words("adaptation"), all_years=span)
    if len(ad):
        n_ad = int(p.adaptation.map(bool).sum())
        rep.figure(b, _stacked(ad, "Adaptation strategies per year (papers)", "Papers", "adaptation"),
                   "paper_adaptation", f"Papers per year by adaptation strategy (adapter, LoRA, full fine-tuning, "
                                       f"prompt tuning, distillation, federated …); n = {n_ad} papers whose "
                                       f"adaptation a source states or the title names (inferred).")
        rep.table(b, ad.rename(columns=lambda w: vocab.label("adaptation", w)).reset_index(), "paper_adaptation",
                  f"Papers per year by adaptation strategy (n = {n_ad})")


def _trends(rep: Report, all_models: pd.DataFrame, all_papers: pd.DataFrame, r: pd.DataFrame,
            since: int | None, until: int | None) -> None:
    """The trend section: figures and statistics over the models and papers of the window (the whole catalog
    when since/until are not given)."""
    rep.log("trend figures and statistics")
    b = rep.section("Trends in the model table (a second view)")
    b.append(("p", "The same questions asked of the catalog's model table: one row per model (a paper may "
                   "release several models, and a model family such as MedicalNet's ResNets counts each size)."))
    m, p = _window(all_models, since, until), _window(all_papers, since, until)
    years = m.year.dropna().astype(int)
    if len(years):
        span = str(years.min()) if years.min() == years.max() else f"{years.min()}–{years.max()}"
        window = f"; window {since or '…'}–{until or '…'}" if since or until else ""
        caveat = "" if until else (f" The last year, {years.max()}, may be incomplete (papers reach the catalog with "
                                   "a delay); fmreview report --until YEAR ends the window at a complete year.")
        b.append(("p", f"Trends cover {len(m)} of the {len(all_models)} models ({span}{window}).{caveat}"))
    fam = counts_by_year(m.year, m.family)
    fam = fam[[c for c in vocab.words("family") if c in fam.columns]]
    rep.figure(b, _stacked(fam, "Models per year by family", "Models", "family"), "models_per_year_by_family",
               f"Models per year, stacked by family (vision-only, vision-language, multimodal LLM); n = {int(fam.values.sum())} "
               f"models with a year.")
    band = counts_by_year(m.year, m.band)
    band = band[[c for c in vocab.words("band") if c in band.columns]]
    rep.figure(b, _stacked(band, "Models per year by spectrum band", "Models", "band"), "models_per_year_by_band",
               f"Models per year by the reviews' spectrum: general, modality-specific, organ/task-specific; "
               f"n = {int(band.values.sum())} models with a year and a band.")
    pap = counts_by_year(p.year, p.kind)
    rep.figure(b, _stacked(pap, "Papers per year by kind", "Papers", "paper_kind"), "papers_per_year",
               f"Papers in the catalog per year, by kind; n = {int(pap.values.sum())} papers with a year.")
    rep.table(b, fam.reset_index(), "models_per_year_by_family", "Models per year by family")

    growth = pd.concat([growth_table(fam).assign(by="family"), growth_table(band).assign(by="band"),
                        growth_table(counts_by_year(m.year)).assign(by="all models")], ignore_index=True)
    b.append(("p", "Annual growth of the number of models per year from a Poisson GLM, log E[count] = a + b·year "
                   "(negative binomial when over-dispersed); growth = exp(b) − 1 with its 95% Wald CI."))
    rep.table(b, growth, "growth", "Annual growth rate of models per year")

    shares = []
    for col in fam.columns:
        if fam[col].sum() and len(fam) >= 2:
            chi2, pv = trend_in_share(fam[col].to_numpy(), fam.sum(axis=1).to_numpy())
            shares.append({"family": col, "share_first_year": float(fam[col].iloc[0] / max(fam.iloc[0].sum(), 1)),
                           "share_last_year": float(fam[col].iloc[-1] / max(fam.iloc[-1].sum(), 1)),
                           "chi2_trend": chi2, "pval": pv})
    shares = pd.DataFrame(shares, columns=["family", "share_first_year", "share_last_year", "chi2_trend", "pval"])
    b.append(("p", "Does the mix of model families shift over time? Cochran–Armitage χ² test for a linear trend in "
                   "each family's share of the year's models (1 df)."))
    rep.table(b, shares, "family_share_trend", "Trend in family shares")

    mt = _explode(m, "modalities").merge(_explode(m, "tasks"), on=["id", "year"])
    if len(mt):
        mat = pd.crosstab(mt.modalities.map(lambda w: vocab.label("modality", w)), mt.tasks.map(lambda w: vocab.label("task", w)))
        mat = mat.loc[mat.sum(axis=1).sort_values(ascending=False, kind="stable").index]
        rep.figure(b, _heatmap(mat, "Evidence map: models by modality and task", "Task", "Modality"),
                   "modality_task_map", f"Number of models per modality × task (a model counts once in each cell it "
                                        f"covers); n = {mt.id.nunique()} models with a modality and a task.")

    if len(r):
        ry = r.merge(p[["id", "year"]].rename(columns={"id": "source_paper"}), on="source_paper", how="inner")
        top = ry.dataset.value_counts().sort_index().sort_values(ascending=False, kind="stable").head(12).index
        use = pd.crosstab(ry[ry.dataset.isin(top)].dataset, ry[ry.dataset.isin(top)].year.astype("Int64"))
        use = use.loc[[t for t in top if t in use.index]]
        rep.figure(b, _heatmap(use, "Dataset use over time (results reported)", "Year of source", "Dataset"),
                   "dataset_use", f"Results reported per dataset and year of the source paper, the {len(use)} datasets "
                                  f"with most results; n = {int(use.values.sum())} of {len(ry)} dated results.")

    params = m.dropna(subset=["parameters"])
    if len(params):
        fig, ax = plt.subplots(figsize=(6.0, 3.8))
        for i, f in enumerate(vocab.words("family")):
            s = params[params.family == f]
            if len(s):
                jitter = (np.arange(len(s)) % 5 - 2) * 0.06
                ax.scatter(s.year.astype(float) + jitter, s.parameters.astype(float), color=PALETTE[i], label=vocab.label("family", f), s=22)
        ax.set_yscale("log")
        ax.set_xlabel("Year")
        ax.set_ylabel("Parameters")
        ax.set_title("Model size over time", loc="left")
        ax.legend(frameon=False, fontsize=8)
        rep.figure(b, fig, "parameters_vs_year", f"Parameter count (log scale) against year, by family; n = {len(params)} "
                                                 f"of {len(m)} models (only those whose size a source states).")

    ow = counts_by_year(m.year, m.open_weights.map(lambda v: "open weights" if v is True else "no public weights"))
    rep.figure(b, _stacked(ow, "Open weights per year", "Models", None), "open_weights",
               f"Models with public weights (a checkpoint or a stated release) per year; n = {int(ow.values.sum())} models "
               f"with a year.")
    lic = m.licence.map(licence_family)
    rep.figure(b, _stacked(counts_by_year(m.year, lic), "Licence types per year", "Models", None), "licences",
               f"Licences of the models per year, grouped into families (the catalog keeps each licence as stated); "
               f"n = {int(m.year.notna().sum())} models, {int((m.licence.notna() & m.year.notna()).sum())} with a stated "
               f"licence.")
    ad = _explode(m, "adaptation")
    if len(ad):
        adt = counts_by_year(ad.year, ad.adaptation)
        rep.figure(b, _stacked(adt, "Adaptation strategies per year", "Models", "adaptation"), "adaptation",
                   f"How models were adapted from their base models (adapter, LoRA, full fine-tuning, …); n = "
                   f"{ad.id.nunique()} of {len(m)} models (those whose adaptation a source states; a model with "
                   f"several strategies counts in each).")


def build_report(out_dir: Path | str, catalog=None, quiet: bool = False, since: int | None = None,
                 until: int | None = None, include_doubtful: bool = False, review=None, records=None) -> Path:
    """The whole review report. ``since``/``until`` bound the years of the trend analysis (a review's search
    window; a year still being published would read as a decline); the evidence base and the pooled results
    always use the whole catalog. ``review`` is a review folder whose decisions give the PRISMA flow (default:
    the catalog's own ``review/`` folder where it has one). ``records`` is the zoo's records folder for the
    Reproduced section (default: $FMREVIEW_RECORDS or the zoo's default folder, where it exists)."""
    if since is not None and until is not None and since > until:
        raise UserError(f"--since {since} is after --until {until}")
    out = Path(out_dir)
    rep = Report(out, quiet)
    rep.log("loading the catalog")
    cat = load(catalog)
    m, p, d, r = cat.models, cat.papers, cat.datasets, cat.results
    stats_ = catalog_stats(cat)

    # ---- size
    b = rep.section("The evidence base")
    size = pd.DataFrame([{"entity": k, "count": v} for k, v in stats_["entities"].items()])
    b.append(("p", f"The catalog holds {len(p)} papers, {len(m)} models, {len(d)} datasets and {len(r)} reported "
                   f"results read from {stats_['entities']['result_sources']} sources. "
                   f"{100 * stats_['results_share_with_n']:.0f}% of results state the number of test cases and "
                   f"{100 * stats_['results_share_with_uncertainty']:.0f}% an SD, SE or CI."))
    rep.table(b, size, "catalog_size", "Catalog size")
    chars = model_characteristics(cat)
    rep.table(b, chars, "model_characteristics", f"Characteristics of the {len(chars)} models (as their sources "
                                                  "state them; empty where no source states a value)")
    dchars = dataset_characteristics(d)
    rep.table(b, dchars, "dataset_characteristics", f"Characteristics of the {len(dchars)} datasets")

    # ---- trends: per paper (the unit of analysis), then the model table as a second view
    _paper_trends(rep, papers_frame(cat), since, until)
    _trends(rep, m, p, r, since, until)

    # ---- pooled performance
    rep.log("benchmark tables: network meta-analysis, rank tests, multilevel models")
    b = rep.section("Pooled performance")
    pooled_section(rep, b, r, m, include_doubtful=include_doubtful)

    # ---- PRISMA
    rep.log("PRISMA flow diagram")
    b = rep.section("PRISMA 2020 flow")
    _prisma_section(rep, b, out, cat, p, review)

    # ---- reproduced results: the zoo's verification records as evidence (an honest sentence when none)
    rep.log("reported vs reproduced")
    b = rep.section("Reproduced")
    reproduced_section(rep, b, r, records)

    # ---- methods
    b = rep.section("Methods")
    b.append(("p", "All numbers were read from the sources cited in the catalog (URL and table/figure locator per "
                   "value). Percent values are converted to fractions. Benchmark tables are pooled by network "
                   "meta-analysis (REML) and rank tests, questions across sources by multilevel models with CR2 "
                   "cluster-robust tests (see Pooled performance). The engine agrees with R's metafor 3.8.1 and "
                   "clubSandwich 0.5.8 to a relative 1e-5 on their test datasets. Growth rates come from Poisson GLMs (statsmodels). Built with fmreview."))
    rep.log("writing the figures")
    rep.save_figures()
    rep.log("writing report.md and report.html")
    write_atomic(out / "report.md", _markdown(rep))
    write_atomic(out / "report.html", _html(rep))
    rep.log(f"done: {out}")
    return out


def model_characteristics(cat) -> pd.DataFrame:
    """The table of model characteristics reviews print: one row per model."""
    m = cat.models
    hosts = {mid: ", ".join(sorted({c.hub for c in e.record.checkpoints})) for mid, e in cat.raw.models.items()}
    join = lambda xs: ", ".join(xs) if isinstance(xs, list) else ""
    return pd.DataFrame({
        "model": m.id, "name": m.name, "year": m.year, "family": m.family, "band": m.band, "group": m.model_group,
        "architecture": m.architecture, "parameters": m.parameters, "modalities": m.modalities.map(join),
        "pretraining_data": m.pretraining_datasets.map(join), "pretraining_images": m.pretraining_images,
        "pretraining_pairs": m.pretraining_pairs, "licence": m.licence, "open_weights": m.open_weights,
        "checkpoint_host": m.id.map(hosts).replace("", None),
    }).sort_values(["year", "model"], kind="stable").reset_index(drop=True)


def dataset_characteristics(d: pd.DataFrame) -> pd.DataFrame:
    """The table of datasets: modality, dimensionality, size (every count the source gives), licence, access."""
    size_cols = ["images", "volumes", "slides", "videos", "patients", "studies", "pairs", "questions", "masks"]

    def size(row):
        return "; ".join(f"{int(row[c]):,} {c}" for c in size_cols if pd.notna(row[c]))

    return pd.DataFrame({
        "dataset": d.id, "name": d.name, "modalities": d.modalities.map(lambda xs: ", ".join(xs)),
        "dimensionality": d.dimensionality, "size": d.apply(size, axis=1).replace("", None),
        "classes": d.classes, "licence": d.licence, "access": d.access,
    }).sort_values("dataset").reset_index(drop=True)


LICENCE_FAMILIES = (  # first match wins; the catalog keeps the licence text as its source states it
    (("non-commercial", "noncommercial", "by-nc", "cc-by-nc", "research use", "research only"), "Non-commercial / research only"),
    (("apache",), "Apache-2.0"),
    (("mit",), "MIT"),
    (("gpl",), "GPL"),
    (("bsd",), "BSD"),
    (("cc by", "cc-by", "cc0"), "Creative Commons"),
)


def licence_family(text) -> str:
    if not isinstance(text, str) or not text.strip():
        return "not stated"
    t = text.lower()
    for keys, family in LICENCE_FAMILIES:
        if any(k in t for k in keys):
            return family
    return "other"


def _prisma_section(rep: Report, b: list, out: Path, cat, p, review) -> None:
    """The PRISMA flow, from the first of: the review folder given (``--review``), the catalog's own review
    folder (catalog root / review, derived from the decisions), the catalog's prisma.csv (counts typed in the
    PRISMA2020 package's layout), or, for a catalog with neither, a flow assumed from the entries themselves."""
    from fmreview.lit.prisma import flow
    from fmreview.lit.review import Review, ReviewError

    folder = Path(review) if review is not None else (cat.root / "review")
    prisma_csv = cat.root / "prisma.csv"
    assumed, note = False, None
    if review is not None or (folder / "review.yaml").exists():
        try:
            counts = flow(Review(folder))
        except ReviewError as e:
            raise UserError(f"PRISMA flow from {folder}: {e}") from None
        pr = Prisma(identified=dict(counts.identified), duplicates_removed=counts.duplicates_removed,
                    screened=counts.screened, screened_excluded=counts.screened_excluded, sought=counts.sought,
                    not_retrieved=counts.not_retrieved, assessed=counts.assessed,
                    excluded_reasons=dict(counts.excluded_reasons), included=counts.included)
        pr.check()
        shipped = review is None
        where = ("the catalog's own review folder (review/, generated from the entries by python -m "
                 "fmreview.lit.catalog_flow)" if shipped else f"the review folder {folder.name}/")
        text = (f"Counts derived from the records, duplicate groups and final screening and eligibility decisions "
                f"of {where}, as fmreview lit prisma --review DIR gives them.")
        if shipped:
            text += (" The catalog's papers were not found by a database search: each record is an identification "
                     "in another source (a list such as SAM4MIS or an awesome list, a project README), as the "
                     "entries record it; records of one paper are grouped by DOI or arXiv id, and every paper in "
                     "the catalog was included by its curators, so no exclusions appear.")
        if counts.included != len(p):
            text += f" The review includes {counts.included} studies; the catalog holds {len(p)} papers."
        b.append(("p", text))
        note = "Counts derived from the decisions of " + ("the catalog's review folder." if shipped
                                                          else f"the review folder {folder.name}/.")
        caption = (f"PRISMA 2020 flow diagram derived from the review decisions of {where} "
                   f"(n = {sum(pr.identified.values())} records identified, {pr.included} included).")
    elif prisma_csv.exists():
        pr = Prisma.from_csv(prisma_csv.read_text(encoding="utf-8"))
        b.append(("p", "Counts from the screening log in the catalog (prisma.csv)."))
        caption = (f"PRISMA 2020 flow diagram from the screening log (n = {sum(pr.identified.values())} "
                   "records identified).")
    else:
        hosts = Counter(_host(u) for u in p.url)
        pr = Prisma(identified=dict(sorted(hosts.items()))).complete()
        b.append(("p", "This catalog ships no screening log, so the diagram is derived from the catalog itself and "
                       "makes no claim about a search: records identified are the catalog's papers grouped by where "
                       "their entry was read; no duplicates or exclusions are recorded. Provide a review folder "
                       "(review/, or fmreview report --review DIR) or prisma.csv (the PRISMA2020 package's layout) "
                       "in the catalog directory for a real flow."))
        assumed = True
        caption = ("PRISMA 2020 flow diagram derived from the catalog itself, not from a screening log: it "
                   "records no search, duplicates or exclusions.")
    write_atomic(out / "tables" / "prisma.csv", pr.to_csv())
    rep.figure(b, _prisma_figure(pr, assumed, note), "prisma", caption)


def _host(url: str) -> str:
    h = urlparse(url).netloc.lower()
    for key, name in (("arxiv", "arXiv"), ("github", "GitHub"), ("huggingface", "Hugging Face"), ("doi.org", "DOI")):
        if key in h:
            return name
    return "publisher or other site"


def _prisma_figure(pr: Prisma, assumed: bool = False, note: str | None = None):
    """The flow diagram (kept under this name for callers of the report module; see prisma_plot)."""
    return prisma_figure(pr, assumed, note)


# ------------------------------------------------------------------------------------------------ writers


def _fmt(v) -> str:
    v = _plain(v)  # NA (Int64 columns) and NaN are empty cells
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return ", ".join(map(str, v))
    return str(v)


def _markdown(rep: Report) -> str:
    lines = ["# Foundation models for medical image analysis: review report", ""]
    for title, blocks in rep.sections:
        lines += [f"## {title}", ""]
        for blk in blocks:
            if blk[0] == "p":
                lines += [blk[1], ""]
            elif blk[0] == "fig":
                lines += [f"![{blk[2]}](figures/{blk[1]}.svg)", "", f"*{blk[2]}*", ""]
            else:
                _, name, df, caption = blk
                lines += [f"**{caption}** ([CSV](tables/{name}.csv))", ""]
                show = df.head(40)
                lines.append("| " + " | ".join(map(str, show.columns)) + " |")
                lines.append("|" + "---|" * len(show.columns))
                for row in show.itertuples(index=False):
                    lines.append("| " + " | ".join(_fmt(v).replace("|", "/") for v in row) + " |")
                if len(df) > 40:
                    lines.append(f"\n({len(df) - 40} more rows in the CSV)")
                lines.append("")
    return "\n".join(lines)


TEMPLATES = Path(__file__).parent / "templates" / "report"


def _html(rep: Report) -> str:
    """report.html from its Jinja2 template (autoescaped): figures embedded as PNG, tables sortable by the
    template's script, no request to any other host."""
    import jinja2
    from markupsafe import Markup

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    sections = []
    for title, blocks in rep.sections:
        items = []
        for blk in blocks:
            if blk[0] == "p":
                items.append({"kind": "p", "text": blk[1]})
            elif blk[0] == "fig":
                png = base64.b64encode((rep.out / "figures" / f"{blk[1]}.png").read_bytes()).decode()
                items.append({"kind": "fig", "caption": blk[2], "png": png})
            else:
                _, name, df, caption = blk
                items.append({"kind": "table", "name": name, "caption": caption, "columns": [str(c) for c in df.columns],
                              "rows": [[_fmt(v) for v in row] for row in df.itertuples(index=False)]})
        sections.append((title, items))
    asset = lambda name: Markup((TEMPLATES / name).read_text(encoding="utf-8"))  # our own files: not escaped
    return env.get_template("report.html").render(sections=sections, css=asset("report.css"), js=asset("report.js"))
