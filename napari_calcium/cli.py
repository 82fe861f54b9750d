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


def add_intracranial(sub) -> None:
    p = sub.add_parser(
        "intracranial",
        help="calcification along an intracranial artery on CT (+ vessel-wall MRI plaque)",
    )
    p.add_argument("ct", type=Path, help="non-contrast CT (NIfTI, NRRD, MHA) in HU")
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
    p.add_argument("--artery", default="artery", help="name of the artery segment")
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
    from napari_calcium.report import atomic_write_text

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


SUBCOMMANDS = [add_info, add_intracranial]


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
