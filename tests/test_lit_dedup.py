"""fmreview lit dedup and lit records: keys, preprint ↔ published, fuzzy titles, manual split/merge, scale."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest
import yaml

from fmreview.lit import dedup as D
from fmreview.lit.review import Record, Review
from fmreview.reports.cli import main

DATA = Path(__file__).parent / "data" / "lit" / "import"
FILES = [("pubmed.nbib", "pubmed"), ("scopus.ris", "scopus"), ("arxiv.bib", "arxiv"), ("embase.ris", "embase"),
         ("wos.ris", "wos")]


def run(capsys, *argv):
    code = main(["lit", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def overlap(tmp_path, capsys):
    """The five vendor exports of tests/data/lit/import, imported in order."""
    rv = tmp_path / "rv"
    for name, source in FILES:
        assert run(capsys, "import", str(DATA / name), "--source", source, "--review", str(rv))[0] == 0
    return rv


def ids_by(review: Review, source: str, start: str) -> str:
    (r,) = [r for r in review.records.values() if r.source == source and r.title.lower().startswith(start.lower())]
    return r.id


def rec(i, title, **kw) -> Record:
    return Record(id=f"r{i:010d}", source=kw.pop("source", "s"), title=title, **kw)


def test_overlapping_exports_group_as_expected(overlap, capsys):
    before = (overlap / "records.jsonl").read_bytes()
    code, out, err = run(capsys, "dedup", "--review", str(overlap), "--format", "json")
    assert code == 0, err
    res = json.loads(out)
    assert (res["records"], res["unique"]) == (11, 7)
    review = Review(overlap)
    groups = {g["keep"]: g for g in res["groups"]}
    assert len(groups) == 3

    # DOI variants: 10.1000/fmr.2024.001 (PubMed) and https://doi.org/10.1000/FMR.2024.001 (Scopus)
    pm = ids_by(review, "pubmed", "A foundation model")
    g = groups[pm]
    assert sorted(g["ids"]) == sorted([pm, ids_by(review, "scopus", "A foundation model")])
    assert g["reason"] == "same DOI"

    # the arXiv preprint with its published version (PubMed, Embase); the published one, imported first, is kept
    pub = ids_by(review, "pubmed", "Universal")
    g = groups[pub]
    assert sorted(g["ids"]) == sorted([pub, ids_by(review, "arxiv", "Universal"), ids_by(review, "embase", "Universal")])
    assert "preprint ↔ published (title match)" in g["reason"] and "same DOI" in g["reason"]

    # a title typo ("imagse"), no identifiers: the earliest imported (Scopus) is kept
    sc = ids_by(review, "scopus", "Self-supervised")
    g = groups[sc]
    assert sorted(g["ids"]) == sorted([sc, ids_by(review, "wos", "Self-supervised")])
    assert g["reason"] == "similar title"

    assert (overlap / "records.jsonl").read_bytes() == before  # grouped, never deleted
    lines = (overlap / "groups.jsonl").read_text().splitlines()
    assert {json.loads(x)["keep"] for x in lines} == set(groups)


def test_records_json_and_table(overlap, capsys):
    run(capsys, "dedup", "--review", str(overlap))
    code, out, err = run(capsys, "records", "--review", str(overlap), "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 11
    assert all(set(r) == {"id", "title", "year", "doi", "arxiv", "pmid", "source", "duplicate_of"} for r in rows)
    by = {r["id"]: r for r in rows}
    review = Review(overlap)
    pre = by[ids_by(review, "arxiv", "Universal")]
    assert pre["duplicate_of"] == ids_by(review, "pubmed", "Universal")
    assert pre["arxiv"] == "2305.01234" and pre["year"] == 2023 and pre["doi"] is None
    assert by[ids_by(review, "pubmed", "Universal")]["duplicate_of"] is None
    assert sum(r["duplicate_of"] is not None for r in rows) == 4
    code, out, _ = run(capsys, "records", "--review", str(overlap))
    assert code == 0 and "duplicate_of" in out.splitlines()[0] and "(11 rows)" in out
    code, out, _ = run(capsys, "records", "--review", str(overlap), "--format", "csv")
    assert out.splitlines()[0] == "id,title,year,doi,arxiv,pmid,source,duplicate_of" and len(out.splitlines()) == 12


def test_normalisation():
    assert D.normalise_doi("https://doi.org/10.1/ABC") == D.normalise_doi("10.1/abc") == "10.1/abc"
    assert D.normalise_doi("doi:10.1/Abc.") == "10.1/abc"
    assert D.normalise_doi("http://dx.doi.org/10.1/x") == "10.1/x"
    assert D.normalise_doi("not a doi") is None
    assert D.normalise_title("Médical — Images: a {3D} Study!") == "medical images a 3d study"
    assert [D.surname(a) for a in ("Smith, John", "John Smith", "Smith JA", "Chen W.", "Müller J")] == [
        "smith", "smith", "smith", "chen", "muller"]


def test_identifier_keys():
    recs = [rec(1, "Alpha paper on lungs", doi="https://doi.org/10.1/ABC"),
            rec(2, "A different title entirely here", doi="10.1/abc"),
            rec(3, "Preprint title one two", arxiv="2301.00001v3"),
            rec(4, "Other words for the preprint", doi="10.48550/arXiv.2301.00001"),
            rec(5, "PubMed one two three", pmid="123"),
            rec(6, "PubMed record again here", pmid="123"),
            rec(7, "Same exact title for both", year=2020, authors=["Kim, J"]),
            rec(8, "Same exact title, for both!", year=2020, authors=["J Kim"]),
            rec(9, "Same exact title for both", year=2020, authors=["Lee, K"])]  # other first author
    groups = {tuple(g.members): g.reason for g in D.find_groups(recs)}
    assert groups[("r0000000001", "r0000000002")] == "same DOI"
    assert groups[("r0000000003", "r0000000004")] == "same arXiv id"
    assert groups[("r0000000005", "r0000000006")] == "same PMID"
    # 7 and 8 by the exact key; 9 joins only by the fuzzy title (identical normalised title, other author)
    assert groups[("r0000000007", "r0000000008", "r0000000009")] == "same title, year and first author; similar title"


def test_fuzzy_title_rules():
    t = "Self-supervised pretraining for retinal fundus images improves grading"
    typo = "Self-supervised pretraining for retinal fundus imagse improves grading"
    assert D.find_groups([rec(1, t, year=2023), rec(2, typo, year=2024)])  # years within 1
    assert not D.find_groups([rec(1, t, year=2021), rec(2, typo, year=2024)])  # three years apart
    assert not D.find_groups([rec(1, t, year=2023), rec(2, typo, year=2023)], threshold=100)
    # similar titles but two different publisher DOIs: two papers of a series
    assert not D.find_groups([rec(1, t, doi="10.1/a"), rec(2, typo, doi="10.1/b")])
    # a typo in the first two tokens is still found (last-two-token block and sorted neighbourhood)
    assert D.find_groups([rec(1, t), rec(2, "Slef-supervised " + t.split(" ", 1)[1])])
    # short titles never match on title alone
    assert not D.find_groups([rec(1, "Editorial"), rec(2, "Editorial")])


def test_preprint_and_published_keep_the_published():
    pre = rec(1, "Universal segmentation of 3D medical volumes", arxiv="2305.01234", year=2022, source="arxiv")
    pub = rec(2, "Universal segmentation of 3D medical volumes.", doi="10.1000/m.1", year=2024, source="pubmed")
    (g,) = D.find_groups([pre, pub], order={pre.id: (0, 1), pub.id: (1, 1)})  # the preprint was imported first
    assert g.keep == pub.id and g.reason == "preprint ↔ published (title match)"
    # an arXiv DOI is not a publisher's: two arXiv-only records keep the earliest imported
    other = rec(3, "Universal segmentation of 3D medical volumes", doi="10.48550/arXiv.2305.01234", year=2022)
    (g,) = D.find_groups([pre, other], order={pre.id: (1, 1), other.id: (0, 5)})
    assert g.keep == other.id and g.reason == "same arXiv id"


def test_threshold_from_review_yaml_and_flag(overlap, capsys):
    settings = yaml.safe_load((overlap / "review.yaml").read_text())
    assert settings["dedup"]["title_threshold"] == 95
    code, out, _ = run(capsys, "dedup", "--review", str(overlap), "--format", "json", "--threshold", "100")
    assert code == 0 and len(json.loads(out)["groups"]) == 2  # the typo group needs < 100
    settings["dedup"]["title_threshold"] = 100
    (overlap / "review.yaml").write_text(yaml.safe_dump(settings))
    assert len(json.loads(run(capsys, "dedup", "--review", str(overlap), "--format", "json")[1])["groups"]) == 2
    code, _, err = run(capsys, "dedup", "--review", str(overlap), "--threshold", "120")
    assert code == 1 and "threshold 120 out of range" in err


def test_split_and_merge_are_remembered(overlap, capsys):
    review = Review(overlap)
    wos = ids_by(review, "wos", "Self-supervised")
    code, out, _ = run(capsys, "dedup", "--review", str(overlap), "--split", wos, "--format", "json")
    assert code == 0
    res = json.loads(out)
    assert len(res["groups"]) == 2 and res["unique"] == 8
    assert yaml.safe_load((overlap / "review.yaml").read_text())["dedup"]["manual"]["splits"] == [wos]
    # a plain re-run does not regroup it
    res = json.loads(run(capsys, "dedup", "--review", str(overlap), "--format", "json")[1])
    assert all(wos not in g["ids"] for g in res["groups"])

    # merge two unrelated records; remembered too
    a, b = ids_by(review, "scopus", "Benchmarking"), ids_by(review, "wos", "Echocardiography")
    code, out, _ = run(capsys, "dedup", "--review", str(overlap), "--merge", a, b, "--format", "json")
    assert code == 0
    g = [g for g in json.loads(out)["groups"] if a in g["ids"]]
    assert len(g) == 1 and sorted(g[0]["ids"]) == sorted([a, b]) and g[0]["reason"] == "merged by a reviewer"
    res = json.loads(run(capsys, "dedup", "--review", str(overlap), "--format", "json")[1])
    assert any(sorted(g["ids"]) == sorted([a, b]) for g in res["groups"]) and res["unique"] == 7
    # splitting one of them withdraws the merge
    res = json.loads(run(capsys, "dedup", "--review", str(overlap), "--split", a, "--format", "json")[1])
    assert all(a not in g["ids"] for g in res["groups"])


def test_split_unknown_id_changes_nothing(overlap, capsys):
    before = (overlap / "review.yaml").read_bytes()
    code, _, err = run(capsys, "dedup", "--review", str(overlap), "--split", "rnope")
    assert code == 1 and "no record 'rnope'" in err
    code, _, err = run(capsys, "dedup", "--review", str(overlap), "--merge", "rnope", "rnope")
    assert code == 1
    some = next(iter(Review(overlap).records))
    code, _, err = run(capsys, "dedup", "--review", str(overlap), "--split", some, "--threshold", "5")
    assert code == 1 and "threshold 5 out of range" in err
    assert (overlap / "review.yaml").read_bytes() == before
    assert not (overlap / "groups.jsonl").exists()


def test_table_output(overlap, capsys):
    code, out, _ = run(capsys, "dedup", "--review", str(overlap))
    assert code == 0
    assert out.splitlines()[0] == "11 records, 7 unique, 3 groups"
    assert "preprint ↔ published" in out or "preprint" in out


def test_twenty_thousand_records_in_seconds():
    """Blocking keeps this near-linear: 20,000 records with 1,000 planted typo/DOI duplicates."""
    rng = random.Random(1)
    words = [f"w{i}" for i in range(3000)]
    recs, planted = [], 0
    for k in range(19_000):
        title = " ".join(rng.choice(words) for _ in range(9))
        recs.append(rec(k, title, year=2020, doi=f"10.1/{k}"))
        if k % 19 == 0:
            planted += 1
            t = list(title)
            t[len(t) // 2] = "#"
            recs.append(rec(100_000 + k, "".join(t), year=2021))
    t0 = time.perf_counter()
    groups = D.find_groups(recs)
    took = time.perf_counter() - t0
    assert len(groups) == planted
    assert took < 20, took  # ~2 s on a laptop core; generous for shared CI machines
