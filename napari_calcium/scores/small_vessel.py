"""Cerebral small vessel disease scores and the intracranial calcification grade.

Pure functions of measurements or reader entries; they never look at pixels. Each
cites its rule in ``CLINICAL_RULES.md`` (sections 0b and 5) and every convention is
a parameter whose default is the original paper's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Potter EPVS scale (CLINICAL_RULES 5.4): upper count of grades 0..3; > 40 is grade 4.
POTTER_UPPER_COUNTS = (0, 10, 20, 40)

#: Intracranial calcification grades of the study (CLINICAL_RULES 0b), ordinal.
CALCIFICATION_GRADES = ("none/mild", "moderate", "severe")

#: Arteries graded per patient; paired arteries carry a side.
CALCIFIED_ARTERIES = (
    "MCA_left",
    "MCA_right",
    "ICA_left",
    "ICA_right",
    "vertebral_left",
    "vertebral_right",
    "basilar",
)

#: Microbleed regions of MARS (CLINICAL_RULES 5.5) and certainty classes.
MARS_REGIONS = ("lobar", "deep", "infratentorial")
MARS_CERTAINTIES = ("definite", "possible")


def potter_grade(count: int) -> int:
    """Potter EPVS grade (0-4) from the count on the worst slice and side.

    CLINICAL_RULES 5.4 (Potter et al., Cerebrovasc Dis 2015): 0 none, 1 = 1-10,
    2 = 11-20, 3 = 21-40, 4 = > 40. A count of exactly 10 is grade 1 (Potter; the
    Doubal reproduction's "< 10" differs only at that boundary).

    Parameters
    ----------
    count : number of enlarged perivascular spaces (>= 0).
    """
    if count is None or int(count) != count or count < 0:
        raise ValueError(f"an EPVS count must be a non-negative integer, got {count!r}")
    for grade, upper in enumerate(POTTER_UPPER_COUNTS):
        if count <= upper:
            return grade
    return 4


def staals_svd_score(
    *,
    lacune_count: int | None,
    microbleed_count: int | None,
    epvs_basal_ganglia_grade: int | None,
    fazekas_periventricular: int | None,
    fazekas_deep: int | None,
    epvs_min_grade: int = 2,
) -> dict[str, Any]:
    """Total MRI small vessel disease burden (0-4), Staals et al. 2014.

    CLINICAL_RULES 5.3, one point each for: >= 1 lacune; >= 1 microbleed (any
    location); basal ganglia EPVS grade >= ``epvs_min_grade`` (2 in the original,
    i.e. > 10 PVS; the hypertensive-type variant "> 20" is ``epvs_min_grade=3``);
    periventricular Fazekas 3 and/or deep Fazekas >= 2.

    An item whose input is ``None`` is left out of the total and named in
    ``missing``; ``complete`` says whether all four items were known.

    Returns
    -------
    dict with ``total`` (0-4), ``items`` (each ``{"point": 0/1 or None, "rule": str,
    "value": ...}``), ``missing`` and ``complete``.
    """

    def item(value, point, rule):
        return {"point": None if value is None else int(point), "value": value, "rule": rule}

    wmh_known = fazekas_periventricular is not None or fazekas_deep is not None
    wmh_point = (fazekas_periventricular or 0) >= 3 or (fazekas_deep or 0) >= 2
    if wmh_known and not wmh_point and None in (fazekas_periventricular, fazekas_deep):
        wmh_known = False  # one grade unknown and the known one does not decide
    items = {
        "lacunes": item(lacune_count, (lacune_count or 0) >= 1, ">= 1 lacune"),
        "microbleeds": item(microbleed_count, (microbleed_count or 0) >= 1, ">= 1 microbleed"),
        "epvs_basal_ganglia": item(
            epvs_basal_ganglia_grade,
            (epvs_basal_ganglia_grade or 0) >= epvs_min_grade,
            f"basal ganglia EPVS grade >= {epvs_min_grade}",
        ),
        "wmh": {
            "point": int(wmh_point) if wmh_known else None,
            "value": {
                "fazekas_periventricular": fazekas_periventricular,
                "fazekas_deep": fazekas_deep,
            },
            "rule": "periventricular Fazekas 3 and/or deep Fazekas >= 2",
        },
    }
    missing = [name for name, it in items.items() if it["point"] is None]
    total = sum(it["point"] for it in items.values() if it["point"] is not None)
    return {
        "total": int(total),
        "items": items,
        "missing": missing,
        "complete": not missing,
        "rule": "Staals 2014 total SVD score (CLINICAL_RULES 5.3)",
        "settings": {"epvs_min_grade": epvs_min_grade},
    }


def mars_counts(microbleeds: list[Mapping[str, Any]]) -> dict[str, Any]:
    """MARS-style microbleed counts by region and certainty (CLINICAL_RULES 5.5).

    Parameters
    ----------
    microbleeds : one mapping per microbleed the reader kept, with ``region``
        (``lobar``, ``deep``, ``infratentorial`` or ``None`` when no region map was
        given) and ``certainty`` (``definite`` or ``possible``).

    Returns
    -------
    dict with ``count``, ``definite``, ``possible``, ``by_region`` (region ->
    ``{"definite": n, "possible": n}``; ``unassigned`` for microbleeds without a region).
    """
    by_region: dict[str, dict[str, int]] = {}
    for mb in microbleeds:
        certainty = mb.get("certainty", "definite")
        if certainty not in MARS_CERTAINTIES:
            raise ValueError(f"certainty must be one of {MARS_CERTAINTIES}, got {certainty!r}")
        region = mb.get("region") or "unassigned"
        if region not in (*MARS_REGIONS, "unassigned"):
            raise ValueError(f"region must be one of {MARS_REGIONS}, got {region!r}")
        counts = by_region.setdefault(region, {"definite": 0, "possible": 0})
        counts[certainty] += 1
    definite = sum(c["definite"] for c in by_region.values())
    possible = sum(c["possible"] for c in by_region.values())
    return {
        "count": definite + possible,
        "definite": definite,
        "possible": possible,
        "by_region": by_region,
    }


def grade_index(grade: str | int | None) -> int | None:
    """Ordinal 0/1/2 of a calcification grade given as text (``none/mild`` ...) or number."""
    if grade is None:
        return None
    if isinstance(grade, int | float) and not isinstance(grade, bool):
        if int(grade) != grade or not 0 <= grade < len(CALCIFICATION_GRADES):
            raise ValueError(f"a calcification grade index is 0, 1 or 2, got {grade!r}")
        return int(grade)
    text = str(grade).strip().lower()
    aliases = {"none": 0, "mild": 0, "none/mild": 0, "moderate": 1, "severe": 2}
    if text not in aliases:
        raise ValueError(
            f"unknown calcification grade {grade!r}; use one of {CALCIFICATION_GRADES}"
        )
    return aliases[text]


def intracranial_overall_grade(
    artery_grades: Mapping[str, str | int | None], rule: str = "worst"
) -> dict[str, Any]:
    """Overall intracranial calcification grade from the per-artery grades.

    CLINICAL_RULES 0b: each artery is graded none/mild (no or a few small spots),
    moderate (several spots, widely distributed) or severe (extensive calcification
    with vessel narrowing). Overall rule (``rule="worst"``, default): the patient's
    grade is the worst grade of any graded artery — severe if any artery is severe,
    else moderate if any artery is moderate, else none/mild. Arteries not graded
    (``None``) are ignored; with none graded the overall grade is ``None``.

    Returns
    -------
    dict with ``grade`` (text), ``grade_index`` (0-2), ``calcified_arteries``
    (arteries graded moderate or severe), ``rule`` and ``graded``.
    """
    if rule != "worst":
        raise ValueError(f"unknown overall rule {rule!r}; the implemented rule is 'worst'")
    unknown = set(artery_grades) - set(CALCIFIED_ARTERIES)
    if unknown:
        raise ValueError(f"unknown arteries {sorted(unknown)}; use {CALCIFIED_ARTERIES}")
    indices = {a: grade_index(g) for a, g in artery_grades.items() if g is not None}
    worst = max(indices.values()) if indices else None
    return {
        "grade": None if worst is None else CALCIFICATION_GRADES[worst],
        "grade_index": worst,
        "calcified_arteries": sorted(a for a, i in indices.items() if i >= 1),
        "graded": sorted(indices),
        "rule": "worst per-artery grade: severe if any artery severe, else moderate if any "
        "moderate, else none/mild (CLINICAL_RULES 0b)",
    }


def fazekas_sum(periventricular: int | None, deep: int | None) -> int | None:
    """Summed Fazekas score 0-6: periventricular (0-3) + deep (0-3) grade.

    CLINICAL_RULES 5.2 (Fazekas et al., AJR 1987): each region is rated 0-3 and some
    studies sum them to 0-6; ``None`` until both grades are known.
    """
    if periventricular is None or deep is None:
        return None
    return int(periventricular) + int(deep)


#: Classes of the periventricular lesion grade of the intracranial calcification vs
#: small-vessel disease study (CLINICAL_RULES 0b: "periventricular punctate lesions
#: graded 0-1 / 2 / 3").
PERIVENTRICULAR_LESION_GRADES = ("0-1", "2", "3")


def periventricular_lesion_grade(periventricular: int | None) -> str | None:
    """The study's periventricular lesion grade ``0-1``, ``2`` or ``3``.

    CLINICAL_RULES 0b lists "periventricular punctate lesions graded 0-1 / 2 / 3"
    among the markers of the intracranial calcification vs small-vessel disease
    study. The grades are read here as the periventricular Fazekas grade (0-3) with 0
    and 1 (absent; caps or pencil-thin lining) merged — [R]: the study's own wording
    of the classes could not be read; the Fazekas grade it is computed from is the
    reader's when entered, else the suggestion.
    """
    if periventricular is None:
        return None
    if periventricular not in (0, 1, 2, 3):
        raise ValueError(f"periventricular Fazekas grade must be 0-3, got {periventricular!r}")
    return PERIVENTRICULAR_LESION_GRADES[max(int(periventricular) - 1, 0)]


def fazekas_suggestion(
    *,
    periventricular_volume_ml: float,
    periventricular_extent_mm: float,
    ventricle_coverage: float,
    deep_volume_ml: float,
    deep_largest_diameter_mm: float,
    min_volume_ml: float = 0.01,
    halo_coverage: float = 0.5,
    irregular_extent_mm: float = 10.0,
    beginning_confluence_mm: float = 10.0,
    large_confluence_mm: float = 20.0,
) -> dict[str, Any]:
    """Suggested Fazekas grades from WMH measurements (a suggestion, not a rating).

    CLINICAL_RULES 5.2: the Fazekas scale is a visual rating and validated automatic
    Fazekas is not standard; this operationalisation approximates it and the reader
    records the final grade.

    Periventricular (PV) grade, from WMH within the periventricular distance:

    * 0: PV WMH volume < ``min_volume_ml``;
    * 3 (irregular, extending into deep white matter): WMH connected to the ventricle
      lining reaches ``irregular_extent_mm`` or more from the ventricle surface;
    * 2 (smooth halo): WMH lines at least ``halo_coverage`` of the ventricle surface;
    * 1 (caps or pencil-thin lining): otherwise.

    Deep grade, from WMH beyond the periventricular distance, by the largest
    connected deep lesion's maximal diameter (mm):

    * 0: deep WMH volume < ``min_volume_ml``;
    * 1 (punctate foci): largest diameter < ``beginning_confluence_mm``;
    * 2 (beginning confluence): < ``large_confluence_mm``;
    * 3 (large confluent areas): otherwise.

    Returns
    -------
    dict with ``periventricular`` and ``deep`` grades, the ``measured`` values, the
    ``rule`` text and the ``settings``.
    """
    if periventricular_volume_ml < min_volume_ml:
        pv = 0
    elif periventricular_extent_mm >= irregular_extent_mm:
        pv = 3
    elif ventricle_coverage >= halo_coverage:
        pv = 2
    else:
        pv = 1
    if deep_volume_ml < min_volume_ml:
        deep = 0
    elif deep_largest_diameter_mm < beginning_confluence_mm:
        deep = 1
    elif deep_largest_diameter_mm < large_confluence_mm:
        deep = 2
    else:
        deep = 3
    return {
        "periventricular": pv,
        "deep": deep,
        "measured": {
            "periventricular_volume_ml": periventricular_volume_ml,
            "periventricular_extent_mm": periventricular_extent_mm,
            "ventricle_coverage": ventricle_coverage,
            "deep_volume_ml": deep_volume_ml,
            "deep_largest_diameter_mm": deep_largest_diameter_mm,
        },
        "rule": (
            "suggested Fazekas (CLINICAL_RULES 5.2, not a validated automatic rating): "
            f"PV 0 if PV volume < {min_volume_ml} mL, 3 if lining WMH reaches "
            f">= {irregular_extent_mm} mm from the ventricles, 2 if it lines >= "
            f"{halo_coverage:.0%} of the ventricle surface, else 1; deep 0 if deep volume < "
            f"{min_volume_ml} mL, 1 if the largest deep lesion is < {beginning_confluence_mm} mm, "
            f"2 if < {large_confluence_mm} mm, else 3"
        ),
        "settings": {
            "min_volume_ml": min_volume_ml,
            "halo_coverage": halo_coverage,
            "irregular_extent_mm": irregular_extent_mm,
            "beginning_confluence_mm": beginning_confluence_mm,
            "large_confluence_mm": large_confluence_mm,
        },
    }
