"""Statistics for cohort tables: thin, documented wrappers over scipy, statsmodels, pingouin.

Every function takes a tidy ``pandas.DataFrame`` (one row per subject, plaque or
lesion) and column names, drops rows with missing values in the columns it uses, and
returns plain dicts / DataFrames with ``n`` so a report can say what was used.
No estimator is written here: t-tests, ANOVA, Mann-Whitney U, Kruskal-Wallis,
chi-square, Fisher's exact test, Shapiro-Wilk and the correlations come from
:mod:`scipy.stats`; logistic regression and Cohen's kappa from :mod:`statsmodels`;
the intraclass correlation from :mod:`pingouin`. What is written here is the choice
of test per variable (:func:`compare_groups`), the coding of predictors, and the
warnings a reader needs (separation, too few events per variable, small expected
counts, targets that barely vary).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

#: Variable kinds :func:`compare_groups` knows.
KINDS = ("continuous", "count", "ordinal", "binary", "categorical")
#: Events per variable below which a logistic model is flagged (Peduzzi P et al.,
#: J Clin Epidemiol 1996;49:1373-1379: fewer than 10 events per variable bias the
#: coefficients and their confidence intervals).
MIN_EVENTS_PER_VARIABLE = 10
#: ICC bands of the vertebrobasilar study (CLINICAL_RULES 0b; Fleiss 1986): poor
#: below 0.4, fair to good from 0.4 to 0.75, excellent above 0.75.
ICC_BANDS = (0.4, 0.75)
#: Kappa bands of Landis JR, Koch GG, Biometrics 1977;33:159-174 (upper bounds).
KAPPA_BANDS = (
    (0.0, "poor"),
    (0.20, "slight"),
    (0.40, "fair"),
    (0.60, "moderate"),
    (0.80, "substantial"),
    (1.0, "almost perfect"),
)
_YES = {"1", "1.0", "true", "yes", "y"}
_NO = {"0", "0.0", "false", "no", "n"}


# ------------------------------------------------------------- descriptions
def group_summary(df: pd.DataFrame, value: str, group: str) -> pd.DataFrame:
    """Per-group n, mean, SD, median, quartiles and missing count of ``value``.

    Returns one row per group level (sorted), with ``mean_sd`` ("mean ± SD") and
    ``median_iqr`` ("median (Q1-Q3)") text columns for reports.
    """
    rows = []
    for level, part in df.groupby(group, dropna=True, sort=True):
        x = pd.to_numeric(part[value], errors="coerce")
        present = x.dropna()
        q1, med, q3 = (
            present.quantile([0.25, 0.5, 0.75]).tolist() if len(present) else [np.nan] * 3
        )
        mean = present.mean() if len(present) else np.nan
        sd = present.std(ddof=1) if len(present) > 1 else np.nan
        rows.append(
            {
                "marker": value,
                "group": group,
                "level": level,
                "n": int(len(present)),
                "missing": int(x.isna().sum()),
                "mean": mean,
                "sd": sd,
                "median": med,
                "q1": q1,
                "q3": q3,
                "mean_sd": f"{mean:.3g} ± {sd:.3g}" if len(present) > 1 else "",
                "median_iqr": f"{med:.3g} ({q1:.3g}-{q3:.3g})" if len(present) else "",
            }
        )
    return pd.DataFrame(rows)


def as_binary(values: pd.Series) -> pd.Series:
    """A yes/no column as 0/1 floats (NaN kept); raises ``ValueError`` otherwise.

    Accepts 0/1, booleans and ``yes/no``, ``true/false``, ``y/n`` in any case.
    """

    def one(v):
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
            return np.nan
        text = str(v).strip().lower()
        if text in _YES:
            return 1.0
        if text in _NO:
            return 0.0
        raise ValueError(f"{values.name}: {v!r} is not yes/no (0/1)")

    return values.map(one).astype(float)


def variable_kind(values: pd.Series, max_ordinal_levels: int = 10) -> str:
    """The kind of a column, for choosing its test (see :data:`KINDS`).

    Two distinct values -> ``binary``; text -> ``categorical``; whole numbers with
    at most ``max_ordinal_levels`` values -> ``ordinal``; other numbers ->
    ``continuous``. Give the kind explicitly where this guess is wrong (a count of
    microbleeds is a count, a grade is ordinal).
    """
    present = values.dropna()
    if present.nunique() <= 2:
        return "binary"
    numbers = pd.to_numeric(present, errors="coerce")
    if numbers.isna().any():
        return "categorical"
    whole = np.allclose(numbers, np.round(numbers))
    return "ordinal" if whole and numbers.nunique() <= max_ordinal_levels else "continuous"


# --------------------------------------------------------- two-variable tests
def _numeric_groups(df, value, group):
    data = df[[value, group]].copy()
    data[value] = pd.to_numeric(data[value], errors="coerce")
    data = data.dropna()
    levels = sorted_levels(data[group])
    samples = [data.loc[data[group] == level, value].to_numpy(float) for level in levels]
    return data, levels, samples


def _sort_key(value):
    return (0, float(value), "") if _is_number(value) else (1, 0.0, str(value))


def sorted_levels(values) -> list:
    """The distinct values of a column, missing ones left out: numbers by value, then
    text."""
    return sorted(pd.Series(values).dropna().unique(), key=_sort_key)


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _result(test, data, levels, **extra) -> dict[str, Any]:
    return {
        "test": test,
        "n": len(data),
        "groups": len(levels),
        "statistic": None,
        "p": None,
        **extra,
    }


def ttest(df: pd.DataFrame, value: str, group: str, equal_var: bool = False) -> dict[str, Any]:
    """Two-sample t-test of ``value`` between the two levels of ``group`` (scipy).

    ``equal_var=False`` (default) is Welch's test, which does not assume equal
    variances; ``True`` is Student's. Also returns the difference of means (second
    level minus first) and its confidence interval.
    """
    from scipy import stats

    data, levels, samples = _numeric_groups(df, value, group)
    name = "Student t-test" if equal_var else "Welch t-test"
    out = _result(name, data, levels)
    if len(levels) != 2 or min(len(s) for s in samples) < 2:
        out["note"] = "needs two groups of at least 2 values"
        return out
    result = stats.ttest_ind(samples[1], samples[0], equal_var=equal_var)
    ci = result.confidence_interval()
    out.update(
        statistic=float(result.statistic),
        p=float(result.pvalue),
        df=float(result.df),
        difference=float(samples[1].mean() - samples[0].mean()),
        difference_ci_low=float(ci.low),
        difference_ci_high=float(ci.high),
    )
    return out


def mann_whitney(df: pd.DataFrame, value: str, group: str) -> dict[str, Any]:
    """Mann-Whitney U test of ``value`` between the two levels of ``group`` (scipy).

    Two-sided, exact for small samples without ties and the normal approximation
    with continuity correction otherwise (``scipy.stats.mannwhitneyu``,
    ``method="auto"``). ``statistic`` is U of the first level.
    """
    from scipy import stats

    data, levels, samples = _numeric_groups(df, value, group)
    out = _result("Mann-Whitney U", data, levels)
    if len(levels) != 2 or min(len(s) for s in samples) < 1:
        out["note"] = "needs two non-empty groups"
        return out
    if data[value].nunique() < 2:
        out["note"] = "all values equal"
        return out
    result = stats.mannwhitneyu(samples[0], samples[1], alternative="two-sided")
    out.update(statistic=float(result.statistic), p=float(result.pvalue))
    return out


def anova(df: pd.DataFrame, value: str, group: str, equal_var: bool = False) -> dict[str, Any]:
    """One-way ANOVA of ``value`` across the levels of ``group`` (``scipy.stats.f_oneway``).

    ``equal_var=False`` (default) is Welch's ANOVA; ``True`` the classical F test.
    """
    from scipy import stats

    data, levels, samples = _numeric_groups(df, value, group)
    out = _result("ANOVA" if equal_var else "Welch ANOVA", data, levels)
    if len(levels) < 2 or min(len(s) for s in samples) < 2:
        out["note"] = "needs at least two groups of at least 2 values"
        return out
    result = stats.f_oneway(*samples, equal_var=equal_var)
    out.update(statistic=float(result.statistic), p=float(result.pvalue))
    return out


def kruskal(df: pd.DataFrame, value: str, group: str) -> dict[str, Any]:
    """Kruskal-Wallis H test of ``value`` across the levels of ``group`` (scipy)."""
    from scipy import stats

    data, levels, samples = _numeric_groups(df, value, group)
    out = _result("Kruskal-Wallis", data, levels)
    if len(samples) < 2 or data[value].nunique() < 2:
        out["note"] = "fewer than two groups or all values equal"
        return out
    result = stats.kruskal(*samples)
    out.update(statistic=float(result.statistic), p=float(result.pvalue))
    return out


def chi_square(df: pd.DataFrame, a: str, b: str, correction: bool = True) -> dict[str, Any]:
    """Chi-square test of independence of two categorical columns (scipy).

    ``correction`` is Yates' continuity correction, applied by scipy to 2x2 tables
    only (its default). ``small_expected`` is the fraction of cells with an expected
    count < 5 (the test is unreliable when it is large; the report shows it).
    """
    from scipy import stats

    data = df[[a, b]].dropna()
    table = pd.crosstab(data[a], data[b])
    out = {"test": "chi-square", "n": len(data), "statistic": None, "p": None, "dof": None}
    if table.shape[0] < 2 or table.shape[1] < 2:
        out["note"] = "fewer than two categories in a column"
        return out
    result = stats.chi2_contingency(table, correction=correction)
    out.update(
        statistic=float(result.statistic),
        p=float(result.pvalue),
        dof=int(result.dof),
        small_expected=float(np.mean(result.expected_freq < 5)),
    )
    return out


def fisher_exact(df: pd.DataFrame, a: str, b: str) -> dict[str, Any]:
    """Fisher's exact test of two categorical columns (``scipy.stats.fisher_exact``).

    For a 2x2 table ``statistic`` is the sample odds ratio; larger tables use
    scipy's r x c test (p-value only).
    """
    from scipy import stats

    data = df[[a, b]].dropna()
    table = pd.crosstab(data[a], data[b])
    out = {"test": "Fisher exact", "n": len(data), "statistic": None, "p": None}
    if table.shape[0] < 2 or table.shape[1] < 2:
        out["note"] = "fewer than two categories in a column"
        return out
    result = stats.fisher_exact(table.to_numpy())
    out["p"] = float(np.ravel(result.pvalue)[0])  # scipy's r x c test returns arrays
    if table.shape == (2, 2):
        out["statistic"] = float(result.statistic)
    return out


def _expected_counts(df: pd.DataFrame, a: str, b: str) -> np.ndarray:
    table = pd.crosstab(df[a], df[b]).to_numpy(float)
    return np.outer(table.sum(axis=1), table.sum(axis=0)) / max(table.sum(), 1.0)


def is_normal(samples: Sequence[np.ndarray], alpha: float = 0.05) -> bool | None:
    """Shapiro-Wilk (``scipy.stats.shapiro``) does not reject normality in any sample.

    ``None`` when a sample has fewer than 3 values or no spread (normality cannot be
    judged; the caller then takes the rank test).
    """
    from scipy import stats

    for sample in samples:
        if len(sample) < 3 or np.ptp(sample) == 0:
            return None
        if stats.shapiro(sample).pvalue < alpha:
            return False
    return True


def compare_groups(
    df: pd.DataFrame,
    value: str,
    group: str,
    kind: str | None = None,
    normal_alpha: float = 0.05,
    equal_var: bool = False,
    correction: bool = True,
) -> dict[str, Any]:
    """Compare ``value`` across the levels of ``group`` with the test its kind calls for.

    * ``continuous``: Shapiro-Wilk in every group (:func:`is_normal`, level
      ``normal_alpha``); normal -> t-test (2 groups) or ANOVA (more), otherwise ->
      Mann-Whitney U (2 groups) or Kruskal-Wallis (more);
    * ``count`` and ``ordinal``: Mann-Whitney U or Kruskal-Wallis;
    * ``binary`` and ``categorical``: chi-square, or Fisher's exact test when a
      2x2 table has an expected count < 5 or a larger one has more than 20 % of
      cells below 5 (Cochran's rule).

    ``kind`` ``None`` is guessed by :func:`variable_kind`. The result names the test,
    why it was chosen (``choice``) and, for continuous variables, ``normal``.
    """
    kind = kind or variable_kind(df[value])
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    data = df[[value, group]].dropna()
    n_groups = data[group].nunique()
    if kind in ("binary", "categorical"):
        expected = _expected_counts(data, value, group) if len(data) else np.zeros((1, 1))
        small = float(np.mean(expected < 5)) if expected.size else 0.0
        two_by_two = expected.shape == (2, 2)
        if (two_by_two and small > 0) or (not two_by_two and small > 0.2):
            out = fisher_exact(data, value, group)
            out["choice"] = (
                "an expected count < 5 in the 2x2 table"
                if two_by_two
                else f"{small:.0%} of expected counts < 5 (> 20%)"
            )
        else:
            out = chi_square(data, value, group, correction=correction)
            out["choice"] = "expected counts >= 5" if two_by_two else "<= 20% of expected < 5"
        out["kind"] = kind
        return out
    _, _, samples = _numeric_groups(data, value, group)
    normal = is_normal(samples, normal_alpha) if kind == "continuous" else None
    if normal:
        out = (
            ttest(data, value, group, equal_var)
            if n_groups == 2
            else anova(data, value, group, equal_var)
        )
        out["choice"] = f"Shapiro-Wilk p >= {normal_alpha} in every group"
    else:
        out = mann_whitney(data, value, group) if n_groups == 2 else kruskal(data, value, group)
        out["choice"] = (
            f"{kind} variable"
            if kind != "continuous"
            else "normality rejected (Shapiro-Wilk) in a group"
            if normal is False
            else "a group too small to judge normality"
        )
    out.update(kind=kind, normal=normal)
    return out


# --------------------------------------------------------------- correlations
def spearman(df: pd.DataFrame, x: str, y: str, confidence: float = 0.95) -> dict[str, Any]:
    """Spearman rank correlation of ``x`` and ``y`` with p-value and Fisher-z CI.

    ``rho`` and ``p`` (two-sided) are :func:`scipy.stats.spearmanr`; the confidence
    interval is ``tanh(atanh(rho) +- z_(1+confidence)/2 / sqrt(n - 3))`` (Fisher z
    transform; needs n >= 4 and |rho| < 1, else ``None``).
    """
    from scipy import stats

    pair = df[[x, y]].apply(pd.to_numeric, errors="coerce").dropna()
    n = len(pair)
    out = {"x": x, "y": y, "n": n, "rho": None, "p": None, "ci_low": None, "ci_high": None}
    if n < 3 or pair[x].nunique() < 2 or pair[y].nunique() < 2:
        out["note"] = "too few rows or a constant column"
        return out
    result = stats.spearmanr(pair[x], pair[y])
    rho, p = float(result.statistic), float(result.pvalue)
    out.update(rho=rho, p=p, confidence=confidence)
    if n >= 4 and abs(rho) < 1.0:
        z_crit = stats.norm.ppf(0.5 + confidence / 2.0)
        z, se = math.atanh(rho), 1.0 / math.sqrt(n - 3)
        out.update(ci_low=math.tanh(z - z_crit * se), ci_high=math.tanh(z + z_crit * se))
    return out


def pearson(df: pd.DataFrame, x: str, y: str, confidence: float = 0.95) -> dict[str, Any]:
    """Pearson correlation of ``x`` and ``y`` with p-value and CI (``scipy.stats.pearsonr``;
    the CI is scipy's Fisher-z interval)."""
    from scipy import stats

    pair = df[[x, y]].apply(pd.to_numeric, errors="coerce").dropna()
    n = len(pair)
    out = {"x": x, "y": y, "n": n, "r": None, "p": None, "ci_low": None, "ci_high": None}
    if n < 3 or pair[x].nunique() < 2 or pair[y].nunique() < 2:
        out["note"] = "too few rows or a constant column"
        return out
    result = stats.pearsonr(pair[x], pair[y])
    out.update(r=float(result.statistic), p=float(result.pvalue), confidence=confidence)
    if n >= 4 and abs(result.statistic) < 1.0:
        ci = result.confidence_interval(confidence)
        out.update(ci_low=float(ci.low), ci_high=float(ci.high))
    return out


# -------------------------------------------------------- logistic regression
def design_matrix(
    df: pd.DataFrame, predictors: Sequence[str], reference: Mapping[str, Any] | None = None
) -> tuple[pd.DataFrame, dict[str, tuple[str, Any, Any]]]:
    """Numeric model columns for ``predictors`` and what each term means.

    A yes/no predictor becomes one 0/1 term named after it; a numeric one is used
    as is (the odds ratio is per unit); a text one becomes one indicator term per
    level other than the reference (``name[level]``), the reference being
    ``reference[name]`` or else its most frequent level. Rows with a missing
    predictor are NaN in every term.

    Returns
    -------
    matrix : one column per term, index of ``df``.
    terms : term -> (predictor, level or None, reference level or None).
    """
    reference = dict(reference or {})
    columns, terms = {}, {}
    for name in predictors:
        values = df[name]
        try:
            columns[name], terms[name] = as_binary(values), (name, None, None)
            continue
        except ValueError:
            pass
        numbers = pd.to_numeric(values, errors="coerce")
        if numbers.notna().sum() == values.notna().sum():
            columns[name], terms[name] = numbers.astype(float), (name, None, None)
            continue
        levels = values.dropna().astype(str)
        ref = str(reference.get(name, levels.value_counts().sort_index().idxmax()))
        text = values.map(lambda v: None if pd.isna(v) else str(v))
        for level in sorted(set(levels) - {ref}):
            term = f"{name}[{level}]"
            columns[term] = np.where(text.isna(), np.nan, (text == level).astype(float))
            terms[term] = (name, level, ref)
    return pd.DataFrame(columns, index=df.index), terms


def logistic_model(
    df: pd.DataFrame,
    outcome: str,
    predictors: Sequence[str],
    confidence: float = 0.95,
    min_events_per_variable: float = MIN_EVENTS_PER_VARIABLE,
    reference: Mapping[str, Any] | None = None,
    cluster: str | None = None,
) -> dict[str, Any]:
    """Multivariable logistic regression ``outcome ~ 1 + predictors`` (statsmodels Logit).

    Complete cases only. Odds ratio = ``exp(coefficient)`` per unit (or against the
    reference level, :func:`design_matrix`), CI = ``exp`` of the Wald interval,
    p = Wald test. With ``cluster`` (e.g. ``subject_id`` for several plaques per
    patient) the standard errors are cluster-robust.

    Warnings (``warnings``), never silent:

    * too few events per variable: ``min(events, non-events) / terms`` below
      ``min_events_per_variable`` (10, Peduzzi 1996) — the ORs are reported, with
      the warning;
    * complete or quasi-complete separation — a yes/no or text term whose
      cross-table with the outcome has an empty cell, or a fit that does not
      converge or predicts probabilities of 0 or 1: the maximum-likelihood ORs do
      not exist, so none are reported (``fitted`` False).

    Returns
    -------
    dict with ``terms`` (DataFrame: term, predictor, level, reference, odds_ratio,
    ci_low, ci_high, p), ``n``, ``dropped`` (incomplete rows), ``events``,
    ``non_events``, ``n_terms``, ``events_per_variable``, ``fitted``, ``warnings``.
    """
    import statsmodels.api as sm

    columns = [outcome, *predictors] + ([cluster] if cluster and cluster not in predictors else [])
    data = df[columns]
    out: dict[str, Any] = {
        "outcome": outcome,
        "predictors": list(predictors),
        "confidence": confidence,
        "fitted": False,
        "warnings": [],
    }
    try:
        y = as_binary(data[outcome])
    except ValueError as err:
        out.update(terms=pd.DataFrame(), n=0, dropped=len(data))
        out["warnings"].append(f"outcome is not yes/no (0/1): {err}")
        return out
    x, meaning = design_matrix(data, predictors, reference)
    keep = y.notna() & x.notna().all(axis=1)
    if cluster:
        keep &= data[cluster].notna()
    y, x = y[keep], x[keep]
    events = int(y.sum())
    n_terms = x.shape[1]
    out.update(
        n=int(keep.sum()),
        dropped=int((~keep).sum()),
        events=events,
        non_events=int(len(y) - events),
        n_terms=n_terms,
        events_per_variable=(min(events, len(y) - events) / n_terms) if n_terms else None,
    )
    rows = [
        {"term": t, "predictor": p, "level": lv, "reference": ref}
        for t, (p, lv, ref) in meaning.items()
    ]
    out["terms"] = pd.DataFrame(rows, columns=["term", "predictor", "level", "reference"])
    if min(events, len(y) - events) == 0:
        out["warnings"].append("the outcome takes one value only: no model")
        return out
    if (
        out["events_per_variable"] is not None
        and out["events_per_variable"] < min_events_per_variable
    ):
        out["warnings"].append(
            f"{out['events_per_variable']:.1f} events per variable (< {min_events_per_variable:g}): "
            "odds ratios and intervals are biased away from 1 and unstable (Peduzzi 1996)"
        )
    separated = _separated_terms(y, x, meaning)
    if separated:
        out["warnings"].append(
            "complete or quasi-complete separation on "
            + ", ".join(separated)
            + " (an empty cell against the outcome): the odds ratios do not exist; "
            "merge levels, drop the term or use penalised (Firth) regression"
        )
        return out
    design = sm.add_constant(x.astype(float), has_constant="add")
    fit_kwargs = {"disp": 0, "maxiter": 200}
    if cluster:
        fit_kwargs.update(
            cov_type="cluster", cov_kwds={"groups": pd.factorize(data.loc[keep, cluster])[0]}
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit = sm.Logit(y.astype(float), design).fit(**fit_kwargs)
        except np.linalg.LinAlgError as err:
            out["warnings"].append(f"the model could not be fitted ({err}; collinear predictors?)")
            return out
    converged = bool(fit.mle_retvals.get("converged", True))
    fitted_p = np.asarray(fit.predict())
    if not converged or np.any((fitted_p < 1e-8) | (fitted_p > 1 - 1e-8)):
        out["warnings"].append(
            "the fit predicts probabilities of 0 or 1 or did not converge (complete or "
            "quasi-complete separation): the odds ratios do not exist"
        )
        return out
    other = [str(w.message).split("\n")[0] for w in caught]
    out["warnings"] += [f"statsmodels: {m}" for m in dict.fromkeys(other)]
    ci = fit.conf_int(alpha=1.0 - confidence)
    terms = out["terms"]
    terms["odds_ratio"] = [float(np.exp(fit.params[t])) for t in terms["term"]]
    terms["ci_low"] = [float(np.exp(ci.loc[t, 0])) for t in terms["term"]]
    terms["ci_high"] = [float(np.exp(ci.loc[t, 1])) for t in terms["term"]]
    terms["p"] = [float(fit.pvalues[t]) for t in terms["term"]]
    out.update(
        fitted=True,
        pseudo_r2=float(fit.prsquared),
        aic=float(fit.aic),
        covariance="cluster-robust by " + cluster if cluster else "model-based (Wald)",
    )
    return out


def _separated_terms(y: pd.Series, x: pd.DataFrame, meaning) -> list[str]:
    """Indicator terms with an empty cell in their 2x2 table against the outcome."""
    found = []
    for term in x.columns:
        column = x[term]
        if set(column.unique()) <= {0.0, 1.0}:
            table = pd.crosstab(column, y).reindex(
                index=[0.0, 1.0], columns=[0.0, 1.0], fill_value=0
            )
            if (table.to_numpy() == 0).any():
                found.append(term)
    return found


def logistic_odds_ratios(
    df: pd.DataFrame, outcome: str, predictors: list[str], confidence: float = 0.95
) -> pd.DataFrame:
    """One row per term of :func:`logistic_model` (odds ratio, CI, p; ``note`` when it
    could not be fitted), for tables that show one model per row."""
    model = logistic_model(df, outcome, predictors, confidence)
    terms = model["terms"].copy()
    if terms.empty:
        terms = pd.DataFrame({"term": predictors, "predictor": predictors})
    terms.insert(0, "outcome", outcome)
    terms["n"] = model["n"]
    terms["confidence"] = confidence
    if not model["fitted"]:
        terms["note"] = "logistic regression failed: " + "; ".join(model["warnings"])
    elif model["warnings"]:
        terms["note"] = "; ".join(model["warnings"])
    return terms


def odds_ratio_table(
    df: pd.DataFrame,
    outcome: str,
    exposures: Sequence[str],
    models: Mapping[str, Sequence[str]] | None = None,
    confidence: float = 0.95,
    min_events_per_variable: float = MIN_EVENTS_PER_VARIABLE,
    cluster: str | None = None,
) -> pd.DataFrame:
    """Univariable and adjusted odds ratios of each exposure, one model per cell.

    For every exposure: ``outcome ~ exposure`` (``univariable``) and, for each named
    adjustment model, ``outcome ~ exposure + covariates`` (a covariate equal to the
    exposure is left out), each fitted by :func:`logistic_model` — the layout of a
    study's "univariable and multivariable logistic regression" table. Only the
    exposure's own term(s) are returned, with the model's n, events, events per
    variable and warnings.
    """
    rows = []
    specs = {"univariable": []} | {k: list(v) for k, v in (models or {}).items()}
    for exposure in exposures:
        for name, covariates in specs.items():
            predictors = [exposure] + [c for c in covariates if c != exposure]
            model = logistic_model(
                df, outcome, predictors, confidence, min_events_per_variable, cluster=cluster
            )
            own = (
                model["terms"][model["terms"]["predictor"] == exposure]
                if len(model["terms"])
                else []
            )
            base = {
                "exposure": exposure,
                "model": name,
                "covariates": ", ".join(predictors[1:]),
                "n": model["n"],
                "events": model.get("events"),
                "events_per_variable": model.get("events_per_variable"),
                "fitted": model["fitted"],
                "warnings": "; ".join(model["warnings"]),
            }
            if len(own) == 0:
                rows.append({**base, "term": exposure})
            for _, term in own.iterrows() if len(own) else []:
                rows.append({**base, **term.to_dict()})
    return pd.DataFrame(rows)


# ------------------------------------------------------------ reader agreement
def icc_band(value: float | None, bands: tuple[float, float] = ICC_BANDS) -> str | None:
    """``poor`` (< 0.4), ``fair to good`` (0.4-0.75) or ``excellent`` (> 0.75)."""
    if value is None or not np.isfinite(value):
        return None
    low, high = bands
    if value < low:
        return "poor"
    return "excellent" if value > high else "fair to good"


#: ICC forms (McGraw & Wong names as pingouin gives them; Shrout & Fleiss in brackets).
ICC_FORMS = {
    "ICC(1,1)": "one-way random, single rater (Shrout-Fleiss ICC1)",
    "ICC(A,1)": "two-way random, absolute agreement, single rater (Shrout-Fleiss ICC2)",
    "ICC(C,1)": "two-way mixed, consistency, single rater (Shrout-Fleiss ICC3)",
    "ICC(1,k)": "one-way random, mean of k raters (ICC1k)",
    "ICC(A,k)": "two-way random, absolute agreement, mean of k raters (ICC2k)",
    "ICC(C,k)": "two-way mixed, consistency, mean of k raters (ICC3k)",
}


def icc(
    df: pd.DataFrame,
    target: str,
    rater: str,
    value: str,
    form: str = "ICC(A,1)",
    bands: tuple[float, float] = ICC_BANDS,
) -> dict[str, Any]:
    """Intraclass correlation of ``value`` rated by every ``rater`` on every ``target``.

    ``pingouin.intraclass_corr`` (ANOVA estimates, F-test and 95 % CI; Shrout &
    Fleiss, Psychol Bull 1979;86:420-428; McGraw & Wong, Psychol Methods
    1996;1:30-46). The default ``ICC(A,1)``, two-way random effects with absolute
    agreement for a single reader, is the usual figure for two readers measuring the
    same plaques. Targets not rated by every rater are left out. ``band`` is
    :func:`icc_band`. A ``note`` warns when the targets barely differ (the ICC is
    then low whatever the agreement).
    """
    import pingouin

    if form not in ICC_FORMS:
        raise ValueError(f"ICC form {form!r} is not one of {', '.join(ICC_FORMS)}")
    data = df[[target, rater, value]].copy()
    data[value] = pd.to_numeric(data[value], errors="coerce")
    data = data.dropna()
    n_raters = data[rater].nunique()
    complete = data.groupby(target)[rater].nunique() == n_raters
    data = data[data[target].isin(complete.index[complete])]
    out = {
        "measure": value,
        "statistic": form,
        "form": ICC_FORMS[form],
        "n_targets": int(data[target].nunique()),
        "n_raters": int(n_raters),
        "value": None,
        "ci_low": None,
        "ci_high": None,
        "p": None,
        "band": None,
    }
    if out["n_targets"] < 3 or n_raters < 2:
        out["note"] = "needs at least 3 targets rated by at least 2 raters"
        return out
    if data[value].nunique() < 2:
        out["note"] = "every rating is the same"
        return out
    # pingouin's own use of a deprecated pandas keyword; its F ratios divide by zero
    # when the readers agree exactly (ICC 1, no CI: NaN), which is not a user's problem
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.filterwarnings("ignore", message="The inplace keyword")
        table = pingouin.intraclass_corr(data, targets=target, raters=rater, ratings=value)
    row = table.set_index("Type").loc[form]
    low, high = row[[c for c in table.columns if c.startswith("CI")][0]]
    out.update(
        value=float(row["ICC"]),
        ci_low=float(low),
        ci_high=float(high),
        p=float(row["pval"]),
        F=float(row["F"]),
        band=icc_band(float(row["ICC"]), bands),
        confidence=0.95,
    )
    means = data.groupby(target)[value].mean()
    within = data.groupby(target)[value].std(ddof=1).mean()
    if means.std(ddof=1) < within:
        out["note"] = (
            "the targets differ less than the readers do: the ICC is low whatever the "
            "agreement; read the mean difference and limits of agreement too"
        )
    return out


def kappa_band(value: float | None) -> str | None:
    """Landis & Koch band of a kappa (poor < 0, slight <= 0.20 ... almost perfect)."""
    if value is None or not np.isfinite(value):
        return None
    return next(name for upper, name in KAPPA_BANDS if value <= upper)


def cohens_kappa(
    first: Sequence,
    second: Sequence,
    weights: str | None = None,
    categories: Sequence | None = None,
) -> dict[str, Any]:
    """Cohen's kappa of two readers' classes of the same targets (statsmodels).

    ``first`` and ``second`` are paired (pairs with a missing class are left out).
    ``weights`` ``None`` is the unweighted kappa (nominal classes); ``"linear"`` or
    ``"quadratic"`` weight disagreements by distance for ordinal classes, in the
    order of ``categories`` (default: sorted). Kappa, its asymptotic standard error,
    95 % CI and the two-sided p-value are
    ``statsmodels.stats.inter_rater.cohens_kappa``; ``observed_agreement`` is the
    fraction of identical pairs; ``band`` is :func:`kappa_band`.
    """
    from statsmodels.stats.inter_rater import cohens_kappa as sm_kappa

    pairs = pd.DataFrame({"a": list(first), "b": list(second)}).dropna()
    pairs = pairs.astype(str)
    levels = [str(c) for c in categories] if categories is not None else None
    levels = levels or sorted(set(pairs["a"]) | set(pairs["b"]), key=_sort_key)
    table = pd.crosstab(pairs["a"], pairs["b"]).reindex(index=levels, columns=levels, fill_value=0)
    out = {
        "statistic": "Cohen's kappa" + (f" ({weights} weights)" if weights else ""),
        "n_targets": len(pairs),
        "categories": "; ".join(levels),
        "value": None,
        "ci_low": None,
        "ci_high": None,
        "p": None,
        "observed_agreement": float((pairs["a"] == pairs["b"]).mean()) if len(pairs) else None,
        "band": None,
    }
    if len(pairs) < 2 or len(levels) < 2:
        out["note"] = "needs at least 2 targets and 2 classes"
        return out
    chance = float((table.sum(axis=1).to_numpy() * table.sum(axis=0).to_numpy()).sum())
    if chance == len(pairs) ** 2:  # expected agreement 1: 0 / 0
        out["note"] = "both readers give one class to every target: kappa is undefined"
        return out
    with np.errstate(invalid="ignore", divide="ignore"):  # its z-test when kappa is 1
        result = sm_kappa(table.to_numpy(), wt=weights) if weights else sm_kappa(table.to_numpy())
    out.update(
        value=float(result.kappa),
        ci_low=float(result.kappa_low),
        ci_high=float(result.kappa_upp),
        p=float(result.pvalue_two_sided) if np.isfinite(result.pvalue_two_sided) else None,
        standard_error=float(result.std_kappa),
        band=kappa_band(float(result.kappa)),
        confidence=0.95,
    )
    return out
