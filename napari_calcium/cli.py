"""The ``napari-calcium`` command line.

Each subcommand is a small function ``add_<name>(subparsers)`` that registers its
parser and sets ``func``; the cohort subcommands (``batch``, ``svd-cohort``,
``study-report``, ``agreement``) are in :mod:`napari_calcium.cli_cohort`. The subcommands of the jobs (``coronary``, ``ivus``,
``register``, ``intracranial``, ``svd``) take their arguments from the job's
``Options`` (:mod:`napari_calcium.analyses`) and add only their output files; the
job is the same one batch runs, the demo and the widgets use. Problems with the user's input
(:class:`~napari_calcium.errors.InputError`) are printed as ``error: ...`` with
exit status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from napari_calcium.cli_cohort import add_agreement, add_batch, add_study_report, add_svd_cohort
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
    """Options of :func:`napari_calcium.io.read` shared by the subcommands that read images
    (declared once, :class:`~napari_calcium.analyses.reading.ReadingOptions`)."""
    from napari_calcium.analyses.options import add_arguments
    from napari_calcium.analyses.reading import ReadingOptions

    add_arguments(p, ReadingOptions)


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
    p.add_argument(
        "--samples",
        type=Path,
        help="folder of samples written by 'napari-calcium sample all FOLDER' (e.g. a "
        "checkout's sample_data/); default: write them into OUT/samples/",
    )
    gui = p.add_mutually_exclusive_group()
    gui.add_argument("--gui", action="store_true", default=None, help="open napari afterwards")
    gui.add_argument("--no-gui", dest="gui", action="store_false", help="report only")
    p.set_defaults(func=run_demo)


def run_demo(args) -> int:
    from napari_calcium.demo import run_demo as demo

    report = demo(args.out, gui=args.gui, samples=args.samples)
    print(f"read {len(report['read'])} sample files; ran {len(report['measured'])} analyses")
    for name, summary in report["measured"].items():
        print(f"  {name}: {summary.get('headline', '')}")
    print(f"report: {args.out / 'report.html'} and {args.out / 'report.json'}")
    return 0


# ------------------------------------------------------------------- jobs
def add_job(sub, name: str):
    """The subcommand of job ``name``: its arguments from the job's ``Options``."""
    from napari_calcium.analyses import JOBS
    from napari_calcium.analyses.options import add_arguments

    job = JOBS[name]
    p = sub.add_parser(job.name, help=job.help, description=job.description)
    add_arguments(p, job.options)
    return p


def run_job(name: str, args):
    """Run job ``name`` on the parsed arguments, with the progress bar on a terminal."""
    from napari_calcium.analyses import JOBS
    from napari_calcium.analyses.options import from_args

    job = JOBS[name]
    return job.run(
        from_args(job.options, args), progress=_progress_bar if sys.stderr.isatty() else None
    )


def add_coronary(sub) -> None:
    p = add_job(sub, "coronary")
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
    result = run_job("coronary", args)
    result.save(
        args.json,
        args.csv,
        args.html,
        args.lesions_out,
        args.dicom_seg,
        args.dicom_sr,
        args.dicom_patient_identity,
    )
    _print_json_unless(args.json, result)
    return 0


def _print_json_unless(path, result) -> None:
    """Print the result JSON on stdout when it was not written to a file."""
    if not path:
        write_json(result.to_json(), None)


def add_intracranial(sub) -> None:
    p = add_job(sub, "intracranial")
    p.add_argument("--json", type=Path, help="write the full result as JSON here")
    p.add_argument("--csv", type=Path, help="write the per-calcification table here")
    p.set_defaults(func=run_intracranial_cli)


def run_intracranial_cli(args) -> int:
    result = run_job("intracranial", args)
    result.save(args.json, args.csv)
    _print_json_unless(args.json, result)
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
    p = add_job(sub, "svd")
    p.add_argument("--json", type=Path, help="write the record here (default: print it)")
    p.set_defaults(func=run_svd_cli)


def run_svd_cli(args) -> int:
    result = run_job("svd", args)
    result.save(args.json)
    _print_json_unless(args.json, result)
    if args.json:
        log.info("wrote %s", args.json)
    return 0


# ------------------------------------------------------------------------ ivus
def add_ivus(sub) -> None:
    p = add_job(sub, "ivus")
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
    result = run_job("ivus", args)
    result.save(args.json, args.csv, args.contours_out, args.html)
    _print_json_unless(args.json, result)
    for message in result.to_json()["messages"]:
        log.warning(message)
    return 0


def add_register(sub) -> None:
    p = add_job(sub, "register")
    p.add_argument("--transform", type=Path, help="write the transform (.tfm, .txt or .h5)")
    p.add_argument("--resampled", type=Path, help="write MOVING resampled on FIXED's grid")
    p.add_argument("--json", type=Path, help="write the summary here instead of stdout")
    p.set_defaults(func=run_register_command)


def run_register(
    fixed_path,
    moving_path,
    *,
    transform_path=None,
    resampled_path=None,
    progress=None,
    cancel=None,
    **options,
) -> dict:
    """Register the image at ``moving_path`` onto the one at ``fixed_path``: the
    registration job (:mod:`napari_calcium.analyses.registration`) as one call.

    ``options`` are the job's (``kind``, ``metric``, ``init``, ``no_search``,
    ``landmarks_fixed``, ``landmarks_moving``, ``fixed_modality``, ``moving_modality``);
    writes the transform (fixed -> moving physical, ITK convention) and the resampled
    moving image when paths are given and returns the job's JSON: ``kind``, ``metric``,
    ``final_metric``, ``iterations``, ``stop_reason``, ``seconds``, ``transform_path``,
    ``resampled_path``, ``tre_mm`` (when landmark CSVs are given), ``settings``, the
    chosen ``start``, every ``candidates`` start of the search with its metric, the
    result ``checks`` and ``warnings`` (why the result may be wrong).
    ``progress(stage, fraction)`` and ``cancel()`` as for every job.
    """
    from napari_calcium.analyses.registration import Options, run

    options = Options(fixed=fixed_path, moving=moving_path, **options)
    result = run(options, progress=progress, cancel=cancel)
    result.save(transform_path, resampled_path)
    return result.to_json()


def run_register_command(args) -> int:
    result = run_job("register", args)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    result.save(args.transform, args.resampled, args.json)
    _print_json_unless(args.json, result)
    error = result.to_json().get("tre_mm")
    if error:
        print(
            f"landmark error: mean {error['mean']:.2f} mm, max {error['max']:.2f} mm "
            f"over {error['n_points']} pairs",
            file=sys.stderr,
        )
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
