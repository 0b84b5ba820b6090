"""Benchmark tables found in the catalog, in the shape the network and rank analyses need.

A *benchmark table* is what one source reports under one protocol: the results sharing source document,
metric, setting, prompt, number of prompts and condition. It is arm-level evidence: a score per model per
dataset (and per label within a dataset). Labels within one dataset (organs, findings) are repeated measures of
the same test set, never independent studies: for pooling across datasets they are averaged per model over
the labels every model of that dataset reports, so each dataset counts once.

Variances: a table's NMA uses the sampling variances only when every arm has one that was reported or follows
from n (SD/SE/CI, binomial, Hanley–McNeil); otherwise the additive model without variances (τ² absorbs the
residual). Aggregate rows (averages of other rows) and doubtful values are left out; ``include_doubtful``
puts the doubtful ones back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fmreview.analysis.variance import derive_variances
from fmreview.catalog import vocab

TABLE_KEYS = ["source_paper", "source_document", "metric", "setting", "prompt", "prompt_count", "condition"]
REAL_VARIANCE = {"sd", "se", "ci", "binomial", "hanley-mcneil"}


def protocol_title(t) -> str:
    """'Dice, zero-shot, prompt 3 × point, input 256×256 (source)' for anything with the protocol's fields."""
    m = vocab.label("metric", t.metric)
    prompt = f"{int(t.prompt_count)} × {t.prompt}" if pd.notna(t.prompt_count) else t.prompt
    cond = f", {t.condition}" if pd.notna(t.condition) and t.condition else ""
    return f"{m}, {t.setting}, prompt {prompt}{cond} ({t.source_paper})"


def usable(results: pd.DataFrame, include_doubtful: bool = False) -> tuple[pd.DataFrame, dict]:
    """Results an analysis may pool: no aggregates (they would count their parts twice) and, unless asked,
    no doubtful values. Returns the rows and the counts left out."""
    keep = pd.Series(True, index=results.index)
    left = {"aggregate": 0, "doubtful": 0}
    if "aggregate" in results:
        agg = results["aggregate"].notna() & (results["aggregate"].astype(str) != "")
        left["aggregate"] = int(agg.sum())
        keep &= ~agg
    if "doubt" in results and not include_doubtful:
        dbt = results["doubt"].notna() & (results["doubt"].astype(str) != "")
        left["doubtful"] = int((dbt & keep).sum())
        keep &= ~dbt
    return results[keep], left


@dataclass
class BenchmarkTable:
    number: int
    source_paper: str
    source_document: str
    metric: str
    setting: str
    prompt: str
    prompt_count: float
    condition: object
    cells: pd.DataFrame  # one row per (dataset, subset, split, model): value, vi, vi_source
    ambiguous: int  # model × cell values left out (two values under one protocol)
    _arms: tuple | None = field(default=None, repr=False, compare=False)

    @property
    def models(self) -> list[str]:
        return sorted(self.cells.model.unique())

    @property
    def datasets(self) -> list[str]:
        return sorted(self.cells.dataset.unique())

    @property
    def n_labels(self) -> int:
        return int(self.cells[["dataset", "subset", "split"]].drop_duplicates().shape[0])

    @property
    def lower_is_better(self) -> bool:
        m = vocab.METRICS.get(self.metric)
        return bool(m is not None and not m.higher_is_better)

    @property
    def title(self) -> str:
        return protocol_title(self)

    def arms(self) -> tuple[pd.DataFrame, bool, str]:
        """Dataset-level arms (study, treatment, yi, vi) of the datasets with two or more models (the ones that
        compare something), whether vi is usable, and how labels were handled (computed once per table)."""
        if self._arms is None:
            arms, has_v, note = dataset_arms(self.cells)
            if len(arms):
                per = arms.groupby("study").treatment.nunique()
                arms = arms[arms.study.isin(per.index[per >= 2])]
            self._arms = (arms, has_v, note)
        arms, has_v, note = self._arms
        return arms.copy(), has_v, note


