"""The review report: numbers behind the figures, determinism, and a real headless browser."""

import os
import re
import shutil
import subprocess
import textwrap

import pandas as pd
import pytest

from fmreview.reports.cli import main

from conftest import write_catalog


def _comparison_results():
    """SAM vs MedSAM on 6 datasets (one protocol) and the datasets they need."""
    lines = ["source:", "  paper: sam-2023", "  url: https://arxiv.org/abs/2304.02643", "results:"]
    extra = {}
    for i, (a, b) in enumerate([(80, 70), (82, 75), (78, 70), (90, 80), (85, 79), (88, 77)]):
        ds = f"ds{i}"
        extra[f"datasets/{ds}.yaml"] = f"""
            id: {ds}
            name: Dataset {i}
            modalities: [{'ct' if i % 2 else 'mri'}]
            tasks: [segmentation]
            sources:
            - url: https://example.org/{ds}
              locator: Table 1
        """
        for model, v in (("medsam", a), ("sam", b)):
            lines += [f"- id: cmp-{model}-{ds}", f"  model: {model}", f"  dataset: {ds}", "  task: segmentation",
                      "  metric: dice", f"  value: {v}", "  unit: percent", "  setting: zero-shot", "  prompt: box",
                      "  n: 50", "  uncertainty: {sd: 10, over: cases}", "  locator: Table 2"]
    extra["results/cmp.yaml"] = "\n".join(lines) + "\n"
    return extra


@pytest.fixture
def report_catalog(tmp_path):
    return write_catalog(tmp_path / "catalog", extra={k: textwrap.dedent(v) for k, v in _comparison_results().items()})


def build(catalog, out):
    assert main(["report", "--catalog", str(catalog), "--out", str(out), "--quiet"]) == 0
    return out


def test_report_numbers(report_catalog, tmp_path):
    out = build(report_catalog, tmp_path / "r")
    fam = pd.read_csv(out / "tables" / "models_per_year_by_family.csv")
    assert fam.to_dict("list") == {"year": [2021, 2022, 2023, 2024], "vision-only": [0, 0, 1, 1],
                                   "vision-language": [1, 0, 0, 0]}
    tables = pd.read_csv(out / "tables" / "benchmark_tables.csv")
    assert tables.analysis.tolist().count("NMA") == 1  # the shared fixture's other table has one dataset
    assert tables.loc[0, ["table", "models", "datasets", "variances", "analysis"]].tolist() == [1, 2, 6, "reported",
                                                                                              "NMA"]
    eff = pd.read_csv(out / "tables" / "table1_nma.csv").set_index("treatment")
    # two models: the NMA is the univariate random-effects model of the differences (vi = sd²/n summed)
    from fmreview.analysis import rma

    diff = [0.1, 0.07, 0.08, 0.1, 0.06, 0.11]
    uni = rma(diff, [2 * 0.1**2 / 50] * 6)
    assert eff.loc["sam", "estimate"] == 0.0  # the reference: the base model medsam was adapted from
    assert eff.loc["medsam", "estimate"] == pytest.approx(uni.estimate, rel=1e-6)
    assert eff.loc["medsam", "se"] == pytest.approx(float(uni.se[0]), rel=1e-5)
    assert eff.loc["medsam", "pscore"] > eff.loc["sam", "pscore"]
    pooled = pd.read_csv(out / "tables" / "pooled.csv")
    assert pooled.loc[0, ["table", "best", "model"]].tolist() == [1, "medsam", "random effects"]
    prisma = (out / "tables" / "prisma.csv").read_text()
    assert "new_studies,node15,box11,Included,Studies included in review,,,3" in prisma
    for name in ("models_per_year_by_family", "modality_task_map", "table1_forest", "table1_netgraph", "prisma"):
        assert (out / "figures" / f"{name}.svg").stat().st_size > 1000
        assert (out / "figures" / f"{name}.png").stat().st_size > 1000
    md = (out / "report.md").read_text()
    assert "## Pooled performance" in md and "figures/table1_forest.svg" in md


