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
