"""The studies' tables from a cohort run: Table 1, group comparisons, correlations,
univariable and adjusted logistic models, reader agreement (HTML + CSV).

``napari-calcium study-report SOURCE --out DIR`` (:func:`build_study_report`) reads a
cohort table (:func:`load_study_table`) for a unit of analysis — subjects, plaques
or calcifications of a batch run, a tidy CSV, or a folder of small-vessel records —
and writes:

* ``study_table1.csv`` — Table 1 by ``group`` (:func:`table_one`): per variable the
  overall and per-group summary (mean ± SD when every group passes Shapiro-Wilk,
  else median (IQR); n (%) for classes), the test the variable's kind and
  distribution call for (:func:`napari_calcium.cohort.stats.compare_groups`: t-test
  or Mann-Whitney U, ANOVA or Kruskal-Wallis, chi-square or Fisher's exact) and p —
  the layout of the vertebrobasilar study's Tables 1-2 (culprit vs non-culprit
  plaques) and of the small-vessel study's Table 1 (by calcification grade);
* ``study_by_<column>.csv`` — the same comparison by each further grouping
  (``compare_by``; the small-vessel study's Table 3, markers by calcification
  location);
* ``study_correlations.csv`` — Pearson and Spearman correlation of every variable
  with ``correlate`` (e.g. the calcification grade);
* ``study_logistic.csv`` — for each exposure the univariable odds ratio and one per
  named adjustment model (the vertebrobasilar study's Table 3: Model 1, Model 2 =
  Model 1 + stenosis), with 95 % CI, p, events per variable and warnings
  (:func:`~napari_calcium.cohort.stats.odds_ratio_table`);
* ``study_agreement.csv`` and ``study_consensus.csv`` — with a second reader's
  reading, ICC / kappa and the consensus table (:mod:`.agreement`);
* ``study_table.csv`` (the analysed table), ``study_report.html`` (all tables, box
  plots of each continuous variable by group, a forest plot per model, and every
  warning; :mod:`.study_html`).

Table 1 is written on pandas rather than with the ``tableone`` package because the
studies name their tests per variable — t-test or Mann-Whitney U for two groups —
while ``tableone`` uses Kruskal-Wallis for every non-normal variable and needs the
non-normal ones listed by hand; here one rule (:func:`compare_groups`) decides the
summary and the test, and the report says which test and why. Associations in a
cohort, not a diagnosis; subjects are named by their study pseudonym only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from napari_calcium.cohort import stats
from napari_calcium.cohort.manifest import CLINICAL_COLUMNS, is_clinical
from napari_calcium.cohort.study_html import study_html
from napari_calcium.cohort.svd_report import MARKERS, record_row
from napari_calcium.errors import InputError

UNITS = ("subjects", "plaques", "calcifications")
#: The manifest's clinical covariates and outcomes analysed by default (not the
#: reader's name nor the culprit positions).
CLINICAL_VARIABLES = tuple(
    c.name for c in CLINICAL_COLUMNS if c.name not in ("reader", "culprit_mm")
)
#: Kinds of known columns (others are guessed by :func:`stats.variable_kind`): the
#: manifest's clinical columns by their type, the small-vessel markers, the plaque and
#: grade columns.
KNOWN_KINDS = {
    **{
        c.name: {"float": "continuous", "flag": "binary", "choice": "categorical"}[c.kind]
        for c in CLINICAL_COLUMNS
        if c.name in CLINICAL_VARIABLES
    },
    **{name: kind for name, _, kind in MARKERS},
    "n_spotty": "count",
    "n_calcifications": "count",
    "microbleeds_count": "count",
    "calcification_grade": "ordinal",
    "location": "categorical",
    "pattern": "categorical",
    "remodeling": "categorical",
    "class": "categorical",
}
#: Default variables per unit, used when present.
DEFAULT_VARIABLES = {
    "plaques": (
        "location",
        "stenosis_pct",
        "plaque_burden_pct",
        "remodeling_index",
        "remodeling",
        "enhancement_ratio",
        "eccentric",
        "plaque_length_mm",
        "calcified",
        "n_calcifications",
        "n_spotty",
        "pattern",
        "intimal_predominant",
        "iel_predominant",
        "calcium_mean_hu",
        "calcium_volume_mm3",
    ),
    "calcifications": (
        "volume_mm3",
        "mean_hu",
        "length_mm",
        "arc_deg",
        "thickness_mm",
        "spotty",
        "pattern",
    ),
    "subjects": (*CLINICAL_VARIABLES, *(name for name, _, _ in MARKERS)),
}
#: Calcification locations of the small-vessel study's Table 3 and their arteries
#: (:data:`napari_calcium.scores.small_vessel.CALCIFIED_ARTERIES`).
LOCATIONS = {
    "MCA": ("MCA_left", "MCA_right"),
    "basilar": ("basilar",),
    "ICA": ("ICA_left", "ICA_right"),
    "vertebral": ("vertebral_left", "vertebral_right"),
}
#: Subject columns carried onto every plaque / calcification row.
SUBJECT_COLUMNS = ("artery", "reader")


# ------------------------------------------------------------------ loading
def load_study_table(
    source, unit: str = "subjects", clinical=None, culprit_tolerance_mm: float = 1.0
) -> tuple[pd.DataFrame, list[str]]:
    """The table to analyse, one row per ``unit``, and the warnings loading it raised.

    ``source`` is a batch output folder (``subjects.csv``, ``lesions.csv``), a tidy
    CSV, or a folder of small-vessel records (``*.json``,
    :func:`napari_calcium.cohort.svd_report.load_table`). For plaques and
    calcifications of a batch run, each row gets its subject's clinical columns;
    plaques get ``culprit`` (0/1) from the subject's ``culprit_mm``: a plaque is the
    culprit when a culprit position lies within its extent widened by
    ``culprit_tolerance_mm`` (a position matching no plaque is warned about; a
    subject with an empty ``culprit_mm`` has no culprit plaque). ``clinical``, a CSV
    with ``subject_id``, adds or replaces columns by subject.
    """
    if unit not in UNITS:
        raise InputError(f"unknown unit {unit!r}", f"choose one of {', '.join(UNITS)}")
    source = Path(source)
    warnings: list[str] = []
    if source.is_dir() and (source / "subjects.csv").is_file():
        subjects = pd.read_csv(source / "subjects.csv")
        failed = subjects[subjects["status"] != "ok"]
        if len(failed):
            warnings.append(
                f"{len(failed)} subject(s) without a result left out: "
                + ", ".join(map(str, failed["subject_id"]))
            )
        subjects = subjects[subjects["status"] == "ok"]
        if unit == "subjects":
            table = _with_svd_records(source, subjects)
        else:
            lesions = _read_csv(source / "lesions.csv")
            table = lesions[lesions.get("lesion_source", pd.Series(dtype=str)) == unit].copy()
            table = table.rename(columns={"lesion_index": f"{unit[:-1]}_id"})
            keep = [c for c in subjects.columns if is_clinical(c) or c in SUBJECT_COLUMNS]
            table = table.merge(subjects[["subject_id", *keep]], on="subject_id", how="inner")
            if "location" not in table and "artery" in table:
                table["location"] = table["artery"]
            if unit == "plaques" and "culprit_mm" in subjects:
                table, more = assign_culprits(table, subjects, culprit_tolerance_mm)
                warnings += more
    elif source.is_dir() and any(source.glob("*.json")):
        from napari_calcium.cohort.svd_report import load_table

        table = load_table(source)
        table = location_grades(table[table["timepoint"] == "baseline"])
    elif source.is_file() and source.suffix.lower() == ".csv":
        table = pd.read_csv(source)
    else:
        raise InputError(
            f"{source} is not a cohort table",
            "give a batch output folder (with subjects.csv), a CSV, or a folder of records",
        )
    if clinical is not None:
        extra = pd.read_csv(clinical)
        if "subject_id" not in extra:
            raise InputError(f"{Path(clinical).name} has no subject_id column")
        replaced = [c for c in extra.columns if c != "subject_id" and c in table]
        table = table.drop(columns=replaced).merge(extra, on="subject_id", how="left")
    if table.empty:
        raise InputError(f"{source} holds no {unit} to analyse")
    return table.reset_index(drop=True), warnings


def location_grades(table: pd.DataFrame) -> pd.DataFrame:
    """Adds ``<location>_grade`` per calcification location of the small-vessel study
    (:data:`LOCATIONS`: MCA, ICA and vertebral take the worse side, as the patient's
    overall grade takes the worst artery; basilar is one artery), for its Table 3
    (markers by calcification location: ``--compare-by MCA_grade`` ...)."""
    table = table.copy()
    for location, arteries in LOCATIONS.items():
        columns = [f"{a}_grade" for a in arteries if f"{a}_grade" in table]
        if columns and f"{location}_grade" not in table:
            table[f"{location}_grade"] = table[columns].apply(pd.to_numeric).max(axis=1)
    return table


def _with_svd_records(folder: Path, subjects: pd.DataFrame) -> pd.DataFrame:
    """Subjects of a batch run; small-vessel subjects with the columns of their records
    (:func:`napari_calcium.cohort.svd_report.record_row`, as a folder of records
    gives) and the location grades, next to the manifest's clinical columns."""
    svd = subjects[subjects["analysis"] == "svd"]
    if svd.empty:
        return subjects
    rows = []
    for sid in svd["subject_id"]:
        record = json.loads((folder / "subjects" / f"{sid}.json").read_text(encoding="utf-8"))
        rows.append({**record_row(record["result"]), "subject_id": sid})
    keep = ["subject_id", "analysis", *(c for c in subjects.columns if is_clinical(c))]
    records = pd.DataFrame(rows).drop(
        columns=[c for c in keep if c != "subject_id"], errors="ignore"
    )
    table = location_grades(svd[keep].merge(records, on="subject_id", how="left"))
    return pd.concat([table, subjects[subjects["analysis"] != "svd"]], ignore_index=True)


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (FileNotFoundError, pd.errors.EmptyDataError):
        return pd.DataFrame()


