"""Checks across results that no single record can make: the same number entered twice (an error), and three
patterns that are usually a transcription mistake but can be true (warnings).

Errors (``fmreview catalog validate`` exits 1):

- *duplicate result*: two results of one source document with the same model, dataset, subset, task, metric,
  split, setting (and shots), prompt, prompt count and condition. Nothing tells them apart, so one of them is
  the other entered again (often under a new id), or a field that separates them is missing.

Warnings (printed with file:line; exit 0 when there are only warnings):

- *scale*: a percent value below 1 that, read as a fraction (×100), falls within the range of its siblings
  (same source document, metric and unit ``percent``; at least three of them at 1 or above): ``0.8842`` among
  80–90. The fix is usually ``unit: fraction`` or the value ×100.
- *alias rows*: two subsets of one source whose values are identical, model by model, for every model the source
  reports on both (at least three models, or two with values printed to three or more decimals, so that chance
  agreement is unlikely): one target under two labels. Keep one, or say why with ``doubt:``.
- *unmarked aggregate*: a result equal to the mean of at least three siblings (same source document, model,
  dataset, task, metric, unit, setting, prompt, prompt count and condition; differing in subset, or in split),
  within the rounding of the printed numbers (half a unit of the group's last printed digit, plus that over
  sqrt(k) for the mean of k rounded parts), without ``aggregate:``. Reported when the row also looks like a summary
  (no subset or split where its siblings have one, or "mean", "average", "ave", "overall" or "macro" in its subset,
  split or id), or when so close a match would happen by chance less than 1% of the time (twice the
  tolerance over the parts' spread): in a cluster of AUCs printed to two decimals some row always sits near the
  mean. Mark it (``aggregate: mean``) so analyses do not pool it with its parts.

A result marked ``doubt:`` is not reported as an alias row again (the doubt is the curator's answer).
"""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import yaml

from .errors import Problem

if TYPE_CHECKING:  # pragma: no cover
    from . import schema
    from .store import RawCatalog

MIN_SIBLINGS = 3  # fewer and the middle one of three evenly spaced values "equals the mean" by chance


