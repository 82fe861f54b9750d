"""Intracranial artery calcification and vessel-wall scores (pure functions).

Every function takes measurements (mm, degrees, HU, %) and returns a category or a
number; none looks at pixels. Rules are those of ``CLINICAL_RULES.md`` sections
0b, 3 and 4; each convention is a keyword parameter with the documented default,
and :func:`default_settings` lists them all for the ``settings`` of an output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from napari_calcium.errors import InputError

#: Kockelkoren 2017 item points (CLINICAL_RULES 3.2): Kockelkoren et al., "Computed
#: tomographic distinction of intimal and medial calcification in the intracranial
#: internal carotid artery", PLoS One 2017;12:e0168360 (PMC5218397). The features and
#: their categories are those of the paper's abstract [V]; the points per category and
#: the cut-off of 7 are [R]: the paper's Table 1 could not be read from the sources
#: reachable here (only the abstract is), so they stay parameters.
KOCKELKOREN_POINTS: dict[str, dict[str, int]] = {
    "circularity": {"absent": 0, "dots": 1, "<90": 2, "90-270": 3, "270-360": 4},
    "thickness_class": {"absent": 0, "thick": 1, "thin": 3},
    "morphology": {"indistinguishable": 0, "irregular": 1, "continuous": 4},
}

PATTERNS = ("intimal-predominant", "IEL-predominant", "absent/indistinguishable")

#: How a calcified artery segment is classed (``pattern_reading``):
#:
#: * ``two-class`` (default) — the vertebrobasilar study (CLINICAL_RULES 0b) puts every
#:   calcified plaque into intimal- or IEL-predominant by the Kockelkoren sum, dots
#:   included; only an artery without calcification is ``absent/indistinguishable``.
#:   It is the default because CLINICAL_RULES 0b makes the seed studies' wording the
#:   default and this is the study that uses the subtype;
#: * ``three-class`` — Kockelkoren's reproducibility classes intimal / medial (IEL) /
#:   absent-or-indistinguishable: a dots-only segment is ``absent/indistinguishable``
#:   whatever its sum ([R] how the paper handles dots-only arteries).
PATTERN_READINGS = ("two-class", "three-class")


def is_spotty(
    length_mm: float, arc_deg: float, max_length_mm: float = 3.0, max_arc_deg: float = 90.0
) -> bool:
    """Spotty calcification: longitudinal length < 3 mm **and** arc < 90 degrees.

    CLINICAL_RULES 0b (vertebrobasilar study) and 3.6 (Motoyama, [R]); both
    boundaries strict, as parameters.
    """
    return bool(length_mm < max_length_mm and arc_deg < max_arc_deg)


def circularity_category(
    arc_deg: float,
    length_mm: float,
    dot_max_length_mm: float = 3.0,
    dot_max_arc_deg: float = 90.0,
) -> str:
    """Kockelkoren circularity: ``absent``, ``dots``, ``<90``, ``90-270``, ``270-360``.

    CLINICAL_RULES 3.2. A "dot" is a punctate focus; operationalised here as a
    calcification shorter than ``dot_max_length_mm`` along the vessel **and**
    narrower than ``dot_max_arc_deg`` (the spotty definition; [R], a parameter).
    Bins: ``[0, 90)``, ``[90, 270)``, ``[270, 360]`` degrees.
    """
    if arc_deg <= 0:
        return "absent"
    if length_mm < dot_max_length_mm and arc_deg < dot_max_arc_deg:
        return "dots"
    return arc_category(arc_deg)


def arc_category(arc_deg: float) -> str:
    """Kockelkoren circularity of a plaque by its arc: ``<90``, ``90-270``, ``270-360``."""
    if arc_deg < 90:
        return "<90"
    if arc_deg < 270:
        return "90-270"
    return "270-360"


def thickness_category(thickness_mm: float, thick_min_mm: float = 1.5) -> str:
    """Kockelkoren thickness: ``thick`` if >= 1.5 mm, else ``thin`` (``absent`` if 0).

    CLINICAL_RULES 3.2 (the cut-off is [V] in the abstract; a parameter).
    """
    if thickness_mm <= 0:
        return "absent"
    return "thick" if thickness_mm >= thick_min_mm else "thin"


def kockelkoren_score(
    circularity: str,
    thickness_class: str,
    morphology: str,
    points: Mapping[str, Mapping[str, int]] | None = None,
    iel_min_points: int = 7,
    reading: str = "two-class",
) -> tuple[int, str]:
    """Kockelkoren intimal vs IEL (medial) score and class of one artery segment.

    CLINICAL_RULES 3.2 (Kockelkoren et al., PLoS One 2017, PMC5218397). Sum of the
    item points (default :data:`KOCKELKOREN_POINTS`, [R]); ``>= iel_min_points``
    (7, [R]) -> ``IEL-predominant``, 1 to 6 -> ``intimal-predominant``, 0 ->
    ``absent/indistinguishable``. ``reading`` is one of :data:`PATTERN_READINGS`:
    with ``three-class`` a dots-only segment is ``absent/indistinguishable``; with
    ``two-class`` (the vertebrobasilar study, default) it is classed by its sum.

    Returns
    -------
    points : int, the sum.
    pattern : one of :data:`PATTERNS`.
    """
    if reading not in PATTERN_READINGS:
        raise ValueError(f"reading must be one of {PATTERN_READINGS}, got {reading!r}")
    table = points or KOCKELKOREN_POINTS
    total = int(
        table["circularity"][circularity]
        + table["thickness_class"][thickness_class]
        + table["morphology"][morphology]
    )
    if total == 0 or (reading == "three-class" and circularity == "dots"):
        return total, "absent/indistinguishable"
    return total, "IEL-predominant" if total >= iel_min_points else "intimal-predominant"


def segment_pattern(
    calcifications: Sequence[Mapping],
    points: Mapping[str, Mapping[str, int]] | None = None,
    iel_min_points: int = 7,
    dot_max_length_mm: float = 3.0,
    dot_max_arc_deg: float = 90.0,
    thick_min_mm: float = 1.5,
    min_covered_fraction: float = 0.9,
    max_area_cv: float = 0.35,
    continuous_min_length_mm: float = 5.0,
) -> dict:
    """Kockelkoren items, points and both class readings of one artery segment.

    Kockelkoren et al. score the artery (the intracranial ICA of one side) as a whole,
    not each deposit apart (CLINICAL_RULES 3.2, PLoS One 2017, PMC5218397). From the
    per-calcification measurements (``arc_deg``, ``length_mm``, ``thickness_mm``,
    ``start_mm``, ``end_mm``, ``covered_fraction``, ``area_cv``, ``volume_mm3``):

    * plaques are the calcifications that are not dots (a dot: length <
      ``dot_max_length_mm`` and arc < ``dot_max_arc_deg``, [R]);
    * circularity: the largest arc of a plaque (``dots`` when there are only dots,
      ``absent`` when there is nothing);
    * thickness: ``thick`` when plaques of thickness >= ``thick_min_mm`` hold at least
      half of the plaques' volume (the predominant thickness), else ``thin``; for
      dots only, the thickest dot;
    * morphology: ``continuous`` when the calcification runs along the artery without
      interruption — the union of the plaques' extents covers at least
      ``min_covered_fraction`` of the span from the first plaque's start to the last
      one's end, each plaque is present in that fraction of its own cross-sections,
      its calcium area varies little (coefficient of variation <= ``max_area_cv``) and
      the span is at least ``continuous_min_length_mm``; otherwise ``irregular``
      (interrupted, patchy or focal); ``indistinguishable`` for dots only. The three
      cut-offs are [R]-type choices of this software, kept as parameters.

    Returns
    -------
    dict with ``circularity``, ``thickness_class``, ``morphology``, ``pattern_points``,
    ``pattern_two_class``, ``pattern_three_class`` and the figures that decided them
    (``max_arc_deg``, ``thick_volume_fraction``, ``span_mm``, ``covered_fraction``).
    """
    calcs = list(calcifications)
    is_dot = [c["length_mm"] < dot_max_length_mm and c["arc_deg"] < dot_max_arc_deg for c in calcs]
    plaques = [c for c, dot in zip(calcs, is_dot, strict=True) if not dot]
    figures = {"max_arc_deg": 0.0, "thick_volume_fraction": 0.0, "span_mm": 0.0}
    figures["covered_fraction"] = 0.0
    if not calcs:
        circularity, thickness, morphology = "absent", "absent", "indistinguishable"
    elif not plaques:
        circularity, morphology = "dots", "indistinguishable"
        thickness = thickness_category(max(c["thickness_mm"] for c in calcs), thick_min_mm)
        figures["max_arc_deg"] = float(max(c["arc_deg"] for c in calcs))
    else:
        max_arc = float(max(c["arc_deg"] for c in plaques))
        circularity = arc_category(max_arc)
        volumes = np.array([float(c["volume_mm3"]) for c in plaques])
        thick = np.array([c["thickness_mm"] >= thick_min_mm for c in plaques])
        thick_fraction = float(volumes[thick].sum() / max(volumes.sum(), 1e-12))
        thickness = "thick" if thick_fraction >= 0.5 else "thin"
        intervals = sorted((float(c["start_mm"]), float(c["end_mm"])) for c in plaques)
        span = intervals[-1][1] - intervals[0][0]
        covered, (lo, hi) = 0.0, intervals[0]
        for a, b in intervals[1:]:
            if a > hi:
                covered, lo, hi = covered + hi - lo, a, b
            else:
                hi = max(hi, b)
        covered += hi - lo
        coverage = covered / span if span > 0 else 0.0
        uniform = all(
            c["covered_fraction"] >= min_covered_fraction and c["area_cv"] <= max_area_cv
            for c in plaques
        )
        continuous = (
            uniform and coverage >= min_covered_fraction and span >= continuous_min_length_mm
        )
        morphology = "continuous" if continuous else "irregular"
        figures.update(
            max_arc_deg=max_arc,
            thick_volume_fraction=thick_fraction,
            span_mm=float(span),
            covered_fraction=float(coverage),
        )
    total, two = kockelkoren_score(
        circularity, thickness, morphology, points, iel_min_points, "two-class"
    )
    _, three = kockelkoren_score(
        circularity, thickness, morphology, points, iel_min_points, "three-class"
    )
    return {
        "circularity": circularity,
        "thickness_class": thickness,
        "morphology": morphology,
        "pattern_points": total,
        "pattern_two_class": two,
        "pattern_three_class": three,
        **figures,
    }


def babiarz_grade(
    calcifications: Sequence[Mapping],
    thick_min_mm: float = 1.5,
    combine: str = "sum",
) -> dict:
    """Babiarz-style grade of one artery segment (CLINICAL_RULES 3.3, [R]).

    Circumferential grade 0 none, 1 dot(s), 2 < 90, 3 90-270, 4 270-360 degrees;
    thickness grade 0 none, 1 thin (< 1.5 mm), 2 thick (>= 1.5 mm); each taken as
    the worst over the segment's calcifications (items ``circularity`` and
    ``thickness_mm``). ``combine`` is ``sum`` (default) or ``product`` — how the 2005
    paper combines them is [R].
    """
    circ = {"absent": 0, "dots": 1, "<90": 2, "90-270": 3, "270-360": 4}
    c = max((circ[x["circularity"]] for x in calcifications), default=0)
    thick = max((float(x["thickness_mm"]) for x in calcifications), default=0.0)
    t = 0 if not calcifications else (2 if thick >= thick_min_mm else 1)
    if combine not in ("sum", "product"):
        raise ValueError(f"combine must be 'sum' or 'product', got {combine!r}")
    total = c + t if combine == "sum" else c * t
    return {"circumference_grade": c, "thickness_grade": t, "grade": total, "combine": combine}


def woodcock_grade(calcifications: Sequence[Mapping], thick_min_mm: float = 1.5) -> int:
    """Woodcock-style visual grade of one artery segment (CLINICAL_RULES 3.4, [R]).

    0 none; 1 thin and discontinuous; 2 thick discontinuous, or thin continuous;
    3 thick and continuous. "Thick" is ``thickness_mm >= thick_min_mm``;
    "continuous" is the ``morphology`` item of any calcification in the segment.
    """
    if not calcifications:
        return 0
    thick = max(float(x["thickness_mm"]) for x in calcifications) >= thick_min_mm
    continuous = any(x["morphology"] == "continuous" for x in calcifications)
    if thick and continuous:
        return 3
    if thick or continuous:
        return 2
    return 1


def overall_grade(
    calcifications: Sequence[Mapping],
    stenosis_pct: float | None = None,
    mild_max_spots: int = 2,
    moderate_min_spread_mm: float = 10.0,
    severe_min_total_length_mm: float = 10.0,
    severe_min_arc_deg: float = 270.0,
    severe_min_stenosis_pct: float = 50.0,
) -> dict:
    """Intracranial calcification grade of one artery: ``none/mild``, ``moderate``, ``severe``.

    CLINICAL_RULES 0b (intracranial calcification vs small-vessel disease study, head
    CT at 1 mm): none/mild = no or a few small spots; moderate = several spots, widely
    distributed; severe = extensive calcification **with** vessel narrowing. Operational
    rule (every cut-off a parameter):

    * ``severe``: extensive — total calcified length >= ``severe_min_total_length_mm``
      or a largest arc >= ``severe_min_arc_deg`` — and narrowed: a measured stenosis
      >= ``severe_min_stenosis_pct``. Without a measured stenosis (CT alone) an artery
      is never graded severe: the rule and ``narrowing_measured`` say so, and
      ``severe_if_narrowed`` tells whether it would be;
    * ``moderate``: several spots (more than ``mild_max_spots``) widely distributed
      (spread along the artery, first start to last end, >= ``moderate_min_spread_mm``),
      or extensive calcification without narrowing;
    * ``none/mild``: otherwise — no calcification, one or a few spots of any size that
      are not extensive, or several spots clustered in a short stretch.

    Returns
    -------
    dict with ``grade``, ``rule`` (the rule applied, with the measured values),
    ``extensive``, ``narrowing_measured``, ``severe_if_narrowed``, ``n_spots``,
    ``spread_mm``, ``total_length_mm``, ``max_arc_deg``.
    """
    n = len(calcifications)
    total_length = float(sum(x["length_mm"] for x in calcifications))
    max_arc = float(max((x["arc_deg"] for x in calcifications), default=0.0))
    spread = (
        float(
            max(x["end_mm"] for x in calcifications) - min(x["start_mm"] for x in calcifications)
        )
        if n
        else 0.0
    )
    extensive = total_length >= severe_min_total_length_mm or max_arc >= severe_min_arc_deg
    measured = stenosis_pct is not None
    narrowed = measured and stenosis_pct >= severe_min_stenosis_pct
    facts = (
        f"total calcified length {total_length:.1f} mm (extensive >= "
        f"{severe_min_total_length_mm:g}), largest arc {max_arc:.0f} deg (extensive >= "
        f"{severe_min_arc_deg:g})"
    )
    narrowing = (
        "narrowing not measured (no vessel-wall MRI): severe needs narrowing"
        if not measured
        else f"stenosis {stenosis_pct:.0f}% (narrowing >= {severe_min_stenosis_pct:g}%)"
    )
    spots = (
        f"{n} spot(s) (several > {mild_max_spots}) spread over {spread:.1f} mm "
        f"(widely >= {moderate_min_spread_mm:g} mm)"
    )
    if extensive and narrowed:
        grade, rule = "severe", f"extensive calcification with narrowing: {facts}; {narrowing}"
    elif n > mild_max_spots and spread >= moderate_min_spread_mm:
        grade, rule = "moderate", f"several spots widely distributed: {spots}; {narrowing}"
    elif extensive:
        grade, rule = (
            "moderate",
            f"extensive calcification without narrowing: {facts}; {narrowing}",
        )
    else:
        grade = "none/mild"
        rule = (
            "no calcification" if n == 0 else f"no or a few spots, not extensive: {spots}; {facts}"
        )
    return {
        "grade": grade,
        "rule": rule,
        "extensive": bool(extensive),
        "narrowing_measured": measured,
        "severe_if_narrowed": bool(extensive and not measured),
        "n_spots": n,
        "spread_mm": spread,
        "total_length_mm": total_length,
        "max_arc_deg": max_arc,
    }


def wasid_stenosis_pct(d_stenosis_mm: float, d_normal_mm: float) -> float:
    """WASID stenosis (1 - D_stenosis / D_normal) x 100 (CLINICAL_RULES 4, Samuels 2000)."""
    if d_normal_mm <= 0:
        raise ValueError("the reference diameter must be positive")
    return float((1.0 - d_stenosis_mm / d_normal_mm) * 100.0)


def remodeling_class(
    remodeling_index: float, positive_min: float = 1.05, negative_max: float = 0.95
) -> str:
    """``positive`` if RI >= 1.05, ``negative`` if RI <= 0.95, else ``intermediate``.

    CLINICAL_RULES 4 (Guo et al. 2018); [C] some papers make negative "< 0.95", so
    both boundaries are parameters.
    """
    if remodeling_index >= positive_min:
        return "positive"
    if remodeling_index <= negative_max:
        return "negative"
    return "intermediate"


def eccentricity_index(max_wall_thickness_mm: float, min_wall_thickness_mm: float) -> float:
    """(WT_max - WT_min) / WT_max (CLINICAL_RULES 0b and 4)."""
    if max_wall_thickness_mm <= 0:
        return float("nan")
    return float((max_wall_thickness_mm - min_wall_thickness_mm) / max_wall_thickness_mm)


def is_eccentric(eccentricity: float, cutoff: float = 0.5) -> bool:
    """Eccentric plaque if EI >= 0.5 (CLINICAL_RULES 4, [R] cut-off, a parameter)."""
    return bool(eccentricity >= cutoff)


def plaque_class(calcified_fraction: float | None, calcified_min_fraction: float = 0.5) -> str:
    """Plaque class from the calcified fraction of the plaque (wall) area.

    CLINICAL_RULES 0b / 3.6: ``non-calcified`` (no voxel >= 130 HU in the plaque),
    ``partially calcified`` (fraction < 0.5), ``calcified`` (>= 0.5; [C] some texts
    say > 50 %, so the boundary is a parameter). ``None`` (not measurable) gives
    ``unknown``.
    """
    if calcified_fraction is None or not np.isfinite(calcified_fraction):
        return "unknown"
    if calcified_fraction <= 0:
        return "non-calcified"
    if calcified_fraction >= calcified_min_fraction:
        return "calcified"
    return "partially calcified"


def default_settings() -> dict:
    """Every score convention of this module with its default value (for ``settings``)."""
    return {
        "kockelkoren_points": KOCKELKOREN_POINTS,
        "kockelkoren_iel_min_points": 7,
        "pattern_reading": "two-class",
        "pattern_reading_why": "two-class is the default: the vertebrobasilar study "
        "(CLINICAL_RULES 0b, whose wording settles the defaults) puts every calcified plaque "
        "into intimal- or IEL-predominant; three-class is Kockelkoren's reading with dots-only "
        "arteries absent/indistinguishable",
        "pattern_unit": "artery segment (Kockelkoren scores the artery as a whole)",
        "kockelkoren_source": "Kockelkoren et al., PLoS One 2017;12:e0168360 (PMC5218397): "
        "features and categories [V] (abstract); points and the cut-off 7 [R] (Table 1 not "
        "readable here)",
        "thick_min_mm": 1.5,
        "dot_max_length_mm": 3.0,
        "dot_max_arc_deg": 90.0,
        "spotty_max_length_mm": 3.0,
        "spotty_max_arc_deg": 90.0,
        "continuous_min_covered_fraction": 0.9,
        "continuous_max_area_cv": 0.35,
        "continuous_min_length_mm": 5.0,
        "babiarz_combine": "sum",
        "remodeling_positive_min": 1.05,
        "remodeling_negative_max": 0.95,
        "eccentric_min_index": 0.5,
        "calcified_plaque_min_fraction": 0.5,
    }


def segment_grades(
    calcifications: list[dict],
    segments: Mapping[str, tuple[float, float]],
    score_settings: Mapping | None = None,
) -> dict:
    """Kockelkoren pattern, Babiarz-style and Woodcock-style grades per artery segment
    (CLINICAL_RULES 3.2-3.4), from measured calcifications (``measure_calcifications``).

    A calcification belongs to the segment (``name -> (start_mm, end_mm)`` along the
    centreline) that holds the middle of its extent. The Kockelkoren items are scored
    on the segment as a whole, as the paper scores an artery
    (:func:`segment_pattern`): two thick focal
    pieces make one interrupted, intimal-pattern calcification, not two continuous
    ones. ``pattern`` follows ``pattern_reading`` (``two-class`` by default, see
    :data:`PATTERN_READINGS`); both readings are
    given. Each calcification gets its segment's name and items (``segment``,
    ``circularity``, ``thickness_class``, ``morphology``, ``pattern_points``,
    ``pattern``, ``pattern_two_class``, ``pattern_three_class``) next to its own
    measurements. ``score_settings`` overrides
    :func:`default_settings`.
    """
    cfg = default_settings()
    cfg.update(score_settings or {})
    reading = cfg["pattern_reading"]
    if reading not in PATTERN_READINGS:
        raise InputError(
            f"unknown pattern reading {reading!r}",
            f"choose one of {', '.join(PATTERN_READINGS)}",
        )
    outside = segment_pattern([])  # a calcification outside every segment
    for c in calcifications:
        c.update(
            segment=None,
            **{k: outside[k] for k in ("circularity", "thickness_class", "morphology")},
            pattern_points=0,
            pattern="absent/indistinguishable",
            pattern_two_class="absent/indistinguishable",
            pattern_three_class="absent/indistinguishable",
        )
    out = {}
    for name, (lo, hi) in segments.items():
        members = [
            c
            for c in calcifications
            if np.isfinite(c["start_mm"]) and lo <= 0.5 * (c["start_mm"] + c["end_mm"]) <= hi
        ]
        items = segment_pattern(
            members,
            cfg["kockelkoren_points"],
            cfg["kockelkoren_iel_min_points"],
            cfg["dot_max_length_mm"],
            cfg["dot_max_arc_deg"],
            cfg["thick_min_mm"],
            cfg["continuous_min_covered_fraction"],
            cfg["continuous_max_area_cv"],
            cfg["continuous_min_length_mm"],
        )
        pattern = items[f"pattern_{reading.replace('-', '_')}"]
        for c in members:
            c.update(
                segment=name,
                circularity=items["circularity"],
                thickness_class=items["thickness_class"],
                morphology=items["morphology"],
                pattern_points=items["pattern_points"],
                pattern=pattern,
                pattern_two_class=items["pattern_two_class"],
                pattern_three_class=items["pattern_three_class"],
            )
        out[name] = {
            "range_mm": [float(lo), float(hi)],
            "calcification_ids": [c["id"] for c in members],
            "pattern": pattern,
            "pattern_reading": reading,
            **items,
            "babiarz": babiarz_grade(members, cfg["thick_min_mm"], cfg["babiarz_combine"]),
            "woodcock": woodcock_grade(members, cfg["thick_min_mm"]),
        }
    return out
