"""Per-paper extraction (issue 13 part 4): the `extraction:` block of a paper, its validation with file:line, the
per-paper trend functions, and the report's per-paper trend section."""

import textwrap

import pandas as pd
import pytest

from fmreview.catalog import validate
from fmreview.reports.cli import main

LIST = "https://github.com/YichiZhang98/SAM4MIS/blob/745e76e429402ea2508d0510b6bf39926538751e/README.md"

HEAD = """\
id: extracted-2024
title: An adapter for CT segmentation
authors: [A. Author]
year: 2024
url: https://arxiv.org/abs/2401.00001
kind: method
"""


def write_paper(root, body: str) -> str:
    text = HEAD + textwrap.dedent(body)
    (root / "papers" / "extracted-2024.yaml").write_text(text, encoding="utf-8")
    return text


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def problems(root) -> list[str]:
    return [str(p) for p in validate(root) if p.file == "papers/extracted-2024.yaml"]


GOOD = f"""\
extraction:
  modalities: [ct]
  tasks: [segmentation]
  adaptation: [adapter]
  evidence:
  - fields: [tasks]
    kind: list
    url: {LIST}
    locator: README, section "SAM for Medical Image Segmentation.", row at line 347
  - fields: [modalities, adaptation]
    kind: paper
    url: https://arxiv.org/abs/2401.00001
    locator: title
    quote: An adapter for CT segmentation
  inferred: [modalities, adaptation]
"""


def test_a_complete_extraction_is_valid(mini_catalog):
    write_paper(mini_catalog, GOOD)
    assert problems(mini_catalog) == []


def test_a_field_without_evidence_is_an_error_at_its_line(mini_catalog):
    text = write_paper(mini_catalog, GOOD.replace("  - fields: [modalities, adaptation]", "  - fields: [modalities]")
                       .replace("inferred: [modalities, adaptation]", "inferred: [modalities]"))
    out = problems(mini_catalog)
    line = line_of(text, "adaptation: [adapter]")
    assert out == [f"papers/extracted-2024.yaml:{line}: extraction.adaptation: adaptation has no evidence: no evidence "
                   "item names 'adaptation' in its fields (leave a field out when no source gives it)"]


def test_unknown_words_and_fields_are_errors_with_lines(mini_catalog):
    text = write_paper(mini_catalog, GOOD.replace("adaptation: [adapter]", "adaptation: [adaptor]")
                       .replace("modalities: [ct]", "modalities: [cat-scan]")
                       .replace("fields: [tasks]", "fields: [tasks, venue]"))
    out = "\n".join(problems(mini_catalog))
    assert f":{line_of(text, 'adaptation: [adaptor]')}: extraction.adaptation[0]: unknown adaptation word 'adaptor'" in out
    assert f":{line_of(text, 'cat-scan')}: extraction.modalities[0]: unknown modality word 'cat-scan'" in out
    assert f":{line_of(text, 'fields: [tasks, venue]')}: extraction.evidence[0].fields[1]: unknown extraction field 'venue'" in out
    text = write_paper(mini_catalog, GOOD.replace("inferred: [modalities, adaptation]", "inferred: [modalities, adaptation, band]"))
    assert problems(mini_catalog) == [f"papers/extracted-2024.yaml:{line_of(text, 'inferred: [')}: extraction.inferred: "
                                      "inferred names band, which the extraction does not set"]


def test_evidence_for_a_field_left_out_and_an_empty_block(mini_catalog):
    text = write_paper(mini_catalog, GOOD.replace("fields: [tasks]", "fields: [tasks, family]"))
    out = problems(mini_catalog)
    assert out == [f"papers/extracted-2024.yaml:{line_of(text, 'fields: [tasks, family]')}: extraction.evidence[0].fields: "
                   "evidence for family, which the extraction does not set"]
    text = write_paper(mini_catalog, f"extraction:\n  evidence:\n  - fields: [tasks]\n    kind: list\n    url: {LIST}\n    locator: row\n")
    out = "\n".join(problems(mini_catalog))
    assert f":{line_of(text, 'extraction:')}: extraction: an extraction needs at least one field" in out


def test_validate_cli_exits_1_on_a_bad_extraction(mini_catalog, capsys):
    write_paper(mini_catalog, GOOD.replace("family", "x").replace("  tasks: [segmentation]\n", "  tasks: [segmentation]\n  band: regional\n"))
    assert main(["catalog", "validate", "--catalog", str(mini_catalog)]) == 1
    out = capsys.readouterr()
    assert "papers/extracted-2024.yaml:" in out.out + out.err and "unknown band word 'regional'" in out.out + out.err
    assert "Traceback" not in out.out + out.err


