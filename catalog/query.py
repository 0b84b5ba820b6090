"""The catalog as pandas DataFrames, and the filters the CLI and the report use.

>>> from fmreview.catalog import load
>>> cat = load()
>>> cat.models_where(modality="CT", task="segmentation")[["id", "name", "year"]]

List-valued fields (modalities, tasks, …) are Python lists in object columns. In ``results``, ``value`` and
the uncertainty columns are normalised to fractions for proportion metrics; ``value_reported`` and ``unit``
keep what the source printed. A result's ``modality`` and ``anatomy`` are its own (set on the result, read from
its source row) or, when its dataset has exactly one, the dataset's; a result on a dataset of several modalities
with none of its own has none, and matches no modality filter. (Paired non-image modalities, such as the reports
of a chest X-ray dataset, do not count: see ``vocab.PAIRED_MODALITIES``.) ``aggregate`` (the kind: mean, median …)
and ``aggregate_over`` mark a result that combines others of its source; ``doubt`` says why a value may be wrong.

Every function that takes ids from a user checks them first with :func:`check_ids`, so a misspelt id is an
error with a suggestion, not an empty answer.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from . import schema, vocab
from .errors import QueryError
from .store import RawCatalog, read_valid

MODEL_COLUMNS = [
    "id", "name", "paper", "year", "organisation", "family", "band", "model_group", "architecture", "backbone",
    "base_model", "parameters", "modalities", "anatomy", "tasks", "paradigm", "pretraining_datasets",
    "pretraining_images", "pretraining_pairs", "adaptation", "code", "licence", "open_weights", "hf_repo",
    "weights_format", "gated", "source_url", "source_locator", "file",
]
DATASET_COLUMNS = [
    "id", "name", "modalities", "anatomy", "tasks", "dimensionality", "images", "volumes", "slides", "videos",
    "patients", "studies", "pairs", "questions", "masks", "classes", "year", "paper", "url", "licence", "access",
    "source_url", "source_locator", "file",
]
PAPER_COLUMNS = ["id", "title", "authors", "year", "venue", "arxiv", "doi", "url", "kind", "file"]
RESULT_COLUMNS = [
    "id", "model", "dataset", "subset", "modality", "anatomy", "task", "metric", "value", "value_reported", "unit",
    "split", "setting", "shots", "prompt", "prompt_count", "condition", "aggregate", "aggregate_over", "doubt", "n",
    "n_positive", "n_negative", "sd", "se", "ci_low", "ci_high", "ci_level", "uncertainty_over", "runs", "locator",
    "source_paper", "source_url", "source_document", "reported_by", "tolerance", "note", "file",
]
ID_KINDS = {"model": "models", "dataset": "datasets", "paper": "papers", "source": "papers", "result": "results",
            "entry": None}


def _first_source(rec) -> tuple[str | None, str | None]:
    if rec.sources:
        return rec.sources[0].url, rec.sources[0].locator
    return None, None


def model_row(m: schema.Model, file: str) -> dict[str, Any]:
    pre = m.pretraining or schema.Pretraining()
    hf = next((c for c in m.checkpoints if c.hub == "huggingface"), None)
    first = m.checkpoints[0] if m.checkpoints else None
    url, loc = _first_source(m)
    open_weights = m.open_weights if m.open_weights is not None else (bool(m.checkpoints) or None)
    return {
        "id": m.id, "name": m.name, "paper": m.paper, "year": m.year, "organisation": m.organisation,
        "family": m.family, "band": m.band, "model_group": m.model_group, "architecture": m.architecture,
        "backbone": m.backbone, "base_model": m.base_model, "parameters": m.parameters,
        "modalities": list(m.modalities), "anatomy": list(m.anatomy), "tasks": list(m.tasks),
        "paradigm": list(pre.paradigm), "pretraining_datasets": list(pre.datasets),
        "pretraining_images": pre.images, "pretraining_pairs": pre.pairs, "adaptation": list(m.adaptation),
        "code": m.code, "licence": m.licence, "open_weights": open_weights,
        "hf_repo": hf.repo_id if hf else None, "weights_format": first.format if first else None,
        "gated": first.gated if first else None, "source_url": url, "source_locator": loc, "file": file,
    }


def dataset_row(d: schema.Dataset, file: str) -> dict[str, Any]:
    size = d.size or schema.DatasetSize()
    url, loc = _first_source(d)
    row = {
        "id": d.id, "name": d.name, "modalities": list(d.modalities), "anatomy": list(d.anatomy),
        "tasks": list(d.tasks), "dimensionality": d.dimensionality,
    }
    row.update({k: getattr(size, k) for k in schema.DatasetSize.model_fields})
    row.update({
        "classes": d.classes, "year": d.year, "paper": d.paper, "url": d.url, "licence": d.licence,
        "access": d.access, "source_url": url, "source_locator": loc, "file": file,
    })
    return row


def paper_row(p: schema.Paper, file: str) -> dict[str, Any]:
    return {
        "id": p.id, "title": p.title, "authors": list(p.authors), "year": p.year, "venue": p.venue,
        "arxiv": p.arxiv, "doi": p.doi, "url": p.url, "kind": p.kind, "file": file,
    }


EXTRACTION_COLUMNS = ["id", "title", "year", "kind", *schema.EXTRACTION_FIELDS,
                      *(f"{f}_from" for f in schema.EXTRACTION_FIELDS), "file"]
_LIST_URL = re.compile(r"github\.com/(YichiZhang98/SAM4MIS|[^/]+/[^/]*awesome[^/]*)(/|$)", re.I)
_SCALAR_FIELDS = ("family", "band", "model_group")


def evidence_kind(ev: schema.Evidence) -> str:
    """'paper' or 'list': the evidence's own kind, else told by its URL (a SAM4MIS or awesome-list README)."""
    if ev.kind:
        return ev.kind
    return "list" if _LIST_URL.search(ev.url) else "paper"


