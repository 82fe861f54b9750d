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
        help="starting alignment (default: landmarks if given, else moments)",
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
) -> dict:
    """Register the image at ``moving_path`` onto the one at ``fixed_path``.

    Reads both files, runs :func:`napari_calcium.registration.register`, writes the
    transform (fixed -> moving physical, ITK convention) and the resampled moving
    image when paths are given, and returns a JSON-able summary with ``kind``,
    ``metric``, ``final_metric``, ``iterations``, ``stop_reason``, ``seconds``,
    ``transform_path``, ``resampled_path``, ``tre_mm`` (when landmark CSVs are given:
    x, y, z LPS mm per row, same order in both) and ``settings``.
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
        init = "landmarks" if points else "moments"
    result = register(
        fixed, moving, kind=kind, metric=metric, init=init, on_iteration=on_iteration, **points
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
    )
    if sys.stderr.isatty():
        print(file=sys.stderr)
    write_json(summary, args.json)
    return 0


SUBCOMMANDS = [add_info, add_register]


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
