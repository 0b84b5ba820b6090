"""Verification records as evidence: ``results --verified``, ``show``, the report's Reproduced section and
``meta``/``nma`` with ``--verified-only`` and ``--values reproduced``.

The records are made by running the zoo (``zoo verify``) on real tiny checkpoints saved by their own libraries
(tests/zoo_fixtures.py: a transformers ViT and a timm ViT) over two synthetic datasets; every reproduced number
asserted below is read back from those record files, never written by hand."""

import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("timm")

from fmreview.reports.cli import main  # noqa: E402

import zoo_fixtures as Z  # noqa: E402

# the reported values are the catalog's (a source's claim); tolerances make two of the four agree with any
# plausible re-run and one disagree, so that every verdict path is exercised by real runs
RESULTS = [  # id, model, dataset, value, unit, tolerance
    ("tv-d1", "tiny-vit", "weak1", 70, "percent", 30),
    ("tv-d2", "tiny-vit", "weak2", 0.75, "fraction", 0.3),
    ("tm-d1", "tiny-timm", "weak1", 70, "percent", 30),
    ("tm-d2", "tiny-timm", "weak2", 0.05, "fraction", 0.01),  # far below anything a probe gets: not reproduced
]


def weak_npz(path: Path, seed: int, signal: int) -> Path:
    """Two classes that differ by a small brightness shift under heavy pixel noise and a bright-red nuisance
    unrelated to the label: a linear probe gets some but not all of the test cases right."""
    rng = np.random.default_rng(seed)

    def make(n):
        y = np.arange(n) % 2
        x = rng.integers(0, 120, (n, 32, 32, 3)) + (signal * y)[:, None, None, None]
        x[..., 0] += (rng.integers(0, 2, n) * 60)[:, None, None]
        return np.clip(x, 0, 255).astype(np.uint8), y.reshape(-1, 1)

    (a, b), (c, d), (e, f) = make(80), make(8), make(80)
    np.savez(path, train_images=a, train_labels=b, val_images=c, val_labels=d, test_images=e, test_labels=f)
    return path


def evidence_catalog(root: Path) -> Path:
    from conftest import write_catalog

    extra = {}
    for mid, fmt in (("tiny-vit", "transformers"), ("tiny-timm", "timm")):
        extra[f"models/{mid}.yaml"] = Z.model_yaml(mid, fmt)
    for did in ("weak1", "weak2"):
        extra[f"datasets/{did}.yaml"] = f"""
            id: {did}
            name: Weak brightness signal ({did}, synthetic)
            modalities: [pathology]
            tasks: [classification]
            sources:
            - url: https://example.org/{did}
              locator: test fixture
        """
    rows = "".join(f"""
        - id: {rid}
          model: {m}
          dataset: {d}
          task: classification
          metric: balanced-accuracy
          value: {v}
          unit: {u}
          setting: linear-probe
          protocol: {{head: {{kind: logistic-regression}}}}
          tolerance: {t}
          locator: Table 1
    """ for rid, m, d, v, u, t in RESULTS)
    extra["results/evidence.yaml"] = "source:\n  paper: clip-2021\n  url: https://example.org/evidence\nresults:" + \
        textwrap.indent(textwrap.dedent(rows), "")
    return write_catalog(root, extra={k: textwrap.dedent(v) if k != "results/evidence.yaml" else v
                                      for k, v in extra.items()})


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    return make_evidence(tmp_path_factory.mktemp("evidence"))


