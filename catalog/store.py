"""Reading a catalog directory into typed records and checking it as a whole.

``read_catalog(root)`` parses every file, validates each against the schema and then checks what no single
file can: duplicate ids, dangling references, files named after the wrong id. It never stops at the first
problem: all of them come back, each with file, line and field. Checks across results (duplicates, and the
warnings: scale, alias rows, unmarked aggregates) live in :mod:`fmreview.catalog.checks`.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from . import checks, schema, yamlio
from .cache import ParseCache
from .errors import CatalogError, Problem

ENV_VAR = "FMREVIEW_CATALOG"
KINDS = ("papers", "models", "datasets", "results", "protocols")


def default_root() -> Path:
    """The catalog directory: $FMREVIEW_CATALOG, else the one shipped inside the package."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    return Path(str(resources.files("fmreview.catalog") / "data"))


@dataclass
class Entry:
    """A validated record and where it came from."""

    record: schema.Strict
    file: str
    line: int | None = None
    positions: list[int] | None = None  # results: index of each kept result in the file's list


@dataclass
class RawCatalog:
    root: Path
    papers: dict[str, Entry] = field(default_factory=dict)
    models: dict[str, Entry] = field(default_factory=dict)
    datasets: dict[str, Entry] = field(default_factory=dict)
    protocols: dict[str, Entry] = field(default_factory=dict)  # protocols/ID.yaml: how results were measured
    result_files: list[Entry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)  # likely mistakes that can be true (catalog.checks)
    invalid_ids: set[str] = field(default_factory=set)  # entries that failed validation (not dangling)


def _files(root: Path, kind: str, problems: list[Problem]) -> list[Path]:
    """YAML files of one kind, sorted; symlinked directories are not followed (no loops)."""
    base = root / kind
    if not base.is_dir():
        return []
    out = []
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if name.startswith("."):
                continue
            if not name.endswith((".yaml", ".yml")):
                problems.append(Problem(yamlio.rel(p, root), None, "", "not a .yaml file; catalog directories hold YAML only"))
                continue
            if p.is_symlink():
                try:
                    p.resolve(strict=True)
                except (OSError, RuntimeError):
                    problems.append(Problem(yamlio.rel(p, root), None, "", "broken or looping symbolic link"))
                    continue
            out.append(p)
    return out


def _loc_text(loc: tuple) -> str:
    parts = []
    for x in loc:
        if isinstance(x, int):
            parts.append(f"[{x}]")
        else:
            parts.append(("." if parts else "") + str(x))
    return "".join(parts)


def _clean_loc(loc: tuple) -> tuple:
    # pydantic inserts validator names ('function-after[...]') into loc for Annotated types
    # and the tags of tagged unions ('tag:block' in a result's inline protocol)
    return tuple(x for x in loc if not (isinstance(x, str) and ("[" in x or x.startswith(("function-", "tag:")))))


def _message(err: dict) -> str:
    t = err["type"]
    if t == "extra_forbidden":
        return "unknown key"
    if t == "missing":
        return "required field is missing"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if "input" in err and t not in ("value_error",) and not isinstance(err["input"], (dict, list)):
        msg += f" (got {err['input']!r})"
    return msg


def _validate(cls, data: dict, path: Path, root: Path, problems: list[Problem]):
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        name = yamlio.rel(path, root)
        for err in e.errors():
            loc = _clean_loc(err["loc"])
            first = _message(err).split(" ", 1)[0]
            if not loc and first in cls.model_fields:  # a whole-entry check: point at the field it names
                loc = (first,)
            problems.append(Problem(name, yamlio.line_of(path, loc), _loc_text(loc), _message(err)))
        return None


