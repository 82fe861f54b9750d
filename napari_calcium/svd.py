"""Cerebral small vessel disease markers on MRI, per patient.

``run_svd(flair, swi=None, ...)`` measures, on FLAIR (and SWI/T2*, T1, CT when
given):

* white-matter hyperintensities (WMH): candidates by a brain-normalised FLAIR
  threshold and a minimum size (or the reader's labels), volume in mL, split into
  periventricular and deep by the distance to the ventricles, and a *suggested*
  Fazekas grade with the figures that produced it (CLINICAL_RULES 5.2, 5.6);
* microbleeds: candidate small round dark foci on SWI (multi-scale Laplacian of
  Gaussian on the darkness image inside the brain, then size, shape and CT checks),
  counted by MARS region and certainty (CLINICAL_RULES 5.5) once the reader confirms;
* lacunes: reader-marked points or labels with the STRIVE 3-15 mm size check
  (CLINICAL_RULES 5.1);
* EPVS: reader grades (Potter 0-4) or counts turned into grades (CLINICAL_RULES 5.4);
* the Staals total SVD score (CLINICAL_RULES 5.3) with each item.

Per-patient records (``save_record`` / ``load_record``) add the intracranial
calcification grades per artery and are what the cohort report reads.

All measurements use the Volume's physical spacing; all thresholds are in
:class:`SvdSettings` and written into every output's ``settings``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from napari_calcium.errors import InputError
from napari_calcium.scores.small_vessel import (
    CALCIFIED_ARTERIES,
    MARS_REGIONS,
    fazekas_suggestion,
    fazekas_sum,
    intracranial_overall_grade,
    mars_counts,
    periventricular_lesion_grade,
    potter_grade,
    staals_svd_score,
)
from napari_calcium.volume import Volume, require_volumes

log = logging.getLogger(__name__)

#: Version of the per-patient record format; records from a newer version are refused.
RECORD_FORMAT_VERSION = 1
RECORD_KIND = "napari-calcium small vessel disease record"

#: Values of a region map: MARS regions (CLINICAL_RULES 5.5).
REGION_MAP_LABELS = {1: "lobar", 2: "deep", 3: "infratentorial"}

MICROBLEED_STATUSES = ("candidate", "confirmed", "rejected")


@dataclass(frozen=True)
class SvdSettings:
    """Every threshold of the small vessel disease analysis (units in the names).

    Brain and tissue
        The brain (:func:`brain_mask`): the FLAIR's Otsu-bright tissue eroded by
        ``brain_erosion_mm`` (cuts the bridges to scalp, orbits and neck), its largest
        component grown back, closed by ``brain_closing_mm`` and filled (or the
        reader's ``brain_mask``). White matter (:func:`white_matter_level`): the mode of
        the tissue deeper than ``wm_depth_mm``, followed across the brain over
        ``wm_field_mm`` (0: one level). ``csf_fraction``: voxels darker than this
        fraction of the white-matter level are CSF.
    Ventricles
        CSF bodies left by an opening of ``ventricle_opening_mm`` (which cuts the
        sulci, the fissures and the aqueduct away) at a median depth of at least
        ``ventricle_min_depth_mm`` below the brain surface and at least
        ``ventricle_min_volume_ml`` (3 mL: above a 15 mm lacune's 1.77 mL and an old
        16-17 mm infarct cavity's 2.4 mL, so neither is taken for a ventricle; smaller
        ventricles need the reader's labels) — or the reader's ventricle labels. None
        found: a warning, and no periventricular / deep split.
    WMH
        candidates where FLAIR / white-matter level >= ``wmh_threshold`` (1.3), outside
        the cortex zone (within ``cortex_mm`` of the outer CSF and the brain surface:
        the cortical ribbon, brighter than white matter on FLAIR; :func:`cortex_zone`),
        components >= ``wmh_min_volume_mm3``; with ``wmh_half_way`` (default) each is
        redrawn at the level half-way between its own plateau and the tissue within
        ``wmh_shell_mm`` around it (:func:`segment_wmh`); with ``wmh_partial_volume``
        (default) the volume is the sum of each voxel's lesion fraction in and within
        ``wmh_shell_mm`` of the lesions (:func:`wmh_fractions`), else the voxel count;
        periventricular when within ``periventricular_distance_mm`` of the ventricles
        (default 10 mm, CLINICAL_RULES 5.6); a ventricle surface voxel is "lined" when
        WMH lies within ``lining_distance_mm``. Fazekas suggestion thresholds: see
        :func:`~napari_calcium.scores.small_vessel.fazekas_suggestion`.
    Microbleeds
        darkness = 1 - SWI / brain-tissue median, inside the brain eroded by
        ``mb_brain_margin_mm``; ``mb_log_scales`` LoG scales for diameters
        ``mb_min_diameter_mm`` to ``mb_max_diameter_mm`` (STRIVE, CLINICAL_RULES 5.1:
        microbleeds from 2 mm up to 10 mm; the measured diameter is allowed half a voxel
        either side, since a focus measured by its voxels is known to about a voxel, and
        such foci carry ``size_within_one_voxel_of_limit``),
        peaks of scale-normalised response >= ``mb_min_log_response``; a focus is the region
        darker than ``max(mb_min_darkness, mb_half_max * peak)`` around a peak; its
        diameter is the smaller of two upper bounds: its voxel outline's largest extent
        (overstates a ball by up to a voxel) and the diameter of the ball holding its
        signal (darkness summed over the focus and its one-voxel rim, over the peak
        darkness: blur and partial volume keep the sum; overstated when a focus about a
        voxel across has its peak lowered); kept
        when its diameter is within the size range, its elongation (major / minor axis
        of its darkness with its one-voxel partial-volume rim, so a 2 mm focus of a few
        voxels is judged by its signal, not by its voxel outline) <= ``mb_max_elongation``
        (1.4: round foci measured 1.0-1.25 and pieces of vein 1.5-1.9 on the development
        cases of :mod:`napari_calcium.phantoms.brain_cases`; else a vessel). A round
        focus beside a vein joins it at half maximum, so its region reaches the window
        edge or is elongated: it is kept when its Hessian blobness (Frangi's R_B at its
        own scale, :func:`_blobness`) is at least that of a focus 1.4 times longer one
        way (2 / (1 + 1.4²) = 0.68; a vein measures 0-0.6), flagged
        ``merged_with_vessel`` and sized by scale selection (:func:`_scale_diameter_mm`),
        which the vein does not widen (STRIVE: a microbleed is small and round or ovoid,
        a vessel in section is not round along its course). With a CT, its peak CT
        value < ``ct_calcification_hu`` (else a calcification). Certainty: definite
        when peak darkness >= ``mb_definite_darkness`` and elongation <=
        ``mb_definite_elongation``, else possible.
    Lacunes
        diameter within [``lacune_min_mm``, ``lacune_max_mm``] (STRIVE 3-15 mm).
    """

    csf_fraction: float = 0.5
    brain_erosion_mm: float = 3.0
    brain_closing_mm: float = 3.0
    wm_depth_mm: float = 10.0
    wm_field_mm: float = 20.0
    ventricle_opening_mm: float = 1.5
    ventricle_min_depth_mm: float = 15.0
    ventricle_min_volume_ml: float = 3.0
    cortex_mm: float = 3.0
    wmh_threshold: float = 1.3
    wmh_min_volume_mm3: float = 5.0
    wmh_half_way: bool = True
    wmh_shell_mm: float = 2.0
    wmh_partial_volume: bool = True
    periventricular_distance_mm: float = 10.0
    lining_distance_mm: float = 2.0
    fazekas_min_volume_ml: float = 0.01
    fazekas_halo_coverage: float = 0.5
    fazekas_irregular_extent_mm: float = 10.0
    fazekas_beginning_confluence_mm: float = 10.0
    fazekas_large_confluence_mm: float = 20.0
    mb_min_diameter_mm: float = 2.0
    mb_max_diameter_mm: float = 10.0
    mb_brain_margin_mm: float = 3.0
    mb_log_scales: int = 5
    mb_min_log_response: float = 0.075
    mb_min_darkness: float = 0.3
    mb_half_max: float = 0.5
    mb_max_elongation: float = 1.4
    mb_definite_darkness: float = 0.5
    mb_definite_elongation: float = 1.25
    ct_calcification_hu: float = 130.0
    lacune_min_mm: float = 3.0
    lacune_max_mm: float = 15.0
    epvs_min_grade_for_svd: int = 2

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> SvdSettings:
        d = d or {}
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise InputError(f"unknown small vessel disease settings {sorted(unknown)}")
        return cls(**d)


# ---------------------------------------------------------------- geometry
def on_grid(reference: Volume, other: Volume, name: str, resample: bool = False, labels=False):
    """``other`` on ``reference``'s grid: as is when the grids match, resampled on request.

    Without a transform the two images must already share a physical space (same
    session, or registered beforehand); ``resample=True`` then resamples ``other``
    with SimpleITK (linear, nearest neighbour for labels) onto the reference grid.

    Raises
    ------
    InputError
        when the grids differ and ``resample`` is false, or when the resampled image
        covers less than half of the reference grid.
    """
    if reference.same_grid(other):
        return other
    why = "; ".join(reference.grid_differences(other))
    if not resample:
        raise InputError(
            f"the {name} grid differs from the FLAIR's ({why}) and no transform was given",
            f"register the {name} to the FLAIR first, or ask for resampling (--resample) "
            "when both are already in the same physical space",
        )
    from napari_calcium.resampling import coverage, resample_to

    moved = resample_to(other, reference, labels=labels, default_value=0.0, keep_type=True)
    covered = coverage(other, reference)
    if covered < 0.5:
        raise InputError(
            f"the {name} covers only {covered:.0%} of the FLAIR grid after resampling ({why})",
            f"check that the {name} and the FLAIR are of the same patient and in the same "
            "physical space, or register them first",
        )
    log.info("resampled %s onto the FLAIR grid (%s)", name, why)
    return moved


def _require_cover(flair: Volume, other: Volume, name: str) -> None:
    """Refuse an image looked up by physical position that misses the FLAIR's centre."""
    centre = flair.index_to_physical((np.asarray(flair.shape) - 1) / 2.0)
    index = other.physical_to_index(centre)
    if np.any(index < -0.5) or np.any(index > np.asarray(other.shape) - 0.5):
        raise InputError(
            f"the {name} does not cover the centre of the FLAIR ({_fmt(centre)} mm LPS)",
            f"register the {name} to the MRI first; it is read at the MRI's physical positions",
        )


def _fmt(values) -> str:
    return "(" + ", ".join(f"{v:g}" for v in values) + ")"


# ------------------------------------------------------------ brain and CSF
def _dilate(mask: np.ndarray, mm: float, spacing) -> np.ndarray:
    """``mask`` grown by a ball of ``mm`` (Euclidean distance, in physical units)."""
    from scipy import ndimage

    if not mask.any():
        return mask.copy()
    return ndimage.distance_transform_edt(~mask, sampling=spacing) <= mm


def _erode(mask: np.ndarray, mm: float, spacing) -> np.ndarray:
    """``mask`` shrunk by a ball of ``mm``."""
    from scipy import ndimage

    return ndimage.distance_transform_edt(mask, sampling=spacing) > mm


def brain_mask(flair: Volume, settings: SvdSettings = SvdSettings()) -> np.ndarray:
    """Brain mask ``(z, y, x)``: the brain's tissue and the CSF it encloses.

    1. tissue: voxels above the image's Otsu threshold (air, bone and CSF are below it,
       brain and scalp fat above);
    2. the brain: eroding the tissue by ``brain_erosion_mm`` cuts the thin bridges that
       join it to scalp, orbits and neck (optic nerves, vessels, a few millimetres
       across) and thins the 4-6 mm scalp to nothing; the largest remaining component,
       grown back by as much within the tissue, is the brain's tissue;
    3. closed by ``brain_closing_mm`` and with its holes filled, it takes in the
       ventricles and narrow sulci, also where the ventricles open to the outside
       through the aqueduct (a skull-stripped image, whose CSF outside the brain is
       zero, has no closed hole for them).

    An image already stripped of skull passes through unchanged but for the closing.
    Supply ``brain_mask`` to :func:`run_svd_with_masks` when this is not right.
    """
    from scipy import ndimage
    from skimage.filters import threshold_otsu

    s = settings
    spacing = flair.spacing_zyx_mm
    image = flair.numpy().astype(np.float32)
    if not np.ptp(image) > 0:
        raise InputError("no brain found on the FLAIR (the image is empty or constant)")
    tissue = image > threshold_otsu(image[::2, ::2, ::2])
    labels, n = ndimage.label(_erode(tissue, s.brain_erosion_mm, spacing))
    if n == 0:
        labels, n = ndimage.label(tissue)  # too small to erode: no skull to cut
    largest = np.argmax(np.bincount(labels.ravel())[1:]) + 1
    reach = s.brain_erosion_mm + float(max(spacing))
    parenchyma = tissue & _dilate(labels == largest, reach, spacing)
    closed = _erode(_dilate(parenchyma, s.brain_closing_mm, spacing), s.brain_closing_mm, spacing)
    return ndimage.binary_fill_holes(closed | parenchyma)


def tissue_median(image: np.ndarray, mask: np.ndarray, csf_fraction: float) -> float:
    """Median brain-tissue value: median of the mask, then again without CSF-dark voxels."""
    values = image[mask]
    if values.size == 0:
        raise InputError("the brain mask is empty")
    first = float(np.median(values))
    tissue = values[values >= csf_fraction * first]
    return float(np.median(tissue))


def _mode(values: np.ndarray) -> float:
    """The most frequent value: peak of the histogram smoothed over 2 % of the median."""
    from scipy import ndimage

    lo, hi = np.percentile(values, [0.5, 99.5])
    if not hi > lo:
        return float(lo)
    width = 0.005 * float(np.median(values)) or (hi - lo) / 200
    n_bins = int(np.clip((hi - lo) / width, 20, 2000))
    counts, edges = np.histogram(values, bins=n_bins, range=(lo, hi))
    smooth = ndimage.gaussian_filter1d(counts.astype(float), 0.02 * np.median(values) / width)
    k = int(np.argmax(smooth))
    return float(0.5 * (edges[k] + edges[k + 1]))


def white_matter_level(
    image: Volume, brain: np.ndarray, settings: SvdSettings = SvdSettings()
) -> tuple[float, np.ndarray]:
    """The scan's own white-matter level: a value, and a map of it across the brain.

    White matter is the tissue that dominates deep in the brain: the level is the mode
    of the tissue (not CSF-dark) deeper than ``wm_depth_mm`` below the brain surface and
    more than 2 mm from CSF (cortex lies along the surface and the sulci, partial volume
    along the CSF; grey matter is brighter than white matter on FLAIR, lesions brighter
    still, so the mode, not the median, is white matter's). The map follows a slow
    field (coil sensitivity, the bias of an uncorrected scan): the voxels of that deep
    tissue within 10 % of the level, averaged with a Gaussian of ``wm_field_mm`` SD
    (normalised convolution, so areas with little white matter take their
    neighbours'); ``wm_field_mm=0`` keeps the single level everywhere.

    Returns
    -------
    level, level_map : the mode, and the local level ``(z, y, x)`` (float32).
    """
    from scipy import ndimage

    s = settings
    array = image.numpy().astype(np.float32)
    spacing = np.asarray(image.spacing_zyx_mm)
    first = tissue_median(array, brain, s.csf_fraction)
    tissue = brain & (array >= s.csf_fraction * first)
    depth = ndimage.distance_transform_edt(brain, sampling=spacing)
    deep = tissue & (depth >= s.wm_depth_mm) & ~_dilate(brain & ~tissue, 2.0, spacing)
    if deep.sum() < 1000:  # a small brain or a slab: all its tissue
        deep = tissue
    level = _mode(array[deep])
    if s.wm_field_mm <= 0:
        return level, np.full(array.shape, level, np.float32)
    white = deep & (np.abs(array / level - 1.0) <= 0.1)
    sigma = s.wm_field_mm / spacing
    weight = ndimage.gaussian_filter(white.astype(np.float32), sigma)
    total = ndimage.gaussian_filter(np.where(white, array, 0.0).astype(np.float32), sigma)
    level_map = np.where(weight > 1e-3, total / np.maximum(weight, 1e-6), level)
    return level, level_map.astype(np.float32)


def csf_compartments(
    image: Volume,
    brain: np.ndarray,
    white_level,
    settings: SvdSettings = SvdSettings(),
) -> dict[str, np.ndarray]:
    """CSF inside the brain, split into the deep compartments and the outer CSF.

    CSF: brain voxels darker than ``csf_fraction`` x the white-matter level (FLAIR and
    T1 both show CSF dark). Opened by ``ventricle_opening_mm`` (eroded, then grown back
    within the CSF), the thin sheets of the sulci and the midline fissure and the narrow
    channels (aqueduct, foramina) vanish, which separates the ventricles from the CSF
    outside the brain even where the ventricular system opens to it. Each remaining
    body whose median depth below the brain surface is at least
    ``ventricle_min_depth_mm`` is deep CSF (ventricles, and cavities such as lacunes);
    the deep bodies of at least ``ventricle_min_volume_ml`` are the ventricles (3 mL:
    above a 15 mm lacune's 1.77 mL and an old 16-17 mm infarct cavity's 2.4 mL).

    Returns
    -------
    dict of boolean masks ``(z, y, x)``: ``csf``, ``deep`` (deep CSF), ``ventricles``,
    ``outer`` (the rest of the CSF: sulci, fissures, cisterns, and what lies outside
    the brain mask).
    """
    from scipy import ndimage

    s = settings
    spacing = np.asarray(image.spacing_zyx_mm)
    array = image.numpy().astype(np.float32)
    csf = brain & (array < s.csf_fraction * np.asarray(white_level))
    core = _erode(csf, s.ventricle_opening_mm, spacing)
    bodies = csf & _dilate(core, s.ventricle_opening_mm + float(max(spacing)), spacing)
    labels, n = ndimage.label(bodies)
    deep = np.zeros_like(csf)
    ventricles = np.zeros_like(csf)
    if n:
        index = np.arange(1, n + 1)
        depth = ndimage.distance_transform_edt(brain, sampling=spacing)
        median_depth = np.asarray(ndimage.median(depth, labels, index))
        volume_ml = np.bincount(labels.ravel())[1:] * image.voxel_volume_mm3 / 1000.0
        is_deep = median_depth >= s.ventricle_min_depth_mm
        deep = np.isin(labels, index[is_deep])
        ventricles = np.isin(labels, index[is_deep & (volume_ml >= s.ventricle_min_volume_ml)])
    return {"csf": csf, "deep": deep, "ventricles": ventricles, "outer": (csf & ~deep) | ~brain}


def find_ventricles(
    image: Volume, brain: np.ndarray, settings: SvdSettings = SvdSettings()
) -> np.ndarray:
    """Lateral ventricles as the large deep CSF bodies (:func:`csf_compartments`).

    Parameters
    ----------
    image : FLAIR or T1 (CSF dark on both), ``(z, y, x)``.
    brain : brain mask on the same grid.

    Returns
    -------
    Boolean mask ``(z, y, x)``; empty when no CSF body qualifies (the caller warns).
    """
    _, level_map = white_matter_level(image, brain, settings)
    return csf_compartments(image, brain, level_map, settings)["ventricles"]


NO_VENTRICLES_WARNING = (
    "no ventricles found (no CSF-dark body of >= {volume:g} mL at a median depth of >= "
    "{depth:g} mm in the brain): WMH are not split into periventricular and deep and no "
    "Fazekas grade is suggested; supply ventricle labels (--ventricle-labels) or a T1"
)


def cortex_zone(outer_csf: np.ndarray, brain: np.ndarray, grid: Volume, cortex_mm: float):
    """Voxels of the brain within ``cortex_mm`` of the outer CSF or the brain surface.

    The cerebral cortex is a ribbon 1-4.5 mm thick (2.5 mm on average; Fischl and Dale,
    PNAS 2000) along the brain surface and the sulci; on FLAIR it is brighter than white
    matter (by 10-35 %), so without this a threshold relative to white matter takes it
    for WMH. Deep CSF (ventricles, lacunes) is not lined by cortex and does not count.
    """
    return brain & _dilate(outer_csf, cortex_mm, grid.spacing_zyx_mm)


# --------------------------------------------------------------------- WMH
def segment_wmh(
    flair: Volume,
    brain: np.ndarray,
    ventricles: np.ndarray,
    settings: SvdSettings = SvdSettings(),
    white_level=None,
    cortex: np.ndarray | None = None,
) -> np.ndarray:
    """Candidate WMH mask ``(z, y, x)``, each lesion cut at its own half-way level.

    Candidates: FLAIR / white-matter level (``white_level``, a value or a map from
    :func:`white_matter_level`; computed when None) >= ``wmh_threshold``, outside the
    ventricles and the cortex zone (``cortex``, :func:`cortex_zone`: a candidate
    lying mostly there is cortex and is dropped whole), components of at least
    ``wmh_min_volume_mm3``. A fixed ratio counts the partial-volume border of a
    bright lesion as lesion and loses that of a faint one, so each candidate is then
    redrawn at the level half-way between its own plateau and the tissue around it
    (the 50 % partial-volume contour):

    * plateau: median FLAIR of the candidate's core (the voxels whose 6 neighbours are
      all in it), or its brightest voxel when it has no core;
    * tissue around it: median of the shell ``wmh_shell_mm`` beyond it, inside the
      brain, outside the ventricles, other candidates and CSF-dark voxels;
    * the lesion: voxels at or above the half-way level within ``wmh_shell_mm`` of the
      candidate, connected to it, outside the cortex zone; candidate voxels touching
      the ventricles are kept (they mix lesion with CSF, so the half-way level to white
      matter does not apply).

    ``wmh_half_way=False`` keeps the fixed-ratio candidates. The volume is measured
    from partial-volume fractions around this mask (:func:`wmh_fractions`).
    """
    from scipy import ndimage

    s = settings
    array = flair.numpy().astype(np.float32)
    if white_level is None:
        _, white_level = white_matter_level(flair, brain, s)
    white_level = np.asarray(white_level, dtype=np.float32)
    cortex = np.zeros_like(brain) if cortex is None else cortex
    allowed = brain & ~ventricles
    bright = allowed & (array >= s.wmh_threshold * white_level)
    structure = np.ones((3, 3, 3))
    labels, n = ndimage.label(bright, structure)
    if n == 0:
        return bright
    index = np.arange(1, n + 1)
    sizes = np.bincount(labels.ravel())[1:]
    in_cortex = ndimage.sum_labels(cortex, labels, index) / np.maximum(sizes, 1)
    keep_ids = index[in_cortex < 0.5]
    bright &= ~cortex & np.isin(labels, keep_ids)
    labels, n = ndimage.label(bright, structure)
    volumes = np.bincount(labels.ravel())[1:] * flair.voxel_volume_mm3
    keep = np.flatnonzero(volumes >= s.wmh_min_volume_mm3) + 1
    if not s.wmh_half_way:
        return np.isin(labels, keep)
    csf_level = s.csf_fraction * white_level
    allowed &= ~cortex
    spacing = np.asarray(flair.spacing_zyx_mm)
    reach = np.maximum(np.ceil(s.wmh_shell_mm / spacing).astype(int), 1)
    ball = ndimage.iterate_structure(ndimage.generate_binary_structure(3, 1), int(reach.max()))
    out = np.zeros_like(bright)
    # next to the ventricles a voxel mixes lesion with CSF, not with white matter: the
    # half-way level does not apply there and the candidate voxels are kept
    lining = ndimage.binary_dilation(ventricles, structure)
    for k, box in _lesion_boxes(labels, keep, reach):
        comp = labels[box] == k
        values = array[box]
        core = ndimage.binary_erosion(comp)
        plateau = float(np.median(values[core])) if core.any() else float(values[comp].max())
        near = ndimage.binary_dilation(comp, ball) & allowed[box]
        shell = near & ~ndimage.binary_dilation(comp) & ~bright[box] & (values >= csf_level[box])
        around = (
            float(np.median(values[shell]))
            if shell.sum() >= 10
            else float(np.median(white_level[box][comp]))
        )
        level = around + 0.5 * (plateau - around)
        grown = (near & (values >= level)) | (comp & lining[box])
        parts, _ = ndimage.label(grown, structure)
        touching = np.unique(parts[comp & grown])
        out[box] |= np.isin(parts, touching[touching > 0])
    labels, n = ndimage.label(out, structure)
    if n == 0:
        return out
    volumes = np.bincount(labels.ravel())[1:] * flair.voxel_volume_mm3
    return np.isin(labels, np.flatnonzero(volumes >= s.wmh_min_volume_mm3) + 1)


def _lesion_boxes(labels: np.ndarray, ids, reach):
    """``(id, box)`` of each labelled lesion, its bounding box grown by ``reach`` voxels."""
    from scipy import ndimage

    objects = ndimage.find_objects(labels)
    for k in ids:
        box = tuple(
            slice(max(sl.start - r - 1, 0), sl.stop + r + 1)
            for sl, r in zip(objects[k - 1], reach, strict=True)
        )
        yield int(k), box


def wmh_fractions(
    flair: Volume,
    wmh: np.ndarray,
    region: np.ndarray,
    ventricles: np.ndarray,
    white_level,
    settings: SvdSettings = SvdSettings(),
) -> np.ndarray:
    """Partial-volume lesion fraction of each voxel in and around the WMH, ``(z, y, x)``.

    A voxel count at any threshold is biased: blur and the voxel grid spread each
    lesion's signal over its border, and a threshold counts the border as all or
    nothing (the half-way contour of a small, blurred lesion shrinks). The signal itself
    is conserved, so each voxel near a lesion counts by the fraction of lesion its value
    implies under the linear two-compartment partial-volume model (a voxel's value is
    the volume-weighted mean of the values of the tissues it holds; Santago and Gage,
    IEEE Trans Med Imaging 1993), between white matter (WMH lie in it) and the lesion:

    * in units of the scan's own local white-matter level (``white_level``, a value or
      the map of :func:`white_matter_level`): ``ratio = FLAIR / white_level``, so white
      matter is 1 and a bias field cancels;
    * lesion value: median ratio of the lesion's pure voxels (those whose 26 neighbours
      are all lesion), when it has at least 4; a lesion too small to hold pure voxels
      takes the median of the scan's lesions that have them (else its brightest voxel);
    * fraction ``(ratio - 1) / (lesion - 1)`` for the lesion's voxels and for the voxels
      of ``region`` within ``wmh_shell_mm`` of it (each voxel to its nearest lesion),
      not clipped, so noise averages out instead of adding up; voxels darker than white
      matter by more than 3 robust SDs of the ratio in the lesion's shell (CSF, a
      lacune, grey matter is not darker) count 0;
    * a voxel touching the ventricles mixes CSF with lesion or with white matter, and
      one value cannot tell three tissues apart, so the mask decides: in the lesion it
      counts ``(ratio - CSF) / (lesion - CSF)`` (CSF: median ratio of the ventricles),
      within 0-1; outside it, 0.

    The sum of the fractions times the voxel volume is the lesion volume.

    Parameters
    ----------
    wmh : lesion mask (automatic or the reader's) on the FLAIR grid.
    region : where lesion borders may count (the brain without ventricles and cortex).
    ventricles : ventricle mask.
    white_level : the white-matter level, a value or a map ``(z, y, x)``.
    """
    from scipy import ndimage

    s = settings
    level = np.broadcast_to(np.asarray(white_level, np.float32), flair.shape)
    ratio = flair.numpy().astype(np.float32) / np.maximum(level, 1e-9)
    spacing = np.asarray(flair.spacing_zyx_mm)
    wmh = np.asarray(wmh) != 0
    out = np.zeros(ratio.shape, np.float32)
    structure = np.ones((3, 3, 3))
    labels, n = ndimage.label(wmh, structure)
    if n == 0:
        return out
    # each voxel near the lesions belongs to its nearest lesion
    distance, nearest = ndimage.distance_transform_edt(
        labels == 0, sampling=spacing, return_indices=True
    )
    owner = labels[tuple(nearest)]
    owner[distance > s.wmh_shell_mm] = 0
    owner[~(region | wmh)] = 0
    csf = float(np.median(ratio[ventricles])) if ventricles.any() else 0.0
    lining = ndimage.binary_dilation(ventricles, structure) & ~ventricles
    reach = np.maximum(np.ceil(s.wmh_shell_mm / spacing).astype(int), 1)
    boxes = list(_lesion_boxes(labels, range(1, n + 1), reach))
    pure_values = {}
    for k, box in boxes:
        pure = ndimage.binary_erosion(labels[box] == k, structure)
        if pure.sum() >= 4:
            pure_values[k] = float(np.median(ratio[box][pure]))
    scan_lesion = float(np.median(list(pure_values.values()))) if pure_values else None
    for k, box in boxes:
        comp = labels[box] == k
        values = ratio[box]
        lesion = pure_values.get(k, scan_lesion or float(values[comp].max()))
        lesion = max(lesion, 1.0 + 1e-6)
        mine = owner[box] == k
        shell = mine & ~ndimage.binary_dilation(comp, structure) & region[box]
        tissue = values[shell]
        sd = 1.4826 * float(np.median(np.abs(tissue - 1.0))) if tissue.size >= 10 else 0.0
        frac = (values - 1.0) / (lesion - 1.0)
        frac[values < 1.0 - 3.0 * sd] = 0.0
        mixed = np.clip((values - csf) / max(lesion - csf, 1e-9), 0.0, 1.0)
        frac = np.where(lining[box], np.where(comp, mixed, 0.0), frac)
        out[box] = np.where(mine, frac, out[box])
    return out


def max_diameter_mm(coords_zyx: np.ndarray, spacing_zyx_mm) -> float:
    """Largest extent (mm) of a voxel set: the longest centre-to-centre distance plus
    the voxel spacing projected on that direction (exact for axis-aligned extents)."""
    from scipy.spatial import ConvexHull, QhullError

    spacing = np.asarray(spacing_zyx_mm, dtype=float)
    points = np.asarray(coords_zyx, dtype=float) * spacing
    if len(points) == 1:
        return float(spacing.max())
    if len(points) > 8:
        # flat sets (one slice) have no 3-D hull: then every point is a candidate
        with contextlib.suppress(QhullError):
            points = points[ConvexHull(points).vertices]
    diff = points[:, None, :] - points[None, :, :]
    d2 = np.einsum("ijk,ijk->ij", diff, diff)
    i, j = np.unravel_index(np.argmax(d2), d2.shape)
    length = float(np.sqrt(d2[i, j]))
    direction = diff[i, j] / length
    return length + float(np.linalg.norm(direction * spacing))


def measure_wmh(
    wmh: np.ndarray,
    ventricles: np.ndarray,
    grid: Volume,
    settings: SvdSettings = SvdSettings(),
    fractions: np.ndarray | None = None,
    region: np.ndarray | None = None,
    white_level=None,
) -> dict[str, Any]:
    """WMH volume, periventricular / deep split and the Fazekas suggestion.

    Parameters
    ----------
    wmh : WMH mask (any non-zero label) ``(z, y, x)`` on ``grid``.
    ventricles : ventricle mask on the same grid; empty when none was found, and then
        the split, the lining figures and the Fazekas suggestion are None.
    grid : the FLAIR Volume.
    fractions : partial-volume lesion fractions (:func:`wmh_fractions`): the volumes
        are their sums, each voxel on its side of the periventricular distance; without
        them, the voxel counts of ``wmh``. Shapes (lesion count, extent, diameters) are
        always those of ``wmh``.
    region, white_level : where lesion borders count and the white-matter level
        (``masks["wmh_region"]``, ``masks["white_level"]`` of :func:`run_svd_with_masks`);
        given both without ``fractions`` (and with ``wmh_partial_volume``), the
        fractions are measured on ``grid`` for ``wmh``.

    Returns
    -------
    dict with ``wmh_volume_ml``, ``wmh_periventricular_ml``, ``wmh_deep_ml``,
    ``wmh_volume_method``, ``fazekas_suggestion`` (grades, measured figures, rule) and
    the masks' measures.
    """
    from scipy import ndimage

    wmh = np.asarray(wmh) != 0
    ventricles = np.asarray(ventricles) != 0
    spacing = grid.spacing_zyx_mm
    voxel_ml = grid.voxel_volume_mm3 / 1000.0
    if (
        fractions is None
        and region is not None
        and white_level is not None
        and settings.wmh_partial_volume
    ):
        fractions = wmh_fractions(grid, wmh, region, ventricles, white_level, settings)
    amount = wmh.astype(np.float32) if fractions is None else np.asarray(fractions)
    method = (
        "voxel count of the WMH mask"
        if fractions is None
        else "sum of partial-volume lesion fractions in and around the WMH mask"
    )
    labels, n = ndimage.label(wmh, np.ones((3, 3, 3)))
    total_ml = float(amount.sum() * voxel_ml)
    if not ventricles.any():
        return {
            "wmh_volume_ml": total_ml,
            "wmh_periventricular_ml": None,
            "wmh_deep_ml": None,
            "wmh_volume_method": method,
            "wmh_lesion_count": int(n),
            "wmh_deep_lesion_count": None,
            "ventricle_volume_ml": 0.0,
            "fazekas_suggestion": {
                "periventricular": None,
                "deep": None,
                "measured": None,
                "rule": "no suggestion: no ventricles to measure the WMH from",
            },
        }
    to_ventricle = ndimage.distance_transform_edt(~ventricles, sampling=spacing)
    near = to_ventricle <= settings.periventricular_distance_mm
    deep = wmh & ~near
    lining_ids = np.unique(labels[wmh & (to_ventricle <= settings.lining_distance_mm)])
    lining_ids = lining_ids[lining_ids > 0]
    extent = float(to_ventricle[np.isin(labels, lining_ids)].max()) if lining_ids.size else 0.0
    surface = ventricles & ~ndimage.binary_erosion(ventricles)
    to_wmh = ndimage.distance_transform_edt(~wmh, sampling=spacing) if wmh.any() else None
    coverage = (
        float(np.mean(to_wmh[surface] <= settings.lining_distance_mm))
        if to_wmh is not None and surface.any()
        else 0.0
    )
    deep_labels, n_deep = ndimage.label(deep, np.ones((3, 3, 3)))
    deep_lesions = []
    for k, region in enumerate(ndimage.find_objects(deep_labels), start=1):
        coords = np.argwhere(deep_labels[region] == k)
        deep_lesions.append(
            {
                "volume_ml": len(coords) * voxel_ml,
                "max_diameter_mm": max_diameter_mm(coords, spacing),
            }
        )
    largest = max((d["max_diameter_mm"] for d in deep_lesions), default=0.0)
    pv_ml = float(amount[near].sum() * voxel_ml)
    deep_ml = total_ml - pv_ml
    suggestion = fazekas_suggestion(
        periventricular_volume_ml=pv_ml,
        periventricular_extent_mm=extent,
        ventricle_coverage=coverage,
        deep_volume_ml=deep_ml,
        deep_largest_diameter_mm=largest,
        min_volume_ml=settings.fazekas_min_volume_ml,
        halo_coverage=settings.fazekas_halo_coverage,
        irregular_extent_mm=settings.fazekas_irregular_extent_mm,
        beginning_confluence_mm=settings.fazekas_beginning_confluence_mm,
        large_confluence_mm=settings.fazekas_large_confluence_mm,
    )
    return {
        "wmh_volume_ml": total_ml,
        "wmh_periventricular_ml": pv_ml,
        "wmh_deep_ml": deep_ml,
        "wmh_volume_method": method,
        "wmh_lesion_count": int(n),
        "wmh_deep_lesion_count": int(n_deep),
        "ventricle_volume_ml": float(ventricles.sum() * voxel_ml),
        "fazekas_suggestion": suggestion,
    }


def wmh_split_labels(wmh: np.ndarray, ventricles: np.ndarray, grid: Volume, distance_mm: float):
    """Label image ``(z, y, x)``: 1 periventricular WMH, 2 deep WMH, 3 ventricles."""
    from scipy import ndimage

    to_ventricle = ndimage.distance_transform_edt(~ventricles, sampling=grid.spacing_zyx_mm)
    wmh = np.asarray(wmh) != 0
    out = np.zeros(wmh.shape, np.uint8)
    out[ventricles] = 3
    out[wmh & (to_ventricle <= distance_mm)] = 1
    out[wmh & (to_ventricle > distance_mm)] = 2
    return out


# -------------------------------------------------------------- microbleeds
def detect_microbleeds(
    swi: Volume,
    brain: np.ndarray,
    settings: SvdSettings = SvdSettings(),
    ct: Volume | None = None,
    region_map: Volume | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Microbleed candidates on SWI/T2*: small, round, dark foci inside the brain.

    Multi-scale Laplacian of Gaussian (scale-normalised, sigma = radius / sqrt(3) mm
    per axis, radii for the 2-10 mm diameter range) on the darkness image
    ``1 - SWI / tissue median``; each local maximum is grown into the connected
    region darker than ``max(mb_min_darkness, mb_half_max * peak darkness)`` within a
    window of the largest diameter. Regions reaching the window edge, outside the
    diameter range, elongated (a vessel) or hyperdense on the CT (a calcification)
    are excluded with the reason.

    Parameters
    ----------
    swi : SWI or T2*-GRE magnitude, ``(z, y, x)``.
    brain : brain mask on the SWI grid.
    ct : optional CT (HU) in the same physical space (any grid), for calcification.
    region_map : optional labels (1 lobar, 2 deep, 3 infratentorial), any grid in the
        same physical space.

    Returns
    -------
    dict with ``candidates`` and ``excluded``: lists of dicts with ``position_mm``
    (LPS x, y, z), ``diameter_mm``, ``volume_mm3``, ``elongation``, ``darkness``,
    ``certainty``, ``region``, ``status`` (``candidate``) or ``reason``.
    """
    from scipy import ndimage
    from skimage.feature import peak_local_max

    s = settings
    spacing = np.asarray(swi.spacing_zyx_mm)
    array = swi.numpy().astype(np.float32)
    median = tissue_median(array, brain, s.csf_fraction)
    inner = ndimage.distance_transform_edt(brain, sampling=spacing) > s.mb_brain_margin_mm
    darkness = np.where(inner, np.clip(1.0 - array / median, 0.0, None), 0.0).astype(np.float32)
    radii_mm = np.linspace(s.mb_min_diameter_mm / 2, s.mb_max_diameter_mm / 2, s.mb_log_scales)
    response = np.zeros_like(darkness)
    scale = np.zeros(darkness.shape, np.uint8)  # which radius gave the response
    for k, radius in enumerate(radii_mm):
        sigma_mm = radius / np.sqrt(3.0)
        r = -(sigma_mm**2) * ndimage.gaussian_laplace(darkness, sigma_mm / spacing)
        scale[r > response] = k
        np.maximum(response, r, out=response)
    min_distance = max(1, int(round(s.mb_min_diameter_mm / 2 / spacing.min())))
    peaks = peak_local_max(
        response,
        min_distance=min_distance,
        threshold_abs=s.mb_min_log_response,
        labels=inner.astype(np.uint8),
        exclude_border=False,
    )
    # Frangi's R_B of a focus whose signal is mb_max_elongation times longer one way,
    # seen at its own scale (Hessian eigenvalues ~ 1 / (axis SD^2 + scale^2), scale =
    # the short axis SD): 2 / (1 + 1.4^2) = 0.68
    min_blobness = 2.0 / (1.0 + s.mb_max_elongation**2)
    half_window = np.ceil((s.mb_max_diameter_mm / 2 + 2.0) / spacing).astype(int)
    dark_parts, _ = ndimage.label(darkness >= s.mb_min_darkness, np.ones((3, 3, 3)))
    seen: set[tuple] = set()
    extending_parts: set[int] = set()
    candidates, excluded = [], []
    for peak in peaks:
        lo = np.maximum(peak - half_window, 0)
        hi = np.minimum(peak + half_window + 1, darkness.shape)
        window = darkness[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
        local = tuple(peak - lo)
        near = tuple(slice(max(c - 1, 0), c + 2) for c in local)
        peak_darkness = float(window[near].max())
        if peak_darkness < s.mb_min_darkness:
            continue
        level = max(s.mb_min_darkness, s.mb_half_max * peak_darkness)
        labels, _ = ndimage.label(window >= level, np.ones((3, 3, 3)))
        seed = np.unravel_index(
            np.argmax(np.where(labels > 0, window, -1)[near]), window[near].shape
        )
        seed = tuple(int(n.start + k) for n, k in zip(near, seed, strict=True))
        region = labels == labels[seed]
        coords = np.argwhere(region)
        key = tuple(int(v) for v in (coords.min(0) + lo))
        if key in seen:
            continue
        seen.add(key)
        weights = window[region]
        centre_index = (coords * weights[:, None]).sum(0) / weights.sum() + lo
        entry = {
            "position_mm": [float(v) for v in swi.index_to_physical(centre_index)],
            "darkness": peak_darkness,
            "blobness": _blobness(window, local, spacing, radii_mm[scale[tuple(peak)]]),
        }
        touches = (coords.min(0) == 0) & (lo > 0) | (
            coords.max(0) == np.array(window.shape) - 1
        ) & (hi < darkness.shape)
        # shape from the signal of the focus and its one-voxel partial-volume rim
        rim = ndimage.binary_dilation(region, np.ones((3, 3, 3)))
        elongation = _elongation(np.argwhere(rim), spacing, np.clip(window[rim], 0.0, None))
        # two upper bounds of the diameter, the smaller kept: the voxel outline's
        # largest extent (overstates a ball by up to a voxel diagonal) and the ball
        # holding the focus's signal (blur and partial volume spread the darkness but
        # keep its sum, so sum / peak is the volume; overstated when the peak is
        # lowered, for a focus about a voxel across)
        signal_mm3 = float(np.clip(window[rim], 0.0, None).sum() * swi.voxel_volume_mm3)
        diameter = min(
            max_diameter_mm(coords, spacing),
            float((6.0 / np.pi * signal_mm3 / peak_darkness) ** (1.0 / 3.0)),
        )
        # a round focus beside a vein joins it at half maximum: its region runs along the
        # vein, but at the focus's own scale it is still a blob; it is then sized by
        # scale selection, which the vein does not widen
        merged = bool(np.any(touches)) or elongation > s.mb_max_elongation
        round_focus = entry["blobness"] >= min_blobness
        if merged and round_focus:
            diameter, centre = _scale_diameter_mm(window, region, spacing, s)
            key = ("scale", *(int(v) for v in np.asarray(centre) + lo))
            if key in seen:  # another peak of the same focus
                continue
            seen.add(key)
            entry["merged_with_vessel"] = True
        elif np.any(touches):
            part = int(dark_parts[tuple(peak)])
            if part not in extending_parts:  # one entry per long structure (a vein has many peaks)
                extending_parts.add(part)
                entry["reason"] = (
                    f"extends beyond {s.mb_max_diameter_mm:g} mm (vessel or larger lesion)"
                )
                excluded.append(entry)
            continue
        volume_mm3 = float(len(coords) * swi.voxel_volume_mm3)
        if entry.get("merged_with_vessel"):  # the region holds vein: the ball of that size
            volume_mm3 = float(np.pi / 6.0 * diameter**3)
        entry.update(
            {
                "diameter_mm": diameter,
                "volume_mm3": volume_mm3,
                "elongation": elongation,
                "index_zyx": [float(v) for v in centre_index],
            }
        )
        # a focus measured by its voxels is known to about a voxel: STRIVE's 2-10 mm
        # range is widened by half a voxel each side, and such foci are flagged
        tolerance = 0.5 * float(spacing.min())
        entry["size_within_one_voxel_of_limit"] = not (
            s.mb_min_diameter_mm <= diameter <= s.mb_max_diameter_mm
        )
        if not s.mb_min_diameter_mm - tolerance <= diameter <= s.mb_max_diameter_mm + tolerance:
            entry["reason"] = (
                f"diameter {diameter:.1f} mm outside {s.mb_min_diameter_mm:g}-"
                f"{s.mb_max_diameter_mm:g} mm (with half a voxel, {tolerance:g} mm, either side)"
            )
        elif merged and not round_focus:
            entry["reason"] = (
                f"elongated (axis ratio {elongation:.1f} > {s.mb_max_elongation:g}, blobness "
                f"{entry['blobness']:.2f} < {min_blobness:.2f}): vessel"
            )
        elif ct is not None:
            hu = _peak_value_near(ct, entry["position_mm"], diameter / 2 + 1.0)
            entry["ct_peak_hu"] = hu
            if hu is not None and hu >= s.ct_calcification_hu:
                entry["reason"] = (
                    f"hyperdense on CT (peak {hu:.0f} HU >= {s.ct_calcification_hu:g} HU): calcification"
                )
        if "reason" in entry:
            excluded.append(entry)
            continue
        centre_mm = np.asarray(entry["position_mm"])
        if any(  # another peak of a focus already taken (its region cut at another level)
            np.linalg.norm(centre_mm - c["position_mm"]) < max(diameter, c["diameter_mm"]) / 2
            for c in candidates
        ):
            continue
        definite = (
            peak_darkness >= s.mb_definite_darkness and elongation <= s.mb_definite_elongation
        )
        entry["certainty"] = "definite" if definite else "possible"
        entry["region"] = region_at(region_map, entry["position_mm"])
        entry["status"] = "candidate"
        candidates.append(entry)
    candidates.sort(key=lambda c: (c["position_mm"][2], c["position_mm"][1], c["position_mm"][0]))
    for k, c in enumerate(candidates, start=1):
        c["id"] = k
    return {"candidates": candidates, "excluded": excluded}


def _blobness(window: np.ndarray, local, spacing, radius_mm: float) -> float:
    """Frangi's blob measure R_B = |l1| / sqrt(|l2 l3|) of the Hessian at one voxel.

    Hessian of the darkness at the focus's own scale (Gaussian of SD radius / sqrt(3) mm,
    the scale at which the scale-normalised Laplacian of a sphere of that radius
    peaks), in mm; eigenvalues ordered by magnitude ``|l1| <= |l2| <= |l3|``. A round
    dark focus curves alike in all three directions (R_B near 1), a vein only across
    its axis (R_B near 0) (Frangi et al., MICCAI 1998). 0 unless all three curve the
    same way as a focus (negative: darkness falls off in every direction).
    """
    from skimage.feature import hessian_matrix

    sigma = max(radius_mm / np.sqrt(3.0), float(np.max(spacing))) / np.asarray(spacing)
    elems = hessian_matrix(
        window, sigma=tuple(sigma), mode="nearest", use_gaussian_derivatives=True
    )
    h = np.zeros((3, 3))
    for (i, j), e in zip(((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)), elems, strict=True):
        h[i, j] = h[j, i] = e[local] / (spacing[i] * spacing[j])
    eig = np.linalg.eigvalsh(h)
    if eig.max() >= 0:
        return 0.0
    l1, l2, l3 = sorted(np.abs(eig))
    return float(l1 / np.sqrt(l2 * l3))


def _scale_diameter_mm(window: np.ndarray, region: np.ndarray, spacing, settings: SvdSettings):
    """Diameter of a round focus by scale selection (Lindeberg, IJCV 1998), and where.

    The scale-normalised Laplacian of Gaussian of a ball peaks at its centre at
    sigma = radius / sqrt(3); the largest response over the focus's region and over
    radii in 0.25 mm steps up to the STRIVE upper bound plus a voxel gives its centre
    and radius. A vein that touches the focus widens its half-maximum region but not
    this scale. Scales below half a voxel (sigma) are not resolved by the grid (the
    sampled kernel is then mostly its central voxel), so the search starts there: a
    focus at the resolution limit is given that limit's diameter.

    Returns
    -------
    diameter_mm, index : the diameter and the window index of the response's maximum.
    """
    from scipy import ndimage

    spacing = np.asarray(spacing)
    lowest = np.sqrt(3.0) * 0.5 * float(spacing.max())
    radii = np.arange(lowest, settings.mb_max_diameter_mm / 2 + float(spacing.max()), 0.25)
    best, best_radius, best_index = -np.inf, float(radii[0]), None
    for radius in radii:
        sigma = radius / np.sqrt(3.0)
        response = -(sigma**2) * ndimage.gaussian_laplace(window, sigma / spacing, mode="nearest")
        response = np.where(region, response, -np.inf)
        k = int(np.argmax(response))
        if response.flat[k] > best:
            best, best_radius = float(response.flat[k]), float(radius)
            best_index = np.unravel_index(k, window.shape)
    return 2.0 * best_radius, tuple(int(v) for v in best_index)


def _elongation(coords: np.ndarray, spacing, weights: np.ndarray | None = None) -> float:
    """Major / minor axis ratio of a voxel set (second moments, each voxel a small box).

    With ``weights`` (the darkness of each voxel) the moments are those of the focus's
    signal rather than of its voxel set: a 2 mm focus covers only a few 1 mm voxels,
    whose outline alone looks elongated (two voxels in a row have an axis ratio of 2),
    while its blurred signal stays round.
    """
    points = coords * spacing
    cov = np.cov(points.T, aweights=weights) if len(points) > 1 else np.zeros((3, 3))
    cov = cov + np.diag(np.asarray(spacing) ** 2 / 12.0)  # a voxel's own extent
    eig = np.linalg.eigvalsh(cov)
    return float(np.sqrt(eig[-1] / eig[0]))


def _peak_value_near(volume: Volume, position_mm, radius_mm: float) -> float | None:
    """Largest value of ``volume`` within ``radius_mm`` of a physical point (None if outside)."""
    centre = volume.physical_to_index(np.asarray(position_mm))
    half = np.ceil(radius_mm / np.asarray(volume.spacing_zyx_mm)).astype(int)
    lo = np.floor(centre).astype(int) - half
    hi = np.ceil(centre).astype(int) + half + 1
    lo_c, hi_c = np.maximum(lo, 0), np.minimum(hi, volume.shape)
    if np.any(hi_c <= lo_c):
        return None
    block = np.asarray(volume.array[lo_c[0] : hi_c[0], lo_c[1] : hi_c[1], lo_c[2] : hi_c[2]])
    grid = np.stack(
        np.meshgrid(*[np.arange(a, b) for a, b in zip(lo_c, hi_c, strict=True)], indexing="ij"), -1
    )
    dist = np.linalg.norm((grid - centre) * np.asarray(volume.spacing_zyx_mm), axis=-1)
    inside = dist <= radius_mm
    return float(block[inside].max()) if inside.any() else None


def region_at(region_map: Volume | None, position_mm) -> str | None:
    """MARS region name at a physical point of a region map (1 lobar, 2 deep, 3 infratentorial)."""
    if region_map is None:
        return None
    index = np.round(region_map.physical_to_index(np.asarray(position_mm))).astype(int)
    if np.any(index < 0) or np.any(index >= region_map.shape):
        return None
    return REGION_MAP_LABELS.get(int(np.asarray(region_map.array[tuple(index)])))


# ------------------------------------------------------------------ lacunes
def measure_lacunes(
    flair: Volume,
    brain: np.ndarray | None = None,
    points_mm=None,
    labels: Volume | np.ndarray | None = None,
    settings: SvdSettings = SvdSettings(),
) -> dict[str, Any]:
    """Reader-marked lacunes with the STRIVE size check (3-15 mm, CLINICAL_RULES 5.1).

    Parameters
    ----------
    flair : FLAIR Volume; with points, the CSF-dark cavity around each point is
        measured on it.
    brain : brain mask (computed when None and points are given).
    points_mm : reader's points, ``(n, 3)`` LPS (x, y, z) mm.
    labels : reader's lacune labels on the FLAIR grid (each connected component is one).

    Returns
    -------
    dict with ``count`` (items within the size range), ``items`` (position_mm,
    diameter_mm, is_lacune, reason) and ``rule``.
    """
    from scipy import ndimage

    s = settings
    spacing = np.asarray(flair.spacing_zyx_mm)
    items = []
    if labels is not None:
        mask = np.asarray(getattr(labels, "array", labels)) != 0
        lab, _ = ndimage.label(mask, np.ones((3, 3, 3)))
        for k, region in enumerate(ndimage.find_objects(lab), start=1):
            coords = np.argwhere(lab[region] == k) + [r.start for r in region]
            items.append(
                {
                    "position_mm": [float(v) for v in flair.index_to_physical(coords.mean(0))],
                    "diameter_mm": max_diameter_mm(coords, spacing),
                }
            )
    if points_mm is not None and len(points_mm):
        array = flair.numpy().astype(np.float32)
        brain = brain_mask(flair) if brain is None else brain
        dark = brain & (array < s.csf_fraction * tissue_median(array, brain, s.csf_fraction))
        half = np.ceil((s.lacune_max_mm / 2 + 3.0) / spacing).astype(int)
        for point in np.asarray(points_mm, dtype=float).reshape(-1, 3):
            centre = np.round(flair.physical_to_index(point)).astype(int)
            lo = np.maximum(centre - half, 0)
            hi = np.minimum(centre + half + 1, dark.shape)
            window = dark[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
            lab, _ = ndimage.label(window, np.ones((3, 3, 3)))
            item = {"position_mm": [float(v) for v in point]}
            grid = np.argwhere(lab > 0)
            near = (
                np.linalg.norm((grid + lo - centre) * spacing, axis=1) <= 2.0 if len(grid) else []
            )
            if not np.any(near):
                item.update(
                    diameter_mm=None, is_lacune=False, reason="no CSF-like cavity at the point"
                )
                items.append(item)
                continue
            k = lab[tuple(grid[np.flatnonzero(near)[0]])]
            coords = np.argwhere(lab == k)
            if np.any(coords.min(0) == 0) or np.any(coords.max(0) == np.array(window.shape) - 1):
                item.update(
                    diameter_mm=None,
                    is_lacune=False,
                    reason=f"cavity larger than the {s.lacune_max_mm:g} mm window",
                )
                items.append(item)
                continue
            item["diameter_mm"] = max_diameter_mm(coords, spacing)
            items.append(item)
    for item in items:
        if "is_lacune" in item:
            continue
        d = item["diameter_mm"]
        item["is_lacune"] = bool(s.lacune_min_mm <= d <= s.lacune_max_mm)
        if not item["is_lacune"]:
            item["reason"] = (
                f"diameter {d:.1f} mm outside {s.lacune_min_mm:g}-{s.lacune_max_mm:g} mm"
            )
    return {
        "count": int(sum(item["is_lacune"] for item in items)),
        "items": items,
        "rule": f"lacune diameter {s.lacune_min_mm:g}-{s.lacune_max_mm:g} mm (STRIVE, CLINICAL_RULES 5.1)",
    }


# ---------------------------------------------------------------- the run
def run_svd_with_masks(
    flair: Volume,
    swi: Volume | None = None,
    *,
    t1: Volume | None = None,
    ct: Volume | None = None,
    wmh_labels: Volume | None = None,
    ventricle_labels: Volume | None = None,
    brain: Volume | None = None,
    region_map: Volume | None = None,
    lacune_points_mm=None,
    lacune_labels: Volume | None = None,
    no_lacunes: bool = False,
    epvs_basal_ganglia: int | None = None,
    epvs_centrum_semiovale: int | None = None,
    epvs_basal_ganglia_count: int | None = None,
    epvs_centrum_semiovale_count: int | None = None,
    fazekas_periventricular: int | None = None,
    fazekas_deep: int | None = None,
    resample: bool = False,
    settings: SvdSettings | None = None,
) -> dict[str, Any]:
    """Small vessel disease markers of one patient (see the module docstring).

    Parameters
    ----------
    flair : FLAIR Volume ``(z, y, x)``; the reference grid.
    swi : SWI or T2*-GRE; needed for microbleeds. Must be on the FLAIR grid unless
        ``resample`` (then resampled with SimpleITK, no transform).
    t1 : T1 (CSF dark) for finding the ventricles; FLAIR grid (or ``resample``).
    ct : head CT (HU) in the same physical space (any grid): microbleed candidates
        hyperdense on it are excluded as calcification.
    wmh_labels : the reader's WMH labels (non-zero = WMH) on the FLAIR grid; replace
        the automatic candidates.
    ventricle_labels, brain : masks on the FLAIR grid replacing the automatic ones.
    region_map : labels 1 lobar, 2 deep, 3 infratentorial in the same physical space.
    lacune_points_mm, lacune_labels : reader-marked lacunes (points ``(n, 3)`` LPS x, y,
        z mm, or labels on the FLAIR grid); ``no_lacunes=True`` records that the reader
        found none. Without any of these the lacune count is unknown (``None``).
    epvs_basal_ganglia, epvs_centrum_semiovale : reader's Potter grades (0-4), or
        the ``*_count`` variants (count on the worst slice and side -> grade).
    fazekas_periventricular, fazekas_deep : the reader's final Fazekas grades;
        without them the suggested grades are used and marked as such.
    resample : resample SWI / T1 / masks onto the FLAIR grid when their grids differ.
    settings : :class:`SvdSettings` (defaults when None).

    Returns
    -------
    record, masks : ``masks`` holds the boolean ``brain``, ``ventricles`` and ``wmh``
    arrays ``(z, y, x)`` on the FLAIR grid; ``record`` is a per-patient dict (plain
    JSON values): ``wmh_volume_ml``,
    ``wmh_periventricular_ml``, ``wmh_deep_ml``, ``fazekas_periventricular``,
    ``fazekas_deep`` (+ ``_suggested`` and ``fazekas_suggestion``), ``wmh_source``,
    ``ventricle_source`` (reader labels, T1 or FLAIR), ``microbleeds``,
    ``lacunes``, ``epvs_basal_ganglia``, ``epvs_centrum_semiovale``, ``svd_score``,
    ``inputs`` (geometry), ``settings`` and ``format_version``.
    """
    s = settings or SvdSettings()
    require_volumes(
        flair=flair,
        swi=swi,
        t1=t1,
        ct=ct,
        wmh_labels=wmh_labels,
        ventricle_labels=ventricle_labels,
        brain=brain,
        region_map=region_map,
        lacune_labels=lacune_labels,
    )
    if flair is None:
        raise InputError("run_svd needs a FLAIR Volume")
    grid = {
        "swi": swi,
        "t1": t1,
        "wmh_labels": wmh_labels,
        "ventricle_labels": ventricle_labels,
        "brain": brain,
        "lacune_labels": lacune_labels,
    }
    on = {
        name: None
        if vol is None
        else on_grid(
            flair, vol, name.replace("_", " "), resample, labels=name not in ("swi", "t1")
        )
        for name, vol in grid.items()
    }
    for name, vol in (("CT", ct), ("region map", region_map)):
        if vol is not None:
            _require_cover(flair, vol, name)
    brain_array = on["brain"].numpy() != 0 if on["brain"] is not None else brain_mask(flair, s)
    _, white_level = white_matter_level(flair, brain_array, s)
    csf = csf_compartments(flair, brain_array, white_level, s)
    warnings: list[str] = []
    if on["ventricle_labels"] is not None:
        ventricles = on["ventricle_labels"].numpy() != 0
        ventricle_source = "reader labels"
    elif on["t1"] is not None:
        ventricles = find_ventricles(on["t1"], brain_array, s)
        ventricle_source = "CSF-dark on T1"
    else:
        ventricles = csf["ventricles"]
        ventricle_source = "CSF-dark on FLAIR"
    if not ventricles.any():
        text = NO_VENTRICLES_WARNING.format(
            volume=s.ventricle_min_volume_ml, depth=s.ventricle_min_depth_mm
        )
        log.warning(text)
        warnings.append(text)
    cortex = cortex_zone(csf["outer"] & ~ventricles, brain_array, flair, s.cortex_mm)
    region = brain_array & ~ventricles & ~cortex
    wmh = (
        on["wmh_labels"].numpy() != 0
        if on["wmh_labels"] is not None
        else segment_wmh(flair, brain_array, ventricles, s, white_level, cortex)
    )
    fractions = (
        wmh_fractions(flair, wmh, region, ventricles, white_level, s)
        if s.wmh_partial_volume
        else None
    )
    record: dict[str, Any] = {
        "format_version": RECORD_FORMAT_VERSION,
        "kind": RECORD_KIND,
        "subject_id": None,
        "timepoint": "baseline",
    }
    record["settings"] = s.to_dict()
    record["warnings"] = warnings
    apply_wmh_measurement(record, measure_wmh(wmh, ventricles, flair, s, fractions))
    record["wmh_source"] = "reader labels" if wmh_labels is not None else "automatic candidates"
    record["ventricle_source"] = ventricle_source
    record["fazekas_periventricular_reader"] = fazekas_periventricular
    record["fazekas_deep_reader"] = fazekas_deep
    if on["swi"] is not None:
        found = detect_microbleeds(on["swi"], brain_array, s, ct=ct, region_map=region_map)
        record["microbleeds"] = {"candidates": found["candidates"], "excluded": found["excluded"]}
    else:
        record["microbleeds"] = None
    if lacune_points_mm is not None or on["lacune_labels"] is not None or no_lacunes:
        record["lacunes"] = measure_lacunes(
            flair, brain_array, points_mm=lacune_points_mm, labels=on["lacune_labels"], settings=s
        )
    else:
        record["lacunes"] = None
    record["epvs_basal_ganglia_count"] = epvs_basal_ganglia_count
    record["epvs_centrum_semiovale_count"] = epvs_centrum_semiovale_count
    record["epvs_basal_ganglia_reader"] = epvs_basal_ganglia
    record["epvs_centrum_semiovale_reader"] = epvs_centrum_semiovale
    record["calcification"] = {"grades": dict.fromkeys(CALCIFIED_ARTERIES), "source": None}
    record["inputs"] = {
        "flair": flair.geometry_dict(),
        "swi": None if swi is None else swi.geometry_dict(),
        "t1": None if t1 is None else t1.geometry_dict(),
        "ct": None if ct is None else ct.geometry_dict(),
        "resampled_onto_flair": sorted(
            n for n, v in grid.items() if v is not None and not flair.same_grid(v)
        ),
        "region_map": region_map is not None,
    }
    masks = {
        "brain": brain_array,
        "ventricles": ventricles,
        "wmh": wmh,
        "wmh_region": region,
        "white_level": white_level,
    }
    return summarise(record), masks


def run_svd(flair: Volume, swi: Volume | None = None, **kwargs) -> dict[str, Any]:
    """Small vessel disease markers of one patient: the record of
    :func:`run_svd_with_masks` (same parameters), without the masks."""
    return run_svd_with_masks(flair, swi, **kwargs)[0]


def update_wmh(
    record: dict[str, Any],
    wmh: np.ndarray,
    ventricles: np.ndarray,
    flair: Volume,
    settings: SvdSettings | None = None,
    masks: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Re-measure the WMH fields of a record from a (reader-edited) WMH mask, in place.

    Parameters
    ----------
    wmh : WMH mask or labels (non-zero = WMH) ``(z, y, x)`` on the FLAIR grid.
    ventricles : ventricle mask on the same grid.
    flair : the FLAIR Volume.
    settings : defaults to the record's ``settings``.
    masks : the masks of :func:`run_svd_with_masks`; with them (and
        ``wmh_partial_volume``) the volume is the sum of partial-volume fractions
        (:func:`wmh_fractions`), else the voxel count.
    """
    s = settings or SvdSettings.from_dict(record.get("settings"))
    masks = masks or {}
    measured = measure_wmh(
        wmh,
        ventricles,
        flair,
        s,
        region=masks.get("wmh_region"),
        white_level=masks.get("white_level"),
    )
    return apply_wmh_measurement(record, measured)


def apply_wmh_measurement(record: dict[str, Any], measured: dict[str, Any]) -> dict[str, Any]:
    """Put the output of :func:`measure_wmh` into a record (in place) and re-summarise."""
    measured = dict(measured)
    suggestion = measured.pop("fazekas_suggestion")
    record.update(measured)
    record["fazekas_periventricular_suggested"] = suggestion["periventricular"]
    record["fazekas_deep_suggested"] = suggestion["deep"]
    record["fazekas_suggestion"] = suggestion
    return summarise(record)


def summarise(record: dict[str, Any]) -> dict[str, Any]:
    """Recompute the derived fields of a record after the reader's edits (in place).

    * Fazekas: the reader's grade when entered, else the suggestion
      (``fazekas_source`` says which);
    * ``fazekas_sum`` (0-6) and the study's ``periventricular_lesion_grade``
      (``0-1`` / ``2`` / ``3``) from the two Fazekas grades;
    * microbleeds: ``count`` = candidates the reader **confirmed**; ``pending`` =
      candidates not yet reviewed; MARS counts by region and certainty over the
      confirmed ones, ``candidates_by_region`` over confirmed + pending;
      ``total_volume_mm3`` = the patient's total microbleed volume, summed over the
      confirmed ones with a measured volume (``volume_unmeasured`` counts those
      marked by the reader without one), ``pending_volume_mm3`` over the pending;
    * lacunes: count of items within the STRIVE size range;
    * EPVS: reader grade, else Potter grade of the count;
    * Staals SVD score (a microbleed item is unknown while none is confirmed and
      candidates are pending);
    * calcification: overall grade from the per-artery grades.
    """
    source = {}
    for region in ("periventricular", "deep"):
        reader = record.get(f"fazekas_{region}_reader")
        if reader is not None and reader not in (0, 1, 2, 3):
            raise InputError(f"Fazekas {region} grade must be 0-3, got {reader!r}")
        record[f"fazekas_{region}"] = (
            reader if reader is not None else record.get(f"fazekas_{region}_suggested")
        )
        source[region] = "reader" if reader is not None else "suggested"
    record["fazekas_source"] = source
    record["fazekas_sum"] = fazekas_sum(
        record.get("fazekas_periventricular"), record.get("fazekas_deep")
    )
    record["periventricular_lesion_grade"] = periventricular_lesion_grade(
        record.get("fazekas_periventricular")
    )
    mb = record.get("microbleeds")
    if mb is not None:
        for c in mb["candidates"]:
            if c.get("status") not in MICROBLEED_STATUSES:
                raise InputError(f"microbleed status must be one of {MICROBLEED_STATUSES}")
        confirmed = [c for c in mb["candidates"] if c["status"] == "confirmed"]
        pending = [c for c in mb["candidates"] if c["status"] == "candidate"]
        mars = mars_counts(confirmed)
        mb.update(
            count=mars["count"],
            definite=mars["definite"],
            possible=mars["possible"],
            by_region=mars["by_region"],
            confirmed=len(confirmed),
            pending=len(pending),
            rejected=sum(c["status"] == "rejected" for c in mb["candidates"]),
            candidates_by_region=mars_counts(confirmed + pending)["by_region"],
            total_volume_mm3=float(sum(c.get("volume_mm3") or 0.0 for c in confirmed)),
            volume_unmeasured=sum(c.get("volume_mm3") is None for c in confirmed),
            pending_volume_mm3=float(sum(c.get("volume_mm3") or 0.0 for c in pending)),
            count_rule="count = candidates confirmed by the reader (MARS definite + possible); "
            "pending candidates are listed but not counted",
        )
    lac = record.get("lacunes")
    if lac is not None:
        lac["count"] = int(sum(bool(i.get("is_lacune")) for i in lac["items"]))
    for region in ("basal_ganglia", "centrum_semiovale"):
        reader = record.get(f"epvs_{region}_reader")
        count = record.get(f"epvs_{region}_count")
        if reader is not None and reader not in (0, 1, 2, 3, 4):
            raise InputError(f"EPVS {region.replace('_', ' ')} grade must be 0-4, got {reader!r}")
        record[f"epvs_{region}"] = (
            reader if reader is not None else (None if count is None else potter_grade(count))
        )
    if mb is None:
        mb_count = None
    elif mb["count"] == 0 and mb["pending"] > 0:
        mb_count = None  # not known until the reader reviews the candidates
    else:
        mb_count = mb["count"]
    record["svd_score"] = staals_svd_score(
        lacune_count=None if lac is None else lac["count"],
        microbleed_count=mb_count,
        epvs_basal_ganglia_grade=record.get("epvs_basal_ganglia"),
        fazekas_periventricular=record.get("fazekas_periventricular"),
        fazekas_deep=record.get("fazekas_deep"),
        epvs_min_grade=record.get("settings", {}).get("epvs_min_grade_for_svd", 2),
    )
    calc = record.setdefault("calcification", {"grades": {}, "source": None})
    calc["overall"] = intracranial_overall_grade(calc.get("grades", {}))
    return _plain(record)


def set_calcification(record: dict[str, Any], grades: dict[str, Any], source: str = "reader"):
    """Set per-artery calcification grades (artery -> ``none/mild``/``moderate``/
    ``severe``/``None``) on a record and recompute the overall grade."""
    from napari_calcium.scores.small_vessel import CALCIFICATION_GRADES, grade_index

    merged = dict.fromkeys(CALCIFIED_ARTERIES)
    merged.update(record.get("calcification", {}).get("grades", {}))
    for artery, grade in grades.items():
        if artery not in CALCIFIED_ARTERIES:
            raise InputError(
                f"unknown artery {artery!r}", f"use one of {', '.join(CALCIFIED_ARTERIES)}"
            )
        try:
            merged[artery] = None if grade is None else CALCIFICATION_GRADES[grade_index(grade)]
        except ValueError as err:
            raise InputError(str(err)) from err
    record["calcification"] = {"grades": merged, "source": source}
    return summarise(record)


def calcification_from_json(path) -> dict[str, str | None]:
    """Per-artery grades from a JSON file of the intracranial analysis or a reader.

    Accepted shapes: the JSON that ``napari-calcium intracranial --json`` writes (the
    grade of its artery, see :func:`calcification_from_result`);
    ``{"grades": {"MCA_left": "moderate", ...}}`` (also under ``"calcification"``);
    or ``{"arteries": [{"artery": "MCA", "side": "left", "grade": "moderate"}, ...]}``.
    Unknown arteries are refused.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(f"cannot read calcification grades from {path}: {err}") from err
    if not isinstance(data, dict):
        raise InputError(f"{path} is not a JSON object with calcification grades")
    if isinstance(data.get("grade"), dict) and "calcifications" in data:
        return calcification_from_result(data, path.name)
    if isinstance(data.get("calcification"), dict):
        data = data["calcification"]
    if isinstance(data.get("grades"), dict):
        return dict(data["grades"])
    if isinstance(data.get("arteries"), list):
        grades = {}
        for item in data["arteries"]:
            name = item.get("artery", "")
            side = item.get("side")
            key = f"{name}_{side.lower()}" if side else name
            grades[key] = item.get("grade")
        return grades
    raise InputError(
        f"{path} has no per-artery calcification grades",
        'expected the JSON of "napari-calcium intracranial --json", {"grades": {"MCA_left": '
        '"moderate", ...}} or {"arteries": [{"artery": "MCA", "side": "left", "grade": '
        '"moderate"}]}',
    )


def calcification_from_result(result: dict[str, Any], name: str = "the result") -> dict[str, str]:
    """``{artery: grade}`` from an intracranial result (:func:`run_intracranial` JSON).

    The artery is the result's ``artery`` (``--artery`` on the command line; older
    files: the name of their single segment); it must be one of
    :data:`~napari_calcium.scores.small_vessel.CALCIFIED_ARTERIES`, so the CT grade
    flows into the small vessel disease record without copying.
    """
    artery = result.get("artery")
    segments = result.get("settings", {}).get("segments", {})
    if artery is None and len(segments) == 1:
        artery = next(iter(segments))
    if artery not in CALCIFIED_ARTERIES:
        raise InputError(
            f"{name} grades the artery {artery!r}, which is not one of "
            f"{', '.join(CALCIFIED_ARTERIES)}",
            "run the intracranial analysis with --artery set to the artery it measured "
            "(e.g. --artery MCA_left), or give the grade as --grade ARTERY=GRADE",
        )
    return {artery: result["grade"]["grade"]}


def _plain(value):
    """Plain JSON values (numpy scalars/arrays to Python, tuples to lists)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


# ------------------------------------------------------------------ records
def save_record(record: dict[str, Any], path) -> Path:
    """Write a per-patient record as JSON, atomically (temporary file, then rename)."""
    from napari_calcium.io.atomic import write_json

    record = summarise(dict(record))
    return write_json(path, record, allow_nan=False)


def load_record(path) -> dict[str, Any]:
    """Read a per-patient record; refuses files that are not records or are newer.

    Raises
    ------
    InputError
        unreadable JSON, not a small vessel disease record, or a ``format_version``
        newer than :data:`RECORD_FORMAT_VERSION`.
    """
    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise InputError(f"cannot read the record {path}: {err}") from err
    version = record.get("format_version") if isinstance(record, dict) else None
    if not isinstance(version, int) or record.get("kind") != RECORD_KIND:
        raise InputError(
            f"{path} is not a small vessel disease record (no kind / format_version)",
            "records are written by `napari-calcium svd --json` or the grading widget",
        )
    if version > RECORD_FORMAT_VERSION:
        raise InputError(
            f"{path} was written in record format version {version}; this napari-calcium "
            f"reads versions up to {RECORD_FORMAT_VERSION}",
            "update napari-calcium to read it (the file was not changed)",
        )
    return record


__all__ = [
    "MARS_REGIONS",
    "brain_mask",
    "apply_wmh_measurement",
    "RECORD_FORMAT_VERSION",
    "SvdSettings",
    "calcification_from_json",
    "calcification_from_result",
    "cortex_zone",
    "csf_compartments",
    "detect_microbleeds",
    "find_ventricles",
    "load_record",
    "measure_lacunes",
    "measure_wmh",
    "on_grid",
    "run_svd",
    "run_svd_with_masks",
    "save_record",
    "segment_wmh",
    "set_calcification",
    "summarise",
    "update_wmh",
    "white_matter_level",
    "wmh_fractions",
]
