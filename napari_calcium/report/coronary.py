"""The coronary result's tables (lesion rows, CSV) and its one-page HTML report
(privacy-safe: no patient identity)."""

from __future__ import annotations

from napari_calcium.calcium.coronary import LESION_KEYS
from napari_calcium.calcium.mass import MEASURES as THRESHOLD_FREE_KEYS
from napari_calcium.io.atomic import csv_text
from napari_calcium.report.page import html_page, png_tag

#: Per-lesion CSV columns of a coronary result, units in the names: the lesion keys of
#: :func:`~napari_calcium.calcium.run_coronary` with the centroid split into x, y, z.
CENTROID_COLUMNS = ("centroid_x_mm", "centroid_y_mm", "centroid_z_mm")
CORONARY_LESION_COLUMNS = ("lesion_id", *LESION_KEYS[1:-1], *CENTROID_COLUMNS, "counted", "flags")


def coronary_lesion_rows(report: dict) -> list[dict]:
    """One row per lesion of a coronary result (:func:`~napari_calcium.calcium.run_coronary`).

    Columns are :data:`CORONARY_LESION_COLUMNS` (centroid in LPS mm) followed by any
    PyRadiomics columns (``rad_*``). There is no patient identity in a result.
    """
    rows = []
    for lesion in report["lesions"]:
        row = {"lesion_id": lesion["id"], **{k: lesion[k] for k in LESION_KEYS[1:-1]}}
        row.update(zip(CENTROID_COLUMNS, lesion["centroid_mm"], strict=True))
        row["counted"] = lesion.get("counted", True)
        row["flags"] = "; ".join(lesion.get("flags", []))
        row.update({k: v for k, v in lesion.items() if k.startswith("rad_")})
        rows.append(row)
    return rows


def coronary_csv_text(report: dict) -> str:
    """The per-lesion table of a coronary result as CSV text (header even when empty)."""
    return csv_text(coronary_lesion_rows(report), CORONARY_LESION_COLUMNS)


#: The coronary settings the HTML report lists (the JSON has them all).
CORONARY_SETTINGS_SHOWN = (
    "threshold_rule",
    "threshold_hu_used",
    "threshold_comparison",
    "weight_one_hu_used",
    "weight_edges_hu_used",
    "min_area_mm2",
    "min_pixels",
    "connectivity_2d",
    "connectivity_3d",
    "slice_mode",
    "slice_increment_mm",
    "agatston_slice_factor",
    "agatston_reported_as",
    "calibration_mg_cm3_per_hu",
    "calibration_insert_hu",
    "calibration_insert_sd_hu",
    "calibration_rho_mg_cm3",
    "mass_roi_margin_mm",
    "mass_ring_mm",
    "mass_region_rule",
    "straddling_rule",
    "partial_slab_rule",
    "partial_slabs",
    "category_scheme",
    "category_rule",
)


def coronary_html(report: dict, scoring_ct=None, lesion_labels=None) -> str:
    """A one-page HTML report of a coronary result.

    Holds the score table (per artery and total, category, CAC-DRS), a per-artery
    Agatston bar chart, the key slice of each artery (its highest-scoring slice-lesion,
    CT in the calcium window with the lesions coloured) when ``scoring_ct`` and
    ``lesion_labels`` (Volumes on the scoring grid) are given, the settings and the
    warnings. Images are embedded, so the file stands alone.
    """
    import html

    settings = report["settings"]
    colors = {
        v: settings["artery_colors"].get(k, "#888888") for k, v in settings["artery_names"].items()
    }
    chart = png_tag(_bar_chart(report, colors))
    slices = ""
    if scoring_ct is not None and lesion_labels is not None:
        slices = "".join(
            f"<figure>{png_tag(fig)}<figcaption>{html.escape(caption)}</figcaption></figure>"
            for fig, caption in _key_slices(report, scoring_ct, lesion_labels, colors)
        )
    settings_rows = "".join(
        f"<tr><td>{k}</td><td>{html.escape(str(settings.get(k)))}</td></tr>"
        for k in CORONARY_SETTINGS_SHOWN
    )
    warnings = "".join(f"<li>{html.escape(w)}</li>" for w in report["warnings"]) or "<li>none</li>"
    body = f"""<h1>Coronary artery calcium</h1>
<p>{_coronary_headline(report)} Rules: {html.escape(settings["rules"])}.
Decision support only: the category follows from the Agatston score of the calcium assigned
to arteries and the vessel count above.</p>
<table><tr><th>artery</th><th>Agatston</th><th>volume (mm³)</th><th>mass (mg)</th>
<th>integrated mass (mg)</th><th>volume-fraction mass (mg)</th><th>SWCS</th><th>lesions</th></tr>
{_coronary_score_rows(report)}</table>
{chart}
<h2>Key slices</h2>{slices or "<p>no lesions</p>"}
<h2>Settings</h2><table>{settings_rows}</table>
<h2>Warnings</h2><ul>{warnings}</ul>
{_flagged_lesions(report)}
<p><small>{html.escape(settings["software"])}</small></p>"""
    return html_page("Coronary artery calcium", body)


