"""Coronary result tables and the HTML report (privacy-safe: no patient identity)."""

from __future__ import annotations

from napari_calcium.calcium.coronary import LESION_KEYS
from napari_calcium.calcium.mass import MEASURES as THRESHOLD_FREE_KEYS
from napari_calcium.io.atomic import (
    atomic_write_text,  # noqa: F401 - scripts import it here
    csv_text,
)

#: Style of every HTML report: one readable column, bordered number tables.
PAGE_STYLE = (
    "body{font-family:sans-serif;max-width:60em;margin:1em auto}"
    "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:2px 8px;text-align:right}"
    "td:first-child{text-align:left}tr.total{font-weight:bold}tr.apart{color:#777}"
    "figure{display:inline-block;margin:4px}figcaption{font-size:small}"
    "table.small{font-size:x-small}td.text{text-align:left}"
)


def html_page(title: str, body: str, style: str = PAGE_STYLE) -> str:
    """A standalone HTML page (``title`` escaped, ``body`` HTML) in ``style`` (CSS)."""
    import html

    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>\n<style>{style}</style></head><body>\n"
        f"{body}\n</body></html>\n"
    )


def png_tag(fig, alt: str = "chart") -> str:
    """A matplotlib figure as an ``<img>`` with the PNG embedded (the page stands alone)."""
    import base64
    import html
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


