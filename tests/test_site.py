"""The static site: deterministic builds, safe file names, the output-folder rules, and the pages in a real
browser (Playwright driving Debian's chromium, pages opened from file://).

The browser tests fail, never skip, when playwright or chromium is missing: CI installs both (.ci/run)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from conftest import write_catalog
from fmreview.catalog import load
from fmreview.catalog.errors import CatalogError
from fmreview.reports import site as site_mod
from fmreview.reports.cli import UserError, main
from fmreview.reports.site import MANIFEST, build_site, read_manifest
from fmreview.reports.site_data import mean_ranks, page_path, slug

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]

ODD_ID = "med+sam_v1.5"
ODD_NAME = '<b>Odd "name"</b> & co'
EXTRA = {
    f"models/{ODD_ID}.yaml": f"""
        id: {ODD_ID}
        name: '{ODD_NAME}'
        year: 2024
        family: vision-only
        band: organ-task-specific
        model_group: vision-fm
        base_model: medsam
        modalities: [ct]
        tasks: [segmentation]
        sources:
        - url: https://example.org/odd?a=1&b=<2>
          locator: README <section>
    """,
    "results/odd.yaml": f"""
        source:
          paper: medsam-2024
          url: https://example.org/odd-results
        results:
        - id: r-odd+btcv
          model: {ODD_ID}
          dataset: btcv
          task: segmentation
          metric: dice
          value: 0.5
          unit: fraction
          setting: zero-shot
          prompt: box
          locator: Table <9> & "10"
    """,
}


def _catalog(root: Path, extra: dict | None = None) -> Path:
    return write_catalog(root, {**EXTRA, **(extra or {})})


def _tree(d: Path) -> dict[str, bytes]:
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """The site of the test catalog, built once for the browser tests."""
    base = tmp_path_factory.mktemp("site")
    cat = _catalog(base / "catalog")
    build_site(base / "out", catalog=cat)
    return cat, base / "out"


# ---------------------------------------------------------------------------------------- without a browser


def test_same_catalog_same_bytes(tmp_path):
    cat = _catalog(tmp_path / "catalog")
    build_site(tmp_path / "a", catalog=cat)
    build_site(tmp_path / "b", catalog=cat)
    a, b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []
    for must in ("index.html", "search.html", "models.html", "datasets.html", "papers.html", "sitemap.xml",
                 "search-index.js", "static/site.css", "static/site.js", "models/medsam.html", "datasets/btcv.html",
                 "papers/medsam-2024.html", MANIFEST):
        assert must in a, must
    assert any(k.startswith("figures/") and k.endswith(".svg") for k in a)


def test_slug_is_safe_and_one_to_one():
    ids = ["medsam", ODD_ID, "a~2b", "a+b", "A+b", ".hidden", "ü", "a/b"]
    slugs = [slug(i) for i in ids]
    assert len(set(slugs)) == len(ids)
    assert all(re.fullmatch(r"[a-z0-9._~-]+", s) and not s.startswith(".") for s in slugs)
    assert slug("medsam") == "medsam" and slug(ODD_ID) == "med~2bsam_v1.5"


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("href", "src") and v is not None:
                self.links.append(v)


def test_odd_ids_escaped_and_every_local_link_resolves(built):
    _, out = built
    page = out / page_path("model", ODD_ID)
    assert page.name == "med~2bsam_v1.5.html" and page.is_file()
    text = page.read_text(encoding="utf-8")
    assert "<b>Odd" not in text and "&lt;b&gt;Odd &#34;name&#34;&lt;/b&gt; &amp; co" in text
    assert "Table &lt;9&gt; &amp; &#34;10&#34;" in text
    # the model it is built on lists it, and the link reaches its page
    assert 'href="../models/med~2bsam_v1.5.html"' in (out / "models/medsam.html").read_text(encoding="utf-8")
    broken = []
    for html in sorted(out.rglob("*.html")):
        p = _Links()
        p.feed(html.read_text(encoding="utf-8"))
        for link in p.links:
            u = urlsplit(link)
            if u.scheme or not u.path:  # another host (a source) or a fragment of this page
                assert u.scheme in ("https", "http", ""), link
                continue
            if not (html.parent / unquote(u.path)).resolve().is_file():
                broken.append(f"{html.relative_to(out)} -> {link}")
    assert broken == []
    sitemap = (out / "sitemap.xml").read_text(encoding="utf-8")
    assert "<loc>models/med~2bsam_v1.5.html</loc>" in sitemap


def test_refuses_foreign_files_unless_force_and_deletes_only_its_own(tmp_path):
    cat = _catalog(tmp_path / "catalog")
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="notes.txt"):
        build_site(out, catalog=cat)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert main(["site", "--out", str(out), "--catalog", str(cat), "--quiet"]) == 1

    build_site(out, catalog=cat, force=True)
    assert (out / "notes.txt").read_text() == "mine"
    listed = read_manifest(out)
    assert "notes.txt" not in listed and "models/clip.html" in listed
    assert sorted(listed) == sorted(k for k in _tree(out) if k not in ("notes.txt", MANIFEST))

    # a rebuild without clip deletes clip's page (it wrote it) and keeps the foreign file
    (cat / "models/clip.yaml").unlink()
    (cat / "papers/clip-2021.yaml").unlink()
    res = (cat / "results/medsam-2024.yaml").read_text()
    (cat / "results/medsam-2024.yaml").write_text(res[:res.index("- id: r-clip-chexpert")])
    assert main(["site", "--out", str(out), "--catalog", str(cat), "--force", "--quiet"]) == 0
    assert not (out / "models/clip.html").exists() and not (out / "papers/clip-2021.html").exists()
    assert (out / "notes.txt").read_text() == "mine"
    assert "models/clip.html" not in read_manifest(out)
    # a site folder holding only what the last build wrote needs no --force
    (out / "notes.txt").unlink()
    build_site(out, catalog=cat)


def test_manifest_cannot_point_outside(tmp_path):
    cat = _catalog(tmp_path / "catalog")
    out = tmp_path / "out"
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    build_site(out, catalog=cat)
    with open(out / MANIFEST, "a", encoding="utf-8") as f:
        f.write("../victim.txt\n" + str(victim) + "\n")
    build_site(out, catalog=cat)
    assert victim.read_text() == "keep"


def test_invalid_catalog_writes_nothing(tmp_path, capsys):
    cat = _catalog(tmp_path / "catalog", {"models/bad.yaml": "id: bad\nname: Bad\nyear: 2024\nfamily: nope\n"})
    out = tmp_path / "out"
    with pytest.raises(CatalogError):
        build_site(out, catalog=cat)
    assert main(["site", "--out", str(out), "--catalog", str(cat)]) == 1
    err = capsys.readouterr().err
    assert "models/bad.yaml" in err and "family" in err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog"]  # no temporary folder left either


def test_failed_build_leaves_the_old_site(tmp_path, monkeypatch):
    cat = _catalog(tmp_path / "catalog")
    out = tmp_path / "out"
    build_site(out, catalog=cat)
    before = _tree(out)

    def broken(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(site_mod, "render_site", broken)
    with pytest.raises(RuntimeError):
        build_site(out, catalog=cat)
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog", "out"]


def test_mean_ranks_agree_with_rank_comparison():
    import pandas as pd

    from fmreview.analysis import rank_comparison

    arms = pd.DataFrame({"study": ["a"] * 3 + ["b"] * 3 + ["c"] * 3, "treatment": ["x", "y", "z"] * 3,
                         "yi": [0.9, 0.8, 0.7, 0.6, 0.8, 0.8, 0.5, 0.4, 0.9]})
    for lower in (False, True):
        mine, n = mean_ranks(arms, lower)
        rk = rank_comparison(arms, "study", "treatment", "yi", lower_is_better=lower)
        assert n == rk.n_blocks == 3
        assert mine == pytest.approx(dict(zip(rk.treatments, map(float, rk.mean_ranks))))


def test_shipped_catalog_index_and_model_page():
    cat = load()
    files = site_mod.render_site(cat, figures=False)
    assert "models/medsam.html" in files and "search-index.js" in files
    assert len([f for f in files if f.startswith("models/")]) == len(cat.models)
    page = files["models/medsam.html"].decode()
    assert "fmreview zoo verify medsam" in page
    first = cat.results[cat.results.model == "medsam"].iloc[0]
    assert f'href="{first.source_url}"'.replace("&", "&amp;") in page


# ------------------------------------------------------------------------------------------ in a browser


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright  # missing playwright: the test errors, it does not skip

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A page that records console errors, page errors and every request that leaves file://."""
    ctx = browser.new_context(viewport={"width": 1200, "height": 900})
    pg = ctx.new_page()
    pg.errors, pg.remote = [], []
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.on("request", lambda r: pg.remote.append(r.url) if not r.url.startswith("file://") else None)
    yield pg
    ctx.close()


