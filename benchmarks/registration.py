"""CT / MRI rigid registration on real anatomy and on the head phantom, against ITK-elastix
and plain SimpleITK in the same run.

Case sets, each with exact truth:

* ``pseudo``: the real thigh CT of each IBSI soft-tissue-sarcoma patient
  (``shared/data/real/ibsi_sts``, CC BY 3.0) and a T1-like MRI synthesised from it
  (:func:`napari_calcium.phantoms.moved.pseudo_t1`), moved by a known rigid transform
  ``T`` (:func:`napari_calcium.phantoms.moved.move`): rotation about a random axis by an
  angle drawn in each bin (0-10, 10-20, 20-30 degrees), translation of 0-40 mm in a random
  direction, a grid of its own (one of ``SPACINGS_MM``) and a field of view like the real
  MRI's (90-120 % of it), half of them also offset by up to 12 mm inside the anatomy. The
  truth is ``T``.
* ``header`` (exact consistency): the real T1 MRI of each patient moved by ``T`` by
  changing only its header (:func:`napari_calcium.phantoms.moved.move_header`: origin and
  direction, the same voxels). The CT and MRI are not exactly rigidly related (the thigh
  deforms between the scans) and the prepared frame is good to a few mm only, so the
  truth is consistency: each method's result on the moved MRI against ``T`` composed
  with the same method's result on the unmoved pair. The metric landscape is then the
  unmoved pair's, exactly: only the start differs.
* ``real`` (resampled consistency): the same motions, but the MRI resampled onto a grid
  of its own (:func:`napari_calcium.phantoms.moved.move`, whole field of view kept). The
  resampling and the new field of view change the problem a little, and on a pair that
  is not rigidly related that can move the rigid optimum legitimately: a second,
  looser figure.
* ``head``: the head phantom CT and MRI pairs (:mod:`napari_calcium.phantoms.head`).

Error: mean TRE ``‖T_est(p) − T_true(p)‖`` over CT body points (HU > -300, one per
15 mm cube) that the truth maps inside the moving image; the head phantom's 12 landmarks.
A case succeeds when its mean TRE is below half the largest voxel spacing of the two images.
A method that raises (an elastix internal error, our ``InputError``) fails that case; its
message prints in the case's row.

Methods: ours (:func:`napari_calcium.registration.register` with its defaults);
ITK-elastix's default ``rigid`` parameter map with a geometric-centre start
(``AutomaticTransformInitializationMethod GeometricalCenter``); plain SimpleITK: Euler 3-D
from the geometric centres, Mattes MI with 50 bins on 1 % random samples, regular step
gradient descent (learning rate 1, 200 iterations), shrink 4/2/1, smoothing 2/1/0 mm.

Patient STS_003 is held out: it was not looked at while the method was built, and its
figures print apart from those of STS_001 and STS_002 ("tuned on").

Timing: the machine is shared, so each method runs ``--repeats`` times per case,
alternating, and keeps its fastest time (errors are those of the first run); the uptime
line (load averages) prints at the start and at the end. Compare only ratios of one run.

Run: ``python benchmarks/registration.py [--sets pseudo,header,real,head] [--per-bin N]
[--repeats R] [--patients STS_001,STS_002,STS_003]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np

from napari_calcium.io import read
from napari_calcium.phantoms.head import head_ct_mri, truth_transform
from napari_calcium.phantoms.moved import (
    centre_mm,
    move,
    move_header,
    pseudo_t1,
    rotation_angle_deg,
)
from napari_calcium.registration import register, transform_points

PATIENTS = {"STS_001": "tuned on", "STS_002": "tuned on", "STS_003": "held out"}
ANGLE_BINS_DEG = ((0.0, 10.0), (10.0, 20.0), (20.0, 30.0))
MAX_SHIFT_MM = 40.0
SPACINGS_MM = (None, (1.2, 1.2, 2.0), (0.8, 0.8, 4.0), (1.5, 1.5, 1.5))
TARGET_LATTICE_MM = 15.0
METHODS = ("ours", "elastix", "sitk")

HEAD_CASES = [
    {"rotation_deg": (15.0, 0.0, 0.0), "translation_mm": (20.0, 0.0, 0.0)},
    {
        "rotation_deg": (0.0, 15.0, 0.0),
        "translation_mm": (0.0, -20.0, 10.0),
        "mri_fov_mm": (140.0, 170.0, 120.0),
        "mri_bias": 0.3,
        "mri_noise": 0.03,
    },
    {
        "rotation_deg": (0.0, 0.0, 15.0),
        "translation_mm": (-10.0, 15.0, -20.0),
        "mri_spacing_mm": (1.2, 1.2, 1.2),
    },
    {
        "rotation_deg": (10.0, -12.0, 8.0),
        "translation_mm": (15.0, -12.0, 10.0),
        "mri_bias": 0.3,
        "mri_noise": 0.04,
        "mri_fov_offset_mm": (5.0, 0.0, 15.0),
    },
    {
        "rotation_deg": (-8.0, 6.0, -15.0),
        "translation_mm": (-20.0, 20.0, 5.0),
        "ct_spacing_mm": (1.0, 1.0, 1.25),
        "mri_fov_mm": (160.0, 190.0, 140.0),
    },
]


def _data_folder() -> Path:
    if os.environ.get("NAPARI_CALCIUM_REAL_DATA"):
        return Path(os.environ["NAPARI_CALCIUM_REAL_DATA"]) / "ibsi_sts"
    for parent in Path(__file__).resolve().parents:
        if (parent / "shared" / "data" / "real" / "ibsi_sts").is_dir():
            return parent / "shared" / "data" / "real" / "ibsi_sts"
    raise SystemExit("shared/data/real/ibsi_sts not found: set NAPARI_CALCIUM_REAL_DATA")


# ------------------------------------------------------------------ methods
def ours(fixed, moving):
    result = register(fixed, moving)
    return result.transform, result.seconds, result.warnings


def to_itk(volume):
    import itk

    image = itk.image_from_array(np.ascontiguousarray(volume.numpy(), dtype=np.float32))
    image.SetSpacing(volume.spacing_mm)
    image.SetOrigin(volume.origin_mm)
    image.SetDirection(itk.matrix_from_array(np.ascontiguousarray(volume.direction)))
    return image


def elastix(fixed, moving):
    """ITK-elastix, default rigid map, geometric-centre start; an Euler transform."""
    import itk
    import SimpleITK as sitk

    fixed_image, moving_image = to_itk(fixed), to_itk(moving)
    parameters = itk.ParameterObject.New()
    rigid = parameters.GetDefaultParameterMap("rigid")
    rigid["AutomaticTransformInitialization"] = ["true"]
    rigid["AutomaticTransformInitializationMethod"] = ["GeometricalCenter"]
    parameters.AddParameterMap(rigid)
    start = time.perf_counter()
    _, result = itk.elastix_registration_method(
        fixed_image, moving_image, parameter_object=parameters, log_to_console=False
    )
    seconds = time.perf_counter() - start
    found = result.GetParameterMap(0)
    transform = sitk.Euler3DTransform()
    transform.SetCenter([float(v) for v in found["CenterOfRotationPoint"]])
    transform.SetParameters([float(v) for v in found["TransformParameters"]])
    return transform, seconds, []


def plain_sitk(fixed, moving):
    """Plain SimpleITK rigid Mattes MI, regular step gradient descent, geometric centres."""
    import SimpleITK as sitk

    fixed_image = sitk.Cast(fixed.to_sitk(), sitk.sitkFloat32)
    moving_image = sitk.Cast(moving.to_sitk(), sitk.sitkFloat32)
    start = time.perf_counter()
    initial = sitk.CenteredTransformInitializer(
        fixed_image,
        moving_image,
        sitk.Euler3DTransform(),
        sitk.CenteredTransformInitializerFilter.GEOMETRY,
    )
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(50)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(0.01, seed=1)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=1.0, minStep=1e-4, numberOfIterations=200, relaxationFactor=0.5
    )
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel([4, 2, 1])
    method.SetSmoothingSigmasPerLevel([2.0, 1.0, 0.0])
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    method.SetInitialTransform(initial, inPlace=False)
    transform = method.Execute(fixed_image, moving_image)
    return transform, time.perf_counter() - start, []


RUN = {"ours": ours, "elastix": elastix, "sitk": plain_sitk}


# ------------------------------------------------------------------ cases
def body_points(ct) -> np.ndarray:
    """CT points with HU > -300, one per ``TARGET_LATTICE_MM`` cube (LPS mm)."""
    points = ct.index_to_physical(np.argwhere(ct.numpy() > -300))
    _, first = np.unique(np.floor(points / TARGET_LATTICE_MM), axis=0, return_index=True)
    return points[np.sort(first)]


def inside(volume, points) -> np.ndarray:
    index = volume.physical_to_index(points)
    return np.all((index >= 0) & (index <= np.asarray(volume.shape) - 1), axis=1)


def sts_cases(folder: Path, patients, sets, per_bin: int):
    """Yield case dicts (moved image, truth T, facts) for each patient, set and bin.

    Each patient and source (pseudo-MR, real MR) draws its motions from a random stream
    of its own, so a case is the same whichever patients and sets run; the ``header``
    and ``real`` sets share the real MR's motions."""
    for patient in patients:
        ct = read(folder / patient / "CT_image.nii.gz", modality="CT")
        mri = read(folder / patient / "MR_T1_image.nii.gz", modality="MR")
        mri_fov = np.asarray(mri.shape[::-1]) * np.asarray(mri.spacing_mm)
        for number, source in enumerate(("pseudo", "real")):
            rng = np.random.default_rng([12, int(patient[-3:]), number])
            for low, high in ANGLE_BINS_DEG:
                for k in range(per_bin):
                    angle = rng.uniform(low + 0.5, high)
                    axis = rng.normal(size=3)
                    axis /= np.linalg.norm(axis)
                    shift = MAX_SHIFT_MM * (k + rng.uniform()) / per_bin
                    direction = rng.normal(size=3)
                    direction /= np.linalg.norm(direction)
                    spacing = SPACINGS_MM[rng.integers(len(SPACINGS_MM))]
                    offset = rng.uniform(-12.0, 12.0, 3) * (rng.uniform() < 0.5)
                    fov_scale = rng.uniform(0.9, 1.2)
                    bias, noise = rng.uniform(0.0, 0.4), rng.uniform(0.01, 0.05)
                    euler, translation = _euler_for(axis, angle), shift * direction
                    variants = []
                    if source == "pseudo" and "pseudo" in sets:
                        base = pseudo_t1(ct, bias=bias, noise=noise, seed=int(patient[-1]) + k)
                        variants.append(
                            (
                                "pseudo",
                                *move(
                                    base,
                                    euler,
                                    translation,
                                    spacing_mm=spacing,
                                    fov_mm=mri_fov * fov_scale,
                                    fov_offset_mm=centre_mm(mri) - centre_mm(ct) + offset,
                                ),
                            )
                        )
                    if source == "real" and "header" in sets:
                        variants.append(("header", *move_header(mri, euler, translation)))
                    if source == "real" and "real" in sets:
                        variants.append(
                            ("real", *move(mri, euler, translation, spacing_mm=spacing))
                        )
                    for name, moved, transform in variants:
                        yield {
                            "patient": patient,
                            "set": name,
                            "ct": ct,
                            "mri": mri,
                            "moving": moved,
                            "motion": transform,
                            "angle_deg": rotation_angle_deg(transform),
                            "shift_mm": shift,
                        }


