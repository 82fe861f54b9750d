"""Coronary artery calcium: candidates, lesions and scores from a CT and artery labels.

The reader's work is one label image of arteries (by default 1 LM, 2 LAD, 3 LCX,
4 RCA) on the CT grid; every score is a pure function of (CT, artery labels,
:class:`CoronarySettings`). :func:`run_coronary` returns the whole result as plain
JSON values; :func:`measure_coronary` also returns the lesion label image.

Conventions (CLINICAL_RULES section 1; each is a setting and is recorded in the
output ``settings``):

* calcium = voxels ``>= threshold_hu`` (130 HU) that carry an artery label;
* slice-lesions = 2-D connected regions per axial slice (array axis 0) and per artery,
  8-connected, kept when their area is ``>= min_area_mm2`` (1 mm²) and, optionally,
  ``>= min_pixels``; a region straddling two artery labels is split by label and
  each part gets its own peak and density factor;
* Agatston = sum over slice-lesions of area x factor(peak HU of that slice-lesion);
* lesions = 3-D connected regions (26-connected, within one artery) of the voxels of
  qualifying slice-lesions: volume = voxels x voxel volume, mass = c x V x mean HU;
* slice handling, ``slice_mode``:

  - ``"resample3mm"`` (default, CLINICAL_RULES 1.2 "preferred"): when the slice
    increment is not 3 mm, the CT is first averaged into contiguous 3-mm slabs
    (:func:`resample_to_slabs`) and every score is computed on those slabs, as in
    the reference populations;
  - ``"native"``: scored on the acquired slices and the Agatston sum multiplied by
    ``slice increment / 3 mm`` (reported as the 3-mm-equivalent Agatston).

* partial last slab (``resample3mm``): when the scan does not end on a 3-mm
  boundary, the last slab holds less than 3 mm of scanned tissue. It is averaged
  over the part the scan covers and scored over that thickness only: its
  slice-lesions count ``covered / 3 mm`` of their area x factor, and its voxels
  ``pixel area x covered mm`` of volume and mass. This is the same rule as the
  ``increment / 3 mm`` factor of native thin slices (CLINICAL_RULES 1.2: each
  image scores for the z-extent it represents) and as the volume definition
  (CLINICAL_RULES 1.3: pixel area x the thickness a voxel represents), so native
  and resampled scores agree on calcium in the last slab. A slab is never scored
  as 3 mm of tissue the scan did not see; the result lists the partial slabs
  (``settings.partial_slabs``).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from napari_calcium.calcium import hu, mass, safety
from napari_calcium.calcium.components import forward_offsets, sparse_components
from napari_calcium.errors import InputError
from napari_calcium.scores import agatston as score
from napari_calcium.volume import Volume, require_volumes

log = logging.getLogger(__name__)

#: Default artery label values and names (CLINICAL_RULES 1.7).
ARTERY_NAMES: dict[int, str] = {1: "LM", 2: "LAD", 3: "LCX", 4: "RCA"}
#: Default display colours of the arteries (hex RGB).
ARTERY_COLORS: dict[int, str] = {1: "#e6194b", 2: "#3cb44b", 3: "#4363d8", 4: "#f58231"}
#: Colours of labels beyond the four main arteries (distinct from ARTERY_COLORS).
EXTRA_COLORS = ("#911eb4", "#42d4f4", "#f032e6", "#bfef45", "#469990", "#9a6324", "#800000")
#: Name under which candidates are scored when no artery labels are given.
UNASSIGNED = "unassigned"
SLICE_MODES = ("resample3mm", "native")
#: Candidate threshold rules: ``fixed`` (``threshold_hu``, or the kV table with
#: ``kvp_adjusted``) and ``kvp_formula`` (round(378 exp(-0.009 kV)) HU).
THRESHOLD_RULES = ("fixed", "kvp_formula")
#: The HU checks of ``CoronarySettings.hu_check`` and the rule each applies
#: (:func:`napari_calcium.calcium.hu.check_ct_hu`, its rules ``air`` and ``cropped``).
HU_CHECKS: dict[str, str] = {
    "air": hu.RULES["air"],
    "cropped": hu.RULES["cropped"],
    "off": "no check: the caller vouches that the values are HU",
}


@dataclass(frozen=True)
class CoronarySettings:
    """Every convention of coronary calcium scoring (CLINICAL_RULES 1.1-1.7).

    Attributes
    ----------
    threshold_hu : candidate threshold (HU); CLINICAL_RULES 1.1 [C] ``>`` vs ``>=``.
    inclusive_threshold : ``True`` counts voxels equal to the threshold.
    weight_edges_hu : HU where the density factor becomes 2, 3 and 4.
    kvp_adjusted : take threshold and edges from the CT's kVp
        (:data:`napari_calcium.scores.agatston.KVP_EDGES_HU`, values [R]).
    threshold_rule : ``"fixed"`` (default: ``threshold_hu`` or, with ``kvp_adjusted``,
        the kV table) or ``"kvp_formula"``: candidates from
        :func:`~napari_calcium.scores.agatston.kvp_formula_threshold_hu` of the CT's kVp,
        density weights from the kV table, weight 0 below its first edge (the band
        between counts in volume and mass, not in Agatston), as CalciumScoring.jl.
    category_scheme : ``"rumberger"`` (default, 0 / 1-10 / 11-100 / 101-400 / >400)
        or ``"mesa"`` (0 / 1-99 / 100-399 / >=400); CAC-DRS is reported either way.
    min_area_mm2 : minimum slice-lesion area, applied as ``>=`` (1 mm²).
    min_pixels : optional minimum pixel count per slice-lesion (e.g. 3), also ``>=``.
    connectivity_2d : in-plane connectivity of slice-lesions, 4 or 8.
    connectivity_3d : connectivity of 3-D lesions, 6, 18 or 26 (must contain the 2-D one).
    slice_mode : ``"resample3mm"`` (default) or ``"native"``.
    calibration_mg_cm3_per_hu : mass calibration factor c (mg HA / cm³ per HU); no
        mass score and no integrated mass without it.
    calibration_insert_hu, calibration_insert_sd_hu, calibration_rho_mg_cm3 : mean
        and SD of the HU in a calibration insert and its density (mg HA/cm³), e.g. from
        :func:`calibration_from_rois`; the volume-fraction mass needs the mean and the
        density, the SWCS the mean and SD (MESA used a 100 mg HA/cm³ insert).
    mass_roi_margin_mm, mass_ring_mm : ROI margin around each labelled region (1.5 mm)
        and the width of the background shell beyond it (3 mm) of the threshold-free
        measures (:mod:`.mass`, where the choice is explained).
    artery_names : label value -> artery name; LM, LAD, LCX and RCA count for CAC-DRS N.
    artery_colors : label value -> hex colour for display and reports.
    radiomics : add PyRadiomics features per lesion.
    hu_check : how the CT is checked to be in HU (:data:`HU_CHECKS`): ``"air"``
        (default; ``True``) refuses a CT whose minimum is above -200 HU; ``"cropped"``
        takes a CT in HU cropped inside the body (no air) and checks its soft tissue
        instead; ``"off"`` (``False``) checks nothing.
    contrast_check : look for an iodine-enhanced blood pool
        (:func:`napari_calcium.calcium.safety.blood_pool`) and refuse to score it.
    allow_contrast : score a contrast CT anyway (with a warning in the result).
    max_lesion_volume_mm3, max_peak_hu : lesions above either limit are flagged as
        implausible and not counted (:func:`napari_calcium.calcium.safety.lesion_flags`).
    heart_margin_mm : with a heart mask, lesions whose centroid lies farther than this
        outside it are flagged and not counted.
    count_implausible : count flagged lesions after all (the reader has checked them).
    """

    threshold_hu: float = 130.0
    inclusive_threshold: bool = True
    weight_edges_hu: tuple[float, float, float] = score.STANDARD_WEIGHT_EDGES_HU
    kvp_adjusted: bool = False
    threshold_rule: str = "fixed"
    category_scheme: str = "rumberger"
    min_area_mm2: float = 1.0
    min_pixels: int | None = None
    connectivity_2d: int = 8
    connectivity_3d: int = 26
    slice_mode: str = "resample3mm"
    calibration_mg_cm3_per_hu: float | None = None
    calibration_insert_hu: float | None = None
    calibration_insert_sd_hu: float | None = None
    calibration_rho_mg_cm3: float | None = None
    mass_roi_margin_mm: float = 1.5
    mass_ring_mm: float = 3.0
    artery_names: dict[int, str] = field(default_factory=lambda: dict(ARTERY_NAMES))
    artery_colors: dict[int, str] = field(default_factory=lambda: dict(ARTERY_COLORS))
    radiomics: bool = False
    hu_check: str = "air"
    contrast_check: bool = True
    allow_contrast: bool = False
    max_lesion_volume_mm3: float = 1500.0
    max_peak_hu: float = 3000.0
    heart_margin_mm: float = 10.0
    count_implausible: bool = False

    def __post_init__(self):
        if isinstance(self.hu_check, bool):  # True / False before the check had a rule
            object.__setattr__(self, "hu_check", "air" if self.hu_check else "off")
        if self.hu_check not in HU_CHECKS:
            raise InputError(
                f"HU check {self.hu_check!r} is unknown", f"use one of {', '.join(HU_CHECKS)}"
            )
        if self.slice_mode not in SLICE_MODES:
            raise InputError(
                f"slice mode {self.slice_mode!r} is unknown",
                f"use one of {', '.join(SLICE_MODES)}",
            )
        if self.threshold_rule not in THRESHOLD_RULES:
            raise InputError(
                f"threshold rule {self.threshold_rule!r} is unknown",
                f"use one of {', '.join(THRESHOLD_RULES)}",
            )
        if self.category_scheme not in score.CATEGORY_SCHEMES:
            raise InputError(
                f"category scheme {self.category_scheme!r} is unknown",
                f"use one of {', '.join(score.CATEGORY_SCHEMES)}",
            )
        if not self.min_area_mm2 >= 0:
            raise InputError(f"minimum area must be >= 0 mm², got {self.min_area_mm2}")
        if self.calibration_mg_cm3_per_hu is not None and not self.calibration_mg_cm3_per_hu > 0:
            raise InputError(
                f"calibration factor must be positive, got {self.calibration_mg_cm3_per_hu}",
                "derive it with scores.agatston.mass_calibration_factor from an HA insert",
            )
        for name in ("calibration_insert_sd_hu", "calibration_rho_mg_cm3"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise InputError(f"{name} must be positive, got {value}")
        if not (self.mass_roi_margin_mm > 0 and self.mass_ring_mm > 0):
            raise InputError(
                "the ROI margin and background ring of the threshold-free measures must be "
                f"positive, got {self.mass_roi_margin_mm} and {self.mass_ring_mm} mm"
            )
        if any(int(k) <= 0 for k in self.artery_names):
            raise InputError("artery label values must be positive integers (0 = background)")
        try:
            forward_offsets(self.connectivity_2d, self.connectivity_3d)
            edges = [float(e) for e in self.weight_edges_hu]
            score.density_weight([], edges)
        except ValueError as err:
            raise InputError(str(err)) from err
        if not edges[0] > self.threshold_hu:
            raise InputError(
                f"the weight-2 edge ({edges[0]} HU) must lie above the threshold "
                f"({self.threshold_hu} HU)"
            )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CoronarySettings:
        """Settings from :meth:`to_dict` or from a result's ``settings`` (other keys ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in names}
        if kwargs.get("threshold_rule") in (">=", ">"):
            del kwargs["threshold_rule"]  # recorded before the rule was a setting
        for key in ("artery_names", "artery_colors"):
            if key in kwargs:
                kwargs[key] = {int(k): v for k, v in kwargs[key].items()}
        if "weight_edges_hu" in kwargs:
            kwargs["weight_edges_hu"] = tuple(kwargs["weight_edges_hu"])
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (label keys as strings)."""
        d = dataclasses.asdict(self)
        d["weight_edges_hu"] = list(self.weight_edges_hu)
        d["artery_names"] = {str(k): v for k, v in self.artery_names.items()}
        d["artery_colors"] = {str(k): v for k, v in self.artery_colors.items()}
        return d


@dataclass
class CoronaryResult:
    """Output of :func:`measure_coronary`.

    Attributes
    ----------
    report : the JSON-able result (see :func:`run_coronary`).
    scoring_ct : the CT the scores were computed on (the input, or its 3-mm slabs).
    voxel_index : flat C-order indices (in ``scoring_ct``) of the scored calcium voxels.
    voxel_lesion : lesion id (1..n) of each scored voxel.
    """

    report: dict[str, Any]
    scoring_ct: Volume
    voxel_index: np.ndarray
    voxel_lesion: np.ndarray

    def lesion_labels(self) -> Volume:
        """The lesion label image (one id per lesion, 0 elsewhere) on the scoring grid."""
        n = int(self.voxel_lesion.max(initial=0))
        dtype = np.uint16 if n < 2**16 else np.int32
        labels = np.zeros(self.scoring_ct.shape, dtype)
        labels.reshape(-1)[self.voxel_index] = self.voxel_lesion
        return self.scoring_ct.replace(array=labels, modality="LABELS", units="label")


def artery_names_from_text(text: str) -> dict[int, str]:
    """Names of artery labels 1, 2, ... from a comma-separated list ("LM, LAD, LCX, RCA, D1")."""
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise InputError(
            f"artery names {text!r} have an empty entry",
            "give one name per label 1, 2, 3, ..., separated by commas",
        )
    if len({n.lower() for n in names}) < len(names):
        raise InputError(f"artery names {text!r} repeat a name", "give each label its own name")
    return dict(enumerate(names, start=1))


def artery_colors_for(names: dict[int, str]) -> dict[int, str]:
    """Label -> colour: LM, LAD, LCX and RCA keep theirs wherever listed, others get extras."""
    main = {name: ARTERY_COLORS[code] for code, name in ARTERY_NAMES.items()}
    extra = iter(EXTRA_COLORS * (len(names) // len(EXTRA_COLORS) + 1))
    return {code: main.get(name) or next(extra) for code, name in names.items()}


def check_same_grid(ct: Volume, arteries: Volume) -> None:
    """Refuse artery labels that are not on the CT's voxel grid, naming what differs."""
    if ct.same_grid(arteries):
        return
    raise InputError(
        "the artery label image is not on the CT's grid: "
        + "; ".join(ct.grid_differences(arteries)),
        "draw the artery labels on this CT (or resample them onto it) and save them with "
        "the CT's geometry",
    )


