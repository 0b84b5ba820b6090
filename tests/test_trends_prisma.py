import pandas as pd
import pytest

from fmreview.analysis.errors import InputError
from fmreview.analysis.prisma import Prisma
from fmreview.analysis.trends import counts_by_year, growth, growth_table, trend_in_share


def test_doubling_counts_grow_100_percent_a_year():
    g = growth(pd.Series([1, 2, 4, 8], index=[2020, 2021, 2022, 2023]))
    assert g.rate == pytest.approx(1.0, abs=1e-9) and g.family == "poisson"
    assert g.ci_low < 1.0 < g.ci_high and g.total == 15


def test_constant_counts_do_not_grow():
    assert growth(pd.Series([5, 5, 5, 5], index=range(2019, 2023))).rate == pytest.approx(0.0, abs=1e-9)


def test_counts_by_year_fills_empty_years_with_zero():
    t = counts_by_year([2020, 2020, 2022], ["a", "b", "a"])
    assert list(t.index) == [2020, 2021, 2022]
    assert t.loc[2021].tolist() == [0, 0] and t.loc[2020, "a"] == 1 and t["a"].sum() == 2


def test_cochran_armitage_by_hand():
    # p = 0.2; T = sum s (x - n p) = 2; Var = p(1-p)(sum n s^2 - (sum n s)^2 / N) = 0.16 * 20 = 3.2
    chi2, p = trend_in_share([1, 2, 3], [10, 10, 10])
    assert chi2 == pytest.approx(4 / 3.2) and 0 < p < 1


def test_growth_table_skips_sparse_groups():
    t = pd.DataFrame({"a": [1, 2, 4, 8], "b": [0, 0, 1, 0]}, index=[2020, 2021, 2022, 2023])
    assert list(growth_table(t).group) == ["a"]
    with pytest.raises(InputError):
        growth(pd.Series([1, 2], index=[2020, 2021]))


def test_prisma_completes_and_round_trips_the_csv_layout():
    p = Prisma(identified={"arXiv": 80, "PubMed": 40}, duplicates_removed=20, screened_excluded=30,
               not_retrieved=5, excluded_reasons={"not medical": 10, "no model": 5}).complete()
    assert (p.screened, p.sought, p.assessed, p.included) == (100, 70, 65, 50)
    text = p.to_csv()
    assert text.splitlines()[0] == "data,node,box,description,boxtext,tooltips,url,n"
    q = Prisma.from_csv(text)
    assert (q.included, q.identified, q.excluded_reasons) == (50, {"PubMed": 40, "arXiv": 80}, p.excluded_reasons)


def test_prisma_refuses_impossible_counts():
    with pytest.raises(InputError, match="'records screened' \\(150\\) exceeds records identified minus removed"):
        Prisma(identified={"arXiv": 100}, duplicates_removed=10, screened=150).complete()
    with pytest.raises(InputError, match="'studies included'"):
        Prisma(identified={"arXiv": 10}, included=11).complete()
    with pytest.raises(InputError, match="negative"):
        Prisma(identified={"arXiv": -1}).complete()