# ------------------------------------------------------------------------------------- per-paper trend functions

from fmreview.analysis import trends as T  # noqa: E402


@pytest.fixture
def small_frame():
    return pd.DataFrame({
        "id": ["a", "b", "c", "d", "e", "f"],
        "year": [2021, 2023, 2023, 2024, 2024, None],
        "family": ["vision-only", "vision-language", "vision-only", None, "vision-only", "vision-only"],
        "family_from": ["paper", "list", "inferred", None, "paper", "paper"],
        "modalities": [["ct"], ["ct", "mri"], [], ["mri"], ["ct", "ct"], ["ct"]],
        "modalities_from": ["paper", "inferred", None, "list", "paper", "paper"],
        "tasks": [["segmentation"], ["segmentation", "vqa"], ["vqa"], [], ["segmentation"], ["segmentation"]],
        "tasks_from": ["list", "list", "paper", None, "list", "list"],
    })


def test_papers_per_year_counts_each_word_once_and_fills_empty_years(small_frame):
    t = T.papers_per_year(small_frame, "modalities", order=["mri", "ct"])
    assert list(t.columns) == ["mri", "ct"]  # the order asked for
    assert t.to_dict("index") == {2021: {"mri": 0, "ct": 1}, 2022: {"mri": 0, "ct": 0}, 2023: {"mri": 1, "ct": 1},
                                  2024: {"mri": 1, "ct": 1}}  # e's [ct, ct] counts once; f has no year
    fam = T.papers_per_year(small_frame, "family", all_years=range(2020, 2025))
    assert fam.loc[2020].sum() == 0 and fam["vision-only"].tolist() == [0, 1, 0, 1, 1]
    assert fam["vision-language"].tolist() == [0, 0, 0, 1, 0]
    assert T.papers_with_field(small_frame, "modalities").to_dict() == {2021: 1, 2022: 0, 2023: 1, 2024: 2}


def test_domains_per_year_pairs_modalities_with_tasks(small_frame):
    d = T.domains_per_year(small_frame)
    assert d.to_dict("index") == {"ct × segmentation": {2021: 1, 2022: 0, 2023: 1, 2024: 1},
                                  "ct × vqa": {2021: 0, 2022: 0, 2023: 1, 2024: 0},
                                  "mri × segmentation": {2021: 0, 2022: 0, 2023: 1, 2024: 0},
                                  "mri × vqa": {2021: 0, 2022: 0, 2023: 1, 2024: 0}}
    assert list(T.domains_per_year(small_frame, top=2).index) == ["ct × segmentation", "ct × vqa"]


def test_field_coverage_counts_where_each_field_came_from(small_frame):
    cov = T.field_coverage(small_frame, ["family", "modalities", "tasks"]).set_index("field")
    assert cov.loc["family"].tolist()[:1] == [5]
    assert cov.loc["modalities", ["papers", "from_paper", "from_list", "inferred"]].tolist() == [5, 3, 1, 1]
    assert cov.loc["tasks", ["papers", "from_paper", "from_list", "inferred"]].tolist() == [5, 1, 4, 0]
    assert cov.loc["tasks", "share"] == pytest.approx(5 / 6)


def test_share_trends_detects_a_rising_share():
    years = range(2019, 2025)
    t = pd.DataFrame({"lora": [0, 0, 1, 3, 6, 9], "adapter": [5, 5, 5, 5, 5, 5]}, index=list(years))
    den = pd.Series([10, 10, 10, 10, 10, 10], index=list(years))
    s = T.share_trends(t, den).set_index("group")
    assert s.loc["lora", "share_first_year"] == 0 and s.loc["lora", "share_last_year"] == pytest.approx(0.9)
    assert s.loc["lora", "pval"] < 0.001
    assert s.loc["adapter", "pval"] == pytest.approx(1.0)  # a flat share: no trend
    chi2, _ = T.trend_in_share(t.lora.to_numpy(), den.to_numpy(), scores=list(years))
    assert s.loc["lora", "chi2_trend"] == pytest.approx(chi2)


# ------------------------------------------------------------------------------------- the shipped catalog and report

