"""Issue 12's whole pipeline, as a reviewer runs it: exports from PubMed (.nbib), Scopus (RIS) and arXiv (BibTeX)
with overlapping papers are imported, deduplicated, screened in the browser (Debian's chromium through Playwright)
and at full text from the CLI, and the PRISMA counts derived from those decisions add up — in `lit prisma` and in
the report's flow."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from playwright.sync_api import sync_playwright

from fmreview.analysis.prisma import Prisma
from fmreview.lit.review import Review
from fmreview.reports.cli import main

from test_lit_browser import ARGS, CHROMIUM, press_and_wait, serving, shown

EXPORTS = Path(__file__).parent / "data" / "lit" / "import"


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def test_exports_to_prisma(tmp_path, capsys):
    rev = tmp_path / "review"
    for name, source in (("pubmed.nbib", "pubmed"), ("scopus.ris", "scopus"), ("arxiv.bib", "arxiv")):
        cli(capsys, "lit", "import", EXPORTS / name, "--source", source, "--review", rev)
    dedup = json.loads(cli(capsys, "lit", "dedup", "--review", rev, "--format", "json"))
    review = Review(rev)
    identified = pd.Series([r.source for r in review.records.values()]).value_counts().to_dict()
    unique = review.unique_ids()
    assert dedup["unique"] == len(unique) < dedup["records"] == len(review.records)

    # title/abstract screening in the browser: include the first three records served, exclude the rest
    with sync_playwright() as p, serving(review, "screening") as url:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page()
        page.goto(url + "?reviewer=ann")
        current = shown(page)
        for n in range(len(unique)):
            key = "i" if n < 3 else "e"
            if n == len(unique) - 1:
                page.keyboard.press(key)
                page.wait_for_function("() => document.body.innerText.length > 0")
            else:
                current = press_and_wait(page, key, current)
        browser.close()
    review = Review(rev)
    final = review.final("screening")
    assert sorted(final) == unique, "every unique record has a final screening decision"
    included = sorted(i for i, d in final.items() if d.decision == "include")
    assert len(included) == 3

    # full text from the CLI: one exclusion with a reason, the others included
    cli(capsys, "lit", "decide", included[0], "--stage", "eligibility", "--decision", "exclude", "--reason",
        "wrong population", "--review", rev)
    for rid in included[1:]:
        cli(capsys, "lit", "decide", rid, "--stage", "eligibility", "--decision", "include", "--review", rev)

    flow = json.loads(cli(capsys, "lit", "prisma", "--review", rev, "--format", "json"))
    assert flow == {"identified": identified, "duplicates_removed": dedup["records"] - dedup["unique"],
                    "screened": len(unique), "screened_excluded": len(unique) - 3, "sought": 3, "not_retrieved": 0,
                    "assessed": 3, "excluded_reasons": {"wrong population": 1}, "included": 2} | {
        k: flow[k] for k in flow if k not in {"identified", "duplicates_removed", "screened", "screened_excluded",
                                              "sought", "not_retrieved", "assessed", "excluded_reasons", "included"}}
    Prisma(identified=flow["identified"], duplicates_removed=flow["duplicates_removed"], screened=flow["screened"],
           screened_excluded=flow["screened_excluded"], sought=flow["sought"], not_retrieved=flow["not_retrieved"],
           assessed=flow["assessed"], excluded_reasons=flow["excluded_reasons"], included=flow["included"]).check()

    # the report draws that flow
    out = tmp_path / "report"
    cli(capsys, "report", "--review", rev, "--out", out, "--quiet")
    pr = Prisma.from_csv((out / "tables" / "prisma.csv").read_text())
    assert (pr.screened, pr.included, pr.duplicates_removed) == (len(unique), 2, flow["duplicates_removed"])