def assign_culprits(
    plaques: pd.DataFrame, subjects: pd.DataFrame, tolerance_mm: float = 1.0
) -> tuple[pd.DataFrame, list[str]]:
    """``culprit`` (0/1) per plaque from its subject's ``culprit_mm`` (see
    :func:`load_study_table`); warnings for positions that match no plaque."""
    warnings, flags = [], np.zeros(len(plaques), dtype=int)
    positions = {
        sid: []
        if pd.isna(text) or not str(text).strip()
        else [float(x) for x in str(text).split(";")]
        for sid, text in zip(subjects["subject_id"], subjects["culprit_mm"], strict=True)
    }
    for sid, culprits in positions.items():
        rows = np.flatnonzero((plaques["subject_id"] == sid).to_numpy())
        for x in culprits:
            inside = [
                i
                for i in rows
                if plaques["start_mm"].iloc[i] - tolerance_mm
                <= x
                <= plaques["end_mm"].iloc[i] + tolerance_mm
            ]
            if not inside:
                warnings.append(f"{sid}: culprit at {x:g} mm lies in no plaque found")
            flags[inside] = 1
    return plaques.assign(culprit=flags), warnings


def parse_models(texts: Sequence[str]) -> dict[str, list[str]]:
    """Adjustment models from ``"Name=a,b,c"`` texts; an earlier model's name in the
    list stands for its covariates (``"Model 2=Model 1+stenosis_pct"``)."""
    models: dict[str, list[str]] = {}
    for text in texts:
        name, sep, spec = text.partition("=")
        name = name.strip()
        if not sep or not name or not spec.strip():
            raise InputError(
                f"model {text!r} is not NAME=COVARIATES",
                'write e.g. --model "Model 1=age_years,sex" --model "Model 2=Model 1+stenosis_pct"',
            )
        covariates: list[str] = []
        for item in spec.replace("+", ",").split(","):
            item = item.strip()
            if item in models:
                covariates += models[item]
            elif item:
                covariates.append(item)
        models[name] = list(dict.fromkeys(covariates))
    return models