def test_shipped_papers_carry_extractions_and_the_report_shows_per_paper_trends(tmp_path):
    from fmreview.catalog import load, schema
    from fmreview.catalog.query import papers_frame
    from fmreview.reports.report import Report, _paper_trends

    cat = load()
    df = papers_frame(cat)
    extracted = papers_frame(cat, extracted_only=True)
    assert len(extracted) >= 400
    # every field the frame says came from somewhere has a value, and the other way round
    for f in schema.EXTRACTION_FIELDS:
        has = df[f].map(lambda v: bool(v) if isinstance(v, list) else pd.notna(v))
        assert (has == df[f"{f}_from"].notna()).all(), f
    rep = Report(tmp_path, quiet=True)
    (tmp_path / "tables").mkdir()
    _paper_trends(rep, df, None, None)
    title, blocks = rep.sections[0]
    assert title == "Trends in the literature, per paper"
    text = " ".join(b[1] for b in blocks if b[0] == "p")
    assert f"{len(extracted)} of the {len(df)} papers carry one" in text
    figures = {b[1]: b[2] for b in blocks if b[0] == "fig"}
    assert {"papers_per_year_by_family", "papers_per_year_by_band", "paper_dataset_use", "paper_domains",
            "paper_adaptation"} <= set(figures)
    assert all("n = " in c for c in figures.values())
    fam = pd.read_csv(tmp_path / "tables" / "papers_per_year_by_family.csv")
    n_family = int(df.family.notna().sum() - df[df.family.notna()].year.isna().sum())
    assert int(fam.drop(columns="year").values.sum()) == n_family
    cov = pd.read_csv(tmp_path / "tables" / "paper_extraction_coverage.csv").set_index("field")
    assert cov.loc["task", "papers"] == int(df.tasks.map(bool).sum())
    assert (cov.papers == cov.from_paper + cov.from_list + cov.inferred).all()


def test_domains_skip_paired_modalities(small_frame):
    frame = small_frame.assign(modalities=[["ct", "text"], ["text"], [], ["mri"], ["ct"], ["ct"]])
    d = T.domains_per_year(frame, skip={"text"})
    assert list(d.index) == ["ct × segmentation"] and d.loc["ct × segmentation"].tolist() == [1, 0, 0, 1]


def test_share_trends_reports_shares_of_years_with_enough_papers():
    t = pd.DataFrame({"lora": [2, 1, 3, 6]}, index=[2019, 2020, 2021, 2022])
    den = pd.Series([2, 10, 10, 10], index=[2019, 2020, 2021, 2022])
    s = T.share_trends(t, den).set_index("group")
    assert s.loc["lora", ["first_year", "last_year"]].tolist() == [2020, 2022]  # 2019 has 2 papers only
    assert s.loc["lora", "share_first_year"] == pytest.approx(0.1) and s.loc["lora", "share_last_year"] == pytest.approx(0.6)
    loose = T.share_trends(t, den, min_year_total=1).set_index("group")
    assert loose.loc["lora", "first_year"] == 2019 and loose.loc["lora", "share_first_year"] == 1.0
    assert loose.loc["lora", "chi2_trend"] == pytest.approx(s.loc["lora", "chi2_trend"])  # the test uses every year


# ------------------------------------------------------------------------------------- the extraction script's rules

def _script():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "docs" / "curation" / "extract_paper_fields.py"
    spec = importlib.util.spec_from_file_location("extract_paper_fields", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_title_keywords_infer_only_what_the_title_names():
    tf = _script().title_fields
    f = tf("Ultrasound SAM Adapter: Adapting SAM for Breast Lesion Segmentation in Ultrasound Images", has_tasks=True)
    assert f["modalities"][0] == ["ultrasound"] and f["adaptation"][0] == ["adapter"]
    assert f["family"][0] == "vision-only" and f["band"][0] == "organ-task-specific"
    # a method that claims zero-shot ability is not a model used as it is; an evaluation of zero-shot use is
    assert "adaptation" not in tf("TongueSAM: An Universal Tongue Segmentation Model Based on SAM with Zero-Shot", True)
    assert tf("Exploring the Zero-Shot Capabilities of SAM in 2D Medical Imaging", True)["adaptation"][0] == ["none"]
    # "Contextual" is no text: SAM-MIL stays vision-only; a CLIP title is vision-language
    assert tf("SAM-MIL: A Spatial Contextual Aware Multiple Instance Learning Approach", True)["family"][0] == "vision-only"
    assert tf("MedCLIP-SAMv2: Towards Universal Text-Driven Medical Image Segmentation", True)["family"][0] == "vision-language"
    # CBCT is cone-beam CT, not CT as well; a title without keywords gives nothing
    assert tf("3D-U-SAM Network For Few-shot Tooth Segmentation in CBCT Images", True)["modalities"][0] == ["cbct"]
    assert tf("Self-Prompting Makes It Great Again", True) == {}
