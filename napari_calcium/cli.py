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
        "--settings", type=Path, metavar="JSON", help="JSON file of IVUS settings to change"
    )
    p.add_argument(
        "--json", type=Path, metavar="OUT.json", help="write the results as JSON (default: stdout)"
    )
    p.add_argument("--csv", type=Path, metavar="OUT.csv", help="write the per-frame table as CSV")
    p.add_argument(
        "--contours-out", type=Path, metavar="FILE", help="write lumen/EEM borders as JSON"
    )
    p.set_defaults(func=run_ivus)


def run_ivus(args) -> int:
    from napari_calcium.io import read
    from napari_calcium.report import atomic_write_text
    from napari_calcium.vessel.ivus import contours_dict, per_frame_csv
    from napari_calcium.vessel.ivus import run_ivus as analyse

    settings = None
    if args.settings is not None:
        try:
            settings = json.loads(Path(args.settings).read_text())
        except (OSError, ValueError) as err:
            raise InputError(f"cannot read settings {args.settings}: {err}") from err
    volume = read(args.pullback)
    try:
        volume = volume.with_pullback(args.pullback_speed, args.frame_rate, args.pixel_spacing)
    except ValueError as err:
        raise InputError(str(err), "give positive numbers") from err

    def progress(done: int, total: int) -> None:
        print(
            f"\rIVUS analysis: frame {done}/{total}",
            end="" if done < total else "\n",
            file=sys.stderr,
        )

    kept: list = []
    result = analyse(volume, settings, gated=args.gated, progress=progress, analysis_out=kept)
    result["source"] = Path(args.pullback).name
    write_json(result, args.json)
    if args.csv is not None:
        atomic_write_text(Path(args.csv), per_frame_csv(result))
    if args.contours_out is not None:
        write_json(contours_dict(kept[0]), args.contours_out)
    for message in result["messages"]:
        log.warning(message)
    return 0


SUBCOMMANDS = [add_info, add_ivus]


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
