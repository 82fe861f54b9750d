"""Small vessel disease markers by intracranial calcification grade, over a cohort.

``build_report(source, out_dir)`` reads per-patient records (a folder of JSON
records written by ``napari-calcium svd`` or the grading widget) or a tidy CSV,
builds one table (one row per subject and time point), and for every marker:

* group summaries by the overall calcification grade (n, mean ± SD, median (IQR));
* Spearman correlation with the grade (rho, p, 95% CI by Fisher z);
* a group test: Kruskal-Wallis (continuous, counts, grades) or chi-square (yes/no);
* for yes/no markers, the odds ratio per grade step (logistic regression);
* the same correlation and test by the grade of each artery;
* for subjects with a follow-up, the change (follow-up - baseline) against the
  baseline grade;

and writes ``svd_cohort_table.csv``, ``svd_cohort_stats.csv``,
``svd_cohort_groups.csv``, ``svd_cohort_missing.csv`` and ``svd_cohort_report.html``
(box and strip plots per marker, PNGs embedded). Statistics come from
:mod:`napari_calcium.cohort.stats` (scipy / statsmodels). Subjects are named by the
study pseudonym in the records (``subject_id``), never by patient identity.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from napari_calcium.cohort import stats
from napari_calcium.errors import InputError
from napari_calcium.scores.small_vessel import (
    CALCIFICATION_GRADES,
    CALCIFIED_ARTERIES,
    PERIVENTRICULAR_LESION_GRADES,
    grade_index,
    intracranial_overall_grade,
)

#: (column, label, kind); kind is continuous, count, ordinal or binary.
MARKERS = [
    ("wmh_volume_ml", "WMH volume (mL)", "continuous"),
    ("wmh_periventricular_ml", "Periventricular WMH (mL)", "continuous"),
    ("wmh_deep_ml", "Deep WMH (mL)", "continuous"),
    ("fazekas_periventricular", "Fazekas periventricular (0-3)", "ordinal"),
    ("fazekas_deep", "Fazekas deep (0-3)", "ordinal"),
    ("fazekas_sum", "Fazekas sum (0-6)", "ordinal"),
    (
        "periventricular_lesion_grade",
        "Periventricular lesion grade (0 = 0-1, 1 = 2, 2 = 3)",
        "ordinal",
    ),
    ("microbleed_count", "Microbleeds (confirmed)", "count"),
    ("microbleed_volume_mm3", "Microbleed volume (mm3)", "continuous"),
    ("lacune_count", "Lacunes", "count"),
    ("epvs_basal_ganglia", "EPVS basal ganglia (0-4)", "ordinal"),
    ("epvs_centrum_semiovale", "EPVS c. semiovale (0-4)", "ordinal"),
    ("svd_score", "Total SVD score (Staals 0-4)", "ordinal"),
    ("any_microbleed", "Any microbleed (0/1)", "binary"),
    ("any_lacune", "Any lacune (0/1)", "binary"),
]
GRADE = "calcification_grade"
BASELINE = "baseline"


def record_row(record: dict[str, Any]) -> dict[str, Any]:
    """One table row (plain values, NaN-free ``None`` for missing) from a record."""
    mb = record.get("microbleeds")
    lac = record.get("lacunes")
    score = record.get("svd_score") or {}
    calc = record.get("calcification") or {}
    artery_grades = {a: calc.get("grades", {}).get(a) for a in CALCIFIED_ARTERIES}
    overall = intracranial_overall_grade(artery_grades)
    mb_count = None if mb is None else mb.get("count")
    lac_count = None if lac is None else lac.get("count")
    row = {
        "subject_id": record.get("subject_id"),
        "timepoint": record.get("timepoint") or BASELINE,
        GRADE: overall["grade_index"],
        "calcification_grade_label": overall["grade"],
        "n_calcified_arteries": len(overall["calcified_arteries"]) if overall["graded"] else None,
        **{f"{a}_grade": grade_index(g) for a, g in artery_grades.items()},
        "wmh_volume_ml": record.get("wmh_volume_ml"),
        "wmh_periventricular_ml": record.get("wmh_periventricular_ml"),
        "wmh_deep_ml": record.get("wmh_deep_ml"),
        "fazekas_periventricular": record.get("fazekas_periventricular"),
        "fazekas_deep": record.get("fazekas_deep"),
        "fazekas_sum": record.get("fazekas_sum"),
        "periventricular_lesion_grade": _pv_grade_index(
            record.get("periventricular_lesion_grade")
        ),
        "microbleed_count": mb_count,
        "microbleed_volume_mm3": None if mb is None else mb.get("total_volume_mm3"),
        "microbleeds_pending": None if mb is None else mb.get("pending"),
        "lacune_count": lac_count,
        "epvs_basal_ganglia": record.get("epvs_basal_ganglia"),
        "epvs_centrum_semiovale": record.get("epvs_centrum_semiovale"),
        "svd_score": score.get("total") if score.get("complete") else None,
        "any_microbleed": None if mb_count is None else int(mb_count > 0),
        "any_lacune": None if lac_count is None else int(lac_count > 0),
    }
    return row


def _pv_grade_index(grade: str | None) -> int | None:
    """The study's periventricular lesion grade ``0-1``/``2``/``3`` as an ordinal 0/1/2."""
    return None if grade is None else PERIVENTRICULAR_LESION_GRADES.index(grade)