def calibration_from_rois(
    ct: Volume, rois: Volume, rho_ha_mg_cm3: float, insert_label: int = 1, water_label: int = 2
) -> dict[str, float]:
    """Mass calibration factor from a hydroxyapatite insert and a water ROI on the CT.

    ``c = rho_HA / (mean HU in the insert - mean HU in water)`` (CLINICAL_RULES 1.4).

    Parameters
    ----------
    ct : the CT in HU.
    rois : label image on the CT's grid: ``insert_label`` marks the HA insert,
        ``water_label`` water or a water-equivalent region.
    rho_ha_mg_cm3 : HA density of the insert (mg HA / cm³), from the phantom's sheet.

    Returns
    -------
    dict
        ``factor_mg_cm3_per_hu``, ``insert_hu``, ``water_hu``, ``insert_sd_hu`` (sample
        SD of the insert's HU, for the SWCS), ``rho_ha_mg_cm3``.
    """
    if not ct.same_grid(rois):
        raise InputError("the calibration ROIs are not on the CT's grid", "draw them on this CT")
    labels = np.asarray(rois.array)
    values = np.asarray(ct.array)
    means = {}
    for name, label in (("insert", insert_label), ("water", water_label)):
        inside = labels == label
        if not inside.any():
            raise InputError(
                f"no {name} ROI (label {label}) in the calibration labels",
                f"paint the {name} with label {label}",
            )
        means[name] = float(values[inside].mean())
        if name == "insert":
            insert_sd = float(values[inside].std(ddof=1)) if inside.sum() > 1 else 0.0
    try:
        factor = score.mass_calibration_factor(rho_ha_mg_cm3, means["insert"], means["water"])
    except ValueError as err:
        raise InputError(str(err), "check which ROI is the insert and which is water") from err
    return {
        "factor_mg_cm3_per_hu": factor,
        "insert_hu": means["insert"],
        "water_hu": means["water"],
        "insert_sd_hu": insert_sd,
        "rho_ha_mg_cm3": float(rho_ha_mg_cm3),
    }