def _url(out: Path, rel: str) -> str:
    return (out / rel).resolve().as_uri()


def test_browser_search_finds_a_model_by_partial_name(built, page):
    _, out = built
    page.goto(_url(out, "search.html"))
    page.fill("#q", "meds")
    hits = page.locator("[data-search-results] a")
    hrefs = [hits.nth(i).get_attribute("href") for i in range(hits.count())]
    assert "models/medsam.html" in hrefs
    assert hrefs[0] == "models/medsam.html"  # the name match ranks first
    page.fill("#q", "odd")  # the odd name is shown as text, not markup
    odd = page.locator("[data-search-results] a[href='models/med~2bsam_v1.5.html']")
    assert odd.inner_text() == ODD_NAME
    # the header box of any page sends its query to the search page
    page.goto(_url(out, "models/clip.html"))
    page.fill("#q-top", "sam")
    page.press("#q-top", "Enter")
    page.wait_for_url(re.compile(r"search\.html\?q=sam$"))
    assert page.locator("[data-search-results] a[href='models/sam.html']").count() == 1
    assert page.errors == [] and page.remote == []


def test_browser_leaderboard_sorts(built, page):
    _, out = built
    page.goto(_url(out, "datasets/btcv.html"))
    board = page.locator("table.leaderboard", has_not_text="Odd")
    assert page.locator("table.leaderboard").count() == 2  # the odd model's result has another source
    names = lambda: board.locator("tbody tr td:first-child").all_inner_texts()  # noqa: E731
    assert names()[0] == "MedSAM"  # best first (Dice: higher is better)
    assert board.locator("tbody tr.best").all_inner_texts()[0].startswith("MedSAM")
    header = board.locator("thead th", has_text="Dice").locator("button")
    header.click()
    assert names() == ["MedSAM", "SAM"]
    assert board.locator("thead th", has_text="Dice").get_attribute("aria-sort") == "descending"
    header.press("Enter")  # keyboard works too
    assert names() == ["SAM", "MedSAM"]
    board.locator("thead th", has_text="Model").locator("button").click()
    assert names() == sorted(names(), key=str.lower)
    assert page.errors == [] and page.remote == []