def _check_columns(table: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in dict.fromkeys(columns) if c not in table]
    if missing:
        raise InputError(
            f"no column {', '.join(missing)} for the {what}",
            f"the table has: {', '.join(map(str, table.columns))}",
        )


def kind_of(table: pd.DataFrame, column: str, kinds: Mapping[str, str] | None = None) -> str:
    """The kind of ``column``: given, known (:data:`KNOWN_KINDS`) or guessed."""
    kinds = {**KNOWN_KINDS, **(kinds or {})}
    return kinds.get(column) or stats.variable_kind(table[column])


# -------------------------------------------------------------------- tables
def _fmt_number(x: float) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def _summary(values: pd.Series, style: str) -> str:
    x = pd.to_numeric(values, errors="coerce").dropna()
    if x.empty:
        return "–"
    if style == "mean ± SD":
        return f"{_fmt_number(x.mean())} ± {_fmt_number(x.std(ddof=1))}"
    q1, med, q3 = x.quantile([0.25, 0.5, 0.75])
    return f"{_fmt_number(med)} ({_fmt_number(q1)}-{_fmt_number(q3)})"


def _count(values: pd.Series, level) -> str:
    present = values.dropna().astype(str)
    if present.empty:
        return "–"
    k = int((present == str(level)).sum())
    return f"{k} ({100.0 * k / len(present):.1f}%)"