def calibration_settings(calibration: dict[str, float]) -> dict[str, float | None]:
    """The :class:`CoronarySettings` fields set by a :func:`calibration_from_rois` result.

    An insert with no HU spread (SD 0, a noise-free phantom) gives no SWCS weights, so
    its SD is left unset.
    """
    return {
        "calibration_mg_cm3_per_hu": calibration["factor_mg_cm3_per_hu"],
        "calibration_insert_hu": calibration["insert_hu"],
        "calibration_insert_sd_hu": calibration["insert_sd_hu"] or None,
        "calibration_rho_mg_cm3": calibration["rho_ha_mg_cm3"],
    }


def resample_to_slabs(
    ct: Volume, arteries: Volume | None = None, slab_mm: float = score.REFERENCE_SLICE_MM
) -> tuple[Volume, Volume | None]:
    """Average a CT into contiguous slabs of ``slab_mm`` along the slice axis (axis 0).

    Each acquired slice is taken as a box of width = slice increment; each slab
    value is the overlap-weighted mean of the slices it covers, so a 3-mm slab from
    1-mm slices is the plain mean of three slices and from 0.625-mm slices weighs
    4.8 slices (the partial ones by their overlap). Slabs start at the leading edge
    of the first slice; a last slab that is only partly covered is averaged over its
    covered part (its thickness: :func:`slab_coverage_mm`). Artery labels follow: a
    slab voxel gets the non-zero label with the largest covered fraction (0 only if
    none of its slices is labelled).

    The exact box average is done with numpy; ``SimpleITK.ResampleImageFilter``
    interpolates point samples and does not average slabs.

    Returns
    -------
    ct_slabs : float32 HU, spacing z = ``slab_mm``, same in-plane grid and direction.
    arteries_slabs : labels on the same slab grid, or ``None``.
    """
    dz = ct.spacing_mm[2]
    n_in = ct.shape[0]
    n_out = max(1, math.ceil(n_in * dz / slab_mm - 1e-6))
    edges_in = np.arange(n_in + 1) * dz
    array = np.asarray(ct.array)
    labels = None if arteries is None else np.asarray(arteries.array)
    label_values = [] if labels is None else np.unique(labels.reshape(-1)[np.flatnonzero(labels)])
    out = np.empty((n_out, *ct.shape[1:]), np.float32)
    out_labels = None if labels is None else np.zeros((n_out, *ct.shape[1:]), labels.dtype)
    for s in range(n_out):
        low, high = s * slab_mm, (s + 1) * slab_mm
        overlap = np.clip(np.minimum(edges_in[1:], high) - np.maximum(edges_in[:-1], low), 0, None)
        take = np.flatnonzero(overlap > 1e-9)
        weights = overlap[take] / overlap[take].sum()
        out[s] = 0.0
        for i, w in zip(take, weights, strict=True):
            out[s] += np.float32(w) * array[i]
        if len(label_values):
            stack = labels[take]
            where = np.nonzero(stack.any(axis=0))  # labels are sparse: work on labelled pixels
            columns = stack[(slice(None), *where)]
            best = np.zeros(columns.shape[1], np.float32)
            chosen = np.zeros(columns.shape[1], labels.dtype)
            for value in label_values:
                fraction = weights @ (columns == value)
                better = fraction > best
                chosen[better] = value
                best[better] = fraction[better]
            out_labels[s][where] = chosen
    # slab centre s sits at (s + 0.5) * slab_mm from the leading edge (index -0.5)
    first_centre_index = -0.5 + 0.5 * slab_mm / dz
    origin = ct.index_to_physical((first_centre_index, 0.0, 0.0))
    acquisition = dataclasses.replace(
        ct.acquisition, slice_thickness_mm=slab_mm, slice_increment_mm=slab_mm
    )
    geometry = {
        "spacing_mm": (ct.spacing_mm[0], ct.spacing_mm[1], slab_mm),
        "origin_mm": tuple(origin),
        "acquisition": acquisition,
    }
    ct_slabs = ct.replace(array=out, **geometry)
    arteries_slabs = None if arteries is None else arteries.replace(array=out_labels, **geometry)
    return ct_slabs, arteries_slabs