def test_trend_window(report_catalog, tmp_path, capsys):
    """--since/--until bound the trend analysis (a review's search window) and nothing else."""
    out = tmp_path / "w"
    assert main(["report", "--catalog", str(report_catalog), "--out", str(out), "--quiet",
                 "--since", "2022", "--until", "2023"]) == 0
    fam = pd.read_csv(out / "tables" / "models_per_year_by_family.csv")
    assert fam.year.tolist() == [2023] and fam["vision-only"].tolist() == [1]
    growth = pd.read_csv(out / "tables" / "growth.csv")
    assert (growth.first_year >= 2022).all() and (growth.last_year <= 2023).all()
    size = pd.read_csv(out / "tables" / "catalog_size.csv").set_index("entity")["count"]
    whole = pd.read_csv(build(report_catalog, tmp_path / "all") / "tables" / "catalog_size.csv")
    assert size.to_dict() == whole.set_index("entity")["count"].to_dict()  # the evidence base is the whole catalog
    assert pd.read_csv(out / "tables" / "benchmark_tables.csv").datasets.max() == 6
    assert "Trends cover 1 of the 3 models (2023; window 2022–2023)" in (out / "report.md").read_text()
    capsys.readouterr()
    assert main(["report", "--catalog", str(report_catalog), "--out", str(tmp_path / "x"), "--quiet",
                 "--since", "2024", "--until", "2022"]) == 1
    assert "--since 2024 is after --until 2022" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("workers", ["1", "3"])
def test_same_catalog_gives_byte_identical_files(report_catalog, tmp_path, monkeypatch, workers):
    """Built twice, and with the figures written here or by worker processes: the same bytes."""
    a = build(report_catalog, tmp_path / "a")
    monkeypatch.setenv("FMREVIEW_WORKERS", workers)
    b = build(report_catalog, tmp_path / "b")
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert len(files) > 20
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for f in files:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f


def test_figures_a_worker_fails_to_write_are_written_here(report_catalog, tmp_path, monkeypatch):
    import os

    import fmreview.reports.report as report

    parent, real = os.getpid(), report.save

    def flaky(fig, path):
        if os.getpid() != parent:
            raise RuntimeError("a worker dies")
        return real(fig, path)

    good = build(report_catalog, tmp_path / "good")
    monkeypatch.setattr(report, "save", flaky)
    monkeypatch.setenv("FMREVIEW_WORKERS", "2")
    out = build(report_catalog, tmp_path / "flaky")
    figures = sorted(p.name for p in (good / "figures").iterdir())
    assert figures == sorted(p.name for p in (out / "figures").iterdir()) and len(figures) > 10
    for name in figures:
        assert (out / "figures" / name).read_bytes() == (good / "figures" / name).read_bytes(), name


