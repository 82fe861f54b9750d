"""Sample cohorts: many phantom subjects with a manifest, and synthetic small-vessel records.

Beside :mod:`napari_calcium.samples` (one phantom of each kind written to files),
these make whole cohorts for the batch runner, its tests and benchmarks:

* :func:`write_phantom_cohort` — phantom subjects of every analysis written to files,
  with the manifest that runs them (:mod:`napari_calcium.cohort.manifest`);
* :func:`svd_cohort_records` — per-patient small-vessel records with known relations
  to the calcification grade, for the cohort report.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from napari_calcium.cohort.manifest import write_manifest
from napari_calcium.io.atomic import write_points_csv

#: Calcium thresholds (HU) cycled over phantom subjects, so their scores differ.
PHANTOM_THRESHOLDS_HU = (130.0, 150.0, 165.0, 180.0)
#: Brain phantom variants (Fazekas grades, microbleeds, lacunes) cycled over SVD subjects.
BRAIN_VARIANTS = (
    {"fazekas_periventricular": 1, "fazekas_deep": 1, "n_microbleeds": 2, "lacunes": False},
    {"fazekas_periventricular": 3, "fazekas_deep": 3, "n_microbleeds": 6, "lacunes": True},
)


def _coronary_subject(outdir: Path, subject_id: str, k: int) -> dict:
    import numpy as np

    from napari_calcium.io import write
    from napari_calcium.phantoms.coronary import coronary_ct

    ct, arteries, _ = coronary_ct((3.0, 1.5)[k % 2], seed=k)
    calcium = arteries.array > 0  # the phantom labels exactly the lesion voxels
    brighter = np.where(calcium, ct.array + 20 * (k % 7), ct.array)
    write(ct.with_array(brighter), outdir / subject_id / "ct.nii.gz")
    cells = {"ct": f"{subject_id}/ct.nii.gz", "threshold_hu": PHANTOM_THRESHOLDS_HU[k // 2 % 4]}
    if k % 3:  # every third subject without artery labels: no headline score
        write(arteries, outdir / subject_id / "arteries.nii.gz")
        cells["arteries"] = f"{subject_id}/arteries.nii.gz"
    return cells


def _ivus_subject(outdir: Path, subject_id: str, k: int) -> dict:
    from napari_calcium.io import write
    from napari_calcium.phantoms.ivus import ivus_pullback

    calcium = {
        "kind": "calcium",
        "start_mm": 1.0,
        "length_mm": 1.0 + 0.5 * (k % 3),
        "start_angle_deg": 30.0 * (k % 4),
        "arc_deg": (90.0, 180.0, 240.0, 300.0, 360.0)[k % 5],
        "depth_fraction": 0.2,
        "reverberation": False,
    }
    pullback, _ = ivus_pullback(
        n_frames=60,
        size=128,
        pixel_spacing_mm=0.06,
        pullback_speed_mm_s=2.0,
        frame_rate_hz=30.0,
        lesions=[calcium],
        seed=k,
    )
    write(pullback, outdir / subject_id / "pullback.nii.gz")
    return {
        "pullback": f"{subject_id}/pullback.nii.gz",
        "pullback_speed_mm_s": 2.0,
        "frame_rate_hz": 30.0,
    }


def _register_subject(outdir: Path, subject_id: str, k: int) -> dict:
    """A coarse (3 mm) head CT and MRI, a different known rigid motion per subject."""
    from napari_calcium.io import write
    from napari_calcium.phantoms.head import head_ct_mri

    ct, mri, truth = head_ct_mri(
        rotation_deg=(2.0 * (k % 4), -3.0, 4.0 + k % 3),
        translation_mm=(6.0, -2.0 * (k % 5), 4.0),
        ct_spacing_mm=(3.0, 3.0, 3.0),
        mri_spacing_mm=(3.0, 3.0, 3.0),
        supersample=1,
        artery_supersample=1,
        seed=k,
    )
    folder = outdir / subject_id
    write(ct, folder / "ct.nii.gz")
    write(mri, folder / "mri.nii.gz")
    for name, key in (
        ("landmarks_ct.csv", "landmarks_ct_mm"),
        ("landmarks_mri.csv", "landmarks_mri_mm"),
    ):
        write_points_csv(folder / name, truth[key], header=None)
    return {
        "fixed": f"{subject_id}/ct.nii.gz",
        "moving": f"{subject_id}/mri.nii.gz",
        "init": "moments",
        "landmarks_fixed": f"{subject_id}/landmarks_ct.csv",
        "landmarks_moving": f"{subject_id}/landmarks_mri.csv",
    }


def _intracranial_subject(outdir: Path, subject_id: str, k: int) -> dict:
    from napari_calcium.io import write
    from napari_calcium.phantoms.vessel import vessel_ct

    spacing_mm = ((0.4, 0.4, 0.45), (0.5, 0.5, 0.5))[k % 2]
    ct, truth = vessel_ct(spacing_mm=spacing_mm, calcium_hu=300.0 + 60.0 * (k % 4))
    write(ct, outdir / subject_id / "ct.nii.gz")
    write_points_csv(outdir / subject_id / "centerline.csv", truth["centerline_mm"])
    return {
        "ct": f"{subject_id}/ct.nii.gz",
        "centerline": f"{subject_id}/centerline.csv",
        "threshold_hu": (130.0, 200.0, 500.0)[k % 3],  # 500: above all calcium, none found
        "step_mm": 0.5,
    }


def _svd_subject(outdir: Path, subject_id: str, k: int) -> dict:
    """Brain variants are written once and shared; reader grades vary per subject."""
    from napari_calcium.io import write
    from napari_calcium.phantoms.brain import brain_flair_swi

    variant = k % len(BRAIN_VARIANTS)
    shared = f"brain-phantom-{variant}"
    if not (outdir / shared / "swi.nii.gz").is_file():
        flair, swi, _ = brain_flair_swi(seed=variant, **BRAIN_VARIANTS[variant])
        write(flair, outdir / shared / "flair.nii.gz")
        write(swi, outdir / shared / "swi.nii.gz")
    cells = {"flair": f"{shared}/flair.nii.gz", "epvs_bg": str(k // 2 % 5)}
    if k % 2 == 0:  # every other subject with its SWI (microbleeds)
        cells["swi"] = f"{shared}/swi.nii.gz"
    return cells


#: Analysis -> function(outdir, subject_id, k) writing the k-th phantom subject of
#: that analysis under ``outdir`` and returning its manifest cells (paths relative
#: to ``outdir``).
PHANTOM_SUBJECTS = {
    "coronary": _coronary_subject,
    "ivus": _ivus_subject,
    "intracranial": _intracranial_subject,
    "svd": _svd_subject,
    "register": _register_subject,
}


def write_phantom_cohort(outdir, n_subjects: int = 40, analyses=None) -> Path:
    """Write a cohort of phantom subjects and its manifest; returns the manifest path.

    Subject ``i`` gets analysis ``analyses[i % len(analyses)]`` and phantom
    parameters and options varied along the subjects of that analysis (slice
    thickness, calcium density, threshold, with or without optional inputs, brain
    variant ...), so results differ between subjects. Files go to
    ``outdir/<subject_id>/`` (brain phantoms, slow to make, to shared folders), the
    manifest to ``outdir/manifest.csv`` with paths relative to it.

    Parameters
    ----------
    outdir : folder to write into (created).
    n_subjects : number of subjects.
    analyses : analyses to cycle through; default every one with a phantom
        (:data:`PHANTOM_SUBJECTS`).
    """
    outdir = Path(outdir)
    analyses = list(analyses or PHANTOM_SUBJECTS)
    rows, counts = [], dict.fromkeys(analyses, 0)
    for index in range(n_subjects):
        analysis = analyses[index % len(analyses)]
        subject_id = f"{analysis}-{index:03d}"
        (outdir / subject_id).mkdir(parents=True, exist_ok=True)
        cells = PHANTOM_SUBJECTS[analysis](outdir, subject_id, counts[analysis])
        counts[analysis] += 1
        rows.append({"subject_id": subject_id, "analysis": analysis, **cells})
    return write_manifest(rows, outdir / "manifest.csv")


# ------------------------------------------------------ small-vessel records
def svd_cohort_records(
    n_subjects: int = 60, seed: int = 0, follow_up_every: int = 2
) -> list[dict]:
    """Synthetic per-patient records with known relations to the calcification grade.

    Subjects ``S001``... get an overall grade ``g`` = 0, 1, 2 in turn (none/mild,
    moderate, severe; set on the MCA of a random side, the other arteries one grade
    lower or none/mild). Markers rise monotonically with ``g``:

    * WMH volume (mL) = exp(N(0.7 + 0.8 g, 0.35)), split 70% periventricular;
    * confirmed microbleeds ~ Poisson(0.4 + 2.0 g);
    * lacunes ~ Poisson(0.2 + 0.9 g);
    * Fazekas PV and deep = clip(g + {0, 1} at random, 0, 3);
    * basal ganglia EPVS grade = clip(g + 1 + {-1, 0, 1}, 0, 4);

    and the centrum semiovale EPVS grade is drawn uniformly from 0-4 **independently
    of the grade** (the unrelated marker). Every ``follow_up_every``-th subject also
    has a follow-up record whose WMH volume grew by exp(N(0.3 g, 0.1)) - 1 of baseline.
    """
    from napari_calcium.scores.small_vessel import CALCIFICATION_GRADES
    from napari_calcium.svd import RECORD_FORMAT_VERSION, RECORD_KIND, SvdSettings, summarise

    rng = np.random.default_rng(seed)
    records = []
    for k in range(n_subjects):
        g = k % 3
        side = "left" if rng.random() < 0.5 else "right"
        other = "right" if side == "left" else "left"
        grades = {
            f"MCA_{side}": CALCIFICATION_GRADES[g],
            f"MCA_{other}": CALCIFICATION_GRADES[max(g - 1, 0)],
            "ICA_left": CALCIFICATION_GRADES[max(g - 1, 0)],
            "ICA_right": CALCIFICATION_GRADES[0],
            "basilar": CALCIFICATION_GRADES[0],
            "vertebral_left": CALCIFICATION_GRADES[0],
            "vertebral_right": CALCIFICATION_GRADES[0],
        }
        wmh = float(np.exp(rng.normal(0.7 + 0.8 * g, 0.35)))
        n_mb = int(rng.poisson(0.4 + 2.0 * g))
        n_lac = int(rng.poisson(0.2 + 0.9 * g))
        base = {
            "format_version": RECORD_FORMAT_VERSION,
            "kind": RECORD_KIND,
            "subject_id": f"S{k + 1:03d}",
            "timepoint": "baseline",
            "wmh_volume_ml": wmh,
            "wmh_periventricular_ml": 0.7 * wmh,
            "wmh_deep_ml": 0.3 * wmh,
            "fazekas_periventricular_reader": int(min(3, g + rng.integers(0, 2))),
            "fazekas_deep_reader": int(min(3, g + rng.integers(0, 2))),
            "microbleeds": {
                "candidates": [
                    {
                        "id": i + 1,
                        "status": "confirmed",
                        "certainty": "definite",
                        "region": ("lobar", "deep", "infratentorial")[i % 3],
                        "position_mm": [0.0, 0.0, float(i)],
                    }
                    for i in range(n_mb)
                ]
            },
            "lacunes": {"items": [{"diameter_mm": 6.0, "is_lacune": True} for _ in range(n_lac)]},
            "epvs_basal_ganglia_reader": int(np.clip(g + 1 + rng.integers(-1, 2), 0, 4)),
            "epvs_centrum_semiovale_reader": int(rng.integers(0, 5)),
            "calcification": {"grades": grades, "source": "synthetic"},
            "settings": SvdSettings().to_dict(),
        }
        records.append(summarise(base))
        if k % follow_up_every == 0:
            follow = json.loads(json.dumps(records[-1]))  # a deep copy as JSON
            follow["timepoint"] = "follow-up"
            growth = float(np.exp(rng.normal(0.3 * g, 0.1)))
            for key in ("wmh_volume_ml", "wmh_periventricular_ml", "wmh_deep_ml"):
                follow[key] = follow[key] * growth
            records.append(summarise(follow))
    return records
