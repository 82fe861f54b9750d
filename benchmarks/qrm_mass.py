"""Threshold-free calcium mass on the QRM-like insert phantom: tuned-on and held-out figures.

Run from the repository root: ``python benchmarks/qrm_mass.py``. For each configuration
of :func:`napari_calcium.phantoms.qrm.qrm_ct` (pixel, slice, noise, PSF, HU per mg HA/cm³,
resin HU, position against the slices), the calibration comes from the phantom's ROIs
and the reader's labels are the inserts; printed per insert group: the error of the
integrated and volume-fraction mass against the designed mass (rho x pi r² L), and the
classic threshold mass and Agatston for comparison. The first three configurations are
the ones the method was developed on (``tests/calcium/test_qrm_mass.py``); the others
were never used to choose anything.
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
]
HELD_OUT = [
    {"pixel_mm": 0.35, "slice_mm": 0.625, "noise_hu": 20.0, "psf_sigma_mm": 0.35, "seed": 11},
    {"slice_mm": 1.5, "hu_per_mg_cm3": 0.95, "background_hu": 0.0, "z_offset_mm": 1.1, "seed": 12},
    {"pixel_mm": 0.45, "slice_mm": 2.5, "hu_per_mg_cm3": 1.3, "noise_hu": 8.0, "seed": 13},
    {"slice_mm": 1.0, "psf_sigma_mm": 0.6, "noise_hu": 25.0, "z_offset_mm": -0.7, "seed": 14},
]


def evaluate(config: dict) -> dict[str, list[float]]:
    ct, labels, rois, truth = qrm_ct(**config)
    cal = calibration_from_rois(ct, rois, truth["calibration"]["rho_mg_cm3"])
    result = run_coronary(ct, labels, CoronarySettings(**calibration_settings(cal)))
    lesions = {les["id"]: les for les in result["lesions"]}
    errors: dict[str, list[float]] = {}
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
        classic = sum(lesions[i]["mass_mg"] for i in region["lesion_ids"])
        agatston = sum(lesions[i]["agatston"] for i in region["lesion_ids"])
        for key, value in (
            ("integrated", region["integrated_mass_mg"]),
            ("volume fraction", region["volume_fraction_mass_mg"]),
            ("classic threshold mass", classic),
        ):
            errors.setdefault(f"{group}: {key}", []).append(
                100 * (value - insert["mass_mg"]) / insert["mass_mg"]
            )
        errors.setdefault(f"{group}: Agatston", []).append(agatston)
    return errors


def report(name: str, configs: list[dict]) -> None:
    merged: dict[str, list[float]] = {}
    for config in configs:
        for key, values in evaluate(config).items():
            merged.setdefault(key, []).extend(values)
    print(f"\n{name} ({len(configs)} configurations)")
    for key, values in merged.items():
        values = np.asarray(values)
        if key.endswith("Agatston"):
            print(f"  {key:55s} mean {values.mean():8.1f}")
        else:
            print(
                f"  {key:55s} error % mean {values.mean():+6.1f}, "
                f"max |error| {np.abs(values).max():5.1f}"
            )


def main() -> None:
    logging.disable(logging.WARNING)
    report("tuned-on", TUNED)
    report("held-out", HELD_OUT)


if __name__ == "__main__":
    main()
