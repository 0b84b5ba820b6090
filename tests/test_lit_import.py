"""fmreview lit import: the formats, their vendor quirks, re-import, and bad input leaving the review untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from fmreview.lit import importers
from fmreview.lit.review import Review, ReviewError
from fmreview.reports.cli import main

DATA = Path(__file__).parent / "data" / "lit" / "import"


def snapshot(root: Path) -> dict:
    """Every file under root with its bytes: 'byte-identical' is checked on this."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def run(capsys, *argv):
    code = main(["lit", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def by_title(review: Review, start: str):
    found = [r for r in review.records.values() if r.title.startswith(start)]
    assert len(found) == 1, [r.title for r in review.records.values()]
    return found[0]


# ---------------------------------------------------------------- the vendor exports
def test_pubmed_nbib(tmp_path, capsys):
    code, out, err = run(capsys, "import", str(DATA / "pubmed.nbib"), "--source", "pubmed", "--review",
                         str(tmp_path / "rv"))
    assert code == 0, err
    assert "pubmed.nbib: medline, 2 records, 2 new" in out
    rv = Review(tmp_path / "rv")
    r = by_title(rv, "Universal segmentation")
    # the continuation line of TI is joined; the DOI comes from LID/AID "[doi]"
    assert r.title == "Universal segmentation of 3D medical volumes with promptable transformers."
    assert (r.pmid, r.doi, r.year, r.venue) == ("39000002", "10.1000/media.2024.103", 2024, "Medical image analysis")
    assert r.authors == ["Chen, Wei", "Müller, Jonas"]
    assert (r.source, r.file, r.line) == ("pubmed", "pubmed.nbib", 24)
    lines = (DATA / "pubmed.nbib").read_text(encoding="utf-8").split("\n")
    assert r.raw.split("\n")[0] == lines[23] == "PMID- 39000002"
    first = by_title(rv, "A foundation model")
    assert first.line == 1 and "label- efficient transfer" in first.abstract
    assert first.keywords == ["foundation model", "chest radiography"]


def test_scopus_ris_and_arxiv_bibtex(tmp_path, capsys):
    rv = tmp_path / "rv"
    assert run(capsys, "import", str(DATA / "scopus.ris"), "--source", "scopus", "--review", str(rv))[0] == 0
    code, out, err = run(capsys, "import", str(DATA / "arxiv.bib"), "--source", "arxiv", "--review", str(rv))
    assert code == 0
    assert "arxiv.bib: bibtex, 2 records, 2 new" in out
    # duplicate key: a warning naming file and the line of the second entry, both records kept
    assert "arxiv.bib:11: duplicate BibTeX key 'chen2023universal'" in err
    review = Review(rv)
    pre = by_title(review, "Universal Segmentation")
    assert pre.title == "Universal Segmentation of 3D Medical Volumes with Promptable Transformers"
    assert pre.arxiv == "2305.01234" and pre.doi is None and pre.year == 2023
    assert pre.authors == ["Wei Chen", "Jonas Muller"]
    assert by_title(review, "Contrastive Pretraining").line == 11
    s = by_title(review, "A foundation model")
    assert s.doi == "10.1000/FMR.2024.001" and s.authors == ["Rivera, A.", "Okafor, C."]
    assert s.venue == "Radiology: Artificial Intelligence" and s.keywords == ["foundation model", "chest radiography"]
    assert by_title(review, "Benchmarking").line == 30
    assert len(review.records) == 5


def test_embase_ris_tags_and_er_inside_text(tmp_path, capsys):
    code, out, err = run(capsys, "import", str(DATA / "embase.ris"), "--source", "embase", "--review",
                         str(tmp_path / "rv"))
    assert code == 0
    assert "embase.ris:1: Embase/Reference Manager tags (JF, N2, T1, Y1)" in err
    assert "embase.ris:20: 'ER' at the start of a text line taken as text" in err
    review = Review(tmp_path / "rv")
    assert len(review.records) == 2  # "ER status …" did not end the second record early
    r = by_title(review, "Predicting receptor status")
    assert r.abstract.endswith("to predict ER status and HER2 status. ER-positive tumours were identified with an "
                               "AUC of 0.86.")
    assert (r.year, r.venue, r.doi, r.authors) == (2025, "European Radiology", "10.1000/eurrad.2025.5", ["Gomez L."])
    u = by_title(review, "Universal")
    assert u.venue == "Medical Image Analysis" and u.abstract.startswith("We present")


def test_wos_repeated_tags_and_continuation_lines(tmp_path, capsys):
    code, out, err = run(capsys, "import", str(DATA / "wos.ris"), "--source", "wos", "--review",
                         str(tmp_path / "rv"))
    assert code == 0
    assert "wos.ris:8: untagged continuation lines joined" in err
    r = by_title(Review(tmp_path / "rv"), "Self-supervised")
    assert r.authors == ["Patel, Rohan", "Lindqvist, Elin", "Osei, Kwame"]
    assert r.abstract == ("Self-supervised pretraining on 400,000 unlabelled fundus photographs improves diabetic "
                          "retinopathy grading when labels are scarce, in particular for referable disease.")
    assert r.year == 2023


def test_repeated_non_list_tag_is_joined_with_warning(tmp_path):
    f = tmp_path / "wos2.ris"
    f.write_text("TY  - JOUR\nTI  - Part one of a title\nTI  - and its second part\nPY  - 2021\nER  - \n")
    parsed = importers.read_file(f, "wos")
    assert parsed.records[0].title == "Part one of a title and its second part"
    assert any(w.startswith("wos2.ris:3: tag TI repeated") for w in parsed.warnings)


def test_bom_is_removed_with_warning(tmp_path, capsys):
    assert (DATA / "endnote_bom.ris").read_bytes()[:3] == b"\xef\xbb\xbf"
    code, out, err = run(capsys, "import", str(DATA / "endnote_bom.ris"), "--source", "endnote", "--review",
                         str(tmp_path / "rv"))
    assert code == 0
    assert "endnote_bom.ris:1: UTF-8 byte-order mark" in err
    (r,) = Review(tmp_path / "rv").records.values()
    assert r.title == "Pretrained CT encoders for opportunistic osteoporosis screening"
    assert r.raw.startswith("TY  - JOUR") and "\ufeff" not in r.raw


def test_csv_tsv_with_asreview_synonyms(tmp_path):
    f = tmp_path / "export.csv"
    f.write_text('primary_title,Abstract Note,Authors,Publication Year,DOI,pubmedID,keywords\n'
                 '"A CT foundation model, with a comma",Some abstract,"Kim, J; Rossi, P",2022,'
                 'https://doi.org/10.1000/x.1,31234567,ct;foundation\n'
                 '"Second ""quoted"" title\nover two lines",,,2021,,,\n', encoding="utf-8")
    recs = importers.read_file(f, "csv").records
    assert [r.title for r in recs] == ["A CT foundation model, with a comma", 'Second "quoted" title over two lines']
    a, b = recs
    assert (a.authors, a.year, a.doi, a.pmid, a.keywords, a.line) == (
        ["Kim, J", "Rossi, P"], 2022, "10.1000/x.1", "31234567", ["ct", "foundation"], 2)
    assert b.line == 3 and b.raw.count("\n") == 1
    t = tmp_path / "export.tsv"
    t.write_text("ti\tab\tpy\nTab separated title\tText\t2020\n", encoding="utf-8")
    (r,) = importers.read_file(t, "tsv").records
    assert (r.title, r.abstract, r.year) == ("Tab separated title", "Text", 2020)


OPENALEX = {
    "meta": {"count": 2, "db_response_time_ms": 20, "page": None, "per_page": 25, "next_cursor": None},
    "results": [
        {"id": "https://openalex.org/W4300000001", "doi": "https://doi.org/10.1000/FMR.2024.001",
         "title": "A foundation model for chest radiograph interpretation",
         "display_name": "A foundation model for chest radiograph interpretation", "publication_year": 2024,
         "ids": {"openalex": "https://openalex.org/W4300000001", "doi": "https://doi.org/10.1000/fmr.2024.001",
                 "pmid": "https://pubmed.ncbi.nlm.nih.gov/39000001"},
         "primary_location": {"is_oa": False, "landing_page_url": "https://doi.org/10.1000/fmr.2024.001",
                              "source": {"id": "https://openalex.org/S1", "display_name": "Radiology: AI"}},
         "locations": [{"landing_page_url": "https://doi.org/10.1000/fmr.2024.001", "pdf_url": None}],
         "authorships": [{"author_position": "first", "author": {"id": "https://openalex.org/A1",
                                                                 "display_name": "Ana Rivera"}},
                         {"author_position": "last", "author": {"id": "https://openalex.org/A2",
                                                                "display_name": "Chidi Okafor"}}],
         "abstract_inverted_index": {"Foundation": [0], "models": [1], "promise": [2], "transfer.": [3]}},
        {"id": "https://openalex.org/W4300000002", "doi": None, "title": None,
         "display_name": "Universal segmentation of 3D medical volumes with promptable transformers",
         "publication_year": 2023, "ids": {"openalex": "https://openalex.org/W4300000002"},
         "primary_location": {"landing_page_url": "https://arxiv.org/abs/2305.01234v2",
                              "source": {"display_name": "arXiv (Cornell University)"}},
         "locations": [{"landing_page_url": "https://arxiv.org/abs/2305.01234v2",
                        "pdf_url": "https://arxiv.org/pdf/2305.01234v2"}],
         "authorships": [], "abstract_inverted_index": None},
    ],
    "group_by": [],
}

ATOM_FEED = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"
      xmlns:arxiv="http://arxiv.org/schemas/atom">
  <title type="html">ArXiv Query: search_query=all:segmentation&amp;id_list=&amp;start=0&amp;max_results=2</title>
  <id>http://arxiv.org/api/abc</id>
  <updated>2026-12-01T00:00:00-05:00</updated>
  <opensearch:totalResults>2</opensearch:totalResults>
  <opensearch:startIndex>0</opensearch:startIndex>
  <opensearch:itemsPerPage>2</opensearch:itemsPerPage>
  <entry>
    <id>http://arxiv.org/abs/2305.01234v2</id>
    <updated>2023-06-01T00:00:00Z</updated>
    <published>2023-05-02T17:59:59Z</published>
    <title>Universal Segmentation of 3D Medical Volumes with
  Promptable Transformers</title>
    <summary>  We present a promptable transformer.
</summary>
    <author><name>Wei Chen</name></author>
    <author><name>Jonas Müller</name></author>
    <arxiv:doi>10.1000/media.2024.103</arxiv:doi>
    <link href="http://arxiv.org/abs/2305.01234v2" rel="alternate" type="text/html"/>
    <arxiv:primary_category term="eess.IV" scheme="http://arxiv.org/schemas/atom"/>
    <category term="eess.IV" scheme="http://arxiv.org/schemas/atom"/>
  </entry>
  <entry>
    <id>http://arxiv.org/abs/hep-th/9901001v1</id>
    <published>1999-01-01T00:00:00Z</published>
    <title>An old-style identifier</title>
    <summary>Text.</summary>
    <author><name>A. Author</name></author>
  </entry>
</feed>
"""


def test_openalex_json(tmp_path):
    f = tmp_path / "works.json"
    text = json.dumps(OPENALEX, indent=2)
    f.write_text(text, encoding="utf-8")
    a, b = importers.read_file(f, "openalex").records
    assert (a.doi, a.pmid, a.year, a.venue, a.authors) == (
        "10.1000/FMR.2024.001", "39000001", 2024, "Radiology: AI", ["Ana Rivera", "Chidi Okafor"])
    assert a.abstract == "Foundation models promise transfer."
    assert b.title.startswith("Universal segmentation")  # display_name when title is null
    assert b.arxiv == "2305.01234" and b.doi is None
    # raw text is the work's own JSON, and line is where it starts in the file
    assert json.loads(a.raw) == OPENALEX["results"][0]
    assert text.split("\n")[a.line - 1].strip() == "{" and text.split("\n")[a.line].strip().startswith('"id"')
    assert a.line < b.line


def test_arxiv_atom(tmp_path):
    f = tmp_path / "feed.xml"
    f.write_text(ATOM_FEED, encoding="utf-8")
    a, b = importers.read_file(f, "arxiv").records
    assert a.title == "Universal Segmentation of 3D Medical Volumes with Promptable Transformers"
    assert (a.arxiv, a.year, a.doi, a.authors) == ("2305.01234", 2023, "10.1000/media.2024.103",
                                                   ["Wei Chen", "Jonas Müller"])
    assert a.abstract == "We present a promptable transformer."
    assert a.line == 10 and a.raw.startswith("<entry>") and a.raw.endswith("</entry>")
    assert b.arxiv == "hep-th/9901001" and b.year == 1999


def test_content_sniffing_beats_extension(tmp_path):
    f = tmp_path / "export.txt"
    f.write_bytes((DATA / "pubmed.nbib").read_bytes())
    assert importers.read_file(f, "pubmed").format == "medline"
    g = tmp_path / "savedrecs.txt"
    g.write_bytes((DATA / "wos.ris").read_bytes())
    assert importers.read_file(g, "wos").format == "ris"


# ---------------------------------------------------------------- re-import and the searches log
def test_reimport_adds_nothing(tmp_path, capsys):
    rv = tmp_path / "rv"
    files = [str(DATA / n) for n in ("pubmed.nbib", "scopus.ris")]
    assert run(capsys, "import", *files, "--source", "pubmed", "--review", str(rv))[0] == 0
    before = snapshot(rv)
    settings = yaml.safe_load((rv / "review.yaml").read_text())
    (s1, s2) = settings["searches"]
    assert s1["file"] == "pubmed.nbib" and s1["records"] == 2 and s1["new"] == 2 and s1["source"] == "pubmed"
    import hashlib
    assert s1["sha256"] == hashlib.sha256((DATA / "pubmed.nbib").read_bytes()).hexdigest()
    assert s1["date"].startswith("20") and s2["records"] == 3
    code, out, err = run(capsys, "import", *files, "--source", "pubmed", "--review", str(rv))
    assert code == 0
    assert "pubmed.nbib: medline, 2 records, 0 new (imported before" in out
    assert "scopus.ris: ris, 3 records, 0 new" in out
    assert snapshot(rv) == before  # no second searches entry, records untouched


def test_same_file_twice_in_one_call_counts_once(tmp_path):
    results = importers.import_files(tmp_path / "rv", [DATA / "wos.ris", DATA / "wos.ris"], "wos")
    assert [(r.records, r.new) for r in results] == [(2, 2), (2, 0)]
    assert len(Review(tmp_path / "rv").records) == 2


# ---------------------------------------------------------------- bad input
BAD = {
    "empty.ris": (b"  \n\n", "empty.ris:1: empty file"),
    "notes.txt": (b"Dear colleague,\nplease find the papers.\n", "notes.txt:1: unknown format"),
    "latin1.ris": ("TY  - JOUR\nTI  - Caf\xe9 segmentation\nER  - \n".encode("latin-1"),
                   "latin1.ris:2: not UTF-8 (byte 0xe9 at column 10"),
    "notitle.ris": (b"TY  - JOUR\nTI  - Fine\nER  - \n\nTY  - JOUR\nAU  - Doe, J\nPY  - 2020\nER  - \n",
                    "notitle.ris:5: record has no title"),
    "notitle.nbib": (b"PMID- 1\nTI  - Fine\n\nPMID- 2\nAB  - Only an abstract\n", "notitle.nbib:4: record has no title"),
    "notitle.bib": (b"@article{a, title={}, year=2020}\n", "notitle.bib:1: record has no title"),
    "notitle.csv": (b"title,year\nFine,2020\n,2021\n", "notitle.csv:3: record has no title"),
    "unclosed.ris": (b"TY  - JOUR\nTI  - Open\n", "unclosed.ris:1: record not closed"),
    "broken.json": (b'{"results": [ {"title": "x",} ]}', "broken.json:1: not valid JSON"),
    "utf16.ris": ("TY  - JOUR\n".encode("utf-16"), "utf16.ris:1: file is UTF-16"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_leaves_review_byte_identical(tmp_path, capsys, name):
    data, message = BAD[name]
    rv = tmp_path / "rv"
    assert run(capsys, "import", str(DATA / "scopus.ris"), "--source", "scopus", "--review", str(rv))[0] == 0
    before = snapshot(rv)
    bad = tmp_path / name
    bad.write_bytes(data)
    # a good file before the bad one: nothing of it may be written either
    code, out, err = run(capsys, "import", str(DATA / "wos.ris"), str(bad), "--source", "x", "--review", str(rv))
    assert code == 1
    assert message in err, err
    assert snapshot(rv) == before


def test_bad_input_does_not_create_a_review(tmp_path, capsys):
    bad = tmp_path / "empty.ris"
    bad.write_bytes(b"")
    code, out, err = run(capsys, "import", str(bad), "--source", "x", "--review", str(tmp_path / "new"))
    assert code == 1 and "empty.ris:1: empty file" in err
    assert not (tmp_path / "new").exists()


def test_missing_file_and_empty_source(tmp_path, capsys):
    code, _, err = run(capsys, "import", str(tmp_path / "nope.ris"), "--source", "x", "--review", str(tmp_path))
    assert code == 1 and "nope.ris: cannot read" in err
    with pytest.raises(ReviewError, match="--source is empty"):
        importers.import_files(tmp_path / "rv", [DATA / "wos.ris"], " ")


def test_wos_plain_text_one_author_per_line(tmp_path, capsys):
    code, out, err = run(capsys, "import", str(DATA / "wos_savedrecs.txt"), "--source", "wos", "--review",
                         str(tmp_path / "rv"))
    assert code == 0 and "wos_savedrecs.txt: wos, 2 records, 2 new" in out
    r = by_title(Review(tmp_path / "rv"), "Self-supervised")
    assert r.title == "Self-supervised pretraining for retinal fundus images improves diabetic retinopathy grading"
    assert r.authors == ["Patel, Rohan", "Lindqvist, Elin"]  # continuation lines of AF are further authors
    assert (r.year, r.doi, r.pmid, r.line) == (2023, "10.1000/ophsci.2023.4", "37000001", 3)
    assert r.keywords == ["self-supervised learning", "fundus photography"]
    assert r.raw.startswith("PT J") and r.raw.endswith("ER")
    bad = tmp_path / "cut.txt"
    bad.write_text("FN Clarivate Analytics Web of Science\nVR 1.0\nPT J\nTI Cut short\n")
    with pytest.raises(ReviewError, match=r"cut.txt:3: record not closed"):
        importers.read_file(bad, "wos")