def _euler_for(axis, angle_deg):
    """ITK Euler angles (x, y, z; Z·X·Y order) of the rotation by ``angle_deg`` about ``axis``."""
    import SimpleITK as sitk

    versor = sitk.VersorTransform(tuple(float(a) for a in axis), float(np.deg2rad(angle_deg)))
    euler = sitk.Euler3DTransform()
    euler.SetMatrix(versor.GetMatrix())
    return np.rad2deg(euler.GetParameters()[:3])


def run_case(fixed, moving, repeats: int):
    """Each method ``repeats`` times, alternating; first result, fastest time.

    A method that raises fails the case: its transform is ``None`` and the message
    stands in its warnings."""
    results, times = {}, {m: [] for m in METHODS}
    for _ in range(repeats):
        for method in METHODS:
            try:
                transform, seconds, warnings = RUN[method](fixed, moving)
            except Exception as err:  # noqa: BLE001 -- any failure of a method is a result
                message = str(err).strip().splitlines()[-1] if str(err).strip() else ""
                transform, seconds = None, float("nan")
                warnings = [f"raised {type(err).__name__}: {message[:100]}"]
            times[method].append(seconds)
            results.setdefault(method, (transform, warnings))
    return {m: (*results[m], min(times[m], key=_nan_last)) for m in METHODS}


