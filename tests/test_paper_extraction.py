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
    url: {LIST}
    locator: README, section "SAM for Medical Image Segmentation.", row at line 347
  - fields: [modalities, adaptation]
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
    text = write_paper(mini_catalog, f"extraction:\n  evidence:\n  - fields: [tasks]\n    url: {LIST}\n    locator: row\n")
    out = "\n".join(problems(mini_catalog))
    assert f":{line_of(text, 'extraction:')}: extraction: an extraction needs at least one field" in out


def test_validate_cli_exits_1_on_a_bad_extraction(mini_catalog, capsys):
    write_paper(mini_catalog, GOOD.replace("family", "x").replace("  tasks: [segmentation]\n", "  tasks: [segmentation]\n  band: regional\n"))
    assert main(["catalog", "validate", "--catalog", str(mini_catalog)]) == 1
    out = capsys.readouterr()
    assert "papers/extracted-2024.yaml:" in out.out + out.err and "unknown band word 'regional'" in out.out + out.err
    assert "Traceback" not in out.out + out.err
