"""The review folder: plain, diffable files holding a systematic review's records, groups and decisions.

    review.yaml       settings: title, inclusion criteria, reviewers, the searches run (source, query, date,
                      file, records) and the fuzzy-title threshold of deduplication
    records.jsonl     one record per line, sorted by id (rewritten whole and atomically on import)
    groups.jsonl      duplicate groups: {"keep": id, "members": [ids], "reason": text}, sorted by keep
    decisions.jsonl   append-only log, one decision per line, fsync'ed as it is taken: a crash loses at most the
                      record on screen; the latest line per (record, stage, reviewer) is the one that counts

Every record keeps the database it came from, its raw text and the file and line it was read at. Its id is
content-addressed (``r`` + 10 hex digits of the SHA-256 of source and raw text), so re-importing a file adds
nothing. ``lit`` imports nothing of fmreview but the catalog's writers (canonical YAML, atomic files).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from fmreview.catalog.yamlio import write_atomic

STAGES = ("screening", "eligibility")  # title/abstract, then full text
CONSENSUS = "consensus"  # the reviewer name under which a conflict's resolution is recorded
DECISIONS = ("include", "exclude", "maybe")
RECORDS, GROUPS, DECISIONS_FILE, SETTINGS = "records.jsonl", "groups.jsonl", "decisions.jsonl", "review.yaml"


class ReviewError(ValueError):
    """A problem with a review folder or an input to it: printed as one line, exit 1, nothing written."""


@dataclass
class Record:
    id: str
    source: str  # the database or list it was identified in: pubmed, scopus, arxiv, openalex, "other: …"
    title: str
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    year: int | None = None
    venue: str | None = None
    doi: str | None = None
    arxiv: str | None = None
    pmid: str | None = None
    url: str | None = None
    keywords: list[str] = field(default_factory=list)
    file: str | None = None  # where it was read: file name and 1-based line of the record's start
    line: int | None = None
    raw: str = ""  # the record's text as it stood in the file

    @staticmethod
    def make_id(source: str, raw: str) -> str:
        return "r" + hashlib.sha256(f"{source}\x1f{raw}".encode("utf-8")).hexdigest()[:10]

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "Record":
        return cls(**{k: d.get(k, v.default if not callable(v.default_factory) else v.default_factory())
                      for k, v in cls.__dataclass_fields__.items()})


@dataclass
class Decision:
    id: str
    stage: str
    decision: str
    reviewer: str = "reviewer"
    reason: str | None = None
    note: str | None = None
    time: float = 0.0

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass
class Group:
    keep: str
    members: list[str]
    reason: str


def _jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as e:
                # a torn last line (a crash while appending) is the only kind of damage an append can leave
                raise ReviewError(f"{path}:{n}: not a JSON line ({e.msg}); fix or remove that line") from None
    return out


def _dump_jsonl(rows) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)


class Review:
    """A review folder. ``Review.create(dir)`` makes one; ``Review(dir)`` opens it."""

    def __init__(self, root: Path | str):
        self.root = Path(root)
        if not (self.root / SETTINGS).exists():
            raise ReviewError(f"{self.root}: not a review folder (no {SETTINGS}); create one with "
                              f"fmreview lit import FILE --source NAME --review {self.root}")
        self.settings = yaml.safe_load((self.root / SETTINGS).read_text(encoding="utf-8")) or {}
        self._records: dict[str, Record] | None = None

    # ---- creation and settings
    @classmethod
    def create(cls, root: Path | str, title: str | None = None) -> "Review":
        root = Path(root)
        if (root / SETTINGS).exists():
            return cls(root)
        root.mkdir(parents=True, exist_ok=True)
        settings = {"title": title or root.name, "criteria": {"include": [], "exclude": []}, "reviewers": [],
                    "searches": [], "dedup": {"title_threshold": 95}}
        write_atomic(root / SETTINGS, yaml.safe_dump(settings, sort_keys=True, allow_unicode=True))
        return cls(root)

    def save_settings(self) -> None:
        write_atomic(self.root / SETTINGS, yaml.safe_dump(self.settings, sort_keys=True, allow_unicode=True))

    # ---- records
    @property
    def records(self) -> dict[str, Record]:
        if self._records is None:
            import gc

            # tens of thousands of small dicts: the cyclic collector would rescan them all as they are made
            enabled = gc.isenabled()
            gc.disable()
            try:
                self._records = {d["id"]: Record.from_json(d) for d in _jsonl(self.root / RECORDS)}
            finally:
                if enabled:
                    gc.enable()
        return self._records

    def add_records(self, new: list[Record]) -> list[Record]:
        """Add records not already present (same id = same source and raw text); returns those added. The
        records file is rewritten whole, atomically."""
        recs = self.records
        added = [r for r in new if r.id not in recs]
        for r in added:
            recs[r.id] = r
        if added:
            write_atomic(self.root / RECORDS, _dump_jsonl(recs[i].to_json() for i in sorted(recs)))
        return added

    # ---- groups
    def groups(self) -> list[Group]:
        return [Group(g["keep"], list(g["members"]), g["reason"]) for g in _jsonl(self.root / GROUPS)]

    def save_groups(self, groups: list[Group]) -> None:
        rows = sorted(({"keep": g.keep, "members": sorted(g.members), "reason": g.reason} for g in groups),
                      key=lambda g: g["keep"])
        write_atomic(self.root / GROUPS, _dump_jsonl(rows))

    def duplicate_of(self) -> dict[str, str]:
        """record id → the id its group keeps (only for records that are not kept)."""
        out = {}
        for g in self.groups():
            for m in g.members:
                if m != g.keep:
                    out[m] = g.keep
        return out

    def unique_ids(self) -> list[str]:
        """The records left after deduplication (each group counts once, by the record it keeps)."""
        dup = self.duplicate_of()
        return sorted(i for i in self.records if i not in dup)

    # ---- decisions
    def _checked(self, d: Decision) -> str:
        """The log line of a valid decision (its time set), or ReviewError naming what is wrong."""
        if d.id not in self.records:
            raise ReviewError(f"no record {d.id!r} in this review")
        if d.stage not in STAGES:
            raise ReviewError(f"unknown stage {d.stage!r}; expected one of {', '.join(STAGES)}")
        if d.decision not in DECISIONS:
            raise ReviewError(f"unknown decision {d.decision!r}; expected one of {', '.join(DECISIONS)}")
        if d.stage == "eligibility" and d.decision == "exclude" and not (d.reason or "").strip():
            raise ReviewError(f"{d.id}: an exclusion at full text (eligibility) needs a reason (--reason TEXT)")
        if not d.time:
            d.time = time.time()
        return json.dumps(d.to_json(), ensure_ascii=False, sort_keys=True) + "\n"

    def _append(self, lines: list[str]) -> None:
        """Append to the decision log in one write, fsync'ed before returning."""
        fd = os.open(self.root / DECISIONS_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
        try:
            os.write(fd, "".join(lines).encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def decide(self, d: Decision) -> Decision:
        """Validate and append one decision (fsync'ed before returning)."""
        self._append([self._checked(d)])
        return d

    def decisions(self) -> list[Decision]:
        return [Decision(**d) for d in _jsonl(self.root / DECISIONS_FILE)]

    def latest(self, stage: str) -> dict[str, dict[str, Decision]]:
        """record id → reviewer → that reviewer's latest decision at ``stage``."""
        out: dict[str, dict[str, Decision]] = {}
        for d in self.decisions():
            if d.stage == stage:
                out.setdefault(d.id, {})[d.reviewer] = d
        return out

    def final(self, stage: str) -> dict[str, Decision]:
        """The decision that counts per record at ``stage``: the reviewer ``consensus``'s where one was recorded
        (how a conflict is resolved), else the reviewers' latest decisions when they all agree. Records whose
        reviewers disagree are in :meth:`conflicts` and have no final decision yet."""
        out = {}
        for rid, by in self.latest(stage).items():
            if CONSENSUS in by:
                out[rid] = by[CONSENSUS]
            elif len({d.decision for d in by.values()}) == 1:
                out[rid] = max(by.values(), key=lambda d: d.time)
        return out

    def conflicts(self, stage: str) -> dict[str, dict[str, str]]:
        """record id → reviewer → decision, for records whose reviewers disagree and no consensus was recorded."""
        return {rid: {r: d.decision for r, d in sorted(by.items())} for rid, by in self.latest(stage).items()
                if CONSENSUS not in by and len({d.decision for d in by.values()}) > 1}

    def decide_many(self, decisions: list[Decision]) -> list[Decision]:
        """Validate every decision, then append them all in one write (fsync'ed once): for scripts that record
        many decisions at a time. Nothing is appended when any one is invalid."""
        lines = [self._checked(d) for d in decisions]
        if lines:
            self._append(lines)
        return decisions