def _binary_text(values: pd.Series) -> pd.Series:
    try:
        coded = stats.as_binary(values)
    except ValueError:
        return values
    return coded.map(lambda v: v if pd.isna(v) else str(int(v)))


def table_one(
    table: pd.DataFrame,
    group: str | None,
    variables: Sequence[str],
    kinds: Mapping[str, str] | None = None,
    equal_var: bool = False,
    normal_alpha: float = 0.05,
) -> pd.DataFrame:
    """Table 1: per variable the overall and per-group summaries, test and p.

    Columns: ``variable``, ``level`` (classes), ``kind``, ``shown`` (mean ± SD,
    median (IQR) or n (%)), ``overall (n=N)``, one ``<group> = <level> (n=k)`` per
    group level, ``missing``, ``test``, ``p``, ``choice`` (why that test).
    """
    rows = []
    data = table if group is None else table[table[group].notna()]
    levels = [] if group is None else stats.sorted_levels(data[group])
    headers = {lv: f"{group} = {lv} (n={int((data[group] == lv).sum())})" for lv in levels}
    overall = f"overall (n={len(data)})"
    for variable in variables:
        kind = kind_of(data, variable, kinds)
        result = (
            stats.compare_groups(data, variable, group, kind, normal_alpha, equal_var)
            if group is not None and len(levels) >= 2
            else {}
        )
        missing = int(data[variable].isna().sum())
        base = {
            "variable": variable,
            "kind": kind,
            "missing": missing,
            "test": result.get("test"),
            "p": result.get("p"),
            "choice": result.get("choice", ""),
            "note": result.get("note", ""),
        }
        if kind in ("binary", "categorical"):
            values = (
                _binary_text(data[variable]) if kind == "binary" else data[variable].astype(object)
            )
            shown_levels = (
                ["1"]
                if kind == "binary" and set(values.dropna()) <= {"0", "1"}
                else stats.sorted_levels(values)
            )
            for i, level in enumerate(shown_levels):
                row = {**base, "level": level, "shown": "n (%)"}
                if i:
                    row.update(test=None, p=None, choice="", missing=None, note="")
                row[overall] = _count(values, level)
                for lv in levels:
                    row[headers[lv]] = _count(values[data[group] == lv], level)
                rows.append(row)
            continue
        style = "mean ± SD" if kind == "continuous" and result.get("normal") else "median (IQR)"
        if group is None and kind == "continuous":
            x = pd.to_numeric(data[variable], errors="coerce").dropna()
            style = "mean ± SD" if stats.is_normal([x.to_numpy()], normal_alpha) else style
        row = {**base, "level": "", "shown": style, overall: _summary(data[variable], style)}
        for lv in levels:
            row[headers[lv]] = _summary(data.loc[data[group] == lv, variable], style)
        rows.append(row)
    columns = ["variable", "level", "kind", "shown", overall, *headers.values()]
    columns += ["missing", "test", "p", "choice", "note"]
    return pd.DataFrame(rows, columns=columns)


def correlation_table(
    table: pd.DataFrame, with_column: str, variables: Sequence[str]
) -> pd.DataFrame:
    """Pearson and Spearman correlation (with 95 % CI) of each numeric variable with
    ``with_column``."""
    rows = []
    for variable in variables:
        if variable == with_column:
            continue
        numbers = pd.to_numeric(table[variable], errors="coerce")
        if numbers.notna().sum() == 0:
            continue  # text classes: compared in Table 1, not correlated
        data = table.assign(**{variable: numbers})
        p, s = (
            stats.pearson(data, variable, with_column),
            stats.spearman(data, variable, with_column),
        )
        rows.append(
            {
                "variable": variable,
                "with": with_column,
                "n": p["n"],
                "pearson_r": p["r"],
                "pearson_ci_low": p["ci_low"],
                "pearson_ci_high": p["ci_high"],
                "pearson_p": p["p"],
                "spearman_rho": s["rho"],
                "spearman_ci_low": s["ci_low"],
                "spearman_ci_high": s["ci_high"],
                "spearman_p": s["p"],
                "note": "; ".join(x for x in (p.get("note"), s.get("note")) if x),
            }
        )
    return pd.DataFrame(rows)