def test_browser_result_link_reaches_its_source(built, page):
    cat, out = built
    r = load(cat).results.set_index("id").loc["r-medsam-btcv"]
    page.goto(_url(out, "models/medsam.html"))
    link = page.locator("#r-r-medsam-btcv a.src")
    assert link.get_attribute("href") == r.source_url
    assert r.locator in link.inner_text()
    # no network here: answer the source's host locally and check the click arrives at the URL
    page.route(r.source_url, lambda route: route.fulfill(status=200, body="source", content_type="text/html"))
    link.click()
    page.wait_for_url(r.source_url)
    assert page.url == r.source_url
    assert page.errors == []


def test_browser_filter_state_survives_reload(built, page):
    _, out = built
    page.goto(_url(out, "models.html"))
    visible = lambda: page.locator("table[data-list] tbody tr:visible td:first-child a").all_inner_texts()  # noqa: E731
    assert len(visible()) == 4
    page.select_option("select[name=modality]", "ct")
    assert "modality=ct" in page.url
    assert visible() == [ODD_NAME, "MedSAM"]
    page.fill("input[name=search]", "medsam")
    page.reload()
    assert page.locator("select[name=modality]").input_value() == "ct"
    assert page.locator("input[name=search]").input_value() == "medsam"
    assert visible() == ["MedSAM"]
    # an evidence-map link opens a filtered list, the words being the CLI's (case-insensitive like the CLI)
    page.goto(_url(out, "models.html") + "#task=Classification&open-weights=yes")
    assert visible() == ["CLIP"]
    page.goto(_url(out, "index.html"))
    page.click("table.emap a[href='models.html#modality=x-ray&task=segmentation']")
    assert visible() == ["MedSAM"]
    assert page.errors == [] and page.remote == []