def _validate_result_file(data: dict, path: Path, root: Path, problems: list[Problem], invalid_ids: set[str]):
    """Validate a results file item by item, so one bad result does not hide the checks of the others."""
    before = len(problems)
    items = data.get("results")
    if not isinstance(items, list):
        rec = _validate(schema.ResultFile, data, path, root, problems)
        return rec, list(range(len(rec.results))) if rec else []
    head = {k: v for k, v in data.items() if k != "results"}
    head["results"] = [{}]  # placeholder: checked below, one by one
    name = yamlio.rel(path, root)
    try:
        schema.ResultFile.model_validate(head)
    except ValidationError as e:
        for err in e.errors():
            loc = _clean_loc(err["loc"])
            if loc[:1] == ("results",):
                continue
            problems.append(Problem(name, yamlio.line_of(path, loc), _loc_text(loc), _message(err)))
    good, positions = [], []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(Problem(name, yamlio.line_of(path, ["results", i]), f"results[{i}]", "expected a mapping of result fields"))
            continue
        try:
            good.append(schema.Result.model_validate(item))
            positions.append(i)
        except ValidationError as e:
            if isinstance(item.get("id"), str):
                invalid_ids.add(item["id"])
            for err in e.errors():
                loc = ("results", i) + _clean_loc(err["loc"])
                if len(loc) == 2:  # a whole-result check: point at the field it names
                    first = _message(err).split(" ", 1)[0]
                    if first in schema.Result.model_fields:
                        loc = loc + (first,)
                    elif first in schema.Uncertainty.model_fields:
                        loc = loc + ("uncertainty", first)
                problems.append(Problem(name, yamlio.line_of(path, loc), _loc_text(loc), _message(err)))
    if len(problems) > before or not good:
        if not items:
            problems.append(Problem(name, yamlio.line_of(path, ["results"]), "results", "no results in the file"))
        # keep the valid results so references are still checked
        if not good:
            return None, []
    src = head.get("source")
    try:
        source = schema.ResultSource.model_validate(src)
    except ValidationError:
        return None, []
    return schema.ResultFile.model_construct(source=source, results=good), positions


def read_catalog(root: Path | str | None = None) -> RawCatalog:
    # reading allocates millions of small objects and frees none of them: the cyclic collector would walk them
    # again and again for nothing (10,000 results: about half of a cold load), so it pauses meanwhile
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _read_catalog(root)
    finally:
        if enabled:
            gc.enable()


def _read_catalog(root: Path | str | None) -> RawCatalog:
    root = Path(root) if root is not None else default_root()
    if not root.is_dir():
        raise CatalogError([Problem(str(root), None, "", "catalog directory not found")])
    cat = RawCatalog(root=root)
    problems = cat.problems
    cache = ParseCache(root)
    seen_ids: dict[str, str] = {}  # id -> file, across all kinds (``fmreview show ID`` must be unambiguous)

    def claim(id_: str, where: str, line: int | None, fieldname: str = "id"):
        if id_ in seen_ids:
            problems.append(Problem(where, line, fieldname, f"duplicate id {id_!r} (already used in {seen_ids[id_]})"))
            return False
        seen_ids[id_] = where
        return True

    for kind in ("papers", "models", "datasets", "protocols"):
        cls = schema.ENTITIES[kind]
        store: dict[str, Entry] = getattr(cat, kind)
        for path in _files(root, kind, problems):
            data, errs = cache.read(path, root)
            problems.extend(errs)
            if data is None:
                continue
            rec = _validate(cls, data, path, root, problems)
            if rec is None:
                if isinstance(data.get("id"), str):
                    cat.invalid_ids.add(data["id"])
                continue
            name = yamlio.rel(path, root)
            if path.stem != rec.id:
                problems.append(Problem(name, yamlio.line_of(path, ["id"]), "id", f"id {rec.id!r} does not match the file name {path.name!r}"))
            if claim(rec.id, name, yamlio.line_of(path, ["id"]) if rec.id in seen_ids else None):
                store[rec.id] = Entry(rec, name)

    for path in _files(root, "results", problems):
        data, errs = cache.read(path, root)
        problems.extend(errs)
        if data is None:
            continue
        rec, positions = _validate_result_file(data, path, root, problems, cat.invalid_ids)
        if rec is None:
            continue
        name = yamlio.rel(path, root)
        for i, r in zip(positions, rec.results):
            if r.id in seen_ids:
                claim(r.id, name, yamlio.line_of(path, ["results", i, "id"]), f"results[{i}].id")
            else:
                seen_ids[r.id] = name
        cat.result_files.append(Entry(rec, name, positions=positions))

    cache.save()
    _check_references(cat)
    _check_same_paper_twice(cat)
    errors, warnings = checks.check_results(cat)
    cat.problems.extend(errors)
    cat.warnings.extend(warnings)
    return cat


