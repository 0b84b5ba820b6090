"""Reading search exports into :class:`~fmreview.lit.review.Record` s: RIS, BibTeX, PubMed MEDLINE (.nbib),
CSV/TSV (ASReview's column names), OpenAlex JSON and arXiv Atom.

Every reader returns ``(records, warnings)``. Each record keeps the database it came from (``source``), its own
text in the file (``raw``), the file name and the 1-based line where it starts; its id is content-addressed
(:meth:`Record.make_id`), so reading the same file again gives the same ids. A problem that would make a record
wrong (no title, a broken file) raises :class:`ReviewError` naming file and line; a vendor quirk that is read
correctly anyway is a warning naming file and line. :func:`read_file` validates a whole file before anything is
added, so a bad file leaves the review as it was.

Quirks handled (each warned about): a UTF-8 byte-order mark (EndNote writes one); Embase's RIS tags (``T1``
title, ``JF`` journal, ``Y1`` year, ``N2`` abstract); a line starting with ``ER`` that is text, not the end of a
record (only ``ER  -`` ends one); Web of Science RIS with repeated tags and untagged continuation lines;
duplicate BibTeX keys (both records are kept). Web of Science's own plain-text export (``FN``/``PT``/``ER``, one
author per line) is read as well.
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import rispy

from fmreview.lit.review import Record, ReviewError

FORMATS = ("ris", "bibtex", "medline", "wos", "csv", "tsv", "openalex", "arxiv")
EXTENSIONS = {".ris": "ris", ".bib": "bibtex", ".bibtex": "bibtex", ".nbib": "medline", ".medline": "medline",
              ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".json": "openalex", ".atom": "arxiv", ".xml": "arxiv"}


class NoTitle(ReviewError):
    """A record without a title: an error in a file; skipped (with a warning) in a search answer."""


@dataclass
class Parsed:
    """What a reader found in one file."""
    records: list[Record] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    format: str = ""


# ---------------------------------------------------------------- shared helpers
def _year(text) -> int | None:
    m = re.search(r"(1[89]\d\d|20\d\d|21\d\d)", str(text or ""))
    return int(m.group(1)) if m else None


def _space(text: str | None) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


_ARXIV_URL = re.compile(r"arxiv\.org/(?:abs|pdf)/([a-z\-]+(?:\.[A-Z]{2})?/\d{7}|\d{4}\.\d{4,5})(?:v\d+)?", re.I)
_ARXIV_DOI = re.compile(r"10\.48550/arxiv\.(.+)$", re.I)


def arxiv_id(text: str | None) -> str | None:
    """The arXiv identifier without its version from an id, ``arXiv:…``, an abs/pdf URL or a 10.48550 DOI."""
    if not text:
        return None
    t = str(text).strip()
    m = _ARXIV_URL.search(t)
    if m:
        return m.group(1)
    m = _ARXIV_DOI.search(t)
    if m:
        t = m.group(1)
    t = re.sub(r"^arxiv:\s*", "", t, flags=re.I)
    m = re.fullmatch(r"(\d{4}\.\d{4,5}|[a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?", t, flags=re.I)
    return m.group(1) if m else None


def clean_doi(text: str | None) -> str | None:
    """A DOI as written in exports (``https://doi.org/…``, ``doi:…``, trailing ``[doi]``) → ``10.…``, case kept."""
    if not text:
        return None
    t = re.sub(r"\s*\[doi\]\s*$", "", str(text).strip(), flags=re.I)
    t = re.sub(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", "", t, flags=re.I).strip().rstrip(".")
    return t if t.startswith("10.") else None


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _record(source: str, raw: str, file: str, line: int, **fields) -> Record:
    title = _space(fields.pop("title", ""))
    if not title:
        raise NoTitle(f"{file}:{line}: record has no title (expected a non-empty title field); "
                          "fix the export or remove the record")
    return Record(id=Record.make_id(source, raw), source=source, title=title, file=file, line=line, raw=raw,
                  **fields)


# ---------------------------------------------------------------- reading bytes
def decode(data: bytes, file: str) -> tuple[str, list[str]]:
    """Bytes → text as UTF-8, a byte-order mark removed (with a warning); broken UTF-8 is an error naming the
    line and byte, since guessing another encoding would silently change titles."""
    warnings = []
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        warnings.append(f"{file}:1: UTF-8 byte-order mark (as EndNote writes) removed")
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ReviewError(f"{file}:1: file is UTF-16 (byte-order mark {data[:2].hex()}); expected UTF-8 — "
                          "re-export as UTF-8 or convert with: iconv -f UTF-16 -t UTF-8")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise ReviewError(f"{file}:{line}: not UTF-8 (byte 0x{data[e.start]:02x} at column {col}: {e.reason}); "
                          "expected UTF-8 — re-export as UTF-8, or convert e.g. with: iconv -f latin1 -t UTF-8"
                          ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n"), warnings


_RIS_TAG = re.compile(r"^([A-Z][A-Z0-9])  -(?: (.*))?$")
_MEDLINE_TAG = re.compile(r"^([A-Z][A-Z0-9]{1,3}) {0,3}- (.*)$")


def sniff(text: str, name: str) -> str:
    """The format of a file: by its content first (exports are often misnamed ``.txt``), the extension second."""
    head = text.lstrip()[:4000]
    ext = EXTENSIONS.get(Path(name).suffix.lower())
    if head.startswith("{") or head.startswith("["):
        return "openalex"
    if head.startswith("<"):
        if "<feed" in head or "<entry" in head:
            return "arxiv"
        raise ReviewError(f"{name}:1: XML that is not an Atom feed (expected <feed> with <entry> elements, "
                          "as arXiv's API returns)")
    lines = head.splitlines()
    if any(line.startswith("PMID-") for line in lines[:5]):
        return "medline"
    if any(_RIS_TAG.match(line) and line.startswith("TY") for line in lines):
        return "ris"
    if lines and (lines[0].startswith("FN ") or any(re.match(r"^PT [A-Z]\s*$", x) for x in lines[:5])):
        return "wos"
    if re.search(r"^\s*@\s*[A-Za-z]+\s*[{(]", head, re.M):
        return "bibtex"
    if ext in ("csv", "tsv") or (lines and _csv_columns(lines[0])):
        return "tsv" if (ext == "tsv" or (lines and lines[0].count("\t") > lines[0].count(","))) else "csv"
    raise ReviewError(f"{name}:1: unknown format (expected RIS, BibTeX, PubMed MEDLINE/.nbib, CSV/TSV with a "
                      "title column, OpenAlex JSON or arXiv Atom); first line: " + repr((lines or [""])[0][:60]))


def read_file(path: Path | str, source: str, fmt: str | None = None, name: str | None = None) -> Parsed:
    """Read one export completely (every record validated) and return its records and warnings."""
    path = Path(path)
    name = name or path.name
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ReviewError(f"{name}: cannot read ({e.strerror})") from None
    return read_bytes(data, source, name, fmt)


def read_bytes(data: bytes, source: str, name: str, fmt: str | None = None, skip_untitled: bool = False) -> Parsed:
    """Like :func:`read_file` on bytes already read. ``skip_untitled`` (for search answers, where the database
    holds some works without a title) skips those with a warning instead of refusing the file."""
    text, warnings = decode(data, name)
    if not text.strip():
        raise ReviewError(f"{name}:1: empty file (expected at least one record)")
    fmt = fmt or sniff(text, name)
    if fmt not in READERS:
        raise ReviewError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    parsed = READERS[fmt](text, source, name, skip_untitled) if skip_untitled else READERS[fmt](text, source, name)
    parsed.warnings[:0] = warnings
    parsed.format = fmt
    if not parsed.records:
        raise ReviewError(f"{name}:1: no records found in this {fmt} file")
    return parsed


def _untitled(out: Parsed, skip: bool, make):
    try:
        return make()
    except NoTitle as e:
        if not skip:
            raise
        out.warnings.append(f"{e} — skipped")
        return None


# ---------------------------------------------------------------- RIS
# RIS tag → field, first tag present wins. Embase and Reference Manager write the older T1/JF/Y1/N2 tags.
_RIS_FIELDS = {
    "title": ("TI", "T1", "CT", "BT"),
    "abstract": ("AB", "N2"),
    "year": ("PY", "Y1", "DA", "Y2"),
    "venue": ("T2", "JF", "JO", "JA", "J2", "J1", "BT"),
    "doi": ("DO", "M3", "N1"),
}
_EMBASE_TAGS = {"T1", "JF", "Y1", "N2"}


def read_ris(text: str, source: str, file: str) -> Parsed:
    """RIS: records from ``TY  -`` to ``ER  -``. Lines are tokenised here (rispy does not keep line numbers or
    raw text); rispy's tag table says which tags repeat (authors, keywords, URLs)."""
    out = Parsed()
    lines = text.split("\n")
    start = None
    tags: list[tuple[str, str, int]] = []
    quirks: dict[str, list[int]] = {}

    def finish(end: int) -> None:
        raw = "\n".join(lines[start - 1:end]).strip("\n")
        out.records.append(_ris_record(tags, raw, source, file, start, quirks))

    for n, line in enumerate(lines, 1):
        m = _RIS_TAG.match(line.rstrip())
        if m:
            tag, value = m.group(1), (m.group(2) or "").strip()
            if tag == "TY":
                if start is not None:
                    raise ReviewError(f"{file}:{n}: TY (a new record) before the ER that ends the record begun "
                                      f"at line {start}; expected 'ER  -' to close each record")
                start, tags = n, []
            elif start is None:
                if tag == "ER" or not value:
                    continue
                raise ReviewError(f"{file}:{n}: tag {tag} outside a record; expected 'TY  - ' to start one")
            if tag == "ER":
                finish(n)
                start = None
                continue
            tags.append((tag, value, n))
        elif start is not None and line.strip():
            # An untagged line continues the previous field (Web of Science wraps long fields this way). A line
            # like "ER stress …" is such text: only "ER  -" ends a record.
            if re.match(r"^\s*ER\b", line):
                quirks.setdefault("'ER' at the start of a text line taken as text (only 'ER  -' ends a record)",
                                  []).append(n)
            else:
                quirks.setdefault("untagged continuation lines joined to the field above (Web of Science)",
                                  []).append(n)
            if tags:
                t, v, ln = tags[-1]
                tags[-1] = (t, f"{v} {line.strip()}".strip(), ln)
        elif line.strip():
            raise ReviewError(f"{file}:{n}: text outside a record: {line.strip()[:60]!r}; expected 'TY  - '")
    if start is not None:
        raise ReviewError(f"{file}:{start}: record not closed; expected 'ER  -' after the record begun here")
    for what, where in quirks.items():
        more = f" (and {len(where) - 1} more line{'s' if len(where) > 2 else ''})" if len(where) > 1 else ""
        out.warnings.append(f"{file}:{where[0]}: {what}{more}")
    return out


def _ris_record(tags, raw, source, file, line, quirks) -> Record:
    values: dict[str, list[str]] = {}
    for tag, value, n in tags:
        if tag in values and tag not in rispy.LIST_TYPE_TAGS and tag not in ("SN", "L1", "L2"):
            quirks.setdefault(f"tag {tag} repeated within a record; values joined (Web of Science)", []).append(n)
        values.setdefault(tag, []).append(value)
    if _EMBASE_TAGS & values.keys() and not ({"TI", "AB"} & values.keys()):
        used = ", ".join(sorted(_EMBASE_TAGS & values.keys()))
        quirks.setdefault(f"Embase/Reference Manager tags ({used}) read as title, journal, year and abstract",
                          []).append(line)

    def first(name):
        for tag in _RIS_FIELDS[name]:
            for v in values.get(tag, []):
                if v:
                    return v
        return None

    doi = next((d for d in (clean_doi(v) for t in ("DO", "M3", "N1", "UR") for v in values.get(t, [])) if d),
               None)
    urls = values.get("UR", []) + values.get("L2", []) + values.get("L1", [])
    arxiv = next((a for a in (arxiv_id(u) for u in urls + [doi or ""]) if a), None)
    pmid = None
    for v in values.get("AN", []) + values.get("C7", []) + values.get("M2", []):
        m = re.match(r"^(?:PMID:?\s*)?(\d{5,9})$", v.strip())
        if m and (source.lower() == "pubmed" or "PMID" in v.upper()):
            pmid = m.group(1)
    authors = [a for t in ("AU", "A1") for a in values.get(t, []) if a]
    title_tags = [t for t in _RIS_FIELDS["title"] if values.get(t)]
    title = " ".join(values[title_tags[0]]) if title_tags else ""
    abstract_tags = [t for t in _RIS_FIELDS["abstract"] if values.get(t)]
    return _record(source, raw, file, line, title=title,
                   abstract=_space(" ".join(values[abstract_tags[0]])) if abstract_tags else "",
                   authors=authors, year=_year(first("year")), venue=first("venue"), doi=doi, arxiv=arxiv,
                   pmid=pmid, url=urls[0] if urls else None,
                   keywords=[k for k in values.get("KW", []) if k])


# ---------------------------------------------------------------- Web of Science plain text
_WOS_TAG = re.compile(r"^([A-Z][A-Z0-9]) (.*)$")
_WOS_LIST = {"AU", "AF", "CR", "C1", "BA", "BF", "ED", "CA"}  # each continuation line is another item


def read_wos(text: str, source: str, file: str) -> Parsed:
    """Web of Science "plain text" (savedrecs.txt): ``TAG value`` with a two-letter tag and one space, continuation
    lines indented three spaces, ``ER`` ending a record and ``EF`` the file. Authors come one per line under a single
    ``AU``; other fields' continuation lines are joined with a space."""
    out = Parsed()
    lines = text.split("\n")
    start, tags = None, []
    for n, line in enumerate(lines, 1):
        if line.rstrip() == "ER":
            if start is None:
                raise ReviewError(f"{file}:{n}: ER without a record; expected 'PT ' to start one")
            raw = "\n".join(lines[start - 1:n])
            values: dict[str, list[str]] = {}
            for t, v in tags:
                values.setdefault(t, []).append(v)
            get = lambda t, sep=" ": sep.join(values.get(t, [])) or None
            doi = clean_doi(get("DI"))
            kws = [k.strip() for t in ("DE", "ID") for k in (get(t, "; ") or "").split(";") if k.strip()]
            out.records.append(_record(
                source, raw, file, start, title=get("TI") or "", abstract=get("AB") or "",
                authors=values.get("AF") or values.get("AU") or [], year=_year(get("PY") or get("EA")),
                venue=get("SO"), doi=doi, pmid=get("PM"), arxiv=arxiv_id(doi), keywords=kws))
            start, tags = None, []
            continue
        if start is None:
            if line.startswith(("FN ", "VR ", "EF")) or not line.strip():
                continue
            if line.startswith("PT "):
                start = n
            else:
                raise ReviewError(f"{file}:{n}: text outside a record: {line[:60]!r}; expected 'PT ' to start one")
        if line.startswith("   ") and tags:
            t = tags[-1][0]
            if t in _WOS_LIST:
                tags.append((t, line.strip()))
            else:
                tags[-1] = (t, f"{tags[-1][1]} {line.strip()}")
            continue
        m = _WOS_TAG.match(line)
        if m:
            tags.append((m.group(1), m.group(2).strip()))
        elif line.strip():
            raise ReviewError(f"{file}:{n}: not a Web of Science line (expected 'TAG value' or a continuation "
                              f"indented three spaces): {line[:60]!r}")
    if start is not None:
        raise ReviewError(f"{file}:{start}: record not closed; expected 'ER' after the record begun here")
    return out


# ---------------------------------------------------------------- PubMed MEDLINE
def read_medline(text: str, source: str, file: str) -> Parsed:
    """PubMed's MEDLINE format (.nbib): ``TAG - value`` with the tag padded to four characters, continuation
    lines indented six spaces, records separated by blank lines and each starting with ``PMID-``."""
    out = Parsed()
    lines = text.split("\n")
    blocks: list[tuple[int, int]] = []
    start = None
    for n, line in enumerate(lines, 1):
        if line.startswith("PMID-"):
            if start is not None:
                blocks.append((start, n - 1))
            start = n
        elif start is None and line.strip():
            raise ReviewError(f"{file}:{n}: text before the first record; expected 'PMID- ' to start one")
    if start is not None:
        blocks.append((start, len(lines)))
    for a, b in blocks:
        tags: list[list] = []
        for n in range(a, b + 1):
            line = lines[n - 1]
            if not line.strip():
                continue
            if line.startswith("      ") and tags:
                tags[-1][1] += " " + line.strip()
                continue
            m = _MEDLINE_TAG.match(line)
            if not m:
                raise ReviewError(f"{file}:{n}: not a MEDLINE line (expected 'TAG - value' or a continuation "
                                  f"indented six spaces): {line[:60]!r}")
            tags.append([m.group(1), m.group(2).strip()])
        values: dict[str, list[str]] = {}
        for t, v in tags:
            values.setdefault(t, []).append(v)
        raw = "\n".join(lines[a - 1:b]).strip("\n")
        ids = values.get("AID", []) + values.get("LID", [])
        doi = next((clean_doi(v) for v in ids if v.lower().endswith("[doi]")), None)
        get = lambda t: (values.get(t) or [None])[0]
        out.records.append(_record(
            source, raw, file, a, title=" ".join(values.get("TI", [])), abstract=_space(" ".join(values.get("AB", []))),
            authors=values.get("FAU") or values.get("AU") or [], year=_year(get("DP")),
            venue=get("JT") or get("TA"), doi=doi, pmid=get("PMID"), arxiv=arxiv_id(doi),
            keywords=values.get("OT", []) + values.get("MH", [])))
    return out


# ---------------------------------------------------------------- BibTeX
def _latex(value: str) -> str:
    # enough of LaTeX for titles: braces that protect capitals, escaped specials, a few accents
    v = re.sub(r"\\[`'^\"~=.uvHc]\{?([A-Za-z])\}?", r"\1", value)
    v = v.replace("\\&", "&").replace("\\%", "%").replace("\\_", "_").replace("--", "–")
    return _space(v.replace("{", "").replace("}", ""))


def read_bibtex(text: str, source: str, file: str) -> Parsed:
    """BibTeX through bibtexparser 2. Entries with a key seen before are kept as records of their own (a
    duplicate key is an export quirk, not a duplicate paper), with a warning."""
    import bibtexparser
    from bibtexparser.model import DuplicateBlockKeyBlock, Entry

    out = Parsed()
    lib = bibtexparser.parse_string(text)
    entries: list[Entry] = list(lib.entries)
    for block in lib.failed_blocks:
        line = block.start_line + 1
        if isinstance(block, DuplicateBlockKeyBlock):
            out.warnings.append(f"{file}:{line}: duplicate BibTeX key {block.key!r}; both entries kept as records")
            entries.append(block.ignore_error_block)
        else:
            raise ReviewError(f"{file}:{line}: BibTeX entry could not be parsed ({type(block).__name__}: "
                              f"{getattr(block, 'error', '')}); expected @type{{key, field = {{value}}, …}}")
    for e in sorted(entries, key=lambda e: e.start_line):
        f = {k.lower(): _latex(str(v.value)) for k, v in e.fields_dict.items()}
        eprint = f.get("eprint") if f.get("archiveprefix", "arxiv").lower() == "arxiv" else None
        doi = clean_doi(f.get("doi"))
        arxiv = arxiv_id(eprint) or arxiv_id(f.get("url")) or arxiv_id(doi) or arxiv_id(f.get("journal"))
        authors = [a.strip() for a in re.split(r"\s+and\s+", f.get("author", "")) if a.strip()]
        kw = [k.strip() for k in re.split(r"[;,]", f.get("keywords", "")) if k.strip()]
        out.records.append(_record(
            source, e.raw.strip(), file, e.start_line + 1, title=f.get("title", ""), abstract=f.get("abstract", ""),
            authors=authors, year=_year(f.get("year") or f.get("date")),
            venue=f.get("journal") or f.get("booktitle"), doi=doi, arxiv=arxiv, pmid=f.get("pmid"),
            url=f.get("url"), keywords=kw))
    return out


# ---------------------------------------------------------------- CSV / TSV
# ASReview's column synonyms (asreview.config.COLUMN_DEFINITIONS), lower-cased
_CSV_SYNONYMS = {
    "title": ("title", "primary_title", "ti", "t1", "article title", "document title"),
    "abstract": ("abstract", "abstract note", "ab", "n2", "notes_abstract"),
    "authors": ("authors", "author", "author names", "first_authors", "au", "a1"),
    "year": ("year", "py", "publication year", "publication_year", "date", "y1"),
    "doi": ("doi", "do"),
    "pmid": ("pubmedid", "pmid", "pubmed_id", "pubmed id"),
    "keywords": ("keywords", "keyword", "kw", "mesh_terms", "author keywords"),
    "url": ("url", "link", "ur"),
    "venue": ("journal", "source title", "venue", "t2", "jo", "secondary_title"),
    "arxiv": ("arxiv", "arxiv_id", "eprint"),
}


def _csv_columns(header: str) -> bool:
    cells = {c.strip().strip('"').lower() for c in re.split(r"[,\t;]", header)}
    return bool(cells & set(_CSV_SYNONYMS["title"]))


def _read_delimited(text: str, source: str, file: str, delimiter: str) -> Parsed:
    out = Parsed()
    lines = text.split("\n")
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise ReviewError(f"{file}:1: empty file (expected a header row and records)") from None
    names = [h.strip().lower() for h in header]
    cols = {}
    for fld, syn in _CSV_SYNONYMS.items():
        for s in syn:
            if s in names:
                cols[fld] = names.index(s)
                break
    if "title" not in cols:
        raise ReviewError(f"{file}:1: no title column (expected one of: {', '.join(_CSV_SYNONYMS['title'])}); "
                          f"columns: {', '.join(header)[:120]}")
    prev = reader.line_num
    for row in reader:
        start, end = prev + 1, reader.line_num
        prev = end
        if not any(c.strip() for c in row):
            continue
        get = lambda k: (row[cols[k]].strip() if k in cols and cols[k] < len(row) else "")
        raw = "\n".join(lines[start - 1:end])
        authors = [a.strip() for a in re.split(r";|\s+and\s+", get("authors")) if a.strip()]
        doi = clean_doi(get("doi"))
        out.records.append(_record(
            source, raw, file, start, title=get("title"), abstract=get("abstract"), authors=authors,
            year=_year(get("year")), venue=get("venue") or None, doi=doi, pmid=get("pmid") or None,
            arxiv=arxiv_id(get("arxiv")) or arxiv_id(get("url")) or arxiv_id(doi), url=get("url") or None,
            keywords=[k.strip() for k in get("keywords").split(";") if k.strip()]))
    return out


def read_csv(text, source, file):
    """CSV with ASReview's column names (title/primary_title/ti, abstract, authors, year, doi, pmid, …)."""
    return _read_delimited(text, source, file, ",")


def read_tsv(text, source, file):
    """Tab-separated, same columns as :func:`read_csv`."""
    return _read_delimited(text, source, file, "\t")


# ---------------------------------------------------------------- OpenAlex JSON
def abstract_from_inverted(index: dict | None) -> str:
    """OpenAlex ships abstracts as an inverted index (word → positions); this puts the words back in order."""
    if not index:
        return ""
    at = {p: w for w, ps in index.items() for p in ps}
    return " ".join(at[i] for i in sorted(at))


def read_openalex(text: str, source: str, file: str, skip_untitled: bool = False) -> Parsed:
    """An OpenAlex works response (``{"meta": …, "results": [work, …]}``) or a bare list of works. Each work's
    own JSON text is its raw text, located by decoding the results array element by element."""
    out = Parsed()
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise ReviewError(f"{file}:{e.lineno}: not valid JSON ({e.msg} at column {e.colno}); expected an "
                          "OpenAlex works response") from None
    if isinstance(doc, dict):
        if not isinstance(doc.get("results"), list):
            raise ReviewError(f"{file}:1: JSON without a 'results' list; expected an OpenAlex works response "
                              "({\"meta\": …, \"results\": [...]})")
        m = re.search(r'"results"\s*:\s*\[', text)
        pos = m.end()
    elif isinstance(doc, list):
        pos = text.index("[") + 1
    else:
        raise ReviewError(f"{file}:1: JSON that is neither a works response nor a list of works")
    dec = json.JSONDecoder()
    spans = []
    while True:
        while pos < len(text) and text[pos] in " \t\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            break
        _, end = dec.raw_decode(text, pos)
        spans.append((pos, end))
        pos = end
    works = doc["results"] if isinstance(doc, dict) else doc
    for (a, b), w in zip(spans, works):
        line = _line_of(text, a)
        if not isinstance(w, dict):
            raise ReviewError(f"{file}:{line}: a result that is not a JSON object; expected an OpenAlex work")
        ids = w.get("ids") or {}
        pmid = ids.get("pmid")
        pmid = re.sub(r"\D", "", pmid.rsplit("/", 1)[-1]) if pmid else None
        urls = [((loc or {}).get("landing_page_url") or "") for loc in (w.get("locations") or [])]
        urls += [((loc or {}).get("pdf_url") or "") for loc in (w.get("locations") or [])]
        doi = clean_doi(w.get("doi"))
        arxiv = next((x for x in map(arxiv_id, urls + [doi or ""]) if x), None)
        venue = (((w.get("primary_location") or {}).get("source")) or {}).get("display_name")
        authors = [((a or {}).get("author") or {}).get("display_name") for a in (w.get("authorships") or [])]
        kws = [k.get("display_name") for k in (w.get("keywords") or []) if isinstance(k, dict)]
        out.records.append(_untitled(out, skip_untitled, lambda: _record(
            source, text[a:b], file, line, title=w.get("title") or w.get("display_name") or "",
            abstract=abstract_from_inverted(w.get("abstract_inverted_index")),
            authors=[x for x in authors if x], year=w.get("publication_year"), venue=venue, doi=doi,
            arxiv=arxiv, pmid=pmid or None, url=(w.get("primary_location") or {}).get("landing_page_url"),
            keywords=[k for k in kws if k])))
    out.records = [r for r in out.records if r is not None]
    return out


# ---------------------------------------------------------------- arXiv Atom
ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV_NS = "{http://arxiv.org/schemas/atom}"


def read_arxiv(text: str, source: str, file: str, skip_untitled: bool = False) -> Parsed:
    """arXiv's API answer (an Atom feed). Entries do not nest, so each ``<entry>…</entry>`` span found in the text
    is the raw text of the n-th parsed entry."""
    out = Parsed()
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        line, col = e.position
        raise ReviewError(f"{file}:{line}: not well-formed XML ({e.msg.split(':')[0]} at column {col + 1}); "
                          "expected an Atom feed from arXiv's API") from None
    entries = root.findall(f"{ATOM}entry") if root.tag == f"{ATOM}feed" else (
        [root] if root.tag == f"{ATOM}entry" else [])
    spans = [(m.start(), m.end()) for m in re.finditer(r"<entry\b.*?</entry>", text, re.S)]
    if len(spans) != len(entries):
        raise ReviewError(f"{file}:1: could not locate each <entry> in the text ({len(spans)} spans, "
                          f"{len(entries)} entries); expected a plain arXiv Atom feed")
    for (a, b), e in zip(spans, entries):
        line = _line_of(text, a)
        eid = e.findtext(f"{ATOM}id") or ""
        if "api/errors" in eid:
            raise ReviewError(f"{file}:{line}: arXiv reported an error: {_space(e.findtext(f'{ATOM}summary'))}")
        links = [l.get("href", "") for l in e.findall(f"{ATOM}link")]
        doi = clean_doi(e.findtext(f"{ARXIV_NS}doi"))
        out.records.append(_untitled(out, skip_untitled, lambda: _record(
            source, text[a:b], file, line, title=e.findtext(f"{ATOM}title") or "",
            abstract=_space(e.findtext(f"{ATOM}summary")),
            authors=[_space(x.findtext(f"{ATOM}name")) for x in e.findall(f"{ATOM}author")],
            year=_year(e.findtext(f"{ATOM}published")), venue=e.findtext(f"{ARXIV_NS}journal_ref"), doi=doi,
            arxiv=arxiv_id(eid) or next((x for x in map(arxiv_id, links) if x), None),
            url=eid or None,
            keywords=[c.get("term") for c in e.findall(f"{ATOM}category") if c.get("term")])))
    out.records = [r for r in out.records if r is not None]
    return out


READERS = {"ris": read_ris, "bibtex": read_bibtex, "medline": read_medline, "wos": read_wos, "csv": read_csv, "tsv": read_tsv,
           "openalex": read_openalex, "arxiv": read_arxiv}


# ---------------------------------------------------------------- importing into a review
@dataclass
class FileImport:
    """One file's import: how many records it held, how many were new, and its warnings."""
    file: str
    format: str
    records: int
    new: int
    warnings: list[str]
    already: str | None = None  # the date of an earlier import of the same bytes from the same source


def import_files(root: Path | str, paths: list, source: str, fmt: str | None = None,
                 search: dict | None = None, names: list[str] | None = None,
                 skip_untitled: bool = False) -> list[FileImport]:
    """Import exports into the review folder ``root`` (created when missing).

    Every file is read and validated before anything is written, so one bad file leaves the review as it was.
    Each file is recorded in review.yaml ``searches`` (source, file, sha256, records, new, date); ``search``
    adds the query and date of a ``lit search``. A file whose bytes were imported before from the same source
    adds nothing and no second entry (so per-source counts are not doubled)."""
    import datetime
    import hashlib

    from fmreview.lit.review import Review

    if not source or not source.strip():
        raise ReviewError("--source is empty; expected the database name (pubmed, scopus, embase, …)")
    parsed = []
    for i, p in enumerate(paths):
        p = Path(p)
        name = names[i] if names else p.name
        try:
            data = p.read_bytes()
        except OSError as e:
            raise ReviewError(f"{p}: cannot read ({e.strerror})") from None
        parsed.append((name, hashlib.sha256(data).hexdigest(), read_bytes(data, source, name, fmt, skip_untitled)))
    review = Review.create(root)
    searches = review.settings.setdefault("searches", [])
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
    results, entries = [], []
    seen = set(review.records)
    everything = []
    for name, sha, ps in parsed:
        before = next((s for s in searches if s.get("sha256") == sha and s.get("source") == source), None)
        added = [r for r in ps.records if r.id not in seen]
        seen.update(r.id for r in added)
        everything.extend(added)
        results.append(FileImport(name, ps.format, len(ps.records), len(added), ps.warnings,
                                  before.get("date") if before else None))
        if before is None:
            entry = {"source": source, "file": name, "format": ps.format, "sha256": sha,
                     "records": len(ps.records), "new": len(added), "date": now}
            entry.update(search or {})
            entries.append(entry)
    review.add_records(everything)  # one atomic rewrite for all files
    if entries:
        searches.extend(entries)
        review.save_settings()
    return results