def test_report_renders_in_headless_chromium(report_catalog, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI (.ci/run installs it)")
        pytest.skip("Debian's chromium is not installed here")
    out = build(report_catalog, tmp_path / "r")
    html = out / "report.html"
    proc = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=5000", f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", html.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = re.search(r'data-images-loaded="(\d+)/(\d+)"', proc.stdout)
    assert m, "the page's load handler did not run"
    loaded, total = map(int, m.groups())
    assert total >= 10 and loaded == total
    console = [l for l in proc.stderr.splitlines() if "CONSOLE" in l or "Uncaught" in l]
    assert console == []


@pytest.mark.parametrize("text, family", [
    ("Apache-2.0 (code)", "Apache-2.0"), ("Apache", "Apache-2.0"), ("MIT", "MIT"), (None, "not stated"),
    ("CC BY-NC-SA 4.0", "Non-commercial / research only"), ("Research use only (MSR release policy)", "Non-commercial / research only"),
    ("GPL-3.0", "GPL"), ("CC BY 4.0", "Creative Commons"), ("custom", "other"),
])
def test_licence_families(text, family):
    from fmreview.reports.report import licence_family

    assert licence_family(text) == family


def _three_model_catalog(tmp_path, source_paper):
    extra = _comparison_results()
    text = extra["results/cmp.yaml"].replace("paper: sam-2023", f"paper: {source_paper}")
    # clip on the same six datasets: no base-model link to either
    rows = []
    for i in range(6):
        rows += [f"- id: cmp-clip-ds{i}", "  model: clip", f"  dataset: ds{i}", "  task: segmentation", "  metric: dice",
                 f"  value: {60 + i}", "  unit: percent", "  setting: zero-shot", "  prompt: box", "  locator: Table 2"]
    extra["results/cmp.yaml"] = text + "\n".join(rows) + "\n"
    return write_catalog(tmp_path / "catalog", extra={k: textwrap.dedent(v) for k, v in extra.items()})


def _dice_rows(id_prefix: str, model: str, values, **fields) -> list[str]:
    """YAML lines of one result per dataset ds0, ds1, ... (segmentation, Dice in percent, zero-shot, box unless
    ``fields`` say otherwise)."""
    base = {"task": "segmentation", "metric": "dice", "unit": "percent", "setting": "zero-shot", "prompt": "box",
            "locator": "Table 2"} | fields
    rows = []
    for i, v in enumerate(values):
        rows += [f"- id: {id_prefix}-{model}-ds{i}", f"  model: {model}", f"  dataset: ds{i}", f"  value: {v}"]
        rows += [f"  {k}: {val}" for k, val in base.items()]
    return rows


@pytest.mark.parametrize("source_paper", ["sam-2023", "clip-2021", "medsam-2024"])
def test_comparison_set_orientation(tmp_path, source_paper):
    """Adapted model first when one is based on the other; otherwise the source's own model first; the effects
    are A - B for the pair as oriented, computed once per group and identical to a pair-by-pair computation."""
    from fmreview.catalog import load
    from fmreview.reports.catalog_meta import _pairs, comparison_sets

    cat = load(_three_model_catalog(tmp_path, source_paper))
    sets = {frozenset((s.model_a, s.model_b)): s for s in comparison_sets(cat)}
    assert len(sets) == 3
    assert (sets[frozenset(("medsam", "sam"))].model_a, sets[frozenset(("medsam", "sam"))].model_b) == ("medsam", "sam")
    own = {"sam-2023": "sam", "clip-2021": "clip", "medsam-2024": "medsam"}[source_paper]
    for pair, s in sets.items():
        if pair == {"medsam", "sam"}:
            continue
        if own in pair:
            assert s.model_a == own
        one = _pairs(cat.results, s.model_a, s.model_b)
        assert one.yi.tolist() == pytest.approx(s.data.yi.tolist())
        assert one.vi.tolist() == pytest.approx(s.data.vi.tolist())
        assert one.label.tolist() == s.data.label.tolist()


def test_cells_a_model_reports_twice_are_left_out(tmp_path):
    """Two different values for one model on one dataset under one protocol (a condition the fields do not name)
    cannot be paired like for like: that cell drops out; a repeated identical value does not. The catalog's
    validation now rejects such duplicates, so the guard is exercised on a results frame."""
    from fmreview.catalog import load
    from fmreview.reports.benchmark_tables import _cells
    from fmreview.reports.catalog_meta import _pairs

    res = load(_three_model_catalog(tmp_path, "sam-2023")).results
    clip = res[(res.model == "clip") & res.dataset.isin(["ds0", "ds1"])]
    twice = pd.concat([res, clip.assign(id=clip.id + "-again",
                                        value=clip.value.where(clip.dataset != "ds0", 0.70))], ignore_index=True)
    assert "ds0" not in set(_pairs(twice, "sam", "clip").dataset)
    assert "ds1" in set(_pairs(twice, "sam", "clip").dataset)
    cells, ambiguous = _cells(twice)
    assert ambiguous == 1
    assert not ((cells.model == "clip") & (cells.dataset == "ds0")).any()
    assert ((cells.model == "medsam") & (cells.dataset == "ds0")).any()


def test_comparison_sets_are_formed_per_prompt_count(tmp_path):
    """1-point and 3-point results of the same pair are two comparison sets, not one ambiguous one; the query
    filters by count."""
    from fmreview.catalog import load
    from fmreview.reports.catalog_meta import comparison_sets

    root = _three_model_catalog(tmp_path, "sam-2023")
    path = root / "results" / "cmp.yaml"
    rows = []
    for model, base in (("sam", 50), ("medsam", 60)):
        for count in (1, 3):
            rows += _dice_rows(f"cmp-{count}pt", model, [base + 5 * count + i for i in range(6)], prompt="point",
                               prompt_count=count, locator="Table 4")
    path.write_text(path.read_text() + "\n".join(rows) + "\n")
    cat = load(root)
    point = [s for s in comparison_sets(cat) if s.prompt == "point"]
    assert sorted(int(s.prompt_count) for s in point) == [1, 3]
    for s in point:
        assert (s.model_a, s.model_b, s.k) == ("medsam", "sam", 6)
        assert s.data.yi.round(6).tolist() == [0.1] * 6
        assert f"prompt {int(s.prompt_count)} × point" in s.title
    assert len(cat.results_where(prompt="point", prompt_count=3)) == 12


def test_two_documents_of_one_paper_are_two_protocols(tmp_path):
    """A later revision of a source's table (another URL) does not make the first table's cells ambiguous."""
    from fmreview.catalog import load
    from fmreview.reports.catalog_meta import comparison_sets

    root = _three_model_catalog(tmp_path, "sam-2023")
    rows = ["source:", "  paper: sam-2023", "  url: https://example.org/revised-table", "  reported_by: self",
            "results:"]
    for model, base in (("sam", 40), ("medsam", 45)):
        rows += _dice_rows("rev", model, [base + i for i in range(6)], locator="Table 2 (revised)")
    (root / "results" / "revised.yaml").write_text("\n".join(rows) + "\n")
    sets = [s for s in comparison_sets(load(root)) if {s.model_a, s.model_b} == {"medsam", "sam"}]
    assert sorted((s.source_document.endswith("revised-table"), s.k) for s in sets) == [(False, 6), (True, 6)]
    revised = next(s for s in sets if s.source_document.endswith("revised-table"))
    assert revised.data.yi.round(6).tolist() == [0.05] * 6


def test_comparison_sets_are_formed_per_condition(tmp_path):
    """Results the source reports under named conditions (here two adaptation heads) pair condition with
    condition; the query filters by condition."""
    from fmreview.catalog import load
    from fmreview.reports.catalog_meta import comparison_sets

    root = _three_model_catalog(tmp_path, "sam-2023")
    path = root / "results" / "cmp.yaml"
    rows = []
    for model, base in (("sam", 50), ("medsam", 58)):
        for cond, shift in (("CLIP-Adapter", 0), ("Tip-Adapter", 10)):
            rows += _dice_rows(f"cmp-{cond.lower()}", model, [base + shift + i for i in range(6)], setting="adapter",
                               condition=cond, locator="Table 5")
    path.write_text(path.read_text() + "\n".join(rows) + "\n")
    cat = load(root)
    adapter = [s for s in comparison_sets(cat) if s.setting == "adapter"]
    assert sorted(s.condition for s in adapter) == ["CLIP-Adapter", "Tip-Adapter"]
    for s in adapter:
        assert (s.model_a, s.model_b, s.k) == ("medsam", "sam", 6)
        assert s.data.yi.round(6).tolist() == [0.08] * 6 and s.title.endswith(f", {s.condition} (sam-2023)")
    assert len(cat.results_where(condition="Tip-Adapter")) == 12


def _table_rows(models_values, dataset, subsets=None, setting="zero-shot"):
    rows = []
    for model, values in models_values.items():
        for j, v in enumerate(values):
            ds = dataset if subsets else f"{dataset}{j}"
            rows += [f"- id: t-{model}-{ds}-{j}", f"  model: {model}", f"  dataset: {ds}", "  task: segmentation",
                     "  metric: dice", f"  value: {v}", "  unit: percent", f"  setting: {setting}", "  prompt: box",
                     "  locator: Table 3"]
            if subsets:
                rows.append(f"  subset: {subsets[j]}")
    return rows


def test_labels_of_one_dataset_are_never_pooled_as_studies(tmp_path):
    """117 organs of one test set are one dataset, not 117 studies: the table is listed, not pooled."""
    extra = {k: textwrap.dedent(v) for k, v in _comparison_results().items()}
    labels = [f"organ {i}" for i in range(8)]
    rows = _table_rows({"medsam": [80 + i for i in range(8)], "sam": [70 + i for i in range(8)]}, "ds0", labels,
                       setting="fine-tune")
    extra["results/organs.yaml"] = "\n".join(["source:", "  paper: sam-2023", "  url: https://example.org/organs",
                                              "results:", *rows]) + "\n"
    out = build(write_catalog(tmp_path / "catalog", extra=extra), tmp_path / "r")
    tables = pd.read_csv(out / "tables" / "benchmark_tables.csv")
    organs = tables[tables.setting == "fine-tune"].iloc[0]
    assert organs.labels == 8 and organs.datasets == 1
    assert organs.analysis.startswith("not pooled: one dataset")
    assert organs.table not in set(pd.read_csv(out / "tables" / "pooled.csv").table)


def test_three_models_get_rank_tests_and_a_cd_diagram(tmp_path):
    extra = {k: textwrap.dedent(v) for k, v in _comparison_results().items()}
    rows = _table_rows({"medsam": [80, 82, 78, 90, 85, 88], "sam": [70, 75, 70, 80, 79, 77],
                        "clip": [60, 61, 65, 62, 70, 64]}, "ds", setting="linear-probe")
    extra["results/three.yaml"] = "\n".join(["source:", "  paper: sam-2023", "  url: https://example.org/three",
                                             "results:", *rows]) + "\n"
    out = build(write_catalog(tmp_path / "catalog", extra=extra), tmp_path / "r")
    pooled = pd.read_csv(out / "tables" / "pooled.csv")
    row = pooled[pooled.models == 3].iloc[0]
    # every dataset ranks medsam > sam > clip: mean ranks 1, 2, 3 and Friedman χ² = 12 on 6 blocks (2 df)
    assert row.friedman_stat == pytest.approx(12.0) and row.rank_blocks == 6
    assert (out / "figures" / f"table{int(row.table)}_cd.svg").exists()


def test_report_says_what_it_shows(report_catalog, tmp_path):
    """Captions give their n; the assumed PRISMA flow says so on the image; characteristics tables exist."""
    from fmreview.catalog import load

    out = build(report_catalog, tmp_path / "r")
    cat = load(report_catalog)
    chars = pd.read_csv(out / "tables" / "model_characteristics.csv")
    assert sorted(chars.model) == sorted(cat.models.id)
    assert {"family", "band", "group", "parameters", "pretraining_data", "licence", "open_weights",
            "checkpoint_host"} <= set(chars.columns)
    ds = pd.read_csv(out / "tables" / "dataset_characteristics.csv")
    assert sorted(ds.dataset) == sorted(cat.datasets.id)
    assert {"modalities", "dimensionality", "size", "licence", "access"} <= set(ds.columns)
    md = (out / "report.md").read_text()
    captions = re.findall(r"^\*(.+)\*$", md, flags=re.M)
    assert captions and all("n = " in c for c in captions if "PRISMA" not in c), captions
    assert "derived from the catalog itself" in md
    assert "<NA>" not in md and "nan" not in md.split()  # a value no source states is an empty cell
    assert "<NA>" not in (out / "report.html").read_text()
    from fmreview.reports.report import _prisma_figure  # the SVG draws text as paths: check the figure's texts
    from fmreview.analysis.prisma import Prisma

    fig = _prisma_figure(Prisma(identified={"GitHub": 3}).complete(), assumed=True)
    assert any("Assumed flow" in t.get_text() for t in fig.axes[0].texts)
