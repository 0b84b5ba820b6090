"""Rank comparison of many models over many datasets (Demšar 2006): agreement with scipy, scikit-posthocs and
statsmodels (reference numbers in tests/data/ranks, written by make_fixtures.py there), input errors, the CLI and
the critical-difference diagram."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from fmreview.analysis.errors import InputError
from fmreview.analysis.ranks import critical_difference, holm, nemenyi_q, rank_comparison
from fmreview.reports.cli import UserError, main

DATA = Path(__file__).parent / "data" / "ranks"
INPUTS = pd.read_csv(DATA / "inputs.csv")
EXPECTED = json.loads((DATA / "expected.json").read_text())
REL = 1e-10
KEYS = ["n_blocks", "friedman", "mean_ranks", "cd", "pairs", "treatments", "alpha", "dropped_blocks",
        "lower_is_better"]
PAIR_KEYS = ["a", "b", "mean_rank_diff", "nemenyi_pval", "wilcoxon_stat", "wilcoxon_pval", "wilcoxon_pval_holm", "n"]


def case(name: str) -> pd.DataFrame:
    return INPUTS[INPUTS.case == name].drop(columns="case").reset_index(drop=True)


def frame(table: dict) -> pd.DataFrame:
    """{block: {treatment: value}} as the long frame rank_comparison reads."""
    return pd.DataFrame([(b, t, v) for b, row in table.items() for t, v in row.items()],
                        columns=["block", "treatment", "value"])


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


# ------------------------------------------------------------------------------------ reference agreement


@pytest.mark.parametrize("name", sorted(EXPECTED["cases"]))
def test_agrees_with_scipy_and_scikit_posthocs(name):
    exp = EXPECTED["cases"][name]
    r = rank_comparison(case(name), "dataset", "model", "score", lower_is_better=exp["lower_is_better"],
                        alpha=EXPECTED["alpha"])
    assert r.n_blocks == exp["n_blocks"] and sorted(r.dropped_blocks) == exp["dropped_blocks"]
    assert r.friedman_stat == pytest.approx(exp["friedman"]["stat"], rel=REL)
    assert r.friedman_pval == pytest.approx(exp["friedman"]["pval"], rel=REL)
    assert dict(zip(r.treatments, r.mean_ranks)) == pytest.approx(exp["mean_ranks"], rel=REL)
    assert r.q_alpha == pytest.approx(exp["q_alpha"], rel=REL) and r.cd == pytest.approx(exp["cd"], rel=REL)
    assert len(r.pairs) == len(exp["pairs"]) == r.k * (r.k - 1) // 2
    for p in r.pairs.itertuples():
        ref = exp["pairs"]["|".join(sorted([p.a, p.b]))]
        for col in ("nemenyi_pval", "wilcoxon_stat", "wilcoxon_pval", "wilcoxon_pval_holm"):
            assert getattr(p, col) == pytest.approx(ref[col], rel=REL, abs=1e-300), (name, p.a, p.b, col)
        assert p.mean_rank_diff == pytest.approx(exp["mean_ranks"][p.b] - exp["mean_ranks"][p.a], rel=REL)
        assert p.mean_rank_diff >= 0 and p.n == exp["n_blocks"]


def test_fixture_cases_exercise_ties_drops_and_both_directions():
    # the reference cases are only worth something if they contain what they claim to
    t5 = case("ties-k5").pivot(index="dataset", columns="model", values="score").dropna()
    assert any(row.nunique() < len(row) for _, row in t5.iterrows())
    assert EXPECTED["cases"]["ties-k5"]["dropped_blocks"] == ["ds14", "ds15"]
    assert {c["lower_is_better"] for c in EXPECTED["cases"].values()} == {True, False}
    assert min(c["friedman"]["pval"] for c in EXPECTED["cases"].values()) < 0.05


@pytest.mark.parametrize("k, q", list(zip(range(2, 11), [1.960, 2.343, 2.569, 2.728, 2.850, 2.949, 3.031, 3.102,
                                                          3.164])))
def test_q_alpha_is_demsar_table_5a(k, q):
    # Demšar (2006), Table 5(a): critical values for the two-tailed Nemenyi test, alpha = 0.05. The table is not
    # always the exact value rounded (k = 3: 2.34370 is printed 2.343; k = 7: 2.94832 is printed 2.949), so the
    # check is agreement to the table's last decimal.
    assert abs(nemenyi_q(k) - q) < 1e-3


def test_critical_difference_formula_and_alpha():
    k, n = 6, 17
    q10 = stats.studentized_range.ppf(0.90, k, np.inf) / np.sqrt(2)
    assert critical_difference(k, n, alpha=0.10) == pytest.approx(q10 * np.sqrt(k * (k + 1) / (6 * n)), rel=1e-14)
    assert critical_difference(k, n, alpha=0.10) < critical_difference(k, n) < critical_difference(k, n - 5)
    with pytest.raises(InputError, match="alpha"):
        nemenyi_q(4, alpha=1.5)


def test_holm_matches_statsmodels_is_monotone_and_capped():
    rng = np.random.default_rng(7)
    for m in (1, 2, 5, 28):
        p = rng.uniform(0, 0.4, m) ** 2
        if m > 2:
            p[1] = p[0]  # tied p-values
        h = holm(p)
        assert np.allclose(h, multipletests(p, method="holm")[1], rtol=1e-14, atol=0)
        order = np.argsort(p)
        assert np.all(np.diff(h[order]) >= 0) and np.all(h <= 1) and np.all(h >= p)
    assert holm([0.6, 0.7]).tolist() == [1.0, 1.0]
    with pytest.raises(InputError, match="p-values"):
        holm([0.1, np.nan])


# ---------------------------------------------------------------------------------------- behaviour


def test_ties_get_average_ranks_and_friedman_tie_correction():
    data = frame({"d1": {"A": 0.9, "B": 0.8, "C": 0.8}, "d2": {"A": 0.7, "B": 0.7, "C": 0.7},
                  "d3": {"A": 0.6, "B": 0.9, "C": 0.5}, "d4": {"A": 0.8, "B": 0.6, "C": 0.7}})
    r = rank_comparison(data)
    ranks = pd.DataFrame(r.ranks, index=r.blocks, columns=r.treatments)
    assert ranks.loc["d1"].to_dict() == {"A": 1.0, "B": 2.5, "C": 2.5}
    assert ranks.loc["d2"].to_dict() == {"A": 2.0, "B": 2.0, "C": 2.0}
    assert dict(zip(r.treatments, r.mean_ranks)) == pytest.approx({"A": 1.5, "B": 2.125, "C": 2.375})
    wide = data.pivot(index="block", columns="treatment", values="value")
    assert r.friedman_stat == pytest.approx(stats.friedmanchisquare(*wide.to_numpy().T).statistic, rel=REL)


def test_lower_is_better_reverses_ranks_not_the_tests():
    data = case("hd95-k8")
    low = rank_comparison(data, "dataset", "model", "score", lower_is_better=True)
    high = rank_comparison(data, "dataset", "model", "score")
    k = low.k
    assert low.treatments == high.treatments[::-1]
    assert dict(zip(low.treatments, low.mean_ranks)) == pytest.approx(
        {t: k + 1 - m for t, m in zip(high.treatments, high.mean_ranks)}, rel=REL)
    assert low.friedman_stat == pytest.approx(high.friedman_stat, rel=REL) and low.cd == high.cd
    # the smallest values rank first when lower is better
    best = data.groupby("model").score.mean().idxmin()
    assert low.treatments[0] == best and low.to_dict()["lower_is_better"] is True


def test_incomplete_blocks_are_dropped_and_named():
    data = case("ties-k5")
    r = rank_comparison(data, "dataset", "model", "score")
    assert r.dropped_blocks == ["ds14", "ds15"] and r.n_blocks == 14
    kept = data[~data.dataset.isin(["ds14", "ds15"])]
    same = rank_comparison(kept, "dataset", "model", "score")
    assert same.dropped_blocks == [] and same.friedman_stat == r.friedman_stat
    assert same.to_frame().equals(r.to_frame())
    assert "Dropped 2 incomplete block(s): ds14, ds15" in r.summary()


def test_identical_pair_has_wilcoxon_p_one_as_scipy():
    data = frame({f"d{i}": {"A": v, "B": v, "C": v - 0.1 * (i % 3)} for i, v in enumerate([0.5, 0.7, 0.6, 0.9])})
    r = rank_comparison(data)
    ab = r.pairs[(r.pairs.a.isin(["A", "B"])) & (r.pairs.b.isin(["A", "B"]))].iloc[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = stats.wilcoxon([0.5, 0.7, 0.6, 0.9], [0.5, 0.7, 0.6, 0.9])
    assert (ab.wilcoxon_stat, ab.wilcoxon_pval) == (ref.statistic, ref.pvalue) == (0.0, 1.0)
    assert ab.mean_rank_diff == 0 and ab.nemenyi_pval == pytest.approx(1.0)


def test_cliques_are_maximal_groups_within_cd():
    # 3 clearly separated tiers over 30 blocks: A,B ≈ 1.5, C,D ≈ 3.5, E = 5
    rng = np.random.default_rng(3)
    base = {"A": 0.95, "B": 0.95, "C": 0.7, "D": 0.7, "E": 0.4}
    data = frame({f"d{i}": {t: v + rng.normal(0, 0.01) for t, v in base.items()} for i in range(30)})
    r = rank_comparison(data)
    for group in r.cliques():
        ranks = [r.mean_ranks[r.treatments.index(t)] for t in group]
        assert max(ranks) - min(ranks) < r.cd
    assert [sorted(g) for g in r.cliques()] == [["A", "B"], ["C", "D"]]
    assert "{" + ", ".join(r.cliques()[0]) + "}" in r.summary()


def test_result_dict_is_json_ready_with_the_contract_keys():
    r = rank_comparison(case("ties-k5"), "dataset", "model", "score")
    doc = json.loads(json.dumps(r.to_dict()))
    assert list(doc) == KEYS and list(doc["friedman"]) == ["stat", "pval"]
    assert [list(p) for p in doc["pairs"]] == [PAIR_KEYS] * 10
    assert list(doc["mean_ranks"]) == doc["treatments"] and list(doc["mean_ranks"].values()) == sorted(
        doc["mean_ranks"].values())
    assert list(r.to_frame().columns) == PAIR_KEYS


# ------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("rows, message", [
    ("block,treatment,value\nd1,A,0.5\nd1,B,0.6\nd1,A,0.7\nd2,A,0.5\nd2,B,0.4\n",
     r"duplicate \(block, treatment\).*\(block 'd1', treatment 'A'\) in rows 1, 3; keep one value"),
    ("block,treatment,value\nd1,A,0.5\nd2,A,0.6\n", r"at least 2 treatments in column 'treatment' to compare, found 1: 'A'"),
    ("block,treatment,value\nd1,A,0.5\nd1,B,0.6\nd2,A,0.7\nd3,B,0.1\n",
     r"at least 2 complete blocks .* found 1 of 3; 'd2' lacks 'B'; 'd3' lacks 'A'"),
    ("block,treatment,value\nd1,A,0.5\nd1,B,inf\nd2,A,0.7\nd2,B,x\n",
     r"row\(s\) 2, 4, column value: expected a finite number, got 'inf'; drop or fill"),
    ("block,treatment,value\nd1,A,0.5\n,B,0.6\n", r"row\(s\) 2, column block: empty label"),
    ("block,treatment,value\nd1,A,0.5\nd1,B,0.5\nd2,A,0.7\nd2,B,0.7\n", r"same value: nothing to rank"),
])
def test_bad_input_is_named(rows, message):
    data = pd.read_csv(pd.io.common.StringIO(rows))
    with pytest.raises(InputError, match=message):
        rank_comparison(data)


def test_missing_columns_and_float_infinities_are_named():
    bad = frame({"d1": {"A": 0.5, "B": np.inf}, "d2": {"A": np.nan, "B": 0.2}})
    with pytest.raises(InputError, match=r"row\(s\) 2, 3, column value: expected a finite number, got inf;"):
        rank_comparison(bad)
    with pytest.raises(InputError, match=r"no column 'score', 'model'; columns are: block, treatment, value"):
        rank_comparison(frame({"d1": {"A": 1.0}}), "block", "score", "model")


# ------------------------------------------------------------------------------------------------- CLI


@pytest.fixture
def ties_csv(tmp_path):
    path = tmp_path / "ties.csv"
    case("ties-k5").to_csv(path, index=False)
    return path


def test_cli_table(capsys, ties_csv):
    code, out, err = run(capsys, "rank", ties_csv, "--block", "dataset", "--treatment", "model", "--value", "score")
    r = rank_comparison(case("ties-k5"), "dataset", "model", "score")
    assert code == 0 and err == ""
    assert out.startswith("Rank comparison of 5 treatments over 14 complete blocks (rank 1 = best; higher")
    assert f"Friedman chi^2(df = 4) = {r.friedman_stat:.4f}" in out and f"CD = {r.cd:.4f}" in out
    assert "ds14, ds15" in out and all(t in out for t in r.treatments)


def test_cli_json_equals_the_api(capsys, tmp_path):
    path = tmp_path / "hd.csv"
    case("hd95-k8").to_csv(path, index=False)
    code, out, _ = run(capsys, "rank", path, "--block", "dataset", "--treatment", "model", "--value", "score",
                       "--lower-is-better", "--alpha", "0.1", "--format", "json")
    doc = json.loads(out)
    ref = rank_comparison(case("hd95-k8"), "dataset", "model", "score", lower_is_better=True, alpha=0.1)
    assert code == 0 and list(doc) == KEYS and doc["alpha"] == 0.1 and doc["lower_is_better"] is True
    assert doc == json.loads(json.dumps(ref.to_dict()))
    assert doc["cd"] == pytest.approx(critical_difference(8, 25, alpha=0.1), rel=REL)


@pytest.mark.parametrize("argv, message", [
    (["--block", "dataset", "--treatment", "model"], "name the columns with --value"),
    (["--block", "dataset", "--treatment", "mdl", "--value", "score"], "no column 'mdl'; columns are: dataset"),
    (["--block", "dataset", "--treatment", "model", "--value", "score", "--alpha", "0"], "alpha must lie"),
])
def test_cli_errors_are_one_line(capsys, ties_csv, argv, message):
    code, out, err = run(capsys, "rank", ties_csv, *argv)
    assert code == 1 and out == "" and err.startswith("fmreview: error: ") and message in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_cli_without_input(capsys, tmp_path):
    code, _, err = run(capsys, "rank")
    assert code == 1 and "give FILE.csv with --block, --treatment and --value columns, or --from-catalog" in err
    code, _, err = run(capsys, "rank", tmp_path / "none.csv", "--block", "b", "--treatment", "t", "--value", "v")
    assert code == 1 and "none.csv: no such file" in err


def test_metric_direction_comes_from_the_vocabulary():
    from fmreview.reports.cli_rank import _metric_lower_is_better

    assert _metric_lower_is_better("hd95", False) is True and _metric_lower_is_better("dice", False) is False
    assert _metric_lower_is_better("not-a-metric", True) is True
    with pytest.raises(UserError, match="contradicts the metric 'dice'"):
        _metric_lower_is_better("dice", True)


# --------------------------------------------------------------------------------------------- diagram


def test_cd_diagram_is_deterministic_and_labelled(capsys, tmp_path, ties_csv):
    from fmreview.reports.plotting import plt
    from fmreview.reports.rank_plots import cd_diagram

    assert plt.rcParams["svg.hashsalt"] == "fmreview"  # without it matplotlib's SVG ids are random
    argv = ["rank", ties_csv, "--block", "dataset", "--treatment", "model", "--value", "score"]
    assert run(capsys, *argv, "--cd-diagram", tmp_path / "a.svg")[0] == 0
    assert run(capsys, *argv, "--cd-diagram", tmp_path / "b.svg")[0] == 0
    first, second = (tmp_path / "a.svg").read_bytes(), (tmp_path / "b.svg").read_bytes()
    assert first.startswith(b"<?xml") and first == second and not (tmp_path / "a.png").exists()
    assert run(capsys, *argv, "--cd-diagram", tmp_path / "both")[0] == 0
    assert (tmp_path / "both.svg").read_bytes() == first and (tmp_path / "both.png").exists()

    r = rank_comparison(case("ties-k5"), "dataset", "model", "score")
    fig = cd_diagram(r)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert all(f"{t} ({m:.2f})" in texts for t, m in zip(r.treatments, r.mean_ranks))
    assert f"CD = {r.cd:.2f} (α = 0.05)" in texts and "1" in texts and str(r.k) in texts
    bars = [ln for ln in fig.axes[0].lines if ln.get_linewidth() > 3]
    assert len(bars) == len(r.cliques()) >= 1
    for line, group in zip(bars, r.cliques()):  # each bar spans its group's mean ranks
        lo, hi = (r.mean_ranks[r.treatments.index(group[i])] for i in (0, -1))
        assert line.get_xdata()[0] < lo and line.get_xdata()[1] > hi
    plt.close(fig)


def test_fast_wilcoxon_equals_scipy_exactly_on_small_tied_samples():
    """ranks.wilcoxon replaces scipy's per-flip permutation loop (n <= 13 with ties or zeros) by a vectorised one;
    W and p must be scipy's to the last bit, with ties, zeros, and on the exact and asymptotic paths too."""
    import numpy as np
    from scipy import stats

    from fmreview.analysis.ranks import wilcoxon

    rng = np.random.default_rng(7)
    cases = [(np.array([1., 2, 2, 3, 0, 5]), np.array([0., 2, 1, 1, 0, 2]))]  # ties and zeros, n = 6
    while len(cases) < 24:
        n = int(rng.integers(3, 18))  # across the n <= 13 cut and into the asymptotic path
        a, b = rng.integers(0, 4, n).astype(float), rng.integers(0, 4, n).astype(float)
        if np.any(a != b):
            cases.append((a, b))
    cases.append((rng.normal(size=10), rng.normal(size=10)))  # no ties: scipy's exact distribution
    for a, b in cases:
        ref = stats.wilcoxon(a, b)
        w, p = wilcoxon(a, b)
        assert w == float(ref.statistic) and p == float(ref.pvalue), (a, b)
