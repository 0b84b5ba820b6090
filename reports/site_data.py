"""The data behind each page of the static site, computed from a validated catalog.

Everything here is plain dicts and lists in a fixed order (sorted by id, or by value with the id as tie-break),
so the templates that render them give the same bytes for the same catalog. Nothing here writes files; see
:mod:`fmreview.reports.site` for the build.
"""

from __future__ import annotations


import math
from collections import defaultdict
from urllib.parse import quote

import pandas as pd

from fmreview.catalog import vocab

_SAFE = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_.")


def slug(id_: str) -> str:
    """A file name for an id that is safe on every file system and host, and one-to-one.

    Lower-case letters, digits, '-', '_' and '.' stay (a leading '.' does not: hidden files); every other
    character becomes '~' and the hex of its UTF-8 bytes. '~' itself is encoded, so no two ids share a name,
    and upper case is encoded too, so case-insensitive file systems cannot merge two ids."""
    out = []
    for i, ch in enumerate(str(id_)):
        if ch in _SAFE and not (i == 0 and ch == "."):
            out.append(ch)
        else:
            out.extend(f"~{b:02x}" for b in ch.encode("utf-8"))
    return "".join(out) or "~"


KIND_DIRS = {"model": "models", "dataset": "datasets", "paper": "papers"}


def page_path(kind: str, id_: str) -> str:
    """The file of an entity's page, relative to the site root (models/<slug>.html ...)."""
    return f"{KIND_DIRS[kind]}/{slug(id_)}.html"


def page_url(kind: str, id_: str) -> str:
    """The same path as a URL (percent-encoded, so a '~' or anything else a browser might read specially is
    safe in an href)."""
    return quote(page_path(kind, id_), safe="/-_.~")


def na(x):
    """None for pandas' missing values (NaN, NA, None), the value otherwise."""
    if x is None:
        return None
    try:
        if pd.isna(x):
            return None
    except (TypeError, ValueError):  # lists
        pass
    return x


def fmt_count(n) -> str | None:
    """86000000 -> '86M', 1100000000 -> '1.1B': how papers state sizes."""
    n = na(n)
    if n is None:
        return None
    n = int(n)
    for div, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.3g}{suffix}"
    return str(n)


def fmt_number(x) -> str:
    """A value as the source printed it: no binary noise, no trailing zeros."""
    x = float(x)
    if math.isfinite(x) and x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.6g}"


def fmt_value(value, unit: str) -> str:
    """'79.3%', '0.65', '3.2 mm': the reported number with its unit."""
    s = fmt_number(value)
    if unit == "percent":
        return s + "%"
    if unit == "mm":
        return s + " mm"
    return s


def setting_text(setting: str, shots) -> str:
    shots = na(shots)
    return f"{setting} ({int(shots)}-shot)" if shots is not None else setting


def prompt_text(prompt: str, count) -> str:
    count = na(count)
    return f"{int(count)} × {prompt}" if count is not None else prompt


def _labels(vocabulary: str, words) -> str:
    return ", ".join(vocab.label(vocabulary, w) for w in words)


def _haystack(*parts) -> str:
    """Lower-case text the search matches against: every part, flattened, once, in order."""
    seen, out = set(), []
    for p in parts:
        for x in (p if isinstance(p, (list, tuple)) else [p]):
            x = na(x)
            if x is None or x == "":
                continue
            s = str(x).lower()
            if s not in seen:
                seen.add(s)
                out.append(s)
    return " ".join(out)


def _vocab_words(vocabulary: str, words) -> list[str]:
    """Each word with its label and aliases, so searching 'computed tomography' or 'CT' finds a CT model."""
    out = []
    for w in words:
        t = vocab.VOCABULARIES[vocabulary].get(w)
        out.append(w)
        if t:
            out.append(t.label)
            out.extend(t.aliases)
    return out


# ------------------------------------------------------------------------------------------------- search