def _check_same_paper_twice(cat: RawCatalog) -> None:
    """Two paper entries with one arXiv id or DOI are one paper entered twice (curators work in parallel)."""
    for attr in ("arxiv", "doi"):
        first: dict[str, Entry] = {}
        for entry in cat.papers.values():
            value = getattr(entry.record, attr)
            if not value:
                continue
            key = str(value).lower()
            if key in first:
                cat.problems.append(Problem(entry.file, yamlio.line_of(cat.root / entry.file, [attr]), attr,
                                            f"{attr} {value} is already the paper {first[key].record.id!r} "
                                            f"({first[key].file}); one paper, one entry"))
            else:
                first[key] = entry


def _check_references(cat: RawCatalog) -> None:
    problems = cat.problems
    root = cat.root

    def dangling(entry: Entry, loc: list, kind: str, target: str, store: dict):
        if target not in store and target not in cat.invalid_ids:
            import difflib

            hint = difflib.get_close_matches(target, list(store), n=2, cutoff=0.6)
            problems.append(
                Problem(
                    entry.file,
                    yamlio.line_of(root / entry.file, loc),
                    _loc_text(tuple(loc)),
                    f"refers to {kind[:-1]} {target!r}, which is not in the catalog"
                    + (f" (did you mean {' or '.join(repr(h) for h in hint)}?)" if hint else ""),
                )
            )

    for e in cat.models.values():
        m = e.record
        if m.paper:
            dangling(e, ["paper"], "papers", m.paper, cat.papers)
        if m.base_model:
            dangling(e, ["base_model"], "models", m.base_model, cat.models)
    for e in cat.datasets.values():
        if e.record.paper:
            dangling(e, ["paper"], "papers", e.record.paper, cat.papers)
    for e in cat.result_files:
        rf = e.record
        dangling(e, ["source", "paper"], "papers", rf.source.paper, cat.papers)
        for i, r in zip(e.positions or range(len(rf.results)), rf.results):
            dangling(e, ["results", i, "model"], "models", r.model, cat.models)
            dangling(e, ["results", i, "dataset"], "datasets", r.dataset, cat.datasets)
            if isinstance(r.protocol, str):
                dangling(e, ["results", i, "protocol"], "protocols", r.protocol, cat.protocols)


def validate(root: Path | str | None = None) -> list[Problem]:
    """Every problem in the catalog at ``root`` (empty list when clean)."""
    try:
        return sorted(read_catalog(root).problems, key=lambda p: (p.file, p.line or 0, p.field))
    except CatalogError as e:
        return e.problems


def check(root: Path | str | None = None) -> tuple[list[Problem], list[Problem]]:
    """(problems, warnings) of the catalog at ``root``: problems make it invalid; warnings are likely mistakes
    that can be true (see :mod:`fmreview.catalog.checks`)."""
    key = lambda p: (p.file, p.line or 0, p.field)
    try:
        raw = read_catalog(root)
    except CatalogError as e:
        return e.problems, []
    return sorted(raw.problems, key=key), sorted(raw.warnings, key=key)


def read_valid(root: Path | str | None = None) -> RawCatalog:
    cat = read_catalog(root)
    if cat.problems:
        raise CatalogError(cat.problems)
    return cat
