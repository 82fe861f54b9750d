"""The IVUS result's one-page HTML report (privacy-safe: no patient identity or file name)."""

from __future__ import annotations

from napari_calcium.report.page import html_page, png_tag, report_cell

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
    settings_rows = "".join(
        f"<tr><td>{k}</td><td>{report_cell(result['settings'].get(k))}</td></tr>"
        for k in IVUS_REPORT_SETTINGS
    )
    messages = "".join(f"<li>{html.escape(m)}</li>" for m in result["messages"]) or "<li>none</li>"
    lmode = "<p>The longitudinal view needs the pullback (give it to the report).</p>"
    if pullback is not None and analysis is not None:
        figure, caption = _ivus_lmode(result, pullback, analysis, angle_deg)
        lmode = f"<figure>{png_tag(figure, 'L-mode')}<figcaption>{html.escape(caption)}</figcaption></figure>"
    plots = png_tag(_ivus_plots(result), "arc and areas along the pullback")
    target = result["target_lesion"]
    where = "no calcium lesion" if target is None else f"lesion {target}, the highest-scoring"
    risk = "high risk" if score["high_risk_of_underexpansion"] else "below the high-risk threshold"
    headline = (
        f"<b>IVUS calcium score {score['total']}</b> ({where}; {score['high_risk_threshold']} "
        f"or more predicts stent underexpansion: {risk}). {len(lesions)} calcium lesion(s); "
        f"guidance category <b>{html.escape(result['guidance']['category'])}</b>."
    )
    body = f"""<h1>IVUS pullback: calcium</h1>
<p>{headline}</p>
<p>{_ivus_frames_text(result)}</p>
<h2>Longitudinal view</h2>{lmode}
<h2>Along the pullback</h2>{plots}
<h2>Lesions</h2>
{_ivus_lesion_table(lesions)}
<h2>IVUS calcium score</h2>
<p>{html.escape(score["rule"])}; {where}.</p>
<table><tr><th>item</th><th>criterion</th><th>measured</th><th>point</th></tr>{_ivus_score_rows(score)}</table>
<h2>Guidance</h2>
{_ivus_guidance_html(result["guidance"])}
<h2>Settings</h2><table>{settings_rows}</table>
<h2>Messages</h2><ul>{messages}</ul>
<p><small>{html.escape(result["angle_convention"])}. napari-calcium {__version__}.
Decision support only; the operator decides.</small></p>"""
    return html_page("IVUS pullback: calcium", body)


def _ivus_lesion_table(lesions: list[dict]) -> str:
    """The lesion table (:data:`IVUS_LESION_COLUMNS` and each lesion's IVUS calcium score)."""
    import html

    head = "".join(f"<th>{html.escape(h)}</th>" for _, h, _ in IVUS_LESION_COLUMNS)
    rows = "".join(
        "<tr>"
        + "".join(f"<td>{report_cell(les[k], d)}</td>" for k, _, d in IVUS_LESION_COLUMNS)
        + f"<td>{les['ivus_calcium_score']['total']}</td></tr>"
        for les in lesions
    )
    table = f'<table class="small"><tr>{head}<th>IVUS calcium score</th></tr>{rows}</table>\n'
    return table + ("" if lesions else "<p>no calcium lesion</p>")


def _ivus_score_rows(score: dict) -> str:
    """The IVUS calcium score's items (criterion, measured values, point) and its total."""
    import html

    rows = "".join(
        f"<tr><td>{html.escape(item['item'])}</td><td class='text'>{html.escape(item['criterion'])}"
        f"</td><td class='text'>{_measured_html(item['measured'])}</td><td>{item['point']}</td></tr>"
        for item in score["items"]
    )
    return (
        rows + f"<tr class='total'><td>Total</td><td></td><td></td><td>{score['total']}</td></tr>"
    )


def _ivus_guidance_html(guidance: dict) -> str:
    """The guidance: its text, category and rule, the rules that triggered it with the
    measured values, and the values it used."""
    import html

    triggers = "".join(
        f"<tr><td>{html.escape(t['rule'])}</td><td class='text'>{html.escape(t['measured'])}</td></tr>"
        for t in guidance["triggers"]
    )
    values = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{report_cell(v)}</td></tr>"
        for k, v in guidance["values"].items()
    )
    return f"""<p>{html.escape(guidance["text"])}</p>
<p>Category: {html.escape(guidance["category"])}. Rule: {html.escape(guidance["rule"])}.</p>
<table><tr><th>trigger (rule)</th><th>measured</th></tr>{triggers or "<tr><td>none</td><td></td></tr>"}</table>
<h3>Values used</h3><table>{values}</table>"""


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
