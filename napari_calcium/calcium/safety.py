"""Checks that keep a coronary calcium score from being wrong where the numbers look fine.

Agatston scoring assumes a non-contrast CT and calcium that the reader placed in a
coronary artery. Two mistakes make huge, plausible-looking scores: a contrast CT
(the iodinated blood pool is above 130 HU, so one click can "assign" a whole heart
chamber to the LAD) and lesions that are not coronary calcium at all (spine, sternum,
aortic wall, a stent). These pure functions detect both; the limits are settings of
:class:`~napari_calcium.calcium.coronary.CoronarySettings` and are recorded in the
result ([C]: conventions of this software, not published rules).

* **Contrast** (:func:`blood_pool`): the largest region of voxels at 130-700 HU whose
  interior lies at least ``depth_mm`` (5 mm) inside the region. On a non-contrast CT
  blood is ~40 HU and only bone and calcium exceed 130 HU; they are thin (ribs,
  sternum, calcium, cortex) or split by discs below 130 HU (one vertebral body's
  cancellous core is a few mL), so no such region reaches ``min_ml`` (30 mL). On a
  contrast CT the ventricles, atria and aorta form one region of 100 mL or more at
  the blood-pool HU (typically 250-500 HU).
* **Implausible lesions** (:func:`lesion_flags`): a lesion larger than
  ``max_volume_mm3`` (1500 mm³; the largest coronary lesions are a few hundred mm³),
  with a peak above ``max_peak_hu`` (3000 HU: metal such as stents, clips, wires), or
  whose centroid is outside the heart region (a heart mask given by the reader or a
  segmentation, widened by ``heart_margin_mm``, 10 mm); on a contrast CT scored
  anyway, also a lesion whose peak is not 100 HU above the blood pool.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from napari_calcium.volume import Volume

#: HU range of a contrast-enhanced blood pool searched by :func:`blood_pool`.
BLOOD_POOL_RANGE_HU = (130.0, 700.0)
#: Grid spacing (mm) on which :func:`blood_pool` looks (the CT is subsampled to it).
BLOOD_POOL_GRID_MM = 2.0


def blood_pool(ct: Volume, depth_mm: float = 5.0, min_ml: float = 30.0) -> dict:
    """Detect an iodine-enhanced blood pool on a CT in HU.

    Returns
    -------
    dict
        ``enhanced`` (bool), ``blood_pool_hu`` (median HU of the largest deep region,
        ``None`` when there is none), ``blood_pool_volume_ml`` (its volume),
        ``blood_pool_centroid_mm`` (LPS x, y, z or ``None``) and ``rule`` (the rule
        with its values, for the record).
    """
    steps = [max(1, int(round(BLOOD_POOL_GRID_MM / s))) for s in ct.spacing_zyx_mm]
    array = np.asarray(ct.array[:: steps[0], :: steps[1], :: steps[2]], dtype=np.float32)
    spacing = np.asarray(ct.spacing_zyx_mm) * steps
    low, high = BLOOD_POOL_RANGE_HU
    inside = (array >= low) & (array <= high)
    deep = ndimage.distance_transform_edt(inside, sampling=spacing) >= depth_mm
    labels, n = ndimage.label(deep)
    rule = (
        f"contrast if the largest region at {low:g}-{high:g} HU, counted {depth_mm:g} mm "
        f"inside its border, holds >= {min_ml:g} mL"
    )
    if n == 0:
        return {
            "enhanced": False,
            "blood_pool_hu": None,
            "blood_pool_volume_ml": 0.0,
            "blood_pool_centroid_mm": None,
            "rule": rule,
        }
    sizes = np.bincount(labels.reshape(-1))[1:]
    largest = int(np.argmax(sizes)) + 1
    region = labels == largest
    volume_ml = float(sizes[largest - 1] * np.prod(spacing) / 1000.0)
    centroid = np.asarray(ndimage.center_of_mass(region)) * steps
    return {
        "enhanced": volume_ml >= min_ml,
        "blood_pool_hu": float(np.median(array[region])),
        "blood_pool_volume_ml": volume_ml,
        "blood_pool_centroid_mm": [float(v) for v in ct.index_to_physical(centroid)],
        "rule": rule,
    }


def heart_region(heart: Volume, margin_mm: float) -> np.ndarray:
    """The heart mask (any non-zero label) widened by ``margin_mm``, on the mask's grid."""
    mask = np.asarray(heart.array) != 0
    if margin_mm <= 0:
        return mask
    return ndimage.distance_transform_edt(~mask, sampling=heart.spacing_zyx_mm) <= margin_mm


def lesion_flags(
    volume_mm3: np.ndarray,
    peak_hu: np.ndarray,
    centroid_mm: np.ndarray,
    max_volume_mm3: float,
    max_peak_hu: float,
    heart: Volume | None = None,
    heart_margin_mm: float = 10.0,
    blood_pool_hu: float | None = None,
    above_blood_pool_hu: float = 100.0,
) -> list[list[str]]:
    """Reasons (possibly none) why each lesion is not plausible coronary calcium.

    ``centroid_mm`` holds one LPS (x, y, z) point per lesion. ``heart`` is a mask on
    any grid in the same physical frame; without it the location is not checked.
    ``blood_pool_hu`` (a contrast CT scored anyway) flags lesions whose peak is not
    ``above_blood_pool_hu`` brighter than the blood pool: iodine, not calcium.
    """
    flags: list[list[str]] = [[] for _ in range(len(volume_mm3))]
    for i, (volume, peak) in enumerate(zip(volume_mm3, peak_hu, strict=True)):
        if volume > max_volume_mm3:
            flags[i].append(f"volume {volume:.0f} mm³ > {max_volume_mm3:g} mm³")
        if peak > max_peak_hu:
            flags[i].append(f"peak {peak:.0f} HU > {max_peak_hu:g} HU (metal?)")
        if blood_pool_hu is not None and peak <= blood_pool_hu + above_blood_pool_hu:
            flags[i].append(
                f"peak {peak:.0f} HU not {above_blood_pool_hu:g} HU above the contrast "
                f"blood pool ({blood_pool_hu:.0f} HU)"
            )
    if heart is not None and len(flags):
        region = heart_region(heart, heart_margin_mm)
        index = np.round(heart.physical_to_index(np.asarray(centroid_mm, float))).astype(int)
        inside = np.all((index >= 0) & (index < region.shape), axis=1)
        inside[inside] = region[tuple(index[inside].T)]
        for i in np.flatnonzero(~inside):
            flags[i].append(f"outside the heart region (+{heart_margin_mm:g} mm)")
    return flags
