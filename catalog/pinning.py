"""Are the sources pinned? A value read from a GitHub or Hugging Face page must name the commit it was read at
(``blob/<sha>/path``, ``tree/<sha>``, ``raw.githubusercontent.com/<owner>/<repo>/<sha>/…``, ``resolve/<sha>/``,
``?rev=<sha>``): a README at ``main`` drifts, so the cited text may no longer be there.

``unpinned(cat)`` lists every such URL in the sources values were read at (model and dataset ``sources``, a
results file's ``source.url`` and each result's own ``url``) that names no commit. ``catalog validate`` reports
the share; ``catalog validate --strict`` makes each one an error with file:line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import Problem
from .yamlio import line_of

HOSTS = re.compile(r"^https?://(www\.)?(github\.com|raw\.githubusercontent\.com|huggingface\.co)/", re.I)
SHA = r"[0-9a-f]{7,40}"
PINNED = re.compile(
    rf"(/(blob|tree|commit|resolve|raw)/{SHA}(/|$|#|\?))"  # github and hugging face paths at a commit
    rf"|(raw\.githubusercontent\.com/[^/]+/[^/]+/{SHA}/)"
    rf"|([?&]rev(ision)?={SHA}\b)", re.I)


@dataclass
class Url:
    file: str
    loc: tuple
    url: str


def _urls(cat):
    for kind, store in (("models", cat.models), ("datasets", cat.datasets)):
        for e in store.values():
            for k, s in enumerate(e.record.sources or []):
                yield Url(e.file, ("sources", k, "url"), s.url)
            if kind == "models":  # where each licence was read (the model's and each checkpoint's own)
                if e.record.licence_source:
                    yield Url(e.file, ("licence_source", "url"), e.record.licence_source.url)
                for i, c in enumerate(e.record.checkpoints):
                    if c.licence_source:
                        yield Url(e.file, ("checkpoints", i, "licence_source", "url"), c.licence_source.url)
    for e in cat.result_files:
        yield Url(e.file, ("source", "url"), e.record.source.url)
        for i, r in enumerate(e.record.results):
            if r.url:
                yield Url(e.file, ("results", i, "url"), r.url)


def hosted(url: str) -> bool:
    return bool(HOSTS.match(url or ""))


def pinned(url: str) -> bool:
    return bool(PINNED.search(url or ""))


def census(cat) -> tuple[int, list[Url]]:
    """(number of GitHub/Hugging Face source URLs, the ones that name no commit)."""
    urls = [u for u in _urls(cat) if hosted(u.url)]
    return len(urls), [u for u in urls if not pinned(u.url)]


def unpinned_problems(cat) -> list[Problem]:
    """One error per unpinned GitHub/Hugging Face source URL, with its file and line (for --strict)."""
    _, bad = census(cat)
    out = []
    for u in bad:
        out.append(Problem(u.file, line_of(cat.root / u.file, u.loc), ".".join(map(str, u.loc)),
                           f"{u.url} names no commit: cite blob/<sha>/path (or ?rev=<sha> on the hub) at the "
                           "revision you read"))
    return out
