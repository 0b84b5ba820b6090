"""Network meta-analysis against metafor's contrast-based rma.mv (random = ~ comp | study, rho = 1/2) on
Hasselblad (1998), and the variance-less additive model against statsmodels' two-way OLS."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from fmreview.analysis import InputError, nma

DATA = Path(__file__).parent / "data" / "metafor_mv"
EXP = pd.read_csv(DATA / "expected.csv")


def ref(case, q):
    return EXP[(EXP.case == case) & (EXP.quantity == q)].sort_values("i").value.to_numpy(dtype=float)


@pytest.fixture(scope="module")
def smoking():
    arms = pd.read_csv(DATA / "hasselblad_arms.csv")
    return arms, nma(arms, reference="no_contact").components[0]


def test_random_effects_consistency_model(smoking):
    _, c = smoking
    assert c.reference == "no_contact"
    np.testing.assert_allclose([e["estimate"] for e in c.effects], ref("nma_random", "beta"), rtol=1e-5)
    np.testing.assert_allclose([e["se"] for e in c.effects], ref("nma_random", "se"), rtol=1e-5)
    np.testing.assert_allclose(c.tau2, ref("nma_random", "tau2"), rtol=1e-5)
    np.testing.assert_allclose(c.loglik, ref("nma_random", "loglik"), rtol=1e-7)
    np.testing.assert_allclose(c.q, ref("nma_random", "qe"), rtol=1e-7)


def test_common_effect_model(smoking):
    _, c = smoking
    np.testing.assert_allclose([e["estimate"] for e in c.common], ref("nma_common", "beta"), rtol=1e-6)
    np.testing.assert_allclose([e["se"] for e in c.common], ref("nma_common", "se"), rtol=1e-6)


def test_pscores(smoking):
    _, c = smoking
    np.testing.assert_allclose(list(c.pscore.values()), ref("nma_pscore", "pscore"), rtol=1e-5)
    low = nma(smoking[0], reference="no_contact", lower_is_better=True).components[0]
    for t in c.treatments:  # the direction flips every pairwise probability
        assert low.pscore[t] == pytest.approx(1 - c.pscore[t], abs=1e-12)


def test_design_by_treatment_inconsistency(smoking):
    _, c = smoking
    inc = c.inconsistency
    assert inc["df"] == int(ref("nma_inconsistency", "df")[0])
    np.testing.assert_allclose(inc["stat"], ref("nma_inconsistency", "wald"), rtol=1e-5)
    np.testing.assert_allclose(inc["pval"], ref("nma_inconsistency", "wald_pval"), rtol=1e-5)
    np.testing.assert_allclose(inc["tau2"], ref("nma_inconsistency", "tau2"), rtol=1e-5)
    np.testing.assert_allclose(inc["q_between_designs"], ref("nma_inconsistency", "q_between"), rtol=1e-6)
    np.testing.assert_allclose(inc["q_within_designs"], ref("nma_inconsistency", "q_within"), rtol=1e-6)


def test_league_table_is_antisymmetric(smoking):
    _, c = smoking
    lg = c.league().set_index(["a", "b"])
    for (a, b), row in lg.iterrows():
        assert lg.loc[(b, a)].estimate == pytest.approx(-row.estimate)
        assert lg.loc[(b, a)].se == pytest.approx(row.se)
    table = c.league_table()
    assert list(table.index) == sorted(c.treatments, key=lambda t: -c.pscore[t])


def test_arm_order_and_labels_do_not_matter(smoking):
    arms, c = smoking
    shuffled = arms.sample(frac=1, random_state=1).reset_index(drop=True)
    renamed = shuffled.assign(treatment=shuffled.treatment.map(lambda t: "z_" + t if t == "grp_counseling" else t))
    c2 = nma(renamed, reference="no_contact").components[0]
    e1 = {e["treatment"]: e["estimate"] for e in c.effects}
    e2 = {e["treatment"].removeprefix("z_"): e["estimate"] for e in c2.effects}
    for t in e1:
        assert e2[t] == pytest.approx(e1[t], rel=1e-7)  # a new baseline per study, the same model


def _benchmark(seed=0, studies=12, treatments=5):
    rng = np.random.default_rng(seed)
    rows = []
    eff = np.linspace(0, 0.1, treatments)
    for s in range(studies):
        base = rng.normal(0.7, 0.1)
        for t in range(treatments):
            if (s + t) % 7 == 3:  # some missing arms: an incomplete design
                continue
            rows.append({"dataset": f"d{s:02d}", "model": f"m{t}", "score": base + eff[t] + rng.normal(0, 0.02)})
    return pd.DataFrame(rows)


def test_additive_model_without_variances_equals_two_way_ols():
    df = _benchmark()
    net = nma(df, study="dataset", treatment="model", yi="score", vi=None, reference="m0")
    c = net.components[0]
    assert not c.has_variances and c.q is None and c.common is None
    ols = smf.ols("score ~ C(dataset) + C(model, Treatment('m0'))", data=df).fit()
    for e in c.effects:
        name = f"C(model, Treatment('m0'))[T.{e['treatment']}]"
        assert e["estimate"] == pytest.approx(ols.params[name], rel=1e-6)
        assert e["se"] == pytest.approx(ols.bse[name], rel=1e-5)
    assert c.tau2 / 2 == pytest.approx(ols.mse_resid, rel=1e-6)  # τ² (½I + ½J): arm-level residual τ²/2


def test_disconnected_network_is_split():
    a = _benchmark(1, studies=6, treatments=3)
    b = _benchmark(2, studies=6, treatments=3).assign(model=lambda d: d.model.str.replace("m", "x"),
                                                      dataset=lambda d: "e" + d.dataset)
    net = nma(pd.concat([a, b]), study="dataset", treatment="model", yi="score", vi=None)
    assert not net.connected and len(net.components) == 2
    assert "disconnected" in net.message and "{m0, m1, m2}" in net.message
    out = net.to_dict()
    assert out["disconnected"] is True and len(out["components"]) == 2


def test_bad_input():
    df = pd.DataFrame({"study": ["a", "a", "b", "b", "c"], "treatment": ["x", "y", "x", "y", "x"],
                       "yi": [0.1, 0.2, 0.3, 0.2, 0.5], "vi": [0.01] * 5})
    with pytest.raises(InputError, match=r"one arm \(c; rows 5\)"):
        nma(df)
    assert nma(df, drop_single_arm=True).dropped == ["c"]
    dup = pd.concat([df, df.iloc[[0]]], ignore_index=True)
    with pytest.raises(InputError, match=r"duplicate \(study, treatment\) rows: a × x \(rows 1, 6\)"):
        nma(dup)
    with pytest.raises(InputError, match="rows 2, column vi: sampling variances must be positive"):
        nma(df.assign(vi=[0.01, 0.0, 0.01, 0.01, 0.01]), drop_single_arm=True)
    with pytest.raises(InputError, match="no column 'score'"):
        nma(df, yi="score")
    with pytest.raises(InputError, match="reference 'z' is not a treatment"):
        nma(df, reference="z", drop_single_arm=True)


def test_tree_network_has_no_testable_inconsistency():
    df = pd.DataFrame({"study": list("aabbcc"), "treatment": list("xyxzxy"), "yi": [0.1, 0.3, 0.2, 0.5, 0.0, 0.1],
                       "vi": [0.01] * 6})
    c = nma(df).components[0]
    assert c.inconsistency["df"] == 0 and c.inconsistency["stat"] is None and c.inconsistency["note"]
