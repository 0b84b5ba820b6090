"""The shipped catalog's own review folder (catalog/data/review/), derived from the catalog entries.

    python -m fmreview.lit.catalog_flow            # regenerate catalog/data/review from the catalog
    python -m fmreview.lit.catalog_flow --check    # exit 1 if it is not up to date

The catalog's papers were not found by a database search: its curators identified them in lists (SAM4MIS, the
awesome lists) and in model READMEs. This script records those identifications as PRISMA "other sources",
using only what the entries themselves say:

* one record per paper, its source taken from the paper's ``url`` (the page its entry was read at): a list
  repository gives ``other: <list> list (github.com/OWNER/REPO[ at commit C])``, the commit where the note
  states "at commit C"; any other GitHub or Hugging Face page gives ``other: project READMEs and model cards``;
  any other page ``other: catalog entry (source not recorded)`` (the entry says where it was read, not where
  the paper was found);
* one more record per list that a model or dataset of that paper cites in its ``sources`` (``paper:`` links
  them; the commit from the source's locator), and per list that the paper's own note names, where the note's
  words are listed in ``NOTE_LISTED`` below and are still in the note; a list counts once per paper;
* the records of one paper grouped as duplicates by exact key: the paper's DOI, else its arXiv id, else its
  catalog id (the records of one entry are one paper); the group keeps the paper's own record;
* each unique record included at screening and eligibility by reviewer ``catalog``: every paper in the
  catalog was included by its curators. No exclusions are recorded because the catalog keeps none.

Deterministic: record ids hash the source and the entry text; decision times are 00:00 UTC on 1 January of the
paper's year (no clock is read), so the same catalog gives the same bytes.
"""

from __future__ import annotations

import argparse
import calendar
import re
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlparse


from fmreview.catalog import CatalogError, schema, yamlio
from fmreview.catalog.store import default_root, read_valid

from .review import DECISIONS_FILE, GROUPS, RECORDS, SETTINGS, Decision, Group, Record, Review, ReviewError

FILES = (SETTINGS, RECORDS, GROUPS, DECISIONS_FILE)
REVIEWER = "catalog"
README_SOURCE = "other: project READMEs and model cards (GitHub, Hugging Face)"
UNRECORDED = "other: catalog entry (source not recorded)"

# list repositories, by the name the issue and the entries use for them; any other GitHub repository whose name
# starts with "awesome" is a list too, named owner/repo
LISTS = {
    "yichizhang98/sam4mis": "SAM4MIS",
    "plm2233/awesome-medical-foundation-models": "PLM2233 Awesome-Medical-Foundation-Models",
    "liliu-avril/awesome-segment-anything": "Awesome-Segment-Anything",
    "openmedlab/awesome-medical-dataset": "openmedlab Awesome-Medical-Dataset",
}

# papers whose note says a list names them, with the note's words (looked for at build time, so an edited note
# cannot leave a claim the entry no longer makes). Not here on purpose: autosam-2023, whose note says the
# SAM4MIS row is a different paper.
NOTE_LISTED = {
    "medsam-2024": ("YichiZhang98/SAM4MIS", "arXiv id from the SAM4MIS list"),
    "3dsam-adapter-2023": ("YichiZhang98/SAM4MIS", "year from the SAM4MIS row"),
    "sam-med3d-2024": ("YichiZhang98/SAM4MIS", "SAM4MIS lists a later journal version"),
    "sat-2025": ("YichiZhang98/SAM4MIS", "SAM4MIS lists the arXiv version"),
}

CRITERIA = {
    "include": [
        "Papers of foundation models for medical image analysis: SAM and its medical variants, CLIP-style "
        "vision-language models, pathology / radiology / retina encoders, and medical multimodal LLMs (README.md)",
        "Benchmark, review and dataset papers about those models (catalog/data/README.md: a paper is a method, "
        "benchmark, review or dataset paper)",
        "Papers of the models they were adapted from (catalog/data/README.md: a model's base_model)",
    ],
    "exclude": [],
}
COMMIT_RE = re.compile(r"\bcommit ([0-9a-f]{7,40})\b")


def _repo(url: str) -> str | None:
    u = urlparse(url)
    if u.netloc.lower() not in ("github.com", "www.github.com"):
        return None
    parts = [p for p in u.path.split("/") if p]
    return f"{parts[0]}/{parts[1]}" if len(parts) >= 2 else None  # as the URL spells it


def _list_name(url: str) -> tuple[str, str] | None:
    """(repository as the URL spells it, list name) when ``url`` is a list repository."""
    repo = _repo(url)
    if repo is None:
        return None
    if repo.lower() in LISTS:
        return repo, LISTS[repo.lower()]
    if repo.split("/")[1].lower().startswith("awesome"):
        return repo, repo
    return None


def _list_source(repo: str, name: str, text: str | None) -> str:
    m = COMMIT_RE.search(text or "")
    return f"other: {name} list (github.com/{repo}" + (f" at commit {m.group(1)}" if m else "") + ")"


def _primary_source(paper) -> str:
    hit = _list_name(paper.url)
    if hit:
        return _list_source(*hit, paper.note)
    host = urlparse(paper.url).netloc.lower()
    if host in ("github.com", "www.github.com", "huggingface.co"):
        return README_SOURCE
    return UNRECORDED