def extraction_row(p: schema.Paper, file: str) -> dict[str, Any]:
    """One paper as the review's unit of analysis: its extraction fields (lists for modalities, tasks, adaptation,
    datasets; a word or None for family, band, model_group) and for each ``<field>_from``: 'inferred' (in the
    block's inferred list), 'paper' (read in the paper, its README or card), 'list' (only lists give it) or None."""
    row: dict[str, Any] = {"id": p.id, "title": p.title, "year": p.year, "kind": p.kind, "file": file}
    ext = p.extraction
    for f in schema.EXTRACTION_FIELDS:
        value = getattr(ext, f) if ext else None
        if f in _SCALAR_FIELDS:
            row[f] = value
        else:
            row[f] = list(value) if value else []
        if not value:
            row[f"{f}_from"] = None
        elif f in ext.inferred:
            row[f"{f}_from"] = "inferred"
        else:
            kinds = {evidence_kind(ev) for ev in ext.evidence if f in ev.fields}
            row[f"{f}_from"] = "paper" if "paper" in kinds else "list"
    return row


def result_rows(rf: schema.ResultFile, file: str) -> Iterable[dict[str, Any]]:
    src = rf.source
    for r in rf.results:
        scale = 100.0 if r.unit == "percent" else 1.0
        u = r.uncertainty or None

        def norm(x):
            # round away binary noise (81.52 / 100 = 0.8151999999999999); sources print <= 4 decimals
            return None if x is None else round(x / scale, 12)

        yield {
            "id": r.id, "model": r.model, "dataset": r.dataset, "subset": r.subset, "modality": r.modality,
            "anatomy": r.anatomy, "task": r.task, "metric": r.metric, "value": norm(r.value), "value_reported": r.value, "unit": r.unit,
            "split": r.split, "setting": r.setting, "shots": r.shots, "prompt": r.prompt,
            "prompt_count": r.prompt_count, "condition": r.condition,
            "aggregate": r.aggregate.kind if r.aggregate else None,
            "aggregate_over": r.aggregate.over if r.aggregate else None, "doubt": r.doubt, "n": r.n,
            "n_positive": r.n_positive, "n_negative": r.n_negative,
            "sd": norm(u.sd) if u else None, "se": norm(u.se) if u else None,
            "ci_low": norm(u.ci_low) if u else None, "ci_high": norm(u.ci_high) if u else None,
            "ci_level": (u.ci_level or 0.95) if (u and u.ci_low is not None) else None,
            "uncertainty_over": u.over if u else None, "runs": u.runs if u else None,
            "locator": r.locator, "source_paper": src.paper, "source_url": r.url or src.url,
            "source_document": src.url,
            "reported_by": src.reported_by, "tolerance": r.tolerance, "note": r.note, "file": file,
        }


