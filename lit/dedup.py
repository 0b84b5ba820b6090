"""Deduplication: records that report the same study are grouped, never deleted.

Pairs are found by keys, in this order, and joined by union-find into groups (``groups.jsonl``):

1. the normalised DOI (lower case, ``https://doi.org/`` and ``doi:`` removed);
2. the arXiv id without its version (also read from arXiv's DOIs ``10.48550/arXiv.XXXX``);
3. the PMID;
4. the normalised title (accents, case and punctuation removed) + year + first author's surname;
5. a fuzzy title match: rapidfuzz ``fuzz.ratio`` of the normalised titles ≥ the threshold, years within 1.

A preprint and its published version have different DOIs (or only an arXiv id on the preprint), so keys 1–3 never
join them: a title match (4 or 5) between a record that is only on arXiv and one with a publisher's DOI is the link,
with the reason "preprint ↔ published (title match)"; for such pairs the years may differ by 2, since journal
publication often follows the preprint by more than a year.

Threshold: ``dedup.title_threshold`` in review.yaml, default 95 (``--threshold`` overrides it). ``fuzz.ratio`` is
100·(1 − edit distance / total length), so on a typical 80-character title 95 allows about four edited characters:
a typo, a changed hyphen or British/American spelling, a dropped article. At 90 distinct papers of one series begin
to match ("… for CT segmentation" / "… for MR segmentation" score ≈ 93); at 98 a single typo in a short title is
missed. Title matches are refused when the two records carry different identifiers of the same kind (two different
DOIs that are both publishers', two arXiv ids, two PMIDs): those are two papers with similar titles.

Blocking, so that 50,000 records take seconds: exact keys go through dicts; fuzzy titles are compared only within
blocks — the same first two title tokens, the same last two tokens — and in a sorted neighbourhood (each title
with the next few in alphabetical order). A typo in both the first and the last two tokens of a title, with a
different start, is the case this misses. Blocks larger than :data:`BIG_BLOCK` are compared by sorted neighbourhood
only.

The kept record of a group is the published one (a publisher's DOI), else the earliest imported (order of the
searches in review.yaml, then line in the file). A reviewer's ``split`` and ``merge`` are stored in review.yaml
``dedup.manual`` and applied on every run, so a re-run does not undo them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from fmreview.lit.importers import arxiv_id
from fmreview.lit.review import Group, Record, Review, ReviewError

DEFAULT_THRESHOLD = 95
BIG_BLOCK = 300  # above this, a block is compared by sorted neighbourhood instead of all pairs
WINDOW = 8  # sorted-neighbourhood window

REASONS = {
    "doi": "same DOI",
    "arxiv": "same arXiv id",
    "pmid": "same PMID",
    "title": "same title, year and first author",
    "fuzzy": "similar title",
    "preprint": "preprint ↔ published (title match)",
    "merge": "merged by a reviewer",
}
ORDER = list(REASONS)


# ---------------------------------------------------------------- normalisation
def normalise_doi(doi: str | None) -> str | None:
    """``https://doi.org/10.1/ABC`` and ``doi:10.1/abc`` → ``10.1/abc`` (DOIs are case-insensitive)."""
    if not doi:
        return None
    d = str(doi).strip().lower()
    d = re.sub(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", "", d).strip().rstrip(".")
    return d if d.startswith("10.") else None


def normalise_title(title: str | None) -> str:
    t = title or ""
    if not t.isascii():  # most titles are ASCII: the per-character accent stripping is the slow part
        t = "".join(c for c in unicodedata.normalize("NFKD", t) if not unicodedata.combining(c))
    t = t.lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", t).split())


def surname(author: str | None) -> str:
    """First author's surname from "Smith, John", "John Smith" or PubMed's "Smith JA"."""
    if not author:
        return ""
    a = author.strip()
    if "," in a:
        s = a.split(",", 1)[0]
    else:
        parts = a.split()
        # PubMed/Embase write "Smith JA" / "Smith J.": the surname comes first when the last part is initials
        initials = re.fullmatch(r"(?:[A-Z]\.?){1,3}", parts[-1])
        s = parts[0] if len(parts) > 1 and initials else parts[-1]
    return normalise_title(s).replace(" ", "")


def record_arxiv(r: Record) -> str | None:
    return arxiv_id(r.arxiv) or arxiv_id(r.doi) or arxiv_id(r.url)


def published_doi(r: Record) -> str | None:
    """A publisher's DOI (not arXiv's 10.48550 DOI)."""
    d = normalise_doi(r.doi)
    return d if d and not d.startswith("10.48550/") else None


# ---------------------------------------------------------------- union-find
class _Union:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


@dataclass
class DedupResult:
    records: int
    unique: int
    groups: list[Group] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"records": self.records, "unique": self.unique,
                "groups": [{"ids": sorted(g.members), "keep": g.keep, "reason": g.reason} for g in self.groups]}