def _record(paper, source: str, file: str, line: int | None, raw: str) -> Record:
    return Record(id=Record.make_id(source, raw), source=source, title=paper.title, authors=list(paper.authors),
                  year=paper.year, venue=paper.venue, doi=paper.doi, arxiv=paper.arxiv, url=paper.url, file=file,
                  line=line, raw=raw)


def identifications(root: Path) -> tuple[list[Record], list[Group]]:
    """Every record the catalog entries support and the duplicate groups (see the module docstring)."""
    cat = read_valid(root)
    cited: dict[str, list[tuple[str, str, int | None, str]]] = {}  # paper id -> (source, file, line, raw)
    for kind in ("models", "datasets"):
        for eid, entry in sorted(getattr(cat, kind).items()):
            rec = entry.record
            if not rec.paper or rec.paper not in cat.papers:
                continue
            for i, s in enumerate(rec.sources):
                hit = _list_name(s.url)
                if hit:
                    raw = yamlio.dumps({kind[:-1]: eid, "source": {"url": s.url, "locator": s.locator}})
                    cited.setdefault(rec.paper, []).append(
                        (_list_source(*hit, s.locator), entry.file, yamlio.line_of(root / entry.file, ["sources", i]),
                         raw))
    records, groups = [], []
    for pid, entry in sorted(cat.papers.items()):
        paper = entry.record
        raw = yamlio.dumps(yamlio.canonical_order(paper.model_dump(exclude_none=True), schema.Paper))
        mine = [_record(paper, _primary_source(paper), entry.file, 1, raw)]
        extra = list(cited.get(pid, []))
        repo, words = NOTE_LISTED.get(pid, (None, None))
        if words and words in (paper.note or ""):  # an entry whose note no longer says it is not listed there
            extra.append((_list_source(repo, LISTS[repo.lower()], None), entry.file, yamlio.line_of(root / entry.file,
                                                                                             ["note"]), raw))
        seen = {mine[0].source}
        for source, file, line, text in sorted(extra, key=lambda t: (t[0], t[1], t[2] or 0)):
            base = source.split(" at commit ")[0].rstrip(")").lower()
            if any(s.split(" at commit ")[0].rstrip(")").lower() == base for s in seen):
                continue  # a list counts once per paper, whichever commit each mention names
            seen.add(source)
            mine.append(_record(paper, source, file, line, text))
        records.extend(mine)
        if len(mine) > 1:
            reason = (f"same DOI {paper.doi}" if paper.doi else f"same arXiv id {paper.arxiv}" if paper.arxiv
                      else f"same catalog entry {pid} (no DOI or arXiv id)")
            groups.append(Group(keep=mine[0].id, members=[r.id for r in mine], reason=reason))
    return records, groups


def build(root: Path | str | None = None) -> dict[str, bytes]:
    """The review folder's files (name -> bytes) for the catalog at ``root``."""
    root = Path(root) if root else default_root()
    records, groups = identifications(root)
    with tempfile.TemporaryDirectory() as tmp:
        rv = Review.create(Path(tmp) / "review")
        rv.settings.update({
            "title": "The fmreview catalog: foundation models for medical image analysis",
            "criteria": CRITERIA,
            "reviewers": [REVIEWER],
            "searches": [{"source": s, "query": None, "date": None, "file": None,
                          "records": sum(r.source == s for r in records),
                          "note": "not a database search: papers identified in this source by the catalog's "
                                  "curators, as the catalog entries record"}
                         for s in sorted({r.source for r in records})],
            "generated_by": "python -m fmreview.lit.catalog_flow (do not edit by hand)",
        })
        rv.save_settings()
        rv.add_records(records)
        rv.save_groups(groups)
        by_id = {r.id: r for r in records}
        decisions = []
        for rid in rv.unique_ids():
            t = float(calendar.timegm((by_id[rid].year, 1, 1, 0, 0, 0)))
            for stage in ("screening", "eligibility"):
                decisions.append(Decision(rid, stage, "include", reviewer=REVIEWER, time=t,
                                          note="in the catalog: included by its curators"))
        rv.decide_many(decisions)
        return {name: (rv.root / name).read_bytes() if (rv.root / name).exists() else b"" for name in FILES}


def write(root: Path | str | None = None) -> Path:
    """Regenerate ``root``/review (each file atomically); returns the folder."""
    root = Path(root) if root else default_root()
    files = build(root)
    out = root / "review"
    for name, data in files.items():
        yamlio.write_bytes_atomic(out / name, data)
    return out


def stale(root: Path | str | None = None) -> list[str]:
    """Files of ``root``/review that differ from what the catalog gives (empty when up to date)."""
    root = Path(root) if root else default_root()
    files = build(root)
    return [n for n, data in files.items() if not (root / "review" / n).exists()
            or (root / "review" / n).read_bytes() != data]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fmreview.lit.catalog_flow", description=__doc__.split("\n\n")[0])
    ap.add_argument("--catalog", metavar="DIR", help="catalog directory (default: the shipped one)")
    ap.add_argument("--check", action="store_true", help="exit 1 if the review folder is not up to date")
    args = ap.parse_args(argv)
    try:
        if args.check:
            bad = stale(args.catalog)
            if bad:
                print(f"catalog review folder out of date ({', '.join(bad)}); run: python -m fmreview.lit.catalog_flow",
                      file=sys.stderr)
                return 1
            print("catalog review folder up to date")
            return 0
        out = write(args.catalog)
    except (ReviewError, ValueError, CatalogError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
