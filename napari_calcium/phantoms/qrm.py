"""A calcification-insert phantom in the manner of the QRM cardio calcification insert.

Built from physical geometry alone (nothing here calls the scoring code), so its
masses are a truth the threshold-free measures did not produce:

* a water-equivalent resin (``background_hu``) with an air border (so it reads as HU);
* nine cylinders along z, diameter = length = 1, 3 and 5 mm, at 200, 400 and 800 mg
  HA/cm³ (the QRM insert's layout), and one low-density cylinder (5 mm, 40 mg HA/cm³)
  that stays below 130 HU, so Agatston scores it 0;
* a 10-mm calibration rod of 200 mg HA/cm³ and a resin region for the calibration ROIs.

A voxel's HU is ``background_hu + hu_per_mg_cm3 x`` the mean HA density over the voxel
(in-plane by 16 x 16 sub-samples, along z by the exact overlap of the slice with the
cylinder), blurred by a Gaussian point-spread function (``psf_sigma_mm``), plus
Gaussian noise (``noise_hu``, white), rounded to integers as a scanner stores them.
``truth`` gives each insert's designed mass ``rho x pi r² L`` (mg), its label and box.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import ndimage

from napari_calcium.volume import Acquisition, Volume

FOV_MM = 64.0
LENGTH_MM = 16.0
AIR_BORDER_MM = 3.0
CALIBRATION_RHO_MG_CM3 = 200.0
#: (diameter = length mm, HA density mg/cm³, centre (x, y) mm, artery label).
INSERTS: tuple[tuple[float, float, tuple[float, float], int], ...] = tuple(
    (size, rho, (14.0 + 12.0 * i, 14.0 + 12.0 * j), 1 + (3 * j + i) % 4)
    for j, rho in enumerate((200.0, 400.0, 800.0))
    for i, size in enumerate((5.0, 3.0, 1.0))
) + ((5.0, 40.0, (50.0, 14.0), 2),)
CALIBRATION_ROD = (10.0, (50.0, 30.0))  # diameter (mm), centre (x, y)
RESIN_ROI = (8.0, (50.0, 46.0))  # diameter (mm), centre (x, y) of the resin ROI


def qrm_ct(
    pixel_mm: float = 0.5,
    slice_mm: float = 1.0,
    noise_hu: float = 10.0,
    psf_sigma_mm: float = 0.4,
    hu_per_mg_cm3: float = 1.1,
    background_hu: float = 40.0,
    z_offset_mm: float = 0.3,
    seed: int = 0,
) -> tuple[Volume, Volume, Volume, dict[str, Any]]:
    """The phantom CT, the reader's insert labels, the calibration ROIs and the truth.

    Labels mark each insert (artery label 1-4) on the voxels whose centre lies within the
    cylinder's radius (the pixel nearest its axis for a thin one) in the slices the
    cylinder overlaps; calibration ROIs mark the rod's core (1) and resin (2).
    ``z_offset_mm`` shifts the cylinders against the slice grid.
    """
    nxy = int(round(FOV_MM / pixel_mm))
    nz = int(round(LENGTH_MM / slice_mm))
    density = np.zeros((nz, nxy, nxy))
    labels = np.zeros((nz, nxy, nxy), np.uint8)
    truth_inserts = []
    z_edges = np.arange(nz + 1) * slice_mm
    for size, rho, centre, artery in INSERTS:
        r = size / 2
        z0 = LENGTH_MM / 2 - r + z_offset_mm
        overlap = np.clip(
            np.minimum(z_edges[1:], z0 + size) - np.maximum(z_edges[:-1], z0), 0, None
        )
        fraction, box = _disk_fraction(centre, r, pixel_mm, nxy)
        density[:, box[0], box[1]] += rho * (overlap / slice_mm)[:, None, None] * fraction
        inside = _centre_inside(centre, r, pixel_mm, box)
        labels[np.ix_(overlap > 0, *(np.arange(b.start, b.stop) for b in box))] = np.where(
            inside, artery, 0
        )[None]
        truth_inserts.append(
            {
                "diameter_mm": size,
                "length_mm": size,
                "rho_mg_cm3": rho,
                "centre_xy_mm": list(centre),
                "artery_label": artery,
                "mass_mg": rho * math.pi * r**2 * size / 1000.0,
            }
        )
    rod_d, rod_centre = CALIBRATION_ROD
    fraction, box = _disk_fraction(rod_centre, rod_d / 2, pixel_mm, nxy)
    density[:, box[0], box[1]] += CALIBRATION_RHO_MG_CM3 * fraction
    rois = np.zeros((nz, nxy, nxy), np.uint8)
    rois[:, box[0], box[1]] = np.where(
        _centre_inside(rod_centre, rod_d / 2 - 2, pixel_mm, box), 1, 0
    )
    d, c = RESIN_ROI
    _, box = _disk_fraction(c, d / 2, pixel_mm, nxy)
    rois[:, box[0], box[1]] = np.where(_centre_inside(c, d / 2, pixel_mm, box), 2, 0)

    hu = background_hu + hu_per_mg_cm3 * density
    border = int(round(AIR_BORDER_MM / pixel_mm))
    hu[:, :border, :] = hu[:, -border:, :] = hu[:, :, :border] = hu[:, :, -border:] = -1000.0
    sigma = (psf_sigma_mm / slice_mm, psf_sigma_mm / pixel_mm, psf_sigma_mm / pixel_mm)
    hu = ndimage.gaussian_filter(hu, sigma, mode="nearest")
    hu += np.random.default_rng(seed).normal(0.0, noise_hu, hu.shape)
    ct = np.round(hu).astype(np.int16)
    acquisition = Acquisition(kvp=120, slice_thickness_mm=slice_mm, slice_increment_mm=slice_mm)
    volume = Volume(
        ct, (pixel_mm, pixel_mm, slice_mm), modality="CT", units="HU", acquisition=acquisition
    )
    as_labels = {"modality": "LABELS", "units": "label"}
    truth = {
        "inserts": truth_inserts,
        "calibration": {
            "rho_mg_cm3": CALIBRATION_RHO_MG_CM3,
            "insert_hu": background_hu + hu_per_mg_cm3 * CALIBRATION_RHO_MG_CM3,
            "resin_hu": background_hu,
            "factor_mg_cm3_per_hu": 1.0 / hu_per_mg_cm3,
        },
        "config": {
            "pixel_mm": pixel_mm,
            "slice_mm": slice_mm,
            "noise_hu": noise_hu,
            "psf_sigma_mm": psf_sigma_mm,
            "hu_per_mg_cm3": hu_per_mg_cm3,
            "background_hu": background_hu,
            "z_offset_mm": z_offset_mm,
            "seed": seed,
        },
    }
    return (
        volume,
        volume.replace(array=labels, **as_labels),
        volume.replace(array=rois, **as_labels),
        truth,
    )


def _disk_fraction(centre, r, pixel_mm, n):
    """Fraction of each pixel (in a box around the disk) covered by it, 16 x 16 sub-samples."""
    cx, cy = centre
    lo = [max(0, int(math.floor((c - r) / pixel_mm)) - 1) for c in (cy, cx)]
    hi = [min(n, int(math.ceil((c + r) / pixel_mm)) + 2) for c in (cy, cx)]
    sub = 16
    offsets = (np.arange(sub) + 0.5) / sub
    ys = (np.arange(lo[0], hi[0])[:, None] + offsets[None]).ravel() * pixel_mm
    xs = (np.arange(lo[1], hi[1])[:, None] + offsets[None]).ravel() * pixel_mm
    inside = (ys[:, None] - cy) ** 2 + (xs[None] - cx) ** 2 <= r * r
    ny, nx = hi[0] - lo[0], hi[1] - lo[1]
    fraction = inside.reshape(ny, sub, nx, sub).mean(axis=(1, 3))
    return fraction, (slice(lo[0], hi[0]), slice(lo[1], hi[1]))


def _centre_inside(centre, r, pixel_mm, box):
    """Pixels of ``box`` whose centre lies within ``r`` of ``centre``; at least the nearest."""
    cx, cy = centre
    ys = (np.arange(box[0].start, box[0].stop) + 0.5) * pixel_mm
    xs = (np.arange(box[1].start, box[1].stop) + 0.5) * pixel_mm
    distance2 = (ys[:, None] - cy) ** 2 + (xs[None] - cx) ** 2
    inside = distance2 <= r * r
    if not inside.any():
        inside = distance2 == distance2.min()
    return inside