def _fmt(value, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _coronary_score_rows(report: dict) -> str:
    """The score table's rows: each artery, the total (when scored), the unassigned calcium."""
    import html

    def row(name: str, scores: dict, lesions, css: str = "") -> str:
        free = "".join(f"<td>{_fmt(scores.get(k), 2)}</td>" for k in THRESHOLD_FREE_KEYS)
        return (
            f"<tr{css}><td>{html.escape(name)}</td><td>{_fmt(scores['agatston'])}</td>"
            f"<td>{_fmt(scores['volume_mm3'])}</td><td>{_fmt(scores['mass_mg'])}</td>"
            f"{free}<td>{lesions}</td></tr>"
        )

    rows = "".join(row(name, v, v["lesions"]) for name, v in report["per_artery"].items())
    if report.get("scored", True):
        rows += row("Total", report, report["lesion_count"], " class='total'")
    unassigned = report.get("unassigned")
    if unassigned:
        rows += row(
            "unassigned (not counted)", unassigned, unassigned["lesions"], " class='apart'"
        )
    return rows


def _coronary_headline(report: dict) -> str:
    """The score, its category and CAC-DRS in one sentence (or why there is no score)."""
    import html

    if not report.get("scored", True):
        return f"<b>No coronary score</b>: {html.escape(report['category_description'])}."
    return (
        f"<b>Agatston {report['agatston_reported']}</b> ({_fmt(report['agatston'])} "
        f"unrounded) — category {html.escape(report['category'])} "
        f"({html.escape(report['category_description'])}); CAC-DRS "
        f"{html.escape(report['cac_drs'])} ({html.escape(report['cac_drs_risk'])} risk)."
    )


def _flagged_lesions(report: dict) -> str:
    """The lesions flagged as implausible (not counted), with their reasons; or nothing."""
    import html

    items = "".join(
        f"<li>lesion {item['id']} ({html.escape(item['artery'])}): "
        f"{html.escape('; '.join(item['reasons']))}</li>"
        for item in report.get("implausible", [])
    )
    return f"<h2>Flagged lesions (not counted)</h2><ul>{items}</ul>" if items else ""


def _bar_chart(report: dict, colors: dict):
    from matplotlib.figure import Figure

    names = list(report["per_artery"])
    values = [report["per_artery"][n]["agatston"] for n in names]
    fig = Figure(figsize=(4.5, 2.6), dpi=100)
    ax = fig.add_subplot()
    ax.bar(names, values, color=[colors.get(n, "#888888") for n in names])
    ax.set_ylabel("Agatston")
    ax.set_title("Agatston per artery")
    fig.tight_layout()
    return fig


def _key_slices(report: dict, scoring_ct, lesion_labels, colors: dict, field_mm: float = 50.0):
    """The highest-scoring slice-lesion of each artery, as (figure, caption).

    Each figure is a ``field_mm`` square of the slice centred on that lesion, CT in the
    calcium window (W 1500 / L 300 HU) with every lesion coloured by its artery.
    """
    import numpy as np
    from matplotlib.colors import to_rgba
    from matplotlib.figure import Figure

    best: dict[str, dict] = {}
    for item in report["slice_lesions"]:
        if item["artery"] not in best or item["agatston"] > best[item["artery"]]["agatston"]:
            best[item["artery"]] = item
    artery_of = {les["id"]: les["artery"] for les in report["lesions"]}
    ct = np.asarray(scoring_ct.array)
    labels = np.asarray(lesion_labels.array)
    sx, sy, _ = scoring_ct.spacing_mm
    for artery, item in best.items():
        k = item["slice_index"]
        ys, xs = np.nonzero(labels[k] == item["lesion_id"])
        half_y, half_x = int(field_mm / 2 / sy), int(field_mm / 2 / sx)
        cy, cx = int(ys.mean()), int(xs.mean())
        rows = slice(max(0, cy - half_y), cy + half_y)
        cols = slice(max(0, cx - half_x), cx + half_x)
        overlay = np.zeros((*labels.shape[1:], 4))
        for lesion_id in np.unique(labels[k]):
            if lesion_id:
                color = colors.get(artery_of[int(lesion_id)], "#ffff00")
                overlay[labels[k] == lesion_id] = to_rgba(color)
        fig = Figure(figsize=(2.6, 2.6), dpi=100)
        ax = fig.add_subplot()
        crop = ct[k, rows, cols]
        h, w = crop.shape
        extent = (cols.start * sx, (cols.start + w) * sx, (rows.start + h) * sy, rows.start * sy)
        ax.imshow(crop, cmap="gray", vmin=-450, vmax=1050, extent=extent)
        ax.imshow(overlay[rows, cols], extent=extent, interpolation="nearest")
        ax.set_axis_off()
        fig.tight_layout()
        caption = (
            f"{artery}: slice {k} (z {item['slice_z_mm']:.1f} mm), {item['area_mm2']:.2f} mm², "
            f"peak {item['peak_hu']:.0f} HU, weight {item['weight']} ({field_mm:g} mm field)"
        )
        yield fig, caption