# --------------------------------------------------------------------- coronary
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

    def fmt(value, digits=1):
        return "n/a" if value is None else f"{value:.{digits}f}"

    def extra(scores):  # threshold-free measures, in results that have them
        return "".join(f"<td>{fmt(scores.get(k), 2)}</td>" for k in THRESHOLD_FREE_KEYS)

    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{fmt(v['agatston'])}</td><td>{fmt(v['volume_mm3'])}</td>"
        f"<td>{fmt(v['mass_mg'])}</td>{extra(v)}<td>{v['lesions']}</td></tr>"
        for name, v in report["per_artery"].items()
    )
    if report.get("scored", True):
        rows += (
            f"<tr class='total'><td>Total</td><td>{fmt(report['agatston'])}</td>"
            f"<td>{fmt(report['volume_mm3'])}</td><td>{fmt(report['mass_mg'])}</td>"
            f"{extra(report)}<td>{report['lesion_count']}</td></tr>"
        )
    unassigned = report.get("unassigned")
    if unassigned:
        rows += (
            f"<tr class='apart'><td>unassigned (not counted)</td>"
            f"<td>{fmt(unassigned['agatston'])}</td><td>{fmt(unassigned['volume_mm3'])}</td>"
            f"<td>{fmt(unassigned['mass_mg'])}</td>{extra(unassigned)}"
            f"<td>{unassigned['lesions']}</td></tr>"
        )
    chart = png_tag(_bar_chart(report, colors))
    slices = ""
    if scoring_ct is not None and lesion_labels is not None:
        slices = "".join(
            f"<figure>{png_tag(fig)}<figcaption>{html.escape(caption)}</figcaption></figure>"
            for fig, caption in _key_slices(report, scoring_ct, lesion_labels, colors)
        )
    keys = (
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
    settings_rows = "".join(
        f"<tr><td>{k}</td><td>{html.escape(str(settings.get(k)))}</td></tr>" for k in keys
    )
    warnings = "".join(f"<li>{html.escape(w)}</li>" for w in report["warnings"]) or "<li>none</li>"
    implausible = "".join(
        f"<li>lesion {item['id']} ({html.escape(item['artery'])}): "
        f"{html.escape('; '.join(item['reasons']))}</li>"
        for item in report.get("implausible", [])
    )
    implausible = (
        f"<h2>Flagged lesions (not counted)</h2><ul>{implausible}</ul>" if implausible else ""
    )
    if report.get("scored", True):
        headline = (
            f"<b>Agatston {report['agatston_reported']}</b> ({fmt(report['agatston'])} "
            f"unrounded) — category {html.escape(report['category'])} "
            f"({html.escape(report['category_description'])}); CAC-DRS "
            f"{html.escape(report['cac_drs'])} ({html.escape(report['cac_drs_risk'])} risk)."
        )
    else:
        headline = f"<b>No coronary score</b>: {html.escape(report['category_description'])}."
    body = f"""<h1>Coronary artery calcium</h1>
<p>{headline} Rules: {html.escape(settings["rules"])}.
Decision support only: the category follows from the Agatston score of the calcium assigned
to arteries and the vessel count above.</p>
<table><tr><th>artery</th><th>Agatston</th><th>volume (mm³)</th><th>mass (mg)</th>
<th>integrated mass (mg)</th><th>volume-fraction mass (mg)</th><th>SWCS</th><th>lesions</th></tr>
{rows}</table>
{chart}
<h2>Key slices</h2>{slices or "<p>no lesions</p>"}
<h2>Settings</h2><table>{settings_rows}</table>
<h2>Warnings</h2><ul>{warnings}</ul>
{implausible}
<p><small>{html.escape(settings["software"])}</small></p>"""
    return html_page("Coronary artery calcium", body)


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


# ------------------------------------------------------------------------- ivus
#: Lesion table of the IVUS report: (result key, heading, decimals or None for text).
IVUS_LESION_COLUMNS = (
    ("id", "lesion", None),
    ("start_mm", "start (mm)", 2),
    ("end_mm", "end (mm)", 2),
    ("length_mm", "length (mm)", 2),
    ("calcified_frames", "calcified frames", None),
    ("max_arc_deg", "max arc (deg)", 1),
    ("arc_grade", "arc grade", None),
    ("superficial", "superficial", None),
    ("max_superficial_arc_deg", "max superficial arc (deg)", 1),
    ("circumferential", "circumferential", None),
    ("nodule_candidate", "nodule candidate", None),
    ("nodule_confirmed", "nodule confirmed", None),
    ("vessel_diameter_mm", "EEM diameter at max arc (mm)", 2),
    ("distal_reference_frame", "distal reference frame", None),
    ("proximal_reference_frame", "proximal reference frame", None),
    ("reference_source", "reference frames by", None),
    ("reference_vessel_diameter_mm", "reference vessel diameter (mm)", 2),
    ("min_lumen_area_mm2", "min lumen area (mm²)", 2),
)

#: Settings shown in the IVUS report: those the grades, score and guidance depend on.
IVUS_REPORT_SETTINGS = (
    "arc_centre",
    "superficial_fraction",
    "superficial_tie",
    "lesion_gap_mm",
    "arc_grade_bounds_deg",
    "arc_grade_upper_inclusive",
    "circumferential_arc_deg",
    "severe_arc_deg",
    "severe_length_mm",
    "superficial_is_severe",
    "score_arc_deg",
    "score_arc_inclusive",
    "score_length_mm",
    "score_diameter_mm",
    "high_risk_score",
    "reference_search_mm",
    "lithotripsy_max_length_mm",
    "lithotripsy_diameter_range_mm",
)


def report_cell(value, digits: int | None = None) -> str:
    """A value as an HTML table cell's text: ``n/a`` for None, yes / no, fixed decimals."""
    import html

    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if digits is not None and isinstance(value, int | float):
        return f"{value:.{digits}f}"
    return html.escape(str(value))


def ivus_html(result: dict, pullback=None, analysis=None, angle_deg: float | None = None) -> str:
    """A one-page HTML report of an IVUS result (:func:`~napari_calcium.vessel.ivus.run_ivus`).

    Holds the longitudinal view (L-mode) with the calcium marked where the cut crosses it
    and the lumen / EEM borders, when the ``pullback`` Volume and its
    :class:`~napari_calcium.vessel.ivus.IvusAnalysis` are given (cut at ``angle_deg``, by
    default through the direction calcified on the most frames); plots of the calcium
    arc and of the lumen and EEM areas along the pullback in mm with the lesions shaded;
    the lesion table; the IVUS calcium score items with their criteria and measured
    values; the guidance with its rule, triggers and values; the frames measured, the
    settings the rules depend on and the messages. Images are embedded, so the file
    stands alone. No patient identity or file name is written.
    """
    import html

    from napari_calcium import __version__

    lesions = result["lesions"]
    score = result["ivus_calcium_score"]
    guidance = result["guidance"]
    settings = result["settings"]
    head = "".join(f"<th>{html.escape(h)}</th>" for _, h, _ in IVUS_LESION_COLUMNS)
    lesion_rows = "".join(
        "<tr>"
        + "".join(f"<td>{report_cell(les[k], d)}</td>" for k, _, d in IVUS_LESION_COLUMNS)
        + f"<td>{les['ivus_calcium_score']['total']}</td></tr>"
        for les in lesions
    )
    target = result["target_lesion"]
    score_rows = "".join(
        f"<tr><td>{html.escape(item['item'])}</td><td class='text'>{html.escape(item['criterion'])}"
        f"</td><td class='text'>{_measured_html(item['measured'])}</td><td>{item['point']}</td></tr>"
        for item in score["items"]
    )
    score_rows += (
        f"<tr class='total'><td>Total</td><td></td><td></td><td>{score['total']}</td></tr>"
    )
    trigger_rows = "".join(
        f"<tr><td>{html.escape(t['rule'])}</td><td class='text'>{html.escape(t['measured'])}</td></tr>"
        for t in guidance["triggers"]
    )
    value_rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{report_cell(v)}</td></tr>"
        for k, v in guidance["values"].items()
    )
    settings_rows = "".join(
        f"<tr><td>{k}</td><td>{report_cell(settings.get(k))}</td></tr>"
        for k in IVUS_REPORT_SETTINGS
    )
    messages = "".join(f"<li>{html.escape(m)}</li>" for m in result["messages"]) or "<li>none</li>"
    lmode = "<p>The longitudinal view needs the pullback (give it to the report).</p>"
    if pullback is not None and analysis is not None:
        figure, caption = _ivus_lmode(result, pullback, analysis, angle_deg)
        lmode = f"<figure>{png_tag(figure, 'L-mode')}<figcaption>{html.escape(caption)}</figcaption></figure>"
    plots = png_tag(_ivus_plots(result), "arc and areas along the pullback")
    where = "no calcium lesion" if target is None else f"lesion {target}, the highest-scoring"
    risk = "high risk" if score["high_risk_of_underexpansion"] else "below the high-risk threshold"
    headline = (
        f"<b>IVUS calcium score {score['total']}</b> ({where}; {score['high_risk_threshold']} "
        f"or more predicts stent underexpansion: {risk}). {len(lesions)} calcium lesion(s); "
        f"guidance category <b>{html.escape(guidance['category'])}</b>."
    )
    body = f"""<h1>IVUS pullback: calcium</h1>
<p>{headline}</p>
<p>{_ivus_frames_text(result)}</p>
<h2>Longitudinal view</h2>{lmode}
<h2>Along the pullback</h2>{plots}
<h2>Lesions</h2>
<table class="small"><tr>{head}<th>IVUS calcium score</th></tr>{lesion_rows}</table>
{"" if lesions else "<p>no calcium lesion</p>"}
<h2>IVUS calcium score</h2>
<p>{html.escape(score["rule"])}; {where}.</p>
<table><tr><th>item</th><th>criterion</th><th>measured</th><th>point</th></tr>{score_rows}</table>
<h2>Guidance</h2>
<p>{html.escape(guidance["text"])}</p>
<p>Category: {html.escape(guidance["category"])}. Rule: {html.escape(guidance["rule"])}.</p>
<table><tr><th>trigger (rule)</th><th>measured</th></tr>{trigger_rows or "<tr><td>none</td><td></td></tr>"}</table>
<h3>Values used</h3><table>{value_rows}</table>
<h2>Settings</h2><table>{settings_rows}</table>
<h2>Messages</h2><ul>{messages}</ul>
<p><small>{html.escape(result["angle_convention"])}. napari-calcium {__version__}.
Decision support only; the operator decides.</small></p>"""
    return html_page("IVUS pullback: calcium", body)


