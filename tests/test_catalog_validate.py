"""Bad input: every problem reported at once with file:line and field; exit 1; never a traceback."""

import os
import textwrap

import pytest

from fmreview.catalog import CatalogError, load, validate
from fmreview.reports.cli import main



def problems_text(root):
    return "\n".join(str(p) for p in validate(root))


def test_mini_catalog_is_clean(mini_catalog, capsys):
    assert validate(mini_catalog) == []
    assert main(["catalog", "validate", "--catalog", str(mini_catalog)]) == 0
    out = capsys.readouterr().out
    assert "catalog OK: 9 files: 3 papers, 3 models, 2 datasets, 1 results files with 3 results" in out


def test_env_var_selects_catalog(mini_catalog, monkeypatch, capsys):
    monkeypatch.setenv("FMREVIEW_CATALOG", str(mini_catalog))
    assert main(["catalog", "validate"]) == 0
    assert str(mini_catalog) in capsys.readouterr().out


def corrupt(root, rel, text):
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


@pytest.mark.parametrize(
    "rel, text, expected",
    [
        ("papers/bad.yaml", "id: bad\ntitle: [unclosed\n", "papers/bad.yaml:3: YAML syntax: did not find expected ',' or ']' (while parsing a flow sequence at line 2)"),
        ("papers/bad.yaml", "id: bad\n\ttitle: x\n", "papers/bad.yaml:2: YAML syntax: found a tab character"),
        ("papers/bad.yaml", "id: bad\nid: bad2\n", "papers/bad.yaml:2: YAML syntax: duplicate key 'id' (first at line 1)"),
        ("papers/bad.yaml", "- just\n- a list\n", "papers/bad.yaml:1: expected a mapping of fields at the top level, found a list"),
        ("papers/bad.yaml", "", "papers/bad.yaml:1: expected a mapping of fields at the top level, found empty"),
        ("papers/bad.yaml", "id: bad\ntitle: T\nauthors: [A]\nyear: 1850\nurl: https://x.org\n",
         "papers/bad.yaml:4: year: implausible year 1850"),
        ("papers/bad.yaml", "id: bad\ntitle: T\nauthors: [A]\nyear: 2020\narxiv: '23.1'\nurl: https://x.org\n",
         "papers/bad.yaml:5: arxiv: malformed arXiv id"),
        ("papers/bad.yaml", "id: bad\ntitle: T\nauthors: [A]\nyear: 2020\ndoi: doi.org/10.1\nurl: https://x.org\n",
         "papers/bad.yaml:5: doi: malformed DOI"),
        ("papers/bad.yaml", "id: bad\ntitle: T\nauthors: [A]\nyear: 2020\nurl: www.x.org\n",
         "papers/bad.yaml:5: url: malformed URL"),
        ("papers/bad.yaml", "id: bad\ntitle: T\nauthors: [A]\nyear: 2020\nurl: https://x.org\ncolour: red\n",
         "papers/bad.yaml:6: colour: unknown key"),
        ("papers/bad.yaml", "id: bad\ntitle: T\nauthors: [A]\nyear: twenty\nurl: https://x.org\n",
         "papers/bad.yaml:4: year: expected a number, got the string 'twenty'"),
        ("papers/bad.yaml", "id: other\ntitle: T\nauthors: [A]\nyear: 2020\nurl: https://x.org\n",
         "papers/bad.yaml:1: id: id 'other' does not match the file name 'bad.yaml'"),
        ("papers/bad.txt", "hello", "papers/bad.txt: not a .yaml file"),
        ("papers/bad.yaml", "id: sam-2023\ntitle: T\nauthors: [A]\nyear: 2020\nurl: https://x.org\n", "duplicate id 'sam-2023'"),
        ("papers/bad.yaml", "id: bad\ntitle: T\nauthors: [A]\nyear: 2023\narxiv: '2304.02643'\nurl: https://x.org\n",
         "papers/sam-2023.yaml:5: arxiv: arxiv 2304.02643 is already the paper 'bad' (papers/bad.yaml); one paper"),
    ],
)
def test_each_problem_is_reported_with_file_line_and_field(mini_catalog, rel, text, expected):
    corrupt(mini_catalog, rel, text)
    assert expected in problems_text(mini_catalog)


def test_model_problems(mini_catalog):
    corrupt(mini_catalog, "models/bad.yaml", """
        id: bad
        name: Bad
        paper: no-such-paper
        year: 2024
        family: vision-only
        band: general
        model_group: vision-fm
        modalities: [CT]
        tasks: [segmentation]
        sources:
        - url: https://x.org
    """)
    text = problems_text(mini_catalog)
    assert "models/bad.yaml:8: modalities[0]: unknown modality word 'CT' (did you mean 'ct'?)" in text
    assert "models/bad.yaml:11: sources[0].locator: required field is missing" in text