def find_groups(records: list[Record], threshold: float = DEFAULT_THRESHOLD, order: dict[str, tuple] | None = None,
                splits: set[str] | frozenset = frozenset(), merges: list[list[str]] = ()) -> list[Group]:
    """The duplicate groups among ``records`` (see the module docstring). ``order`` ranks records for "earliest
    imported"; ``splits`` are ids kept out of automatic pairs; ``merges`` are pairs joined by a reviewer."""
    recs = sorted(records, key=lambda r: r.id)
    n = len(recs)
    index = {r.id: i for i, r in enumerate(recs)}
    doi = [normalise_doi(r.doi) for r in recs]
    pdoi = [d if d and not d.startswith("10.48550/") else None for d in doi]
    arx = [record_arxiv(r) for r in recs]
    pmid = [(r.pmid or "").strip() or None for r in recs]
    title = [normalise_title(r.title) for r in recs]
    year = [r.year for r in recs]
    preprint = [a is not None and pdoi[i] is None for i, a in enumerate(arx)]
    out = [i for i, r in enumerate(recs) if r.id in splits]
    banned = set(out)
    uf = _Union(n)
    reasons: dict[tuple[int, int], set[str]] = {}

    def link(a: int, b: int, why: str) -> None:
        if a == b or a in banned or b in banned:
            return
        key = (a, b) if a < b else (b, a)
        reasons.setdefault(key, set()).add(why)
        uf.union(a, b)

    def by_key(values, why):
        seen: dict[str, int] = {}
        for i, v in enumerate(values):
            if v:
                if v in seen:
                    link(seen[v], i, why)
                else:
                    seen[v] = i

    by_key(doi, "doi")
    by_key(arx, "arxiv")
    by_key(pmid, "pmid")

    def conflict(a: int, b: int) -> bool:
        # different identifiers of one kind: two papers, however alike their titles
        return any(x[a] and x[b] and x[a] != x[b] for x in (pdoi, arx, pmid))

    def title_pair(a: int, b: int, exact: bool) -> None:
        # pairs already joined by an identifier add no reason: a group's reason says how it was formed
        if uf.find(a) == uf.find(b) or conflict(a, b):
            return
        ya, yb = year[a], year[b]
        pre = preprint[a] != preprint[b] and (pdoi[a] or pdoi[b])
        if ya is not None and yb is not None and abs(ya - yb) > (2 if pre else (0 if exact else 1)):
            return
        link(a, b, "preprint" if pre else ("title" if exact else "fuzzy"))

    tkey: dict[str, list[int]] = {}
    for i, r in enumerate(recs):
        if len(title[i].split()) >= 3:  # "Editorial", "Reply": too short to identify a paper by
            tkey.setdefault(title[i] + "\x1f" + surname(r.authors[0] if r.authors else ""), []).append(i)
    for members in tkey.values():
        for j in members[1:]:
            title_pair(members[0], j, exact=True)

    # fuzzy: candidate pairs from blocks, scored with rapidfuzz
    candidates: set[tuple[int, int]] = set()
    blocks: dict[str, list[int]] = {}
    for i, t in enumerate(title):
        toks = t.split()
        if len(toks) < 3:  # "Editorial", "Reply": too short to match on title alone
            continue
        blocks.setdefault("f:" + " ".join(toks[:2]), []).append(i)
        blocks.setdefault("l:" + " ".join(toks[-2:]), []).append(i)

    def neighbourhood(ids: list[int]) -> None:
        ids = sorted(ids, key=lambda i: title[i])
        for k, a in enumerate(ids):
            for b in ids[k + 1:k + 1 + WINDOW]:
                candidates.add((a, b) if a < b else (b, a))

    for ids in blocks.values():
        if len(ids) < 2:
            continue
        if len(ids) > BIG_BLOCK:
            neighbourhood(ids)
            continue
        m = process.cdist([title[i] for i in ids], [title[i] for i in ids], scorer=fuzz.ratio,
                          score_cutoff=threshold, workers=1)
        for x, y in zip(*m.nonzero()):
            if x < y:
                a, b = ids[x], ids[y]
                candidates.add((a, b) if a < b else (b, a))
    neighbourhood([i for i, t in enumerate(title) if len(t.split()) >= 3])
    ratio = fuzz.ratio
    similar = [p for p in candidates if ratio(title[p[0]], title[p[1]], score_cutoff=threshold)]
    for a, b in sorted(similar):  # sorted: the same reasons on every run
        title_pair(a, b, exact=False)

    for pair in merges:
        ids = [index.get(x) for x in pair]
        if None in ids:
            continue  # a merged record no longer in the review: nothing to join
        a, b = ids
        key = (a, b) if a < b else (b, a)
        reasons.setdefault(key, set()).add("merge")
        uf.union(a, b)

    comp: dict[int, list[int]] = {}
    for i in range(n):
        comp.setdefault(uf.find(i), []).append(i)
    why_by_root: dict[int, set[str]] = {}
    for (a, b), w in reasons.items():
        why_by_root.setdefault(uf.find(a), set()).update(w)
    rank = order or {}
    groups = []
    for root, members in comp.items():
        if len(members) < 2:
            continue
        keep = min(members, key=lambda i: (pdoi[i] is None, rank.get(recs[i].id, (1 << 30, 0)), recs[i].id))
        why = why_by_root.get(root, set())
        groups.append(Group(recs[keep].id, sorted(recs[i].id for i in members),
                            "; ".join(REASONS[w] for w in ORDER if w in why)))
    return sorted(groups, key=lambda g: g.keep)