def _frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    df = pd.DataFrame.from_records(rows, columns=columns)
    for col in ("parameters", "pretraining_images", "pretraining_pairs", "year", "shots", "n", "n_positive",
                "n_negative", "classes", "images", "volumes", "slides", "videos", "patients", "studies", "pairs",
                "questions", "masks", "runs"):
        if col in df.columns:
            df[col] = df[col].astype("Int64")
    return df


class Catalog:
    """A validated catalog: typed records plus DataFrame views."""

    def __init__(self, raw: RawCatalog):
        self.raw = raw
        self.root: Path = raw.root

    # ---- records
    def record(self, id_: str):
        for store in (self.raw.models, self.raw.datasets, self.raw.papers):
            if id_ in store:
                return store[id_].record
        for e in self.raw.result_files:
            for r in e.record.results:
                if r.id == id_:
                    return r
        return None

    # ---- frames
    @cached_property
    def papers(self) -> pd.DataFrame:
        return _frame([paper_row(e.record, e.file) for e in self.raw.papers.values()], PAPER_COLUMNS)

    @cached_property
    def extraction(self) -> pd.DataFrame:
        """Papers as units of analysis: one row per paper with its extraction columns (see :func:`papers_frame`)."""
        return _frame([extraction_row(e.record, e.file) for e in self.raw.papers.values()], EXTRACTION_COLUMNS)

    @cached_property
    def models(self) -> pd.DataFrame:
        return _frame([model_row(e.record, e.file) for e in self.raw.models.values()], MODEL_COLUMNS)

    @cached_property
    def datasets(self) -> pd.DataFrame:
        return _frame([dataset_row(e.record, e.file) for e in self.raw.datasets.values()], DATASET_COLUMNS)

    @cached_property
    def results(self) -> pd.DataFrame:
        rows = [row for e in self.raw.result_files for row in result_rows(e.record, e.file)]
        only_modality, only_anatomy = {}, {}
        for id_, e in self.raw.datasets.items():
            images = [m for m in e.record.modalities if m not in vocab.PAIRED_MODALITIES] or list(e.record.modalities)
            only_modality[id_] = images[0] if len(images) == 1 else None
            only_anatomy[id_] = e.record.anatomy[0] if len(e.record.anatomy) == 1 else None
        for row in rows:
            if row["modality"] is None:
                row["modality"] = only_modality.get(row["dataset"])
            if row["anatomy"] is None:
                row["anatomy"] = only_anatomy.get(row["dataset"])
        return _frame(rows, RESULT_COLUMNS)

    # ---- ids
    def ids(self, kind: str) -> list[str]:
        """Every id of one kind: model, dataset, paper (or source), result, or entry (any)."""
        if kind not in ID_KINDS:
            raise QueryError(f"unknown id kind {kind!r}; expected one of: {', '.join(ID_KINDS)}")
        store = ID_KINDS[kind]
        if store == "results":
            return [r.id for e in self.raw.result_files for r in e.record.results]
        if store is None:
            return [*self.raw.models, *self.raw.datasets, *self.raw.papers, *self.ids("result")]
        return list(getattr(self.raw, store))

    # ---- filters
    def models_where(self, *, modality=None, task=None, family=None, band=None, model_group=None, since=None,
                     until=None, open_weights=None, organisation=None, text=None) -> pd.DataFrame:
        df = self.models
        mask = _year_mask(df, since, until)
        mask &= _list_mask(df, "modalities", "modality", modality)
        mask &= _list_mask(df, "tasks", "task", task)
        mask &= _word_mask(df, "family", "family", family)
        mask &= _word_mask(df, "band", "band", band)
        mask &= _word_mask(df, "model_group", "model_group", model_group)
        if open_weights is not None:
            mask &= df["open_weights"].fillna(False).astype(bool) == bool(open_weights)
        if organisation:
            mask &= df["organisation"].fillna("").str.contains(organisation, case=False, regex=False)
        if text:
            mask &= _text_mask(df, text, ["id", "name", "architecture", "backbone", "organisation"])
        return df[mask].reset_index(drop=True)

    def datasets_where(self, *, modality=None, task=None, dimensionality=None, access=None, since=None,
                       until=None, text=None) -> pd.DataFrame:
        df = self.datasets
        mask = _year_mask(df, since, until)
        mask &= _list_mask(df, "modalities", "modality", modality)
        mask &= _list_mask(df, "tasks", "task", task)
        mask &= _word_mask(df, "dimensionality", "dimensionality", dimensionality)
        mask &= _word_mask(df, "access", "access", access)
        if text:
            mask &= _text_mask(df, text, ["id", "name"])
        return df[mask].reset_index(drop=True)

    def papers_where(self, *, kind=None, since=None, until=None, text=None) -> pd.DataFrame:
        df = self.papers
        mask = _year_mask(df, since, until)
        mask &= _word_mask(df, "kind", "paper_kind", kind)
        if text:
            mask &= _text_mask(df, text, ["id", "title", "venue"])
        return df[mask].reset_index(drop=True)

    def results_where(self, *, model=None, dataset=None, metric=None, setting=None, task=None, prompt=None,
                      prompt_count=None, condition=None, source=None, reported_by=None, modality=None,
                      anatomy=None, include_doubtful: bool = True, include_aggregates: bool = True) -> pd.DataFrame:
        """Results matching every filter given (comma-separated values or lists: any of them).

        ``model``, ``dataset`` and ``source`` (a paper id) are checked with :func:`check_ids`: an unknown id
        raises :class:`UnknownIdError`. ``modality``, ``anatomy`` and ``task`` match the result's own value (the
        dataset's where it has only one; see the module docstring): a result on a multi-modality dataset that
        does not name its own modality matches no modality. ``include_doubtful=False`` leaves out results with a
        ``doubt``; ``include_aggregates=False`` leaves out results marked ``aggregate`` (so that a mean is not
        pooled with its parts). Both default to True: listings show everything, marked.
        """
        check_ids(self, "model", model)
        check_ids(self, "dataset", dataset)
        check_ids(self, "source", source)
        df = self.results
        mask = pd.Series(True, index=df.index)
        mask &= _in(df, "model", model)
        mask &= _in(df, "dataset", dataset)
        mask &= _in(df, "source_paper", source)
        mask &= _word_mask(df, "metric", "metric", metric)
        mask &= _word_mask(df, "setting", "setting", setting)
        mask &= _word_mask(df, "task", "task", task)
        mask &= _word_mask(df, "prompt", "prompt", prompt)
        if prompt_count is not None:
            mask &= df["prompt_count"] == int(prompt_count)
        if condition is not None:
            mask &= df["condition"].fillna("") == condition
        mask &= _word_mask(df, "reported_by", "reported_by", reported_by)
        mask &= _word_mask(df, "modality", "modality", modality)
        wanted = {a.lower() for a in _as_list(anatomy)}
        if wanted:
            mask &= df["anatomy"].map(lambda a: isinstance(a, str) and a.lower() in wanted).astype(bool)
        if not include_doubtful:
            mask &= df["doubt"].isna()
        if not include_aggregates:
            mask &= df["aggregate"].isna()
        return df[mask].reset_index(drop=True)


