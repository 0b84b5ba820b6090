import csv
import io
import json

import pytest

from fmreview.catalog import load
from fmreview.reports.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_frames(mini_catalog):
    cat = load(mini_catalog)
    assert sorted(cat.models["id"]) == ["clip", "medsam", "sam"]
    assert set(cat.datasets["id"]) == {"btcv", "chexpert"}
    assert len(cat.papers) == 3 and len(cat.results) == 3
    sam = cat.models.set_index("id").loc["sam"]
    assert sam["parameters"] == 636_000_000 and sam["hf_repo"] == "facebook/sam-vit-huge"
    assert sam["open_weights"] is True or sam["open_weights"] == True  # derived from its checkpoint


def test_percent_is_normalised_and_reported_value_kept(mini_catalog):
    r = load(mini_catalog).results.set_index("id")
    assert r.loc["r-medsam-btcv", "value"] == pytest.approx(0.793)
    assert r.loc["r-medsam-btcv", "value_reported"] == 79.3 and r.loc["r-medsam-btcv", "unit"] == "percent"
    assert r.loc["r-medsam-btcv", "sd"] == pytest.approx(0.08)
    assert r.loc["r-sam-btcv", "value"] == 0.65
    assert r.loc["r-clip-chexpert", "ci_level"] == 0.95
    assert r.loc["r-clip-chexpert", "source_url"] == "https://github.com/bowang-lab/MedSAM"


def test_filters(mini_catalog):
    cat = load(mini_catalog)
    assert list(cat.models_where(modality="CT", task="segmentation")["id"]) == ["medsam"]
    assert sorted(cat.models_where(family="vision-only")["id"]) == ["medsam", "sam"]
    assert list(cat.models_where(since=2024)["id"]) == ["medsam"]
    assert list(cat.models_where(until=2021)["id"]) == ["clip"]
    assert sorted(cat.models_where(open_weights=True)["id"]) == ["clip", "sam"]
    assert list(cat.models_where(modality="ct,natural", task="retrieval")["id"]) == ["clip"]
    assert list(cat.results_where(metric="DSC", model="medsam")["id"]) == ["r-medsam-btcv"]
    assert list(cat.results_where(modality="x-ray")["id"]) == ["r-clip-chexpert"]
    assert list(cat.results_where(setting="few-shot")["id"]) == ["r-clip-chexpert"]
    assert list(cat.datasets_where(dimensionality="3d")["id"]) == ["btcv"]
    with pytest.raises(ValueError, match="unknown modality 'sonar'"):
        cat.models_where(modality="sonar")


def test_cli_models_three_formats(mini_catalog, capsys):
    code, out, _ = run(capsys, "models", "--catalog", str(mini_catalog), "--modality", "CT", "--task", "segmentation")
    assert code == 0 and "medsam" in out and "(1 row)" in out and "clip" not in out

    code, out, _ = run(capsys, "models", "--catalog", str(mini_catalog), "--format", "json")
    recs = json.loads(out)
    assert code == 0 and {r["id"] for r in recs} == {"sam", "medsam", "clip"}
    medsam = next(r for r in recs if r["id"] == "medsam")
    assert medsam["modalities"] == ["ct", "mri", "x-ray"] and medsam["parameters"] == 93_700_000
    assert medsam["hf_repo"] is None  # JSON null, not NaN

    code, out, _ = run(capsys, "models", "--catalog", str(mini_catalog), "--format", "csv", "--family", "vision-only")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and sorted(r["id"] for r in rows) == ["medsam", "sam"]
    assert next(r for r in rows if r["id"] == "medsam")["modalities"] == "ct;mri;x-ray"


def test_cli_results_datasets_papers(mini_catalog, capsys):
    code, out, _ = run(capsys, "results", "--catalog", str(mini_catalog), "--metric", "dice", "--format", "json")
    assert code == 0 and {r["id"] for r in json.loads(out)} == {"r-medsam-btcv", "r-sam-btcv"}
    code, out, _ = run(capsys, "datasets", "--catalog", str(mini_catalog), "--modality", "x-ray", "--format", "csv")
    assert code == 0 and "chexpert" in out and "btcv" not in out
    code, out, _ = run(capsys, "papers", "--catalog", str(mini_catalog), "--since", "2023")
    assert code == 0 and "sam-2023" in out and "clip-2021" not in out


