"""Cohort statistics equal scipy / statsmodels and textbook formulas on constructed data."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from napari_calcium.cohort import stats


@pytest.fixture
def df():
    rng = np.random.default_rng(3)
    grade = np.repeat([0, 1, 2], 15)
    return pd.DataFrame(
        {
            "grade": grade,
            "value": grade * 2.0 + rng.normal(0, 1.5, grade.size),
            "noise": rng.normal(size=grade.size),
        }
    )


def test_spearman_matches_scipy_and_fisher_ci(df):
    out = stats.spearman(df, "value", "grade")
    ref = sps.spearmanr(df["value"], df["grade"])
    assert out["rho"] == pytest.approx(ref.statistic, abs=1e-12)
    assert out["p"] == pytest.approx(ref.pvalue, rel=1e-9)
    # Fisher z: tanh(atanh(rho) -+ 1.959964 / sqrt(n - 3)), n = 45
    z, se = math.atanh(ref.statistic), 1 / math.sqrt(45 - 3)
    assert out["ci_low"] == pytest.approx(math.tanh(z - 1.959964 * se), abs=1e-6)
    assert out["ci_high"] == pytest.approx(math.tanh(z + 1.959964 * se), abs=1e-6)


def test_spearman_drops_missing_rows(df):
    df.loc[[0, 5, 40], "value"] = np.nan
    out = stats.spearman(df, "value", "grade")
    assert out["n"] == 42
    kept = df.dropna()
    assert out["rho"] == pytest.approx(sps.spearmanr(kept["value"], kept["grade"]).statistic)


def test_kruskal_and_group_summary(df):
    out = stats.kruskal(df, "value", "grade")
    ref = sps.kruskal(*[df.loc[df.grade == g, "value"] for g in (0, 1, 2)])
    assert out["statistic"] == pytest.approx(ref.statistic) and out["p"] == pytest.approx(
        ref.pvalue
    )
    summary = stats.group_summary(df, "value", "grade")
    assert summary["n"].tolist() == [15, 15, 15]
    g1 = df.loc[df.grade == 1, "value"]
    row = summary.set_index("level").loc[1]
    assert row["mean"] == pytest.approx(g1.mean()) and row["sd"] == pytest.approx(g1.std(ddof=1))
    assert row["median"] == pytest.approx(g1.median())
    assert " ± " in row["mean_sd"] and "(" in row["median_iqr"]


def test_chi_square_matches_scipy():
    table = pd.DataFrame(
        {"a": [0] * 30 + [1] * 10 + [0] * 15 + [1] * 25, "b": [0] * 40 + [1] * 40}
    )
    out = stats.chi_square(table, "a", "b")
    ref = sps.chi2_contingency([[30, 10], [15, 25]])
    assert out["statistic"] == pytest.approx(ref.statistic) and out["p"] == pytest.approx(
        ref.pvalue
    )
    assert out["dof"] == 1


def test_logistic_odds_ratio_equals_cross_product_ratio():
    # x = 0: 10 events / 30 non-events; x = 1: 25 events / 15 non-events.
    # The logistic MLE OR for a binary predictor is (25/15) / (10/30) = 5, Wald CI
    # exp(ln 5 -+ 1.96 sqrt(1/10 + 1/30 + 1/25 + 1/15)).
    y = [1] * 10 + [0] * 30 + [1] * 25 + [0] * 15
    x = [0] * 40 + [1] * 40
    out = stats.logistic_odds_ratios(pd.DataFrame({"y": y, "x": x}), "y", ["x"]).iloc[0]
    se = math.sqrt(1 / 10 + 1 / 30 + 1 / 25 + 1 / 15)
    assert out["odds_ratio"] == pytest.approx(5.0, rel=1e-5)
    assert out["ci_low"] == pytest.approx(math.exp(math.log(5) - 1.959964 * se), rel=1e-4)
    assert out["ci_high"] == pytest.approx(math.exp(math.log(5) + 1.959964 * se), rel=1e-4)


def test_logistic_reports_separation_instead_of_numbers():
    data = pd.DataFrame({"y": [0] * 10 + [1] * 10, "x": list(range(20))})
    out = stats.logistic_odds_ratios(data, "y", ["x"]).iloc[0]
    assert "failed" in out["note"]
    assert "odds_ratio" not in out or pd.isna(out.get("odds_ratio"))
