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


# ------------------------------------------------------------ group comparisons
A = [4.1, 5.0, 5.5, 6.2, 4.8, 5.9]
B = [6.0, 7.4, 5.8, 8.1, 7.7, 6.9, 9.0]


def _two_groups(a=A, b=B):
    return pd.DataFrame({"v": a + b, "g": ["a"] * len(a) + ["b"] * len(b)})


def test_welch_and_student_t_by_hand():
    m1, m2, v1, v2 = np.mean(A), np.mean(B), np.var(A, ddof=1), np.var(B, ddof=1)
    n1, n2 = len(A), len(B)
    se = math.sqrt(v1 / n1 + v2 / n2)
    df_welch = se**4 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1))
    out = stats.ttest(_two_groups(), "v", "g")
    assert out["test"] == "Welch t-test"
    assert out["statistic"] == pytest.approx((m2 - m1) / se)
    assert out["df"] == pytest.approx(df_welch)
    assert out["p"] == pytest.approx(2 * sps.t.sf(abs((m2 - m1) / se), df_welch))
    assert out["difference"] == pytest.approx(m2 - m1)
    half = sps.t.ppf(0.975, df_welch) * se
    assert out["difference_ci_low"] == pytest.approx(m2 - m1 - half)
    pooled = ((n1 - 1) * v1 + (n2 - 1) * v2) / (n1 + n2 - 2)
    t_student = (m2 - m1) / math.sqrt(pooled * (1 / n1 + 1 / n2))
    student = stats.ttest(_two_groups(), "v", "g", equal_var=True)
    assert student["statistic"] == pytest.approx(t_student) and student["df"] == n1 + n2 - 2


def test_mann_whitney_exact_p_by_enumeration():
    import itertools

    # U of group a = pairs (x in a, y in b) with x > y (no ties here)
    u = sum(x > y for x in A for y in B)
    out = stats.mann_whitney(_two_groups(), "v", "g")
    assert out["statistic"] == u
    # exact two-sided p: the U of every way to pick len(A) of the pooled ranks
    pooled = sorted(A + B)
    n1, total = len(A), len(A) + len(B)
    mean_u = len(A) * len(B) / 2
    us = []
    for chosen in itertools.combinations(range(total), n1):
        ranks = sum(i + 1 for i in chosen)
        us.append(ranks - n1 * (n1 + 1) / 2)
    us = np.array(us)
    p = np.mean(np.abs(us - mean_u) >= abs(u - mean_u) - 1e-9)
    assert len(pooled) == total and out["p"] == pytest.approx(p)


def test_anova_classical_and_welch_by_hand():
    groups = [[3.0, 4.0, 5.0, 4.5], [6.0, 7.5, 6.5, 7.0, 8.0], [5.0, 9.0, 7.0, 11.0]]
    df = pd.DataFrame(
        {"v": sum(groups, []), "g": sum([[i] * len(g) for i, g in enumerate(groups)], [])}
    )
    k, n = len(groups), sum(map(len, groups))
    grand = np.mean(sum(groups, []))
    ssb = sum(len(g) * (np.mean(g) - grand) ** 2 for g in groups)
    ssw = sum(((np.array(g) - np.mean(g)) ** 2).sum() for g in groups)
    f = (ssb / (k - 1)) / (ssw / (n - k))
    out = stats.anova(df, "v", "g", equal_var=True)
    assert out["statistic"] == pytest.approx(f)
    assert out["p"] == pytest.approx(sps.f.sf(f, k - 1, n - k))
    # Welch 1951
    w = np.array([len(g) / np.var(g, ddof=1) for g in groups])
    m = np.array([np.mean(g) for g in groups])
    mw = (w * m).sum() / w.sum()
    tmp = sum((1 - wi / w.sum()) ** 2 / (len(g) - 1) for wi, g in zip(w, groups, strict=True))
    f_welch = ((w * (m - mw) ** 2).sum() / (k - 1)) / (1 + 2 * (k - 2) / (k**2 - 1) * tmp)
    welch = stats.anova(df, "v", "g")
    assert welch["test"] == "Welch ANOVA" and welch["statistic"] == pytest.approx(f_welch)
    assert welch["p"] == pytest.approx(sps.f.sf(f_welch, k - 1, (k**2 - 1) / (3 * tmp)))