def test_browser_pages_have_no_console_errors_and_stay_local(built, page):
    _, out = built
    for rel in ("index.html", "models.html", "datasets.html", "papers.html", "search.html?q=ct",
                "models/medsam.html", page_path("model", ODD_ID), "datasets/chexpert.html", "papers/sam-2023.html"):
        page.goto(_url(out, rel.split("?")[0]) + ("?" + rel.split("?")[1] if "?" in rel else ""))
        assert page.locator("h1").count() == 1, rel
        assert page.locator("img:not([alt])").count() == 0, rel
    page.set_viewport_size({"width": 375, "height": 800})  # phone width: nothing wider than the screen but tables
    page.goto(_url(out, "models/medsam.html"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert page.errors == [] and page.remote == []


def test_browser_search_on_the_shipped_catalog(tmp_path, page):
    """The shipped catalog's site builds, and its search finds pages in the browser (build time and search latency
    are measured by benchmarks/bench_site.py, not asserted here)."""
    out = tmp_path / "shipped"
    build_site(out)
    page.goto(_url(out, "search.html"))
    hits = page.evaluate("() => window.fmreviewSearch('ct segmentation').length")
    assert hits > 0
    assert page.evaluate("() => window.fmreviewSearch('zzzzqqq').length") == 0
    page.fill("#q", "medsam")
    assert page.locator("[data-search-results] a[href='models/medsam.html']").count() == 1
    assert page.errors == [] and page.remote == []
    # the report's forest plots sit on the dataset pages of the tables they pool, numbered as in the report
    forests = sorted((out / "figures").glob("table*-forest.svg"))
    assert forests
    n = forests[0].name.split("-")[0].removeprefix("table")
    pages = [p for p in (out / "datasets").glob("*.html") if f"figures/table{n}-forest.svg" in p.read_text()]
    assert pages
    page.goto(_url(out, f"datasets/{pages[0].name}"))
    img = page.locator(f"img[src$='table{n}-forest.svg']")
    assert img.count() == 1 and "Forest plot" in img.get_attribute("alt")
    img.scroll_into_view_if_needed()  # loaded lazily
    page.wait_for_function(f"() => document.querySelector(\"img[src$='table{n}-forest.svg']\").naturalWidth > 0",
                           timeout=10_000)


def test_records_show_reported_vs_reproduced(tmp_path):
    import json

    cat = _catalog(tmp_path / "catalog")
    recs = tmp_path / "records"
    recs.mkdir()
    (recs / "r-medsam-btcv--abc--n30.json").write_text(json.dumps({
        "result": "r-medsam-btcv", "model": "medsam", "dataset": "btcv", "metric": "dice", "reported": 0.793,
        "reproduced": 0.7812, "ci_low": 0.75, "ci_high": 0.81, "verdict": "reproduced", "n": 30,
        "device": "cpu", "checkpoint_revision": "abc123"}))
    build_site(tmp_path / "out", catalog=cat, records=recs)
    page = (tmp_path / "out/models/medsam.html").read_text(encoding="utf-8")
    assert "Reported vs reproduced" in page and "0.7812" in page and "abc123" in page
    assert 'href="#r-r-medsam-btcv"' in page
    assert "Reported vs reproduced" not in (tmp_path / "out/models/sam.html").read_text(encoding="utf-8")
    with pytest.raises(UserError, match="not a folder"):
        build_site(tmp_path / "out2", catalog=cat, records=tmp_path / "nope")
