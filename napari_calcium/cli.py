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
    text = json.dumps(data, indent=2, default=_json_default)
    if path is None:
        print(text)
        return
    from napari_calcium.report import atomic_write_text

    atomic_write_text(Path(path), text + "\n")


def _json_default(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# ----------------------------------------------------------------- subcommands
def add_info(sub) -> None:
    p = sub.add_parser("info", help="print a volume's geometry and acquisition facts as JSON")
    p.add_argument("path", type=Path, help="DICOM folder/file, NIfTI, NRRD, MHA or frame folder")
    p.add_argument(
        "--modality", choices=["CT", "MR", "US", "IVUS"], help="when the file does not say"
    )
    p.set_defaults(func=run_info)


def run_info(args) -> int:
    from napari_calcium.io import read

    volume = read(args.path, modality=args.modality)
    info = volume.geometry_dict()
    info["frame_spacing_mm"] = volume.frame_spacing_mm
    write_json(info, None)
    return 0


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
        help="per-artery calcification grades (JSON of the intracranial analysis)",
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
    grades = calcification_from_json(args.calcification) if args.calcification else {}
    for item in args.grade:
        artery, _, grade = item.partition("=")
        if not grade:
            raise InputError(
                f"--grade {item!r}: expected ARTERY=GRADE", "e.g. --grade MCA_left=moderate"
            )
        grades[artery.strip()] = grade.strip()
    if grades:
        source = str(args.calcification.name) if args.calcification else "reader"
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


SUBCOMMANDS = [add_info, add_svd, add_svd_cohort]


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


if __name__ == "__main__":
    sys.exit(main())
