"""Coronary artery calcium scores: pure functions of lesion measurements.

Every function cites its rule in ``CLINICAL_RULES.md`` section 1 and takes each
convention as a parameter; none of them looks at pixels. The measurements they
consume (per-slice lesion areas and peaks, lesion volumes and mean HU) come from
:mod:`napari_calcium.calcium.coronary`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np

#: Standard Agatston density-factor edges (HU): weight 1 from the threshold, 2 from
#: 200, 3 from 300, 4 from 400 (CLINICAL_RULES 1.1, [V]).
STANDARD_WEIGHT_EDGES_HU: tuple[float, float, float] = (200.0, 300.0, 400.0)

#: Reference slice increment of the Agatston score (mm): 3-mm contiguous slices
#: (CLINICAL_RULES 1.2).
REFERENCE_SLICE_MM = 3.0

#: kVp-specific threshold and weight edges ``kvp: (threshold, w2, w3, w4)`` in HU.
#: [R] Attributed to Gräni C et al., Eur Heart J Cardiovasc Imaging 2018;19(12):1362-1371
#: (DOI 10.1093/ehjci/jey019) as tabulated in the public MolloiLab/CalciumScoring.jl
#: code (``_weight_thresholds`` in ``src/agatston.jl``, a kV table; its older
#: ``min(floor(peak / 100), 4)`` formula is no longer used there); the values were NOT
#: re-read from the paper (CLINICAL_RULES 1.1 "kVp"). 120 kVp is not listed: it uses the
#: standard 130/200/300/400 HU edges (the peer's table has 130/199/299/399 at 120 kV,
#: i.e. it gives 199, 299 and 399 HU the next weight; this project keeps Agatston's).
KVP_EDGES_HU: dict[int, tuple[float, float, float, float]] = {
    70: (207.0, 318.0, 477.0, 636.0),
    80: (177.0, 271.0, 408.0, 544.0),
    100: (145.0, 222.0, 334.0, 446.0),
    135: (119.0, 183.0, 274.0, 364.0),
}

#: Agatston categories (CLINICAL_RULES 1.5): label and upper bound (inclusive).
CATEGORIES: tuple[tuple[str, str, float], ...] = (
    ("0", "no identifiable calcified plaque", 0.0),
    ("1-10", "minimal", 10.0),
    ("11-100", "mild", 100.0),
    ("101-400", "moderate", 400.0),
    (">400", "severe", math.inf),
)

#: The groups 0 / 1-99 / 100-399 / >= 400 used in MESA outcome analyses and by other
#: open scoring tools (e.g. Budoff MJ et al., Eur Heart J 2018;39(25):2401-2408,
#: DOI 10.1093/eurheartj/ehy217 [R]): label and upper bound (exclusive, except 0).
MESA_GROUPS: tuple[tuple[str, str, float], ...] = (
    ("0", "no coronary calcium", 0.0),
    ("1-99", "mild", 100.0),
    ("100-399", "moderate", 400.0),
    (">=400", "severe", math.inf),
)

#: Category schemes by name: ``rumberger`` (default, CLINICAL_RULES 1.5, upper bounds
#: inclusive) and ``mesa`` (upper bounds exclusive).
CATEGORY_SCHEMES: dict[str, tuple[tuple[str, str, float], ...]] = {
    "rumberger": CATEGORIES,
    "mesa": MESA_GROUPS,
}

#: CAC-DRS "A" groups (CLINICAL_RULES 1.6): (group, lower bound inclusive, risk wording).
CAC_DRS_GROUPS: tuple[tuple[int, float, str], ...] = (
    (0, 0.0, "very low"),
    (1, 0.0, "mildly increased"),
    (2, 100.0, "moderately increased"),
    (3, 300.0, "moderately-to-severely increased"),
)


def kvp_edges_hu(kvp: float) -> tuple[float, float, float, float]:
    """Threshold and weight edges ``(threshold, w2, w3, w4)`` (HU) for a tube voltage.

    120 kVp gives the standard ``(130, 200, 300, 400)``; 70, 80, 100 and 135 kVp use
    :data:`KVP_EDGES_HU`, whose values are [R] (unverified against Gräni 2018).

    Raises
    ------
    ValueError
        For a tube voltage with no tabulated edges.
    """
    kvp_int = int(round(float(kvp)))
    if kvp_int == 120:
        return (130.0, *STANDARD_WEIGHT_EDGES_HU)
    if kvp_int not in KVP_EDGES_HU:
        raise ValueError(
            f"no kVp-specific Agatston thresholds for {kvp} kVp; tabulated: 70, 80, 100, 120, 135"
        )
    return KVP_EDGES_HU[kvp_int]


def kvp_formula_threshold_hu(kvp: float) -> float:
    """Candidate threshold ``round(378 x exp(-0.009 x kV))`` HU for a tube voltage.

    The kV-dependent threshold of MolloiLab/CalciumScoring.jl (``src/agatston.jl``,
    citing Gräni C et al., Eur Heart J Cardiovasc Imaging 2018;19(12):1362-1371,
    DOI 10.1093/ehjci/jey019; [R], the formula's fit was not re-read from the paper):
    70 kV -> 201, 80 -> 184, 100 -> 154, 120 -> 128, 135 -> 112 HU. Rounded half away
    from zero, as the peer's ``round``.
    """
    if not kvp > 0:
        raise ValueError(f"tube voltage must be positive, got {kvp}")
    return float(math.floor(378.0 * math.exp(-0.009 * float(kvp)) + 0.5))


def density_weight(
    peak_hu,
    edges_hu: Iterable[float] = STANDARD_WEIGHT_EDGES_HU,
    weight_one_hu: float | None = None,
) -> np.ndarray:
    """Agatston density factor (0-4) of per-slice lesion peaks (CLINICAL_RULES 1.1).

    Half-open bins ``[threshold, 200) -> 1, [200, 300) -> 2, [300, 400) -> 3,
    [400, inf) -> 4`` for the standard edges, so integer HU 199 -> 1, 200 -> 2,
    299 -> 2, 300 -> 3, 399 -> 3, 400 -> 4. Peaks are assumed to be at or above the
    candidate threshold already (a lesion exists only there).

    Parameters
    ----------
    peak_hu : array-like of peak HU, one per lesion per slice.
    edges_hu : the three HU values where the weight becomes 2, 3 and 4.
    weight_one_hu : where the weight becomes 1; a peak below it has weight 0. ``None``
        gives every candidate weight >= 1. The ``kvp_formula`` threshold rule sets it to
        the kV table's first edge, so a band of candidates above the formula's threshold
        counts in volume and mass but not in Agatston (as in CalciumScoring.jl).
    """
    edges = np.asarray(tuple(edges_hu), dtype=float)
    if edges.shape != (3,) or np.any(np.diff(edges) <= 0):
        raise ValueError(f"edges_hu must be three increasing HU values, got {tuple(edges)}")
    peak = np.asarray(peak_hu, dtype=float)
    weight = 1 + np.searchsorted(edges, peak, side="right")
    if weight_one_hu is not None:
        weight = np.where(peak < weight_one_hu, 0, weight)
    return weight


def native_slice_factor(slice_increment_mm: float) -> float:
    """Factor that turns an Agatston sum on thin or overlapping slices into a 3-mm equivalent.

    ``slice_increment_mm / 3`` (CLINICAL_RULES 1.2): 1.5-mm contiguous slices give 0.5.
    The increment, not the nominal thickness, decides double counting.
    """
    if not slice_increment_mm > 0:
        raise ValueError(f"slice increment must be positive, got {slice_increment_mm}")
    return float(slice_increment_mm) / REFERENCE_SLICE_MM


def slice_lesion_scores(
    area_mm2,
    peak_hu,
    edges_hu: Iterable[float] = STANDARD_WEIGHT_EDGES_HU,
    slice_factor: float = 1.0,
    weight_one_hu: float | None = None,
) -> np.ndarray:
    """Agatston score of each slice-lesion: area (mm²) x density factor x slice factor.

    CLINICAL_RULES 1.1 (rule 4) and 1.2 (``slice_factor`` = increment / 3 mm for
    native thin slices, 1 on 3-mm slices, covered / 3 mm on a partly covered last
    slab); ``slice_factor`` is one number or one per slice-lesion.
    """
    area = np.asarray(area_mm2, dtype=float)
    weight = density_weight(peak_hu, edges_hu, weight_one_hu)
    return area * weight * np.asarray(slice_factor, dtype=float)


def agatston_category(agatston: float, scheme: str = "rumberger") -> str:
    """Agatston risk category of an unrounded score (CLINICAL_RULES 1.5).

    ``rumberger``: ``0`` only for exactly zero, then ``(0, 10]`` -> ``1-10``,
    ``(10, 100]`` -> ``11-100``, ``(100, 400]`` -> ``101-400``, ``(400, inf)`` -> ``>400``.
    ``mesa``: ``0``, then ``(0, 100)`` -> ``1-99``, ``[100, 400)`` -> ``100-399``,
    ``[400, inf)`` -> ``>=400``.
    """
    if agatston < 0 or not math.isfinite(agatston):
        raise ValueError(f"an Agatston score is a finite number >= 0, got {agatston}")
    groups = _scheme(scheme)
    inclusive = scheme == "rumberger"
    if agatston == 0:
        return groups[0][0]
    for label, _, upper in groups[1:]:
        if agatston < upper or (inclusive and agatston == upper):
            return label
    raise AssertionError("unreachable")


def category_description(label: str, scheme: str = "rumberger") -> str:
    """Wording of an Agatston category label (CLINICAL_RULES 1.5)."""
    return {lab: text for lab, text, _ in _scheme(scheme)}[label]


def _scheme(name: str):
    if name not in CATEGORY_SCHEMES:
        raise ValueError(f"category scheme {name!r} is unknown; use {', '.join(CATEGORY_SCHEMES)}")
    return CATEGORY_SCHEMES[name]


def cac_drs(agatston: float, n_vessels: int | None) -> str:
    """CAC-DRS notation ``A<group>/N<vessels>`` (CLINICAL_RULES 1.6).

    A0: score 0; A1: (0, 100); A2: [100, 300); A3: >= 300 (unrounded score). ``N``
    counts the arteries LM, LAD, LCX and RCA that carry any calcium, LM as its own
    vessel; A0 has no N. ``n_vessels=None`` (no artery labels) gives the A group only.
    """
    if agatston < 0 or not math.isfinite(agatston):
        raise ValueError(f"an Agatston score is a finite number >= 0, got {agatston}")
    group = cac_drs_group(agatston)
    if group == 0 or n_vessels is None:
        return f"A{group}"
    return f"A{group}/N{int(n_vessels)}"


def cac_drs_group(agatston: float) -> int:
    """The CAC-DRS A group (0-3) of an unrounded Agatston score (CLINICAL_RULES 1.6)."""
    if agatston == 0:
        return 0
    return max(g for g, lower, _ in CAC_DRS_GROUPS if agatston >= lower)


def cac_drs_risk(agatston: float) -> str:
    """Risk wording of the CAC-DRS group (CLINICAL_RULES 1.6, [R] for the wording)."""
    group = cac_drs_group(agatston)
    return next(text for g, _, text in CAC_DRS_GROUPS if g == group)


def vessels_with_calcium(per_artery_agatston: Mapping[str, float], vessels: Iterable[str]) -> int:
    """Number of the named vessels (LM, LAD, LCX, RCA) with a score above 0 (CLINICAL_RULES 1.6)."""
    return sum(1 for name in vessels if per_artery_agatston.get(name, 0.0) > 0)


def mass_calibration_factor(rho_ha_mg_cm3: float, ct_ha_hu: float, ct_water_hu: float) -> float:
    """Calcium mass calibration factor ``c = rho_HA / (CT_HA - CT_water)`` (CLINICAL_RULES 1.4).

    Parameters
    ----------
    rho_ha_mg_cm3 : hydroxyapatite density of the calibration insert (mg HA / cm³).
    ct_ha_hu, ct_water_hu : mean HU of the insert and of water on the same protocol.

    Returns
    -------
    float
        mg HA / cm³ per HU.
    """
    if not ct_ha_hu > ct_water_hu:
        raise ValueError(
            f"the HA insert ({ct_ha_hu} HU) must be denser than water ({ct_water_hu} HU)"
        )
    if not rho_ha_mg_cm3 > 0:
        raise ValueError(f"insert density must be positive, got {rho_ha_mg_cm3}")
    return float(rho_ha_mg_cm3) / (float(ct_ha_hu) - float(ct_water_hu))


def lesion_mass_mg(volume_mm3, mean_hu, calibration_mg_cm3_per_hu: float):
    """Calcium mass ``m = c x V x mean HU`` in mg (CLINICAL_RULES 1.4).

    ``V`` is converted from mm³ to cm³; ``mean_hu`` is the mean of the lesion's voxels
    above threshold.
    """
    volume_cm3 = np.asarray(volume_mm3, dtype=float) / 1000.0
    return float(calibration_mg_cm3_per_hu) * volume_cm3 * np.asarray(mean_hu, dtype=float)


# ------------------------------------------------ threshold-free calcium measures
#: The in-plane kernel of the spatially weighted calcium score: the voxel and its four
#: edge neighbours, 0.2 each (Liang CJ et al., BMC Med Imaging 2012;12:14, as used in
#: MolloiLab/CalciumScoring.jl ``src/spatially_weighted.jl``).
SWCS_KERNEL = np.array([[0.0, 0.2, 0.0], [0.2, 0.2, 0.2], [0.0, 0.2, 0.0]])


def integrated_mass_mg(hu, voxel_mm3, background_hu: float, calibration_mg_cm3_per_hu: float):
    """Integrated-intensity calcium mass (mg) of the voxels of a region.

    A region of ``N`` voxels holding ``N_obj`` voxels of pure object (intensity
    ``S_obj``) in background (``S_bkg``) integrates to ``I = N_obj S_obj +
    (N - N_obj) S_bkg``, so ``N_obj = (I - N S_bkg) / (S_obj - S_bkg)``: partial
    volume and zero-mean noise do not change ``I`` (Molloi group, "Integrated
    intensity-based technique for coronary artery calcium mass measurement: a phantom
    study", Med Phys 2023, DOI 10.1002/mp.16326; formula as in MolloiLab/CalciumScoring.jl
    ``src/integrated.jl``; [R] for the paper's wording). With the object intensity on
    the calibration line ``S(rho) = S_bkg + rho / c`` (``c`` in mg HA/cm³ per HU,
    :func:`mass_calibration_factor`) anchored at the local background, the mass is
    ``m = rho V_voxel N_obj = c x sum(v_i (HU_i - S_bkg))``, whatever ``rho``. No
    threshold: calcium below 130 HU counts, and so does the partial-volume rim. Returns
    one value per voxel (sum them per lesion).
    """
    hu = np.asarray(hu, dtype=float)
    volume_cm3 = np.asarray(voxel_mm3, dtype=float) / 1000.0
    return float(calibration_mg_cm3_per_hu) * volume_cm3 * (hu - float(background_hu))


def calcium_fraction(hu, background_hu: float, calcium_hu: float):
    """Fraction of each voxel filled with calcium of the calibration insert's density.

    ``f = (HU - S_bkg) / (S_cal - S_bkg)``, not clipped (noise stays zero-mean): the
    volume-fraction method (Molloi group, "Coronary artery calcium mass measurement
    based on integrated intensity and volume fraction techniques", J Med Imaging
    2023;10(4):043502, DOI 10.1117/1.JMI.10.4.043502; as in CalciumScoring.jl
    ``src/volume_fraction.jl``; [R] for the paper's wording).
    """
    if not calcium_hu > background_hu:
        raise ValueError(
            f"the calibration insert ({calcium_hu} HU) must be brighter than the "
            f"background ({background_hu} HU)"
        )
    return (np.asarray(hu, dtype=float) - float(background_hu)) / (
        float(calcium_hu) - float(background_hu)
    )


def volume_fraction_mass_mg(
    hu, voxel_mm3, background_hu: float, insert_hu: float, insert_rho_mg_cm3: float
):
    """Volume-fraction calcium mass (mg) per voxel: ``rho_cal x v x f`` (:func:`calcium_fraction`).

    ``insert_hu`` is the measured mean HU of a calibration insert of density
    ``insert_rho_mg_cm3`` (mg HA/cm³); unlike :func:`integrated_mass_mg` the scale
    comes from that one insert against the local background, not from a calibration
    line.
    """
    fraction = calcium_fraction(hu, background_hu, insert_hu)
    return float(insert_rho_mg_cm3) * np.asarray(voxel_mm3, dtype=float) / 1000.0 * fraction


def swcs_weight(hu, insert_mean_hu: float, insert_sd_hu: float):
    """Spatially weighted calcium score weight of each voxel: ``Phi((HU - mu) / sigma)``.

    ``mu`` and ``sigma`` are the mean and standard deviation of the HU of a calibration
    insert (100 mg HA/cm³ in MESA): Liang CJ, Budoff MJ, Kaufman JD, Kronmal RA, Brown
    ER, "An alternative method for quantifying coronary artery calcification: the
    Multi-Ethnic Study of Atherosclerosis (MESA)", BMC Med Imaging 2012;12:14,
    DOI 10.1186/1471-2342-12-14 [V: abstract, threshold-free score]; Blaha MJ et al.
    (predictive validity), Circ Cardiovasc Imaging 2021;14:e011981,
    DOI 10.1161/CIRCIMAGING.120.011981 [V: abstract]. The weights are then averaged
    in-plane with :data:`SWCS_KERNEL` and summed (``calcium.mass``).
    """
    from scipy.special import ndtr

    if not insert_sd_hu > 0:
        raise ValueError(
            f"the insert's HU standard deviation must be positive, got {insert_sd_hu}"
        )
    return ndtr((np.asarray(hu, dtype=float) - float(insert_mean_hu)) / float(insert_sd_hu))