def _nan_last(seconds: float) -> float:
    return float("inf") if np.isnan(seconds) else seconds


def composed(first, then):
    """``then ∘ first`` as a SimpleITK transform (``first`` applied first); ``None`` when
    ``first`` is (a method that raised on the unmoved pair has no consistency truth)."""
    import SimpleITK as sitk

    return None if first is None else sitk.CompositeTransform([then, first])


# ------------------------------------------------------------------ report
def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return f"load average {os.getloadavg()}"


def _time_ratio(rows, peer: str) -> float:
    """Median of ours/peer time over the rows where both ran to the end."""
    ratios = [
        r["ours"]["s"] / r[peer]["s"] for r in rows if np.isfinite(r["ours"]["s"] + r[peer]["s"])
    ]
    return statistics.median(ratios) if ratios else float("nan")


def summarise(rows, label: str) -> None:
    if not rows:
        return
    print(f"\n== {label}: {len(rows)} cases ==")
    print(
        f"{'bin (deg)':>10} {'n':>3} | "
        + " | ".join(f"{m + ' ok':>10}" for m in METHODS)
        + f" | {'median TRE ours/elastix (both ok)':>34} | {'time ours/elastix':>17} {'ours/sitk':>9}"
    )
    for low, high in ANGLE_BINS_DEG:
        chunk = [r for r in rows if low <= r["angle_deg"] < high]
        if not chunk:
            continue
        shares = [f"{np.mean([r[m]['ok'] for r in chunk]):>10.0%}" for m in METHODS]
        both = [r for r in chunk if r["ours"]["ok"] and r["elastix"]["ok"]]
        tre = (
            f"{statistics.median(r['ours']['tre'] for r in both):.2f} / "
            f"{statistics.median(r['elastix']['tre'] for r in both):.2f} mm"
            if both
            else "-"
        )
        print(
            f"{f'{low:.0f}-{high:.0f}':>10} {len(chunk):>3} | "
            + " | ".join(shares)
            + f" | {tre:>34} | {_time_ratio(chunk, 'elastix'):>17.2f} "
            f"{_time_ratio(chunk, 'sitk'):>9.2f}"
        )
    failed = [r for r in rows if not r["ours"]["ok"]]
    passed = [r for r in rows if r["ours"]["ok"]]
    print(
        f"all: ours {np.mean([r['ours']['ok'] for r in rows]):.0%}, "
        f"elastix {np.mean([r['elastix']['ok'] for r in rows]):.0%}, "
        f"sitk {np.mean([r['sitk']['ok'] for r in rows]):.0%}; "
        f"median time ratio ours/elastix {_time_ratio(rows, 'elastix'):.2f}; "
        f"our failures with a warning {sum(bool(r['ours']['warnings']) for r in failed)}/{len(failed)}, "
        f"successes with a warning {sum(bool(r['ours']['warnings']) for r in passed)}/{len(passed)}"
    )


