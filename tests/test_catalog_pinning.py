"""Sources pinned to a commit: what counts as pinned, the share reported by validate, and --strict."""

import pytest

from fmreview.catalog.pinning import hosted, pinned
from fmreview.reports.cli import main

from conftest import write_catalog


@pytest.mark.parametrize("url,is_pinned", [
    ("https://github.com/mahmoodlab/UNI/blob/main/README_old.md", False),
    ("https://github.com/mahmoodlab/UNI", False),
    ("https://github.com/SuperMedIntel/Medical-SAM2/blob/18b0f5bcea75cb0c212d652ff22ad063bf39ee3a/README.md", True),
    ("https://github.com/kaiko-ai/eva/blob/73b61a7/tools/data/leaderboards/pathology.csv", True),
    ("https://github.com/o/r/tree/0123abc/docs", True),
    ("https://raw.githubusercontent.com/o/r/0123456789abcdef0123456789abcdef01234567/x.csv", True),
    ("https://raw.githubusercontent.com/o/r/main/x.csv", False),
    ("https://huggingface.co/google/medsiglip-448", False),
    ("https://huggingface.co/google/medsiglip-448/blob/3f2a9c1/README.md", True),
    ("https://huggingface.co/wanglab/medsam-vit-base?rev=0123abcd", True),
])
def test_what_counts_as_pinned(url, is_pinned):
    assert hosted(url)
    assert pinned(url) is is_pinned


def test_other_hosts_are_not_counted():
    assert not hosted("https://arxiv.org/abs/2304.02643")


def test_validate_reports_the_share_and_strict_errors(tmp_path, capsys):
    root = write_catalog(tmp_path / "catalog")  # its model sources cite GitHub repositories at no commit
    assert main(["catalog", "validate", "--catalog", str(root)]) == 0
    err = capsys.readouterr().err
    assert "GitHub and Hugging Face source URLs name the commit they were read at (0%)" in err
    assert "--strict lists the other" in err
    assert main(["catalog", "validate", "--catalog", str(root), "--strict"]) == 1
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "https://github.com/bowang-lab/MedSAM names no commit" in x)
    assert line.startswith("models/") and line.split(":")[1].isdigit()  # file:line
