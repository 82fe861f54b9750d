"""The study report's HTML page: every table of :mod:`.study`, box plots of each
numeric variable by group, a forest plot per logistic model, and every warning.

One self-contained file (the plots are PNGs embedded as base64, drawn by matplotlib
without a display), readable in any browser and safe to send: subjects appear by
their study pseudonym only.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import pandas as pd

from napari_calcium.cohort.stats import sorted_levels
from napari_calcium.report import html_page, png_tag

#: Style of the page: wide tables, plots side by side, notes and warnings set apart.
STYLE = (
    "body{font-family:sans-serif;margin:24px;max-width:1250px}"
    "table{border-collapse:collapse;font-size:12px;margin:8px 0 18px}"
    "td,th{border:1px solid #bbb;padding:3px 6px;text-align:right}"
    "td:first-child{text-align:left}th{background:#eef}"
    ".plots{display:flex;flex-wrap:wrap;gap:6px}.plots figure{margin:0}"
    ".note{color:#555;font-size:13px}.warn{color:#a40;font-size:13px}"
)

#: Table 1 kinds that get a box plot by group.
PLOTTED_KINDS = ("continuous", "count", "ordinal")


def _figure(width=4.0, height=2.9):
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=80)


def _box_plot(table: pd.DataFrame, variable: str, group: str) -> str:
    """Box plot with jittered points of ``variable`` per ``group`` level, as an ``<img>``."""
    data = table[[variable, group]].copy()
    data[variable] = pd.to_numeric(data[variable], errors="coerce")
    data = data.dropna()
    levels = sorted_levels(data[group])
    fig = _figure()
    ax = fig.add_subplot()
    values = [data.loc[data[group] == lv, variable].to_numpy() for lv in levels]
    ax.boxplot(values, positions=range(len(levels)), widths=0.5, showfliers=False)
    rng = np.random.default_rng(0)
    for i, v in enumerate(values):
        ax.scatter(i + rng.uniform(-0.15, 0.15, len(v)), v, s=9, alpha=0.5, color="tab:blue")
    ax.set_xticks(range(len(levels)), [str(lv) for lv in levels])
    ax.set_xlabel(group, fontsize=9)
    ax.set_ylabel(variable, fontsize=8)
    fig.subplots_adjust(left=0.18, right=0.97, bottom=0.17, top=0.95)
    return png_tag(fig, f"{variable} by {group}")


def _forest_plot(logistic: pd.DataFrame, model: str) -> str | None:
    """Forest plot of ``model``'s fitted odds ratios as an ``<img>``; None when none."""
    part = logistic[(logistic["model"] == model) & logistic["fitted"]]
    part = part.dropna(subset=["odds_ratio"]) if "odds_ratio" in part else part.iloc[0:0]
    if part.empty:
        return None
    fig = _figure(5.2, 0.5 + 0.32 * len(part))
    ax = fig.add_subplot()
    y = np.arange(len(part))[::-1]
    ax.errorbar(
        part["odds_ratio"],
        y,
        xerr=[part["odds_ratio"] - part["ci_low"], part["ci_high"] - part["odds_ratio"]],
        fmt="s",
        color="k",
        ms=4,
        capsize=2,
    )
    ax.axvline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_yticks(y, part["term"].astype(str))
    ax.tick_params(labelsize=8)
    ax.set_xlabel(f"odds ratio (95% CI), {model}", fontsize=8)
    fig.subplots_adjust(left=0.38, right=0.97, bottom=0.5 / (0.5 + 0.32 * len(part)) + 0.08)
    return png_tag(fig, f"forest plot {model}")


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return ""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        return f"{value:.3g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.1e}"
    return html.escape(str(value))