def search_index(cat) -> dict:
    """The compact index the browser searches: one row [kind, title, subtitle, url, haystack] per model,
    dataset, paper and result. Kinds: m(odel), d(ataset), p(aper), r(esult)."""
    rows = []
    names = {i: e.record.name for i, e in cat.raw.models.items()}
    dnames = {i: e.record.name for i, e in cat.raw.datasets.items()}
    for id_ in sorted(cat.raw.models):
        m = cat.raw.models[id_].record
        ck = [x for c in m.checkpoints for x in (c.name, c.repo_id, c.licence)]
        rows.append(["m", m.name, f"{m.year} · {vocab.label('family', m.family)} · {_labels('modality', m.modalities)}",
                     page_url("model", id_),
                     _haystack(m.id, m.name, m.organisation, _vocab_words("modality", m.modalities),
                               _vocab_words("task", m.tasks), m.backbone, m.architecture, m.licence, m.family,
                               m.band, m.model_group, m.anatomy, ck, m.year)])
    for id_ in sorted(cat.raw.datasets):
        d = cat.raw.datasets[id_].record
        rows.append(["d", d.name, f"dataset · {_labels('modality', d.modalities)}", page_url("dataset", id_),
                     _haystack(d.id, d.name, _vocab_words("modality", d.modalities), _vocab_words("task", d.tasks),
                               d.anatomy, d.licence, d.dimensionality, d.year)])
    for id_ in sorted(cat.raw.papers):
        p = cat.raw.papers[id_].record
        rows.append(["p", p.title, f"{p.year} · {', '.join(p.authors[:2])}{' et al.' if len(p.authors) > 2 else ''}",
                     page_url("paper", id_),
                     _haystack(p.id, p.title, p.authors, p.venue, p.arxiv, p.doi, p.year, p.kind)])
    res = cat.results.sort_values("id", kind="stable")
    for r in res.itertuples(index=False):
        title = f"{names.get(r.model, r.model)} on {dnames.get(r.dataset, r.dataset)}"
        sub = f"{vocab.label('metric', r.metric)} {fmt_value(r.value_reported, r.unit)} · {r.setting} · {r.source_paper}"
        rows.append(["r", title, sub, page_url("model", r.model) + "#r-" + slug(r.id),
                     _haystack(r.id, r.model, names.get(r.model), r.dataset, dnames.get(r.dataset), r.metric,
                               r.setting, r.prompt, na(r.subset), r.source_paper)])
    return {"fields": ["kind", "title", "subtitle", "url", "text"], "rows": rows}


# --------------------------------------------------------------------------------------------- list pages


def model_rows(cat) -> list[dict]:
    """One row per model for the models list, with the words its filters match (the CLI's vocabulary)."""
    out = []
    for id_ in sorted(cat.raw.models):
        m = cat.raw.models[id_].record
        ow = m.open_weights if m.open_weights is not None else bool(m.checkpoints)
        out.append({
            "id": m.id, "name": m.name, "year": m.year, "url": page_url("model", id_),
            "family": m.family, "band": m.band, "group": m.model_group, "modality": " ".join(m.modalities),
            "task": " ".join(m.tasks), "open_weights": "yes" if ow else "no",
            "modalities": _labels("modality", m.modalities), "tasks": _labels("task", m.tasks),
            "parameters": fmt_count(m.parameters), "params_sort": m.parameters or 0,
            "text": _haystack(m.id, m.name, m.architecture, m.organisation),
        })
    return out


def dataset_rows(cat) -> list[dict]:
    counts = cat.results.dataset.value_counts().to_dict()
    out = []
    for id_ in sorted(cat.raw.datasets):
        d = cat.raw.datasets[id_].record
        out.append({
            "id": d.id, "name": d.name, "year": d.year or "", "url": page_url("dataset", id_),
            "modality": " ".join(d.modalities), "task": " ".join(d.tasks), "dimensionality": d.dimensionality or "",
            "access": d.access or "", "modalities": _labels("modality", d.modalities), "tasks": _labels("task", d.tasks),
            "results": int(counts.get(id_, 0)), "text": _haystack(d.id, d.name),
        })
    return out


def paper_rows(cat) -> list[dict]:
    out = []
    for id_ in sorted(cat.raw.papers):
        p = cat.raw.papers[id_].record
        out.append({"id": p.id, "title": p.title, "year": p.year, "kind": p.kind, "venue": p.venue or "",
                    "url": page_url("paper", id_),
                    "authors": ", ".join(p.authors[:3]) + (" et al." if len(p.authors) > 3 else ""),
                    "text": _haystack(p.id, p.title, p.authors, p.venue)})
    return out


