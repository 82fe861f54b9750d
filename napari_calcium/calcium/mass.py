"""Threshold-free calcium measures per labelled region: integrated and volume-fraction mass, SWCS.

The Agatston, volume and classic mass scores count only voxels above the threshold,
so they miss low-density calcium and the partial-volume rim of small lesions. The
three measures here integrate the CT over a region of interest instead (formulas and
references in :mod:`napari_calcium.scores.agatston`):

* ``integrated_mass_mg``: ``c x sum(v (HU - S_bkg))`` (integrated intensity);
* ``volume_fraction_mass_mg``: ``rho_cal x sum(v (HU - S_bkg) / (S_cal - S_bkg))``;
* ``swcs``: ``sum`` of ``Phi((HU - mu) / sigma)`` averaged in-plane with the
  five-point kernel (spatially weighted calcium score).

Regions and their ROIs (each a setting, recorded in the result):

* a **region** is a 3-D connected (26) set of voxels that carry one artery label, at
  any HU: the reader's labels, so painted low-density calcium counts although no voxel
  reaches 130 HU. Without artery labels the regions are the lesions above threshold;
* its **ROI** is the region grown by ``mass_roi_margin_mm`` (1.5 mm, at least one
  voxel along each axis) to take in the blurred rim, each voxel going to the nearest
  region when two grow into each other. The rim is the point-spread function's spill:
  a margin of about 2 standard deviations of a soft reconstruction kernel (sigma 0.7 mm,
  FWHM 1.6 mm) misses 1.6 % of a noise-free 3-mm insert's mass and 0.9 % of a 5-mm one,
  where 1 mm with a 2-mm shell missed 6.2 % and 4.1 % (:mod:`napari_calcium.phantoms.qrm`);
  a wider ROI adds noise (CalciumScoring.jl's notebooks dilate by 5 voxels, 2.5 mm at
  0.5 mm);
* its **background** ``S_bkg`` is the mean HU of a shell beyond the ROI, out to
  ``1 + mass_ring_mm / mass_roi_margin_mm`` times the ROI's reach (4.5 mm in-plane by
  default, a 3-mm shell, wide enough that its mean carries little noise), without
  labelled voxels, other ROIs or voxels above the threshold;
* a region's measures are split between its lesions by nearest lesion voxel; a region
  with no lesion above threshold is reported on its own (``mass_regions``, with
  ``lesion_ids`` empty) and counts in its artery's and the total measures.

Distances are in mm from the Volume's spacing (scipy's Euclidean distance transform);
a ROI crop around each region keeps the work proportional to the calcium, not the CT.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from napari_calcium.calcium.components import forward_offsets, sparse_components
from napari_calcium.scores import agatston as score


@dataclass(frozen=True)
class Calibration:
    """What each measure needs: ``c`` (integrated), insert HU and density (volume
    fraction), insert HU mean and SD (SWCS). Missing inputs leave that measure ``None``."""

    factor_mg_cm3_per_hu: float | None = None
    insert_hu: float | None = None
    insert_sd_hu: float | None = None
    insert_rho_mg_cm3: float | None = None

    @property
    def any(self) -> bool:
        return self.factor_mg_cm3_per_hu is not None or self.insert_hu is not None


MEASURES = ("integrated_mass_mg", "volume_fraction_mass_mg", "swcs")


def region_measures(
    ct_array: np.ndarray,
    spacing_zyx: tuple[float, float, float],
    thickness_mm: np.ndarray,
    regions: tuple[np.ndarray, np.ndarray, np.ndarray],
    lesions: tuple[np.ndarray, np.ndarray],
    threshold_hu: float,
    calibration: Calibration,
    margin_mm: float,
    ring_mm: float,
) -> tuple[dict[str, np.ndarray | None], list[dict], list[str]]:
    """The three measures per lesion and per region.

    Parameters
    ----------
    ct_array : the scoring CT ``(z, y, x)`` in HU.
    spacing_zyx : voxel spacing in mm, ``(z, y, x)``.
    thickness_mm : thickness each slice scores for (a partial last slab is thinner).
    regions : ``(flat_index, artery, region_id)`` of the labelled voxels, sorted by index.
    lesions : ``(flat_index, lesion_id)`` of the lesion voxels above threshold, sorted.
    threshold_hu : candidate threshold; voxels at or above it never count as background.

    Returns
    -------
    per_lesion : measure -> array over lesions 1..n (``None`` when its inputs are missing).
    regions : one dict per region (id, artery code, lesion ids, background HU, measures).
    warnings : text for measures that could not be made.
    """
    shape = ct_array.shape
    spacing = np.asarray(spacing_zyx, dtype=float)
    reach = np.maximum(margin_mm, spacing)  # ROI semi-axes (mm), at least one voxel
    outer = 1.0 + ring_mm / margin_mm  # background shell, in units of the ROI reach
    sampling = spacing / reach
    extent = np.ceil(outer * reach / spacing).astype(int) + 1
    region_index, region_artery, region_id = regions
    lesion_index, lesion_id = lesions
    n_lesions = int(lesion_id.max(initial=0))
    n_regions = int(region_id.max(initial=0))
    active = _active(calibration)
    per_lesion = {m: (np.zeros(n_lesions) if active[m] else None) for m in MEASURES}
    pixel_mm2 = spacing[1] * spacing[2]
    warnings: list[str] = []
    rows = []
    order = np.argsort(region_id, kind="stable")
    bounds = np.searchsorted(region_id[order], np.arange(1, n_regions + 2))
    region_zyx = np.stack(np.unravel_index(region_index, shape))
    lesion_zyx = np.stack(np.unravel_index(lesion_index, shape))
    for r in range(1, n_regions + 1):
        members = order[bounds[r - 1] : bounds[r]]
        zyx = region_zyx[:, members]
        low = np.maximum(zyx.min(axis=1) - extent, 0)
        high = np.minimum(zyx.max(axis=1) + extent + 1, shape)
        box = tuple(slice(a, b) for a, b in zip(low, high, strict=True))
        crop_regions = _crop(region_index, region_zyx, region_id, low, high, shape)
        crop_lesions = _crop(lesion_index, lesion_zyx, lesion_id, low, high, shape)
        ct = np.asarray(ct_array[box], dtype=float)
        own = crop_regions == r
        others = (crop_regions != 0) & ~own
        distance = ndimage.distance_transform_edt(~own, sampling=sampling)
        roi = distance <= 1.0
        shell = (distance > 1.0) & (distance <= outer) & (crop_regions == 0)
        if others.any():
            to_others = ndimage.distance_transform_edt(~others, sampling=sampling)
            roi &= ~others & (distance < to_others)
            shell &= to_others > 1.0
        shell &= ct < threshold_hu
        row = {
            "id": r,
            "artery": int(region_artery[order[bounds[r - 1]]]),
            "n_voxels": int(members.size),
            "centroid_zyx": zyx.mean(axis=1),
            "roi_voxels": int(roi.sum()),
            "background_hu": float(ct[shell].mean()) if shell.any() else None,
        }
        ids = np.unique(crop_lesions[own])
        row["lesion_ids"] = [int(i) for i in ids if i]
        values = _roi_values(ct, roi, shell, row["background_hu"], calibration, active)
        if values is None:
            warnings.append(
                f"region {r}: no background voxels around it (at the CT's edge or packed in "
                "labels); its integrated, volume-fraction and SWCS measures are left out"
            )
            row.update(dict.fromkeys(MEASURES))
            rows.append(row)
            continue
        z = np.nonzero(roi)[0] + low[0]
        volume_mm3 = pixel_mm2 * thickness_mm[z]
        share = _nearest_lesion(crop_lesions, roi, row["lesion_ids"], sampling)
        if active["volume_fraction_mass_mg"] and "volume_fraction_mass_mg" not in values:
            warnings.append(
                f"region {r}: its background ({row['background_hu']:.0f} HU) is not below the "
                f"calibration insert ({calibration.insert_hu:g} HU); no volume-fraction mass"
            )
        for measure in MEASURES:
            if measure not in values:
                row[measure] = None
                continue
            per_voxel = values[measure] * (volume_mm3 if measure != "swcs" else 1.0)
            row[measure] = float(per_voxel.sum())
            if row["lesion_ids"]:
                per_lesion[measure] += np.bincount(share, per_voxel, n_lesions + 1)[1:]
        rows.append(row)
    if active["swcs"] and not math.isclose(calibration.insert_rho_mg_cm3 or 100.0, 100.0):
        warnings.append(
            f"SWCS uses a {calibration.insert_rho_mg_cm3:g} mg HA/cm³ insert; MESA's "
            "weights come from a 100 mg HA/cm³ insert, so the values are not on MESA's scale"
        )
    return per_lesion, rows, warnings


def labelled_regions(index: np.ndarray, artery: np.ndarray, shape) -> np.ndarray:
    """Region id (1..n) of each labelled voxel: 26-connected within one artery label."""
    region, _ = sparse_components(index, shape, forward_offsets(8, 26), artery)
    return region


def _active(calibration: Calibration) -> dict[str, bool]:
    return {
        "integrated_mass_mg": calibration.factor_mg_cm3_per_hu is not None,
        "volume_fraction_mass_mg": calibration.insert_hu is not None
        and calibration.insert_rho_mg_cm3 is not None,
        "swcs": calibration.insert_hu is not None and calibration.insert_sd_hu is not None,
    }


def _roi_values(ct, roi, shell, background_hu, calibration: Calibration, active):
    """Per ROI voxel: mg per mm³ of voxel (integrated, volume fraction) and smoothed SWCS weight.

    A measure whose inputs are missing (or, for the volume fraction, an insert not
    brighter than the background) is left out of the dict.
    """
    if background_hu is None:
        return None
    hu = ct[roi]
    values = {}
    if active["integrated_mass_mg"]:
        # mg per mm³ of voxel: integrated_mass_mg of a 1 mm³ voxel
        values["integrated_mass_mg"] = score.integrated_mass_mg(
            hu, 1.0, background_hu, calibration.factor_mg_cm3_per_hu
        )
    if active["volume_fraction_mass_mg"] and calibration.insert_hu > background_hu:
        values["volume_fraction_mass_mg"] = score.volume_fraction_mass_mg(
            hu, 1.0, background_hu, calibration.insert_hu, calibration.insert_rho_mg_cm3
        )
    if active["swcs"]:
        # on the ROI's bounding box: outside the ROI the weights are 0 either way
        (box,) = ndimage.find_objects(roi.astype(np.uint8))
        inside = roi[box]
        weight = np.zeros(inside.shape)
        weight[inside] = score.swcs_weight(
            ct[box][inside], calibration.insert_hu, calibration.insert_sd_hu
        )
        kernel = score.SWCS_KERNEL[None]  # in-plane only
        values["swcs"] = ndimage.convolve(weight, kernel, mode="constant")[inside]
    return values


def _nearest_lesion(crop_lesions, roi, lesion_ids, sampling) -> np.ndarray:
    """Lesion id of the nearest lesion voxel for each ROI voxel (0 when the region has none)."""
    if not lesion_ids:
        return np.zeros(int(roi.sum()), np.int64)
    if len(lesion_ids) == 1:
        return np.full(int(roi.sum()), lesion_ids[0], np.int64)
    mine = np.isin(crop_lesions, lesion_ids)
    _, nearest = ndimage.distance_transform_edt(~mine, sampling=sampling, return_indices=True)
    return crop_lesions[tuple(axis[roi] for axis in nearest)].astype(np.int64)


def _crop(index, zyx, values, low, high, shape) -> np.ndarray:
    """Dense crop ``[low, high)`` of sparse labels: ``values`` at the sorted flat ``index``.

    The voxels of the crop's slices are one run of ``index`` (C order); of those, the
    ones inside the crop in-plane are written.
    """
    plane = shape[1] * shape[2]
    first, last = np.searchsorted(index, (low[0] * plane, high[0] * plane))
    z, y, x = zyx[:, first:last]
    inside = (y >= low[1]) & (y < high[1]) & (x >= low[2]) & (x < high[2])
    crop = np.zeros(tuple(high - low), np.int64)
    crop[z[inside] - low[0], y[inside] - low[1], x[inside] - low[2]] = values[first:last][inside]
    return crop