def test_cli_results_table_shows_conditions_only_when_listed(mini_catalog, capsys):
    code, out, _ = run(capsys, "results", "--catalog", str(mini_catalog), "--metric", "dice")
    assert code == 0 and "condition" not in out.splitlines()[0] and "prompt_count" not in out.splitlines()[0]
    path = mini_catalog / "results" / "medsam-2024.yaml"
    text = path.read_text().replace("- id: r-sam-btcv\n", "- id: r-sam-btcv\n  condition: input 1024×1024\n  prompt_count: 1\n")
    assert "condition: input" in text
    path.write_text(text)
    code, out, _ = run(capsys, "results", "--catalog", str(mini_catalog), "--metric", "dice")
    header = out.splitlines()[0].split()
    assert code == 0 and header[header.index("prompt") + 1: header.index("prompt") + 3] == ["prompt_count", "condition"]
    assert "input 1024×1024" in out
    code, out, _ = run(capsys, "results", "--catalog", str(mini_catalog), "--condition", "input 1024×1024",
                       "--format", "json")
    assert [r["id"] for r in json.loads(out)] == ["r-sam-btcv"]


def test_cli_bad_filter_is_a_clean_error(mini_catalog, capsys):
    code, out, err = run(capsys, "models", "--catalog", str(mini_catalog), "--modality", "sonar")
    assert code == 1 and "unknown modality 'sonar'" in err and "Traceback" not in err


def test_show_links(mini_catalog, capsys):
    code, out, _ = run(capsys, "show", "medsam", "--catalog", str(mini_catalog), "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["model"]["name"] == "MedSAM" and doc["paper"]["id"] == "medsam-2024"
    assert [r["id"] for r in doc["results"]] == ["r-medsam-btcv"]
    code, out, _ = run(capsys, "show", "sam", "--catalog", str(mini_catalog), "--format", "json")
    assert json.loads(out)["derived_models"] == ["medsam"]
    code, out, _ = run(capsys, "show", "btcv", "--catalog", str(mini_catalog))
    assert code == 0 and "models_evaluated:\n- medsam\n- sam" in out
    code, out, _ = run(capsys, "show", "r-clip-chexpert", "--catalog", str(mini_catalog), "--format", "json")
    assert json.loads(out)["result"]["shots"] == 5
    code, _, err = run(capsys, "show", "medsamm", "--catalog", str(mini_catalog))
    assert code == 1 and "no entry 'medsamm' in the catalog; did you mean 'medsam'?" in err


def test_stats(mini_catalog, capsys):
    code, out, _ = run(capsys, "catalog", "stats", "--catalog", str(mini_catalog), "--format", "json")
    s = json.loads(out)
    assert s["entities"] == {"papers": 3, "models": 3, "datasets": 2, "results": 3, "result_sources": 1}
    assert s["models_by_family"] == {"vision-only": 2, "vision-language": 1}
    assert s["results_share_with_n"] == pytest.approx(1 / 3, abs=1e-3)
    assert s["results_share_with_uncertainty"] == pytest.approx(2 / 3, abs=1e-3)


def test_fmt_puts_keys_in_schema_order(mini_catalog, capsys):
    p = mini_catalog / "papers" / "sam-2023.yaml"
    p.write_text("kind: method\nurl: https://arxiv.org/abs/2304.02643\nyear: 2023\nauthors: [A]\ntitle: T\nid: sam-2023\n")
    assert main(["catalog", "fmt", "--check", "--catalog", str(mini_catalog)]) == 1
    assert main(["catalog", "fmt", "--catalog", str(mini_catalog)]) == 0
    capsys.readouterr()
    assert p.read_text().splitlines()[0] == "id: sam-2023"
    assert p.read_text().splitlines()[-1] == "kind: method"
    assert main(["catalog", "fmt", "--check", "--catalog", str(mini_catalog)]) == 0
    assert load(mini_catalog).papers.set_index("id").loc["sam-2023", "title"] == "T"
