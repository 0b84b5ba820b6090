"""fmreview lit search against a loopback server serving OpenAlex- and arXiv-format answers: paging, the rate
limit, retries after 429/5xx, the cache (a second run sends no request) and the searches log."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from fmreview.lit import search as S
from fmreview.lit.review import Review
from fmreview.reports.cli import main


def work(n: int, title: str, **extra) -> dict:
    w = {"id": f"https://openalex.org/W{n}", "doi": f"https://doi.org/10.1000/oa.{n}", "title": title,
         "display_name": title, "publication_year": 2024, "ids": {"openalex": f"https://openalex.org/W{n}"},
         "primary_location": {"landing_page_url": f"https://doi.org/10.1000/oa.{n}",
                              "source": {"display_name": "Medical Image Analysis"}},
         "locations": [], "authorships": [{"author": {"display_name": "Ana Rivera"}}],
         "abstract_inverted_index": {"Pretrained": [0], "encoders": [1]}}
    w.update(extra)
    return w


def entry(aid: str, title: str) -> str:
    return (f"<entry><id>http://arxiv.org/abs/{aid}v1</id><published>2024-01-02T00:00:00Z</published>"
            f"<title>{title}</title><summary>Text of {aid}.</summary><author><name>Wei Chen</name></author></entry>")


def feed(total: int, entries: list[str]) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" '
            'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" xmlns:arxiv="http://arxiv.org/schemas/atom">\n'
            f"<title>ArXiv Query</title><opensearch:totalResults>{total}</opensearch:totalResults>\n"
            + "\n".join(entries) + "\n</feed>\n")


class Server:
    """Answers from ``routes(path, query) -> (status, headers, body)``; remembers every request and its time."""

    def __init__(self, routes):
        self.requests: list[tuple[float, str, dict]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                u = urlparse(self.path)
                q = {k: v[0] for k, v in parse_qs(u.query).items()}
                outer.requests.append((time.monotonic(), u.path, q))
                status, headers, body = routes(u.path, q, len(outer.requests))
                data = body.encode("utf-8")
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    monkeypatch.setattr(S, "INTERVAL", {"openalex": 0.0, "arxiv": 0.0})
    monkeypatch.setattr(S, "BACKOFF", 0.0)
    monkeypatch.setattr(S, "_last", {})


def openalex_routes(fail_first: int = 0, status: int = 429):
    pages = {"*": ([work(1, "A foundation model for chest radiographs"),
                    work(2, "Universal segmentation of medical volumes")], "c2"),
             "c2": ([work(3, "Echocardiography view classification")], None)}

    def routes(path, q, n):
        if n <= fail_first:
            return status, {"Retry-After": "0"}, '{"error": "Too many requests"}'
        assert path == "/works"
        results, nxt = pages[q["cursor"]]
        body = {"meta": {"count": 3, "db_response_time_ms": 5, "page": None, "per_page": int(q["per-page"]),
                         "next_cursor": nxt, "groups_count": None}, "results": results, "group_by": []}
        return 200, {"Content-Type": "application/json"}, json.dumps(body, indent=2)
    return routes


def run(capsys, *argv):
    code = main(["lit", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_openalex_paging_import_and_cache(tmp_path, capsys, monkeypatch):
    srv = Server(openalex_routes())
    monkeypatch.setenv("FMREVIEW_OPENALEX_URL", srv.url)
    try:
        rv = tmp_path / "rv"
        code, out, err = run(capsys, "search", "--openalex", "foundation model", "--review", str(rv))
        assert code == 0, err
        assert "2 pages, 2 requests, 3 records, 3 new" in out
        assert [r[2]["cursor"] for r in srv.requests] == ["*", "c2"]
        assert srv.requests[0][2]["search"] == "foundation model" and srv.requests[0][2]["per-page"] == "200"
        review = Review(rv)
        recs = sorted(review.records.values(), key=lambda r: r.doi)
        assert [r.doi for r in recs] == ["10.1000/oa.1", "10.1000/oa.2", "10.1000/oa.3"]
        assert all(r.source == "openalex" and r.file.startswith("cache/openalex-") for r in recs)
        assert recs[0].abstract == "Pretrained encoders" and recs[0].authors == ["Ana Rivera"]
        # raw text and line point into the cached response kept in the review
        cached = (rv / recs[0].file).read_text(encoding="utf-8")
        assert json.loads(recs[0].raw)["id"] == "https://openalex.org/W1" and recs[0].raw in cached
        searches = yaml.safe_load((rv / "review.yaml").read_text())["searches"]
        assert len(searches) == 2 and {s["query"] for s in searches} == {"foundation model"}
        assert all(s["source"] == "openalex" and s["searched"].startswith("20") and s["sha256"] for s in searches)
        assert sum(s["records"] for s in searches) == 3

        before = {p: p.read_bytes() for p in rv.rglob("*") if p.is_file()}
        code, out, err = run(capsys, "search", "--openalex", "foundation model", "--review", str(rv))
        assert code == 0
        assert len(srv.requests) == 2  # the cache answered: no request
        assert "0 requests (from the cache), 3 records, 0 new" in out
        assert {p: p.read_bytes() for p in rv.rglob("*") if p.is_file()} == before
    finally:
        srv.close()


def test_429_then_success(tmp_path, capsys, monkeypatch):
    srv = Server(openalex_routes(fail_first=1))
    monkeypatch.setenv("FMREVIEW_OPENALEX_URL", srv.url)
    try:
        code, out, err = run(capsys, "search", "--openalex", "ct", "--review", str(tmp_path / "rv"), "--max", "2")
        assert code == 0, err
        assert len(srv.requests) == 2  # the 429, then the same page again
        assert srv.requests[0][2] == srv.requests[1][2]
        assert srv.requests[1][2]["per-page"] == "2"
        assert len(Review(tmp_path / "rv").records) == 2  # --max 2: the second page is not asked for
    finally:
        srv.close()


def test_persistent_5xx_fails_and_writes_nothing(tmp_path, capsys, monkeypatch):
    srv = Server(openalex_routes(fail_first=100, status=503))
    monkeypatch.setenv("FMREVIEW_OPENALEX_URL", srv.url)
    try:
        code, out, err = run(capsys, "search", "--openalex", "ct", "--review", str(tmp_path / "rv"))
        assert code == 1
        assert f"HTTP 503 after {S.RETRIES + 1} tries" in err
        assert len(srv.requests) == S.RETRIES + 1
        assert not (tmp_path / "rv").exists()
    finally:
        srv.close()


def test_backoff_grows(monkeypatch):
    waits = []
    monkeypatch.setattr(S, "BACKOFF", 0.5)
    monkeypatch.setattr(S.time, "sleep", waits.append)
    srv = Server(lambda path, q, n: (500, {}, "oops") if n < 4 else (200, {}, "ok"))
    try:
        assert S.get(srv.url + "/x", "openalex") == b"ok"
        assert waits == [0.5, 1.0, 2.0]
    finally:
        srv.close()


def test_arxiv_paging_rate_limit_and_query(tmp_path, capsys, monkeypatch):
    def routes(path, q, n):
        start = int(q["start"])
        chunk = [entry("2401.0000%d" % i, f"Paper number {i} about segmentation") for i in range(3)]
        return 200, {"Content-Type": "application/atom+xml"}, feed(3, chunk[start:start + int(q["max_results"])])

    srv = Server(routes)
    monkeypatch.setenv("FMREVIEW_ARXIV_URL", srv.url + "/api/query")
    monkeypatch.setattr(S, "INTERVAL", {"openalex": 0.0, "arxiv": 0.3})
    monkeypatch.setattr(S, "PAGE", {"openalex": 200, "arxiv": 2})
    try:
        rv = tmp_path / "rv"
        code, out, err = run(capsys, "search", "--arxiv", "foundation model", "--review", str(rv))
        assert code == 0, err
        assert [r[2]["start"] for r in srv.requests] == ["0", "2"]
        assert srv.requests[0][1] == "/api/query"
        assert srv.requests[0][2]["search_query"] == "all:foundation AND all:model"
        assert srv.requests[1][0] - srv.requests[0][0] >= 0.29  # one request per interval
        recs = Review(rv).records.values()
        assert sorted(r.arxiv for r in recs) == ["2401.00000", "2401.00001", "2401.00002"]
        assert all(r.source == "arxiv" and r.raw.startswith("<entry>") for r in recs)
        searches = yaml.safe_load((rv / "review.yaml").read_text())["searches"]
        assert [s["query"] for s in searches] == ["foundation model"] * 2
    finally:
        srv.close()


def test_arxiv_field_query_passes_through():
    assert S._arxiv_query("ti:segment AND cat:eess.IV") == "ti:segment AND cat:eess.IV"
    assert S._arxiv_query('"foundation model" CT') == 'all:"foundation model" AND all:CT'


def test_untitled_work_in_an_answer_is_skipped_with_warning(tmp_path, capsys, monkeypatch):
    untitled = work(2, None, display_name=None)
    body = {"meta": {"next_cursor": None}, "results": [work(1, "A titled work about CT"), untitled]}
    srv = Server(lambda path, q, n: (200, {}, json.dumps(body, indent=1)))
    monkeypatch.setenv("FMREVIEW_OPENALEX_URL", srv.url)
    try:
        code, out, err = run(capsys, "search", "--openalex", "x", "--review", str(tmp_path / "rv"))
        assert code == 0
        assert "record has no title" in err and "skipped" in err and ".json:" in err
        assert [r.title for r in Review(tmp_path / "rv").records.values()] == ["A titled work about CT"]
    finally:
        srv.close()


def test_bad_answer_is_not_cached_and_nothing_is_created(tmp_path, capsys, monkeypatch):
    srv = Server(lambda path, q, n: (200, {"Content-Type": "text/html"}, "<html>maintenance</html>"))
    monkeypatch.setenv("FMREVIEW_OPENALEX_URL", srv.url)
    try:
        code, _, err = run(capsys, "search", "--openalex", "x", "--review", str(tmp_path / "rv"))
        assert code == 1 and "openalex: not a JSON answer" in err
        assert not (tmp_path / "rv").exists()
        code, _, err = run(capsys, "search", "--openalex", "x", "--review", str(tmp_path / "rv"))
        assert code == 1 and len(srv.requests) == 2  # asked again: the bad answer was not cached
    finally:
        srv.close()


def test_no_hits_is_recorded(tmp_path, capsys, monkeypatch):
    srv = Server(lambda path, q, n: (200, {}, feed(0, [])))
    monkeypatch.setenv("FMREVIEW_ARXIV_URL", srv.url)
    try:
        code, out, _ = run(capsys, "search", "--arxiv", "nothing matches this", "--review", str(tmp_path / "rv"))
        assert code == 0 and "0 records, 0 new" in out
        (s,) = yaml.safe_load((tmp_path / "rv" / "review.yaml").read_text())["searches"]
        assert (s["source"], s["query"], s["records"]) == ("arxiv", "nothing matches this", 0)
    finally:
        srv.close()