def filter_options(cat) -> dict:
    """The words each list filter offers: only words some entry uses, in the vocabulary's order."""
    used = defaultdict(set)
    for e in cat.raw.models.values():
        m = e.record
        used["model.modality"].update(m.modalities)
        used["model.task"].update(m.tasks)
        used["model.family"].add(m.family)
        used["model.band"].add(m.band)
        used["model.group"].add(m.model_group)
    for e in cat.raw.datasets.values():
        d = e.record
        used["dataset.modality"].update(d.modalities)
        used["dataset.task"].update(d.tasks)
        if d.dimensionality:
            used["dataset.dimensionality"].add(d.dimensionality)
        if d.access:
            used["dataset.access"].add(d.access)
    for e in cat.raw.papers.values():
        used["paper.kind"].add(e.record.kind)
    vocabs = {"modality": "modality", "task": "task", "family": "family", "band": "band", "group": "model_group",
              "dimensionality": "dimensionality", "access": "access", "kind": "paper_kind"}
    out = {}
    for key, words in used.items():
        v = vocabs[key.split(".")[1]]
        out[key] = [(w, vocab.label(v, w)) for w in vocab.words(v) if w in words]
    return out


# ------------------------------------------------------------------------------------------------- home


def evidence_map(cat) -> dict:
    """Models per modality × task: rows are modalities (most models first), columns tasks (vocabulary order);
    each cell links to the models list filtered to it."""
    cells = defaultdict(set)
    for id_, e in cat.raw.models.items():
        for mod in e.record.modalities:
            for t in e.record.tasks:
                cells[(mod, t)].add(id_)
    mods = sorted({m for m, _ in cells}, key=lambda m: (-len({i for (mm, _), s in cells.items() if mm == m for i in s}),
                                                         vocab.words("modality").index(m)))
    tasks = [t for t in vocab.words("task") if any(tt == t for _, tt in cells)]
    rows = []
    for m in mods:
        row = []
        for t in tasks:
            n = len(cells.get((m, t), ()))
            row.append({"n": n, "href": f"models.html#modality={quote(m)}&task={quote(t)}" if n else None})
        rows.append({"word": m, "label": vocab.label("modality", m), "cells": row})
    return {"tasks": [(t, vocab.label("task", t)) for t in tasks], "rows": rows}


def newest_models(cat, n: int = 12) -> list[dict]:
    """The most recent models by year (the catalog records no date of addition; ties broken by id so the list
    is the same every build)."""
    ms = sorted(cat.raw.models.values(), key=lambda e: (-e.record.year, e.record.id))[:n]
    return [{"id": e.record.id, "name": e.record.name, "year": e.record.year, "url": page_url("model", e.record.id),
             "modalities": _labels("modality", e.record.modalities), "tasks": _labels("task", e.record.tasks)}
            for e in ms]


# ------------------------------------------------------------------------------------------- model pages


def _result_row(r, names: dict, dnames: dict, records: dict) -> dict:
    rec = records.get(("result", r.id))
    flags = []
    if na(r.aggregate):
        flags.append(f"aggregate ({r.aggregate}{', ' + r.aggregate_over if na(r.aggregate_over) else ''})")
    if na(r.doubt):
        flags.append(f"doubtful: {r.doubt}")
    return {
        "id": r.id, "anchor": "r-" + slug(r.id), "model": r.model, "model_name": names.get(r.model, r.model),
        "model_url": page_url("model", r.model), "dataset": r.dataset, "dataset_name": dnames.get(r.dataset, r.dataset),
        "dataset_url": page_url("dataset", r.dataset), "subset": na(r.subset) or "", "split": na(r.split) or "",
        "task": r.task, "metric": vocab.label("metric", r.metric), "value": fmt_value(r.value_reported, r.unit),
        "sort": float(r.value), "setting": setting_text(r.setting, r.shots), "prompt": prompt_text(r.prompt, r.prompt_count),
        "condition": na(r.condition) or "", "source_url": r.source_url, "locator": r.locator,
        "source_paper": r.source_paper, "source_paper_url": page_url("paper", r.source_paper),
        "reported_by": r.reported_by, "flags": "; ".join(flags), "record": rec,
    }


def record_map(records: pd.DataFrame | None) -> dict:
    """Verification records by result id: the newest-named record file wins (records are sorted by file name)."""
    out = {}
    if records is None or not len(records):
        return out
    for r in records.sort_values("file", kind="stable").itertuples(index=False):
        out.setdefault(str(r.model), [])
        row = {"result": na(r.result), "model": r.model, "dataset": na(r.dataset), "metric": na(r.metric),
               "reported": na(r.reported), "reproduced": na(r.reproduced), "ci_low": na(r.ci_low),
               "ci_high": na(r.ci_high), "verdict": na(r.verdict), "n": na(r.n), "device": na(r.device),
               "revision": na(r.checkpoint_revision), "file": r.file}
        out[str(r.model)].append(row)
        if row["result"]:
            out[("result", row["result"])] = row
    return out