def _cells(grp: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """One value per (model, dataset, subset, split); a model with two different values in one cell (a
    condition the fields do not name) loses that cell."""
    g = derive_variances(grp)
    g = g.assign(subset=g.subset.fillna(""), split=g.split.fillna(""))
    key = ["model", "dataset", "subset", "split"]
    nuniq = g.groupby(key).value.transform("nunique")
    ambiguous = g[nuniq > 1][key].drop_duplicates().shape[0]
    g = g[nuniq == 1].drop_duplicates(key)
    return g[[*key, "value", "vi", "vi_source"]].reset_index(drop=True), int(ambiguous)


def benchmark_tables(results: pd.DataFrame, min_models: int = 2) -> list[BenchmarkTable]:
    """Every benchmark table with at least ``min_models`` models, numbered by size (cells), largest first."""
    found = []
    for key, grp in results.groupby(TABLE_KEYS, sort=True, dropna=False):
        if grp.model.nunique() < min_models:
            continue
        cells, amb = _cells(grp)
        if cells.model.nunique() < min_models:
            continue
        found.append(BenchmarkTable(0, *key, cells=cells, ambiguous=amb))
    found.sort(key=lambda t: (-len(t.cells), t.source_paper, t.metric, t.setting, str(t.condition)))
    for i, t in enumerate(found):
        t.number = i + 1
    return found


def dataset_arms(cells: pd.DataFrame, study_prefix: pd.Series | None = None) -> tuple[pd.DataFrame, bool, str]:
    """Average labels within each dataset over the labels all of its models report (so a dataset counts once),
    keeping the variances only when every cell has a real one and no averaging was needed."""
    labelled = (cells.subset != "").any() or cells.groupby(["dataset", "model"]).size().max() > 1
    note = ""
    # a (subset, split) label is shared when every model of its dataset reports it (cells are unique per model,
    # dataset, subset and split, so counting rows counts models)
    models = cells.groupby("dataset").model.transform("nunique")
    reporting = cells.groupby(["dataset", "subset", "split"]).model.transform("size")
    sel = cells[reporting == models]
    dropped = sorted(set(cells.dataset) - set(sel.dataset))
    agg = (sel.groupby(["dataset", "model"], sort=True)
           .agg(yi=("value", "mean"), n=("value", "size"), vi=("vi", "first"), src=("vi_source", "first"))
           .reset_index())
    one = agg.n == 1
    rows = pd.DataFrame({"study": agg.dataset, "treatment": agg.model, "yi": agg.yi.astype(float),
                         "labels": agg.n.astype(int), "vi": agg.vi.astype(float).where(one, np.nan),
                         "vi_source": agg.src.where(one, "averaged")})
    arms = rows.reset_index(drop=True)
    has_v = bool(len(arms)) and arms.vi_source.isin(REAL_VARIANCE).all() and (arms.vi > 0).all()
    if labelled:
        note = ("labels within a dataset are averaged per model over the labels all its models report, so each "
                "dataset counts once")
    if dropped:
        note += ("; " if note else "") + f"left out (no label shared by its models): {', '.join(dropped)}"
    return arms, has_v, note


def frame(results: pd.DataFrame) -> tuple[pd.DataFrame, bool, str]:
    """Arm-level frame over one or more tables: the study is the dataset, or 'dataset [source]' when the rows
    come from several source documents (each source's evaluation of a dataset is its own study)."""
    parts, notes, has_all = [], [], True
    docs = sorted(results.source_document.unique())
    paper_of = results.drop_duplicates("source_document").set_index("source_document").source_paper
    seen: dict[str, int] = {}
    for doc in docs:
        sub = results[results.source_document == doc]
        cells, _ = _cells(sub)
        arms, has_v, note = dataset_arms(cells)
        if len(docs) > 1:
            paper = paper_of[doc]
            seen[paper] = seen.get(paper, 0) + 1
            several = (paper_of == paper).sum() > 1
            arms["study"] = arms.study + (f" [{paper} #{seen[paper]}]" if several else f" [{paper}]")
        has_all &= has_v
        parts.append(arms)
        if note:
            notes.append(note)
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["study", "treatment", "yi", "vi"])
    return out, has_all, "; ".join(sorted(set(notes)))


def variant_contrasts(results: pd.DataFrame, base: str, variants: list[str]) -> pd.DataFrame:
    """Variant − base differences in every table cell (source document, protocol, dataset, label) where both
    were evaluated: columns source, dataset, cell, variant, yi."""
    rows = []
    for key, grp in results.groupby(TABLE_KEYS, sort=True, dropna=False):
        if base not in set(grp.model):
            continue
        cells, _ = _cells(grp)
        ref = cells[cells.model == base].set_index(["dataset", "subset", "split"]).value
        for v in variants:
            mine = cells[cells.model == v].set_index(["dataset", "subset", "split"]).value
            both = mine.index.intersection(ref.index)
            for idx in both:
                rows.append({"source": key[0], "document": key[1], "dataset": idx[0],
                             "cell": f"{key[1]}|{'|'.join(map(str, key[2:]))}|{'|'.join(idx)}", "variant": v,
                             "yi": float(mine[idx] - ref[idx])})
    return pd.DataFrame(rows, columns=["source", "document", "dataset", "cell", "variant", "yi"])


def complete_blocks(arms: pd.DataFrame, study: str = "study", treatment: str = "treatment") -> pd.DataFrame:
    """The largest complete study × treatment sub-table found greedily: repeatedly drop the treatment or the
    study whose removal loses the fewest present cells per missing cell removed (rank tests need every
    treatment on every block)."""
    cur = arms
    while len(cur):
        wide = cur.pivot_table(index=study, columns=treatment, values="yi", aggfunc="first")
        miss = wide.isna()
        if not miss.values.any():
            return cur
        t_miss, s_miss = miss.sum(axis=0), miss.sum(axis=1)
        t_keep, s_keep = (~miss).sum(axis=0), (~miss).sum(axis=1)
        t = (t_keep / t_miss.clip(lower=1e-9)).where(t_miss > 0).idxmin()
        s = (s_keep / s_miss.clip(lower=1e-9)).where(s_miss > 0).idxmin()
        if t_keep[t] / t_miss[t] <= s_keep[s] / s_miss[s]:
            cur = cur[cur[treatment] != t]
        else:
            cur = cur[cur[study] != s]
    return cur
