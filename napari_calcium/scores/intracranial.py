"""Intracranial artery calcification and vessel-wall scores (pure functions).

Every function takes measurements (mm, degrees, HU, %) and returns a category or a
number; none looks at pixels. Rules are those of ``CLINICAL_RULES.md`` sections
0b, 3 and 4; each convention is a keyword parameter with the documented default,
and :func:`default_settings` lists them all for the ``settings`` of an output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

#: Kockelkoren 2017 item points (CLINICAL_RULES 3.2). [R] from recollection of
#: Table 1 of Kockelkoren et al., PLoS One 2017;12:e0168360 — to be checked
#: against that table before the values are frozen.
KOCKELKOREN_POINTS: dict[str, dict[str, int]] = {
    "circularity": {"absent": 0, "dots": 1, "<90": 2, "90-270": 3, "270-360": 4},
    "thickness_class": {"absent": 0, "thick": 1, "thin": 3},
    "morphology": {"indistinguishable": 0, "irregular": 1, "continuous": 4},
}

PATTERNS = ("intimal-predominant", "IEL-predominant", "absent/indistinguishable")


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


def morphology_category(
    circularity: str,
    covered_fraction: float,
    area_cv: float,
    min_covered_fraction: float = 0.9,
    max_area_cv: float = 0.35,
) -> str:
    """Kockelkoren morphology: ``continuous``, ``irregular`` (patchy) or ``indistinguishable``.

    CLINICAL_RULES 3.2 leaves this to the reader; operationalised from continuity
    along the vessel: ``continuous`` when the calcification is present in at least
    ``min_covered_fraction`` of the cross-sections over its length **and** its
    calcified area per cross-section varies little (coefficient of variation <=
    ``max_area_cv``); otherwise ``irregular``. Dots are ``indistinguishable``.
    Both cut-offs are [R]-type choices of this software, kept as parameters.
    """
    if circularity in ("absent", "dots"):
        return "indistinguishable"
    if covered_fraction >= min_covered_fraction and area_cv <= max_area_cv:
        return "continuous"
    return "irregular"


def kockelkoren_score(
    circularity: str,
    thickness_class: str,
    morphology: str,
    points: Mapping[str, Mapping[str, int]] | None = None,
    iel_min_points: int = 7,
    dots_indistinguishable: bool = True,
) -> tuple[int, str]:
    """Kockelkoren intimal vs IEL (medial) score and class.

    CLINICAL_RULES 3.2 (Kockelkoren et al., PLoS One 2017). Sum of the item points
    (default :data:`KOCKELKOREN_POINTS`, [R]); ``>= iel_min_points`` (7, [R]) ->
    ``IEL-predominant``, 1 to 6 -> ``intimal-predominant``, 0 ->
    ``absent/indistinguishable``. With ``dots_indistinguishable`` a dots-only
    calcification is ``absent/indistinguishable`` whatever its sum ([R]).

    Returns
    -------
    points : int, the sum.
    pattern : one of :data:`PATTERNS`.
    """
    table = points or KOCKELKOREN_POINTS
    total = int(
        table["circularity"][circularity]
        + table["thickness_class"][thickness_class]
        + table["morphology"][morphology]
    )
    if total == 0 or (dots_indistinguishable and circularity == "dots"):
        return total, "absent/indistinguishable"
    return total, "IEL-predominant" if total >= iel_min_points else "intimal-predominant"


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
    small_max_length_mm: float = 3.0,
    small_max_arc_deg: float = 90.0,
    severe_min_total_length_mm: float = 10.0,
    severe_min_arc_deg: float = 270.0,
    severe_min_stenosis_pct: float = 50.0,
) -> dict:
    """Overall intracranial calcification grade: ``none/mild``, ``moderate``, ``severe``.

    CLINICAL_RULES 0b (intracranial calcification vs small-vessel disease study):
    none/mild = no or a few small spots; moderate = several spots, widely
    distributed; severe = extensive calcification with vessel narrowing. Operational
    rule (all cut-offs parameters):

    * ``none/mild``: at most ``mild_max_spots`` calcifications, each small (length
      < ``small_max_length_mm`` and arc < ``small_max_arc_deg``);
    * ``severe``: extensive — total calcified length >= ``severe_min_total_length_mm``
      or a maximum arc >= ``severe_min_arc_deg`` — **with** narrowing, i.e. a
      measured stenosis >= ``severe_min_stenosis_pct``; when no stenosis was
      measured (CT only), extensive calcification alone counts and the rule says so;
    * ``moderate``: anything else.

    Returns
    -------
    dict with ``grade`` and ``rule`` (the rule applied, with the measured values).
    """
    n = len(calcifications)
    small = [
        x["length_mm"] < small_max_length_mm and x["arc_deg"] < small_max_arc_deg
        for x in calcifications
    ]
    total_length = float(sum(x["length_mm"] for x in calcifications))
    max_arc = float(max((x["arc_deg"] for x in calcifications), default=0.0))
    if n <= mild_max_spots and all(small):
        return {
            "grade": "none/mild",
            "rule": f"{n} calcification(s) (<= {mild_max_spots}), all small "
            f"(length < {small_max_length_mm} mm and arc < {small_max_arc_deg} deg)",
        }
    extensive = total_length >= severe_min_total_length_mm or max_arc >= severe_min_arc_deg
    facts = (
        f"total calcified length {total_length:.1f} mm (severe >= {severe_min_total_length_mm}), "
        f"max arc {max_arc:.0f} deg (severe >= {severe_min_arc_deg})"
    )
    if extensive and stenosis_pct is None:
        return {
            "grade": "severe",
            "rule": f"extensive calcification: {facts}; narrowing not measured (no vessel-wall MRI)",
        }
    if extensive and stenosis_pct >= severe_min_stenosis_pct:
        return {
            "grade": "severe",
            "rule": f"extensive calcification: {facts}; with narrowing: stenosis "
            f"{stenosis_pct:.0f}% (>= {severe_min_stenosis_pct}%)",
        }
    narrowing = "" if stenosis_pct is None else f"; stenosis {stenosis_pct:.0f}%"
    return {
        "grade": "moderate",
        "rule": f"{n} calcification(s), not all small, not extensive with narrowing: "
        f"{facts}{narrowing}",
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
        "kockelkoren_dots_indistinguishable": True,
        "kockelkoren_source": "CLINICAL_RULES 3.2; [R] to check against Kockelkoren 2017 Table 1",
        "thick_min_mm": 1.5,
        "dot_max_length_mm": 3.0,
        "dot_max_arc_deg": 90.0,
        "spotty_max_length_mm": 3.0,
        "spotty_max_arc_deg": 90.0,
        "continuous_min_covered_fraction": 0.9,
        "continuous_max_area_cv": 0.35,
        "babiarz_combine": "sum",
        "remodeling_positive_min": 1.05,
        "remodeling_negative_max": 0.95,
        "eccentric_min_index": 0.5,
        "calcified_plaque_min_fraction": 0.5,
    }
