"""fmreview lit promote (included records become catalog papers, canonical, validated, rolled back on failure)
and fmreview lit export (RIS, BibTeX, CSV that parse back)."""

from __future__ import annotations

import csv
import io

import bibtexparser
import rispy

from conftest import write_catalog
from fmreview.catalog import fmt, load
from fmreview.lit.promote import paper_id
from fmreview.lit.review import Decision, Group, Record, Review
from fmreview.reports.cli import main


def review_with(root, records, include=None):
    rv = Review.create(root, title="promote test")
    rv.add_records(records)
    for r in records:
        if include is None or r.id in include:
            rv.decide(Decision(r.id, "screening", "include", reviewer="ann", time=1.0))
            rv.decide(Decision(r.id, "eligibility", "include", reviewer="ann", time=2.0))
    return rv


NEW = Record(id="rnew000001", source="pubmed", title="UniMed: a universal model for medical images",
             authors=["Ada Lovelace", "Alan Turing"], year=2025, venue="Medical Image Analysis",
             doi="10.1016/j.media.2025.103000", url="https://doi.org/10.1016/j.media.2025.103000", raw="x",
             abstract="An abstract with {braces", keywords=["segmentation", "foundation model"])
OLD = Record(id="rold000001", source="scopus", title="Segment anything in medical images", authors=["Jun Ma"],
             year=2024, doi="10.1038/S41467-024-44824-Z", raw="y")
PLAIN = Record(id="rplain0001", source="arxiv", title="On the robustness of medical foundation models",
               authors=["Grace Hopper"], year=2025, arxiv="2501.01234", raw="z")


def test_promote_writes_canonical_valid_papers_and_skips_known_ones(tmp_path, capsys):
    cat = write_catalog(tmp_path / "catalog")
    rv = review_with(tmp_path / "rv", [NEW, OLD, PLAIN])
    assert main(["lit", "promote", "--review", str(rv.root), "--catalog", str(cat)]) == 0
    out = capsys.readouterr().out
    assert "already in the catalog: record rold000001 is the paper medsam-2024 (doi 10.1038/S41467-024-44824-Z)" in out
    new = cat / "papers" / "unimed-2025.yaml"
    plain = cat / "papers" / "hopper-2025-robustness-medical-foundation.yaml"
    assert new.exists() and plain.exists(), sorted(p.name for p in (cat / "papers").iterdir())
    for path in (new, plain):
        assert fmt.canonical_text(path, "papers") == path.read_text()
    papers = load(cat).papers.set_index("id")
    assert papers.loc["unimed-2025", "doi"] == "10.1016/j.media.2025.103000"
    assert papers.loc["hopper-2025-robustness-medical-foundation", "url"] == "https://arxiv.org/abs/2501.01234"
    assert "record rnew000001" in new.read_text()
    # promoting again finds both already there and writes nothing
    assert main(["lit", "promote", "--review", str(rv.root), "--catalog", str(cat)]) == 0
    assert "0 paper(s) wrote; 3 already in the catalog" in capsys.readouterr().out


def test_dry_run_writes_nothing(tmp_path, capsys):
    cat = write_catalog(tmp_path / "catalog")
    before = sorted(p.name for p in (cat / "papers").iterdir())
    rv = review_with(tmp_path / "rv", [NEW, PLAIN])
    assert main(["lit", "promote", "--review", str(rv.root), "--catalog", str(cat), "--dry-run"]) == 0
    assert "would write papers/unimed-2025.yaml" in capsys.readouterr().out
    assert sorted(p.name for p in (cat / "papers").iterdir()) == before


def test_only_included_records_are_promoted(tmp_path):
    cat = write_catalog(tmp_path / "catalog")
    rv = review_with(tmp_path / "rv", [NEW, PLAIN], include={"rplain0001"})
    rv.decide(Decision("rnew000001", "screening", "exclude", reviewer="ann", time=3.0))
    assert main(["lit", "promote", "--review", str(rv.root), "--catalog", str(cat)]) == 0
    assert not (cat / "papers" / "unimed-2025.yaml").exists()


