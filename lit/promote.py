"""Included studies reach the catalog: one ``papers/<id>.yaml`` per included record, in the catalog's schema and
canonical form (written by the catalog's own writer, atomically).

A record whose DOI or arXiv id is already a catalog paper is reported as already there and not written again;
an existing file is never overwritten. After writing, the whole catalog is validated; if it has a problem, every
file this run wrote is removed again, so the catalog is as it was.

Paper ids follow the catalog's convention (catalog/data/README.md: "first model/author + year"): a title of the
form ``Name: subtitle`` with a short name gives ``name-year`` (``medsam-2024``); otherwise the first author's
surname, the year and the first three significant title words (``albelda-2024-sam-mp-mri``). An id taken by any
catalog entry gets ``-2``, ``-3`` … (``autosam-2023-2``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from fmreview.catalog import schema, yamlio
from fmreview.catalog.store import default_root, read_catalog

from .prisma import included_ids
from .review import Record, Review, ReviewError

STOP = {"a", "an", "and", "are", "as", "at", "by", "for", "from", "in", "into", "is", "of", "on", "or", "the",
        "to", "via", "with", "towards", "toward", "using", "we", "do", "does", "can"}


@dataclass
class Promotion:
    written: list[tuple[str, str, Path]] = field(default_factory=list)  # (record id, paper id, path)
    already: list[tuple[str, str, str]] = field(default_factory=list)   # (record id, paper id, "doi …"/"arXiv …")
    dry_run: bool = False


def _slug(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9]+", "-", text)).strip("-")


def paper_id(r: Record, taken: set[str]) -> str:
    """The catalog id for record ``r`` (see the module docstring), not in ``taken``."""
    if r.year is None:
        raise ReviewError(f"record {r.id}: no year; a catalog paper needs one (papers are named name-year)")
    head, sep, _ = r.title.partition(":")
    if sep and 1 <= len(head.split()) <= 2 and _slug(head):
        base = f"{_slug(head)}-{r.year}"
    else:
        surname = _slug(r.authors[0].split(",")[0].split()[-1]) if r.authors and "," in r.authors[0] else (
            _slug(r.authors[0].split()[-1]) if r.authors else "")
        words = [w for w in _slug(r.title).split("-") if w and w not in STOP][:3]
        base = "-".join(filter(None, [surname or (words[0] if words else "paper"), str(r.year), *words]))
    base = base[:60].strip("-")
    pid, n = base, 2
    while pid in taken:
        pid, n = f"{base}-{n}", n + 1
    return pid


def _paper(r: Record, pid: str, review: Review) -> dict:
    if not r.authors:
        raise ReviewError(f"record {r.id} ({r.title[:60]!r}): no authors; a catalog paper needs at least one")
    url = r.url or (f"https://doi.org/{r.doi}" if r.doi else None) or (
        f"https://arxiv.org/abs/{r.arxiv}" if r.arxiv else None)
    if not url:
        raise ReviewError(f"record {r.id} ({r.title[:60]!r}): no URL, DOI or arXiv id; a catalog paper records the "
                          "page that was read")
    where = f"{r.file}, line {r.line}" if r.file and r.line else (r.file or "no file recorded")
    data = {"id": pid, "title": r.title, "authors": list(r.authors), "year": r.year, "venue": r.venue,
            "arxiv": r.arxiv, "doi": r.doi, "url": url,
            # kind is not decided by screening: the schema's default (method) applies until a curator sets it
            "note": f"Promoted from the review {review.settings.get('title') or review.root.name!r}: record {r.id}, "
                    f"identified in {r.source} ({where}); included at screening and eligibility. Kind not yet "
                    "assessed."}
    return yamlio.canonical_order({k: v for k, v in data.items() if v is not None}, schema.Paper)


def promote(review: Review, catalog: Path | str | None = None, dry_run: bool = False) -> Promotion:
    """Write a catalog paper for every included record not already in the catalog (see the module docstring)."""
    root = Path(catalog) if catalog else default_root()
    if not (root / "papers").is_dir():
        raise ReviewError(f"{root}: not a catalog directory (no papers/)")
    before = read_catalog(root)
    if before.problems:  # a catalog already invalid cannot tell us whether our papers broke it
        raise ReviewError(f"{root}: the catalog has {len(before.problems)} problem(s) before promotion "
                          f"(first: {before.problems[0]}); fix them with fmreview catalog validate first")
    taken = set(before.papers) | set(before.models) | set(before.datasets)
    by_key = {}
    for pid, e in before.papers.items():
        if e.record.doi:
            by_key[("doi", e.record.doi.lower())] = pid
        if e.record.arxiv:
            by_key[("arXiv", e.record.arxiv.lower())] = pid
    result = Promotion(dry_run=dry_run)
    planned: list[tuple[str, str, Path, str]] = []
    for rid in included_ids(review):
        r = review.records[rid]
        hit = next(((kind, v, by_key[(kind, v.lower())]) for kind, v in (("doi", r.doi), ("arXiv", r.arxiv))
                    if v and (kind, v.lower()) in by_key), None)
        if hit:
            result.already.append((rid, hit[2], f"{hit[0]} {hit[1]}"))
            continue
        pid = paper_id(r, taken)
        path = root / "papers" / f"{pid}.yaml"
        if path.exists():  # a file that failed to load still holds someone's work: never overwrite it
            raise ReviewError(f"{path} exists but is not a loaded paper; not overwriting it")
        taken.add(pid)
        data = _paper(r, pid, review)
        for kind, v in (("doi", r.doi), ("arXiv", r.arxiv)):
            if v:  # two included records of one paper that dedup did not group: promote the first only
                by_key[(kind, v.lower())] = pid
        planned.append((rid, pid, path, yamlio.dumps(data)))
    if dry_run:
        result.written = [(rid, pid, path) for rid, pid, path, _ in planned]
        return result
    written: list[Path] = []
    try:
        for rid, pid, path, text in planned:
            yamlio.write_atomic(path, text)
            written.append(path)
            result.written.append((rid, pid, path))
        after = read_catalog(root)
        if after.problems:
            raise ReviewError(f"the catalog does not validate after promotion ({len(after.problems)} problem(s); "
                              f"first: {after.problems[0]}); nothing was written")
    except BaseException:
        for path in written:  # roll back: the catalog is as it was
            path.unlink(missing_ok=True)
        raise
    return result