def slab_coverage_mm(
    n_slices: int, increment_mm: float, slab_mm: float = score.REFERENCE_SLICE_MM
) -> np.ndarray:
    """Thickness (mm) of scanned tissue in each slab of :func:`resample_to_slabs`.

    ``n_slices`` slices of ``increment_mm`` cover ``n_slices x increment_mm`` from the
    leading edge of the first; every slab is ``slab_mm`` thick except a last one that
    the scan covers only partly (e.g. 1.5-mm slices ending at 4.5 mm: ``[3, 1.5]``).
    """
    extent_mm = n_slices * increment_mm
    n_out = max(1, math.ceil(extent_mm / slab_mm - 1e-6))
    covered = np.full(n_out, float(slab_mm))
    covered[-1] = min(slab_mm, extent_mm - (n_out - 1) * slab_mm)
    return covered


def run_coronary(
    ct: Volume,
    arteries: Volume | None = None,
    settings: CoronarySettings | dict[str, Any] | None = None,
    heart: Volume | None = None,
) -> dict[str, Any]:
    """Coronary calcium scores of a CT with the reader's artery labels, as JSON values.

    Parameters
    ----------
    ct : non-contrast CT in HU, ``(z, y, x)``, axial slices along array axis 0.
    arteries : label image on the CT's grid (see ``settings.artery_names``); ``None``
        measures every candidate as ``"unassigned"``: shown apart (``unassigned``),
        never as the headline score, category or CAC-DRS.
    settings : conventions, as :class:`CoronarySettings` or a dict of its fields (e.g. the
        ``settings`` of an earlier result); defaults to ``CoronarySettings()``.
    heart : optional heart mask (any grid, same physical frame): lesions outside it are
        flagged and not counted.

    A contrast CT is refused (``InputError``) unless ``settings.allow_contrast``.

    Returns
    -------
    dict
        ``agatston`` (``None`` without artery labels), ``agatston_reported`` (the
        integer reported clinically, half up), ``volume_mm3``, ``mass_mg`` (``None``
        without calibration), ``lesion_count``, ``category``, ``cac_drs``, ``scored``
        (False without artery labels), ``unassigned`` (sums of unassigned candidates
        or ``None``), ``contrast`` (the blood-pool check), ``implausible`` (flagged
        lesions, not counted), ``per_artery`` (name ->
        ``agatston``, ``volume_mm3``, ``mass_mg``, ``lesions``), ``lesions`` (one dict
        per 3-D lesion), ``slice_lesions`` (one dict per scored slice-lesion),
        ``settings`` (every convention used) and ``warnings``.
    """
    return measure_coronary(ct, arteries, settings, heart).report