def test_id_clash_gets_a_suffix_never_an_overwrite():
    r = Record(id="r1", source="x", title="MedSAM: segment anything", authors=["A B"], year=2024, raw="")
    assert paper_id(r, {"medsam-2024"}) == "medsam-2024-2"
    assert paper_id(r, {"medsam-2024", "medsam-2024-2"}) == "medsam-2024-3"


def test_rolls_back_when_the_catalog_does_not_validate(tmp_path, capsys):
    cat = write_catalog(tmp_path / "catalog")
    before = {p.name: p.read_bytes() for p in (cat / "papers").iterdir()}
    bad = Record(id="rbad000001", source="pubmed", title="Bad DOI paper", authors=["X Y"], year=2025,
                 doi="10.1/not-a-doi", url="https://example.org/p", raw="b")
    rv = review_with(tmp_path / "rv", [NEW, bad])
    assert main(["lit", "promote", "--review", str(rv.root), "--catalog", str(cat)]) == 1
    err = capsys.readouterr().err
    assert "does not validate after promotion" in err and "doi" in err and err.count("\n") == 1
    assert {p.name: p.read_bytes() for p in (cat / "papers").iterdir()} == before


def test_refuses_a_catalog_already_invalid_and_a_paper_without_authors(tmp_path, capsys):
    cat = write_catalog(tmp_path / "catalog", extra={"papers/broken.yaml": "id: broken\ntitle: T\n"})
    rv = review_with(tmp_path / "rv", [NEW])
    assert main(["lit", "promote", "--review", str(rv.root), "--catalog", str(cat)]) == 1
    assert "problem(s) before promotion" in capsys.readouterr().err
    assert not (cat / "papers" / "unimed-2025.yaml").exists()
    cat2 = write_catalog(tmp_path / "catalog2")
    noauth = Record(id="rnoauth001", source="pubmed", title="No authors", year=2025, url="https://e.org/x", raw="n")
    rv2 = review_with(tmp_path / "rv2", [NEW, noauth])
    assert main(["lit", "promote", "--review", str(rv2.root), "--catalog", str(cat2)]) == 1
    assert "no authors" in capsys.readouterr().err
    assert not (cat2 / "papers" / "unimed-2025.yaml").exists()


def _export(rv, capsys, *args):
    assert main(["lit", "export", "--review", str(rv.root), *args]) == 0
    return capsys.readouterr().out


def test_exports_parse_back(tmp_path, capsys):
    rv = review_with(tmp_path / "rv", [NEW, OLD, PLAIN], include={"rnew000001"})
    rv.save_groups([Group("rnew000001", ["rnew000001", "rold000001"], "test")])
    ris = rispy.loads(_export(rv, capsys, "--format", "ris"))
    assert [e["id"] for e in ris] == ["rnew000001", "rold000001", "rplain0001"]
    assert ris[0]["title"] == NEW.title and ris[0]["authors"] == NEW.authors and ris[0]["doi"] == NEW.doi
    lib = bibtexparser.parse_string(_export(rv, capsys, "--format", "bibtex", "--subset", "unique"))
    assert not lib.failed_blocks
    assert [e.key for e in lib.entries] == ["rnew000001", "rplain0001"]
    assert lib.entries[1]["eprint"] == "2501.01234" and lib.entries[0]["author"] == "Ada Lovelace and Alan Turing"
    rows = list(csv.DictReader(io.StringIO(_export(rv, capsys, "--format", "csv"))))
    assert [r["id"] for r in rows] == ["rnew000001", "rold000001", "rplain0001"]
    assert rows[1]["duplicate_of"] == "rnew000001" and rows[0]["keywords"] == "segmentation; foundation model"
    inc = tmp_path / "included.csv"
    assert main(["lit", "export", "--review", str(rv.root), "--format", "csv", "--stage", "eligibility",
                 "--decision", "include", "--out", str(inc)]) == 0
    assert [r["id"] for r in csv.DictReader(inc.open())] == ["rnew000001"]


def test_export_needs_stage_and_decision_together(tmp_path, capsys):
    rv = review_with(tmp_path / "rv", [NEW])
    assert main(["lit", "export", "--review", str(rv.root), "--format", "ris", "--stage", "screening"]) == 1
    assert "--stage and --decision go together" in capsys.readouterr().err
