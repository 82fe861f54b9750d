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


def add_sample(sub) -> None:
    from napari_calcium.samples import SAMPLES

    p = sub.add_parser("sample", help="write a phantom with its truth as DICOM / NIfTI files")
    p.add_argument("name", choices=["all", *SAMPLES], help="which sample")
    p.add_argument("outdir", type=Path, help="folder to write into (NAME/ is created in it)")
    p.set_defaults(func=run_sample)


def run_sample(args) -> int:
    from napari_calcium.samples import write_sample

    folder = write_sample(args.name, args.outdir)
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


SUBCOMMANDS = [add_info, add_sample, add_demo, add_batch]


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