def measure_coronary(
    ct: Volume,
    arteries: Volume | None = None,
    settings: CoronarySettings | dict[str, Any] | None = None,
    heart: Volume | None = None,
) -> CoronaryResult:
    """As :func:`run_coronary`, also returning the lesions (see :class:`CoronaryResult`)."""
    require_volumes(ct=ct, arteries=arteries, heart=heart)
    if isinstance(settings, dict):
        settings = CoronarySettings.from_dict(settings)
    settings = settings or CoronarySettings()
    warnings: list[str] = []
    hu.check_ct_hu(ct, air=settings.hu_check == "air", cropped=settings.hu_check == "cropped")
    if arteries is not None:
        check_same_grid(ct, arteries)
    contrast = _check_contrast(ct, settings, warnings)
    threshold_hu, edges_hu, weight_one_hu = _thresholds(ct, settings, warnings)
    increment_mm = _slice_increment(ct, warnings)
    if not np.allclose(np.abs(ct.direction), np.eye(3), atol=1e-3):
        warnings.append(
            "the CT slices are not axial (oblique direction cosines); Agatston is computed "
            "per slice of array axis 0"
        )
    resampled = settings.slice_mode == "resample3mm" and not math.isclose(
        increment_mm, score.REFERENCE_SLICE_MM, abs_tol=1e-6
    )
    if resampled:
        scoring_ct, scoring_arteries = resample_to_slabs(ct, arteries)
        thickness_mm = slab_coverage_mm(ct.shape[0], increment_mm)
    else:
        scoring_ct, scoring_arteries = ct, arteries
        thickness_mm = np.full(ct.shape[0], increment_mm)
    # each scoring slice scores for the z-extent it represents (module docstring)
    slice_factor = np.array([score.native_slice_factor(t) for t in thickness_mm])
    partial = _partial_slabs(thickness_mm) if resampled else []
    if partial:
        warnings.append(
            "the scan ends inside a 3-mm slab: slab "
            + ", ".join(f"{p['index']} covers {p['covered_mm']:g} mm" for p in partial)
            + "; it is scored over the covered thickness only"
        )
    names = {int(k): v for k, v in settings.artery_names.items()}
    if scoring_arteries is None:
        warnings.append(
            "no artery labels: every candidate above threshold (bone, valves, aorta "
            "included) is measured as 'unassigned' and shown apart, with no Agatston "
            "total, category or CAC-DRS; assign lesions to arteries for a coronary score"
        )
        names[0] = UNASSIGNED

    voxels, labelled = _calcium_voxels(scoring_ct, scoring_arteries, threshold_hu, settings, names)
    weights = (edges_hu, weight_one_hu)
    slices = _slice_lesions(voxels, scoring_ct, settings, weights, slice_factor, thickness_mm)
    lesions = _lesions(voxels, slices, scoring_ct, settings, thickness_mm)
    regions = _threshold_free(scoring_ct, voxels, labelled, thickness_mm, threshold_hu, settings)
    lesions.update(regions["per_lesion"])
    warnings += regions["warnings"]
    lesions["flags"] = safety.lesion_flags(
        lesions["volume_mm3"],
        lesions["peak_hu"],
        lesions["centroid_mm"],
        settings.max_lesion_volume_mm3,
        settings.max_peak_hu,
        heart,
        settings.heart_margin_mm,
        contrast["blood_pool_hu"] if contrast and contrast["enhanced"] else None,
    )
    counted = np.array([not f or settings.count_implausible for f in lesions["flags"]], bool)
    if not counted.all():
        warnings.append(
            f"{int((~counted).sum())} implausible lesion(s) not counted (see 'implausible'); "
            "exclude them, or count them after checking (count_implausible)"
        )

    def sums(selection) -> dict[str, Any]:
        return {
            "agatston": float(lesions["agatston"][selection].sum()),
            "volume_mm3": float(lesions["volume_mm3"][selection].sum()),
            "mass_mg": _sum_or_none(lesions["mass_mg"], selection),
            "lesions": int(selection.sum()),
        }

    per_artery = {
        name: {
            **sums(counted & (lesions["artery"] == code)),
            **_region_sums(regions["rows"], code),
        }
        for code, name in names.items()
    }
    unassigned = per_artery.pop(UNASSIGNED, None)
    total = float(lesions["agatston"][counted & (lesions["artery"] != 0)].sum())
    n_vessels = None
    if scoring_arteries is not None:
        by_name = {name: v["agatston"] for name, v in per_artery.items()}
        n_vessels = score.vessels_with_calcium(by_name, CAC_DRS_VESSELS)
        apart = [n for n, a in by_name.items() if a > 0 and n not in CAC_DRS_VESSELS]
        if apart:
            warnings.append(
                f"calcium in {', '.join(apart)} is not counted in CAC-DRS N, which counts "
                f"{', '.join(CAC_DRS_VESSELS)}: label a branch as its parent vessel for N"
            )
    lesion_rows = _rows(lesions, names, LESION_KEYS)
    for row, flags, is_counted in zip(lesion_rows, lesions["flags"], counted, strict=True):
        row["flags"] = flags
        row["counted"] = bool(is_counted) and row["artery"] != UNASSIGNED
    assigned = counted & (lesions["artery"] != 0)
    report = {
        **_headline(
            total if scoring_arteries is not None else None, n_vessels, settings.category_scheme
        ),
        "volume_mm3": float(lesions["volume_mm3"][assigned].sum()) if unassigned is None else None,
        "mass_mg": _sum_or_none(lesions["mass_mg"], assigned) if unassigned is None else None,
        "lesion_count": int(assigned.sum()),
        **(
            _region_sums([r for r in regions["rows"] if r["artery"] != 0], None)
            if unassigned is None
            else dict.fromkeys(mass.MEASURES)
        ),
        "vessels_with_calcium": n_vessels,
        "unassigned": unassigned,
        "contrast": contrast,
        "implausible": [
            {"id": row["id"], "artery": row["artery"], "reasons": row["flags"]}
            for row in lesion_rows
            if row["flags"]
        ],
        "per_artery": per_artery,
        "lesions": lesion_rows,
        "slice_lesions": _rows(slices, names, SLICE_LESION_KEYS),
        "mass_regions": [{**row, "artery": names[row["artery"]]} for row in regions["rows"]],
        "settings": _settings_record(
            settings,
            ct,
            scoring_ct,
            threshold_hu=threshold_hu,
            edges_hu=edges_hu,
            weight_one_hu=weight_one_hu,
            increment_mm=increment_mm,
            slice_factor=1.0 if resampled else score.native_slice_factor(increment_mm),
            resampled=resampled,
            partial_slabs=partial,
        ),
        "warnings": warnings,
    }
    result = CoronaryResult(report, scoring_ct, voxels["index"], voxels["lesion"])
    if settings.radiomics and lesion_rows:
        from napari_calcium.calcium.radiomics import lesion_radiomics

        features, radiomics_settings = lesion_radiomics(scoring_ct, result.lesion_labels())
        for row in lesion_rows:
            row.update(features[row["id"]])
        report["settings"]["radiomics_settings"] = radiomics_settings
    for text in warnings:
        log.warning(text)
    return result