def _hub_url(c) -> str | None:
    if c.url:
        return c.url
    if c.hub == "huggingface" and c.repo_id:
        return f"https://huggingface.co/{c.repo_id}" + (f"/tree/{c.revision}" if c.revision else "")
    return None


def model_page(cat, id_: str, results_by_model: dict, derived: dict, recs: dict) -> dict:
    """Everything a model page shows: card, checkpoints, results with sources, reproductions, relatives."""
    e = cat.raw.models[id_]
    m = e.record
    pre = m.pretraining
    names = {i: x.record.name for i, x in cat.raw.models.items()}
    dnames = {i: x.record.name for i, x in cat.raw.datasets.items()}
    card = [
        ("Year", m.year), ("Organisation", m.organisation), ("Family", vocab.label("family", m.family)),
        ("Band", vocab.label("band", m.band)), ("Model group", vocab.label("model_group", m.model_group)),
        ("Architecture", m.architecture), ("Backbone", m.backbone),
        ("Parameters", fmt_count(m.parameters)), ("Modalities", _labels("modality", m.modalities)),
        ("Anatomy", ", ".join(m.anatomy) or None), ("Tasks", _labels("task", m.tasks)),
        ("Pretraining paradigm", _labels("paradigm", pre.paradigm) if pre and pre.paradigm else None),
        ("Pretraining data", ", ".join(pre.datasets) if pre and pre.datasets else None),
        ("Pretraining images", fmt_count(pre.images) if pre else None),
        ("Pretraining pairs", fmt_count(pre.pairs) if pre else None),
        ("Adaptation", _labels("adaptation", m.adaptation) or None), ("Licence", m.licence),
        ("Open weights", {True: "yes", False: "no"}.get(m.open_weights if m.open_weights is not None
                                                       else (bool(m.checkpoints) or None))),
    ]
    card = [(k, str(v)) for k, v in card if v is not None and v != ""]
    checkpoints = [{
        "name": c.name or "", "hub": c.hub, "repo_id": c.repo_id or "", "revision": c.revision or "",
        "url": _hub_url(c), "format": c.format or "", "licence": c.licence or "",
        "gated": {True: "gated (request access)", False: "not gated", None: "not stated"}[c.gated],
        "files": [{"path": f.path, "sha256": f.sha256 or ""} for f in c.files],
        "source": c.source,
    } for c in m.checkpoints]
    rows = [_result_row(r, names, dnames, recs) for r in results_by_model.get(id_, [])]
    paper_ids = sorted({m.paper} if m.paper else set()) + sorted({r["source_paper"] for r in rows} - {m.paper})
    papers = [{"id": p, "title": cat.raw.papers[p].record.title, "year": cat.raw.papers[p].record.year,
               "url": page_url("paper", p), "role": "introduces it" if p == m.paper else "reports results"}
              for p in paper_ids if p in cat.raw.papers]
    base = ({"id": m.base_model, "name": names.get(m.base_model, m.base_model), "url": page_url("model", m.base_model)}
            if m.base_model else None)
    built = [{"id": d, "name": names[d], "url": page_url("model", d)} for d in derived.get(id_, [])]
    return {"m": m, "file": e.file, "card": card, "checkpoints": checkpoints, "verify": f"fmreview zoo verify {m.id}",
            "results": rows, "records": recs.get(m.id, []), "papers": papers, "base": base, "built_on": built,
            "sources": m.sources, "code": m.code, "paper_url": page_url("paper", m.paper) if m.paper else None}


# ----------------------------------------------------------------------------------------- dataset pages

PROTOCOL = ["metric", "setting", "shots", "prompt", "prompt_count", "condition", "source_paper", "source_document"]