def load_table(source) -> pd.DataFrame:
    """The cohort table from a folder of records (``*.json``) or a tidy CSV.

    A CSV needs ``subject_id`` and either ``calcification_grade`` (0-2 or
    ``none/mild``/``moderate``/``severe``) or per-artery ``<artery>_grade`` columns
    (the overall grade is then their worst); other marker columns are optional.
    """
    from napari_calcium.svd import load_record

    source = Path(source)
    if source.is_dir():
        files = sorted(source.glob("*.json"))
        if not files:
            raise InputError(f"{source} holds no record files (*.json)")
        rows = []
        for path in files:
            try:
                row = record_row(load_record(path))
            except ValueError as err:
                if isinstance(err, InputError):
                    raise
                raise InputError(f"{path.name}: {err}", "correct the record") from err
            if not row["subject_id"]:
                raise InputError(
                    f"{path.name} has no subject_id", "set the study pseudonym in the record"
                )
            rows.append(row)
        table = pd.DataFrame(rows)
    elif source.suffix.lower() == ".csv" and source.is_file():
        table = _table_from_csv(source)
    else:
        raise InputError(
            f"{source} is neither a folder of records nor a .csv table",
            "pass the folder the records were saved to, or a CSV with one row per subject",
        )
    duplicated = table.duplicated(["subject_id", "timepoint"], keep=False)
    if duplicated.any():
        twice = sorted(set(table.loc[duplicated, "subject_id"].astype(str)))
        raise InputError(
            f"subjects with more than one record at the same time point: {', '.join(twice)}",
            "keep one record per subject and time point (timepoint: baseline / follow-up)",
        )
    return table


def _table_from_csv(path: Path) -> pd.DataFrame:
    table = pd.read_csv(path)
    if "subject_id" not in table:
        raise InputError(f"{path.name} has no subject_id column")
    if "timepoint" not in table:
        table["timepoint"] = BASELINE
    artery_columns = [f"{a}_grade" for a in CALCIFIED_ARTERIES if f"{a}_grade" in table]
    for column in artery_columns + ([GRADE] if GRADE in table else []):
        try:
            table[column] = [
                None if pd.isna(v) else grade_index(_number_or_text(v)) for v in table[column]
            ]
        except ValueError as err:
            raise InputError(f"{path.name}, column {column}: {err}") from err
    if GRADE not in table:
        if not artery_columns:
            raise InputError(
                f"{path.name} has no calcification grade",
                "add a calcification_grade column (0-2 or none/mild, moderate, severe) or "
                "per-artery columns such as MCA_left_grade",
            )
        table[GRADE] = table[artery_columns].max(axis=1, skipna=True)
    for column, _, _ in MARKERS:
        if column not in table:
            table[column] = np.nan
    return table


