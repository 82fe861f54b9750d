"""A cardiac CT phantom with coronary calcium whose scores are known by construction.

Layout (axial slices along array axis 0, 128 x 128 pixels of 0.45 mm, 30 mm long):

* air (-1000 HU) around a body of fat (-100 HU) holding a heart (40 HU);
* four contrast-free coronary arteries (40 HU tubes along z): LM, LAD, LCX, RCA;
* six uniform calcified lesions, boxes aligned to the grid, every z-edge on a
  multiple of 3 mm so each slice thickness that divides 3 mm sees the same calcium;
  one of them (RCA, 2 x 2 pixels = 0.81 mm²) is below the 1 mm² minimum area;
* a vertebra-like bone (700 HU) with no artery label, which must never count;
* a hydroxyapatite calibration insert (250 HU, 200 mg HA/cm³) and a water insert
  (0 HU), also unlabelled, giving the mass calibration factor 200 / (250 - 0) = 0.8.

Noise is deterministic (``seed``), uniform integers in ``[-noise_hu, noise_hu]``, and
only on air, fat, heart and arteries, so no noisy voxel reaches 130 HU and the lesion
values stay exact. ``truth`` is computed from the construction (areas, lengths and
HU written below), not by the scoring code.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from napari_calcium.volume import Acquisition, Volume

PIXEL_MM = 0.45
SIZE_XY = 128
LENGTH_MM = 30.0
HU = {"air": -1000, "fat": -100, "heart": 40, "artery": 40, "bone": 700, "ha": 250, "water": 0}
#: Hydroxyapatite density of the calibration insert (mg HA / cm³).
RHO_HA_MG_CM3 = 200.0
ARTERIES = {1: "LM", 2: "LAD", 3: "LCX", 4: "RCA"}
#: Artery tube centres (row y, column x) in pixels and radius in pixels.
TUBES = {1: (34, 54), 2: (34, 80), 3: (72, 102), 4: (72, 26)}
TUBE_RADIUS_PX = 6
#: Lesions: artery label, HU, (rows, columns) in pixels centred on the tube, z range (mm).
LESIONS: tuple[dict[str, Any], ...] = (
    {"artery": 1, "hu": 250, "size_px": (4, 4), "z_mm": (9.0, 12.0)},
    {"artery": 2, "hu": 450, "size_px": (6, 5), "z_mm": (6.0, 12.0)},
    {"artery": 2, "hu": 160, "size_px": (3, 3), "z_mm": (18.0, 21.0)},
    {"artery": 3, "hu": 350, "size_px": (5, 5), "z_mm": (12.0, 15.0)},
    {"artery": 4, "hu": 600, "size_px": (8, 6), "z_mm": (3.0, 12.0)},
    {"artery": 4, "hu": 500, "size_px": (2, 2), "z_mm": (21.0, 24.0)},
)
BONE_BOX_YX = ((108, 118), (54, 76))
HA_BOX_YX = ((8, 14), (16, 22))
WATER_BOX_YX = ((8, 14), (106, 112))
ORIGIN_MM = (-28.8, -28.8, -150.0)


def coronary_ct(
    slice_thickness_mm: float = 3.0,
    seed: int = 0,
    *,
    noise_hu: int = 10,
    min_area_mm2: float = 1.0,
) -> tuple[Volume, Volume, dict[str, Any]]:
    """The coronary calcium phantom at one slice thickness.

    Parameters
    ----------
    slice_thickness_mm : contiguous slices of this thickness (= increment); must divide
        3 mm (3, 1.5, 1, 0.75, 0.6, 0.5 ...).
    seed : seed of the background noise.
    noise_hu : amplitude of the uniform integer noise on air, fat, heart and arteries.
    min_area_mm2 : minimum lesion area used to state which lesions count in ``truth``.

    Returns
    -------
    ct : int16 HU, ``(z, y, x)``, spacing (0.45, 0.45, thickness) mm, kVp 120.
    arteries : the reader's assignment: lesion voxels labelled 1 LM, 2 LAD, 3 LCX,
        4 RCA; bone and inserts 0.
    truth : scores worked out from the construction (Agatston per 3-mm slab, which is
        the same in native and resampled modes since every lesion edge is on a 3-mm
        boundary), mass for the stated calibration, per lesion facts.
    """
    t = float(slice_thickness_mm)
    per_slab = 3.0 / t
    if t <= 0 or not math.isclose(per_slab, round(per_slab), abs_tol=1e-9):
        raise ValueError(f"slice thickness must divide 3 mm, got {slice_thickness_mm}")
    nz = int(round(LENGTH_MM / t))
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE_XY, 0:SIZE_XY]
    plane = np.full((SIZE_XY, SIZE_XY), HU["air"], np.int16)
    plane[(yy - 64) ** 2 + (xx - 64) ** 2 <= 60**2] = HU["fat"]
    plane[((yy - 66) / 30.0) ** 2 + ((xx - 64) / 36.0) ** 2 <= 1.0] = HU["heart"]
    for cy, cx in TUBES.values():
        plane[(yy - cy) ** 2 + (xx - cx) ** 2 <= TUBE_RADIUS_PX**2] = HU["artery"]
    ct = np.repeat(plane[None], nz, axis=0)
    if noise_hu:
        ct += rng.integers(-noise_hu, noise_hu + 1, size=ct.shape, dtype=np.int16)
    for box, value in ((BONE_BOX_YX, "bone"), (HA_BOX_YX, "ha"), (WATER_BOX_YX, "water")):
        (y0, y1), (x0, x1) = box
        ct[:, y0:y1, x0:x1] = HU[value]
    arteries = np.zeros(ct.shape, np.uint8)
    for lesion in LESIONS:
        zs, ys, xs = _lesion_box(lesion, t)
        ct[zs, ys, xs] = lesion["hu"]
        arteries[zs, ys, xs] = lesion["artery"]

    acquisition = Acquisition(
        kvp=120.0,
        slice_thickness_mm=t,
        slice_increment_mm=t,
        reconstruction_kernel="phantom",
        manufacturer="napari-calcium phantom",
        series_description=f"coronary calcium phantom {t:g} mm",
    )
    geometry = {"spacing_mm": (PIXEL_MM, PIXEL_MM, t), "origin_mm": ORIGIN_MM}
    ct_volume = Volume(ct, modality="CT", units="HU", acquisition=acquisition, **geometry)
    arteries_volume = Volume(
        arteries, modality="LABELS", units="label", acquisition=acquisition, **geometry
    )
    return ct_volume, arteries_volume, _truth(t, min_area_mm2)


def calibration_rois(ct: Volume, truth: dict[str, Any]) -> Volume:
    """The phantom's calibration ROIs on its grid: 1 on the HA insert, 2 on the water insert."""
    cal = truth["calibration"]
    rois = np.zeros(ct.shape, np.uint8)
    for label, key in ((1, "insert_box_yx"), (2, "water_box_yx")):
        (y0, y1), (x0, x1) = cal[key]
        rois[:, y0:y1, x0:x1] = label
    return ct.replace(array=rois, modality="LABELS", units="label")


