"""Per-plaque records along a vessel: every plaque with its own wall metrics and calcium.

The vertebrobasilar VW-MRI + CT study (CLINICAL_RULES 0b) compares plaques, not
arteries: each plaque has its stenosis, plaque burden, remodeling index and
enhancement at its own narrowest site, and the calcifications inside it (present,
count, spotty count, intimal vs IEL pattern, density and volume). :func:`plaque_records`
makes one record per plaque from the per-cross-section wall table
(:func:`napari_calcium.vessel.wall.measure_wall`) and the calcifications
(:func:`napari_calcium.intracranial.measure_calcifications`):

* a plaque is a run of consecutive cross-sections whose normalised wall index
  exceeds that of the reference (normal) site by ``plaque_nwi_margin`` — the rule
  :func:`~napari_calcium.vessel.wall.summarise_plaque` uses for the plaque length —
  at least ``min_length_mm`` long, outside ``end_margin_mm`` at both ends of the
  centreline; runs separated by less than ``merge_gap_mm`` are one plaque;
* its metrics are those of :func:`~napari_calcium.vessel.wall.site_summary` at its
  narrowest cross-section (smallest lumen area) against the artery's reference site
  (the reader's, or the proximal normal segment chosen for the artery), WASID
  stenosis on measured diameters;
* its calcifications are those whose extent along the centreline overlaps the
  plaque's, widened by ``calcium_margin_mm`` (the wall thickening tapers while the
  calcium may reach its ends); a calcification overlapping two plaques goes to the
  one it overlaps most. The plaque's pattern is scored on its calcifications as an
  artery segment of its own (:func:`~napari_calcium.scores.intracranial.segment_grades`,
  Kockelkoren items over the segment, the configured two- or three-class reading);
* ``location`` is the artery segment (``segments``) holding its narrowest site.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import numpy as np

from napari_calcium.scores import intracranial as scores
from napari_calcium.vessel import wall

#: Column order of the per-plaque table (CSV, cohort tables).
PLAQUE_RECORD_KEYS = (
    "id",
    "location",
    "start_mm",
    "end_mm",
    "plaque_length_mm",
    "narrowest_mm",
    "stenosis_pct",
    "stenosis_area_based_pct",
    "plaque_burden_pct",
    "remodeling_index",
    "remodeling",
    "enhancement_ratio",
    "lumen_area_mm2",
    "outer_wall_area_mm2",
    "wall_area_mm2",
    "normalized_wall_index",
    "max_wall_thickness_mm",
    "min_wall_thickness_mm",
    "eccentricity_index",
    "eccentric",
    "class",
    "calcified_fraction",
    "calcified",
    "n_calcifications",
    "n_spotty",
    "calcification_ids",
    "pattern",
    "pattern_two_class",
    "pattern_three_class",
    "intimal_predominant",
    "iel_predominant",
    "calcium_volume_mm3",
    "calcium_mean_hu",
    "calcium_peak_hu",
    "reference_mm",
)


def default_plaque_settings() -> dict:
    """The plaque-finding parameters with their defaults (see the module docstring)."""
    return {
        "min_length_mm": 1.0,
        "merge_gap_mm": 1.0,
        "calcium_margin_mm": 1.0,
        "plaque_unit": "a run of cross-sections whose NWI exceeds the reference NWI by "
        "plaque_nwi_margin (the wall settings' value)",
    }


def find_plaque_runs(
    table: list[dict],
    reference_frame: int,
    plaque_nwi_margin: float = 0.1,
    end_margin_mm: float = 1.0,
    min_length_mm: float = 1.0,
    merge_gap_mm: float = 1.0,
) -> list[tuple[int, int]]:
    """First and last cross-section of every plaque, proximal first.

    A cross-section is thickened when its NWI >= the reference's NWI +
    ``plaque_nwi_margin``; runs closer than ``merge_gap_mm`` are merged, runs shorter
    than ``min_length_mm`` (counted as cross-sections x spacing) dropped, and
    cross-sections within ``end_margin_mm`` of the centreline's ends ignored.
    """
    if not table:
        return []
    arc = np.array([r["arc_mm"] for r in table])
    nwi = np.array([r["normalized_wall_index"] for r in table])
    step = float(arc[1] - arc[0]) if len(arc) > 1 else 0.0
    inner = (arc >= arc[0] + end_margin_mm) & (arc <= arc[-1] - end_margin_mm)
    thickened = inner & (nwi >= nwi[reference_frame] + plaque_nwi_margin)
    runs: list[list[int]] = []
    for index in np.flatnonzero(thickened):
        if runs and (index - runs[-1][1] - 1) * step < merge_gap_mm:
            runs[-1][1] = int(index)
        else:
            runs.append([int(index), int(index)])
    return [(lo, hi) for lo, hi in runs if (hi - lo + 1) * step >= min_length_mm]


def plaque_records(
    table: list[dict],
    artery_plaque: dict,
    calcifications: list[dict],
    segments: Mapping[str, tuple[float, float]],
    score_settings: Mapping,
    wall_settings: Mapping | None = None,
    plaque_settings: Mapping | None = None,
) -> list[dict]:
    """One record per plaque along the vessel (see the module docstring).

    Parameters
    ----------
    table : per-cross-section wall table (``measure_wall(...)["table"]``).
    artery_plaque : the artery's :func:`~napari_calcium.vessel.wall.summarise_plaque`
        result; its reference site (``reference_frame``, ``reference_choice``) is
        every plaque's reference.
    calcifications : measured and scored calcifications (``run_intracranial``).
    segments : artery segments ``name -> (start_mm, end_mm)``, for ``location``.
    score_settings : the score settings in use
        (:func:`~napari_calcium.scores.intracranial.default_settings` and overrides).
    wall_settings, plaque_settings : overrides of
        :func:`~napari_calcium.vessel.wall.default_wall_settings` and
        :func:`default_plaque_settings`.

    Returns
    -------
    list of dicts with the keys of :data:`PLAQUE_RECORD_KEYS` (units in the names),
    proximal first, ``id`` 1, 2, ...
    """
    wall_cfg = {**wall.default_wall_settings(), **(wall_settings or {})}
    cfg = {**default_plaque_settings(), **(plaque_settings or {})}
    ref = int(artery_plaque["reference_frame"])
    runs = find_plaque_runs(
        table,
        ref,
        wall_cfg["plaque_nwi_margin"],
        wall_cfg["end_margin_mm"],
        cfg["min_length_mm"],
        cfg["merge_gap_mm"],
    )
    arc = np.array([r["arc_mm"] for r in table])
    la = np.array([r["lumen_area_mm2"] for r in table])
    spans = [(float(arc[lo]), float(arc[hi])) for lo, hi in runs]
    owner = _assign_calcifications(calcifications, spans, cfg["calcium_margin_mm"])
    records = []
    for number, ((lo, hi), (start, end)) in enumerate(zip(runs, spans, strict=True), start=1):
        site = lo + int(np.argmin(la[lo : hi + 1]))
        metrics = wall.site_summary(
            table,
            site,
            ref,
            artery_plaque["reference_choice"],
            (lo, hi),
            score_settings["remodeling_positive_min"],
            score_settings["remodeling_negative_max"],
            score_settings["calcified_plaque_min_fraction"],
            score_settings["eccentric_min_index"],
        )
        members = [c for c, k in zip(calcifications, owner, strict=True) if k == number - 1]
        records.append(
            {
                "id": number,
                "location": _location(metrics["narrowest_mm"], segments),
                "start_mm": start,
                "end_mm": end,
                **metrics,
                **_calcium(members, score_settings),
            }
        )
    return [{**{k: r.get(k) for k in PLAQUE_RECORD_KEYS}, **r} for r in records]


def _assign_calcifications(calcifications, spans, margin_mm) -> list[int | None]:
    """Index of the plaque each calcification lies in (largest overlap), or None."""
    owner = []
    for c in calcifications:
        lo, hi = float(c["start_mm"]), float(c["end_mm"])
        overlaps = [min(hi, b + margin_mm) - max(lo, a - margin_mm) for a, b in spans]
        best = int(np.argmax(overlaps)) if overlaps else None
        owner.append(best if best is not None and overlaps[best] >= 0 else None)
    return owner


def _location(position_mm: float, segments: Mapping[str, tuple[float, float]]) -> str | None:
    for name, (lo, hi) in segments.items():
        if lo <= position_mm <= hi:
            return name
    return None


def _calcium(members: list[dict], score_settings: Mapping) -> dict:
    """The calcium fields of a plaque record from the calcifications inside it."""
    # scored as a segment of its own, on copies (segment_grades annotates its input)
    items = scores.segment_grades(
        copy.deepcopy(members), {"plaque": (-np.inf, np.inf)}, score_settings
    )
    items = items["plaque"]
    volume = float(sum(c["volume_mm3"] for c in members))
    mean_hu = (
        float(sum(c["mean_hu"] * c["volume_mm3"] for c in members) / volume) if volume else None
    )
    calcified = bool(members)
    return {
        "calcified": calcified,
        "n_calcifications": len(members),
        "n_spotty": int(sum(bool(c["spotty"]) for c in members)),
        "calcification_ids": [c["id"] for c in members],
        "pattern": items["pattern"],
        "pattern_two_class": items["pattern_two_class"],
        "pattern_three_class": items["pattern_three_class"],
        "intimal_predominant": int(items["pattern"] == "intimal-predominant"),
        "iel_predominant": int(items["pattern"] == "IEL-predominant"),
        "calcium_volume_mm3": volume,
        "calcium_mean_hu": mean_hu,
        "calcium_peak_hu": max((float(c["peak_hu"]) for c in members), default=None),
        "pattern_items": {
            k: items[k] for k in ("circularity", "thickness_class", "morphology", "pattern_points")
        },
    }