def _measured_html(measured: dict) -> str:
    import html

    return "; ".join(f"{html.escape(k)} = {report_cell(v)}" for k, v in measured.items())


def _ivus_frames_text(result: dict) -> str:
    """Which frames were measured, and the pullback geometry, in one sentence."""
    how = "gated end-diastolic frames" if result.get("gated") else "every frame"
    span = result.get("pullback_span")
    if span:
        how += f" between frames {span['first']} and {span['last']} ({span['source']})"
    invalid = result["invalid_frames"]
    return (
        f"{result['frames_measured']} of {result['frames']} frames measured ({how}); frame "
        f"spacing {result['frame_spacing_mm']:.4f} mm, pullback {result['pullback_length_mm']:.2f}"
        f" mm, pixel {result['pixel_spacing_mm']:.4f} mm"
        + (f"; {len(invalid)} blank frame(s) left out" if invalid else "")
        + "."
    )


def _mark_lesions(ax, lesions: list[dict], shade: bool = True, label: bool = False) -> None:
    """Shade each lesion's extent along the pullback and / or label its start (L1, L2 ...)."""
    for les in lesions:
        if shade:
            ax.axvspan(les["start_mm"], les["end_mm"], color="orange", alpha=0.15, lw=0)
        if label:
            ax.text(les["start_mm"], 1.0, f"L{les['id']}", transform=ax.get_xaxis_transform(),
                    va="bottom", fontsize=7)  # fmt: skip