class _Lines:
    """Line numbers of result fields, each file composed once (the checks visit thousands of results)."""

    def __init__(self, root: Path):
        self.root, self.nodes = root, {}

    def __call__(self, file: str, index: int, field: str | None = None) -> int | None:
        if file not in self.nodes:
            try:
                self.nodes[file] = yaml.compose((self.root / file).read_text(encoding="utf-8"),
                                                Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
            except (OSError, yaml.YAMLError):
                self.nodes[file] = None
        node = _child(self.nodes[file], "results")
        if not isinstance(node, yaml.SequenceNode) or index >= len(node.value):
            return None
        item = node.value[index]
        key = _key(item, field) if field else None
        return (key or item).start_mark.line + 1


def _child(node, name):
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value == name:
                return v
    return None


def _key(node, name):
    if isinstance(node, yaml.MappingNode):
        for k, _ in node.value:
            if k.value == name:
                return k
    return None


def _rows(cat: "RawCatalog") -> Iterator[tuple[str, int, "schema.Result", "schema.ResultSource"]]:
    for e in cat.result_files:
        for i, r in zip(e.positions or range(len(e.record.results)), e.record.results):
            yield e.file, i, r, e.record.source


def _document(r, src) -> str:
    return r.url or src.url


def _decimals(x: float) -> int:
    exp = Decimal(repr(float(x))).normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


def check_results(cat: "RawCatalog") -> tuple[list[Problem], list[Problem]]:
    """(errors, warnings) found across the catalog's results."""
    lines = _Lines(cat.root)
    errors: list[Problem] = []
    warnings: list[Problem] = []
    rows = list(_rows(cat))
    errors += _duplicates(rows, lines)
    warnings += _scale(rows, lines)
    warnings += _aliases(rows, lines)
    warnings += _unmarked_aggregates(rows, lines)
    return errors, warnings


def _duplicates(rows, lines) -> list[Problem]:
    out, first = [], {}
    for file, i, r, src in rows:
        key = (_document(r, src), r.model, r.dataset, r.subset, r.task, r.metric, r.split, r.setting, r.shots,
               r.prompt, r.prompt_count, r.condition)
        if key in first:
            f0, i0, r0 = first[key]
            out.append(Problem(
                file, lines(file, i, "id"), f"results[{i}]",
                f"duplicate result: {r.id!r} has the same model, dataset, subset, task, metric, split, setting, "
                f"prompt, prompt count, condition and source as {r0.id!r} ({f0}:{lines(f0, i0, 'id')}); "
                "remove one, or name what sets them apart (subset, split, condition)"))
        else:
            first[key] = (file, i, r)
    return out


def _scale(rows, lines) -> list[Problem]:
    groups = defaultdict(list)
    for file, i, r, src in rows:
        if r.unit == "percent":
            groups[(_document(r, src), r.metric)].append((file, i, r))
    out = []
    for members in groups.values():
        big = [r.value for _, _, r in members if r.value >= 1]
        if len(big) < MIN_SIBLINGS:
            continue
        lo, hi = min(big), max(big)
        for file, i, r in members:
            if 0 < r.value < 1 and lo <= r.value * 100 <= hi:
                out.append(Problem(
                    file, lines(file, i, "value"), f"results[{i}].value",
                    f"value {r.value:g} in unit percent looks like a fraction: its {len(big)} siblings from the same "
                    f"source ({r.metric}, percent) lie in {lo:g}–{hi:g}, and {r.value:g} × 100 would too; "
                    "check the source (unit: fraction, or the value × 100)"))
    return out


def _aliases(rows, lines) -> list[Problem]:
    groups: dict[tuple, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    where: dict[tuple, tuple[str, int]] = {}
    doubtful: set[tuple] = set()
    for file, i, r, src in rows:
        if r.subset is None:
            continue
        key = (_document(r, src), r.dataset, r.task, r.metric, r.unit, r.split, r.setting, r.shots, r.prompt,
               r.prompt_count, r.condition)
        groups[key][r.subset][r.model] = r.value
        where.setdefault(key + (r.subset,), (file, i))
        if r.doubt:
            doubtful.add(key + (r.subset,))
    out = []
    for key, by_subset in groups.items():
        seen: dict[tuple, str] = {}
        for subset, values in by_subset.items():
            if len(values) < 2 or (len(values) < 3 and max(map(_decimals, values.values())) < 3):
                continue  # two models at two decimals agree on two labels by chance often enough
            sig = tuple(sorted(values.items()))
            if sig in seen:
                if key + (subset,) in doubtful or key + (seen[sig],) in doubtful:
                    continue
                file, i = where[key + (subset,)]
                out.append(Problem(
                    file, lines(file, i, "subset"), f"results[{i}].subset",
                    f"subset {subset!r} repeats subset {seen[sig]!r} of the same source value for value, for all "
                    f"{len(values)} models ({', '.join(sorted(values))}): one target under two labels counts twice; "
                    "keep one, or say why with doubt:"))
            else:
                seen[sig] = subset
    return out


SUMMARY_WORDS = re.compile(r"\b(ave|avg|average|averaged|mean|overall|macro)\b", re.IGNORECASE)
CHANCE = 0.01  # a numeric match alone is reported when a row of the group would land this close by chance < 1%


def _unmarked_aggregates(rows, lines) -> list[Problem]:
    base = lambda r, src: (_document(r, src), r.dataset, r.task, r.metric, r.unit, r.setting, r.shots, r.prompt,
                           r.prompt_count, r.condition)
    by_split, by_subset = defaultdict(list), defaultdict(list)
    for file, i, r, src in rows:
        by_split[(base(r, src), r.model, r.split)].append((file, i, r))    # siblings differ in subset
        by_subset[(base(r, src), r.model, r.subset)].append((file, i, r))  # siblings differ in split (folds)
    # one label (subset or split) across the models of a source (and their settings and prompts): an aggregate
    # label averages for every model
    verdicts: dict[tuple, list] = defaultdict(list)
    for label, groups in (("subset", by_split), ("split", by_subset)):
        for (key, _model, _), members in groups.items():
            if len(members) < MIN_SIBLINGS + 1:
                continue
            digits = max(_decimals(m[2].value) for m in members)
            for file, i, r in members:
                parts = [m[2] for m in members if m[2] is not r and m[2].aggregate is None]
                if r.aggregate is not None or len(parts) < MIN_SIBLINGS:
                    continue
                values = [p.value for p in parts]
                mean, spread = sum(values) / len(values), max(values) - min(values)
                # the printed aggregate is off by up to half a unit of the last printed digit; the mean of the
                # printed parts by about that over sqrt(k)
                tol = 0.5 * 10 ** -digits * (1 + len(values) ** -0.5) + 1e-12
                match = spread > 0 and abs(r.value - mean) <= tol
                own = getattr(r, label)
                looks_summary = (own is None and all(getattr(p, label) is not None for p in parts)) or bool(
                    SUMMARY_WORDS.search(" ".join(x for x in (r.subset, r.split, r.id) if x)))
                unlikely = spread > 0 and 2 * tol / spread < CHANCE
                verdicts[(label, key[:5], own)].append((match, looks_summary, unlikely, file, i, r, mean, len(parts)))
    out, flagged = [], set()
    for (label, _, _), items in verdicts.items():
        consistent = all(v[0] for v in items)
        for match, looks_summary, unlikely, file, i, r, mean, k in items:
            if not match or (file, i) in flagged or not (looks_summary or (unlikely and consistent)):
                continue
            flagged.add((file, i))
            out.append(Problem(
                file, lines(file, i, "value"), f"results[{i}].value",
                f"value {r.value:g} equals the mean of its {k} siblings ({mean:.6g}; same source, model, dataset, "
                f"metric, setting, prompt and condition, other {label}s) but the result is not marked as an "
                "aggregate: add aggregate: {kind: mean, over: ...} if it averages them"))
    return out
