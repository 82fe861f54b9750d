"""The registration job: MOVING onto FIXED (e.g. MRI onto CT) -> a transform and its figures.

``Options`` declares the images and settings once; :func:`run` reads both files and
calls :func:`~napari_calcium.registration.register`. The transform and the resampled
moving image are written by :meth:`RegistrationJobResult.save`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from napari_calcium.analyses.base import Job, Result, check_cancel, report
from napari_calcium.analyses.options import CHOICE, FLAG, PATH, option
from napari_calcium.errors import InputError
from napari_calcium.registration import INITS, KINDS, METRICS, expected_iterations

MODALITIES = ("CT", "MR", "US")
#: Optimizer iterations per resolution level and the levels (register's defaults; the
#: progress fraction is counted against :func:`~napari_calcium.registration.expected_iterations`).
ITERATIONS_PER_LEVEL = 200
LEVELS = 3


@dataclass(frozen=True)
class Options:
    """Images and settings of a registration."""

    fixed: Path | None = option(
        kind=PATH,
        positional=True,
        required=True,
        help="fixed image (its grid is kept), e.g. the CT",
        column_help="fixed image (its grid is kept)",
    )
    moving: Path | None = option(
        kind=PATH,
        positional=True,
        required=True,
        help="moving image, e.g. the MRI",
        column_help="moving image",
    )
    kind: str = option(
        "rigid", kind=CHOICE, choices=KINDS, help="transform: rigid, affine, bspline"
    )
    metric: str = option(
        "mattes", kind=CHOICE, choices=METRICS, help="similarity metric (mattes: multi-modal)"
    )
    init: str | None = option(
        kind=CHOICE,
        choices=INITS,
        help="starting alignment (default: landmarks if given, else geometry: the centres "
        "of the fields of view); without landmarks a search over rotations about both "
        "centrings picks the start",
        column_help="starting alignment (default: landmarks if given, else geometry)",
    )
    no_search: bool = option(
        False,
        kind=FLAG,
        help="start from --init as it is, without the search over rotations and centrings",
        column_help="start from init as it is, without the search over rotations and centrings",
    )
    landmarks_fixed: Path | None = option(
        kind=PATH,
        unit="mm",
        help="CSV of x, y, z LPS mm points, one per row",
        column_help="CSV of x, y, z LPS mm points in FIXED",
    )
    landmarks_moving: Path | None = option(
        kind=PATH,
        unit="mm",
        help="CSV of the same points in MOVING",
    )
    fixed_modality: str | None = option(
        kind=CHOICE, choices=MODALITIES, help="when the file does not say"
    )
    moving_modality: str | None = option(
        kind=CHOICE, choices=MODALITIES, help="when the file does not say"
    )


@dataclass
class RegistrationJobResult(Result):
    """A registration's summary (JSON) and the :class:`~napari_calcium.registration.Registration`."""

    registration: object = None

    def save(self, transform_path=None, resampled_path=None, json=None) -> None:
        """Write the transform (fixed -> moving, ITK), the resampled moving image and
        the JSON (which names the files written), for the paths given."""
        from napari_calcium.io import write
        from napari_calcium.io.atomic import write_json
        from napari_calcium.registration import save_transform

        if transform_path is not None:
            save_transform(self.registration.transform, transform_path)
            self.data["transform_path"] = str(transform_path)
        if resampled_path is not None:
            write(self.registration.resampled, resampled_path)
            self.data["resampled_path"] = str(resampled_path)
        if json:
            write_json(json, self.data)

    def layers(self) -> dict:
        return {"resampled": self.registration.resampled}


def run(options: Options, progress=None, cancel=None) -> RegistrationJobResult:
    """Read both images and register; progress per optimizer iteration, cancel at any."""
    from napari_calcium.io import read
    from napari_calcium.registration import read_landmarks_csv, register

    if (options.landmarks_fixed is None) != (options.landmarks_moving is None):
        raise InputError(
            "landmarks were given for only one image",
            "pass both --landmarks-fixed and --landmarks-moving",
        )
    fixed = read(options.fixed, modality=options.fixed_modality)
    moving = read(options.moving, modality=options.moving_modality)
    points = {}
    if options.landmarks_fixed is not None:
        points = {
            "fixed_landmarks_mm": read_landmarks_csv(options.landmarks_fixed),
            "moving_landmarks_mm": read_landmarks_csv(options.landmarks_moving),
        }
    init = options.init or ("landmarks" if points else "geometry")
    search = False if options.no_search else None
    total = expected_iterations(
        options.kind, ITERATIONS_PER_LEVEL, LEVELS, search is None and init != "landmarks"
    )

    def iteration(count: int, metric: float) -> None:
        fraction = min(count / total, 0.99)
        report(progress, f"iteration {count}  metric {metric:.5f}", fraction)

    result = register(
        fixed,
        moving,
        kind=options.kind,
        metric=options.metric,
        init=init,
        on_iteration=iteration,
        should_stop=cancel,
        search=search,
        **points,
    )
    check_cancel(cancel)
    summary = result.summary()
    summary.update(
        fixed=str(options.fixed),
        moving=str(options.moving),
        transform_path=None,
        resampled_path=None,
    )
    if not points:
        summary.pop("tre_mm")
    report(progress, "done", 1.0)
    return RegistrationJobResult(summary, registration=result)


JOB = Job(
    "register",
    Options,
    run,
    help="register MOVING onto FIXED (e.g. MRI onto CT); writes the transform and JSON",
)