def _ivus_plots(result: dict):
    """Calcium arc and superficial arc, lumen and EEM areas against pullback position (mm)."""
    from matplotlib.figure import Figure

    rows = [r for r in result["per_frame"] if r["valid"]]
    pos = [r["position_mm"] for r in rows]
    fig = Figure(figsize=(9.0, 4.6), dpi=100)
    arc_ax, area_ax = fig.subplots(2, 1, sharex=True)
    arc_ax.plot(pos, [r["calcium_arc_deg"] for r in rows], lw=1, color="darkorange",
                label="calcium arc")  # fmt: skip
    arc_ax.plot(pos, [r["superficial_arc_deg"] for r in rows], lw=1, color="purple", ls="--",
                label="superficial arc")  # fmt: skip
    for bound in result["settings"]["arc_grade_bounds_deg"]:
        arc_ax.axhline(bound, color="grey", lw=0.5, ls=":")
    arc_ax.set_ylim(0, 370)
    arc_ax.set_yticks([0, 90, 180, 270, 360])
    arc_ax.set_ylabel("arc (deg)")
    arc_ax.legend(fontsize=7, loc="upper right")
    area_ax.plot(pos, [r["lumen_area_mm2"] for r in rows], lw=1, color="goldenrod",
                 label="lumen area")  # fmt: skip
    area_ax.plot(pos, [r["vessel_area_mm2"] for r in rows], lw=1, color="teal",
                 label="EEM (vessel) area")  # fmt: skip
    by_index = {r["index"]: r["position_mm"] for r in rows}
    for les in result["lesions"]:
        for key in ("distal_reference_frame", "proximal_reference_frame"):
            if les[key] is not None and les[key] in by_index:
                area_ax.axvline(by_index[les[key]], color="green", lw=0.8, ls="--")
    area_ax.set_ylabel("area (mm²)")
    area_ax.set_xlabel("pullback position (mm); shaded: lesions; dashed green: reference frames")
    area_ax.legend(fontsize=7, loc="upper right")
    _mark_lesions(arc_ax, result["lesions"], label=True)
    _mark_lesions(area_ax, result["lesions"])
    fig.tight_layout()
    return fig


def _ivus_lmode(result: dict, pullback, analysis, angle_deg: float | None):
    """L-mode at ``angle_deg`` (default: the direction calcified on the most frames), with
    the calcium crossed by the cut in orange and the lumen (yellow) / EEM (cyan) borders."""
    import numpy as np
    from matplotlib.figure import Figure

    from napari_calcium.vessel.ivus import longitudinal_view

    grid = analysis.grid
    rays = analysis.calcium_rays & np.isfinite(analysis.calcium_edge)
    half_turn = grid.n_angles // 2
    if angle_deg is None:
        counts = rays.sum(axis=0)
        both = counts + np.roll(counts, -half_turn)
        angle_deg = float(grid.angles_deg[int(np.argmax(both[:half_turn]))])
    near = int(round(angle_deg / grid.angle_step_deg)) % grid.n_angles
    far = (near + half_turn) % grid.n_angles
    image = longitudinal_view(pullback, grid.centre_yx_px, angle_deg, chunk_frames=64)
    n, width = image.shape
    half = (width - 1) // 2
    px, dz = analysis.pixel_spacing_mm, analysis.frame_spacing_mm
    overlay = np.zeros((width, n, 4), np.float32)
    for side, ray in ((1, near), (-1, far)):
        for i in np.flatnonzero(rays[:, ray]):
            lo, hi = analysis.calcium_edge[i, ray], analysis.calcium_end[i, ray]
            cols = half + side * np.arange(int(round(lo)), int(round(max(hi, lo + 1))))
            cols = cols[(cols >= 0) & (cols < width)]
            overlay[cols, i] = (1.0, 0.55, 0.0, 0.9)
    extent = (-dz / 2, (n - 0.5) * dz, -(half + 0.5) * px, (width - half - 0.5) * px)
    fig = Figure(figsize=(9.0, 3.2), dpi=100)
    ax = fig.add_subplot()
    ax.imshow(image.T, cmap="gray", extent=extent, origin="lower", aspect="auto")
    ax.imshow(overlay, extent=extent, origin="lower", aspect="auto", interpolation="nearest")
    pos = np.arange(n) * dz
    valid = analysis.valid
    for kind, radii, colour in (("lumen", analysis.lumen_px(), "yellow"),
                                ("EEM", analysis.eem_px(), "cyan")):  # fmt: skip
        for side, ray in ((1, near), (-1, far)):
            line = np.where(valid, side * radii[:, ray] * px, np.nan)
            ax.plot(pos, line, color=colour, lw=0.6, label=kind if side == 1 else None)
    span = result.get("pullback_span")
    if span:
        for a, b in ((-0.5, span["first"] - 0.5), (span["last"] + 0.5, n - 0.5)):
            if b > a:
                ax.axvspan(a * dz, b * dz, color="black", alpha=0.5, lw=0)
    _mark_lesions(ax, result["lesions"], shade=False, label=True)
    ax.set_xlabel("pullback position (mm)")
    ax.set_ylabel(f"mm from catheter\n(+: {angle_deg:g} deg)")
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    caption = (
        f"L-mode cut through the catheter at {angle_deg:g} / {(angle_deg + 180) % 360:g} deg "
        "(clockwise from 12 o'clock); orange: calcium where the cut crosses it; yellow: lumen; "
        "cyan: EEM; L1, L2 ...: lesion starts"
        + ("; dark: frames outside the measured pullback" if span else "")
    )
    return fig, caption
