"""Statistics for cohort tables: thin, documented wrappers over scipy and statsmodels.

Every function takes a tidy ``pandas.DataFrame`` (one row per subject or lesion)
and column names, drops rows with missing values in the columns it uses, and
returns plain dicts / DataFrames with ``n`` so a report can say what was used.
No statistic is computed by hand: rank correlation, Kruskal-Wallis and chi-square
come from :mod:`scipy.stats`, logistic regression from :mod:`statsmodels`.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd


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


def kruskal(df: pd.DataFrame, value: str, group: str) -> dict[str, Any]:
    """Kruskal-Wallis H test of ``value`` across the levels of ``group`` (scipy)."""
    from scipy import stats

    data = df[[value, group]].copy()
    data[value] = pd.to_numeric(data[value], errors="coerce")
    data = data.dropna()
    samples = [part[value].to_numpy() for _, part in data.groupby(group, sort=True)]
    out = {
        "test": "Kruskal-Wallis",
        "n": len(data),
        "groups": len(samples),
        "statistic": None,
        "p": None,
    }
    if len(samples) < 2 or data[value].nunique() < 2:
        out["note"] = "fewer than two groups or all values equal"
        return out
    result = stats.kruskal(*samples)
    out.update(statistic=float(result.statistic), p=float(result.pvalue))
    return out


def chi_square(df: pd.DataFrame, a: str, b: str) -> dict[str, Any]:
    """Chi-square test of independence of two categorical columns (scipy).

    ``small_expected`` is the fraction of cells with an expected count < 5 (the test
    is unreliable when it is large; the report shows it).
    """
    from scipy import stats

    data = df[[a, b]].dropna()
    table = pd.crosstab(data[a], data[b])
    out = {"test": "chi-square", "n": len(data), "statistic": None, "p": None, "dof": None}
    if table.shape[0] < 2 or table.shape[1] < 2:
        out["note"] = "fewer than two categories in a column"
        return out
    result = stats.chi2_contingency(table)
    out.update(
        statistic=float(result.statistic),
        p=float(result.pvalue),
        dof=int(result.dof),
        small_expected=float(np.mean(result.expected_freq < 5)),
    )
    return out


def logistic_odds_ratios(
    df: pd.DataFrame, outcome: str, predictors: list[str], confidence: float = 0.95
) -> pd.DataFrame:
    """Odds ratios (per unit of each predictor) with CI from a logistic regression.

    Fits ``outcome ~ 1 + predictors`` by maximum likelihood
    (:class:`statsmodels.api.Logit`); odds ratio = ``exp(coefficient)``, CI =
    ``exp`` of the Wald interval. ``outcome`` must be 0/1. When the fit fails
    (e.g. perfect separation) the rows carry a ``note`` and no numbers.
    """
    import statsmodels.api as sm

    data = df[[outcome, *predictors]].apply(pd.to_numeric, errors="coerce").dropna()
    rows = [{"outcome": outcome, "predictor": p, "n": len(data)} for p in predictors]
    if not set(data[outcome].unique()) <= {0, 1} or data[outcome].nunique() < 2:
        for row in rows:
            row["note"] = "outcome is not a 0/1 variable with both values present"
        return pd.DataFrame(rows)
    x = sm.add_constant(data[predictors].astype(float), has_constant="add")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # perfect separation / no convergence -> no numbers
            fit = sm.Logit(data[outcome].astype(float), x).fit(disp=0)
    except (Exception, Warning) as err:  # noqa: BLE001 - statsmodels raises several types
        for row in rows:
            reason = str(err).split(".")[0]
            row["note"] = (
                f"logistic regression failed ({type(err).__name__}: {reason}; often separation)"
            )
        return pd.DataFrame(rows)
    ci = fit.conf_int(alpha=1.0 - confidence)
    for row in rows:
        p = row["predictor"]
        row.update(
            odds_ratio=float(np.exp(fit.params[p])),
            ci_low=float(np.exp(ci.loc[p, 0])),
            ci_high=float(np.exp(ci.loc[p, 1])),
            p=float(fit.pvalues[p]),
            confidence=confidence,
        )
    return pd.DataFrame(rows)
