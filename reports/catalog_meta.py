"""Questions asked of the catalog, answered with the meta-analysis engine.

A *comparison set* is what review authors pool: two models evaluated under one protocol (same source, metric,
setting and prompt) on several datasets. The effect per dataset is the difference A − B on the metric's
fraction scale; its variance is the sum of the two values' variances from the missing-variance ladder
(:mod:`fmreview.analysis.variance`), treating the two evaluations as independent (conservative when both
share a test set).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fmreview.analysis.variance import derive_variances
from fmreview.catalog import load, vocab

from .cli import UserError

KEYS = ["source_paper", "metric", "setting", "prompt"]
SOURCE_RANK = {"sd": 0, "se": 0, "ci": 0, "binomial": 1, "hanley-mcneil": 1, "imputed": 2, "": 2}


@dataclass
class ComparisonSet:
    source_paper: str
    metric: str
    setting: str
    prompt: str
    model_a: str
    model_b: str
    data: pd.DataFrame  # one row per dataset (and subset): yi, vi, vi_source, label, modality

    @property
    def k(self) -> int:
        return len(self.data)

    @property
    def title(self) -> str:
        m = vocab.label("metric", self.metric)
        return f"{self.model_a} − {self.model_b}: {m}, {self.setting}, prompt {self.prompt} ({self.source_paper})"


def _pairs(results: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """Rows where both models have a result on the same dataset/subset/split, with their variances."""
    res = derive_variances(results)
    cols = ["dataset", "subset", "split"]
    res = res.assign(**{c: res[c].fillna("") for c in cols})
    ra = res[res.model == a].drop_duplicates(cols).set_index(cols)
    rb = res[res.model == b].drop_duplicates(cols).set_index(cols)
    both = ra.index.intersection(rb.index)
    if len(both) == 0:
        return pd.DataFrame(columns=["label", "dataset", "yi", "vi", "vi_source"])
    ra, rb = ra.loc[both], rb.loc[both]
    worse = [max(sa, sb, key=lambda s: SOURCE_RANK.get(s, 2)) for sa, sb in zip(ra.vi_source, rb.vi_source)]
    out = pd.DataFrame({
        "dataset": [i[0] for i in both],
        "label": [i[0] + (f" / {i[1]}" if i[1] else "") for i in both],
        "yi": ra.value.to_numpy() - rb.value.to_numpy(),
        "vi": ra.vi.to_numpy() + rb.vi.to_numpy(),
        "vi_source": worse,
        "value_a": ra.value.to_numpy(), "value_b": rb.value.to_numpy(),
    })
    if len(out) >= 2 and (out.vi_source == "imputed").all():
        # no source gives any variance: an equal-weight (paired) analysis of the differences, whose pooled SE
        # is the SE of the mean difference
        out["vi"] = float(np.var(out.yi, ddof=1)) or float("nan")
    return out.sort_values("label").reset_index(drop=True)


def comparison_sets(cat, min_datasets: int = 5) -> list[ComparisonSet]:
    """Every (source, metric, setting, prompt, model pair) with results on at least ``min_datasets`` datasets
    (or parts of a dataset: a subset such as a task or label counts as one)."""
    res = cat.results
    found = []
    for key, grp in res.groupby(KEYS, sort=True, dropna=False):
        models = sorted(grp.model.unique())
        for i, a in enumerate(models):
            for b in models[i + 1:]:
                cells = lambda m: set(zip(grp[grp.model == m].dataset, grp[grp.model == m].subset.fillna("")))
                shared = cells(a) & cells(b)  # a dataset split into tasks/labels counts each part
                if len(shared) < min_datasets:
                    continue
                # the medical/adapted model first when one is based on the other
                base = dict(zip(cat.models.id, cat.models.base_model))
                first, second = (b, a) if base.get(b) == a else (a, b)
                data = _pairs(grp, first, second)
                if len(data) >= min_datasets:
                    found.append(ComparisonSet(*key, first, second, _with_modality(cat, data)))
    found.sort(key=lambda c: (-c.k, c.source_paper, c.model_a, c.model_b))
    return found


def _with_modality(cat, data: pd.DataFrame) -> pd.DataFrame:
    mods = cat.datasets.set_index("id")["modalities"]
    data = data.copy()
    data["modality"] = [",".join(mods.get(d, [])) or "unknown" for d in data.dataset]
    return data


def catalog_frame(*, catalog=None, metric=None, setting=None, prompt=None, source=None, compare=None, model=None):
    """The effect-size frame behind ``fmreview meta --from-catalog``: (DataFrame with yi, vi, label; x label)."""
    if not metric:
        raise UserError("--from-catalog needs --metric (e.g. dice, auc)")
    cat = load(catalog)
    res = cat.results_where(metric=metric, setting=setting, prompt=prompt, source=source)
    mname = vocab.label("metric", vocab.canonical("metric", metric) or metric)
    if compare:
        a, b = compare
        for m in (a, b):
            if m not in set(cat.models.id):
                raise UserError(f"no model {m!r} in the catalog")
        df = _pairs(res, a, b)
        if len(df) < 2:
            raise UserError(f"{a} and {b} share {len(df)} dataset(s) under these filters; need at least 2 to pool")
        return _with_modality(cat, df), f"{mname}: {a} − {b}"
    if not model:
        raise UserError("--from-catalog needs --compare MODEL_A MODEL_B or --model MODEL")
    one = derive_variances(res[res.model == model])
    if len(one) < 2:
        raise UserError(f"{model} has {len(one)} result(s) under these filters; need at least 2 to pool")
    one = one.assign(yi=one.value, label=one.dataset + one.subset.fillna("").map(lambda s: f" / {s}" if s else ""))
    return one.reset_index(drop=True), mname
