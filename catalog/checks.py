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

- *spread not stated*: an ``uncertainty.sd`` without ``over:``. Pooling takes an SD as the value's sampling
  error only when it is over the test cases (or a bootstrap of them); ML papers' "mean ± SD" is most often over
  seeds, runs or folds. Say which (``over: runs`` with ``runs: 3``), or ``over: not-stated`` when the source
  does not.

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
        node = _entry(self.nodes[file], "results")[1]
        if not isinstance(node, yaml.SequenceNode) or index >= len(node.value):
            return None
        item = node.value[index]
        key = _entry(item, field)[0] if field else None
        return (key or item).start_mark.line + 1


def _entry(node, name):
    """The (key, value) nodes of ``name`` in a mapping node, or (None, None)."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value == name:
                return k, v
    return None, None


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
    warnings += _spread_unstated(rows, lines)
    rule_errors, rule_warnings = check_rules(cat)
    return errors + rule_errors, warnings + rule_warnings


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


def _spread_unstated(rows, lines) -> list[Problem]:
    return [Problem(file, lines(file, i, "uncertainty"), f"results[{i}].uncertainty.over",
                    "what the SD is over is not stated: add over: cases, bootstrap, runs (with runs: K) or folds, "
                    "or over: not-stated where the source does not say; pooling uses an SD as a sampling error "
                    "only over cases or a bootstrap")
            for file, i, r, src in rows if r.uncertainty and r.uncertainty.sd is not None and r.uncertainty.over is None]


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


# ---------------------------------------------------------------------------------------------- issue 13 rules
#
# ``reported_by`` belongs to a result file's source (one document read), not to each row. The rule, per file:
#
# - *self* (error when broken): the document is its models' own -- the source paper is the ``paper`` of at least
#   one model the file reports on, or the document is that model's own README or card (in the repository of one
#   of the model entry's ``sources`` or of its ``code``: kaiko.ai's eva docs for kaiko's encoders). A
#   ``reported_by: self`` file with neither is someone else's benchmark: it is third-party. Rows of other models in a self file are the
#   source authors' baselines; the catalog keeps those in a separate ``…-baselines.yaml`` file of the same
#   source marked third-party (as chexagent, eva, huatuogpt-vision and lingshu do), so that a query for
#   ``reported_by: self`` returns what the models' own authors reported.
# - *third-party* (warning): a third-party file that reports a model whose own paper is the source paper, read at
#   a URL that the model's entry itself cites as its own (in the repository of one of its ``sources`` or of its
#   ``code``): the catalog then says twice that this document is the model's own. It is a warning, not an
#   error, because a document can also carry its authors' runs of an earlier model of theirs (nnU-Net Revisited's
#   original nnU-Net rows are third-party: that paper is not nnU-Net's own), and a paper id alone, without the
#   URL, does not say which copy was read.
#
# ``setting`` and ``prompt`` are ``not-stated`` unless the source states them (warning): a result whose note says
# its setting is not stated, or was assumed, while ``setting`` carries another word and ``inferred`` does not name
# it; likewise a note that says so of the prompt while ``prompt`` is the default ``none`` (a stated prompt type
# such as ``text`` whose wording the source does not give is a stated prompt).
#
# ``inferred`` (error when malformed): each name is a field of the entry, set on it.

_NOT_STATED = re.compile(
    r"\b(setting|prompt(?: type)?)s?\b:?(?:[^.;:]{0,60}?)\b(?:not (?:stated|given|reported|said)|(?:an )?assum\w*)",
    re.IGNORECASE)


def check_rules(cat: "RawCatalog") -> tuple[list[Problem], list[Problem]]:
    """(errors, warnings) of the curation rules of issue 13: reported_by against the models' own papers,
    settings and prompts the source does not state, and ``inferred`` lists."""
    lines = _Lines(cat.root)
    errors: list[Problem] = []
    warnings: list[Problem] = []
    for e in cat.result_files:
        err, warn = _reported_by(cat, e)
        errors += err
        warnings += warn
    rows = list(_rows(cat))
    warnings += _unstated(rows, lines)
    errors += _inferred_results(rows, lines)
    errors += _inferred_entries(cat)
    lic_errors, lic_warnings = _licences(cat)
    return errors + lic_errors, warnings + lic_warnings


def _source_line(cat, file: str, field: str) -> int | None:
    from . import yamlio

    return yamlio.line_of(cat.root / file, ["source", field])


_REPO_RE = re.compile(r"^https?://(?:www\.)?(github\.com|huggingface\.co)/([^/?#]+/[^/?#]+)", re.IGNORECASE)


def _where(url: str) -> str:
    """The repository a URL is in (github.com/OWNER/NAME, huggingface.co/OWNER/NAME), else the URL itself: a
    README at one commit and the same repository's docs at another are one project's own pages."""
    m = _REPO_RE.match(url)
    return f"{m.group(1).lower()}/{m.group(2).lower().removesuffix('.git')}" if m else url.rstrip("/")


def _is_own_document(url: str, model) -> bool:
    """The document is one the model's entry cites as its own: in the repository of one of its sources or of its
    code, or the same page."""
    mine = {_where(s.url) for s in model.sources}
    if model.code:
        mine.add(_where(model.code))
    return _where(url) in mine


def _reported_by(cat, e) -> tuple[list[Problem], list[Problem]]:
    src = e.record.source
    seen: dict[str, object] = {}  # by id: comparing pydantic records field by field was most of a cold load
    for r in e.record.results:
        m = cat.models.get(r.model)
        if m is not None and r.model not in seen:
            seen[r.model] = m.record
    models = list(seen.values())
    with_paper = [m for m in models if m.paper]
    own = [m for m in with_paper if m.paper == src.paper]
    if src.reported_by == "self":
        urls = {r.url or src.url for r in e.record.results}
        if with_paper and not own and not any(_is_own_document(u, m) for u in urls for m in models):
            shown = "; ".join(f"{m.id}'s own paper is {m.paper}" for m in with_paper[:3])
            more = f"; and {len(with_paper) - 3} more" if len(with_paper) > 3 else ""
            return [Problem(e.file, _source_line(cat, e.file, "reported_by"), "source.reported_by",
                            f"expected third-party: the source paper {src.paper} is not the own paper of any model "
                            f"in this file ({shown}{more}); reported_by: self is for the models' own paper, README "
                            "or card")], []
        return [], []
    out = []
    for m in own:
        urls = {r.url or src.url for r in e.record.results if r.model == m.id}
        if any(_is_own_document(u, m) for u in urls):
            out.append(Problem(e.file, _source_line(cat, e.file, "reported_by"), "source.reported_by",
                               f"expected self for {m.id}: the source paper {src.paper} is {m.id}'s own paper and the "
                               f"document read is one its entry cites as its own; move its rows to a file of this "
                               "source marked reported_by: self"))
    return [], out


def _unstated(rows, lines) -> list[Problem]:
    out = []
    for file, i, r, _ in rows:
        if not r.note:
            continue
        for m in _NOT_STATED.finditer(r.note):
            name = "setting" if m.group(1).lower().startswith("setting") else "prompt"
            value = getattr(r, name)
            # a stated prompt type (text, box) with unstated wording is a stated prompt; only the default `none`
            # (the field never written) contradicts a note that says no prompt was stated
            if value == "not-stated" or name in r.inferred or (name == "prompt" and value != "none"):
                continue
            out.append(Problem(file, lines(file, i, name), f"results[{i}].{name}",
                               f"the note says the {name} is not stated or was assumed ({m.group(0)!r}), yet {name} is "
                               f"{value!r}: write {name}: not-stated, or list it in inferred: [{name}] and say why"))
            break
    return out


def _inferred_problem(fields: dict, inferred: list[str], record) -> list[tuple[str, str]]:
    bad = []
    for name in inferred:
        if name not in fields or name in ("id", "inferred", "note"):
            bad.append((name, f"inferred names {name!r}, which is not a field of this entry; expected field names "
                              "such as setting, prompt, dataset, modalities"))
        elif getattr(record, name) in (None, [], ""):
            bad.append((name, f"inferred names {name!r}, which is not set on this entry"))
    return bad


def _inferred_results(rows, lines) -> list[Problem]:
    out = []
    for file, i, r, _ in rows:
        for name, msg in _inferred_problem(type(r).model_fields, r.inferred, r):
            out.append(Problem(file, lines(file, i, "inferred"), f"results[{i}].inferred", msg))
    return out


def _inferred_entries(cat) -> list[Problem]:
    from . import yamlio

    out = []
    for store in (cat.models, cat.datasets):
        for e in store.values():
            rec = e.record
            for name, msg in _inferred_problem(type(rec).model_fields, rec.inferred, rec):
                out.append(Problem(e.file, yamlio.line_of(cat.root / e.file, ["inferred"]), "inferred", msg))
    return out


# ---------------------------------------------------------------------------------------------- licences
#
# A licence is read from a LICENSE file or a model card, and says where (issue 13, part 2). Errors:
#
# - a model's ``licence`` or a checkpoint's ``licence`` without its own ``licence_source``;
# - a licence source that is a badge (img.shields.io, or a locator naming a badge): a badge is no licence;
# - a ``licence_conflict`` that is no conflict (fewer than two claims, or every claim the same licence), or whose
#   entry's ``licence`` is not one of its licence-file or model-card claims (a badge or a list never decides).
#
# A licence source on GitHub or Hugging Face that names no commit is counted by ``catalog.pinning`` with the other
# sources (an error under ``catalog validate --strict``).

_BADGE = re.compile(r"img\.shields\.io|badgen\.net|\bbadges?\b", re.IGNORECASE)


def _licence_problems(file: str, path, loc: tuple, rec) -> tuple[list[Problem], list[Problem]]:
    from . import yamlio

    errors, warnings = [], []
    where = "".join(f"[{p}]" if isinstance(p, int) else p for p in loc) + ("." if loc else "")
    line = lambda *more: yamlio.line_of(path, loc + more)  # noqa: E731
    src = rec.licence_source
    if rec.licence and src is None:
        errors.append(Problem(file, line("licence"), where + "licence",
                              f"licence {rec.licence!r} has no licence_source: cite the LICENSE file at a commit or the "
                              "model card it was read in (url + locator), or leave the licence out"))
    if src is not None:
        if _BADGE.search(src.url) or _BADGE.search(src.locator):
            errors.append(Problem(file, line("licence_source"), where + "licence_source",
                                  "the licence source is a badge; a badge is not a licence: cite the LICENSE file or "
                                  "the model card"))
    claims = rec.licence_conflict
    if claims:
        if len(claims) < 2 or len({c.licence for c in claims}) < 2:
            errors.append(Problem(file, line("licence_conflict"), where + "licence_conflict",
                                  "licence_conflict needs at least two claims that differ (each with its place and "
                                  "source)"))
        elif rec.licence and rec.licence not in {c.licence for c in claims if c.place in ("licence-file",
                                                                                            "model-card")}:
            errors.append(Problem(file, line("licence"), where + "licence",
                                  f"licence {rec.licence!r} is none of the licence-file or model-card claims of its "
                                  "licence_conflict; a badge, a README's words or a list never decide the licence"))
    return errors, warnings


def _licences(cat) -> tuple[list[Problem], list[Problem]]:
    errors: list[Problem] = []
    warnings: list[Problem] = []
    for e in cat.models.values():
        path = cat.root / e.file
        for loc, rec in [((), e.record)] + [(("checkpoints", i), c) for i, c in enumerate(e.record.checkpoints)]:
            if not (rec.licence or rec.licence_source or rec.licence_conflict):
                continue
            err, warn = _licence_problems(e.file, path, loc, rec)
            errors += err
            warnings += warn
    return errors, warnings