def leaderboards(rows: pd.DataFrame, names: dict, dnames: dict, recs: dict) -> list[dict]:
    """One leaderboard per protocol of a dataset's results (metric × setting × prompt × prompt count ×
    condition × source), best first; the best value of each label (subset and split) is marked, by the
    metric's direction."""
    out = []
    if not len(rows):
        return out
    keyed = rows.assign(**{k: rows[k].astype(object).where(rows[k].notna(), None) for k in PROTOCOL})
    groups = defaultdict(list)
    for r in keyed.itertuples(index=False):
        groups[tuple(getattr(r, k) for k in PROTOCOL)].append(r)

    def order(key):
        return tuple("" if v is None else str(v) for v in key)

    for key in sorted(groups, key=order):
        metric, setting, shots, prompt, count, cond, paper, doc = key
        higher = vocab.METRICS[metric].higher_is_better
        items = [_result_row(r, names, dnames, recs) for r in groups[key]]
        best = {}
        for it in items:
            lbl = (it["subset"], it["split"])
            if lbl not in best or (it["sort"] > best[lbl] if higher else it["sort"] < best[lbl]):
                best[lbl] = it["sort"]
        for it in items:
            it["best"] = it["sort"] == best[(it["subset"], it["split"])] and len(items) > 1
        items.sort(key=lambda it: (it["subset"], it["split"], -it["sort"] if higher else it["sort"], it["model"], it["id"]))
        out.append({
            "metric": vocab.label("metric", metric), "direction": "higher is better" if higher else "lower is better",
            "higher": higher, "setting": setting_text(setting, shots), "prompt": prompt_text(prompt, count),
            "condition": cond or "", "source_paper": paper, "source_document": doc,
            "source_paper_url": page_url("paper", paper), "rows": items,
            "labelled": any(it["subset"] or it["split"] for it in items),
            "models": len({it["model"] for it in items}),
        })
    return out


def mean_ranks(blocks: pd.DataFrame, lower_is_better: bool) -> tuple[dict[str, float], int]:
    """Mean within-dataset ranks (1 = best, ties averaged) over complete blocks: the R̄ⱼ of
    :func:`fmreview.analysis.rank_comparison` (Demšar 2006), computed without its Friedman, Nemenyi and
    Wilcoxon–Holm tests, whose permutation p-values would cost most of a build and are not shown on the site.
    ({}, 0) when fewer than two complete datasets or three models remain."""
    from scipy.stats import rankdata

    if blocks.study.nunique() < 2 or blocks.treatment.nunique() < 3:
        return {}, 0
    wide = blocks.pivot_table(index="study", columns="treatment", values="yi", aggfunc="first").sort_index()
    x = wide.to_numpy(dtype=float)
    r = rankdata(x if lower_is_better else -x, axis=1)
    return {str(t): float(v) for t, v in zip(wide.columns, r.mean(axis=0))}, int(x.shape[0])


def network_summaries(results: pd.DataFrame) -> dict[str, list[dict]]:
    """P-scores (network meta-analysis) and mean ranks (Friedman) of every benchmark table with three or more
    models on two or more datasets, computed once per build, listed under each dataset the table pools over.

    The same analysis as the report's pooled section (:mod:`fmreview.reports.report_pooling`): aggregates and
    doubtful values left out, labels averaged within a dataset, the sampling variances used only when every arm
    has a real one. The tables are shared out between worker processes where the platform can fork (as the
    report's figures are; ``FMREVIEW_WORKERS=1`` keeps them here): each forest plot's text layout is most of
    the time, and the summaries are the same either way."""
    import os

    from .benchmark_tables import benchmark_tables, usable

    res, _ = usable(results)
    tables = [t for t in benchmark_tables(res)]  # numbered as in the report (tables of two or more models)
    workers = int(os.environ.get("FMREVIEW_WORKERS") or min(os.cpu_count() or 1, 4))
    summaries = None
    if workers > 1 and len(tables) > 8 and hasattr(os, "fork"):
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        try:
            with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
                summaries = list(pool.map(_network_summary, tables, chunksize=4))
        except (OSError, RuntimeError):  # no fork here after all (a sandbox): do it in this process
            summaries = None
    if summaries is None:
        summaries = [_network_summary(t) for t in tables]
    by_dataset = defaultdict(list)
    for summary in summaries:
        if summary is not None:
            for ds in summary.pop("_pooled"):
                by_dataset[ds].append(summary)
    return dict(by_dataset)


