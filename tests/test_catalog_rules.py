"""Issue 13, part 3: curation rules as checks -- reported_by against the models' own papers, settings and
prompts the source does not state, and the ``inferred`` list (catalog/checks.py)."""

from fmreview.catalog import check, schema, vocab

THIRD = """
source:
  paper: {paper}
  url: {url}
  reported_by: {by}
results:
- id: {rid}
  model: {model}
  dataset: btcv
  task: segmentation
  metric: dice
  value: 80.0
  unit: percent
  setting: {setting}
  prompt: {prompt}
  locator: Table 1
"""


def rows(root, name="extra.yaml", paper="sam-2023", url="https://example.org/benchmark", by="self", rid="x-1",
         model="medsam", setting="zero-shot", prompt="box", extra=""):
    text = THIRD.format(paper=paper, url=url, by=by, rid=rid, model=model, setting=setting, prompt=prompt) + extra
    (root / "results" / name).write_text(text.lstrip(), encoding="utf-8")


def test_the_mini_catalog_is_clean(mini_catalog):
    # a self file of MedSAM's paper with SAM and CLIP baseline rows: the document is MedSAM's own
    assert check(mini_catalog) == ([], [])


def test_self_on_a_document_that_is_no_models_own_is_an_error_with_file_and_line(mini_catalog):
    # SAM's paper reporting only MedSAM (whose own paper is medsam-2024): a third party's benchmark
    rows(mini_catalog)
    problems, _ = check(mini_catalog)
    assert [str(p) for p in problems] == [
        "results/extra.yaml:4: source.reported_by: expected third-party: the source paper sam-2023 is not the own "
        "paper of any model in this file (medsam's own paper is medsam-2024); reported_by: self is for the models' "
        "own paper, README or card"]
    rows(mini_catalog, by="third-party")
    assert check(mini_catalog) == ([], [])


def test_self_on_the_models_own_readme_is_accepted(mini_catalog):
    # another paper id, but the document read is in MedSAM's own repository (a source of its entry)
    rows(mini_catalog, url="https://github.com/bowang-lab/MedSAM/blob/0123abc/README.md")
    assert check(mini_catalog) == ([], [])


def test_third_party_on_the_models_own_document_is_a_warning(mini_catalog):
    rows(mini_catalog, paper="medsam-2024", by="third-party", url="https://github.com/bowang-lab/MedSAM",
         extra="  subset: liver\n")
    problems, warnings = check(mini_catalog)
    assert problems == []
    assert [(w.file, w.line, w.field) for w in warnings] == [("results/extra.yaml", 4, "source.reported_by")]
    assert "expected self for medsam: the source paper medsam-2024 is medsam's own paper" in warnings[0].message
    # a paper id alone (another copy read) is not taken as proof
    rows(mini_catalog, paper="medsam-2024", by="third-party", url="https://example.org/table")
    assert check(mini_catalog) == ([], [])


def test_not_stated_is_a_setting_word_and_a_prompt_word():
    assert "not-stated" in vocab.words("setting") and "not-stated" in vocab.words("prompt")


def test_a_note_saying_the_setting_was_assumed_needs_not_stated_or_inferred(mini_catalog):
    note = "  note: Setting not stated in the table; recorded as zero-shot, an assumption.\n"
    rows(mini_catalog, paper="medsam-2024", extra=note)
    _, warnings = check(mini_catalog)
    assert [(w.file, w.line, w.field) for w in warnings] == [("results/extra.yaml", 13, "results[0].setting")]
    assert "write setting: not-stated, or list it in inferred: [setting]" in warnings[0].message
    rows(mini_catalog, paper="medsam-2024", setting="not-stated", extra=note)
    assert check(mini_catalog) == ([], [])
    rows(mini_catalog, paper="medsam-2024", extra=note + "  inferred: [setting]\n")
    assert check(mini_catalog) == ([], [])


def test_a_note_saying_the_prompt_is_not_stated_contradicts_the_default_none(mini_catalog):
    note = "  note: Prompt type not stated.\n"
    rows(mini_catalog, paper="medsam-2024", prompt="none", extra=note)
    _, warnings = check(mini_catalog)
    assert [w.field for w in warnings] == ["results[0].prompt"]
    # a stated prompt type whose wording is not given is a stated prompt
    rows(mini_catalog, paper="medsam-2024", prompt="text", extra=note)
    assert check(mini_catalog) == ([], [])
    rows(mini_catalog, paper="medsam-2024", prompt="not-stated", extra=note)
    assert check(mini_catalog) == ([], [])


def test_inferred_must_name_fields_that_are_set(mini_catalog):
    rows(mini_catalog, paper="medsam-2024", extra="  inferred: [dataset, colour, shots]\n")
    problems, _ = check(mini_catalog)
    assert [(p.line, p.field) for p in problems] == [(16, "results[0].inferred")] * 2
    assert "'colour', which is not a field" in problems[0].message and "'shots', which is not set" in problems[1].message
    m = mini_catalog / "models" / "medsam.yaml"
    m.write_text(m.read_text() + "inferred: [modalities, licence]\n")
    d = mini_catalog / "datasets" / "btcv.yaml"
    d.write_text(d.read_text() + "inferred: [classes]\n")
    problems, _ = check(mini_catalog)
    found = {(p.file, p.field, p.message.split(",")[0]) for p in problems}
    assert ("models/medsam.yaml", "inferred", "inferred names 'licence'") in found
    assert ("datasets/btcv.yaml", "inferred", "inferred names 'classes'") in found
    assert not any("'modalities'" in p.message for p in problems)


def test_licence_source_and_inferred_are_schema_fields():
    assert "licence_source" in schema.Model.model_fields
    for cls in (schema.Model, schema.Dataset, schema.Result):
        assert "inferred" in cls.model_fields
