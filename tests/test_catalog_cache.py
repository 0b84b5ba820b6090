from fmreview.catalog import load, validate
from fmreview.catalog.cache import ParseCache


def test_cache_serves_unchanged_files_and_rereads_changed_ones(mini_catalog, monkeypatch):
    from fmreview.catalog import yamlio

    monkeypatch.setattr(yamlio, "_yaml_rs", None)  # every file through PyYAML, so every file is cached
    assert load(mini_catalog).papers.set_index("id").loc["sam-2023", "year"] == 2023
    cache = ParseCache(mini_catalog)
    assert cache.path.exists() and "papers/sam-2023.yaml" in cache.entries
    p = mini_catalog / "papers" / "sam-2023.yaml"
    p.write_text(p.read_text().replace("year: 2023", "year: 2022"))  # same size, new bytes
    assert load(mini_catalog).papers.set_index("id").loc["sam-2023", "year"] == 2022


def test_errors_are_not_cached(mini_catalog):
    p = mini_catalog / "papers" / "bad.yaml"
    p.write_text("id: bad\n\tx: 1\n")
    for _ in range(2):
        assert any("tab character" in str(x) for x in validate(mini_catalog))


def test_cache_can_be_disabled_and_a_corrupt_cache_is_ignored(mini_catalog, monkeypatch):
    load(mini_catalog)
    cache = ParseCache(mini_catalog)
    cache.path.write_text("{not json")
    assert len(load(mini_catalog).models) == 3
    monkeypatch.setenv("FMREVIEW_NO_CACHE", "1")
    assert not ParseCache(mini_catalog).enabled
    assert len(load(mini_catalog).models) == 3


def test_documents_json_cannot_hold_are_parsed_every_time(mini_catalog):
    p = mini_catalog / "papers" / "dated.yaml"
    p.write_text("id: dated\ntitle: T\nauthors: [A]\nyear: 2020-01-01\nurl: https://x.org\n")
    for _ in range(2):
        assert any(x.file == "papers/dated.yaml" and x.field == "year" for x in validate(mini_catalog))
    assert "papers/dated.yaml" not in ParseCache(mini_catalog).entries


def test_files_the_fast_reader_takes_are_not_cached(mini_catalog):
    from fmreview.catalog import yamlio

    if yamlio._yaml_rs is None:
        return
    load(mini_catalog)
    assert "papers/sam-2023.yaml" not in ParseCache(mini_catalog).entries