# -------------------------------------------------------------------- report
def build_study_report(
    source,
    out_dir,
    unit: str = "subjects",
    group: str | None = None,
    variables: Sequence[str] | None = None,
    kinds: Mapping[str, str] | None = None,
    compare_by: Sequence[str] = (),
    correlate: str | None = None,
    outcome: str | None = None,
    exposures: Sequence[str] | None = None,
    models: Mapping[str, Sequence[str]] | None = None,
    cluster: str | None = None,
    reader_b=None,
    clinical=None,
    equal_var: bool = False,
    title: str | None = None,
) -> dict[str, Any]:
    """Build every table of the study report and write it to ``out_dir`` (see the module
    docstring). Returns the DataFrames, ``warnings``, ``counted`` (what was analysed,
    in words) and ``paths``."""
    from napari_calcium.report import atomic_write_text

    table, warnings = load_study_table(source, unit, clinical)
    if variables:
        _check_columns(table, variables, "variables")
        variables = list(variables)
    else:
        variables = [v for v in DEFAULT_VARIABLES[unit] if v in table and table[v].notna().any()]
    for name, columns in (
        ("group", [group] if group else []),
        ("comparisons", compare_by),
        ("correlations", [correlate] if correlate else []),
        ("outcome", [outcome] if outcome else []),
        ("exposures", exposures or []),
        ("cluster", [cluster] if cluster else []),
    ):
        _check_columns(table, columns, name)
    for name, covariates in (models or {}).items():
        _check_columns(table, covariates, f"model {name!r}")
    shown = [v for v in variables if v != group]
    results: dict[str, Any] = {"table": table, "warnings": warnings}
    results["counted"] = f"{len(table)} {unit}" + (
        f" of {table['subject_id'].nunique()} subjects"
        if "subject_id" in table and unit != "subjects"
        else ""
    )
    results["table1"] = table_one(table, group, shown, kinds, equal_var)
    results["by"] = {
        column: table_one(table, column, [v for v in shown if v != column], kinds, equal_var)
        for column in compare_by
    }
    results["correlations"] = (
        correlation_table(table, correlate, shown) if correlate else pd.DataFrame()
    )
    logistic = pd.DataFrame()
    if outcome:
        chosen = list(exposures or [v for v in shown if v != outcome])
        logistic = stats.odds_ratio_table(table, outcome, chosen, models, cluster=cluster)
        repeated = table["subject_id"].duplicated().any() if "subject_id" in table else False
        if repeated and not cluster:
            warnings.append(
                "some subjects contribute several rows: the odds ratios treat them as "
                "independent; give --cluster subject_id for cluster-robust intervals"
            )
    results["logistic"] = logistic
    results["agreement"] = results["consensus"] = pd.DataFrame()
    if reader_b is not None:
        from napari_calcium.cohort.agreement import compare_readings

        agreement_unit = unit if unit != "subjects" else "subjects"
        compared = compare_readings(source, reader_b, agreement_unit)
        results["agreement"], results["consensus"] = compared["agreement"], compared["consensus"]
        if len(compared["unmatched"]):
            warnings.append(
                f"{len(compared['unmatched'])} {unit} found by one reader only (not compared)"
            )
    out_dir = Path(out_dir)
    frames = {
        "table": table,
        "table1": results["table1"],
        "correlations": results["correlations"],
        "logistic": logistic,
        "agreement": results["agreement"],
        "consensus": results["consensus"],
    }
    paths = {}
    for key, frame in frames.items():
        if key == "table" or not frame.empty:
            paths[key] = atomic_write_text(out_dir / f"study_{key}.csv", frame.to_csv(index=False))
    for column, frame in results["by"].items():
        paths[f"by_{column}"] = atomic_write_text(
            out_dir / f"study_by_{column}.csv", frame.to_csv(index=False)
        )
    settings = {
        "unit": unit,
        "group": group,
        "compare_by": list(compare_by),
        "correlate": correlate,
        "outcome": outcome,
        "models": {k: list(v) for k, v in (models or {}).items()},
        "cluster": cluster,
        "tests": "compare_groups: Shapiro-Wilk (alpha 0.05) -> "
        + ("Student" if equal_var else "Welch")
        + " t-test / ANOVA, else Mann-Whitney U / Kruskal-Wallis; classes chi-square "
        "(Yates for 2x2), Fisher's exact when expected counts are small",
        "confidence": 0.95,
    }
    paths["html"] = atomic_write_text(
        out_dir / "study_report.html", study_html(title or _title(unit, group), results, settings)
    )
    paths["settings"] = atomic_write_text(
        out_dir / "study_settings.json",
        json.dumps({**settings, "warnings": warnings}, indent=2) + "\n",
    )
    results["paths"] = paths
    results["settings"] = settings
    return results


def _title(unit: str, group: str | None) -> str:
    return f"Study tables: {unit}" + (f" by {group}" if group else "")