class UnknownIdError(QueryError):
    """An id a user gave is not in the catalog; the message names the kind and suggests close ids."""

    def __init__(self, kind: str, unknown: list[str], hints: dict[str, list[str]]):
        self.kind, self.unknown, self.hints = kind, unknown, hints
        what = {"source": "source paper", "entry": "entry"}.get(kind, kind)
        parts = []
        for u in unknown:
            h = hints.get(u) or []
            parts.append(f"no {what} {u!r} in the catalog"
                         + (f"; did you mean {' or '.join(repr(x) for x in h)}?" if h else ""))
        super().__init__("; ".join(parts))


def check_ids(cat: "Catalog", kind: str, ids) -> list[str]:
    """The ids given (a comma-separated string or a list), checked against the catalog.

    ``kind`` is ``model``, ``dataset``, ``paper`` (or ``source``: a results file's paper), ``result`` or
    ``entry`` (any kind, as ``fmreview show ID`` takes). Returns the ids as a list ([] for None); raises
    :class:`UnknownIdError` (a ``ValueError``) for every id not in the catalog, e.g.
    ``no model 'medsm' in the catalog; did you mean 'medsam'?`` (suggestions from :mod:`difflib`).
    """
    import difflib

    wanted = _as_list(ids)
    if not wanted:
        return []
    known = cat.ids(kind)
    have = set(known)
    unknown = [i for i in wanted if i not in have]
    if unknown:
        hints = {u: difflib.get_close_matches(u, known, n=1, cutoff=0.6) for u in unknown}
        raise UnknownIdError(kind, unknown, hints)
    return wanted