def consistency(rows) -> None:
    """Per patient, the header-moved MRI against ``T`` ∘ (the unmoved result)."""
    chosen = [r for r in rows if r["set"] == "header"]
    if not chosen:
        return
    print("\n== exact consistency (header-moved real MRI), per patient ==")
    for patient in dict.fromkeys(r["patient"] for r in chosen):
        mine = [r for r in chosen if r["patient"] == patient]
        print(
            f"{patient} ({PATIENTS.get(patient, '')}, limit {mine[0]['limit_mm']:.2f} mm): "
            + "; ".join(
                f"{m} {sum(r[m]['ok'] for r in mine)}/{len(mine)} within, "
                f"max {max(r[m]['tre'] for r in mine):.2f} mm"
                for m in METHODS
            )
        )


def measure(case_rows, case, results, truths, points, voxel_mm):
    """One row: each method's mean error against its truth over the ``points`` that
    truth maps inside the moving image; a missing transform or truth is a failure."""
    row = {k: case[k] for k in ("patient", "set", "angle_deg", "shift_mm")}
    row["limit_mm"] = voxel_mm / 2
    for method in METHODS:
        transform, warnings, seconds = results[method]
        truth, error = truths[method], float("inf")
        if transform is not None and truth is not None:
            mapped = transform_points(truth, points)
            inside_points = points[inside(case["moving"], mapped)]
            if len(inside_points):
                error = _distance(transform, truth, inside_points)
        row[method] = {
            "tre": error,
            "ok": bool(error < voxel_mm / 2),
            "s": seconds,
            "warnings": warnings,
        }
    case_rows.append(row)
    raised = [f"{m} {row[m]['warnings'][0]}" for m in METHODS if results[m][0] is None]
    print(
        f"{row['patient']:>8} {row['set']:>6} {row['angle_deg']:>5.1f} {row['shift_mm']:>5.1f} "
        f"{voxel_mm / 2:>5.2f} | "
        + " | ".join(
            f"{row[m]['tre']:>6.2f} {row[m]['s']:>5.1f}{'' if row[m]['ok'] else ' x'}"
            for m in METHODS
        )
        + (
            f" | warned: {row['ours']['warnings'][0][:70]}"
            if row["ours"]["warnings"] and results["ours"][0] is not None
            else ""
        )
        + "".join(f" | {message[:110]}" for message in raised),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="pseudo,header,real,head")
    parser.add_argument("--per-bin", type=int, default=2, help="cases per angle bin, set, patient")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--patients", default=",".join(PATIENTS))
    args = parser.parse_args()
    sets = args.sets.split(",")
    print(f"start: {uptime()}")
    print(
        f"{'patient':>8} {'set':>6} {'angle':>5} {'shift':>5} {'limit':>5} | "
        + " | ".join(f"{m + ' TRE mm / s':>15}" for m in METHODS)
    )
    rows = []
    unmoved: dict = {}
    for case in sts_cases(_data_folder(), args.patients.split(","), sets, args.per_bin):
        ct, moving = case["ct"], case["moving"]
        voxel_mm = max(max(ct.spacing_mm), max(moving.spacing_mm))
        if case["set"] in ("header", "real"):
            if case["patient"] not in unmoved:
                first = run_case(ct, case["mri"], 1)
                unmoved[case["patient"]] = {m: first[m][0] for m in METHODS}
                print(
                    f"{case['patient']:>8} unmoved pair: "
                    + ", ".join(
                        f"ours vs {m} {_distance(first['ours'][0], first[m][0], body_points(ct)):.1f} mm"
                        if first["ours"][0] is not None and first[m][0] is not None
                        else f"{m}: {first[m][1][0] if first[m][1] else '-'}"
                        for m in METHODS[1:]
                    )
                )
            truths = {m: composed(unmoved[case["patient"]][m], case["motion"]) for m in METHODS}
        else:
            truths = dict.fromkeys(METHODS, case["motion"])
        measure(rows, case, run_case(ct, moving, args.repeats), truths, body_points(ct), voxel_mm)
    if "head" in sets:
        for number, settings in enumerate(HEAD_CASES, start=1):
            ct, mri, truth = head_ct_mri(**settings, seed=number)
            case = {
                "patient": "head",
                "set": "head",
                "angle_deg": rotation_angle_deg(truth_transform(truth)),
                "shift_mm": float(np.linalg.norm(settings["translation_mm"])),
            }
            truths = dict.fromkeys(METHODS, truth_transform(truth))
            voxel_mm = max(max(ct.spacing_mm), max(mri.spacing_mm))
            case["moving"] = mri
            points = np.asarray(truth["landmarks_ct_mm"])
            measure(rows, case, run_case(ct, mri, args.repeats), truths, points, voxel_mm)
    for source in ("pseudo", "header", "real"):
        for group in ("tuned on", "held out"):
            chosen = [
                r for r in rows if r["set"] == source and PATIENTS.get(r["patient"]) == group
            ]
            summarise(chosen, f"{source}, {group}")
    summarise([r for r in rows if r["set"] == "head"], "head phantom")
    summarise(
        [r for r in rows if r["set"] in ("pseudo", "header")],
        "real anatomy with exact truth (pseudo + header), all patients",
    )
    consistency(rows)
    print(f"\nend: {uptime()}")


def _distance(first, second, points) -> float:
    return float(
        np.mean(
            np.linalg.norm(
                transform_points(first, points) - transform_points(second, points), axis=1
            )
        )
    )


if __name__ == "__main__":
    main()
