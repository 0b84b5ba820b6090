import json
from pathlib import Path

from fmreview.catalog import schema, vocab

ROOT = Path(__file__).resolve().parents[1]


def test_committed_schema_equals_generated():
    committed = json.loads((ROOT / "catalog" / "schema.json").read_text())
    assert committed == schema.json_schema(), "regenerate: fmreview catalog schema > catalog/schema.json"


def test_vocabulary_words_and_aliases_are_unambiguous():
    for name, terms in vocab.VOCABULARIES.items():
        seen = {}
        for term in terms.values():
            assert term.word == term.word.lower(), (name, term.word)
            for spelling in {term.word, term.label.lower(), *(a.lower() for a in term.aliases)}:
                assert seen.setdefault(spelling, term.word) == term.word, f"{name}: {spelling!r} means two words"


def test_canonical_accepts_labels_and_aliases_case_insensitively():
    assert vocab.canonical("modality", "CT") == "ct"
    assert vocab.canonical("modality", "Histopathology") == "pathology"
    assert vocab.canonical("metric", "DSC") == "dice"
    assert vocab.canonical("modality", "sonar") is None


def test_metric_ranges_are_consistent():
    for m in vocab.METRICS.values():
        if m.proportion:
            assert m.high == 1 and m.low in (0, -1), m.word
        if m.low is not None and m.high is not None:
            assert m.low < m.high


def test_counts_accept_suffixes():
    m = schema.Model.model_validate({
        "id": "x", "name": "X", "year": 2024, "family": "vision-only", "band": "general",
        "model_group": "vision-fm", "modalities": ["ct"], "tasks": ["segmentation"], "parameters": "1.1B",
        "sources": [{"url": "https://example.org", "locator": "README"}],
    })
    assert m.parameters == 1_100_000_000
    assert schema._count("86M") == 86_000_000 and schema._count("300k") == 300_000 and schema._count(7) == 7
