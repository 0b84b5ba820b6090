"""Questions asked of the catalog, answered with the meta-analysis engine.

A *comparison set* is what review authors pool: two models evaluated under one protocol (same source document,
metric, setting, prompt, number of prompts and condition) on several datasets. Two documents of one paper (a
table and its later revision under another protocol) are two protocols; results split across files by who
reported them (``reported_by``) but read from one document stay one. The effect per dataset is the difference
A − B on the metric's fraction scale; its variance is the sum of the two values' variances from the
missing-variance ladder (:mod:`fmreview.analysis.variance`), treating the two evaluations as independent
(conservative when both share a test set).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fmreview.analysis.variance import derive_variances
from fmreview.catalog import load, vocab
from fmreview.catalog.query import check_ids

from .cli import UserError

KEYS = ["source_paper", "source_document", "metric", "setting", "prompt", "prompt_count", "condition"]
SOURCE_RANK = {"sd": 0, "se": 0, "ci": 0, "binomial": 1, "hanley-mcneil": 1, "imputed": 2, "": 2}


@dataclass
class ComparisonSet:
    source_paper: str
    source_document: str  # the URL read: one table, one protocol
    metric: str
    setting: str
    prompt: str
    prompt_count: float  # NaN when the source does not vary it
    condition: object  # str, or NaN when the source names none
    model_a: str
    model_b: str
    data: pd.DataFrame  # one row per dataset (and subset): yi, vi, vi_source, label, modality

    @property
    def k(self) -> int:
        return len(self.data)

    @property
    def title(self) -> str:
        from .benchmark_tables import protocol_title

        return f"{self.model_a} − {self.model_b}: {protocol_title(self)}"


CELL = ["dataset", "subset", "split"]


def _cells(results: pd.DataFrame) -> dict[str, dict[tuple, tuple]]:
    """model -> {(dataset, subset, split): (value, vi, vi_source)}; ``results`` carry vi.

    Two different values for one model in one cell mean a condition the result's fields (prompt_count,
    condition) do not name: pairing either with another model's value would not be like for like, so the
    cell is left out for that model."""
    slim = results[["model", *CELL, "value", "vi", "vi_source"]].copy()
    for c in CELL:
        slim[c] = slim[c].fillna("")
    out: dict[str, dict[tuple, tuple]] = {}
    ambiguous = set()
    for m, d, s, sp, v, vi, src in slim.itertuples(index=False, name=None):
        cells = out.setdefault(m, {})
        got = cells.setdefault((d, s, sp), (v, vi, src))
        if got[0] != v:
            ambiguous.add((m, (d, s, sp)))
    for m, cell in ambiguous:
        del out[m][cell]
    return out


def _pair_frame(ca: dict[tuple, tuple], cb: dict[tuple, tuple]) -> pd.DataFrame:
    """Rows where both models have a result on the same dataset/subset/split: difference and summed variance."""
    both = sorted(ca.keys() & cb.keys(), key=lambda c: (c[0] + (f" / {c[1]}" if c[1] else ""), c[2]))
    if not both:
        return pd.DataFrame(columns=["label", "dataset", "yi", "vi", "vi_source"])
    va = np.array([ca[c][0] for c in both], dtype=float)
    vb = np.array([cb[c][0] for c in both], dtype=float)
    out = pd.DataFrame({
        "dataset": [c[0] for c in both],
        "label": [c[0] + (f" / {c[1]}" if c[1] else "") for c in both],
        "yi": va - vb,
        "vi": np.array([ca[c][1] for c in both], dtype=float) + np.array([cb[c][1] for c in both], dtype=float),
        "vi_source": [max(ca[c][2], cb[c][2], key=lambda s: SOURCE_RANK.get(s, 2)) for c in both],
        "value_a": va, "value_b": vb,
    })
    if len(out) >= 2 and (out.vi_source == "imputed").all():
        # no source gives any variance: an equal-weight (paired) analysis of the differences, whose pooled SE
        # is the SE of the mean difference
        same = np.ptp(out.yi) <= 1e-9 * max(1.0, float(np.abs(out.yi).max()))  # equal up to rounding
        out["vi"] = float("nan") if same else float(np.var(out.yi, ddof=1))
    return out


def _pairs(results: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """Rows where both models have a result on the same dataset/subset/split, with their variances."""
    cells = _cells(derive_variances(results))
    return _pair_frame(cells.get(a, {}), cells.get(b, {}))


def comparison_sets(cat, min_datasets: int = 5) -> list[ComparisonSet]:
    """Every (source, metric, setting, prompt, model pair) with results on at least ``min_datasets`` datasets
    (or parts of a dataset: a subset such as a task or label counts as one)."""
    res = cat.results
    base = dict(zip(cat.models.id, cat.models.base_model))
    paper = dict(zip(cat.models.id, cat.models.paper))
    found = []
    for key, grp in res.groupby(KEYS, sort=True, dropna=False):
        names = {m: {(d, sub) for d, sub, _ in c} for m, c in _cells(grp.assign(vi=np.nan, vi_source="")).items()}
        models = sorted(m for m, c in names.items() if len(c) >= min_datasets)
        if len(models) < 2:
            continue
        cells = _cells(derive_variances(grp))
        for i, a in enumerate(models):
            for b in models[i + 1:]:
                if len(names[a] & names[b]) < min_datasets:  # a dataset split into tasks/labels counts each part
                    continue
                # the medical/adapted model first when one is based on the other, else the source's own model
                own_b = paper.get(b) == key[0] and paper.get(a) != key[0]
                first, second = (b, a) if base.get(b) == a or (base.get(a) != b and own_b) else (a, b)
                data = _pair_frame(cells[first], cells[second])
                if len(data) >= min_datasets:
                    found.append(ComparisonSet(*key, first, second, _with_modality(cat, data)))
    found.sort(key=lambda c: (-c.k, c.source_paper, c.model_a, c.model_b))
    return found


def _with_modality(cat, data: pd.DataFrame) -> pd.DataFrame:
    mods = cat.datasets.set_index("id")["modalities"]
    data = data.copy()
    data["modality"] = [",".join(mods.get(d, [])) or "unknown" for d in data.dataset]
    return data


def benchmark_frame(*, catalog=None, metric=None, setting=None, prompt=None, prompt_count=None, condition=None,
                    source=None, include_doubtful: bool = False, verified_only: bool = False, values: str = "reported", records=None, log=None) -> pd.DataFrame:
    """Arm-level frame behind ``fmreview nma|rank --from-catalog``: columns study, treatment, yi, vi (NaN where no
    variance was reported), labels. Labels within a dataset are averaged (each dataset counts once); rows from
    several source documents make one study per dataset and source. ``attrs``: has_variances, note, left_out."""
    from .benchmark_tables import frame

    cat, res, left = _filtered(catalog, metric, setting, prompt, prompt_count, condition, source, include_doubtful,
                               verified_only, values, records, log)
    if res.empty:
        raise UserError("no results match these filters (see fmreview results with the same filters)")
    _one_protocol(res)
    df, has_v, note = frame(res)
    if df.study.nunique() < 2 or df.treatment.nunique() < 2:
        raise UserError(f"these filters leave {df.treatment.nunique()} model(s) on {df.study.nunique()} dataset(s); "
                        "a network or rank analysis needs at least 2 of each")
    if not has_v:
        df["vi"] = np.nan
    df.attrs.update(has_variances=has_v, note=note, left_out=left)
    return df


_FLAGS = {"metric": "--metric", "setting": "--setting", "prompt": "--prompt", "prompt_count": "--prompt-count",
          "condition": "--condition"}


def _one_protocol(res: pd.DataFrame) -> None:
    """A network or rank analysis compares models under one protocol: results that differ in setting, prompt,
    prompt count or condition (the 28 px and 224 px runs of one benchmark, say) are not arms of one network, and
    would otherwise be dropped cell by cell as ambiguous. Say what differs and which flag picks one."""
    keys = [k for k in _FLAGS if k in res]
    shown = res[keys].astype(object).where(res[keys].notna(), None)
    varying = [k for k in keys if shown[k].map(lambda v: "" if v is None else str(v)).nunique() > 1]
    if not varying:
        return
    parts = []
    for k in varying:
        vals = sorted({"" if v is None else str(v) for v in shown[k]})
        parts.append(f"{k} ({', '.join(repr(v) if v else '(none)' for v in vals[:6])}"
                     + (f", … {len(vals) - 6} more" if len(vals) > 6 else "") + f"; pick one with {_FLAGS[k]}"
                     + (", '' for none" if "" in vals else "") + ")")
    raise UserError("these results mix protocols, so they are not one network: they differ in " + "; ".join(parts))


def contrast_frame(*, catalog=None, metric=None, setting=None, prompt=None, prompt_count=None, condition=None,
                   source=None, compare=None, include_doubtful: bool = False, verified_only: bool = False, values: str = "reported", records=None, log=None) -> pd.DataFrame:
    """A − B in every table cell where both were evaluated under one protocol, across sources: columns source,
    document, dataset, cell, yi (no sampling variances: a multilevel model's innermost level absorbs them)."""
    from .benchmark_tables import variant_contrasts

    if metric and not compare:
        raise UserError("--from-catalog with --random needs --compare MODEL_A MODEL_B")
    cat, res, left = _filtered(catalog, metric, setting, prompt, prompt_count, condition, source, include_doubtful,
                               verified_only, values, records, log)
    a, b = compare
    check_ids(cat, "model", [a, b])
    df = variant_contrasts(res, b, [a])
    if len(df) < 3:
        raise UserError(f"{a} and {b} share {len(df)} table cell(s) under these filters; need at least 3")
    df.attrs["left_out"] = left
    return df


def _filtered(catalog, metric, setting, prompt, prompt_count, condition, source, include_doubtful,
              verified_only=False, values="reported", records=None, log=None):
    """(catalog, the results an analysis may pool under the --from-catalog filters, counts left out). With
    ``verified_only`` or ``values='reproduced'`` the zoo's verification records decide which results stay and
    which value each carries (:func:`fmreview.reports.reproduced.apply`); ``left["evidence"]`` says so, and
    ``log`` hears it at once (before a later step can fail on too few results)."""
    from .benchmark_tables import usable
    from .reproduced import apply as apply_records

    if not metric:
        raise UserError("--from-catalog needs --metric (e.g. dice, auc)")
    cat = load(catalog)
    _check_source(cat, source)
    res = cat.results_where(metric=metric, setting=setting, prompt=prompt, prompt_count=prompt_count,
                            condition=condition, source=source)
    res, left = usable(res, include_doubtful)
    res, note = apply_records(res, verified_only=verified_only, values=values, records=records)
    if note:
        left["evidence"] = note
        if log:
            log(note)
    return cat, res, left


def _check_source(cat, source) -> None:
    check_ids(cat, "source", source)


def catalog_frame(*, catalog=None, metric=None, setting=None, prompt=None, prompt_count=None, condition=None,
                  source=None, compare=None, model=None, include_doubtful: bool = False, verified_only: bool = False, values: str = "reported", records=None, log=None):
    """The effect-size frame behind ``fmreview meta --from-catalog``: (DataFrame with yi, vi, label; x label).
    Aggregate rows and (unless ``include_doubtful``) doubtful values are left out; ``attrs["left_out"]`` counts
    them."""
    cat, res, left = _filtered(catalog, metric, setting, prompt, prompt_count, condition, source, include_doubtful,
                               verified_only, values, records, log)
    mname = vocab.label("metric", vocab.canonical("metric", metric) or metric)
    if compare:
        a, b = compare
        check_ids(cat, "model", [a, b])
        df = _pairs(res, a, b)
        if len(df) < 2:
            raise UserError(f"{a} and {b} share {len(df)} dataset(s) under these filters; need at least 2 to pool")
        if not np.isfinite(df.vi.to_numpy(dtype=float)).any():
            raise UserError(f"{a} − {b} is {df.yi.iloc[0]:g} on all {len(df)} datasets and no source gives a variance: "
                            "with no spread to weight by there is nothing to pool (the difference is the same "
                            "everywhere)")
        df = _with_modality(cat, df)
        df.attrs["left_out"] = left
        return df, f"{mname}: {a} − {b}"
    if not model:
        raise UserError("--from-catalog needs --compare MODEL_A MODEL_B or --model MODEL")
    check_ids(cat, "model", model)
    one = derive_variances(res[res.model == model])
    if len(one) < 2:
        raise UserError(f"{model} has {len(one)} result(s) under these filters; need at least 2 to pool")
    if not np.isfinite(one.vi.to_numpy(dtype=float)).all():
        raise UserError(f"{model}: no variance for {int((~np.isfinite(one.vi.to_numpy(dtype=float))).sum())} of its "
                        f"{len(one)} values (the sources give no SD, SE, CI or n, and the values have no spread to "
                        "impute one from), so they cannot be weighted")
    one = one.assign(yi=one.value, label=one.dataset + one.subset.fillna("").map(lambda s: f" / {s}" if s else ""))
    one = one.reset_index(drop=True)
    one.attrs["left_out"] = left
    return one, mname