def test_fisher_exact_by_hypergeometric_arithmetic():
    # [[1, 9], [6, 4]]: rows a/b, columns yes/no; margins 10, 10 and 7, 13
    table = pd.DataFrame(
        {"x": ["yes"] * 1 + ["no"] * 9 + ["yes"] * 6 + ["no"] * 4, "g": ["a"] * 10 + ["b"] * 10}
    )

    def prob(k):  # P(k 'yes' in row a) with fixed margins
        return math.comb(7, k) * math.comb(13, 10 - k) / math.comb(20, 10)

    observed = prob(1)
    p = sum(prob(k) for k in range(8) if prob(k) <= observed * (1 + 1e-7))
    out = stats.fisher_exact(table, "g", "x")
    assert out["p"] == pytest.approx(p)
    # the table as crosstab orders it: rows a, b; columns no, yes -> [[9, 1], [4, 6]]
    assert out["statistic"] == pytest.approx((9 * 6) / (1 * 4))
    chosen = stats.compare_groups(table, "x", "g")
    assert chosen["test"] == "Fisher exact" and "expected count < 5" in chosen["choice"]


def test_compare_groups_picks_the_test_by_kind_and_distribution():
    rng = np.random.default_rng(11)
    normal = pd.DataFrame(
        {"v": np.r_[rng.normal(0, 1, 40), rng.normal(1, 1, 40)], "g": [0] * 40 + [1] * 40}
    )
    assert stats.compare_groups(normal, "v", "g", "continuous")["test"] == "Welch t-test"
    skewed = normal.assign(v=np.r_[rng.exponential(1, 40), rng.exponential(3, 40)] ** 2)
    out = stats.compare_groups(skewed, "v", "g", "continuous")
    assert out["test"] == "Mann-Whitney U" and out["normal"] is False
    three = pd.DataFrame({"v": rng.normal(0, 1, 60), "g": np.repeat([0, 1, 2], 20)})
    assert stats.compare_groups(three, "v", "g", "continuous")["test"] == "Welch ANOVA"
    assert stats.compare_groups(three, "v", "g", "count")["test"] == "Kruskal-Wallis"
    big = pd.DataFrame({"x": [0] * 30 + [1] * 10 + [0] * 15 + [1] * 25, "g": [0] * 40 + [1] * 40})
    out = stats.compare_groups(big, "x", "g")
    ref = sps.chi2_contingency([[30, 10], [15, 25]])
    assert out["test"] == "chi-square" and out["p"] == pytest.approx(ref.pvalue)


def test_variable_kinds():
    assert stats.variable_kind(pd.Series(["yes", "no", "yes"])) == "binary"
    assert stats.variable_kind(pd.Series(["basilar", "V4", "VBJ"])) == "categorical"
    assert stats.variable_kind(pd.Series([0, 1, 2, 3, 2])) == "ordinal"
    assert stats.variable_kind(pd.Series([0.5, 1.25, 2.0, 7.5])) == "continuous"


def test_pearson_by_hand():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    y = np.array([2.1, 2.9, 3.2, 4.8, 5.1, 5.0, 7.3])
    r = np.corrcoef(x, y)[0, 1]
    t = r * math.sqrt((7 - 2) / (1 - r**2))
    out = stats.pearson(pd.DataFrame({"x": x, "y": y}), "x", "y")
    assert out["r"] == pytest.approx(r) and out["p"] == pytest.approx(2 * sps.t.sf(t, 5))
    z, se = math.atanh(r), 1 / math.sqrt(7 - 3)
    assert out["ci_low"] == pytest.approx(math.tanh(z - 1.959964 * se), abs=1e-5)


# ---------------------------------------------------------- logistic models
def _cells(rows):
    """Rows (x, z, events, non-events) -> one line per subject."""
    out = []
    for x, z, events, non_events in rows:
        out += [{"x": x, "z": z, "y": 1}] * events + [{"x": x, "z": z, "y": 0}] * non_events
    return pd.DataFrame(out)


# Confounding by z: x is commoner where z = 1, and z = 1 raises the odds of y.
# Within each stratum the odds ratio of x is 4: z=0 (20/10)/(10/20), z=1 (40/5)/(6/3).
# Pooled: x=1 60/15 = 4, x=0 16/23 -> crude OR 4 / (16/23) = 5.75.
CONFOUNDED = [(1, 0, 20, 10), (0, 0, 10, 20), (1, 1, 40, 5), (0, 1, 6, 3)]


