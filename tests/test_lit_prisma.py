"""PRISMA counts from a review folder's decisions (fmreview lit prisma), the report's derived flow, and the
shipped catalog's review folder being current."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from conftest import write_catalog
from fmreview.analysis.prisma import Prisma
from fmreview.lit.prisma import FlowCounts, flow
from fmreview.lit.review import Decision, Group, Record, Review, ReviewError
from fmreview.reports.cli import main

KEYS = ["identified", "duplicates_removed", "screened", "screened_excluded", "sought", "not_retrieved", "assessed",
        "excluded_reasons", "included"]


def rec(rid, source, title, **kw):
    return Record(id=rid, source=source, title=title, raw=title, **kw)


def make_review(root, decide_all=True):
    """6 records from 3 sources, 2 duplicate groups; by hand: screened 4, excluded 1, sought 3, not retrieved 1,
    assessed 2, excluded 1 (wrong population), included 1. a1's screening is a conflict resolved by consensus."""
    rv = Review.create(root, title="hand-built")
    rv.add_records([
        rec("a1", "pubmed", "MedSAM", authors=["Jun Ma"], year=2024, doi="10.1038/s41467-024-44824-z"),
        rec("a2", "pubmed", "Paper two", authors=["B Two"], year=2023),
        rec("a3", "pubmed", "Paper three", authors=["C Three"], year=2022),
        rec("s1", "scopus", "MedSAM", authors=["Jun Ma"], year=2024, doi="10.1038/S41467-024-44824-Z"),
        rec("s2", "scopus", "Paper four", authors=["D Four"], year=2021),
        rec("x1", "arxiv", "Paper two (preprint)", authors=["B Two"], year=2023, arxiv="2301.00001"),
    ])
    rv.save_groups([Group("a1", ["a1", "s1"], "DOI"), Group("a2", ["a2", "x1"], "arXiv id ↔ DOI + title")])
    t = 1.0
    for rid, stage, dec, who, reason in [
        ("a1", "screening", "include", "ann", None), ("a1", "screening", "exclude", "bob", None),
        ("a1", "screening", "include", "consensus", None),
        ("a2", "screening", "include", "ann", None), ("a3", "screening", "exclude", "ann", None),
        ("s2", "screening", "maybe", "ann", None), ("s2", "screening", "include", "ann", None),
        ("a1", "eligibility", "include", "ann", None), ("a2", "eligibility", "exclude", "ann", "Not  retrieved"),
        ("s2", "eligibility", "exclude", "ann", "wrong population"),
        ("s1", "screening", "exclude", "ann", None),  # a duplicate's decision does not count
    ][: None if decide_all else 5]:
        rv.decide(Decision(rid, stage, dec, reviewer=who, reason=reason, time=t))
        t += 1
    return rv


EXPECTED = {"identified": {"arxiv": 1, "pubmed": 3, "scopus": 2}, "duplicates_removed": 2, "screened": 4,
            "screened_excluded": 1, "sought": 3, "not_retrieved": 1, "assessed": 2,
            "excluded_reasons": {"wrong population": 1}, "included": 1}


def test_counts_add_up_and_match_hand_computed(tmp_path):
    counts = flow(make_review(tmp_path / "rv"))
    assert counts.to_json() == EXPECTED
    assert counts.problems() == []