#: Where the rules of a coronary result are written down (cited by the reports).
CORONARY_RULES = (
    "docs/coronary.md of napari-calcium; Agatston, J Am Coll Cardiol 1990;15:827-832; "
    "McCollough, Radiology 2007;243:527-538 (mass); Hecht, J Cardiovasc Comput Tomogr "
    "2018;12:185-191 (CAC-DRS)"
)
#: Vessels counted by the CAC-DRS N modifier (CLINICAL_RULES 1.6).
CAC_DRS_VESSELS = ("LM", "LAD", "LCX", "RCA")
#: Output keys of one lesion and one slice-lesion, in order.
LESION_KEYS = (
    "id",
    "artery",
    "agatston",
    "volume_mm3",
    "mass_mg",
    "integrated_mass_mg",
    "volume_fraction_mass_mg",
    "swcs",
    "peak_hu",
    "mean_hu",
    "n_voxels",
    "n_slice_lesions",
    "centroid_mm",
)
SLICE_LESION_KEYS = (
    "slice_index",
    "slice_z_mm",
    "lesion_id",
    "artery",
    "area_mm2",
    "n_pixels",
    "peak_hu",
    "mean_hu",
    "weight",
    "agatston",
    "scored_thickness_mm",
)


def _headline(total: float | None, n_vessels: int | None, scheme: str) -> dict[str, Any]:
    """Headline score, category and CAC-DRS; none without artery labels (``total`` None)."""
    if total is None:
        reason = "not scored: no artery labels (assign the calcium to arteries)"
        return {
            "agatston": None,
            "agatston_reported": None,
            "scored": False,
            "category": "not scored",
            "category_description": reason,
            "cac_drs": "not scored",
            "cac_drs_risk": "not scored",
        }
    category = score.agatston_category(total, scheme)
    return {
        "agatston": total,
        "agatston_reported": int(math.floor(total + 0.5)),
        "scored": True,
        "category": category,
        "category_description": score.category_description(category, scheme),
        "cac_drs": score.cac_drs(total, n_vessels),
        "cac_drs_risk": score.cac_drs_risk(total),
    }


def _check_contrast(ct: Volume, settings: CoronarySettings, warnings: list[str]) -> dict | None:
    """The blood-pool check; refuses a contrast CT unless ``allow_contrast``."""
    if not settings.contrast_check:
        return None
    found = safety.blood_pool(ct)
    if not found["enhanced"]:
        return found
    text = (
        f"the CT looks contrast-enhanced: a blood pool of {found['blood_pool_volume_ml']:.0f} mL "
        f"at a median {found['blood_pool_hu']:.0f} HU ({found['rule']}); Agatston scoring "
        "needs a non-contrast CT, and iodine above 130 HU is scored as calcium"
    )
    if not settings.allow_contrast:
        raise InputError(
            text,
            "score the non-contrast (calcium-scoring) series; to score this one anyway, "
            "allow contrast (--allow-contrast, allow_contrast=True)",
        )
    warnings.append(text + "; scored anyway (allow_contrast): the scores are not valid")
    return found


def _calcium_voxels(ct: Volume, arteries: Volume | None, threshold_hu, settings, names):
    """Flat indices, artery codes and HU of the voxels above threshold with an artery label.

    Without artery labels every voxel above threshold counts, with artery code 0.
    Also returns ``(flat index, artery code)`` of every labelled voxel (``None``
    without labels), the regions of the threshold-free measures.
    """
    ct_flat = np.asarray(ct.array).reshape(-1)
    if arteries is None:
        index = np.flatnonzero(_passes(ct_flat, threshold_hu, settings.inclusive_threshold))
        artery = np.zeros(index.size, np.int64)
    else:
        labels = _integer_labels(np.asarray(arteries.array)).reshape(-1)
        index = np.flatnonzero(labels)  # labels are sparse: test HU only where labelled
        artery = labels[index].astype(np.int64)
        unknown = sorted(set(np.unique(artery).tolist()) - set(names))
        if unknown:
            raise InputError(
                f"artery labels contain values {unknown} with no artery name "
                f"(known: {', '.join(f'{k} {v}' for k, v in names.items())})",
                "relabel those voxels or add the names to the settings (artery_names)",
            )
        labelled = (index, artery)
        keep = _passes(ct_flat[index], threshold_hu, settings.inclusive_threshold)
        index, artery = index[keep], artery[keep]
    voxels = {"index": index, "artery": artery, "hu": ct_flat[index].astype(np.float64)}
    return voxels, (None if arteries is None else labelled)


def _slice_lesions(
    voxels, ct: Volume, settings, weights, slice_factor, thickness_mm
) -> dict[str, np.ndarray]:
    """Qualifying slice-lesions (2-D components per slice and artery) and their scores.

    ``weights`` is ``(edges_hu, weight_one_hu)`` of
    :func:`~napari_calcium.scores.agatston.density_weight`; ``slice_factor`` and
    ``thickness_mm`` hold one value per slice of ``ct``.

    Drops the voxels of too-small slice-lesions from ``voxels`` and adds
    ``voxels["slice_lesion"]`` (1..m) and ``voxels["lesion"]`` (3-D lesion id, 1..n).
    """
    shape = ct.shape
    pixel_area_mm2 = ct.spacing_mm[0] * ct.spacing_mm[1]
    offsets = forward_offsets(settings.connectivity_2d, None)
    label, n = sparse_components(voxels["index"], shape, offsets, voxels["artery"])
    n_pixels = np.bincount(label, minlength=n + 1)[1:]
    qualifies = n_pixels * pixel_area_mm2 >= settings.min_area_mm2 * (1 - 1e-9)
    if settings.min_pixels is not None:
        qualifies &= n_pixels >= settings.min_pixels
    keep = qualifies[label - 1]
    for key in voxels:
        voxels[key] = voxels[key][keep]
    renumber = np.zeros(n + 1, np.int64)
    renumber[1:][qualifies] = np.arange(1, qualifies.sum() + 1)
    voxels["slice_lesion"] = renumber[label[keep]]
    offsets_3d = forward_offsets(settings.connectivity_2d, settings.connectivity_3d)
    voxels["lesion"], _ = sparse_components(voxels["index"], shape, offsets_3d, voxels["artery"])

    ids = np.arange(1, qualifies.sum() + 1)
    _, first = np.unique(voxels["slice_lesion"], return_index=True)
    slice_index = voxels["index"][first] // (shape[1] * shape[2])
    peak = _per_label(ndimage.maximum, voxels["hu"], voxels["slice_lesion"], ids)
    area = n_pixels[qualifies] * pixel_area_mm2
    return {
        "slice_index": slice_index,
        "slice_z_mm": ct.index_to_physical(
            np.stack([slice_index, 0 * slice_index, 0 * slice_index], axis=1)
        )[:, 2],
        "lesion_id": voxels["lesion"][first],
        "artery": voxels["artery"][first],
        "area_mm2": area,
        "n_pixels": n_pixels[qualifies],
        "peak_hu": peak,
        "mean_hu": _per_label(ndimage.mean, voxels["hu"], voxels["slice_lesion"], ids),
        "weight": score.density_weight(peak, *weights),
        "agatston": score.slice_lesion_scores(
            area, peak, weights[0], slice_factor[slice_index], weights[1]
        ),
        "scored_thickness_mm": thickness_mm[slice_index],
    }


