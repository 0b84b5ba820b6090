"""Searching OpenAlex and arXiv from a review, so the search itself is recorded (query, date, what came back).

``search(review_dir, "openalex", QUERY)`` pages through OpenAlex's ``/works?search=`` with cursor paging;
``"arxiv"`` pages through arXiv's ``/api/query`` with ``start``/``max_results``. Each page's response is kept as
a file in the review's ``cache/`` (named by a hash of the request URL) and imported like an export file (source
"openalex"/"arxiv"), so each record's raw text, file and line point into the cached response. Running the same
search again reads the cache and sends no request.

Politeness: requests to one service are spaced by :data:`INTERVAL` seconds (arXiv asks for one request every
3 s); a 429 or 5xx answer is retried up to :data:`RETRIES` times with exponential backoff starting at
:data:`BACKOFF` seconds, or after the server's ``Retry-After``. Tests set the intervals to 0 and point the base
URLs at a loopback server through ``FMREVIEW_OPENALEX_URL`` / ``FMREVIEW_ARXIV_URL``.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from fmreview.catalog.yamlio import write_bytes_atomic
from fmreview.lit.importers import ATOM, FileImport, import_files
from fmreview.lit.review import Review, ReviewError

OPENALEX_URL = "https://api.openalex.org"
ARXIV_URL = "http://export.arxiv.org/api/query"
INTERVAL = {"openalex": 0.1, "arxiv": 3.0}  # seconds between requests to one service
RETRIES = 4
BACKOFF = 1.0  # first retry waits this long, then doubles
TIMEOUT = 60.0
PAGE = {"openalex": 200, "arxiv": 100}  # OpenAlex's per-page maximum; arXiv's recommended slice
DEFAULT_MAX = 500
SOURCES = ("openalex", "arxiv")

_last: dict[str, float] = {}


@dataclass
class SearchResult:
    source: str
    query: str
    pages: list[str] = field(default_factory=list)  # cache files, relative to the review
    requests: int = 0  # requests sent (0 when every page came from the cache)
    records: int = 0
    new: int = 0
    imports: list[FileImport] = field(default_factory=list)
    fetched: list[Path] = field(default_factory=list)  # cache files written by this run


def _wait(source: str) -> None:
    gap = INTERVAL.get(source, 0.0)
    if gap > 0 and source in _last:
        delay = _last[source] + gap - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    _last[source] = time.monotonic()


def get(url: str, source: str) -> bytes:
    """GET with the rate limit and retries; errors a user can act on are ReviewErrors."""
    import requests

    headers = {"User-Agent": "fmreview (systematic review toolkit; lit search)"}
    for attempt in range(RETRIES + 1):
        _wait(source)
        try:
            resp = requests.get(url, headers=headers, timeout=TIMEOUT)
        except requests.RequestException as e:
            if attempt == RETRIES:
                raise ReviewError(f"{source}: request failed after {RETRIES + 1} tries: {url}: "
                                  f"{type(e).__name__}: {e}") from None
            time.sleep(BACKOFF * 2 ** attempt)
            continue
        if resp.status_code == 429 or resp.status_code >= 500:
            if attempt == RETRIES:
                raise ReviewError(f"{source}: HTTP {resp.status_code} after {RETRIES + 1} tries: {url}")
            retry_after = resp.headers.get("Retry-After", "")
            wait = float(retry_after) if re.fullmatch(r"\d+(\.\d+)?", retry_after) else BACKOFF * 2 ** attempt
            time.sleep(min(wait, 120.0))
            continue
        if resp.status_code != 200:
            raise ReviewError(f"{source}: HTTP {resp.status_code} for {url}: {resp.text[:200]}")
        return resp.content
    raise AssertionError("unreachable")


def _cached(root: Path, source: str, url: str, ext: str) -> tuple[Path, bool]:
    """The cache file for ``url`` and whether it was already there."""
    name = f"{source}-{hashlib.sha256(url.encode()).hexdigest()[:16]}.{ext}"
    return root / "cache" / name, (root / "cache" / name).exists()


def _fetch(root: Path, source: str, url: str, ext: str, result: SearchResult) -> bytes:
    path, hit = _cached(root, source, url, ext)
    if hit:
        return path.read_bytes()
    data = get(url, source)
    result.requests += 1
    result.fetched.append(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, data)
    return data


def _arxiv_query(query: str) -> str:
    """A plain query → arXiv's syntax (every word in any field); a query with field prefixes is passed as is."""
    if re.search(r"\b(ti|au|abs|co|jr|cat|rn|id|all):", query):
        return query
    words = re.findall(r'"[^"]+"|\S+', query)
    return " AND ".join(f"all:{w}" for w in words)


