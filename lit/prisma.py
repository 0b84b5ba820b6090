"""PRISMA 2020 flow counts derived from a review folder's records, groups and final decisions.

The boxes, and where each comes from:

    identified          records per ``Record.source`` (everything imported, duplicates included)
    duplicates_removed  records that are members of a duplicate group but not the record it keeps
    screened            the unique records (each group once, by the record it keeps)
    screened_excluded   unique records whose final screening decision is ``exclude``
    sought              unique records whose final screening decision is ``include``
    not_retrieved       records sought whose final eligibility decision is an exclusion with the reason
                        "not retrieved" (the convention: the full text could not be obtained; case and spaces
                        do not matter)
    assessed            records sought minus those not retrieved
    excluded_reasons    the other eligibility exclusions, reason -> n
    included            records sought whose final eligibility decision is ``include``

A ``maybe``, a missing decision and an unresolved conflict all leave a record undecided. The counts add up only
when every screened record (and every record sought) has a final decision, so an undecided record is an error
here that names a few ids, not a box of its own. Eligibility decisions count only for records sought: a decision
left from before a screening decision was changed, or one on a duplicate, is ignored.

This module returns plain counts; ``fmreview.reports`` turns them into ``fmreview.analysis.prisma.Prisma`` for
the PRISMA2020 package's CSV and the figure (lit does not import analysis).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .review import Review, ReviewError

NOT_RETRIEVED = "not retrieved"
SHOW = 5  # ids named in an error message


@dataclass
class FlowCounts:
    """The PRISMA 2020 boxes of one review (keys as in ``fmreview lit prisma --format json``)."""

    identified: dict[str, int]
    duplicates_removed: int = 0
    screened: int = 0
    screened_excluded: int = 0
    sought: int = 0
    not_retrieved: int = 0
    assessed: int = 0
    excluded_reasons: dict[str, int] = field(default_factory=dict)
    included: int = 0

    def to_json(self) -> dict:
        return {"identified": dict(sorted(self.identified.items())), "duplicates_removed": self.duplicates_removed,
                "screened": self.screened, "screened_excluded": self.screened_excluded, "sought": self.sought,
                "not_retrieved": self.not_retrieved, "assessed": self.assessed,
                "excluded_reasons": dict(sorted(self.excluded_reasons.items())), "included": self.included}

    def problems(self) -> list[str]:
        """Every box that is not the boxes feeding it, or is negative (empty when consistent)."""
        out = []
        for name, v in [*((f"identified: {k}", v) for k, v in self.identified.items()),
                        ("duplicates_removed", self.duplicates_removed), ("screened", self.screened),
                        ("screened_excluded", self.screened_excluded), ("sought", self.sought),
                        ("not_retrieved", self.not_retrieved), ("assessed", self.assessed),
                        *((f"excluded_reasons: {k}", v) for k, v in self.excluded_reasons.items()),
                        ("included", self.included)]:
            if v < 0:
                out.append(f"box '{name}' is negative ({v})")
        total = sum(self.identified.values())
        excluded = sum(self.excluded_reasons.values())
        for box, value, expected, how in (
                ("screened", self.screened, total - self.duplicates_removed,
                 f"identified − duplicates_removed = {total} − {self.duplicates_removed}"),
                ("sought", self.sought, self.screened - self.screened_excluded,
                 f"screened − screened_excluded = {self.screened} − {self.screened_excluded}"),
                ("assessed", self.assessed, self.sought - self.not_retrieved,
                 f"sought − not_retrieved = {self.sought} − {self.not_retrieved}"),
                ("included", self.included, self.assessed - excluded,
                 f"assessed − excluded_reasons = {self.assessed} − {excluded}")):
            if value != expected:
                out.append(f"box '{box}' ({value}) does not add up: {how} = {expected}")
        return out

    def check(self) -> "FlowCounts":
        """Raise :class:`ReviewError` naming every box that does not add up."""
        problems = self.problems()
        if problems:
            raise ReviewError("PRISMA counts do not add up: " + "; ".join(problems))
        return self

    @classmethod
    def from_json(cls, d: dict) -> "FlowCounts":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def _few(ids) -> str:
    ids = sorted(ids)
    more = f" and {len(ids) - SHOW} more" if len(ids) > SHOW else ""
    return ", ".join(ids[:SHOW]) + more


def _final_or_fail(review: Review, stage: str, ids: list[str], flag: str) -> dict:
    """The final decision per id at ``stage``; an unresolved conflict or an undecided record is an error."""
    conflicts = set(review.conflicts(stage)) & set(ids)
    if conflicts:
        raise ReviewError(f"{len(conflicts)} record{'s' if len(conflicts) != 1 else ''} with unresolved conflicts "
                          f"at {stage}: {_few(conflicts)}; record the resolution with fmreview lit decide ID "
                          f"--stage {stage} --decision D --reviewer consensus")
    final = review.final(stage)
    undecided = [i for i in ids if i not in final or final[i].decision == "maybe"]
    if undecided:
        raise ReviewError(f"{len(undecided)} record{'s' if len(undecided) != 1 else ''} still undecided at "
                          f"{stage} ({flag}): {_few(undecided)}; PRISMA counts add up only when every record "
                          f"has a final decision")
    return {i: final[i] for i in ids}


def flow(review: Review) -> FlowCounts:
    """The PRISMA 2020 counts of ``review``, checked (see the module docstring for each box).

    Raises :class:`ReviewError` for an undecided record, an unresolved conflict or counts that do not add up
    (e.g. groups.jsonl naming records that records.jsonl does not hold)."""
    records = review.records
    if not records:
        raise ReviewError(f"{review.root}: the review holds no records; import some with fmreview lit import")
    identified = Counter(r.source for r in records.values())
    duplicates = review.duplicate_of()
    unique = review.unique_ids()
    screening = _final_or_fail(review, "screening", unique, "no final decision, a maybe")
    sought_ids = sorted(i for i, d in screening.items() if d.decision == "include")
    eligibility = _final_or_fail(review, "eligibility", sought_ids, "no final full-text decision, a maybe")
    reasons: Counter = Counter()
    not_retrieved = included = 0
    for d in eligibility.values():
        if d.decision == "include":
            included += 1
        elif " ".join((d.reason or "").lower().split()) == NOT_RETRIEVED:
            not_retrieved += 1
        else:
            reasons[(d.reason or "").strip()] += 1
    counts = FlowCounts(identified=dict(sorted(identified.items())), duplicates_removed=len(duplicates),
                        screened=len(unique),
                        screened_excluded=sum(d.decision == "exclude" for d in screening.values()),
                        sought=len(sought_ids), not_retrieved=not_retrieved,
                        assessed=len(sought_ids) - not_retrieved, excluded_reasons=dict(sorted(reasons.items())),
                        included=included)
    problems = counts.problems()
    if problems:
        unknown = sorted(set(duplicates) - set(records))
        hint = (f" (groups.jsonl names {len(unknown)} record{'s' if len(unknown) != 1 else ''} that records.jsonl "
                f"does not hold: {_few(unknown)})" if unknown else "")
        raise ReviewError("PRISMA counts do not add up: " + "; ".join(problems) + hint)
    return counts


def included_ids(review: Review) -> list[str]:
    """Unique records included at screening and at eligibility (final decisions), sorted; unlike :func:`flow`
    this does not require every other record to be decided."""
    unique = set(review.unique_ids())
    screening, eligibility = review.final("screening"), review.final("eligibility")
    return sorted(i for i in unique if i in screening and screening[i].decision == "include"
                  and i in eligibility and eligibility[i].decision == "include")