def test_multivariable_logistic_confounder_changes_the_odds_ratio():
    data = _cells(CONFOUNDED)
    crude = stats.logistic_model(data, "y", ["x"])
    assert crude["terms"].set_index("term").loc["x", "odds_ratio"] == pytest.approx(5.75, rel=1e-6)
    adjusted = stats.logistic_model(data, "y", ["x", "z"])
    terms = adjusted["terms"].set_index("term")
    # homogeneous stratum ORs: the no-interaction model fits every cell, so the
    # adjusted OR is the common stratum OR, 4 (also the Mantel-Haenszel OR)
    assert terms.loc["x", "odds_ratio"] == pytest.approx(4.0, rel=1e-6)
    # z's OR at fixed x: (10/20 -> 6/3) = 4 as well
    assert terms.loc["z", "odds_ratio"] == pytest.approx(4.0, rel=1e-6)
    # Wald SE by hand: inverse Fisher information sum_cells n p (1 - p) X X'
    info = np.zeros((3, 3))
    for x, z, events, non_events in CONFOUNDED:
        n, p = events + non_events, events / (events + non_events)
        v = np.array([1.0, x, z])
        info += n * p * (1 - p) * np.outer(v, v)
    se = math.sqrt(np.linalg.inv(info)[1, 1])
    assert terms.loc["x", "ci_low"] == pytest.approx(4 * math.exp(-1.959964 * se), rel=1e-4)
    assert terms.loc["x", "ci_high"] == pytest.approx(4 * math.exp(1.959964 * se), rel=1e-4)
    assert terms.loc["x", "p"] == pytest.approx(2 * sps.norm.sf(math.log(4) / se), rel=1e-4)
    assert adjusted["n"] == 114 and adjusted["events"] == 76 and adjusted["warnings"] == []


def test_odds_ratio_table_has_univariable_and_adjusted_rows():
    data = _cells(CONFOUNDED).assign(noise=lambda d: np.arange(len(d)) % 3)
    table = stats.odds_ratio_table(
        data, "y", ["x"], {"Model 1": ["z"], "Model 2": ["z", "noise", "x"]}
    )
    assert table["model"].tolist() == ["univariable", "Model 1", "Model 2"]
    assert table["odds_ratio"].iloc[0] == pytest.approx(5.75, rel=1e-6)
    assert table["odds_ratio"].iloc[1] == pytest.approx(4.0, rel=1e-6)
    assert table["covariates"].iloc[2] == "z, noise"  # the exposure is not its own covariate


def test_text_predictor_gets_reference_coding():
    # three locations; OR of each against the most frequent (basilar, 30/30 -> odds 1)
    rows = [("basilar", 30, 30), ("V4", 30, 10), ("VBJ", 5, 15)]
    lines = []
    for loc, events, non_events in rows:
        lines += [{"loc": loc, "y": 1}] * events + [{"loc": loc, "y": 0}] * non_events
    data = pd.DataFrame(lines)
    model = stats.logistic_model(data, "y", ["loc"])
    terms = model["terms"].set_index("term")
    assert set(terms.index) == {"loc[V4]", "loc[VBJ]"}
    assert terms.loc["loc[V4]", "reference"] == "basilar"
    assert terms.loc["loc[V4]", "odds_ratio"] == pytest.approx(3.0, rel=1e-6)
    assert terms.loc["loc[VBJ]", "odds_ratio"] == pytest.approx(1 / 3, rel=1e-6)


def test_too_few_events_per_variable_is_warned():
    rng = np.random.default_rng(5)
    data = pd.DataFrame(rng.normal(size=(40, 3)), columns=["a", "b", "c"])
    data["y"] = [1] * 8 + [0] * 32  # 8 events / 3 terms = 2.7 per variable
    model = stats.logistic_model(data, "y", ["a", "b", "c"])
    assert model["fitted"] and model["events_per_variable"] == pytest.approx(8 / 3)
    assert any("events per variable" in w for w in model["warnings"])


def test_separation_reports_no_odds_ratio():
    complete = pd.DataFrame({"y": [0] * 10 + [1] * 10, "x": list(range(20))})
    model = stats.logistic_model(complete, "y", ["x"])
    assert not model["fitted"] and "separation" in model["warnings"][-1]
    assert "odds_ratio" not in model["terms"]
    # quasi-complete: every x = 1 subject has the event (an empty cell)
    quasi = pd.DataFrame({"y": [1] * 12 + [1] * 10 + [0] * 14, "x": [1] * 12 + [0] * 24})
    model = stats.logistic_model(quasi, "y", ["x"])
    assert not model["fitted"] and "on x" in model["warnings"][-1]


# ------------------------------------------------------------ reader agreement
# Shrout & Fleiss 1979, Table 2: 6 targets rated by 4 judges, with their published
# ICC(1,1) .17, ICC(2,1) .29, ICC(3,1) .71, ICC(1,4) .44, ICC(2,4) .62, ICC(3,4) .91.
SHROUT_FLEISS = [
    [9, 2, 5, 8],
    [6, 1, 3, 2],
    [8, 4, 6, 8],
    [7, 1, 2, 6],
    [10, 5, 6, 9],
    [6, 2, 4, 7],
]