def _lesion_box(lesion: dict[str, Any], t: float) -> tuple[slice, slice, slice]:
    """Array slices ``(z, y, x)`` of a lesion at slice thickness ``t``."""
    cy, cx = TUBES[lesion["artery"]]
    h, w = lesion["size_px"]
    z0, z1 = lesion["z_mm"]
    return (
        slice(int(round(z0 / t)), int(round(z1 / t))),
        slice(cy - h // 2, cy - h // 2 + h),
        slice(cx - w // 2, cx - w // 2 + w),
    )


def _weight(hu: float) -> int:
    """Agatston density factor of a uniform lesion, from the published table."""
    return 1 if hu < 200 else 2 if hu < 300 else 3 if hu < 400 else 4


def _truth(t: float, min_area_mm2: float) -> dict[str, Any]:
    pixel_area = PIXEL_MM * PIXEL_MM
    calibration = RHO_HA_MG_CM3 / (HU["ha"] - HU["water"])
    lesions = []
    for i, lesion in enumerate(LESIONS):
        h, w = lesion["size_px"]
        z0, z1 = lesion["z_mm"]
        area = h * w * pixel_area
        n_slabs = int(round((z1 - z0) / 3.0))
        counted = area >= min_area_mm2
        volume = area * (z1 - z0)
        zs, ys, xs = _lesion_box(lesion, t)
        centre_index_xyz = ((xs.start + xs.stop - 1) / 2, (ys.start + ys.stop - 1) / 2)
        centroid = [
            ORIGIN_MM[0] + PIXEL_MM * centre_index_xyz[0],
            ORIGIN_MM[1] + PIXEL_MM * centre_index_xyz[1],
            ORIGIN_MM[2] + t * (zs.start + zs.stop - 1) / 2,
        ]
        lesions.append(
            {
                "index": i,
                "artery": ARTERIES[lesion["artery"]],
                "hu": lesion["hu"],
                "area_mm2": area,
                "z_mm": [z0, z1],
                "n_slices_3mm": n_slabs,
                "weight": _weight(lesion["hu"]),
                "counted": bool(counted),
                "agatston": area * _weight(lesion["hu"]) * n_slabs if counted else 0.0,
                "volume_mm3": volume if counted else 0.0,
                "mass_mg": calibration * volume / 1000.0 * lesion["hu"] if counted else 0.0,
                "box_zyx": [[s.start, s.stop] for s in (zs, ys, xs)],
                "centroid_mm": centroid,
            }
        )
    per_artery = {}
    for name in ARTERIES.values():
        mine = [les for les in lesions if les["artery"] == name and les["counted"]]
        per_artery[name] = {
            key: sum(les[key] for les in mine) for key in ("agatston", "volume_mm3", "mass_mg")
        }
        per_artery[name]["lesions"] = len(mine)
    total = sum(v["agatston"] for v in per_artery.values())
    n_vessels = sum(1 for v in per_artery.values() if v["agatston"] > 0)
    category = (
        "0"
        if total == 0
        else "1-10"
        if total <= 10
        else "11-100"
        if total <= 100
        else "101-400"
        if total <= 400
        else ">400"
    )
    group = 0 if total == 0 else 1 if total < 100 else 2 if total < 300 else 3
    return {
        "slice_thickness_mm": t,
        "agatston": total,
        "volume_mm3": sum(v["volume_mm3"] for v in per_artery.values()),
        "mass_mg": sum(v["mass_mg"] for v in per_artery.values()),
        "lesion_count": sum(v["lesions"] for v in per_artery.values()),
        "category": category,
        "cac_drs": f"A{group}/N{n_vessels}" if group else "A0",
        "per_artery": per_artery,
        "lesions": lesions,
        "min_area_mm2": min_area_mm2,
        "calibration": {
            "rho_ha_mg_cm3": RHO_HA_MG_CM3,
            "insert_hu": HU["ha"],
            "water_hu": HU["water"],
            "factor_mg_cm3_per_hu": calibration,
            "insert_box_yx": [list(r) for r in HA_BOX_YX],
            "water_box_yx": [list(r) for r in WATER_BOX_YX],
        },
        "bone": {"hu": HU["bone"], "box_yx": [list(r) for r in BONE_BOX_YX], "artery": None},
        "hu": dict(HU),
    }
