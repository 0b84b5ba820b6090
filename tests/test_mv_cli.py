"""The CLI of the multilevel, network and rank analyses: numbers as the library's, JSON keys as named in the
issue, and bad input as one clear line with exit 1."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fmreview.reports.cli import main

DATA = Path(__file__).parent / "data" / "metafor_mv"
EXP = pd.read_csv(DATA / "expected.csv")


def ref(case, q):
    return EXP[(EXP.case == case) & (EXP.quantity == q)].sort_values("i").value.to_numpy(dtype=float)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_meta_random_robust_json(capsys):
    code, out, err = run(capsys, "meta", DATA / "konstantopoulos.csv", "--random", "district/school", "--robust",
                         "district", "--format", "json")
    assert code == 0, err
    d = json.loads(out)
    np.testing.assert_allclose(d["sigma2"], ref("konst_reml_z", "sigma2"), rtol=1e-5)
    np.testing.assert_allclose(d["loglik"], ref("konst_reml_z", "loglik"), rtol=1e-7)
    np.testing.assert_allclose(d["q"], ref("konst_reml_z", "qe"), rtol=1e-7)
    rb = d["robust"]
    assert set(rb) >= {"names", "coef", "se", "df", "pval", "ci_low", "ci_high"}
    np.testing.assert_allclose(rb["df"], ref("konst_cr2", "df"), rtol=1e-5)
    np.testing.assert_allclose(rb["pval"], ref("konst_cr2", "pval"), rtol=1e-5)
    for key in ("estimate", "se", "ci_low", "ci_high", "pval", "k", "method", "test", "moderators"):
        assert key in d  # the keys meta prints today stay


def test_meta_random_mods_ml_t(capsys):
    code, out, err = run(capsys, "meta", DATA / "konstantopoulos.csv", "--random", "district/school", "--mods", "year",
                         "--method", "ML", "--test", "t", "--format", "json")
    assert code == 0, err
    d = json.loads(out)
    assert d["moderators"]["names"] == ["intrcpt", "year"]
    assert d["df"] == 54


def test_meta_random_rho(capsys, tmp_path):
    code, out, err = run(capsys, "meta", DATA / "assink.csv", "--random", "study/esid", "--rho", "0.3", "--format",
                         "json")
    assert code == 0, err
    np.testing.assert_allclose(json.loads(out)["estimate"], ref("assink_rho0.3", "beta"), rtol=1e-5)
    fig = tmp_path / "prof.svg"
    code, _, err = run(capsys, "meta", DATA / "konstantopoulos.csv", "--random", "district/school", "--profile", fig)
    assert code == 0, err and fig.stat().st_size > 1000


@pytest.mark.parametrize("argv,msg", [
    (["--random", "nope/school"], "columns are"),
    (["--random", "district/school", "--robust", "nope"], "no column 'nope' for --robust"),
    (["--random", "district/school", "--method", "DL"], "REML or ML"),
    (["--random", "district/school", "--bias"], "not available with --random"),
    (["--robust", "district"], "need a multilevel model"),
    (["--random", "district/school", "--robust", "year"], "not nested"),
])
def test_meta_random_bad_input(capsys, argv, msg):
    code, out, err = run(capsys, "meta", DATA / "konstantopoulos.csv", *argv)
    assert code == 1 and msg in err and "Traceback" not in err


def test_nma_cli_json(capsys, tmp_path):
    league = tmp_path / "league.csv"
    code, out, err = run(capsys, "nma", DATA / "hasselblad_arms.csv", "--vi", "vi", "--reference", "no_contact",
                         "--format", "json", "--league", league, "--netgraph", tmp_path / "g.svg",
                         "--forest", tmp_path / "f.png")
    assert code == 0, err
    d = json.loads(out)
    assert set(d) >= {"reference", "tau2", "effects", "common", "pscore", "q", "inconsistency"}
    np.testing.assert_allclose([e["estimate"] for e in d["effects"]], ref("nma_random", "beta"), rtol=1e-5)
    np.testing.assert_allclose(list(d["pscore"].values()), ref("nma_pscore", "pscore"), rtol=1e-5)
    for e in d["effects"] + d["common"]:
        assert set(e) >= {"treatment", "estimate", "se", "ci_low", "ci_high"}
    assert len(pd.read_csv(league)) == 12  # 4 treatments: every ordered pair
    assert (tmp_path / "g.svg").stat().st_size > 1000 and (tmp_path / "f.png").stat().st_size > 1000


def test_nma_cli_bad_input(capsys, tmp_path):
    arms = pd.read_csv(DATA / "hasselblad_arms.csv")
    one = tmp_path / "one.csv"
    pd.concat([arms, pd.DataFrame([{"study": 99, "treatment": "self_help", "yi": 0.1, "vi": 0.1}])]).to_csv(one, index=False)
    code, _, err = run(capsys, "nma", one, "--vi", "vi")
    assert code == 1 and "one arm (99; rows 51)" in err
    dup = tmp_path / "dup.csv"
    pd.concat([arms, arms.iloc[[0]]]).to_csv(dup, index=False)
    code, _, err = run(capsys, "nma", dup, "--vi", "vi")
    assert code == 1 and "duplicate (study, treatment) rows" in err
    bad = tmp_path / "bad.csv"
    arms.assign(vi=arms.vi.where(arms.index != 3, -1)).to_csv(bad, index=False)
    code, _, err = run(capsys, "nma", bad, "--vi", "vi")
    assert code == 1 and "rows 4, column vi" in err
    split = tmp_path / "split.csv"
    extra = pd.DataFrame({"study": [100, 100, 101, 101], "treatment": ["p", "q", "p", "q"], "yi": [0.1, 0.3, 0.2, 0.5],
                          "vi": [0.01] * 4})
    pd.concat([arms, extra]).to_csv(split, index=False)
    code, out, err = run(capsys, "nma", split, "--vi", "vi")
    assert code == 1 and "disconnected: 2 components" in err and "Network meta-analysis" in out


def test_nma_and_rank_from_catalog(capsys):
    code, out, err = run(capsys, "nma", "--from-catalog", "--metric", "accuracy", "--setting", "fine-tune", "--source",
                         "doerrich-2025-medmnistplus")
    assert code == 1 and "they differ in condition ('input 128x128" in err and "pick one with --condition)" in err
    code, out, err = run(capsys, "nma", "--from-catalog", "--metric", "accuracy", "--setting", "fine-tune", "--source",
                         "doerrich-2025-medmnistplus", "--condition", "input 224x224", "--format", "json")
    assert code == 0, err
    d = json.loads(out)
    assert len(d["treatments"]) == 10 and d["n_studies"] == 12  # 5 CNNs and 5 ViTs on the 12 MedMNIST+ sets
    code, out, err = run(capsys, "rank", "--from-catalog", "--metric", "accuracy", "--setting", "fine-tune",
                         "--source", "doerrich-2025-medmnistplus", "--condition", "input 224x224", "--format", "json")
    assert code == 0, err
    r = json.loads(out)
    assert r["n_blocks"] == 12 and set(r["mean_ranks"]) == set(d["treatments"])
    code, _, err = run(capsys, "nma", "--from-catalog", "--metric", "dice", "--source", "doerrich-2025-medmnistplsu")
    assert code == 1 and "did you mean 'doerrich-2025-medmnistplus'" in err
    code, _, err = run(capsys, "meta", "--from-catalog", "--metric", "dice", "--compare", "medsm", "sam")
    assert code == 1 and "no model 'medsm' in the catalog; did you mean 'medsam'?" in err
    code, _, err = run(capsys, "meta", "--from-catalog", "--metric", "dice", "--model", "sam-med2dd")
    assert code == 1 and "did you mean 'sam-med2d'?" in err


def test_meta_csv_errors(capsys, tmp_path):
    code, _, err = run(capsys, "meta", tmp_path)
    assert code == 1 and "not a file" in err
    code, _, err = run(capsys, "meta", Path(__file__).parent / "data" / "metafor" / "bcg.csv", "--label", "nosuch")
    assert code == 1 and "no column 'nosuch' for --label; columns are: yi, vi" in err


def test_doubtful_values_are_left_out_and_said(capsys):
    args = ["meta", "--from-catalog", "--metric", "auc", "--source", "chexzero-2022", "--model", "chexzero",
            "--format", "json"]
    code, out, err = run(capsys, *args)
    assert code == 0 and "left out 0 aggregate result(s) and 1 value(s) marked doubtful" in err
    k = json.loads(out)["k"]
    code, out, err = run(capsys, *args, "--include-doubtful")
    assert code == 0 and json.loads(out)["k"] == k + 1 and "left out" not in err


def test_mixed_protocols_name_what_differs_and_how_to_pick_none():
    from fmreview.reports.catalog_meta import _one_protocol
    from fmreview.reports.cli import UserError

    res = pd.DataFrame({"metric": ["dice"] * 3, "setting": ["zero-shot"] * 3,
                        "condition": [None, "input 256", "input 256"]})
    with pytest.raises(UserError, match=r"differ in condition \(\(none\), 'input 256'; pick one with "
                                        r"--condition, '' for none\)"):
        _one_protocol(res)
    _one_protocol(res.iloc[1:])  # one protocol: nothing to say