def make_evidence(d: Path) -> dict:
    """The catalog, and records from real runs: each result once in full, and tv-d1 once more on part of the
    test set (--limit), which must not speak for it."""
    cat = evidence_catalog(d / "catalog")
    ckpt = {"tiny-vit": Z.vit(d / "vit"), "tiny-timm": Z.timm_vit(d / "timm")}
    data = {"weak1": weak_npz(d / "weak1.npz", 1, 8), "weak2": weak_npz(d / "weak2.npz", 2, 16)}
    records = d / "records"
    assert main(["catalog", "validate", "--catalog", str(cat)]) == 0
    for rid, m, ds, *_ in RESULTS:
        assert main(["zoo", "verify", m, "--catalog", str(cat), "--result", rid, "--data", str(data[ds]),
                     "--checkpoint", f"local-dir:{ckpt[m]}", "--records", str(records), "--device", "cpu",
                     "--bootstrap", "200", "--quiet"]) == 0
    assert main(["zoo", "verify", "tiny-vit", "--catalog", str(cat), "--result", "tv-d1", "--data",
                 str(data["weak1"]), "--checkpoint", f"local-dir:{ckpt['tiny-vit']}", "--records", str(records),
                 "--device", "cpu", "--bootstrap", "50", "--limit", "20", "--quiet"]) == 0
    recs = [json.loads(p.read_text()) | {"record_file": p.name} for p in sorted(records.glob("*.json"))]
    full = {r["result"]: r for r in recs if not r["subsampled"]}
    return {"catalog": cat, "records": records, "full": full, "all": recs, "dir": d}


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_runs_are_real_and_cover_the_verdicts(zoo):
    full = zoo["full"]
    assert set(full) == {r[0] for r in RESULTS}
    assert full["tm-d2"]["verdict"] == "not reproduced"
    assert {full[r]["verdict"] for r in ("tv-d1", "tv-d2", "tm-d1")} == {"reproduced"}
    assert len({round(r["reproduced"], 6) for r in full.values()}) >= 3  # the models and datasets differ
    assert all(0 < r["ci_low"] < r["reproduced"] < r["ci_high"] <= 1 for r in full.values())
    assert any(r["subsampled"] and r["verdict"] == "inconclusive" for r in zoo["all"])


def test_results_verified_lists_records_side_by_side(zoo, capsys):
    code, out, _ = run(capsys, "results", "--catalog", str(zoo["catalog"]), "--verified", "--records",
                       str(zoo["records"]), "--format", "json")
    assert code == 0
    rows = {r["id"]: r for r in json.loads(out)}
    assert set(rows) == set(zoo["full"])  # only results with records; the mini catalog's others are not listed
    for rid, rec in zoo["full"].items():
        row = rows[rid]
        assert row["reported"] == pytest.approx(rec["reported"]) and row["reproduced"] == rec["reproduced"]
        assert (row["ci_low"], row["ci_high"]) == (rec["ci_low"], rec["ci_high"]) and row["verdict"] == rec["verdict"]
    assert rows["tv-d1"]["runs"] == 2  # the --limit run exists but the full run speaks for the result
    code, out, _ = run(capsys, "results", "--catalog", str(zoo["catalog"]), "--verified", "--records",
                       str(zoo["records"]), "--model", "tiny-timm")
    assert code == 0 and "not reproduced" in out and "tv-d1" not in out