def _html_table(
    frame: pd.DataFrame, columns: Sequence[str] | None = None, p_columns=("p",)
) -> str:
    columns = [c for c in (columns or frame.columns) if c in frame]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = []
    for _, row in frame.iterrows():
        cells = []
        for c in columns:
            text = _cell(row[c])
            if c in p_columns and text and float(row[c]) < 0.001:
                text = "&lt;0.001"
            cells.append(f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _or_text(row) -> str:
    if not row.get("fitted") or pd.isna(row.get("odds_ratio")):
        return "not estimable"
    return f"{row['odds_ratio']:.2f} ({row['ci_low']:.2f}-{row['ci_high']:.2f})"


def logistic_wide(logistic: pd.DataFrame) -> pd.DataFrame:
    """Table 3 layout: one row per exposure term, OR (95% CI) and p per model."""
    if logistic.empty:
        return logistic
    rows = {}
    for _, row in logistic.iterrows():
        key = row["term"]
        entry = rows.setdefault(key, {"exposure": key})
        entry[f"{row['model']} OR (95% CI)"] = _or_text(row)
        entry[f"{row['model']} p"] = row.get("p")
    return pd.DataFrame(list(rows.values()))


def study_html(title: str, results: dict, settings: dict) -> str:
    """The report page from :func:`~napari_calcium.cohort.study.build_study_report`'s
    results and settings."""
    table, table1 = results["table"], results["table1"]
    group = settings["group"]
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{html.escape(results['counted'])}.</p>",
        f"<p class='note'>Tests per variable: {html.escape(settings['tests'])}. Odds ratios by "
        "logistic regression (statsmodels), Wald 95% CI; ICC by pingouin, kappa by "
        "statsmodels. Associations in a cohort, not a diagnosis.</p>",
    ]
    if results["warnings"] or not results["logistic"].empty:
        model_warnings = (
            sorted({w for w in results["logistic"].get("warnings", []) if w})
            if not results["logistic"].empty
            else []
        )
        items = results["warnings"] + model_warnings
        if items:
            parts.append("<h2>Warnings</h2><ul class='warn'>")
            parts += [f"<li>{html.escape(w)}</li>" for w in items]
            parts.append("</ul>")
    heading = f"Table 1. Characteristics by {group}" if group else "Table 1. Characteristics"
    parts += [f"<h2>{html.escape(heading)}</h2>", _html_table(table1.drop(columns=["note"]))]
    if group:
        plots = table1.loc[table1["kind"].isin(PLOTTED_KINDS), "variable"].unique()
        parts.append("<div class='plots'>")
        for variable in plots:
            parts.append(f"<figure>{_box_plot(table, variable, group)}</figure>")
        parts.append("</div>")
    for column, frame in results["by"].items():
        parts += [
            f"<h2>{html.escape(f'By {column}')}</h2>",
            _html_table(frame.drop(columns=["note"])),
        ]
    if not results["correlations"].empty:
        parts += [
            f"<h2>Correlations with {html.escape(settings['correlate'])}</h2>",
            _html_table(results["correlations"], p_columns=("pearson_p", "spearman_p")),
        ]
    logistic = results["logistic"]
    if not logistic.empty:
        models = ", ".join(f"{k}: {', '.join(v)}" for k, v in settings["models"].items())
        wide = logistic_wide(logistic)
        parts += [
            f"<h2>Logistic regression for {html.escape(settings['outcome'])}: univariable and "
            "adjusted odds ratios</h2>",
            f"<p class='note'>{html.escape(models or 'univariable only')}</p>",
            _html_table(wide, p_columns=[c for c in wide if c.endswith(" p")]),
            "<div class='plots'>",
        ]
        for model in logistic["model"].unique():
            plot = _forest_plot(logistic, model)
            if plot:
                parts.append(f"<figure>{plot}</figure>")
        parts.append("</div><h3>Every model</h3>")
        parts.append(
            _html_table(
                logistic,
                [
                    "term",
                    "model",
                    "odds_ratio",
                    "ci_low",
                    "ci_high",
                    "p",
                    "n",
                    "events",
                    "events_per_variable",
                    "warnings",
                ],
            )
        )
    if not results["agreement"].empty:
        parts += [
            "<h2>Reader agreement</h2>",
            "<p class='note'>ICC bands: poor &lt; 0.4, fair to good 0.4-0.75, excellent "
            "&gt; 0.75; kappa bands of Landis and Koch.</p>",
            _html_table(
                results["agreement"],
                [
                    "measure",
                    "statistic",
                    "n_targets",
                    "value",
                    "ci_low",
                    "ci_high",
                    "band",
                    "mean_difference",
                    "loa_low",
                    "loa_high",
                    "observed_agreement",
                    "note",
                ],
            ),
        ]
        consensus = results["consensus"]
        pending = consensus[consensus["needs_consensus"]]
        parts.append(
            f"<p>{len(pending)} class reading(s) differ and need the readers' consensus "
            "(study_consensus.csv).</p>"
        )
    return html_page(title, "\n".join(parts), STYLE)
