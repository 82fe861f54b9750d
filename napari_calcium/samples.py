"""Write the phantoms to real files (DICOM, NIfTI) with their truth beside them.

``napari-calcium sample NAME OUTDIR`` calls :func:`write_sample`; the files in the
repository's ``sample_data/`` folder are made this way (see its README).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

from napari_calcium.report import atomic_write_text


def _write_truth(folder: Path, truth: dict) -> Path:
    return atomic_write_text(folder / "truth.json", json.dumps(truth, indent=2) + "\n")


def _coronary(folder: Path, slice_thickness_mm: float) -> None:
    from napari_calcium.io import write, write_dicom_series
    from napari_calcium.phantoms.coronary import coronary_ct

    ct, arteries, truth = coronary_ct(slice_thickness_mm=slice_thickness_mm)
    write_dicom_series(ct, folder / "ct", series_description="coronary CT phantom", compress=True)
    write(arteries, folder / "artery_labels.nii.gz")
    _write_truth(folder, truth)


def _ivus(folder: Path) -> None:
    from napari_calcium.io import write_ultrasound_multiframe
    from napari_calcium.phantoms.ivus import ivus_sample

    volume, truth = ivus_sample()
    write_ultrasound_multiframe(
        volume, folder / "pullback.dcm", frame_rate_hz=volume.acquisition.frame_rate_hz
    )
    _write_truth(folder, truth)


def _head(folder: Path) -> None:
    from napari_calcium.io import write, write_dicom_series
    from napari_calcium.phantoms.head import head_ct_mri, vessel_wall_mri

    ct, mri, truth = head_ct_mri()
    vwmri = vessel_wall_mri(truth)
    write_dicom_series(ct, folder / "ct", series_description="head CT phantom", compress=True)
    write(_as_stored_integers(mri), folder / "mri.nii.gz")
    write(_as_stored_integers(vwmri), folder / "vwmri.nii.gz")
    artery = truth["artery"]
    lumen_r = artery["lumen_diameter_mm"] / 2
    outer_r = lumen_r + artery["wall_thickness_mm"]
    truth["vessel_wall_mri"] = {
        "file": "vwmri.nii.gz",
        "spacing_mm": list(vwmri.spacing_mm),
        "physical_space": "the whole-head MRI's (same session): the CT -> MRI transform applies",
        "lumen_area_mm2": float(math.pi * lumen_r**2),
        "outer_wall_area_mm2": float(math.pi * outer_r**2),
        "wall_area_mm2": float(math.pi * (outer_r**2 - lumen_r**2)),
        "wall_thickness_mm": artery["wall_thickness_mm"],
        "stenosis_pct": 0.0,
    }
    write(truth.pop("labels_ct"), folder / "ct_labels.nii.gz")
    write(truth.pop("labels_mri"), folder / "mri_labels.nii.gz")
    centerline = truth["artery"]["centerline_mm"]
    rows = ["x_mm,y_mm,z_mm"] + [",".join(f"{c:.3f}" for c in p) for p in centerline]
    atomic_write_text(folder / "centerline.csv", "\n".join(rows) + "\n")
    _write_truth(folder, truth)


def _brain(folder: Path) -> None:
    from napari_calcium.io import write
    from napari_calcium.phantoms.brain import brain_flair_swi, brain_region_map

    flair, swi, truth = brain_flair_swi()
    write(_as_stored_integers(flair), folder / "flair.nii.gz")
    write(_as_stored_integers(swi), folder / "swi.nii.gz")
    write(brain_region_map(), folder / "regions.nii.gz")
    _write_truth(folder, truth)


def _as_stored_integers(volume):
    """MR values rounded to int16, as scanners store them (and 2-3x smaller files)."""
    import numpy as np

    return volume.with_array(np.round(volume.numpy()).astype(np.int16))


#: Sample name -> function writing it into a folder.
SAMPLES: dict[str, Callable[[Path], None]] = {
    "coronary-ct": lambda folder: _coronary(folder, 3.0),
    "coronary-ct-thin": lambda folder: _coronary(folder, 1.0),
    "ivus": _ivus,
    "head": _head,
    "brain": _brain,
}


def write_sample(name: str, outdir) -> Path:
    """Write sample ``name`` (or ``all``) into ``outdir/<name>/``; returns that folder."""
    from napari_calcium.errors import InputError

    outdir = Path(outdir)
    if name == "all":
        for each in SAMPLES:
            write_sample(each, outdir)
        return outdir
    if name not in SAMPLES:
        raise InputError(f"unknown sample {name!r}", f"choose one of: all, {', '.join(SAMPLES)}")
    folder = outdir / name
    folder.mkdir(parents=True, exist_ok=True)
    SAMPLES[name](folder)
    return folder