def _number_or_text(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def missing_fields(table: pd.DataFrame) -> pd.DataFrame:
    """Rows (subject_id, timepoint, field) for every marker or grade that is missing,
    plus records whose microbleed candidates are not all reviewed."""
    fields = [GRADE] + [m for m, _, kind in MARKERS if kind != "binary"]
    rows = []
    for _, r in table.iterrows():
        for field in fields:
            if field not in table or pd.isna(r[field]):
                rows.append(
                    {"subject_id": r["subject_id"], "timepoint": r["timepoint"], "field": field}
                )
        pending = r.get("microbleeds_pending")
        if pending is not None and not pd.isna(pending) and pending > 0:
            rows.append(
                {
                    "subject_id": r["subject_id"],
                    "timepoint": r["timepoint"],
                    "field": f"microbleed candidates not reviewed ({int(pending)} pending)",
                }
            )
    return pd.DataFrame(rows, columns=["subject_id", "timepoint", "field"])


def follow_up_changes(table: pd.DataFrame) -> pd.DataFrame:
    """Per subject with baseline and follow-up: marker change (follow-up - baseline) and
    the baseline calcification grade."""
    numeric = [m for m, _, kind in MARKERS if kind != "binary"]
    base = table[table["timepoint"] == BASELINE].set_index("subject_id")
    follow = table[table["timepoint"] != BASELINE].set_index("subject_id")
    common = base.index.intersection(follow.index)
    if common.empty:
        return pd.DataFrame(columns=["subject_id", GRADE, *numeric])
    change = follow.loc[common, numeric].apply(pd.to_numeric, errors="coerce") - base.loc[
        common, numeric
    ].apply(pd.to_numeric, errors="coerce")
    change.insert(0, GRADE, base.loc[common, GRADE])
    return change.reset_index()


def marker_statistics(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Statistics and group summaries for every marker (see the module docstring).

    Returns
    -------
    stats_table : one row per marker and analysis (``overall grade``, ``<artery>
        grade``, ``follow-up change``) with Spearman rho, p, CI, the group test and,
        for yes/no markers, the logistic odds ratio per grade step.
    groups : group summaries per marker and grade level.
    """
    baseline = table[table["timepoint"] == BASELINE]
    changes = follow_up_changes(table)
    rows, groups = [], []
    analyses = [("overall grade", baseline, GRADE)]
    analyses += [
        (f"{a} grade", baseline, f"{a}_grade")
        for a in CALCIFIED_ARTERIES
        if f"{a}_grade" in baseline and baseline[f"{a}_grade"].nunique(dropna=True) >= 2
    ]
    if len(changes):
        analyses.append(("follow-up change", changes, GRADE))
    for analysis, data, by in analyses:
        for marker, label, kind in MARKERS:
            if marker not in data or (analysis == "follow-up change" and kind == "binary"):
                continue
            if data[marker].notna().sum() == 0:
                continue
            if analysis == "follow-up change" and data[marker].nunique() <= 1:
                continue  # no change in any subject: nothing to correlate
            rho = stats.spearman(data, marker, by)
            test = (
                stats.chi_square(data, marker, by)
                if kind == "binary"
                else stats.kruskal(data, marker, by)
            )
            row = {
                "marker": marker,
                "label": label,
                "kind": kind,
                "analysis": analysis,
                "by": by,
                "n": rho["n"],
                "rho": rho["rho"],
                "p": rho["p"],
                "ci_low": rho["ci_low"],
                "ci_high": rho["ci_high"],
                "test": test["test"],
                "statistic": test["statistic"],
                "test_p": test["p"],
                "note": "; ".join(x for x in (rho.get("note"), test.get("note")) if x),
            }
            if kind == "binary":
                odds = stats.logistic_odds_ratios(data, marker, [by]).iloc[0]
                row.update(
                    odds_ratio=odds.get("odds_ratio"),
                    or_ci_low=odds.get("ci_low"),
                    or_ci_high=odds.get("ci_high"),
                    or_p=odds.get("p"),
                )
                if isinstance(odds.get("note"), str):
                    row["note"] = "; ".join(x for x in (row["note"], odds["note"]) if x)
            rows.append(row)
            if analysis in ("overall grade", "follow-up change"):
                summary = stats.group_summary(data, marker, by)
                summary.insert(0, "analysis", analysis)
                groups.append(summary)
    stats_table = pd.DataFrame(rows)
    groups_table = pd.concat(groups, ignore_index=True) if groups else pd.DataFrame()
    return stats_table, groups_table


def build_report(
    source,
    out_dir,
    title: str = "Small vessel disease markers by intracranial calcification grade",
) -> dict[str, Any]:
    """Build the cohort table, statistics and HTML report; write them to ``out_dir``.

    Parameters
    ----------
    source : folder of per-patient records (``*.json``) or a tidy CSV.
    out_dir : folder for the outputs (created; files replaced atomically).

    Returns
    -------
    dict with ``table``, ``stats``, ``groups``, ``missing`` (DataFrames) and ``paths``.
    """
    from napari_calcium.io.atomic import atomic_write_text

    table = load_table(source)
    stats_table, groups = marker_statistics(table)
    missing = missing_fields(table)
    out_dir = Path(out_dir)
    paths = {
        "table": out_dir / "svd_cohort_table.csv",
        "stats": out_dir / "svd_cohort_stats.csv",
        "groups": out_dir / "svd_cohort_groups.csv",
        "missing": out_dir / "svd_cohort_missing.csv",
        "html": out_dir / "svd_cohort_report.html",
    }
    for key in ("table", "stats", "groups", "missing"):
        frame = {"table": table, "stats": stats_table, "groups": groups, "missing": missing}[key]
        atomic_write_text(paths[key], frame.to_csv(index=False))
    atomic_write_text(paths["html"], _html(title, table, stats_table, groups, missing))
    return {
        "table": table,
        "stats": stats_table,
        "groups": groups,
        "missing": missing,
        "paths": paths,
    }


# ----------------------------------------------------------------- HTML
def _plot_png(
    data: pd.DataFrame, marker: str, label: str, by: str, xlabel: str, title: str = ""
) -> str:
    """Box plot with jittered points of ``marker`` per ``by`` level, as base64 PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    pair = data[[marker, by]].apply(pd.to_numeric, errors="coerce").dropna()
    levels = sorted(pair[by].unique())
    fig = Figure(figsize=(4.2, 3.0), dpi=80)
    ax = fig.add_subplot()
    values = [pair.loc[pair[by] == level, marker].to_numpy() for level in levels]
    if levels:
        ax.boxplot(values, positions=range(len(levels)), widths=0.5, showfliers=False)
        rng = np.random.default_rng(0)
        for i, v in enumerate(values):
            ax.scatter(i + rng.uniform(-0.15, 0.15, len(v)), v, s=10, alpha=0.6, color="tab:blue")
        names = [
            CALCIFICATION_GRADES[int(lv)] if by == GRADE or by.endswith("_grade") else str(lv)
            for lv in levels
        ]
        ax.set_xticks(range(len(levels)), names)
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel(label, fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.subplots_adjust(left=0.17, right=0.97, bottom=0.17, top=0.9)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _rho_text(stats_table: pd.DataFrame, marker: str, analysis: str) -> str:
    if stats_table.empty:
        return ""
    row = stats_table[(stats_table["marker"] == marker) & (stats_table["analysis"] == analysis)]
    if row.empty or pd.isna(row.iloc[0]["rho"]):
        return ""
    r = row.iloc[0]
    return f"Spearman rho {r['rho']:.2f} (95% CI {r['ci_low']:.2f} to {r['ci_high']:.2f}), p {_fmt(r['p'], 2)}"


def _fmt(value, digits=3) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"
    return html.escape(str(value))


def _table_html(frame: pd.DataFrame, columns: list[str], headers: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{_fmt(r.get(c))}</td>" for c in columns) + "</tr>"
        for _, r in frame.iterrows()
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html(title, table, stats_table, groups, missing) -> str:
    baseline = table[table["timepoint"] == BASELINE]
    changes = follow_up_changes(table)
    counts = baseline[GRADE].value_counts(dropna=False).sort_index()
    grade_text = ", ".join(
        f"{CALCIFICATION_GRADES[int(k)] if not pd.isna(k) else 'not graded'}: {v}"
        for k, v in counts.items()
    )
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:24px;max-width:1150px}"
        "table{border-collapse:collapse;font-size:12px;margin:8px 0 18px}"
        "td,th{border:1px solid #bbb;padding:3px 6px;text-align:right}"
        "th{background:#eef}.plots{display:flex;flex-wrap:wrap;gap:8px}"
        ".plots figure{margin:0}.note{color:#555;font-size:13px}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{baseline['subject_id'].nunique()} subjects at baseline ({grade_text}); "
        f"{len(changes)} with a follow-up.</p>",
        "<p class='note'>Overall calcification grade = the worst per-artery grade: severe if "
        "any artery is severe, else moderate if any is moderate, else none/mild "
        "(CLINICAL_RULES 0b). Spearman 95% CI by Fisher z (1/sqrt(n-3)); group tests "
        "Kruskal-Wallis (grades, counts, volumes) or chi-square (yes/no); odds ratios per "
        "grade step by logistic regression. Associations in a cohort, not a diagnosis.</p>",
        "<h2>Missing fields</h2>",
    ]
    if missing.empty:
        parts.append("<p>No missing fields.</p>")
    else:
        summary = missing.groupby("field")["subject_id"].apply(lambda s: ", ".join(map(str, s)))
        parts.append(
            _table_html(
                summary.reset_index().rename(columns={"subject_id": "subjects"}),
                ["field", "subjects"],
                ["field", "subjects (pseudonyms)"],
            )
        )
    parts.append("<h2>Markers by baseline calcification grade</h2><div class='plots'>")
    for marker, label, _ in MARKERS:
        if marker in baseline and baseline[marker].notna().any():
            png = _plot_png(
                baseline,
                marker,
                label,
                GRADE,
                "calcification grade (baseline)",
                _rho_text(stats_table, marker, "overall grade"),
            )
            parts.append(
                f"<figure><img alt='{html.escape(label)}' src='data:image/png;base64,{png}'></figure>"
            )
    parts.append("</div>")
    columns = ["label", "n", "rho", "ci_low", "ci_high", "p", "test", "statistic", "test_p"]
    headers = [
        "marker",
        "n",
        "Spearman rho",
        "95% CI low",
        "95% CI high",
        "p",
        "test",
        "statistic",
        "test p",
    ]
    if "odds_ratio" in stats_table:
        columns += ["odds_ratio", "or_ci_low", "or_ci_high", "or_p"]
        headers += ["OR per grade", "OR CI low", "OR CI high", "OR p"]
    sections = [("overall grade", "Correlation with the overall grade")]
    sections += [
        (a, f"By artery: {a.replace(' grade', '')}")
        for a in dict.fromkeys(stats_table.get("analysis", []))
        if a not in ("overall grade", "follow-up change")
    ]
    sections.append(
        ("follow-up change", "Follow-up change (follow-up - baseline) by baseline grade")
    )
    for analysis, heading in sections:
        part = (
            stats_table[stats_table["analysis"] == analysis]
            if not stats_table.empty
            else stats_table
        )
        if part.empty:
            continue
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        parts.append(_table_html(part, columns + ["note"], headers + ["note"]))
        if analysis == "follow-up change":
            parts.append("<div class='plots'>")
            for marker, label, kind in MARKERS:
                if kind != "binary" and len(changes) and changes[marker].nunique() > 1:
                    png = _plot_png(
                        changes,
                        marker,
                        f"change in {label}",
                        GRADE,
                        "calcification grade (baseline)",
                    )
                    parts.append(
                        f"<figure><img alt='change {html.escape(label)}' "
                        f"src='data:image/png;base64,{png}'></figure>"
                    )
            parts.append("</div>")
    if not groups.empty:
        parts.append("<h2>Group summaries</h2>")
        labels = {m: lab for m, lab, _ in MARKERS}
        shown = groups.assign(
            label=groups["marker"].map(labels),
            grade=groups["level"].map(lambda v: CALCIFICATION_GRADES[int(v)]),
        )
        parts.append(
            _table_html(
                shown,
                ["label", "analysis", "grade", "n", "mean_sd", "median_iqr"],
                ["marker", "analysis", "grade", "n", "mean ± SD", "median (IQR)"],
            )
        )
    parts.append("</div></body></html>")
    return "\n".join(parts)