def import_order(review: Review) -> dict[str, tuple]:
    """record id → (position of its file among the searches, line): the order in which records were imported."""
    pos: dict[str, int] = {}
    for k, s in enumerate(review.settings.get("searches") or []):
        for f in [s.get("file")] + [x.get("file") for x in s.get("files") or []]:
            if f and f not in pos:
                pos[f] = k
    return {r.id: (pos.get(r.file or "", 1 << 29), r.line or 0) for r in review.records.values()}


def _manual(review: Review) -> dict:
    d = review.settings.setdefault("dedup", {})
    m = d.setdefault("manual", {})
    m.setdefault("splits", [])
    m.setdefault("merges", [])
    return m


def threshold_of(review: Review, threshold: float | None = None) -> float:
    t = threshold if threshold is not None else (review.settings.get("dedup") or {}).get("title_threshold",
                                                                                        DEFAULT_THRESHOLD)
    try:
        t = float(t)
    except (TypeError, ValueError):
        raise ReviewError(f"review.yaml: dedup.title_threshold is {t!r}; expected a number from 50 to 100") from None
    if not 50 <= t <= 100:
        raise ReviewError(f"threshold {t:g} out of range; expected a number from 50 to 100 (default "
                          f"{DEFAULT_THRESHOLD})")
    return t


def dedup(review: Review, threshold: float | None = None, save: bool = True) -> DedupResult:
    """Group the review's duplicates, write groups.jsonl and return the counts."""
    t = threshold_of(review, threshold)
    m = (review.settings.get("dedup") or {}).get("manual") or {}
    groups = find_groups(list(review.records.values()), t, import_order(review), set(m.get("splits") or []),
                         [list(x) for x in m.get("merges") or []])
    if save:
        review.save_groups(groups)
    n = len(review.records)
    return DedupResult(n, n - sum(len(g.members) - 1 for g in groups), groups)


def _known(review: Review, rid: str) -> None:
    if rid not in review.records:
        raise ReviewError(f"no record {rid!r} in this review (see fmreview lit records --review {review.root})")


def split(review: Review, rid: str) -> None:
    """Take ``rid`` out of its group for good: remembered in review.yaml ``dedup.manual.splits``; merges a
    reviewer made with it are withdrawn."""
    _known(review, rid)
    m = _manual(review)
    if rid not in m["splits"]:
        m["splits"].append(rid)
    m["merges"] = [p for p in m["merges"] if rid not in p]
    review.save_settings()


def merge(review: Review, a: str, b: str) -> None:
    """Join the groups of ``a`` and ``b``: remembered in review.yaml ``dedup.manual.merges``."""
    for x in (a, b):
        _known(review, x)
    if a == b:
        raise ReviewError(f"--merge needs two different ids; got {a!r} twice")
    m = _manual(review)
    if sorted([a, b]) not in [sorted(p) for p in m["merges"]]:
        m["merges"].append(sorted([a, b]))
    review.save_settings()