def _lesions(voxels, slices, ct: Volume, settings, thickness_mm) -> dict[str, np.ndarray]:
    """Per 3-D lesion: artery, Agatston (sum of its slice-lesions), volume, mass, HU, centroid.

    A voxel's volume is pixel area x the thickness its slice scores for
    (``thickness_mm``, less than the slab in a partial last slab); the mean HU is
    volume-weighted, so mass = c x volume x mean HU stays the integral of HU.
    """
    lesion = voxels["lesion"]
    n = int(lesion.max(initial=0))
    ids = np.arange(1, n + 1)
    n_voxels = np.bincount(lesion, minlength=n + 1)[1:]
    z = voxels["index"] // (ct.shape[1] * ct.shape[2])
    # relative weights (1 for a full slice) keep the mean exact where all slices are full
    weight = thickness_mm[z] / thickness_mm.max(initial=1.0)
    weight_sum = np.bincount(lesion, weights=weight, minlength=n + 1)[1:]
    volume = weight_sum * ct.spacing_mm[0] * ct.spacing_mm[1] * thickness_mm.max(initial=1.0)
    hu_sum = np.bincount(lesion, weights=weight * voxels["hu"], minlength=n + 1)[1:]
    mean = hu_sum / np.maximum(weight_sum, 1e-12)
    _, first = np.unique(lesion, return_index=True)
    zyx = np.stack(np.unravel_index(voxels["index"], ct.shape), axis=1)
    centroid_index = (
        np.stack(
            [np.bincount(lesion, weights=zyx[:, a], minlength=n + 1)[1:] for a in range(3)], axis=1
        )
        / np.maximum(n_voxels, 1)[:, None]
    )
    c = settings.calibration_mg_cm3_per_hu
    return {
        "id": ids,
        "artery": voxels["artery"][first],
        "agatston": np.bincount(slices["lesion_id"], slices["agatston"], minlength=n + 1)[1:],
        "volume_mm3": volume,
        "mass_mg": None if c is None else score.lesion_mass_mg(volume, mean, c),
        "peak_hu": _per_label(ndimage.maximum, voxels["hu"], lesion, ids),
        "mean_hu": mean,
        "n_voxels": n_voxels,
        "n_slice_lesions": np.bincount(slices["lesion_id"], minlength=n + 1)[1:],
        "centroid_mm": ct.index_to_physical(centroid_index),
    }


def _rows(table: dict[str, Any], names: dict[int, str], keys) -> list[dict[str, Any]]:
    """Columns of arrays -> list of JSON-able dicts (artery codes become names)."""
    n = len(table[keys[0]])
    rows = []
    for i in range(n):
        row = {}
        for key in keys:
            column = table[key]
            if column is None:
                row[key] = None
            elif key == "artery":
                row[key] = names[int(column[i])]
            elif key == "centroid_mm":
                row[key] = [float(v) for v in column[i]]
            elif np.issubdtype(np.asarray(column).dtype, np.integer):
                row[key] = int(column[i])
            else:
                row[key] = float(column[i])
        rows.append(row)
    return rows


def _threshold_free(ct: Volume, voxels, labelled, thickness_mm, threshold_hu, settings) -> dict:
    """Integrated mass, volume-fraction mass and SWCS per lesion and per region (:mod:`.mass`)."""
    calibration = mass.Calibration(
        settings.calibration_mg_cm3_per_hu,
        settings.calibration_insert_hu,
        settings.calibration_insert_sd_hu,
        settings.calibration_rho_mg_cm3,
    )
    if not calibration.any:
        return {"per_lesion": dict.fromkeys(mass.MEASURES), "rows": [], "warnings": []}
    if labelled is None:  # no artery labels: the regions are the lesions
        regions = (voxels["index"], voxels["artery"], voxels["lesion"])
    else:
        index, artery = labelled
        regions = (index, artery, mass.labelled_regions(index, artery, ct.shape))
    per_lesion, rows, warnings = mass.region_measures(
        np.asarray(ct.array),
        ct.spacing_mm[::-1],
        thickness_mm,
        regions,
        (voxels["index"], voxels["lesion"]),
        threshold_hu,
        calibration,
        settings.mass_roi_margin_mm,
        settings.mass_ring_mm,
    )
    for row in rows:
        row["centroid_mm"] = [float(v) for v in ct.index_to_physical(row.pop("centroid_zyx"))]
    return {"per_lesion": per_lesion, "rows": rows, "warnings": warnings}


def _region_sums(rows: list[dict], artery: int | None) -> dict[str, float | None]:
    """Sums of the threshold-free measures over the regions (of one artery, or all)."""
    mine = [row for row in rows if artery is None or row["artery"] == artery]
    sums = {}
    for measure in mass.MEASURES:
        values = [row[measure] for row in mine if row[measure] is not None]
        active = any(row[measure] is not None for row in rows)
        sums[measure] = float(sum(values)) if active else None
    return sums


def _partial_slabs(thickness_mm: np.ndarray) -> list[dict[str, float]]:
    """Slabs scored over less than 3 mm: index, covered thickness and z range from the scan start."""
    full = score.REFERENCE_SLICE_MM
    return [
        {"index": int(i), "covered_mm": float(t), "z_from_mm": i * full, "z_to_mm": i * full + t}
        for i, t in enumerate(thickness_mm)
        if t < full - 1e-6
    ]