def _long(matrix):
    return pd.DataFrame(
        [{"t": i, "r": j, "v": v} for i, row in enumerate(matrix) for j, v in enumerate(row)]
    )


@pytest.mark.parametrize(
    ("form", "published"),
    [
        ("ICC(1,1)", 0.17),
        ("ICC(A,1)", 0.29),
        ("ICC(C,1)", 0.71),
        ("ICC(1,k)", 0.44),
        ("ICC(A,k)", 0.62),
        ("ICC(C,k)", 0.91),
    ],
)
def test_icc_reproduces_shrout_fleiss(form, published):
    out = stats.icc(_long(SHROUT_FLEISS), "t", "r", "v", form)
    assert out["value"] == pytest.approx(published, abs=0.005)
    assert out["n_targets"] == 6 and out["n_raters"] == 4


def test_icc_two_readers_by_mean_squares():
    readers = np.array(
        [
            [10.2, 10.8],
            [14.1, 13.5],
            [8.0, 8.9],
            [12.5, 12.1],
            [16.0, 15.2],
            [9.4, 10.1],
            [11.0, 11.6],
        ]
    )
    n, k = readers.shape
    grand = readers.mean()
    msr = k * ((readers.mean(axis=1) - grand) ** 2).sum() / (n - 1)
    msc = n * ((readers.mean(axis=0) - grand) ** 2).sum() / (k - 1)
    sse = (
        (readers - readers.mean(axis=1, keepdims=True) - readers.mean(axis=0) + grand) ** 2
    ).sum()
    mse = sse / ((n - 1) * (k - 1))
    icc_a1 = (msr - mse) / (msr + (k - 1) * mse + k / n * (msc - mse))
    out = stats.icc(_long(readers.tolist()), "t", "r", "v")
    assert out["statistic"] == "ICC(A,1)" and out["value"] == pytest.approx(icc_a1)
    assert out["band"] == ("excellent" if icc_a1 > 0.75 else "fair to good")
    # one-way ICC(1,1) and its F-based 95% CI (Shrout & Fleiss eq. for ICC1)
    msw = ((readers - readers.mean(axis=1, keepdims=True)) ** 2).sum() / (n * (k - 1))
    f = msr / msw
    fl, fu = f / sps.f.ppf(0.975, n - 1, n * (k - 1)), f * sps.f.ppf(0.975, n * (k - 1), n - 1)
    one = stats.icc(_long(readers.tolist()), "t", "r", "v", "ICC(1,1)")
    assert one["value"] == pytest.approx((msr - msw) / (msr + (k - 1) * msw))
    assert one["ci_low"] == pytest.approx((fl - 1) / (fl + k - 1), abs=0.006)
    assert one["ci_high"] == pytest.approx((fu - 1) / (fu + k - 1), abs=0.006)


def test_icc_bands_are_the_studys():
    assert [stats.icc_band(v) for v in (0.39, 0.4, 0.75, 0.76)] == [
        "poor",
        "fair to good",
        "fair to good",
        "excellent",
    ]


def test_kappa_by_hand_and_weighted_against_scikit_learn():
    from sklearn.metrics import cohen_kappa_score

    # 50 plaques: both intimal 20, both IEL 15, A intimal / B IEL 5, A IEL / B intimal 10
    a = ["intimal"] * 25 + ["IEL"] * 25
    b = ["intimal"] * 20 + ["IEL"] * 5 + ["intimal"] * 10 + ["IEL"] * 15
    po = 35 / 50
    pe = (25 / 50) * (30 / 50) + (25 / 50) * (20 / 50)
    out = stats.cohens_kappa(a, b)
    assert out["value"] == pytest.approx((po - pe) / (1 - pe))
    assert out["observed_agreement"] == pytest.approx(po) and out["band"] == "fair"
    first = [0, 1, 2, 2, 1, 0, 3, 2, 1, 1, 0, 2]
    second = [0, 1, 1, 2, 2, 0, 3, 3, 1, 0, 0, 2]
    weighted = stats.cohens_kappa(first, second, weights="linear", categories=[0, 1, 2, 3])
    assert weighted["value"] == pytest.approx(cohen_kappa_score(first, second, weights="linear"))
    assert stats.cohens_kappa(["a"] * 5, ["a"] * 5)["value"] is None


def test_fisher_exact_larger_table_is_a_number():
    table = pd.DataFrame({"x": ["a", "b", "b", "c", "a", "b"], "g": [0, 1, 1, 0, 0, 1]})
    out = stats.fisher_exact(table, "x", "g")
    assert isinstance(out["p"], float) and 0 < out["p"] <= 1 and out["statistic"] is None
