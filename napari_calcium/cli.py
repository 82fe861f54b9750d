"""The ``napari-calcium`` command line.

Each subcommand is a small function ``add_<name>(subparsers)`` that registers its
parser and sets ``func``; the functions it calls are the same ones the Python API
and the napari widgets use. Problems with the user's input
(:class:`~napari_calcium.errors.InputError`) are printed as ``error: ...`` with
exit status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from napari_calcium.errors import InputError

log = logging.getLogger("napari_calcium")


def write_json(data, path: Path | None) -> None:
    """Write ``data`` as JSON to ``path`` atomically, or to stdout when ``path`` is None."""
    from napari_calcium.io.atomic import json_text
    from napari_calcium.io.atomic import write_json as write_json_file

    if path is None:
        print(json_text(data))
    else:
        write_json_file(path, data)


# ----------------------------------------------------------------- subcommands
def add_info(sub) -> None:
    p = sub.add_parser("info", help="print a volume's geometry and acquisition facts as JSON")
    p.add_argument("path", type=Path, help="DICOM folder/file, NIfTI, NRRD, MHA or frame folder")
    p.add_argument(
        "--modality", choices=["CT", "MR", "US", "IVUS"], help="when the file does not say"
    )
    add_reading_options(p)
    p.set_defaults(func=run_info)


def add_reading_options(p) -> None:
    """Options of :func:`napari_calcium.io.read` shared by the subcommands that read images."""
    p.add_argument(
        "--series",
        metavar="UID",
        help="SeriesInstanceUID to open from a folder with several series (default: the largest)",
    )
    p.add_argument(
        "--resample",
        action="store_true",
        help="resample a DICOM stack with missing slices, uneven spacing or gantry tilt "
        "onto a uniform grid (linear) instead of stopping",
    )
    p.add_argument(
        "--pullback-speed",
        type=float,
        metavar="MM_S",
        dest="pullback_speed_mm_s",
        help="IVUS pullback speed in mm/s (frame spacing = speed / frame rate)",
    )
    p.add_argument(
        "--frame-rate",
        type=float,
        metavar="FPS",
        dest="frame_rate_hz",
        help="IVUS frame rate in frames/s (overrides the file's)",
    )
    p.add_argument(
        "--pixel-spacing",
        type=float,
        metavar="MM",
        dest="pixel_spacing_mm",
        help="IVUS in-plane pixel size in mm (overrides the file's)",
    )


def read_from_args(args):
    """Read ``args.path`` with the reading options; a folder with several series opens
    the largest (unless ``--series``) with a note on stderr naming the others."""
    from napari_calcium.io import list_series, read

    series_uid = args.series
    if series_uid is None and args.path.is_dir():
        series = list_series(args.path)
        if len(series) > 1:
            series_uid = series[0].series_uid
            others = "; ".join(s.summary() for s in series[1:])
            print(
                f"note: {args.path} holds {len(series)} series; opening the largest, "
                f"{series[0].summary()} (others: {others}; choose with --series UID)",
                file=sys.stderr,
            )
    return read(
        args.path,
        modality=args.modality,
        series_uid=series_uid,
        resample=args.resample,
        pullback_speed_mm_s=args.pullback_speed_mm_s,
        frame_rate_hz=args.frame_rate_hz,
        pixel_spacing_mm=args.pixel_spacing_mm,
    )


def run_info(args) -> int:
    volume = read_from_args(args)
    info = volume.geometry_dict()
    info["frame_spacing_mm"] = volume.frame_spacing_mm
    write_json(info, None)
    return 0


def add_sample(sub) -> None:
    from napari_calcium.samples import COHORT_SAMPLES, SAMPLES

    p = sub.add_parser("sample", help="write a phantom with its truth as DICOM / NIfTI files")
    p.add_argument(
        "name",
        choices=["all", *SAMPLES, *COHORT_SAMPLES],
        help=f"which sample (all: every one but the cohort samples, {', '.join(COHORT_SAMPLES)})",
    )
    p.add_argument("outdir", type=Path, help="folder to write into (NAME/ is created in it)")
    p.add_argument("--subjects", type=int, help="cohort samples: number of patients (80)")
    p.add_argument("--seed", type=int, help="cohort samples: random seed (3)")
    p.set_defaults(func=run_sample)


def run_sample(args) -> int:
    from napari_calcium.samples import write_sample

    folder = write_sample(args.name, args.outdir, args.subjects, args.seed)
    print(f"wrote {args.name} to {folder}", file=sys.stderr)
    return 0


def add_demo(sub) -> None:
    p = sub.add_parser("demo", help="read and analyse the bundled samples; write a report")
    p.add_argument("--out", type=Path, default=Path("demo-report"), help="report folder")
    gui = p.add_mutually_exclusive_group()
    gui.add_argument("--gui", action="store_true", default=None, help="open napari afterwards")
    gui.add_argument("--no-gui", dest="gui", action="store_false", help="report only")
    p.set_defaults(func=run_demo)


def run_demo(args) -> int:
    from napari_calcium.demo import run_demo as demo

    report = demo(args.out, gui=args.gui)
    print(f"read {len(report['read'])} sample files; ran {len(report['measured'])} analyses")
    for name, summary in report["measured"].items():
        print(f"  {name}: {summary.get('headline', '')}")
    print(f"report: {args.out / 'report.html'} and {args.out / 'report.json'}")
    return 0


def add_batch(sub) -> None:
    p = sub.add_parser(
        "batch",
        help="run a manifest of subjects on Dask; write per-subject JSON and tidy tables",
        description="Run every row of MANIFEST.csv (subject_id, analysis, inputs, options) "
        "and write OUTDIR/subjects/<id>.json, subjects.csv, lesions.csv and errors.csv. "
        "Exit status 1 when some subjects failed.",
    )
    p.add_argument("manifest", type=Path, help="manifest CSV, one row per subject")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--workers", type=int, default=2, help="local worker processes (default 2)")
    p.add_argument("--scheduler", help="use a running Dask scheduler: tcp://HOST:PORT or its file")
    p.add_argument("--resume", action="store_true", help="skip subjects with unchanged results")
    p.add_argument(
        "--memory-limit", default="auto", help="per local worker, e.g. 2GiB (default: RAM/workers)"
    )
    p.set_defaults(func=run_batch)


def run_batch(args) -> int:
    from napari_calcium.cohort.batch import run

    if args.workers < 1:
        raise InputError(f"--workers {args.workers} must be at least 1")
    if args.memory_limit != "auto":
        from dask.utils import parse_bytes

        try:
            parse_bytes(args.memory_limit)
        except ValueError:
            raise InputError(
                f"--memory-limit {args.memory_limit!r} is not a size", "write e.g. 2GiB or 1500MB"
            ) from None
    result = run(
        args.manifest,
        args.out,
        workers=args.workers,
        scheduler=args.scheduler,
        resume=args.resume,
        memory_limit=args.memory_limit,
        progress=True,
    )
    total = len(result.subjects)
    print(
        f"{total} subjects: {len(result.computed)} computed, {len(result.skipped)} unchanged "
        f"(kept), {len(result.failed)} failed; tables in {args.out}",
        file=sys.stderr,
    )
    if result.failed:
        print(
            f"{len(result.failed)} of {total} subjects failed; see {args.out / 'errors.csv'}",
            file=sys.stderr,
        )
        return 1
    return 0


def add_coronary(sub) -> None:
    p = sub.add_parser(
        "coronary",
        help="coronary artery calcium: Agatston, volume and mass scores, CAC-DRS, lesion table",
    )
    p.add_argument("ct_path", type=Path, help="non-contrast cardiac CT in HU (DICOM, NIfTI ...)")
    p.add_argument(
        "--arteries",
        type=Path,
        help="artery label image on the CT grid (1 LM, 2 LAD, 3 LCX, 4 RCA); without it "
        "every candidate is scored as 'unassigned'",
    )
    p.add_argument(
        "--artery-names",
        default="LM,LAD,LCX,RCA",
        help="names of labels 1, 2, 3, ... in order (default LM,LAD,LCX,RCA); branches "
        "listed apart (e.g. LM,LAD,LCX,RCA,D1) are scored apart and not counted in CAC-DRS N",
    )
    p.add_argument("--threshold-hu", type=float, default=130.0, help="candidate threshold (>=)")
    p.add_argument("--min-area-mm2", type=float, default=1.0, help="minimum slice-lesion area")
    p.add_argument("--min-pixels", type=int, help="also require this many pixels per slice-lesion")
    p.add_argument("--connectivity", type=int, choices=[4, 8], default=8, help="in-plane")
    p.add_argument(
        "--slice-mode",
        choices=["resample3mm", "native"],
        default="resample3mm",
        help="resample3mm (default): score 3-mm slab averages; native: score the slices "
        "and scale by increment / 3 mm",
    )
    p.add_argument(
        "--kvp-adjusted",
        action="store_true",
        help="kVp-specific threshold and weights (values unverified, see docs)",
    )
    p.add_argument(
        "--threshold-rule",
        choices=["fixed", "kvp_formula"],
        default="fixed",
        help="fixed (default): --threshold-hu; kvp_formula: round(378 exp(-0.009 kV)) HU from "
        "the CT's kVp with kV-table weights, weight 0 below the table's first edge",
    )
    p.add_argument(
        "--category-scheme",
        choices=["rumberger", "mesa"],
        default="rumberger",
        help="risk categories: rumberger (default) 0/1-10/11-100/101-400/>400; "
        "mesa 0/1-99/100-399/>=400",
    )
    p.add_argument(
        "--calibration-mg-per-hu",
        type=float,
        help="mass calibration factor c in mg HA/cm³ per HU (rho_HA / (CT_HA - CT_water))",
    )
    p.add_argument(
        "--calibration-rois",
        type=Path,
        help="label image on the CT grid, 1 = HA insert, 2 = water/resin: sets the mass "
        "calibration and the insert HU mean and SD (needs --calibration-rho)",
    )
    p.add_argument(
        "--calibration-rho", type=float, help="HA density of the calibration insert (mg/cm³)"
    )
    p.add_argument(
        "--calibration-insert-hu",
        type=float,
        help="mean HU of the calibration insert (volume-fraction mass, SWCS)",
    )
    p.add_argument(
        "--calibration-insert-sd-hu", type=float, help="HU standard deviation in the insert (SWCS)"
    )
    p.add_argument("--radiomics", action="store_true", help="add PyRadiomics features per lesion")
    hu = p.add_mutually_exclusive_group()
    hu.add_argument(
        "--hu-check",
        choices=["air", "cropped", "off"],
        default="air",
        help="how the CT is checked to be in HU: air (default) refuses a CT whose minimum "
        "is above -200 HU; cropped takes a CT in HU cropped inside the body (no air) when "
        ">= 5 %% of its voxels are at -150..150 HU, more than at 874..1174 (raw values), and "
        "99 %% within -1100..3100 HU; off checks nothing",
    )
    hu.add_argument(
        "--no-hu-check",
        dest="hu_check",
        action="store_const",
        const="off",
        help="the same as --hu-check off",
    )
    p.add_argument(
        "--allow-contrast",
        action="store_true",
        help="score a CT whose blood pool looks contrast-enhanced (refused by default; the "
        "scores are then not valid Agatston scores)",
    )
    p.add_argument(
        "--heart",
        type=Path,
        help="heart mask (any grid, same frame): lesions outside it are flagged, not counted",
    )
    p.add_argument(
        "--count-implausible",
        action="store_true",
        help="count lesions flagged as implausible (too large, metal-bright, outside the heart)",
    )
    p.add_argument("--json", type=Path, help="write the result JSON here (default: stdout)")
    p.add_argument("--csv", type=Path, help="write one row per lesion here")
    p.add_argument("--html", type=Path, help="write a one-page HTML report here")
    p.add_argument("--lesions-out", type=Path, help="write the lesion label image here")
    p.add_argument(
        "--dicom-seg",
        type=Path,
        help="write the artery labels as a DICOM Segmentation here (needs --arteries); it "
        "references the CT's DICOM series, or a derived CT series written beside it when "
        "the CT is not DICOM",
    )
    p.add_argument(
        "--dicom-sr",
        type=Path,
        help="write the per-artery scores as a DICOM Structured Report (TID 1500) here",
    )
    p.add_argument(
        "--dicom-patient-identity",
        action="store_true",
        help="keep the CT's patient name, ID and birth date in the SEG/SR (left empty by default)",
    )
    p.set_defaults(func=run_coronary_command)


def run_coronary_command(args) -> int:
    from napari_calcium import report as reports
    from napari_calcium.calcium import CoronarySettings, measure_coronary
    from napari_calcium.calcium.coronary import (
        artery_colors_for,
        artery_names_from_text,
        calibration_from_rois,
        calibration_settings,
    )
    from napari_calcium.io import read, write

    names = artery_names_from_text(args.artery_names)
    ct = read(args.ct_path, modality="CT")
    calibration = {
        "calibration_mg_cm3_per_hu": args.calibration_mg_per_hu,
        "calibration_insert_hu": args.calibration_insert_hu,
        "calibration_insert_sd_hu": args.calibration_insert_sd_hu,
        "calibration_rho_mg_cm3": args.calibration_rho,
    }
    if args.calibration_rois is not None:
        if args.calibration_rho is None:
            raise InputError(
                "--calibration-rois needs the insert's density",
                "add --calibration-rho (mg HA/cm³, from the phantom's sheet)",
            )
        rois = read(args.calibration_rois).replace(modality="LABELS", units="label")
        calibration = calibration_settings(calibration_from_rois(ct, rois, args.calibration_rho))
    settings = CoronarySettings(
        artery_names=names,
        artery_colors=artery_colors_for(names),
        threshold_hu=args.threshold_hu,
        min_area_mm2=args.min_area_mm2,
        min_pixels=args.min_pixels,
        connectivity_2d=args.connectivity,
        slice_mode=args.slice_mode,
        kvp_adjusted=args.kvp_adjusted,
        threshold_rule=args.threshold_rule,
        category_scheme=args.category_scheme,
        **calibration,
        radiomics=args.radiomics,
        hu_check=args.hu_check,
        allow_contrast=args.allow_contrast,
        count_implausible=args.count_implausible,
    )
    arteries = heart = None
    if args.arteries is not None:
        arteries = read(args.arteries).replace(modality="LABELS", units="label")
    if args.heart is not None:
        heart = read(args.heart).replace(modality="LABELS", units="label")
    result = measure_coronary(ct, arteries, settings, heart)
    if args.dicom_seg or args.dicom_sr:
        from napari_calcium.calcium.coronary_dicom import write_coronary_dicom

        if arteries is None:
            raise InputError(
                "--dicom-seg / --dicom-sr export the reader's artery labels",
                "give them with --arteries",
            )
        written = write_coronary_dicom(
            ct,
            arteries,
            result.report,
            seg_path=args.dicom_seg,
            sr_path=args.dicom_sr,
            ct_source=args.ct_path,
            patient_identity=args.dicom_patient_identity,
        )
        result.report["dicom_export"] = written
    write_json(result.report, args.json)
    if args.csv:
        reports.atomic_write_text(args.csv, reports.coronary_csv_text(result.report))
    lesions = None
    if args.lesions_out or args.html:
        lesions = result.lesion_labels()
    if args.lesions_out:
        write(lesions, args.lesions_out)
    if args.html:
        text = reports.coronary_html(result.report, result.scoring_ct, lesions)
        reports.atomic_write_text(args.html, text)
    return 0


def add_intracranial(sub) -> None:
    p = sub.add_parser(
        "intracranial",
        help="calcification along an intracranial artery on CT (+ vessel-wall MRI plaque)",
    )
    p.add_argument("ct", type=Path, help="non-contrast CT in HU (DICOM, NIfTI, NRRD, MHA)")
    p.add_argument(
        "--centerline",
        type=Path,
        required=True,
        help="CSV of centreline points x, y, z (LPS mm), proximal first",
    )
    p.add_argument("--mri", type=Path, help="black-blood vessel-wall MRI (pre-contrast)")
    p.add_argument("--mri-post", type=Path, help="post-contrast vessel-wall MRI")
    p.add_argument(
        "--transform",
        type=Path,
        help="ITK transform file from a registration with the CT fixed and the MRI moving "
        "(maps CT points to MRI points); without it the MRI must share the CT's space",
    )
    p.add_argument(
        "--reference-mm",
        type=float,
        help="reference (normal) site in mm along the centreline for stenosis and "
        "remodeling; default: the proximal normal segment, chosen automatically",
    )
    p.add_argument(
        "--refine-centerline",
        action="store_true",
        help="move the centreline to the lumen centre found on the MRI before measuring",
    )
    p.add_argument("--threshold-hu", type=float, default=130.0, help="calcium threshold (HU)")
    p.add_argument("--region-radius-mm", type=float, default=4.5, help="vessel region radius (mm)")
    p.add_argument("--step-mm", type=float, default=0.25, help="cross-section spacing (mm)")
    p.add_argument(
        "--artery",
        default="artery",
        help="name of the artery measured; one of MCA_left, MCA_right, ICA_left, ICA_right, "
        "vertebral_left, vertebral_right, basilar lets 'svd --calcification' read its grade",
    )
    p.add_argument("--json", type=Path, help="write the full result as JSON here")
    p.add_argument("--csv", type=Path, help="write the per-calcification table here")
    p.set_defaults(func=run_intracranial_cli)


def run_intracranial_cli(args) -> int:
    from napari_calcium.intracranial import (
        calcification_table,
        read_centerline_csv,
        result_json,
        run_intracranial,
    )
    from napari_calcium.io import read
    from napari_calcium.io.atomic import atomic_write_text

    transform = None
    if args.transform is not None:
        import SimpleITK as sitk

        try:
            transform = sitk.ReadTransform(str(args.transform))
        except RuntimeError as err:
            raise InputError(
                f"{args.transform} could not be read as an ITK transform",
                "give a .tfm/.txt/.h5 transform written by SimpleITK or ITK",
            ) from err
    if args.mri_post is not None and args.mri is None:
        raise InputError("--mri-post needs --mri (the pre-contrast scan)")
    result = run_intracranial(
        read(args.ct, modality="CT"),
        read_centerline_csv(args.centerline),
        mri=None if args.mri is None else read(args.mri, modality="MR"),
        mri_post=None if args.mri_post is None else read(args.mri_post, modality="MR"),
        transform=transform,
        reference_mm=args.reference_mm,
        refine_centerline=args.refine_centerline,
        threshold_hu=args.threshold_hu,
        region_radius_mm=args.region_radius_mm,
        step_mm=args.step_mm,
        artery=args.artery,
        progress=_progress_bar if sys.stderr.isatty() else None,
    )
    if args.csv is not None:
        atomic_write_text(args.csv, calcification_table(result).to_csv(index=False))
    write_json(result_json(result), args.json)
    return 0


def _progress_bar(stage: str, fraction: float) -> None:
    """A one-line progress bar on stderr (interactive terminals only)."""
    filled = int(30 * fraction)
    end = "\n" if fraction >= 1 else ""
    print(
        f"\r[{'#' * filled}{'.' * (30 - filled)}] {fraction:4.0%} {stage:<40}",
        end=end,
        file=sys.stderr,
    )


# ------------------------------------------------------- small vessel disease
def add_svd(sub) -> None:
    p = sub.add_parser(
        "svd",
        help="small vessel disease markers of one patient (WMH, microbleeds, lacunes, EPVS, SVD score)",
        description="Measure WMH on FLAIR (volume, periventricular/deep split, suggested "
        "Fazekas), find microbleed candidates on SWI/T2*, check reader-marked lacunes, "
        "and write a per-patient record (JSON) that `svd-cohort` reads.",
    )
    p.add_argument("--flair", type=Path, required=True, help="FLAIR image (the reference grid)")
    p.add_argument("--swi", type=Path, help="SWI or T2*-GRE image, for microbleeds")
    p.add_argument("--t1", type=Path, help="T1 image, for finding the ventricles")
    p.add_argument(
        "--ct", type=Path, help="head CT (HU) in the same space: excludes calcifications"
    )
    p.add_argument(
        "--wmh-labels", type=Path, help="reader's WMH labels (replace the automatic ones)"
    )
    p.add_argument("--ventricle-labels", type=Path, help="ventricle labels on the FLAIR grid")
    p.add_argument(
        "--brain-mask", type=Path, help="brain mask on the FLAIR grid (images with skull)"
    )
    p.add_argument("--region-map", type=Path, help="labels 1 lobar, 2 deep, 3 infratentorial")
    p.add_argument("--lacune-labels", type=Path, help="reader's lacune labels on the FLAIR grid")
    p.add_argument(
        "--lacune-points", help="reader's lacune centres in LPS mm: 'x,y,z;x,y,z'", default=None
    )
    p.add_argument("--no-lacunes", action="store_true", help="the reader found no lacune")
    p.add_argument(
        "--epvs-bg", type=int, choices=range(5), help="basal ganglia EPVS grade (Potter 0-4)"
    )
    p.add_argument(
        "--epvs-cso", type=int, choices=range(5), help="centrum semiovale EPVS grade (0-4)"
    )
    p.add_argument("--epvs-bg-count", type=int, help="basal ganglia EPVS count (-> Potter grade)")
    p.add_argument("--epvs-cso-count", type=int, help="centrum semiovale EPVS count (-> grade)")
    p.add_argument(
        "--fazekas-pv", type=int, choices=range(4), help="reader's periventricular Fazekas"
    )
    p.add_argument("--fazekas-deep", type=int, choices=range(4), help="reader's deep Fazekas")
    p.add_argument(
        "--calcification",
        type=Path,
        action="append",
        default=[],
        help="per-artery calcification grades: the JSON that 'intracranial --json' writes "
        "(one per artery, repeatable) or a JSON of grades",
    )
    p.add_argument(
        "--grade",
        action="append",
        default=[],
        metavar="ARTERY=GRADE",
        help="a per-artery calcification grade, e.g. MCA_left=moderate (repeatable)",
    )
    p.add_argument("--subject", help="study pseudonym for the record (never a patient ID)")
    p.add_argument("--timepoint", default="baseline", help="baseline (default) or follow-up")
    p.add_argument(
        "--resample",
        action="store_true",
        help="resample images whose grid differs from the FLAIR's (same physical space assumed)",
    )
    p.add_argument("--json", type=Path, help="write the record here (default: print it)")
    p.set_defaults(func=run_svd_cli)


def run_svd_cli(args) -> int:
    from napari_calcium.io import read
    from napari_calcium.svd import calcification_from_json, run_svd, set_calcification

    def image(path, modality="MR"):
        return None if path is None else read(path, modality=modality)

    points = None
    if args.lacune_points:
        try:
            points = [
                [float(v) for v in p.split(",")]
                for p in args.lacune_points.split(";")
                if p.strip()
            ]
        except ValueError as err:
            raise InputError(
                f"--lacune-points: {err}", "write points as 'x,y,z;x,y,z' in mm"
            ) from err
        if any(len(p) != 3 for p in points):
            raise InputError(
                "--lacune-points needs three numbers per point", "write 'x,y,z;x,y,z'"
            )
    record = run_svd(
        image(args.flair),
        image(args.swi),
        t1=image(args.t1),
        ct=image(args.ct, "CT"),
        wmh_labels=image(args.wmh_labels),
        ventricle_labels=image(args.ventricle_labels),
        brain=image(args.brain_mask),
        region_map=image(args.region_map),
        lacune_points_mm=points,
        lacune_labels=image(args.lacune_labels),
        no_lacunes=args.no_lacunes,
        epvs_basal_ganglia=args.epvs_bg,
        epvs_centrum_semiovale=args.epvs_cso,
        epvs_basal_ganglia_count=args.epvs_bg_count,
        epvs_centrum_semiovale_count=args.epvs_cso_count,
        fazekas_periventricular=args.fazekas_pv,
        fazekas_deep=args.fazekas_deep,
        resample=args.resample,
    )
    grades = {}
    for path in args.calcification:
        grades.update(calcification_from_json(path))
    for item in args.grade:
        artery, _, grade = item.partition("=")
        if not grade:
            raise InputError(
                f"--grade {item!r}: expected ARTERY=GRADE", "e.g. --grade MCA_left=moderate"
            )
        grades[artery.strip()] = grade.strip()
    if grades:
        source = ", ".join(p.name for p in args.calcification) or "reader"
        if args.calcification and args.grade:
            source += " and reader"
        record = set_calcification(record, grades, source=source)
    record["subject_id"] = args.subject
    record["timepoint"] = args.timepoint
    if args.json is not None:
        from napari_calcium.svd import save_record

        save_record(record, args.json)
        log.info("wrote %s", args.json)
    else:
        write_json(record, None)
    return 0


def add_svd_cohort(sub) -> None:
    p = sub.add_parser(
        "svd-cohort",
        help="compare small vessel disease markers by intracranial calcification grade over a cohort",
    )
    p.add_argument(
        "source", type=Path, help="folder of per-patient records (*.json) or a tidy CSV"
    )
    p.add_argument("--out", type=Path, required=True, help="report folder (CSV tables + HTML)")
    p.set_defaults(func=run_svd_cohort)


def run_svd_cohort(args) -> int:
    from napari_calcium.cohort.svd_report import build_report

    out = build_report(args.source, args.out)
    baseline = out["table"][out["table"]["timepoint"] == "baseline"]
    print(f"{baseline['subject_id'].nunique()} subjects, {len(out['table'])} records")
    if not out["missing"].empty:
        subjects = sorted(set(out["missing"]["subject_id"].astype(str)))
        print(
            f"missing fields in {len(subjects)} subject(s): {', '.join(subjects)} (see the report)"
        )
    for name, path in out["paths"].items():
        print(f"{name}: {path}")
    return 0


def _names(text: str | None) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()] if text else []


def add_study_report(sub) -> None:
    p = sub.add_parser(
        "study-report",
        help="a study's tables from a cohort run: Table 1 by group, tests, correlations, "
        "univariable and adjusted logistic models, reader agreement (CSV + HTML)",
        description="Reads SOURCE (a batch output folder, a CSV, or a folder of small-vessel "
        "records) at one row per --unit and writes study_*.csv and study_report.html.",
    )
    p.add_argument("source", type=Path, help="batch output folder, CSV table or records folder")
    p.add_argument("--out", type=Path, required=True, help="report folder")
    p.add_argument(
        "--unit", choices=["subjects", "plaques", "calcifications"], default="subjects",
        help="unit of analysis (rows of a batch run; default subjects)",
    )  # fmt: skip
    p.add_argument("--group", help="Table 1 grouping column (e.g. culprit, calcification_grade)")
    p.add_argument(
        "--variables", help="comma-separated variables (default: the unit's known ones)"
    )
    p.add_argument(
        "--kind", action="append", default=[], metavar="COLUMN=KIND",
        help="a variable's kind: continuous, count, ordinal, binary, categorical (repeatable)",
    )  # fmt: skip
    p.add_argument(
        "--compare-by", action="append", default=[], metavar="COLUMN",
        help="also compare the variables by this column (repeatable; e.g. per-artery grades)",
    )  # fmt: skip
    p.add_argument(
        "--correlate", help="Pearson and Spearman correlation of every variable with this"
    )
    p.add_argument("--outcome", help="yes/no outcome of the logistic models (e.g. culprit)")
    p.add_argument("--exposures", help="comma-separated exposures (default: the variables)")
    p.add_argument(
        "--model", action="append", default=[], metavar="NAME=COVARIATES",
        help='adjustment model, e.g. "Model 1=age_years,sex" "Model 2=Model 1+stenosis_pct"',
    )  # fmt: skip
    p.add_argument("--cluster", help="cluster-robust CIs by this column (e.g. subject_id)")
    p.add_argument("--reader-b", type=Path, help="a second reader's batch folder: agreement")
    p.add_argument("--clinical", type=Path, help="CSV of subject_id and clinical columns to add")
    p.add_argument(
        "--equal-variance",
        action="store_true",
        help="Student t-test / classical ANOVA (default Welch)",
    )
    p.add_argument("--title", help="report title")
    p.set_defaults(func=run_study_report)


def run_study_report(args) -> int:
    from napari_calcium.cohort.study import build_study_report, parse_models
    from napari_calcium.cohort.study_html import logistic_wide

    kinds = {}
    for text in args.kind:
        column, sep, kind = text.partition("=")
        if not sep:
            raise InputError(f"--kind {text!r} is not COLUMN=KIND", "e.g. --kind n_spotty=count")
        kinds[column.strip()] = kind.strip()
    from napari_calcium.cohort.stats import KINDS

    bad = {k: v for k, v in kinds.items() if v not in KINDS}
    if bad:
        raise InputError(f"unknown kind(s) {bad}", f"choose one of {', '.join(KINDS)}")
    models = parse_models(args.model)
    if models and not args.outcome:
        raise InputError(
            "--model needs --outcome", "name the yes/no outcome, e.g. --outcome culprit"
        )
    out = build_study_report(
        args.source,
        args.out,
        unit=args.unit,
        group=args.group,
        variables=_names(args.variables) or None,
        kinds=kinds,
        compare_by=args.compare_by,
        correlate=args.correlate,
        outcome=args.outcome,
        exposures=_names(args.exposures) or None,
        models=models,
        cluster=args.cluster,
        reader_b=args.reader_b,
        clinical=args.clinical,
        equal_var=args.equal_variance,
        title=args.title,
    )
    print(out["counted"])
    for warning in out["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    import pandas as pd

    with pd.option_context(
        "display.width", 200, "display.max_columns", 20, "display.max_colwidth", 40
    ):
        shown = out["table1"].drop(columns=["choice", "note", "kind"])
        print(shown.to_string(index=False))
        if not out["logistic"].empty:
            print(logistic_wide(out["logistic"]).to_string(index=False))
        if not out["agreement"].empty:
            columns = ["measure", "statistic", "n_targets", "value", "ci_low", "ci_high", "band"]
            print(out["agreement"][columns].to_string(index=False))
    for name, path in out["paths"].items():
        print(f"{name}: {path}")
    return 0


def add_agreement(sub) -> None:
    p = sub.add_parser(
        "agreement",
        help="two readers' agreement: ICC per measurement, Cohen's kappa per class, consensus",
        description="Pairs the plaques, calcifications, wall cross-sections or subjects of two "
        "readings (batch output folders, intracranial --json results, or CSV tables) and "
        "writes agreement.csv, consensus.csv and unmatched.csv.",
    )
    p.add_argument("reading_a", type=Path, help="first reader's reading")
    p.add_argument("reading_b", type=Path, help="second reader's reading")
    p.add_argument(
        "--unit", choices=["plaques", "calcifications", "sections", "subjects"], default="plaques"
    )
    p.add_argument("--names", default="A,B", help="the readers' names (default A,B)")
    p.add_argument("--measures", help="comma-separated measures (default: the unit's known ones)")
    p.add_argument(
        "--tolerance-mm", type=float, default=2.0,
        help="largest distance along the centreline between matched targets (default 2 mm)",
    )  # fmt: skip
    p.add_argument("--icc-form", default="ICC(A,1)", help="ICC form (default ICC(A,1))")
    p.add_argument(
        "--out", type=Path, help="folder for agreement.csv, consensus.csv, unmatched.csv"
    )
    p.set_defaults(func=run_agreement)


def run_agreement(args) -> int:
    import pandas as pd

    from napari_calcium.cohort.agreement import compare_readings
    from napari_calcium.cohort.stats import ICC_FORMS
    from napari_calcium.io.atomic import atomic_write_text

    if args.icc_form not in ICC_FORMS:
        raise InputError(
            f"--icc-form {args.icc_form!r} is unknown", f"choose one of {', '.join(ICC_FORMS)}"
        )
    out = compare_readings(
        args.reading_a,
        args.reading_b,
        args.unit,
        _names(args.names),
        _names(args.measures) or None,
        args.tolerance_mm,
        args.icc_form,
    )
    print(
        f"{out['n_targets']} {args.unit} read by both, {len(out['unmatched'])} by one reader only"
    )
    columns = ["measure", "statistic", "n_targets", "value", "ci_low", "ci_high", "band"]
    columns += [c for c in ("mean_difference", "loa_low", "loa_high") if c in out["agreement"]]
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(out["agreement"][columns].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    notes = out["agreement"].get("note", pd.Series(dtype=object)).dropna()
    for measure, note in zip(out["agreement"].loc[notes.index, "measure"], notes, strict=True):
        print(f"note: {measure}: {note}", file=sys.stderr)
    if args.out is not None:
        for name in ("agreement", "consensus", "unmatched"):
            atomic_write_text(args.out / f"{name}.csv", out[name].to_csv(index=False))
        print(f"tables in {args.out}")
    return 0


# ------------------------------------------------------------------------ ivus
def add_ivus(sub) -> None:
    p = sub.add_parser(
        "ivus",
        help="IVUS pullback: lumen/EEM borders, calcium arcs and depth, lesions, IVUS calcium score",
    )
    p.add_argument("pullback", type=Path, help="pullback file (frames, y, x)")
    p.add_argument(
        "--pullback-speed", type=float, metavar="MM_S", help="motorised pullback speed (mm/s)"
    )
    p.add_argument("--frame-rate", type=float, metavar="FPS", help="frames per second")
    p.add_argument("--pixel-spacing", type=float, metavar="MM", help="in-plane pixel size (mm)")
    p.add_argument(
        "--gated",
        action="store_true",
        help="measure end-diastolic frames only (image-based gating)",
    )
    p.add_argument(
        "--all-frames",
        action="store_true",
        help="also measure the frames outside the pullback start/stop frames the file states",
    )
    p.add_argument(
        "--settings", type=Path, metavar="JSON", help="JSON file of IVUS settings to change"
    )
    p.add_argument(
        "--json", type=Path, metavar="OUT.json", help="write the results as JSON (default: stdout)"
    )
    p.add_argument("--csv", type=Path, metavar="OUT.csv", help="write the per-frame table as CSV")
    p.add_argument(
        "--contours-out", type=Path, metavar="FILE", help="write lumen/EEM borders as JSON"
    )
    p.add_argument(
        "--html", type=Path, metavar="OUT.html", help="write a one-page HTML report here"
    )
    p.set_defaults(func=run_ivus)


def run_ivus(args) -> int:
    from napari_calcium.io import read
    from napari_calcium.io.atomic import atomic_write_text
    from napari_calcium.report import ivus_html
    from napari_calcium.vessel.ivus import contours_dict, per_frame_csv
    from napari_calcium.vessel.ivus import run_ivus as analyse

    settings = None
    if args.settings is not None:
        try:
            settings = json.loads(Path(args.settings).read_text())
        except (OSError, ValueError) as err:
            raise InputError(f"cannot read settings {args.settings}: {err}") from err
    volume = read(
        args.pullback,
        modality="IVUS",
        pullback_speed_mm_s=args.pullback_speed,
        frame_rate_hz=args.frame_rate,
        pixel_spacing_mm=args.pixel_spacing,
    )

    def progress(done: int, total: int) -> None:
        print(
            f"\rIVUS analysis: frame {done}/{total}",
            end="" if done < total else "\n",
            file=sys.stderr,
        )

    kept: list = []
    result = analyse(
        volume,
        settings,
        gated=args.gated,
        all_frames=args.all_frames,
        progress=progress,
        analysis_out=kept,
    )
    result["source"] = Path(args.pullback).name
    write_json(result, args.json)
    if args.csv is not None:
        atomic_write_text(Path(args.csv), per_frame_csv(result))
    if args.contours_out is not None:
        write_json(contours_dict(kept[0]), args.contours_out)
    if args.html is not None:
        atomic_write_text(Path(args.html), ivus_html(result, volume, kept[0]))
    for message in result["messages"]:
        log.warning(message)
    return 0


def add_register(sub) -> None:
    from napari_calcium.registration import INITS, KINDS, METRICS

    p = sub.add_parser(
        "register",
        help="register MOVING onto FIXED (e.g. MRI onto CT); writes the transform and JSON",
    )
    p.add_argument("fixed", type=Path, help="fixed image (its grid is kept), e.g. the CT")
    p.add_argument("moving", type=Path, help="moving image, e.g. the MRI")
    p.add_argument("--kind", choices=KINDS, default="rigid")
    p.add_argument("--metric", choices=METRICS, default="mattes")
    p.add_argument(
        "--init",
        choices=INITS,
        help="starting alignment (default: landmarks if given, else geometry: the centres "
        "of the fields of view); without landmarks a search over rotations about both "
        "centrings picks the start",
    )
    p.add_argument(
        "--no-search",
        action="store_true",
        help="start from --init as it is, without the search over rotations and centrings",
    )
    p.add_argument(
        "--landmarks-fixed", type=Path, help="CSV of x, y, z LPS mm points, one per row"
    )
    p.add_argument("--landmarks-moving", type=Path, help="CSV of the same points in MOVING")
    p.add_argument(
        "--fixed-modality", choices=["CT", "MR", "US"], help="when the file does not say"
    )
    p.add_argument(
        "--moving-modality", choices=["CT", "MR", "US"], help="when the file does not say"
    )
    p.add_argument("--transform", type=Path, help="write the transform (.tfm, .txt or .h5)")
    p.add_argument("--resampled", type=Path, help="write MOVING resampled on FIXED's grid")
    p.add_argument("--json", type=Path, help="write the summary here instead of stdout")
    p.set_defaults(func=run_register_command)


def run_register(
    fixed_path,
    moving_path,
    *,
    kind: str = "rigid",
    metric: str = "mattes",
    init: str | None = None,
    landmarks_fixed=None,
    landmarks_moving=None,
    fixed_modality: str | None = None,
    moving_modality: str | None = None,
    transform_path=None,
    resampled_path=None,
    on_iteration=None,
    search: bool | None = None,
) -> dict:
    """Register the image at ``moving_path`` onto the one at ``fixed_path``.

    Reads both files, runs :func:`napari_calcium.registration.register`, writes the
    transform (fixed -> moving physical, ITK convention) and the resampled moving
    image when paths are given, and returns a JSON-able summary with ``kind``,
    ``metric``, ``final_metric``, ``iterations``, ``stop_reason``, ``seconds``,
    ``transform_path``, ``resampled_path``, ``tre_mm`` (when landmark CSVs are given:
    x, y, z LPS mm per row, same order in both), ``settings``, the chosen ``start``,
    every ``candidates`` start of the search with its metric, the result ``checks`` and
    ``warnings`` (why the result may be wrong; empty when the checks pass).
    """
    from napari_calcium.io import read, write
    from napari_calcium.registration import read_landmarks_csv, register, save_transform

    if (landmarks_fixed is None) != (landmarks_moving is None):
        raise InputError(
            "landmarks were given for only one image",
            "pass both --landmarks-fixed and --landmarks-moving",
        )
    fixed = read(fixed_path, modality=fixed_modality)
    moving = read(moving_path, modality=moving_modality)
    points = {}
    if landmarks_fixed is not None:
        points = {
            "fixed_landmarks_mm": read_landmarks_csv(landmarks_fixed),
            "moving_landmarks_mm": read_landmarks_csv(landmarks_moving),
        }
    if init is None:
        init = "landmarks" if points else "geometry"
    result = register(
        fixed,
        moving,
        kind=kind,
        metric=metric,
        init=init,
        on_iteration=on_iteration,
        search=search,
        **points,
    )
    if transform_path is not None:
        save_transform(result.transform, transform_path)
    if resampled_path is not None:
        write(result.resampled, resampled_path)
    summary = result.summary()
    summary.update(
        fixed=str(fixed_path),
        moving=str(moving_path),
        transform_path=None if transform_path is None else str(transform_path),
        resampled_path=None if resampled_path is None else str(resampled_path),
    )
    if not points:
        summary.pop("tre_mm")
    return summary


def run_register_command(args) -> int:
    def show(iteration: int, metric: float) -> None:
        if sys.stderr.isatty() and iteration % 10 == 0:
            print(f"\riteration {iteration}  metric {metric:.5f}", end="", file=sys.stderr)

    summary = run_register(
        args.fixed,
        args.moving,
        kind=args.kind,
        metric=args.metric,
        init=args.init,
        landmarks_fixed=args.landmarks_fixed,
        landmarks_moving=args.landmarks_moving,
        fixed_modality=args.fixed_modality,
        moving_modality=args.moving_modality,
        transform_path=args.transform,
        resampled_path=args.resampled,
        on_iteration=show,
        search=False if args.no_search else None,
    )
    if sys.stderr.isatty():
        print(file=sys.stderr)
    if summary.get("tre_mm"):
        error = summary["tre_mm"]
        print(
            f"landmark error: mean {error['mean']:.2f} mm, max {error['max']:.2f} mm "
            f"over {error['n_points']} pairs",
            file=sys.stderr,
        )
    write_json(summary, args.json)
    return 0


SUBCOMMANDS = [
    add_info,
    add_coronary,
    add_ivus,
    add_register,
    add_intracranial,
    add_svd,
    add_svd_cohort,
    add_study_report,
    add_agreement,
    add_sample,
    add_demo,
    add_batch,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="napari-calcium",
        description="Vascular calcification imaging: read, register, measure and score.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s: %(message)s",
    )
    try:
        return args.func(args)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a file where a folder should be, no permission, a full disk
        path = f" {err.filename}" if err.filename else ""
        print(
            f"error: could not read or write{path}: {err.strerror or err} — check the "
            "path, its permissions and the free disk space",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