def test_result_problems_are_all_reported_in_one_run(mini_catalog):
    corrupt(mini_catalog, "results/bad.yaml", """
        source:
          paper: medsam-2024
          url: https://github.com/bowang-lab/MedSAM
        results:
        - id: bad-1
          model: medsamm
          dataset: btcv
          task: segmentation
          metric: dice
          value: 179.3
          unit: percent
          setting: zero-shot
          locator: Table 1
        - id: bad-2
          model: medsamm
          dataset: btcv
          task: segmentation
          metric: dice
          value: 0.7
          unit: fraction
          setting: zero-shot
          locator: Table 1
        - id: bad-3
          model: medsam
          dataset: nowhere
          task: segmentation
          metric: hd95
          value: 3.0
          unit: percent
          setting: zero-shot
          locator: Table 1
    """)
    probs = validate(mini_catalog)
    text = "\n".join(map(str, probs))
    assert "results/bad.yaml:10: results[0].value: value 179.3 is outside dice's range [0, 100] in unit percent" in text
    assert "results/bad.yaml:15: results[1].model: refers to model 'medsamm', which is not in the catalog (did you mean 'medsam'" in text
    assert "results/bad.yaml:27: results[2].metric: metric hd95 is not a proportion" in text
    assert len([p for p in probs if p.file == "results/bad.yaml"]) == 3


def test_dangling_reference_from_result(mini_catalog):
    corrupt(mini_catalog, "results/more.yaml", """
        source:
          paper: no-such-paper
          url: https://x.org
        results:
        - id: more-1
          model: medsam
          dataset: lits
          task: segmentation
          metric: dice
          value: 0.8
          unit: fraction
          setting: zero-shot
          locator: Table 1
    """)
    text = problems_text(mini_catalog)
    assert "results/more.yaml:2: source.paper: refers to paper 'no-such-paper'" in text
    assert "results/more.yaml:7: results[0].dataset: refers to dataset 'lits'" in text


def test_huge_file_is_refused_without_reading_it(mini_catalog):
    big = mini_catalog / "papers" / "huge.yaml"
    with open(big, "wb") as f:
        f.truncate(50 * 1024 * 1024)
    assert "papers/huge.yaml: file is 52.4 MB; catalog files must be under 5 MB" in problems_text(mini_catalog)


def test_symlink_loop_and_broken_link(mini_catalog):
    os.symlink("loop.yaml", mini_catalog / "papers" / "loop.yaml")
    os.symlink(mini_catalog / "papers", mini_catalog / "papers" / "subdir")  # a directory cycle: not followed
    text = problems_text(mini_catalog)
    assert "papers/loop.yaml: broken or looping symbolic link" in text


def test_non_utf8(mini_catalog):
    (mini_catalog / "papers" / "latin.yaml").write_bytes(b"id: latin\ntitle: caf\xe9\n")
    assert "papers/latin.yaml: not UTF-8 text" in problems_text(mini_catalog)


def test_cli_exit_1_with_messages_and_no_traceback(mini_catalog, capsys):
    corrupt(mini_catalog, "papers/bad.yaml", "id: bad\n\ttitle: x\n")
    corrupt(mini_catalog, "datasets/bad.yaml", "id: bad\nname: x\nmodalities: [ct]\n")
    assert main(["catalog", "validate", "--catalog", str(mini_catalog)]) == 1
    cap = capsys.readouterr()
    assert "papers/bad.yaml:2:" in cap.out and "datasets/bad.yaml" in cap.out
    assert "Traceback" not in cap.out + cap.err
    assert "2 problems" in cap.err


def test_query_commands_refuse_a_broken_catalog(mini_catalog, capsys):
    corrupt(mini_catalog, "papers/bad.yaml", "id: bad\n")
    assert main(["models", "--catalog", str(mini_catalog)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fmreview: error: ") and "papers/bad.yaml:1: title: required field is missing" in err
    with pytest.raises(CatalogError) as e:
        load(mini_catalog)
    assert any(p.field == "title" for p in e.value.problems)


def test_missing_catalog_directory(tmp_path, capsys):
    assert main(["catalog", "validate", "--catalog", str(tmp_path / "nope")]) == 1
    assert "catalog directory not found" in capsys.readouterr().out


def test_fmt_takes_files_and_touches_only_those(mini_catalog, capsys):
    from fmreview.reports.cli import main

    a, b = mini_catalog / "papers" / "sam-2023.yaml", sorted((mini_catalog / "models").glob("*.yaml"))[0]
    for p in (a, b):  # the same data, keys out of canonical order
        lines = p.read_text().splitlines(keepends=True)
        p.write_text("".join(lines[1:] + lines[:1]))
    before_b = b.read_text()
    assert main(["catalog", "fmt", "--catalog", str(mini_catalog), str(a)]) == 0
    assert "formatted: papers/sam-2023.yaml" in capsys.readouterr().out
    assert a.read_text().startswith("id: ") and b.read_text() == before_b
    assert main(["catalog", "fmt", "--catalog", str(mini_catalog), str(mini_catalog.parent / "elsewhere.yaml")]) == 1
    assert "not a catalog file" in capsys.readouterr().err
