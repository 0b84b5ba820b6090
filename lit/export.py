"""Export any subset of a review's records as RIS (rispy), BibTeX (bibtexparser 2) or CSV.

Subsets: every record, the unique records (one per duplicate group), or the records whose final decision at a
stage is a given one (``stage="eligibility", decision="include"``: the included studies). The record id is
the RIS ``ID`` and the BibTeX key, so an export can be matched back to the review.
"""

from __future__ import annotations

import csv
import io
from dataclasses import fields

from .review import DECISIONS, STAGES, Record, Review, ReviewError

FORMATS = ("ris", "bibtex", "csv")
SUBSETS = ("all", "unique")


def select(review: Review, subset: str = "all", stage: str | None = None,
           decision: str | None = None) -> list[Record]:
    """The records of ``subset`` (all | unique), optionally only those whose final decision at ``stage`` is
    ``decision``; sorted by id."""
    if subset not in SUBSETS:
        raise ReviewError(f"unknown subset {subset!r}; expected one of {', '.join(SUBSETS)}")
    if (stage is None) != (decision is None):
        raise ReviewError("--stage and --decision go together (e.g. --stage eligibility --decision include)")
    if stage is not None and stage not in STAGES:
        raise ReviewError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    if decision is not None and decision not in DECISIONS:
        raise ReviewError(f"unknown decision {decision!r}; expected one of {', '.join(DECISIONS)}")
    ids = review.unique_ids() if subset == "unique" else sorted(review.records)
    if stage is not None:
        final = review.final(stage)
        ids = [i for i in ids if i in final and final[i].decision == decision]
    return [review.records[i] for i in ids]


def to_ris(records: list[Record]) -> str:
    import rispy

    entries = []
    for r in records:
        e = {"type_of_reference": "JOUR" if r.venue else "GEN", "id": r.id, "title": r.title}
        if r.authors:
            e["authors"] = list(r.authors)
        if r.year is not None:
            e["year"] = str(r.year)
        if r.venue:
            e["journal_name"] = r.venue
        if r.abstract:
            e["abstract"] = r.abstract
        if r.doi:
            e["doi"] = r.doi
        if r.pmid:
            e["accession_number"] = r.pmid
        urls = [u for u in (r.url, f"https://arxiv.org/abs/{r.arxiv}" if r.arxiv else None) if u]
        if urls:
            e["urls"] = list(dict.fromkeys(urls))
        if r.keywords:
            e["keywords"] = list(r.keywords)
        notes = [f"source: {r.source}"] + ([f"arXiv: {r.arxiv}"] if r.arxiv else [])
        e["notes"] = notes
        entries.append(e)
    return rispy.dumps(entries)


def _brace_safe(value: str) -> str:
    """BibTeX values are written in braces: unbalanced braces would end the value early, so such a value loses
    its braces (balanced ones, e.g. ``{SAM}`` kept capitalised, stay)."""
    depth = 0
    for ch in value:
        depth += ch == "{"
        depth -= ch == "}"
        if depth < 0:
            break
    if depth != 0:
        value = value.replace("{", "").replace("}", "")
    return " ".join(value.split())  # a newline inside a field is legal but diffs badly


def to_bibtex(records: list[Record]) -> str:
    import bibtexparser
    from bibtexparser.model import Entry, Field

    lib = bibtexparser.Library()
    for r in records:
        pairs = [("title", r.title), ("author", " and ".join(r.authors)),
                 ("year", str(r.year) if r.year is not None else ""), ("journal", r.venue or ""),
                 ("doi", r.doi or ""), ("eprint", r.arxiv or ""), ("archiveprefix", "arXiv" if r.arxiv else ""),
                 ("pmid", r.pmid or ""), ("url", r.url or ""), ("abstract", r.abstract),
                 ("keywords", ", ".join(r.keywords)), ("note", f"source: {r.source}")]
        flds = [Field(k, _brace_safe(v)) for k, v in pairs if v]
        lib.add(Entry("article" if r.venue else "misc", r.id, flds))
    return bibtexparser.write_string(lib)


CSV_COLUMNS = [f.name for f in fields(Record)] + ["duplicate_of"]


def to_csv(records: list[Record], duplicate_of: dict[str, str] | None = None) -> str:
    """One row per record with every Record field (lists joined with '; ') and the id its group keeps."""
    duplicate_of = duplicate_of or {}
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in records:
        row = r.to_json()
        row["authors"] = "; ".join(r.authors)
        row["keywords"] = "; ".join(r.keywords)
        row["duplicate_of"] = duplicate_of.get(r.id, "")
        w.writerow({k: "" if row.get(k) is None else row[k] for k in CSV_COLUMNS})
    return buf.getvalue()


def export(review: Review, fmt: str, subset: str = "all", stage: str | None = None,
           decision: str | None = None) -> tuple[str, int]:
    """(text, number of records) of ``fmt`` for the chosen subset."""
    if fmt not in FORMATS:
        raise ReviewError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    records = select(review, subset, stage, decision)
    if fmt == "ris":
        return to_ris(records), len(records)
    if fmt == "bibtex":
        return to_bibtex(records), len(records)
    return to_csv(records, review.duplicate_of()), len(records)