def _network_summary(t) -> dict | None:
    """One benchmark table's network summary for the site (None when it pools nothing or cannot be fitted)."""
    from fmreview.analysis.errors import AnalysisError
    from fmreview.analysis.nma import nma

    from .benchmark_tables import complete_blocks
    from .nma_plots import nma_forest
    from .plotting import figure_bytes, plt

    arms, has_v, note = t.arms()
    if arms.study.nunique() < 2 or arms.treatment.nunique() < 3:
        return None
    try:
        net = nma(arms, vi="vi" if has_v else None, lower_is_better=t.lower_is_better, drop_single_arm=True)
    except AnalysisError:
        return None  # a network that cannot be fitted shows no P-scores rather than wrong ones
    c = max(net.components, key=lambda c: (len(c.treatments), c.treatments))
    ranks, n_blocks = mean_ranks(complete_blocks(arms[arms.treatment.isin(c.treatments)]), t.lower_is_better)
    ps = c.pscore
    models = sorted(c.treatments, key=lambda tr: (-ps[tr], tr))
    fig = nma_forest(c, xlabel=f"Difference in {vocab.label('metric', t.metric)}")
    svg = figure_bytes(fig)
    plt.close(fig)
    return {
        "number": t.number, "title": t.title,
        "forest": {"file": f"figures/table{t.number}-forest.svg", "svg": svg,
                   "alt": (f"Forest plot: {len(c.effects)} models against {c.reference} in table {t.number} "
                           f"({t.title}), differences with 95% confidence intervals, best P-score on top.")},
        "datasets": sorted(set(c.studies) if c.studies else set(arms.study)),
        "variances": "with sampling variances" if has_v else "additive model, no sampling variances",
        "note": note, "n_blocks": n_blocks,
        "rows": [{"model": tr, "url": page_url("model", tr), "pscore": f"{ps[tr]:.3f}",
                  "mean_rank": f"{ranks[tr]:.2f}" if tr in ranks else ""} for tr in models],
        "_pooled": sorted(set(arms.study)),
    }


def dataset_page(cat, id_: str, res_by_dataset: dict, recs: dict, networks: dict) -> dict:
    e = cat.raw.datasets[id_]
    d = e.record
    names = {i: x.record.name for i, x in cat.raw.models.items()}
    dnames = {i: x.record.name for i, x in cat.raw.datasets.items()}
    size = d.size.model_dump(exclude_none=True) if d.size else {}
    card = [
        ("Modalities", _labels("modality", d.modalities)), ("Anatomy", ", ".join(d.anatomy) or None),
        ("Tasks", _labels("task", d.tasks) or None),
        ("Dimensionality", vocab.label("dimensionality", d.dimensionality) if d.dimensionality else None),
        ("Size", ", ".join(f"{fmt_number(v)} {k}" for k, v in sorted(size.items())) or None),
        ("Classes", d.classes), ("Year", d.year), ("Licence", d.licence),
        ("Access", vocab.label("access", d.access) if d.access else None),
    ]
    card = [(k, str(v)) for k, v in card if v is not None and v != ""]
    rows = res_by_dataset.get(id_)
    boards = leaderboards(rows if rows is not None else cat.results.iloc[0:0], names, dnames, recs)
    return {"d": d, "file": e.file, "card": card, "boards": boards, "networks": networks.get(id_, []),
            "paper_url": page_url("paper", d.paper) if d.paper else None, "sources": d.sources}


# ------------------------------------------------------------------------------------------- paper pages


def paper_page(cat, id_: str, introduced: dict, res_by_paper: dict) -> dict:
    e = cat.raw.papers[id_]
    p = e.record
    names = {i: x.record.name for i, x in cat.raw.models.items()}
    dnames = {i: x.record.name for i, x in cat.raw.datasets.items()}
    rows = res_by_paper.get(id_)
    reported = []
    if rows is not None:
        for (model, dataset), g in rows.groupby(["model", "dataset"], sort=True):
            reported.append({"model": model, "model_name": names.get(model, model), "model_url": page_url("model", model),
                             "dataset": dataset, "dataset_name": dnames.get(dataset, dataset),
                             "dataset_url": page_url("dataset", dataset), "n": len(g),
                             "metrics": ", ".join(sorted({vocab.label("metric", x) for x in g.metric}))})
    docs = sorted(set(rows.source_document)) if rows is not None else []
    models = [{"id": i, "name": names[i], "url": page_url("model", i)} for i in introduced.get(id_, [])]
    return {"p": p, "file": e.file, "models": models, "reported": reported, "documents": docs,
            "n_results": 0 if rows is None else len(rows)}