def _as_list(v) -> list:
    if v is None:
        return []
    if isinstance(v, str):
        return [x for x in (s.strip() for s in v.split(",")) if x]
    return list(v)


def _year_mask(df: pd.DataFrame, since, until) -> pd.Series:
    mask = pd.Series(True, index=df.index)
    if since is not None:
        mask &= df["year"].fillna(-1) >= int(since)
    if until is not None:
        mask &= df["year"].fillna(10**6) <= int(until)
    return mask


def _list_mask(df, column, vocabulary, wanted) -> pd.Series:
    wanted = _as_list(wanted)
    if not wanted:
        return pd.Series(True, index=df.index)
    words = set(vocab.resolve_many(vocabulary, wanted))
    return df[column].map(lambda xs: bool(words & set(xs))).astype(bool)


def _word_mask(df, column, vocabulary, wanted) -> pd.Series:
    wanted = _as_list(wanted)
    if not wanted:
        return pd.Series(True, index=df.index)
    return df[column].isin(vocab.resolve_many(vocabulary, wanted))


def _in(df, column, wanted) -> pd.Series:
    wanted = _as_list(wanted)
    if not wanted:
        return pd.Series(True, index=df.index)
    return df[column].isin(wanted)


def _text_mask(df, text, columns) -> pd.Series:
    mask = pd.Series(False, index=df.index)
    for c in columns:
        mask |= df[c].fillna("").astype(str).str.contains(text, case=False, regex=False)
    return mask


def papers_frame(cat: "Catalog", *, extracted_only: bool = False) -> pd.DataFrame:
    """The papers with their per-paper extraction: id, title, year, kind, modalities, tasks, family, band,
    model_group, adaptation, datasets and, for each field, ``<field>_from`` (paper | list | inferred | None).
    ``extracted_only`` keeps the papers that carry an extraction block."""
    df = cat.extraction
    if extracted_only:
        has = df[[f"{f}_from" for f in schema.EXTRACTION_FIELDS]].notna().any(axis=1)
        df = df[has]
    return df


def load(root: Path | str | None = None) -> Catalog:
    """Read and validate the catalog at ``root`` ($FMREVIEW_CATALOG or the shipped one by default).

    Raises :class:`~fmreview.catalog.errors.CatalogError` listing every problem when it is not clean.
    """
    return Catalog(read_valid(root))
