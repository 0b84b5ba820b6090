"""Curation policy as tests: the shipped catalog is clean, canonical, and every number carries its source."""

from fmreview.catalog import default_root, load, validate
from fmreview.catalog.fmt import format_catalog


def test_shipped_catalog_validates():
    problems = validate()
    assert problems == [], "\n".join(map(str, problems[:50]))


def test_shipped_catalog_is_in_canonical_form():
    changed = format_catalog(check=True)
    assert changed == [], f"run `fmreview catalog fmt`: {[str(p) for p in changed[:20]]}"


def test_every_result_model_and_dataset_says_where_it_was_read():
    cat = load()
    r = cat.results
    assert r["source_url"].notna().all() and r["locator"].str.len().gt(0).all()
    assert cat.models["source_url"].notna().all() and cat.datasets["source_url"].notna().all()
    assert cat.papers["url"].notna().all()


def test_shipped_catalog_is_packaged_where_the_loader_looks():
    assert (default_root() / "README.md").exists()


def test_zoo_list_verifiable_keeps_only_checkpoints_with_a_recipe(capsys):
    import json

    from fmreview.reports.cli import main

    assert main(["zoo", "list", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert main(["zoo", "list", "--format", "json", "--verifiable"]) == 0
    verifiable = json.loads(capsys.readouterr().out)
    assert verifiable and all(x["recipes"] for x in verifiable)
    assert sorted(x["model"] for x in verifiable) == sorted(x["model"] for x in listed if x["recipes"])
    assert len(verifiable) < len(listed)


def test_shipped_catalog_has_no_unresolved_warnings():
    from fmreview.catalog import check

    problems, warnings = check()
    assert problems == [] and warnings == [], "\n".join(map(str, warnings[:20]))


def test_shipped_aggregates_and_doubts_are_marked():
    r = load().results.set_index("id")
    assert r.loc["cxrvl-chexzero-nb-chexzero-chexpert-no-finding", "doubt"].startswith("AUC 0.07")
    ave = r[r["subset"].fillna("").str.startswith("Ave (average over")]
    assert len(ave) == 16 and (ave["aggregate"] == "mean").all()
    assert r.loc["rad3d-touchstone-mednext-average", "aggregate"] == "mean"
    assert r.loc["rad3d-bsf-brats-brainsegfounder-average", "aggregate_over"] == "the five cross-validation folds"


def test_shipped_modality_filter_uses_each_results_own_modality():
    cat = load()
    xray = cat.results_where(modality="x-ray")
    bp = xray[xray["dataset"] == "biomedparsedata"]
    assert len(bp) > 0 and bp["subset"].str.contains("modality X-Ray,").all()
    assert not xray["dataset"].isin(["omnimedvqa", "vqa-rad", "slake"]).any()  # mixed, no own modality
    assert (xray["modality"] == "x-ray").all()