def _pages(root: Path, source: str, query: str, max_results: int, result: SearchResult) -> list[Path]:
    """Fetch (or read from the cache) the answer pages of a search; returns the cache files holding records."""
    page_files: list[Path] = []
    if source == "openalex":
        base = os.environ.get("FMREVIEW_OPENALEX_URL", OPENALEX_URL).rstrip("/")
        cursor, got = "*", 0
        while cursor and got < max_results:
            per = min(PAGE["openalex"], max_results - got)
            url = f"{base}/works?" + urlencode({"search": query, "per-page": per, "cursor": cursor})
            data = _fetch(root, source, url, "json", result)
            try:
                doc = json.loads(data.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise ReviewError(f"openalex: not a JSON answer from {url}: {e}") from None
            works = doc.get("results") or []
            if works:
                page_files.append(_cached(root, source, url, "json")[0])
            got += len(works)
            cursor = (doc.get("meta") or {}).get("next_cursor")
            if not works:
                break
    else:
        base = os.environ.get("FMREVIEW_ARXIV_URL", ARXIV_URL)
        start = 0
        while start < max_results:
            per = min(PAGE["arxiv"], max_results - start)
            url = base + "?" + urlencode({"search_query": _arxiv_query(query), "start": start, "max_results": per,
                                          "sortBy": "relevance"})
            data = _fetch(root, source, url, "xml", result)
            try:
                feed = ET.fromstring(data)
            except ET.ParseError as e:
                raise ReviewError(f"arxiv: not an Atom feed from {url}: {e}") from None
            entries = feed.findall(f"{ATOM}entry")
            total = feed.findtext("{http://a9.com/-/spec/opensearch/1.1/}totalResults")
            if entries:
                page_files.append(_cached(root, source, url, "xml")[0])
            start += len(entries)
            if len(entries) < per or (total and total.isdigit() and start >= int(total)):
                break
    return page_files


def search(root: Path | str, source: str, query: str, max_results: int = DEFAULT_MAX) -> SearchResult:
    """Run ``query`` on ``source`` (openalex or arxiv), cache each page in the review and import the results."""
    if source not in SOURCES:
        raise ReviewError(f"unknown search source {source!r}; expected one of {', '.join(SOURCES)}")
    if not query.strip():
        raise ReviewError("empty query; expected search words")
    if max_results < 1:
        raise ReviewError(f"--max {max_results}: expected a positive number of records")
    root = Path(root)
    made = [d for d in (root, root / "cache") if not d.exists()]
    result = SearchResult(source, query)
    date = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
    entry = {"query": query, "searched": date, "max": max_results}
    try:
        page_files = _pages(root, source, query, max_results, result)
        result.pages = [f"cache/{p.name}" for p in page_files]
        if not page_files:  # no hits is a result too: the search is recorded so that it can be reported
            review = Review.create(root)
            review.settings.setdefault("searches", []).append(
                {"source": source, "records": 0, "new": 0, "date": date, **entry})
            review.save_settings()
            return result
        imports = import_files(root, page_files, source, names=result.pages, search=entry, skip_untitled=True)
    except ReviewError:
        # an answer that does not import is one we cannot use: do not keep it, or the next run would reuse it
        for p in result.fetched:
            p.unlink(missing_ok=True)
        for d in (root / "cache", root):  # and the folders this run made, when they are left empty
            if d in made and d.exists() and not any(d.iterdir()):
                d.rmdir()
        raise
    result.imports = imports
    result.records = sum(i.records for i in imports)
    result.new = sum(i.new for i in imports)
    return result
