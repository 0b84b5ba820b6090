"""The meta-analysis CLI contract: JSON keys, effects CSV, clear errors for bad input; invariants."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fmreview.analysis import rma
from fmreview.reports.cli import main

BCG = Path(__file__).parent / "data" / "metafor" / "bcg.csv"
KEYS = ["k", "method", "test", "estimate", "se", "stat", "pval", "ci_low", "ci_high", "pi_low", "pi_high", "tau2",
        "se_tau2", "tau2_ci_low", "tau2_ci_high", "i2", "h2", "q", "q_pval", "bias", "leave_one_out", "cumulative",
        "moderators", "subgroups"]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_meta_json_has_every_key_and_nulls(capsys):
    code, out, _ = run(capsys, "meta", BCG, "--format", "json")
    doc = json.loads(out)
    assert code == 0 and list(doc) == KEYS
    assert doc["bias"] is None and doc["moderators"] is None and doc["k"] == 13
    assert doc["estimate"] == pytest.approx(-0.714532, abs=1e-6)


def test_meta_json_with_everything(capsys, tmp_path):
    code, out, _ = run(capsys, "meta", BCG, "--format", "json", "--bias", "--leave-one-out", "--cumulative",
                       "--mods", "ablat", "--by", "alloc", "--permutations", "99", "--seed", "1",
                       "--forest", tmp_path / "f.svg", "--funnel", tmp_path / "fun")
    doc = json.loads(out)
    assert code == 0
    assert set(doc["bias"]) == {"egger", "egger_lm", "begg", "trimfill", "notes"} and doc["bias"]["notes"] == []
    assert doc["bias"]["trimfill"]["side"] in ("left", "right")
    assert len(doc["leave_one_out"]) == 13 and len(doc["cumulative"]) == 13
    mods = doc["moderators"]
    assert mods["names"] == ["intrcpt", "ablat"] and 0 < mods["permutation_pval"] <= 1
    assert set(doc["subgroups"]["groups"]) == {"alternate", "random", "systematic"}
    assert (tmp_path / "f.svg").exists() and (tmp_path / "fun.svg").exists() and (tmp_path / "fun.png").exists()


def test_effects_cli_writes_yi_vi(capsys, tmp_path):
    out = tmp_path / "es.csv"
    code, _, _ = run(capsys, "effects", BCG, "--measure", "RR", "--ai", "tpos", "--bi", "tneg", "--ci", "cpos",
                     "--di", "cneg", "--out", out)
    df = pd.read_csv(out)
    ref = pd.read_csv(BCG)
    assert code == 0 and np.allclose(df.yi, ref.yi) and np.allclose(df.vi, ref.vi)


@pytest.mark.parametrize("rows, argv, message", [
    ("yi,vi\n0.1,0.01\nnan,0.02\n0.3,0.01\n", [], "row 2, column yi"),
    ("yi,vi\n0.1,0.01\n0.2,-0.02\n0.3,0.01\n", [], "row 2, column vi: sampling variances must be positive"),
    ("yi,vi\n0.1,0.01\n", [], "needs at least 2 studies"),
    ("yi,vi,m\n0.1,0.01,1\n0.2,0.02,1\n0.3,0.01,1\n", ["--mods", "m"], "moderator m has one value"),
])
def test_meta_bad_input(capsys, tmp_path, rows, argv, message):
    f = tmp_path / "in.csv"
    f.write_text(rows)
    code, _, err = run(capsys, "meta", f, *argv)
    assert code == 1 and message in err and "Traceback" not in err


@pytest.mark.parametrize("rows, message", [
    ("a,b,c,d\n-1,5,3,4\n", "row 1, column ai: counts cannot be negative"),
    ("x,n\n7,5\n", "row 1, column xi: 7 events is more than ni = 5"),
])
def test_effects_bad_input(capsys, tmp_path, rows, message):
    f = tmp_path / "in.csv"
    f.write_text(rows)
    measure = ["--measure", "OR", "--ai", "a", "--bi", "b", "--ci", "c", "--di", "d"] if rows.startswith("a") else \
        ["--measure", "PLO", "--xi", "x", "--ni", "n"]
    code, _, err = run(capsys, "effects", f, *measure)
    assert code == 1 and message in err


def test_auc_hanley_mcneil_by_hand():
    from fmreview.analysis.effects import hanley_mcneil

    a, v = hanley_mcneil([0.8], [50], [100])
    q1, q2 = 0.8 / 1.2, 2 * 0.64 / 1.8
    assert v[0] == pytest.approx((0.8 * 0.2 + 49 * (q1 - 0.64) + 99 * (q2 - 0.64)) / 5000)


studies = st.lists(st.tuples(st.floats(-3, 3), st.floats(0.01, 1.0)), min_size=3, max_size=15)


@settings(max_examples=40, deadline=None)
@given(studies, st.randoms(use_true_random=False), st.sampled_from(["DL", "REML", "PM", "ML"]))
def test_invariants(data, rnd, method):
    y, v = np.array(data).T
    fit = rma(y, v, method=method)
    idx = list(range(len(y)))
    rnd.shuffle(idx)
    assert rma(y[idx], v[idx], method=method).estimate == pytest.approx(fit.estimate, rel=1e-7, abs=1e-9)
    assert rma(2 * y, 4 * v, method=method).estimate == pytest.approx(2 * fit.estimate, rel=1e-7, abs=1e-9)
    ee = rma(y, v, method="EE")
    assert ee.estimate == pytest.approx(np.sum(y / v) / np.sum(1 / v), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("method, test", [("REML", "z"), ("REML", "knha"), ("ML", "z"), ("DL", "z")])
def test_batched_permutation_test_equals_refitting_each_permutation(method, test):
    from fmreview.analysis.regression import _batched_qm, _vectorised_qm, permutest

    rng = np.random.default_rng(3)
    yi, vi, x = rng.normal(0.3, 0.3, 30), rng.uniform(0.01, 0.2, 30), rng.normal(size=30)
    fit = rma(yi, vi, mods=x, method=method, test=test)
    perms = np.argsort(rng.random((25, 30)), axis=1)
    loop = np.array([rma(yi, vi, mods=fit.X[i][:, 1:], method=method, test=test).qm for i in perms])
    if method in ("REML", "ML"):
        np.testing.assert_allclose(_batched_qm(fit, perms), loop, rtol=1e-6, atol=1e-8)
    else:
        assert _vectorised_qm(fit, perms) == int(np.sum(loop >= fit.qm - 1e-12))
    p1, p2 = permutest(fit, 200, seed=7), permutest(fit, 200, seed=7)
    assert p1 == p2 and 1 / 201 <= p1 <= 1


def test_bubble_plot_renders(tmp_path):
    from fmreview.reports.meta_plots import bubble
    from fmreview.reports.plotting import save

    d = pd.read_csv(BCG)
    fit = rma(d.yi, d.vi, mods=d[["ablat"]])
    paths = save(bubble(fit, xlabel="Absolute latitude", ylabel="Log risk ratio"), tmp_path / "bubble")
    assert [p.suffix for p in paths] == [".svg", ".png"] and all(p.stat().st_size > 1000 for p in paths)


def test_a_comparison_without_spread_or_variances_is_refused_clearly(tmp_path, capsys):
    """Equal differences on every dataset and no variance anywhere: nothing to weight by, said in words (not
    'row 1, column vi: expected a finite number, got nan'); the report's comparison sets still list such pairs."""
    import numpy as np

    from fmreview.reports import catalog_meta
    from fmreview.reports.cli import main

    ca = {("d1", "", ""): (0.9, np.nan, "imputed"), ("d2", "", ""): (0.8, np.nan, "imputed")}
    cb = {("d1", "", ""): (0.7, np.nan, "imputed"), ("d2", "", ""): (0.6, np.nan, "imputed")}
    assert catalog_meta._pair_frame(ca, cb).vi.isna().all()  # the report lists it as not poolable
    root = tmp_path / "cat"
    for kind in ("papers", "models", "datasets", "results"):
        (root / kind).mkdir(parents=True)
    (root / "papers" / "p.yaml").write_text("id: p\ntitle: P\nauthors: [A]\nyear: 2024\nurl: https://x.org/p\n")
    for m in ("ma", "mb"):
        (root / "models" / f"{m}.yaml").write_text(
            f"id: {m}\nname: {m}\nyear: 2024\nfamily: vision-only\nband: general\nmodel_group: vision-fm\n"
            "modalities: [ct]\ntasks: [segmentation]\nsources:\n- url: https://x.org/m\n  locator: README\n")
    for d in ("d1", "d2", "d3"):
        (root / "datasets" / f"{d}.yaml").write_text(
            f"id: {d}\nname: {d}\nmodalities: [ct]\nsources:\n- url: https://x.org/d\n  locator: Table 1\n")
    rows = "".join(f"- {{id: r-{m}-{d}, model: {m}, dataset: {d}, task: segmentation, metric: dice, value: {v}, "
                   f"unit: fraction, setting: zero-shot, locator: Table 2}}\n"
                   for m, off in (("ma", 0.1), ("mb", 0.0)) for d, v0 in (("d1", 0.5), ("d2", 0.6), ("d3", 0.7))
                   for v in [round(v0 + off, 2)])
    (root / "results" / "p.yaml").write_text("source: {paper: p, url: 'https://x.org/p', reported_by: third-party}\n"
                                             "results:\n" + rows)
    code = main(["meta", "--from-catalog", "--catalog", str(root), "--metric", "dice", "--compare", "ma", "mb"])
    err = capsys.readouterr().err
    assert code == 1 and "is 0.1 on all 3 datasets and no source gives a variance" in err, err
