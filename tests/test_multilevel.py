"""rma_mv, robust (CR1/CR2) and vcalc against metafor 3.8.1 and clubSandwich 0.5.8
(fixtures and the R script that made them: tests/data/metafor_mv/)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from fmreview.analysis import InputError, rma_mv, robust, vcalc
from fmreview.analysis.multilevel import profile
from fmreview.analysis.robust import rho_sensitivity

DATA = Path(__file__).parent / "data" / "metafor_mv"
EXP = pd.read_csv(DATA / "expected.csv")
RTOL = 1e-5


def ref(case, q):
    v = EXP[(EXP.case == case) & (EXP.quantity == q)].sort_values("i").value.to_numpy(dtype=float)
    assert len(v), f"no fixture {case}/{q}"
    return v


def close(got, case, q, rtol=RTOL, atol=0.0):
    np.testing.assert_allclose(np.atleast_1d(np.asarray(got, dtype=float)), ref(case, q), rtol=rtol, atol=atol,
                               err_msg=f"{case}/{q}")


@pytest.fixture(scope="module")
def konst():
    return pd.read_csv(DATA / "konstantopoulos.csv")


@pytest.fixture(scope="module")
def assink():
    return pd.read_csv(DATA / "assink.csv")


@pytest.fixture(scope="module")
def berkey():
    d = pd.read_csv(DATA / "berkey.csv")
    V = sparse.block_diag([g[["v1i", "v2i"]].to_numpy() for _, g in d.groupby("trial", sort=False)]).tocsr()
    return d, V


def check_fit(fit, case, coefs=True):
    close(fit.beta, case, "beta")
    close(fit.se, case, "se")
    close(fit.stat, case, "stat")
    close(fit.pval, case, "pval")
    close(fit.ci_low, case, "ci_low")
    close(fit.ci_high, case, "ci_high")
    for q in ("loglik", "aic", "bic", "aicc", "qe", "qe_pval", "deviance"):
        close(getattr(fit, q), case, q)


@pytest.mark.parametrize("case,method,test", [("konst_reml_z", "REML", "z"), ("konst_ml_t", "ML", "t")])
def test_three_level_model(konst, case, method, test):
    fit = rma_mv(konst.yi, konst.vi, data=konst, random="district/school", method=method, test=test)
    check_fit(fit, case)
    close(fit.sigma2, case, "sigma2")
    assert fit.sigma2_names == ["district", "district/school"]
    assert fit.sigma2_levels == [11, 56]
    assert (fit.df is None) == (test == "z")


def test_metafor_formula_syntax_is_accepted(konst):
    a = rma_mv(konst.yi, konst.vi, data=konst, random="~ 1 | district/school")
    b = rma_mv(konst.yi, konst.vi, data=konst, random="district/school")
    assert a.sigma2 == b.sigma2


def test_moderator_and_t_test(konst):
    fit = rma_mv(konst.yi, konst.vi, data=konst, random="district/school", mods=konst[["year"]], test="t")
    check_fit(fit, "konst_year_t")
    close(fit.sigma2, "konst_year_t", "sigma2")
    close(fit.qm, "konst_year_t", "qm")
    close(fit.qm_pval, "konst_year_t", "qm_pval")
    assert fit.df == len(konst) - 2


def test_vcalc_and_text_moderator(assink):
    V = vcalc(assink.yi * 0 + assink.vi, assink.study, 0.6)
    fit = rma_mv(assink.yi, V, data=assink, random="study/esid", mods=assink[["deltype"]])
    # R's factor default: the first level in sorted order ("covert") is the reference
    assert fit.coef_names == ["intrcpt", "deltypegeneral", "deltypeovert"]
    check_fit(fit, "assink_deltype")
    close(fit.sigma2, "assink_deltype", "sigma2")
    close(fit.qm, "assink_deltype", "qm")
    rb = robust(fit, assink.study, clubSandwich=True)
    close(rb.se, "assink_deltype_cr2", "se")
    close(rb.stat, "assink_deltype_cr2", "stat")
    close(rb.df, "assink_deltype_cr2", "df")
    close(rb.pval, "assink_deltype_cr2", "pval")


def test_vcalc_is_block_diagonal_with_rho():
    V = vcalc([1.0, 4.0, 9.0, 1.0], ["a", "a", "a", "b"], 0.5)
    assert sparse.issparse(V)
    D = V.toarray()
    assert D[0, 1] == pytest.approx(0.5 * 2.0) and D[1, 2] == pytest.approx(0.5 * 6.0)
    assert D[0, 3] == 0 and np.allclose(np.diag(D), [1, 4, 9, 1])


@pytest.mark.parametrize("case", ["konst_cr1", "konst_cr2"])
def test_robust_intercept(konst, case):
    fit = rma_mv(konst.yi, konst.vi, data=konst, random="district/school")
    rb = robust(fit, konst.district, clubSandwich=case.endswith("cr2"))
    for q, got in (("beta", rb.coef), ("se", rb.se), ("stat", rb.stat), ("pval", rb.pval), ("df", rb.df),
                   ("ci_low", rb.ci_low), ("ci_high", rb.ci_high)):
        close(got, case, q)


def test_robust_with_moderator(konst):
    fit = rma_mv(konst.yi, konst.vi, data=konst, random="district/school", mods=konst[["year"]], test="t")
    cr2 = robust(fit, konst.district, clubSandwich=True)
    for q, got in (("se", cr2.se), ("stat", cr2.stat), ("df", cr2.df), ("pval", cr2.pval)):
        close(got, "konst_year_cr2_coeftest", q)
    cr1 = robust(fit, konst.district)
    close(cr1.se, "konst_year_cr1", "se")
    close(cr1.df[:1], "konst_year_cr1", "df")  # metafor prints one df (J − p) for all coefficients
    d = cr2.to_dict()
    assert set(d) >= {"names", "coef", "se", "df", "pval", "ci_low", "ci_high"}


def test_rho_sensitivity(assink):
    tab = rho_sensitivity(assink.yi, assink.vi, assink.study, rhos=(0, 0.3, 0.9), data=assink, random="study/esid")
    for _, row in tab.iterrows():
        case = "assink_rho" + ("0" if row.rho == 0 else f"{row.rho:g}")
        close(row.estimate, case, "beta")
        close([row["sigma2[study]"], row["sigma2[study/esid]"]], case, "sigma2")
        close(row.robust_se, case, "robust_se")
        close(row.robust_df, case, "robust_df")


@pytest.mark.parametrize("struct", ["UN", "CS", "HCS"])
def test_multivariate_structures(berkey, struct):
    d, V = berkey
    X = pd.get_dummies(d.outcome).astype(float)
    fit = rma_mv(d.yi, V, data=d, random="outcome | trial", struct=struct, mods=X, intercept=False)
    case = f"berkey_{struct}"
    check_fit(fit, case)
    close(fit.tau2, case, "tau2")
    close(fit.rho, case, "rho")


def test_dense_and_sparse_v_agree(berkey):
    d, V = berkey
    X = pd.get_dummies(d.outcome).astype(float)
    a = rma_mv(d.yi, V, data=d, random="outcome | trial", struct="UN", mods=X, intercept=False)
    b = rma_mv(d.yi, V.toarray(), data=d, random="outcome | trial", struct="UN", mods=X, intercept=False)
    np.testing.assert_allclose(a.beta, b.beta, rtol=1e-10)
    np.testing.assert_allclose(a.tau2, b.tau2, rtol=1e-8)


def test_profile_peaks_at_the_estimate(konst):
    fit = rma_mv(konst.yi, konst.vi, data=konst, random="district/school")
    pr = profile(fit, 0, steps=9)
    assert pr.loglik.max() <= fit.loglik + 1e-9
    grid = profile(fit, 0, values=[fit.sigma2[0] * 0.5, fit.sigma2[0], fit.sigma2[0] * 1.5])
    assert grid.loglik.iloc[1] == pytest.approx(fit.loglik, abs=1e-8)
    assert grid.loglik.iloc[0] < fit.loglik and grid.loglik.iloc[2] < fit.loglik


def test_variance_component_on_the_bound_is_zero():
    rng = np.random.default_rng(3)
    k = 40
    g = np.repeat(np.arange(10), 4)
    y = rng.normal(0, 0.1, k)  # far less spread than the sampling variances allow
    fit = rma_mv(y, np.full(k, 1.0), data=pd.DataFrame({"g": g}), random="g")
    assert fit.sigma2[0] == 0.0  # exactly on the bound (metafor's log-scale optimiser stops near 1e-10)
    assert np.isfinite(fit.loglik)


@pytest.mark.parametrize("kwargs,msg", [
    (dict(random="nope"), "columns are"),
    (dict(random="g", method="DL"), "expected REML or ML"),
    (dict(random="g", struct="AR"), "unknown struct"),
    (dict(random=None), "needs a random term"),
    (dict(random="g", rho=0.5), "rho applies"),
])
def test_bad_arguments(kwargs, msg):
    df = pd.DataFrame({"g": [1, 1, 2, 2, 3, 3]})
    with pytest.raises(InputError, match=msg):
        rma_mv(np.arange(6.0), np.ones(6) * 0.1, data=df, **kwargs)


def test_bad_inputs_name_rows():
    df = pd.DataFrame({"g": [1, 1, 2, 2]})
    with pytest.raises(InputError, match="row 2, column vi"):
        rma_mv([1, 2, 3, 4.0], [0.1, -0.1, 0.1, 0.1], data=df, random="g")
    with pytest.raises(InputError, match="row 3, column yi"):
        rma_mv([1, 2, np.nan, 4.0], [0.1] * 4, data=df, random="g")
    X = np.column_stack([np.ones(4), np.ones(4)])
    with pytest.raises(InputError, match="not of full rank"):
        rma_mv([1, 2, 3, 4.0], [0.1] * 4, data=df, random="g", mods=X, intercept=False)


def test_robust_bad_clusters(konst):
    fit = rma_mv(konst.yi, konst.vi, data=konst, random="district/school")
    with pytest.raises(InputError, match="at least 2 clusters"):
        robust(fit, np.zeros(len(konst)))
    with pytest.raises(InputError, match="single outcome"):
        robust(fit, np.arange(len(konst)), clubSandwich=True)
    with pytest.raises(InputError, match="not nested"):
        robust(fit, konst.year, clubSandwich=True)


def test_block_batches_handle_unequal_sizes(konst):
    # the same fit with the rows shuffled: blocks are found, not assumed contiguous
    perm = np.random.default_rng(0).permutation(len(konst))
    sh = konst.iloc[perm].reset_index(drop=True)
    a = rma_mv(konst.yi, konst.vi, data=konst, random="district/school")
    b = rma_mv(sh.yi, sh.vi, data=sh, random="district/school")
    np.testing.assert_allclose(a.sigma2, b.sigma2, rtol=1e-9)
    assert a.loglik == pytest.approx(b.loglik, rel=1e-12)


def test_begg_rank_test_with_tied_variances_matches_metafor():
    """k = 102 with tied variances: Kendall's τ and its tie-corrected variance as R's cor.test (metafor's ranktest)."""
    from fmreview.analysis import ranktest, rma

    d = pd.read_csv(DATA / "ties.csv")
    rt = ranktest(rma(d.yi, d.vi))
    close(rt.tau, "ties_ranktest", "tau", rtol=1e-10)
    close(rt.pval, "ties_ranktest", "pval", rtol=1e-10)
