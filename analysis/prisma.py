"""PRISMA 2020 flow-diagram counts, their consistency checks, and the CSV layout of the PRISMA2020 R package
(Haddaway et al. 2022; columns data, node, box, description, boxtext, tooltips, url, n)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from .errors import InputError


@dataclass
class Prisma:
    identified: dict[str, int]                      # records identified, per source
    duplicates_removed: int = 0
    other_removed: int = 0
    screened: int | None = None
    screened_excluded: int = 0
    sought: int | None = None
    not_retrieved: int = 0
    assessed: int | None = None
    excluded_reasons: dict[str, int] = field(default_factory=dict)
    included: int | None = None

    def complete(self) -> "Prisma":
        """Fill unstated downstream boxes from upstream ones, then check every box."""
        total = sum(self.identified.values())
        if self.screened is None:
            self.screened = total - self.duplicates_removed - self.other_removed
        if self.sought is None:
            self.sought = self.screened - self.screened_excluded
        if self.assessed is None:
            self.assessed = self.sought - self.not_retrieved
        if self.included is None:
            self.included = self.assessed - sum(self.excluded_reasons.values())
        self.check()
        return self

    def check(self) -> None:
        problems = []
        for name, v in [*(("identified: " + k, v) for k, v in self.identified.items()),
                        ("duplicates removed", self.duplicates_removed), ("other removed", self.other_removed),
                        ("records screened", self.screened), ("records excluded", self.screened_excluded),
                        ("reports sought", self.sought), ("reports not retrieved", self.not_retrieved),
                        ("reports assessed", self.assessed), ("studies included", self.included),
                        *(("excluded: " + k, v) for k, v in self.excluded_reasons.items())]:
            if v is not None and v < 0:
                problems.append(f"box '{name}' is negative ({v})")
        total = sum(self.identified.values())
        if self.screened is not None and self.screened > total - self.duplicates_removed - self.other_removed:
            problems.append(f"box 'records screened' ({self.screened}) exceeds records identified minus removed "
                            f"({total} − {self.duplicates_removed} − {self.other_removed})")
        if self.screened_excluded > (self.screened or 0):
            problems.append(f"box 'records excluded' ({self.screened_excluded}) exceeds records screened ({self.screened})")
        if self.sought is not None and self.sought > (self.screened or 0) - self.screened_excluded:
            problems.append(f"box 'reports sought' ({self.sought}) exceeds records screened minus excluded")
        if self.assessed is not None and self.assessed > (self.sought or 0) - self.not_retrieved:
            problems.append(f"box 'reports assessed' ({self.assessed}) exceeds reports sought minus not retrieved")
        if self.included is not None and self.included > (self.assessed or 0) - sum(self.excluded_reasons.values()):
            problems.append(f"box 'studies included' ({self.included}) exceeds reports assessed minus excluded")
        if problems:
            raise InputError("impossible PRISMA counts: " + "; ".join(problems))

    # ---- the PRISMA2020 package's CSV layout
    def to_csv(self) -> str:
        rows = [("identification", "node4", "box2", "Databases", "Records identified from:", "",
                 "; ".join(f"{k}, {v}" for k, v in sorted(self.identified.items())))]
        rows += [
            ("duplicates", "node6", "box4", "Duplicates", "Duplicate records removed", "", self.duplicates_removed),
            ("other_removed", "node8", "box4", "Other", "Records removed for other reasons", "", self.other_removed),
            ("records_screened", "node9", "box5", "Records screened", "Records screened", "", self.screened),
            ("records_excluded", "node10", "box6", "Records excluded", "Records excluded", "", self.screened_excluded),
            ("dbr_sought_reports", "node11", "box7", "Reports sought", "Reports sought for retrieval", "", self.sought),
            ("dbr_notretrieved_reports", "node12", "box8", "Not retrieved", "Reports not retrieved", "", self.not_retrieved),
            ("dbr_assessed", "node13", "box9", "Assessed", "Reports assessed for eligibility", "", self.assessed),
            ("dbr_excluded", "node14", "box10", "Excluded", "Reports excluded:", "",
             "; ".join(f"{k}, {v}" for k, v in sorted(self.excluded_reasons.items()))),
            ("new_studies", "node15", "box11", "Included", "Studies included in review", "", self.included),
        ]
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["data", "node", "box", "description", "boxtext", "tooltips", "url", "n"])
        for data, node, box, desc, text, tip, n in rows:
            w.writerow([data, node, box, desc, text, tip, "", n])
        return buf.getvalue()

    @classmethod
    def from_csv(cls, text: str) -> "Prisma":
        rows = {r["data"]: r for r in csv.DictReader(io.StringIO(text))}

        def num(key, default=0):
            v = (rows.get(key) or {}).get("n", "")
            if v in ("", None):
                return default
            try:
                return int(float(v))
            except ValueError:
                raise InputError(f"PRISMA CSV, row '{key}', column n: expected a number, got {v!r}") from None

        def pairs(key):
            v = (rows.get(key) or {}).get("n", "") or ""
            out = {}
            for part in filter(None, (p.strip() for p in v.split(";"))):
                name, _, n = part.rpartition(",")
                try:
                    out[name.strip()] = int(n)
                except ValueError:
                    raise InputError(f"PRISMA CSV, row '{key}': expected 'reason, n' pairs, got {part!r}") from None
            return out

        p = cls(identified=pairs("identification") or {"records": num("database_results")},
                duplicates_removed=num("duplicates"), other_removed=num("other_removed"),
                screened=num("records_screened", None), screened_excluded=num("records_excluded"),
                sought=num("dbr_sought_reports", None), not_retrieved=num("dbr_notretrieved_reports"),
                assessed=num("dbr_assessed", None), excluded_reasons=pairs("dbr_excluded"),
                included=num("new_studies", None))
        return p.complete()