def test_show_puts_reproduced_beside_reported(zoo, capsys):
    rec = zoo["full"]["tv-d1"]
    code, out, _ = run(capsys, "show", "tv-d1", "--catalog", str(zoo["catalog"]), "--records", str(zoo["records"]),
                       "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["result"]["value"] == 70
    got = doc["reproduced"]  # in the result's unit (percent), beside the reported 70
    assert got["unit"] == "percent" and got["reported"] == pytest.approx(70)
    assert got["reproduced"] == pytest.approx(100 * rec["reproduced"]) and got["verdict"] == rec["verdict"]
    assert got["record"] == rec["record_file"] and got["runs"] == 2
    code, out, _ = run(capsys, "show", "tiny-timm", "--catalog", str(zoo["catalog"]), "--records",
                       str(zoo["records"]), "--format", "json")
    rows = {r["id"]: r for r in json.loads(out)["results"]}
    assert rows["tm-d2"]["reproduced"] == pytest.approx(zoo["full"]["tm-d2"]["reproduced"])  # fraction unit
    assert rows["tm-d2"]["verdict"] == "not reproduced"
    code, out, _ = run(capsys, "show", "sam", "--catalog", str(zoo["catalog"]), "--records", str(zoo["records"]),
                       "--format", "json")
    assert code == 0 and "reproduced" not in json.loads(out)  # no records: nothing added


def _z_vi(rec):
    return ((rec["ci_high"] - rec["ci_low"]) / (2 * 1.959963984540054)) ** 2


def test_meta_with_reproduced_values_equals_meta_on_the_records(zoo, capsys, tmp_path):
    """--values reproduced pools the records' values with their bootstrap CIs: the same fit as a CSV written
    from the record files."""
    base = ["meta", "--from-catalog", "--catalog", str(zoo["catalog"]), "--metric", "balanced-accuracy",
            "--records", str(zoo["records"]), "--format", "json"]
    code, out, err = run(capsys, *base, "--model", "tiny-vit", "--values", "reproduced")
    assert code == 0, err
    fit = json.loads(out)
    assert "4 of 4 results with a record of a full run" in err and "reproduced ones" in err
    recs = [zoo["full"]["tv-d1"], zoo["full"]["tv-d2"]]
    csv = tmp_path / "recs.csv"
    pd.DataFrame({"yi": [r["reproduced"] for r in recs], "vi": [_z_vi(r) for r in recs]}).to_csv(csv, index=False)
    code, out2, _ = run(capsys, "meta", str(csv), "--format", "json")
    ref = json.loads(out2)
    assert fit["k"] == 2 and fit["estimate"] == pytest.approx(ref["estimate"], rel=1e-9)
    assert fit["se"] == pytest.approx(ref["se"], rel=1e-9)
    # reported values: the catalog's, not the records'
    code, out, err = run(capsys, *base, "--model", "tiny-vit")
    assert code == 0 and json.loads(out)["estimate"] == pytest.approx(0.725)


def test_verified_only_keeps_reproduced_results(zoo, capsys):
    base = ["meta", "--from-catalog", "--catalog", str(zoo["catalog"]), "--metric", "balanced-accuracy",
            "--records", str(zoo["records"]), "--format", "json"]
    code, out, err = run(capsys, *base, "--model", "tiny-vit", "--verified-only")
    assert code == 0 and json.loads(out)["k"] == 2
    assert "3 of 4 results with a record whose verdict is 'reproduced'" in err
    # tm-d2 was not reproduced: the pair shares one verified dataset only
    code, _, err = run(capsys, *base, "--compare", "tiny-vit", "tiny-timm", "--verified-only")
    assert code == 1 and "share 1 dataset(s)" in err
    code, out, err = run(capsys, *base, "--compare", "tiny-vit", "tiny-timm", "--values", "reproduced")
    assert code == 0, err
    fit = json.loads(out)
    f = zoo["full"]
    d = [f["tv-d1"]["reproduced"] - f["tm-d1"]["reproduced"], f["tv-d2"]["reproduced"] - f["tm-d2"]["reproduced"]]
    assert fit["k"] == 2 and min(d) - 1e-9 <= fit["estimate"] <= max(d) + 1e-9


def test_nma_with_reproduced_values_and_verified_only(zoo, capsys, tmp_path):
    """Two models on two datasets, reproduced values: the network's common effect is the inverse-variance mean
    of the per-dataset differences (variances from the records' CIs), its random effect the REML pooling of
    them, as ``meta`` fits them from a CSV of the record files' numbers."""
    base = ["nma", "--from-catalog", "--catalog", str(zoo["catalog"]), "--metric", "balanced-accuracy",
            "--records", str(zoo["records"]), "--format", "json"]
    code, out, err = run(capsys, *base, "--values", "reproduced")
    assert code == 0, err
    net = json.loads(out)
    assert net["reference"] == "tiny-timm" and net["n_studies"] == 2 and net["variances"] == "reported"
    f = zoo["full"]
    d = np.array([f["tv-d1"]["reproduced"] - f["tm-d1"]["reproduced"],
                  f["tv-d2"]["reproduced"] - f["tm-d2"]["reproduced"]])
    v = np.array([_z_vi(f["tv-d1"]) + _z_vi(f["tm-d1"]), _z_vi(f["tv-d2"]) + _z_vi(f["tm-d2"])])
    common = net["common"][0]
    assert common["treatment"] == "tiny-vit"
    assert common["estimate"] == pytest.approx((d / v).sum() / (1 / v).sum(), rel=1e-9)
    assert common["se"] == pytest.approx((1 / (1 / v).sum()) ** 0.5, rel=1e-9)
    csv = tmp_path / "d.csv"
    pd.DataFrame({"yi": d, "vi": v}).to_csv(csv, index=False)
    code, out2, _ = run(capsys, "meta", str(csv), "--format", "json")
    assert net["effects"][0]["estimate"] == pytest.approx(json.loads(out2)["estimate"], rel=1e-9)
    # reported values: no variances in the catalog, so the additive model on the reported numbers
    code, out, err = run(capsys, *base)
    assert code == 0 and json.loads(out)["variances"] != "reported"
    # verified only: tm-d2 was not reproduced, so weak2 holds one arm and the network one comparison
    code, out, err = run(capsys, *base, "--verified-only", "--values", "reproduced")
    assert code == 1 and "Traceback" not in err and "3 of 4 results with a record whose verdict is 'reproduced'" in err
    assert "could not be fitted" in err


def test_stale_record_does_not_count(zoo, capsys, tmp_path):
    import shutil

    cat = tmp_path / "catalog"
    shutil.copytree(zoo["catalog"], cat)
    f = cat / "results" / "evidence.yaml"
    f.write_text(f.read_text().replace("value: 0.75\n", "value: 0.76\n"))  # tv-d2's reported value changed
    code, out, _ = run(capsys, "results", "--catalog", str(cat), "--verified", "--records", str(zoo["records"]),
                       "--format", "json")
    rows = {r["id"]: r for r in json.loads(out)}
    assert rows["tv-d2"]["verdict"] == "reproduced (stale)" and rows["tv-d2"]["reported"] == pytest.approx(0.76)
    code, out, err = run(capsys, "meta", "--from-catalog", "--catalog", str(cat), "--metric", "balanced-accuracy",
                         "--records", str(zoo["records"]), "--model", "tiny-vit", "--verified-only")
    assert code == 1 and "2 of 4 results" in err and "1 of them stale" in err and "need at least 2" in err


def test_report_has_a_reproduced_section(zoo, tmp_path):
    from fmreview.reports.report import build_report

    out = build_report(tmp_path / "report", catalog=zoo["catalog"], quiet=True, records=zoo["records"])
    md = (out / "report.md").read_text()
    assert "## Reproduced" in md and "figures/reproduced_scatter.svg" in md
    assert "re-ran 4 of" in md and "3 reproduced, 1 not reproduced" in md
    assert "<svg" in (out / "figures" / "reproduced_scatter.svg").read_text()
    assert (out / "figures" / "reproduced_scatter.png").stat().st_size > 1000
    table = pd.read_csv(out / "tables" / "reproduced.csv")
    assert set(table["id"]) == set(zoo["full"])
    for rid, rec in zoo["full"].items():
        assert table.set_index("id").loc[rid, "reproduced"] == pytest.approx(rec["reproduced"], rel=1e-5)
    verdicts = pd.read_csv(out / "tables" / "reproduced_verdicts.csv").set_index("verdict")["results"].to_dict()
    assert verdicts == {"reproduced": 3, "not reproduced": 1}
    assert "Reported vs reproduced" in (out / "report.html").read_text()
    # no records: the section says so instead of a plot
    empty = tmp_path / "no-records"
    empty.mkdir()
    out2 = build_report(tmp_path / "report2", catalog=zoo["catalog"], quiet=True, records=empty)
    md2 = (out2 / "report.md").read_text()
    assert "## Reproduced" in md2 and "No reported result has been re-run by the reference zoo yet" in md2
    assert not (out2 / "figures" / "reproduced_scatter.svg").exists()


def test_bad_input_is_refused_clearly(zoo, capsys, tmp_path):
    cat = str(zoo["catalog"])
    a_file = tmp_path / "records.json"
    a_file.write_text("{}")
    cases = [
        (["meta", "--verified-only", "x.csv"], "add --from-catalog"),
        (["nma", "--values", "reproduced", "x.csv"], "add --from-catalog"),
        (["results", "--catalog", cat, "--verified", "--records", str(a_file)], "not a folder"),
        (["results", "--catalog", cat, "--verified", "--records", str(tmp_path / "none")], "no such folder"),
        (["show", "tv-d1", "--catalog", cat, "--records", str(tmp_path / "none")], "no such folder"),
        (["meta", "--from-catalog", "--catalog", cat, "--metric", "balanced-accuracy", "--model", "tiny-vit",
          "--values", "reproduced", "--records", str(tmp_path)], "no verification record in"),
    ]
    for argv, msg in cases:
        code, _, err = run(capsys, *argv)
        assert code == 1 and msg in err and "Traceback" not in err, (argv, err)
