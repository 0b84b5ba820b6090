"""Issue 13, part 2: licences from their files. A model's licence and each checkpoint's licence carry their own
source (the LICENSE file at a commit or the model card); a disagreement between two places is recorded as
``licence_conflict``; a badge never counts. Checks in catalog/checks.py, fields in catalog/schema.py."""

import yaml

from fmreview.catalog import check, pinning, schema
from fmreview.reports.cli import main

LICENSE_URL = "https://github.com/bowang-lab/MedSAM/blob/d71e8a1b0e8cbb0d9d6ebc3bca0b1b64b0dc0d79/LICENSE"
CHECKPOINT = """checkpoints:
- name: vit-b
  hub: huggingface
  repo_id: wanglab/medsam-vit-base
  licence: Apache-2.0
"""


def model(root, extra: str):
    m = root / "models" / "medsam.yaml"
    m.write_text(m.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return m


def line_of(path, text):
    return next(i for i, x in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if x.startswith(text))


def test_a_licence_without_a_source_is_an_error_with_file_and_line(mini_catalog):
    m = model(mini_catalog, "licence: Apache-2.0\n")
    problems, _ = check(mini_catalog)
    assert [(p.file, p.line, p.field) for p in problems] == [("models/medsam.yaml", line_of(m, "licence:"), "licence")]
    assert "licence 'Apache-2.0' has no licence_source" in problems[0].message


def test_the_cli_reports_it_and_exits_1(mini_catalog, capsys):
    m = model(mini_catalog, "licence: MIT\n")
    assert main(["catalog", "validate", "--catalog", str(mini_catalog)]) == 1
    out = capsys.readouterr()
    assert f"models/medsam.yaml:{line_of(m, 'licence:')}: licence: licence 'MIT' has no licence_source" in out.out + out.err
    assert "Traceback" not in out.err


def test_a_licence_with_its_source_is_clean(mini_catalog):
    model(mini_catalog, f"licence: Apache-2.0\nlicence_source:\n  url: {LICENSE_URL}\n  locator: LICENSE\n")
    assert check(mini_catalog) == ([], [])


def test_a_checkpoint_licence_needs_its_own_source(mini_catalog):
    m = model(mini_catalog, CHECKPOINT)
    problems, _ = check(mini_catalog)
    assert [(p.file, p.line, p.field) for p in problems] == [
        ("models/medsam.yaml", line_of(m, "  licence:"), "checkpoints[0].licence")]
    # the model's own licence source does not cover the checkpoint's weights
    model(mini_catalog, f"licence: Apache-2.0\nlicence_source:\n  url: {LICENSE_URL}\n  locator: LICENSE\n")
    assert [p.field for p in check(mini_catalog)[0]] == ["checkpoints[0].licence"]
    m.write_text(m.read_text(encoding="utf-8").replace(
        "  licence: Apache-2.0\n", "  licence: Apache-2.0\n  licence_source:\n"
        "    url: https://huggingface.co/wanglab/medsam-vit-base?rev=0123abcd\n    locator: model card, license\n"),
        encoding="utf-8")
    assert check(mini_catalog) == ([], [])


def test_a_badge_is_not_a_licence_source(mini_catalog):
    model(mini_catalog, "licence: GPL\nlicence_source:\n  url: https://img.shields.io/badge/license-GPL-white\n"
                        "  locator: README badge\n")
    problems, _ = check(mini_catalog)
    assert [p.field for p in problems] == ["licence_source"]
    assert "a badge is not a licence" in problems[0].message


CONFLICT = f"""licence_conflict:
- licence: Apache-2.0
  place: licence-file
  source:
    url: {LICENSE_URL}
    locator: LICENSE
- licence: GPL
  place: badge
  source:
    url: https://github.com/bowang-lab/MedSAM/blob/d71e8a1/README.md#L6
    locator: README line 6, badge
"""


def test_a_conflict_is_recorded_with_both_sources(mini_catalog):
    model(mini_catalog, f"licence: Apache-2.0\nlicence_source:\n  url: {LICENSE_URL}\n  locator: LICENSE\n" + CONFLICT)
    assert check(mini_catalog) == ([], [])
    rec = schema.Model.model_validate(yaml.safe_load((mini_catalog / "models" / "medsam.yaml").read_text()))
    assert [(c.licence, c.place) for c in rec.licence_conflict] == [("Apache-2.0", "licence-file"), ("GPL", "badge")]


def test_the_badge_side_of_a_conflict_never_decides_the_licence(mini_catalog):
    f = model(mini_catalog, "licence: GPL\nlicence_source:\n  url: https://github.com/bowang-lab/MedSAM/blob/d71e8a1/"
                            "README.md\n  locator: README text\n" + CONFLICT)
    problems, _ = check(mini_catalog)
    assert [(p.field, p.line) for p in problems] == [("licence", line_of(f, "licence:"))]
    assert "none of the licence-file or model-card claims" in problems[0].message


def test_a_conflict_needs_two_claims_that_differ(mini_catalog):
    one = CONFLICT.split("- licence: GPL")[0]
    model(mini_catalog, f"licence: Apache-2.0\nlicence_source:\n  url: {LICENSE_URL}\n  locator: LICENSE\n" + one)
    problems, _ = check(mini_catalog)
    assert [p.field for p in problems] == ["licence_conflict"]
    assert "at least two claims that differ" in problems[0].message


def test_an_unknown_place_is_refused_with_the_words_expected(mini_catalog):
    bad = CONFLICT.replace("place: badge", "place: rumour")
    model(mini_catalog, f"licence: Apache-2.0\nlicence_source:\n  url: {LICENSE_URL}\n  locator: LICENSE\n" + bad)
    problems = [p for p in check(mini_catalog)[0] if p.file == "models/medsam.yaml"]
    assert [(p.field, p.line) for p in problems] == [("licence_conflict[1].place", 27)]
    assert "licence-file" in problems[0].message and "badge" in problems[0].message


def test_licence_sources_are_counted_among_the_pinned_sources(mini_catalog, capsys):
    model(mini_catalog, "licence: Apache-2.0\nlicence_source:\n  url: https://github.com/bowang-lab/MedSAM/blob/main/"
                        "LICENSE\n  locator: LICENSE\n")
    from fmreview.catalog.store import read_catalog

    _, unpinned = pinning.census(read_catalog(mini_catalog))
    assert any(u.loc == ("licence_source", "url") for u in unpinned)
    assert main(["catalog", "validate", "--catalog", str(mini_catalog), "--strict"]) == 1
    assert "blob/main/LICENSE names no commit" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------- shipped catalog

def _shipped():
    from fmreview.catalog.store import read_catalog

    return read_catalog()


def test_every_shipped_licence_has_its_source_and_none_is_a_badge():
    cat = _shipped()
    n = 0
    for e in cat.models.values():
        for rec in [e.record, *e.record.checkpoints]:
            if rec.licence:
                n += 1
                assert rec.licence_source is not None, e.file
                assert "shields.io" not in rec.licence_source.url and "badge" not in rec.licence_source.locator.lower()
    assert n >= 150


def test_shipped_known_conflicts_are_recorded():
    cat = _shipped()
    msam2 = cat.models["medical-sam2"].record
    assert msam2.licence == "Apache-2.0" and msam2.licence_source.url.endswith("/LICENSE")
    assert {(c.licence, c.place) for c in msam2.licence_conflict} == {("Apache-2.0", "licence-file"), ("GPL", "badge")}
    suprem = cat.models["suprem"].record
    assert {c.licence for c in suprem.licence_conflict} == {"MIT", "CC-BY-NC-ND-4.0"}
    assert all(pinning.pinned(c.source.url) for c in suprem.licence_conflict)
    endo = cat.models["monai-endoscopic-tool-segmentation"].record
    assert endo.organisation.startswith("NVIDIA") and endo.year == 2021
