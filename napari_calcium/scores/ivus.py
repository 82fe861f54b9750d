"""IVUS calcium grades, IVUS calcium score, treatment guidance and ULTIMATE criteria.

Pure functions of measurements (they never look at pixels). Each cites its rule in
``shared/CLINICAL_RULES.md``; every threshold is a parameter with the default of the
rule, and every result names the rule and the measured values behind it. Guidance is
decision support for the operator, not a diagnosis or an order.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def arc_grade(
    arc_deg: float,
    bounds_deg: tuple[float, float, float] = (90.0, 180.0, 270.0),
    upper_inclusive: bool = False,
) -> str:
    """Semi-quantitative calcium arc grade ``"0"``, ``"I"`` ... ``"IV"`` (CLINICAL_RULES 0b, 2.1).

    The seed review states grade I as "< 90" degrees, so a boundary belongs to the grade
    above it: the default ``upper_inclusive=False`` gives I (0, 90), II [90, 180),
    III [180, 270), IV [270, 360]. That also puts 270 degrees in grade IV, as the
    review's severe feature "maximum arc >= 270" and its circumferential calcium
    (">= 270 degrees") do. ``True`` gives I (0, 90], II (90, 180], III (180, 270],
    IV (270, 360] (the "> 270 = IV" reading of CLINICAL_RULES 2.1).
    """
    if arc_deg <= 0:
        return "0"
    for grade, upper in zip(("I", "II", "III"), bounds_deg, strict=True):
        if arc_deg < upper or (upper_inclusive and arc_deg == upper):
            return grade
    return "IV"


def ivus_calcium_score(
    max_superficial_arc_deg: float,
    superficial_arc_length_mm: float,
    nodule: bool,
    vessel_diameter_mm: float | None,
    *,
    nodule_candidate: bool = False,
    arc_threshold_deg: float = 270.0,
    arc_inclusive: bool = False,
    length_threshold_mm: float = 5.0,
    diameter_threshold_mm: float = 3.5,
    full_circle_arc_deg: float = 360.0,
    high_risk_score: int = 2,
) -> dict[str, Any]:
    """IVUS calcium score for stent underexpansion (Zhang et al.; CLINICAL_RULES 0b, 2.2).

    One point each: (1) 360-degree superficial calcium; (2) superficial calcium with
    arc > 270 degrees over a length > 5 mm (``arc_inclusive=True`` gives the ">= 270"
    wording of 2.2; the 0b wording "> 270" is the default); (3) a calcified nodule
    confirmed by the reader: ``nodule`` is the confirmation, and an unconfirmed
    candidate is reported in ``measured`` without a point); (4) vessel (EEM)
    diameter < 3.5 mm at the maximum-calcium site. A total >= 2 predicts stent
    underexpansion.

    Parameters
    ----------
    max_superficial_arc_deg : largest superficial calcium arc of the lesion (deg).
    superficial_arc_length_mm : longest continuous pullback length over which the
        superficial arc meets the arc threshold (mm).
    nodule : calcified nodule confirmed by the reader (CLINICAL_RULES 2.2: the CN call is
        the reader's); an automatic candidate alone does not score.
    nodule_candidate : an automatic candidate was found (reported, not scored).
    vessel_diameter_mm : mean EEM diameter at the maximum-arc frame (mm), or None.
    """
    comparison = ">=" if arc_inclusive else ">"
    meets_arc = (
        max_superficial_arc_deg >= arc_threshold_deg
        if arc_inclusive
        else max_superficial_arc_deg > arc_threshold_deg
    )
    items = [
        {
            "key": "superficial_360",
            "item": "360-degree superficial calcium",
            "criterion": f"superficial arc >= {full_circle_arc_deg:g} deg",
            "measured": {"max_superficial_arc_deg": round(float(max_superficial_arc_deg), 1)},
            "point": int(max_superficial_arc_deg >= full_circle_arc_deg),
        },
        {
            "key": "superficial_arc_length",
            "item": f"superficial calcium {comparison} {arc_threshold_deg:g} deg over > {length_threshold_mm:g} mm",
            "criterion": f"superficial arc {comparison} {arc_threshold_deg:g} deg continuously over > {length_threshold_mm:g} mm",
            "measured": {
                "max_superficial_arc_deg": round(float(max_superficial_arc_deg), 1),
                "superficial_arc_length_mm": round(float(superficial_arc_length_mm), 2),
            },
            "point": int(meets_arc and superficial_arc_length_mm > length_threshold_mm),
        },
        {
            "key": "calcified_nodule",
            "item": "calcified nodule",
            "criterion": "calcium protruding convexly into the lumen, confirmed by the reader "
            "(a candidate is shown and not counted until confirmed)",
            "measured": {
                "nodule_candidate": bool(nodule_candidate or nodule),
                "confirmed": bool(nodule),
            },  # fmt: skip
            "point": int(bool(nodule)),
        },
        {
            "key": "small_vessel",
            "item": f"vessel diameter < {diameter_threshold_mm:g} mm",
            "criterion": f"mean EEM diameter at the maximum-arc frame < {diameter_threshold_mm:g} mm",
            "measured": {
                "vessel_diameter_mm": None
                if vessel_diameter_mm is None
                else round(float(vessel_diameter_mm), 2)
            },
            "point": int(
                vessel_diameter_mm is not None and vessel_diameter_mm < diameter_threshold_mm
            ),
        },
    ]
    total = int(sum(i["point"] for i in items))
    return {
        "rule": "IVUS calcium score (Zhang et al.), CLINICAL_RULES.md 0b and 2.2",
        "items": items,
        "total": total,
        "high_risk_threshold": high_risk_score,
        "high_risk_of_underexpansion": total >= high_risk_score,
    }


def explain_ivus_calcium_score(score: dict[str, Any], lesion_id: int | None = None) -> str:
    """The IVUS calcium score of :func:`ivus_calcium_score` in words, for the reader.

    One line for what the score is and what its total means, then one line per item:
    the point it gives (+1 or 0), the criterion and the measured value behind it.
    """
    total, threshold = score["total"], score["high_risk_threshold"]
    where = "" if lesion_id is None else f" for lesion {lesion_id} (the highest-scoring lesion)"
    verdict = (
        "high risk of stent underexpansion"
        if score["high_risk_of_underexpansion"]
        else "below that threshold"
    )
    meaning = (
        f"{total} of 4 points{where}; {threshold} or more predicts stent underexpansion: "
        f"{verdict} ({score['rule']})."
    )
    lines = [f"IVUS calcium score {meaning}"]
    for item in score["items"]:
        lines.append(f"{'+1' if item['point'] else ' 0'}  {item['item']}: {_measured_words(item)}")
    return "\n".join(lines)


def _measured_words(item: dict[str, Any]) -> str:
    measured = item["measured"]
    if item["key"] == "calcified_nodule":
        if measured["confirmed"]:
            return "confirmed by the reader"
        if measured["nodule_candidate"]:
            return "a candidate was found, not counted until the reader confirms it"
        return "none found"
    if item["key"] == "small_vessel":
        diameter = measured["vessel_diameter_mm"]
        return "not measured" if diameter is None else f"measured {diameter:g} mm"
    words = {
        "max_superficial_arc_deg": "maximum superficial arc {:g} deg",
        "superficial_arc_length_mm": "over {:g} mm",
    }
    return "measured " + ", ".join(words[k].format(v) for k, v in measured.items() if k in words)


def treatment_guidance(
    lesion: dict[str, Any] | None,
    score: dict[str, Any],
    *,
    severe_arc_deg: float = 270.0,
    severe_length_mm: float = 5.0,
    superficial_is_severe: bool = True,
    circumferential_arc_deg: float = 270.0,
    mild_max_arc_deg: float = 90.0,
    deep_dominant_fraction: float = 0.5,
    lithotripsy_max_length_mm: float = 60.0,
    lithotripsy_diameter_range_mm: tuple[float, float] = (2.5, 4.0),
    high_risk_score: int = 2,
) -> dict[str, Any]:
    """Calcium-modification guidance as the seed review states it (CLINICAL_RULES 0b; 2.6).

    Each severe feature is on its own a reason for plaque modification, and each one
    found is named with its measured value: maximum arc >= ``severe_arc_deg`` (270);
    continuous calcium length > ``severe_length_mm`` (5 mm); superficial calcium (the
    lesion's leading edges lie mostly in the inner half of plaque + media); an IVUS
    calcium score >= ``high_risk_score`` (2). Severe and predominantly deep (deep share
    of calcified frames > ``deep_dominant_fraction``) -> intravascular lithotripsy;
    otherwise rotational or orbital atherectomy. Circumferential calcium (a ring of
    >= ``circumferential_arc_deg`` in one frame) is named: rotational / orbital
    atherectomy or lithotripsy before stenting. Lithotripsy suits lesions <= 60 mm long
    in 2.5-4.0 mm vessels, checked on the **reference** vessel diameter (the mean EEM
    diameter of the proximal and distal reference frames) when the lesion has one.

    Without a severe feature: stepwise balloon preparation, a non-compliant, cutting or
    scoring balloon for mild-moderate calcium. The review also names a semi-compliant
    balloon for mild superficial calcium, which its own severe list (superficial
    calcium) overrides; that branch is reached with ``superficial_is_severe=False``
    (superficial calcium with a maximum arc <= ``mild_max_arc_deg``).

    Returns
    -------
    dict with ``text``, ``rule``, ``category``, the ``triggers`` found (each with its
    rule and measured value), ``circumferential`` and the ``values`` used.
    """
    rule = (
        "calcium-modification decision path of the IVUS review (CLINICAL_RULES.md 0b: "
        "severe = max arc >= 270 deg, continuous length > 5 mm, superficial calcium, or "
        "IVUS calcium score >= 2, each on its own; consensus 2.6 unverified)"
    )
    if lesion is None:
        return {"text": "No calcium lesion was found; no calcium-specific preparation is suggested by this rule.",
                "rule": rule, "category": "none", "triggers": [], "circumferential": False,
                "values": {}}  # fmt: skip
    max_arc = float(lesion["max_arc_deg"])
    length = float(lesion["length_mm"])
    sup_fraction = float(lesion["superficial_frame_fraction"])
    superficial = bool(lesion.get("superficial", sup_fraction >= 0.5))
    diameter = lesion.get("reference_vessel_diameter_mm")
    diameter_source = "reference"
    if diameter is None:
        diameter, diameter_source = lesion.get("vessel_diameter_mm"), "lesion"
    total = int(score["total"])
    circumferential = max_arc >= circumferential_arc_deg
    values = {
        "max_arc_deg": round(max_arc, 1),
        "length_mm": round(length, 2),
        "superficial": superficial,
        "superficial_frame_fraction": round(sup_fraction, 2),
        "max_superficial_arc_deg": round(float(lesion.get("max_superficial_arc_deg", 0.0)), 1),
        "vessel_diameter_mm": None if diameter is None else round(float(diameter), 2),
        "vessel_diameter_source": diameter_source,
        "ivus_calcium_score": total,
    }
    triggers = []
    if max_arc >= severe_arc_deg:
        triggers.append({"trigger": "max_arc", "rule": f"maximum arc >= {severe_arc_deg:g} deg",
                         "measured": f"{max_arc:.0f} deg"})  # fmt: skip
    if length > severe_length_mm:
        triggers.append({"trigger": "length", "rule": f"continuous calcium length > {severe_length_mm:g} mm",
                         "measured": f"{length:.1f} mm"})  # fmt: skip
    if superficial and superficial_is_severe:
        triggers.append({"trigger": "superficial", "rule": "superficial calcium",
                         "measured": f"{100 * sup_fraction:.0f}% of calcified frames superficial"})  # fmt: skip
    if total >= high_risk_score:
        triggers.append({"trigger": "ivus_calcium_score", "rule": f"IVUS calcium score >= {high_risk_score}",
                         "measured": str(total)})  # fmt: skip
    deep_dominant = (1.0 - sup_fraction) > deep_dominant_fraction
    lo, hi = lithotripsy_diameter_range_mm
    where = (
        "reference vessel"
        if diameter_source == "reference"
        else "vessel at the lesion (no reference found)"
    )
    if diameter is not None and length <= lithotripsy_max_length_mm and lo <= diameter <= hi:
        ivl_note = (f" Lithotripsy suits this lesion by size (length {length:.1f} mm <= {lithotripsy_max_length_mm:g} mm, "
                    f"{where} {diameter:.2f} mm within {lo:g}-{hi:g} mm).")  # fmt: skip
    else:
        size = "unknown" if diameter is None else f"{diameter:.2f} mm"
        ivl_note = (f" Lithotripsy is described for lesions <= {lithotripsy_max_length_mm:g} mm long in {lo:g}-{hi:g} mm "
                    f"vessels; this lesion is {length:.1f} mm long, {where} {size}.")  # fmt: skip
    circ_note = (
        f" Circumferential calcium (max arc {max_arc:.0f} deg >= {circumferential_arc_deg:g} deg): "
        "rotational / orbital atherectomy or lithotripsy before stenting."
        if circumferential
        else ""
    )
    reasons = "; ".join(f"{t['rule']}: {t['measured']}" for t in triggers)
    if triggers and deep_dominant:
        category = "severe_deep"
        text = (
            f"Severe calcium ({reasons}) that is predominantly deep ({100 * (1 - sup_fraction):.0f}% "
            "of calcified frames deep): the rule points to plaque modification with intravascular "
            "lithotripsy." + circ_note + ivl_note
        )
    elif triggers:
        category = "severe_superficial"
        text = (
            f"Severe calcium ({reasons}): the rule points to plaque modification by rotational or "
            "orbital atherectomy before stenting; lithotripsy when deep calcium dominates."
            + circ_note
            + ivl_note
        )
    elif superficial and max_arc <= mild_max_arc_deg:
        category = "mild_superficial"
        text = (
            f"Mild superficial calcium (max arc {max_arc:.0f} deg <= {mild_max_arc_deg:g} deg, "
            f"length {length:.1f} mm, score {total}): the rule suggests stepwise balloon "
            "preparation starting with a semi-compliant balloon."
        )
    else:
        category = "mild_moderate"
        text = (
            f"Mild-to-moderate calcium (max arc {max_arc:.0f} deg, length {length:.1f} mm, score {total}, "
            "no severe feature): the rule suggests balloon preparation with a non-compliant, cutting or "
            "scoring balloon."
        )
    return {"text": text + " Decision support only; the operator decides.", "rule": rule,
            "category": category, "triggers": triggers, "circumferential": circumferential,
            "values": values}  # fmt: skip


def ultimate_criteria(
    positions_mm,
    lumen_area_mm2,
    vessel_area_mm2,
    stent_area_mm2,
    stent_start_mm: float,
    stent_end_mm: float,
    *,
    distal_at_start: bool = True,
    edge_segment_mm: float = 5.0,
    mla_threshold_mm2: float = 5.0,
    distal_reference_fraction: float = 0.9,
    edge_burden_threshold_percent: float = 50.0,
    edge_dissection_length_mm: float | None = None,
    dissection_threshold_mm: float = 3.0,
) -> dict[str, Any]:
    """ULTIMATE optimal post-stent IVUS result (CLINICAL_RULES 0b and 2.5, recalled [R]).

    Optimal when all hold: (1) minimal lumen area in the stented segment > 5.0 mm2 or
    > 90 % of the minimal lumen area of the distal reference segment (the
    ``edge_segment_mm`` beyond the distal stent edge); (2) plaque burden < 50 % in the
    5-mm proximal and distal edge segments; (3) no edge dissection involving the media
    longer than 3 mm (a reader finding: ``edge_dissection_length_mm``; ``None`` leaves
    the criterion unassessed and the result undecided).

    Parameters
    ----------
    positions_mm : ``(n,)`` frame positions along the pullback (mm).
    lumen_area_mm2, vessel_area_mm2, stent_area_mm2 : ``(n,)`` per-frame areas; stent
        areas may be ``nan`` outside the stent.
    stent_start_mm, stent_end_mm : stented segment along the pullback.
    distal_at_start : the pullback starts distally (motorised pullbacks run distal to
        proximal), so the distal edge is the lower position.
    """
    pos = np.asarray(positions_mm, float)
    lumen = np.asarray(lumen_area_mm2, float)
    vessel = np.asarray(vessel_area_mm2, float)
    stent = np.asarray(stent_area_mm2, float)
    lo, hi = sorted((stent_start_mm, stent_end_mm))
    inside = (pos >= lo) & (pos <= hi)
    if not inside.any():
        raise ValueError("no frame lies in the stented segment")
    below = (pos >= lo - edge_segment_mm) & (pos < lo)
    above = (pos > hi) & (pos <= hi + edge_segment_mm)
    distal, proximal = (below, above) if distal_at_start else (above, below)
    mla = float(np.nanmin(lumen[inside]))
    msa = float(np.nanmin(stent[inside])) if np.isfinite(stent[inside]).any() else None
    ref = float(np.nanmin(lumen[distal])) if distal.any() else None
    c1 = mla > mla_threshold_mm2 or (ref is not None and mla > distal_reference_fraction * ref)
    burden = 100.0 * (vessel - lumen) / vessel
    edge_burdens = {
        "proximal_edge_max_burden_percent": float(np.nanmax(burden[proximal]))
        if proximal.any()
        else None,
        "distal_edge_max_burden_percent": float(np.nanmax(burden[distal]))
        if distal.any()
        else None,
    }
    known = [b for b in edge_burdens.values() if b is not None]
    c2 = bool(known) and all(b < edge_burden_threshold_percent for b in known)
    c3 = (
        None
        if edge_dissection_length_mm is None
        else edge_dissection_length_mm <= dissection_threshold_mm
    )
    optimal = None if c3 is None else bool(c1 and c2 and c3)
    return {
        "rule": "ULTIMATE IVUS optimal-result criteria (Zhang J et al. 2018), CLINICAL_RULES.md 0b and 2.5",
        "criteria": [
            {
                "criterion": f"MLA in stent > {mla_threshold_mm2:g} mm2 or > {100 * distal_reference_fraction:g}% of distal reference MLA",
                "measured": {
                    "mla_mm2": round(mla, 2),
                    "msa_mm2": None if msa is None else round(msa, 2),
                    "distal_reference_mla_mm2": None if ref is None else round(ref, 2),
                },
                "met": bool(c1),
            },
            {
                "criterion": f"plaque burden < {edge_burden_threshold_percent:g}% in the {edge_segment_mm:g}-mm edge segments",
                "measured": {
                    k: None if v is None else round(v, 1) for k, v in edge_burdens.items()
                },
                "met": c2,
            },
            {
                "criterion": f"no edge dissection involving the media longer than {dissection_threshold_mm:g} mm",
                "measured": {"edge_dissection_length_mm": edge_dissection_length_mm},
                "met": c3,
            },
        ],  # fmt: skip
        "optimal": optimal,
    }