def test_json_keys_exactly(tmp_path, capsys):
    make_review(tmp_path / "rv")
    assert main(["lit", "prisma", "--review", str(tmp_path / "rv")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == KEYS
    assert out == EXPECTED


def test_csv_round_trips_through_prisma(tmp_path):
    make_review(tmp_path / "rv")
    csv_path = tmp_path / "prisma.csv"
    assert main(["lit", "prisma", "--review", str(tmp_path / "rv"), "--format", "csv", "--out", str(csv_path)]) == 0
    text = csv_path.read_text()
    assert text.splitlines()[0] == "data,node,box,description,boxtext,tooltips,url,n"
    pr = Prisma.from_csv(text)
    assert (pr.identified, pr.duplicates_removed, pr.screened, pr.screened_excluded, pr.sought, pr.not_retrieved,
            pr.assessed, pr.excluded_reasons, pr.included) == tuple(EXPECTED[k] for k in KEYS)


def test_svg_written(tmp_path):
    make_review(tmp_path / "rv")
    svg = tmp_path / "flow.svg"
    assert main(["lit", "prisma", "--review", str(tmp_path / "rv"), "--format", "svg", "--out", str(svg)]) == 0
    assert svg.read_text().lstrip().startswith("<?xml") and "<svg" in svg.read_text()


def test_undecided_records_are_an_error_naming_them(tmp_path, capsys):
    make_review(tmp_path / "rv", decide_all=False)  # s2 never screened; nobody decided at eligibility
    assert main(["lit", "prisma", "--review", str(tmp_path / "rv")]) == 1
    err = capsys.readouterr().err
    assert "1 record still undecided at screening" in err and "s2" in err
    assert err.count("\n") == 1


def test_maybe_is_undecided_and_eligibility_gaps_are_named(tmp_path):
    rv = make_review(tmp_path / "rv")
    rv.decide(Decision("s2", "screening", "maybe", reviewer="ann", time=99.0))
    with pytest.raises(ReviewError, match=r"undecided at screening.*s2"):
        flow(rv)
    rv.decide(Decision("s2", "screening", "include", reviewer="ann", time=100.0))
    rv.decide(Decision("a1", "eligibility", "maybe", reviewer="ann", time=101.0))
    with pytest.raises(ReviewError, match=r"undecided at eligibility.*a1"):
        flow(rv)


def test_unresolved_conflict_is_an_error(tmp_path, capsys):
    rv = make_review(tmp_path / "rv")
    rv.decide(Decision("a3", "screening", "include", reviewer="bob", time=200.0))
    assert main(["lit", "prisma", "--review", str(rv.root)]) == 1
    err = capsys.readouterr().err
    assert "unresolved conflicts at screening: a3" in err and "--reviewer consensus" in err


def test_counts_that_do_not_add_up_name_the_box(tmp_path, capsys):
    rv = make_review(tmp_path / "rv")
    # a group naming a record the review does not hold: duplicates removed no longer explains the screened box
    rv.save_groups(rv.groups() + [Group("a3", ["a3", "ghost"], "DOI")])
    assert main(["lit", "prisma", "--review", str(rv.root)]) == 1
    err = capsys.readouterr().err
    assert "box 'screened' (4) does not add up" in err and "ghost" in err
    bad = FlowCounts(identified={"pubmed": 5}, duplicates_removed=1, screened=4, screened_excluded=1, sought=3,
                     not_retrieved=0, assessed=3, excluded_reasons={"x": 1}, included=1)
    assert [p.split(" (")[0] for p in bad.problems()] == ["box 'included'"]
    with pytest.raises(ReviewError, match="box 'included' .1. does not add up: assessed − excluded_reasons = 3 − 1 = 2"):
        bad.check()


def test_empty_review_is_an_error(tmp_path):
    with pytest.raises(ReviewError, match="no records"):
        flow(Review.create(tmp_path / "rv"))


def test_report_draws_the_flow_of_a_review_folder(tmp_path, capsys):
    cat = write_catalog(tmp_path / "catalog")
    make_review(tmp_path / "rv")
    out = tmp_path / "report"
    assert main(["report", "--catalog", str(cat), "--out", str(out), "--quiet", "--review", str(tmp_path / "rv")]) == 0
    capsys.readouterr()
    assert main(["lit", "prisma", "--review", str(tmp_path / "rv"), "--format", "csv"]) == 0
    assert (out / "tables" / "prisma.csv").read_text() == capsys.readouterr().out
    md = (out / "report.md").read_text()
    assert "derived from the review decisions of the review folder rv/" in md
    assert "derived from the catalog itself" not in md
    assert (out / "figures" / "prisma.svg").exists()


def test_report_refuses_an_undecided_review(tmp_path, capsys):
    cat = write_catalog(tmp_path / "catalog")
    make_review(tmp_path / "rv", decide_all=False)
    assert main(["report", "--catalog", str(cat), "--out", str(tmp_path / "r"), "--quiet",
                 "--review", str(tmp_path / "rv")]) == 1
    assert "still undecided at screening" in capsys.readouterr().err


def test_shipped_review_folder_is_current():
    """A catalog change without regenerating the review folder fails here, saying which command to run."""
    from fmreview.lit.catalog_flow import stale

    bad = stale()
    assert not bad, (f"catalog/data/review is out of date ({', '.join(bad)}); "
                     "run: python -m fmreview.lit.catalog_flow")


def test_shipped_flow_is_derived_and_includes_every_paper():
    from fmreview.catalog import default_root, load

    root = default_root()
    counts = flow(Review(root / "review"))
    papers = load(root).papers
    assert counts.included == counts.screened == len(papers)
    assert counts.screened_excluded == 0 and counts.excluded_reasons == {}
    assert sum(counts.identified.values()) - counts.duplicates_removed == len(papers)
    assert all(s.startswith("other: ") for s in counts.identified)
    rv = Review(root / "review")
    assert {r.file.split("/")[0] for r in rv.records.values()} <= {"papers", "models", "datasets"}


def test_catalog_flow_only_uses_what_entries_say(tmp_path):
    """On the mini catalog: arXiv-URL papers are 'source not recorded'; regeneration is byte-identical."""
    from fmreview.lit.catalog_flow import UNRECORDED, build, stale, write

    cat = write_catalog(tmp_path / "catalog")
    write(cat)
    assert stale(cat) == []
    assert build(cat) == build(cat)
    counts = flow(Review(cat / "review"))
    assert counts.identified == {UNRECORDED: 3} and counts.included == 3
    (cat / "papers" / "clip-2021.yaml").write_text((cat / "papers" / "clip-2021.yaml").read_text()
                                                    .replace("year: 2021", "year: 2020"))
    assert "records.jsonl" in stale(cat)


def test_svg_to_standard_output(tmp_path, capsys):
    """`lit prisma --review DIR --format svg` as the issue writes it: the figure on standard output."""
    make_review(tmp_path / "rv")
    assert main(["lit", "prisma", "--review", str(tmp_path / "rv"), "--format", "svg"]) == 0
    out = capsys.readouterr().out
    assert out.lstrip().startswith("<?xml") and "<svg" in out
