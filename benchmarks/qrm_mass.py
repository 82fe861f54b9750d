"""Threshold-free calcium mass on the QRM-like insert phantom: tuned-on and held-out figures.

Run from the repository root: ``python benchmarks/qrm_mass.py``. For each configuration
of :func:`napari_calcium.phantoms.qrm.qrm_ct` (pixel, slice, noise, PSF, HU per mg HA/cm³,
resin HU, position against the slices), the calibration comes from the phantom's ROIs
and the reader's labels are the inserts; printed per insert group: the error of the
integrated and volume-fraction mass against the designed mass (rho x pi r² L), the
classic threshold mass for comparison, the largest Agatston of the group, and the
noise of the ROI sum alone (1 SD, % of the mass: the phantom's noise x c x voxel cm³ x
sqrt(ROI voxels)), which bounds how close any threshold-free mass can come.

Three lists:

* ``TUNED``: the configurations the ROI margin and background shell were chosen on (the
  first three are ``tests/calcium/test_qrm_mass.py``);
* ``SEEN``: the first held-out list; its softer-PSF case showed the 1-mm margin too
  short, so it is no longer held out and is reported as seen;
* ``HELD_OUT``: written after the margin and shell were fixed and run once; nothing was
  chosen on it.
"""

from __future__ import annotations

import logging

import numpy as np

from napari_calcium.calcium import CoronarySettings, run_coronary
from napari_calcium.calcium.coronary import calibration_from_rois, calibration_settings
from napari_calcium.phantoms.qrm import qrm_ct

TUNED = [
    {},
    {"pixel_mm": 0.4, "slice_mm": 0.5, "noise_hu": 15.0, "seed": 1},
    {"slice_mm": 3.0, "psf_sigma_mm": 0.5, "seed": 2},
    {"psf_sigma_mm": 0.7, "noise_hu": 20.0, "seed": 3},
    {"slice_mm": 2.0, "psf_sigma_mm": 0.6, "noise_hu": 25.0, "seed": 4},
]
SEEN = [
    {"pixel_mm": 0.35, "slice_mm": 0.625, "noise_hu": 20.0, "psf_sigma_mm": 0.35, "seed": 11},
    {"slice_mm": 1.5, "hu_per_mg_cm3": 0.95, "background_hu": 0.0, "z_offset_mm": 1.1, "seed": 12},
    {"pixel_mm": 0.45, "slice_mm": 2.5, "hu_per_mg_cm3": 1.3, "noise_hu": 8.0, "seed": 13},
    {"slice_mm": 1.0, "psf_sigma_mm": 0.6, "noise_hu": 25.0, "z_offset_mm": -0.7, "seed": 14},
]
HELD_OUT = [
    {
        "pixel_mm": 0.3,
        "slice_mm": 0.5,
        "noise_hu": 12.0,
        "psf_sigma_mm": 0.3,
        "background_hu": 50.0,
        "z_offset_mm": 0.0,
        "seed": 21,
    },
    {
        "slice_mm": 3.0,
        "noise_hu": 6.0,
        "psf_sigma_mm": 0.65,
        "hu_per_mg_cm3": 1.2,
        "background_hu": 20.0,
        "z_offset_mm": 1.4,
        "seed": 22,
    },
    {
        "pixel_mm": 0.42,
        "slice_mm": 1.25,
        "noise_hu": 18.0,
        "psf_sigma_mm": 0.45,
        "hu_per_mg_cm3": 0.9,
        "background_hu": 60.0,
        "z_offset_mm": -0.4,
        "seed": 23,
    },
    {
        "pixel_mm": 0.48,
        "slice_mm": 0.75,
        "noise_hu": 10.0,
        "psf_sigma_mm": 0.55,
        "hu_per_mg_cm3": 1.4,
        "background_hu": -10.0,
        "z_offset_mm": 0.9,
        "seed": 24,
    },
    {
        "pixel_mm": 0.38,
        "slice_mm": 2.0,
        "noise_hu": 14.0,
        "psf_sigma_mm": 0.4,
        "hu_per_mg_cm3": 1.05,
        "background_hu": 35.0,
        "z_offset_mm": -1.2,
        "seed": 25,
    },
    {
        "pixel_mm": 0.45,
        "slice_mm": 1.0,
        "noise_hu": 20.0,
        "psf_sigma_mm": 0.5,
        "hu_per_mg_cm3": 1.15,
        "background_hu": 45.0,
        "z_offset_mm": 0.2,
        "seed": 26,
    },
]


def evaluate(config: dict) -> dict[str, list[float]]:
    """Per insert group and figure: one value per insert of the configuration."""
    ct, labels, rois, truth = qrm_ct(**config)
    cal = calibration_from_rois(ct, rois, truth["calibration"]["rho_mg_cm3"])
    result = run_coronary(ct, labels, CoronarySettings(**calibration_settings(cal)))
    lesions = {les["id"]: les for les in result["lesions"]}
    voxel_cm3 = float(np.prod(ct.spacing_mm)) / 1000.0
    noise_hu = truth["config"]["noise_hu"]
    figures: dict[str, list[float]] = {}
    for insert in truth["inserts"]:
        x, y = insert["centre_xy_mm"]
        region = min(
            result["mass_regions"],
            key=lambda r: np.hypot(r["centroid_mm"][0] - x, r["centroid_mm"][1] - y),
        )
        if insert["rho_mg_cm3"] < 100:
            group = "low density 40 mg, 5 mm"
        else:
            group = f"{insert['diameter_mm']:g}-mm inserts"
        mass_mg = insert["mass_mg"]
        classic = sum(lesions[i]["mass_mg"] for i in region["lesion_ids"])
        for key, value in (
            ("integrated", region["integrated_mass_mg"]),
            ("volume fraction", region["volume_fraction_mass_mg"]),
            ("classic threshold mass", classic),
        ):
            figures.setdefault(f"{group}: {key}", []).append(100 * (value - mass_mg) / mass_mg)
        noise_mg = (noise_hu * truth["calibration"]["factor_mg_cm3_per_hu"] * voxel_cm3) * np.sqrt(
            region["roi_voxels"]
        )
        figures.setdefault(f"{group}: ROI noise 1 SD", []).append(100 * noise_mg / mass_mg)
        agatston = sum(lesions[i]["agatston"] for i in region["lesion_ids"])
        figures.setdefault(f"{group}: Agatston", []).append(agatston)
    return figures


def report(name: str, configs: list[dict]) -> None:
    merged: dict[str, list[float]] = {}
    for config in configs:
        for key, values in evaluate(config).items():
            merged.setdefault(key, []).extend(values)
    print(f"\n{name} ({len(configs)} configurations)")
    for key, values in merged.items():
        values = np.asarray(values)
        if key.endswith("Agatston"):
            print(f"  {key:48s} max {values.max():8.1f}")
        elif key.endswith("1 SD"):
            print(f"  {key:48s} % of mass: mean {values.mean():5.1f}, max {values.max():5.1f}")
        else:
            within = int(np.sum(np.abs(values) <= 5.0))
            print(
                f"  {key:48s} error % mean {values.mean():+6.1f}, "
                f"max |error| {np.abs(values).max():5.1f}, within 5 %: {within}/{values.size}"
            )


def main() -> None:
    logging.disable(logging.WARNING)
    report("tuned-on", TUNED)
    report("seen (the first held-out list)", SEEN)
    report("held-out", HELD_OUT)


if __name__ == "__main__":
    main()