def _sum_or_none(values, selection) -> float | None:
    return None if values is None else float(values[selection].sum())


def _integer_labels(labels: np.ndarray) -> np.ndarray:
    if np.issubdtype(labels.dtype, np.integer) or labels.dtype == bool:
        return labels
    if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
        raise InputError(
            "the artery label image holds non-integer values",
            "save the artery labels as an integer label image (0 background, 1 LM, 2 LAD, ...)",
        )
    return labels.astype(np.int32)


def _passes(values, threshold_hu: float, inclusive: bool) -> np.ndarray:
    return values >= threshold_hu if inclusive else values > threshold_hu


def _per_label(func, values, labels, index) -> np.ndarray:
    if len(index) == 0:
        return np.zeros(0)
    return np.asarray(func(values, labels=labels, index=index), dtype=np.float64)


def _thresholds(ct: Volume, settings: CoronarySettings, warnings: list[str]):
    """Candidate threshold, weight edges (2, 3, 4) and weight-1 edge (``None``: threshold)."""
    kvp = ct.acquisition.kvp
    formula = settings.threshold_rule == "kvp_formula"
    if settings.kvp_adjusted or formula:
        rule = "the kvp_formula threshold rule" if formula else "kVp-adjusted thresholds"
        if kvp is None:
            raise InputError(
                f"{rule} needs the tube voltage, which this CT does not record",
                "score with the standard 130 HU threshold or read the DICOM series",
            )
        try:
            weight_one, *edges = score.kvp_edges_hu(kvp)
        except ValueError as err:
            raise InputError(str(err), "use the standard thresholds") from err
        if formula:
            return score.kvp_formula_threshold_hu(kvp), tuple(edges), float(weight_one)
        return float(weight_one), tuple(edges), None
    if kvp is not None and not 110 <= kvp <= 130:
        warnings.append(
            f"the CT was acquired at {kvp:g} kVp; the 130-HU threshold and density factors "
            "were defined at 120-130 kVp (consider kvp_adjusted, values unverified)"
        )
    return float(settings.threshold_hu), tuple(float(e) for e in settings.weight_edges_hu), None


def _slice_increment(ct: Volume, warnings: list[str]) -> float:
    increment = ct.spacing_mm[2]
    recorded = ct.acquisition.slice_increment_mm
    if recorded is not None and not math.isclose(recorded, increment, abs_tol=0.01):
        warnings.append(
            f"recorded slice increment {recorded:g} mm differs from the slice spacing "
            f"{increment:g} mm; the spacing is used"
        )
    thickness = ct.acquisition.slice_thickness_mm
    if thickness is not None and thickness > increment + 0.01:
        warnings.append(
            f"overlapping slices (thickness {thickness:g} mm > increment {increment:g} mm)"
        )
    return float(increment)


def _settings_record(settings, ct, scoring_ct, **derived) -> dict[str, Any]:
    from napari_calcium import __version__

    acquisition = ct.acquisition.to_dict()
    acquisition.pop("series_description", None)
    record = settings.to_dict()
    record.update(
        {
            "threshold_hu_used": derived["threshold_hu"],
            "weight_edges_hu_used": list(derived["edges_hu"]),
            "weight_one_hu_used": derived["weight_one_hu"],
            "threshold_comparison": ">=" if settings.inclusive_threshold else ">",
            "hu_check_rule": HU_CHECKS[settings.hu_check],
            "min_area_rule": ">=",
            "peak_rule": "peak HU per lesion per slice",
            "straddling_rule": "slice-lesions are split by artery label; each part has "
            "its own area, peak and density factor",
            "slice_axis": "array axis 0 (z)",
            "slice_increment_mm": derived["increment_mm"],
            "resampled_to_3mm": derived["resampled"],
            "resample_method": "overlap-weighted slab mean along z"
            if derived["resampled"]
            else None,
            "agatston_slice_factor": derived["slice_factor"],
            "partial_slab_rule": "a last 3-mm slab the scan covers only partly is averaged "
            "over its covered part and scored over that thickness: Agatston x covered / "
            "3 mm, volume and mass with pixel area x covered mm (CLINICAL_RULES 1.2, 1.3)",
            "partial_slabs": derived["partial_slabs"],
            "agatston_reported_as": "3-mm equivalent (native sum x increment / 3 mm)"
            if settings.slice_mode == "native"
            else "on 3-mm slices",
            "scoring_spacing_mm": list(scoring_ct.spacing_mm),
            "scoring_shape_zyx": list(scoring_ct.shape),
            "pixel_area_mm2": scoring_ct.spacing_mm[0] * scoring_ct.spacing_mm[1],
            "mass_formula": "c x volume_cm3 x mean HU of lesion voxels above threshold",
            "integrated_mass_formula": "c x sum over the ROI of voxel cm3 x (HU - background "
            "HU) (integrated intensity, Med Phys 2023, DOI 10.1002/mp.16326)",
            "volume_fraction_mass_formula": "insert density x sum over the ROI of voxel cm3 x "
            "(HU - background) / (insert HU - background) (J Med Imaging 2023, "
            "DOI 10.1117/1.JMI.10.4.043502)",
            "swcs_formula": "sum over the ROI of Phi((HU - insert mean) / insert SD), averaged "
            "in-plane with the 5-point kernel 0.2 (Liang 2012, DOI 10.1186/1471-2342-12-14)",
            "mass_region_rule": "regions = 26-connected voxels of one artery label at any HU "
            "(without labels: the lesions); ROI = region grown by the margin (>= 1 voxel per "
            "axis); background = mean HU of the shell beyond it, without labels, other ROIs "
            "or voxels above threshold; split between lesions by nearest lesion voxel",
            "category_rule": f"{settings.category_scheme} categories of the unrounded "
            "Agatston score, from assigned calcium only",
            "agatston_reported_rule": "integer, rounded half up",
            "cac_drs_vessels": list(CAC_DRS_VESSELS),
            "ct_spacing_mm": list(ct.spacing_mm),
            "ct_shape_zyx": list(ct.shape),
            "acquisition": acquisition,
            "rules": CORONARY_RULES,
            "software": f"napari-calcium {__version__}",
        }
    )
    return record
