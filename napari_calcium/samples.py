"""Write the phantoms to real files (DICOM, NIfTI) with their truth beside them.

``napari-calcium sample NAME OUTDIR`` calls :func:`write_sample`; the files in the
repository's ``sample_data/`` folder are made this way (see its README).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from napari_calcium.io.atomic import write_json, write_points_csv


def _write_truth(folder: Path, truth: dict) -> Path:
    return write_json(folder / "truth.json", truth)


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
    write_points_csv(folder / "centerline.csv", truth["artery"]["centerline_mm"], digits=3)
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


def write_vba_study(folder, n_subjects: int = 80, seed: int = 3, second_reader: int = 20) -> Path:
    """Write the synthetic vertebrobasilar study and its manifests; returns the manifest.

    One folder per patient (``VB001/``: ``ct.nii.gz``, ``mri.nii.gz``,
    ``mri_post.nii.gz``, ``centerline.csv``) drawn by
    :func:`~napari_calcium.phantoms.study.draw_vba_study`; ``manifest.csv`` (one
    ``intracranial`` row per patient, ``artery`` = the plaque location, the clinical
    columns and the culprit plaques' positions ``culprit_mm``, reader ``A``) and
    ``truth.json`` (the culprit model, the true adjusted odds ratio, and per plaque
    the construction, designed pattern, culprit label and MRI truth). The first
    ``second_reader`` patients also get ``centerline_reader_B.csv``, the same artery
    re-clicked (every inner point moved 0.3 mm at random across the vessel), and
    ``manifest_reader_B.csv`` runs them with it: a second reading for agreement.
    """
    import numpy as np

    from napari_calcium.cohort.manifest import write_manifest
    from napari_calcium.io import write
    from napari_calcium.phantoms.study import draw_vba_study, plaque_images

    folder = Path(folder)
    study = draw_vba_study(n_subjects, seed)
    rng = np.random.default_rng(seed + 1000)
    rows, rows_b, truth_subjects = [], [], []
    clinical = (
        "age_years", "sex", "bmi_kg_m2", "smoking", "diabetes", "hypertension",
        "coronary_heart_disease", "ldl_mmol_l", "hs_crp_mg_l", "statin", "antiplatelet",
        "symptomatic",
    )  # fmt: skip
    for index, subject in enumerate(study["subjects"]):
        sid = subject["subject_id"]
        ct, mri, post, centerline, truth = plaque_images(subject)
        write(ct, folder / sid / "ct.nii.gz")
        write(mri, folder / sid / "mri.nii.gz")
        write(post, folder / sid / "mri_post.nii.gz")
        write_points_csv(folder / sid / "centerline.csv", centerline)
        row = {
            "subject_id": sid,
            "analysis": "intracranial",
            "ct": f"{sid}/ct.nii.gz",
            "centerline": f"{sid}/centerline.csv",
            "mri": f"{sid}/mri.nii.gz",
            "mri_post": f"{sid}/mri_post.nii.gz",
            "artery": subject["location"],
            "reader": "A",
            **{k: subject[k] for k in clinical},
            "culprit_mm": ";".join(f"{x:g}" for x in subject["culprit_mm"]),
        }
        rows.append(row)
        if index < second_reader:
            moved = centerline.copy()
            jitter = rng.normal(size=(len(moved) - 2, 3))
            moved[1:-1] += 0.3 * jitter / np.linalg.norm(jitter, axis=1, keepdims=True)
            write_points_csv(folder / sid / "centerline_reader_B.csv", moved)
            rows_b.append(row | {"centerline": f"{sid}/centerline_reader_B.csv", "reader": "B"})
        truth_subjects.append(
            {"subject_id": sid, "location": subject["location"], "plaques": truth["plaques"]}
        )
    if rows_b:
        write_manifest(rows_b, folder / "manifest_reader_B.csv")
    _write_truth(folder, {**study["truth"], "subjects": truth_subjects})
    return write_manifest(rows, folder / "manifest.csv")


#: Cohort samples: many subjects with their manifest, made on request (not by ``all``:
#: they are large). Name -> function(folder, n_subjects, seed).
COHORT_SAMPLES: dict[str, Callable[..., Path]] = {"vba-study": write_vba_study}

#: Sample name -> function writing it into a folder.
SAMPLES: dict[str, Callable[[Path], None]] = {
    "coronary-ct": lambda folder: _coronary(folder, 3.0),
    "coronary-ct-thin": lambda folder: _coronary(folder, 1.0),
    "ivus": _ivus,
    "head": _head,
    "brain": _brain,
}


def write_sample(
    name: str, outdir, n_subjects: int | None = None, seed: int | None = None
) -> Path:
    """Write sample ``name`` (or ``all``) into ``outdir/<name>/``; returns that folder.

    ``n_subjects`` and ``seed`` apply to the cohort samples (:data:`COHORT_SAMPLES`).
    """
    from napari_calcium.errors import InputError

    outdir = Path(outdir)
    if name in COHORT_SAMPLES:
        options = {k: v for k, v in (("n_subjects", n_subjects), ("seed", seed)) if v is not None}
        if options.get("n_subjects", 1) < 1:
            raise InputError(f"--subjects {n_subjects} must be at least 1")
        COHORT_SAMPLES[name](outdir / name, **options)
        return outdir / name
    if n_subjects is not None or seed is not None:
        raise InputError(
            f"--subjects and --seed apply to the cohort samples ({', '.join(COHORT_SAMPLES)})",
            f"leave them out for {name}",
        )
    if name == "all":
        for each in SAMPLES:
            write_sample(each, outdir)
        return outdir
    if name not in SAMPLES:
        known = ", ".join([*SAMPLES, *COHORT_SAMPLES])
        raise InputError(f"unknown sample {name!r}", f"choose one of: all, {known}")
    folder = outdir / name
    folder.mkdir(parents=True, exist_ok=True)
    SAMPLES[name](folder)
    return folder
