"""Registration of two volumes in physical space with SimpleITK.

Conventions
-----------
* ``register(fixed, moving)`` returns a transform that maps **fixed physical points to
  moving physical points** (LPS, mm), as ITK defines it: resampling the moving image
  on the fixed grid through this transform puts it on the fixed image.
* Carrying a moving-space image (e.g. MRI labels) onto the fixed grid uses the
  transform as is; carrying a fixed-space image onto the moving grid uses its inverse
  (:func:`apply_transform` with ``inverse=True``).
* Landmarks are physical points (x, y, z) in LPS mm, one row per point, paired by row.

Target registration error (TRE)
-------------------------------
For paired landmarks ``f_i`` (fixed) and ``m_i`` (moving), the error of point ``i`` is
``‖T(f_i) − m_i‖`` in mm, measured in the moving space; ``tre_mm`` reports the mean
and the maximum over the pairs. When the same landmarks also initialised the
registration the figure is a fiducial error; with independent targets (e.g. a
phantom's known points) it is the TRE proper.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from napari_calcium.errors import InputError
from napari_calcium.volume import Volume, require_volumes

log = logging.getLogger(__name__)

KINDS = ("rigid", "affine", "bspline")
METRICS = ("mattes", "meansquares", "correlation")
INITS = ("geometry", "moments", "landmarks")
TRANSFORM_EXTENSIONS = (".tfm", ".txt", ".h5", ".hdf5", ".mat")

#: Landmarks closer than this to one straight line cannot fix a rotation (mm).
COLLINEAR_TOLERANCE_MM = 1.0

#: Iteration cap of the B-spline stage (finest level only): it refines, it does not search.
BSPLINE_ITERATIONS = 30

#: First step of the affine refinement (physical-shift scaled, so ~ mm). It starts
#: from the rigid optimum: a larger first step (0.5) could jump out of that basin.
AFFINE_FIRST_STEP = 0.1

#: Smallest number of voxels along an axis for a volume to count as 3-D.
MIN_VOXELS_PER_AXIS = 4


@dataclass
class Registration:
    """The result of :func:`register`.

    Attributes
    ----------
    transform : ``SimpleITK.Transform`` mapping fixed physical points to moving
        physical points (LPS mm).
    resampled : the moving image resampled on the fixed grid (linear interpolation).
    kind, metric_name : as requested.
    final_metric : metric value at the end of the last stage (Mattes MI and
        correlation are negative: lower is better).
    iterations : optimizer iterations summed over levels and stages.
    stop_reason : the optimizer's stop condition of the last stage, or ``"cancelled"``.
    seconds : wall time of the registration (initialisation to final transform).
    tre_mm : ``{"mean": .., "max": .., "n_points": ..}`` when landmark pairs were
        given (see the module docstring for the definition), else ``None``.
    settings : every parameter that shaped the result.
    stages : per stage ``{"kind", "final_metric", "iterations", "stop_reason"}``; an
        affine stage that ends at a worse metric than the rigid one is not used (the
        result stays rigid) and says so with ``"kept": False``.
    """

    transform: Any
    resampled: Volume
    kind: str
    metric_name: str
    final_metric: float
    iterations: int
    stop_reason: str
    seconds: float
    tre_mm: dict | None
    settings: dict = field(default_factory=dict)
    stages: list = field(default_factory=list)

    @property
    def cancelled(self) -> bool:
        return self.stop_reason == "cancelled"

    def summary(self) -> dict:
        """Plain JSON-able figures (no images, no transform object)."""
        return {
            "kind": self.kind,
            "metric": self.metric_name,
            "final_metric": self.final_metric,
            "iterations": self.iterations,
            "stop_reason": self.stop_reason,
            "seconds": self.seconds,
            "tre_mm": self.tre_mm,
            "stages": self.stages,
            "settings": self.settings,
        }


class _IterationObserver:
    """Counts iterations, reports them and asks for a stop; one per :func:`register` call."""

    def __init__(self, on_iteration, should_stop):
        self.on_iteration = on_iteration
        self.should_stop = should_stop
        self.count = 0
        self.cancelled = False

    def watch(self, method) -> None:
        import SimpleITK as sitk

        method.AddCommand(sitk.sitkIterationEvent, lambda: self._iteration(method))

    def _iteration(self, method) -> None:
        self.count += 1
        if self.on_iteration is not None:
            self.on_iteration(self.count, float(method.GetMetricValue()))
        if self.should_stop is not None and self.should_stop():
            self.cancelled = True
            method.StopRegistration()


# ------------------------------------------------------------------ public API
def register(
    fixed: Volume,
    moving: Volume,
    *,
    kind: str = "rigid",
    metric: str = "mattes",
    init: str = "moments",
    fixed_landmarks_mm=None,
    moving_landmarks_mm=None,
    fixed_mask: Volume | None = None,
    moving_mask: Volume | None = None,
    shrink_factors: Sequence[int] = (4, 2, 1),
    smoothing_sigmas_mm: Sequence[float] = (2.0, 1.0, 0.0),
    iterations: int = 200,
    sampling_percentage: float | Sequence[float] | None = None,
    samples_per_level: int = 25_000,
    histogram_bins: int = 32,
    bspline_grid_spacing_mm: float = 50.0,
    seed: int = 1,
    on_iteration: Callable[[int, float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Registration:
    """Register ``moving`` onto ``fixed`` (multi-resolution SimpleITK registration).

    Parameters
    ----------
    fixed, moving : 3-D volumes with their physical geometry (LPS mm).
    kind : ``"rigid"`` (versor rigid, 6 parameters), ``"affine"`` (rigid, then a
        12-parameter affine refinement at the finest level) or ``"bspline"`` (affine, then
        a free-form B-spline refinement at the finest level, control points every
        ``bspline_grid_spacing_mm``, at most ``BSPLINE_ITERATIONS`` L-BFGS-B iterations;
        for true non-rigid differences only: on a rigid problem it adds error).
    metric : ``"mattes"`` (Mattes mutual information, for different modalities),
        ``"meansquares"`` or ``"correlation"`` (same modality).
    init : starting alignment: ``"geometry"`` (image centres), ``"moments"`` (centres of
        mass of the intensities above each image's minimum) or ``"landmarks"`` (rigid
        least-squares fit of the landmark pairs). Landmark pairs given with another
        init are used only for the error figures.
    fixed_landmarks_mm, moving_landmarks_mm : ``(n, 3)`` LPS points (x, y, z) in mm,
        paired by row; at least 3 non-collinear pairs.
    fixed_mask, moving_mask : optional label volumes; the metric only samples where
        they are non-zero.
    shrink_factors, smoothing_sigmas_mm : the resolution pyramid (one entry per level).
    iterations : maximum optimizer iterations per level.
    sampling_percentage : fraction of fixed-image voxels sampled per level (a number or
        one per level). ``None`` samples ``samples_per_level`` voxels at the finest
        level and half as many at each coarser level.
    histogram_bins : bins of the Mattes mutual information.
    bspline_grid_spacing_mm : control point spacing of the B-spline stage (mm).
    seed : seed of the random metric sampling, a positive integer (SimpleITK reads 0
        as "seed from the clock"): the same seed samples the same points. Results are
        then identical run to run when SimpleITK runs single-threaded; with several
        threads the metric sums are added in varying order and the result can move by
        a fraction of a voxel.
    on_iteration : called as ``on_iteration(iteration, metric)`` at every optimizer
        iteration, ``iteration`` counting from 1 over all levels and stages.
    should_stop : polled at every iteration; returning True stops the registration,
        which then returns with ``stop_reason == "cancelled"``.

    Returns
    -------
    Registration
    """
    import SimpleITK as sitk

    require_volumes(fixed=fixed, moving=moving, fixed_mask=fixed_mask, moving_mask=moving_mask)
    _check_choice("kind", kind, KINDS)
    _check_choice("metric", metric, METRICS)
    _check_choice("init", init, INITS)
    _check_3d(fixed, "fixed")
    _check_3d(moving, "moving")
    if int(seed) < 1:
        raise InputError(
            f"seed must be a positive integer, got {seed}",
            "SimpleITK treats 0 as 'seed from the clock', which is not reproducible",
        )
    if len(shrink_factors) != len(smoothing_sigmas_mm) or not shrink_factors:
        raise InputError(
            f"{len(shrink_factors)} shrink factors but {len(smoothing_sigmas_mm)} smoothing sigmas",
            "give one of each per resolution level",
        )
    landmarks = None
    if fixed_landmarks_mm is not None or moving_landmarks_mm is not None:
        landmarks = check_landmarks(fixed_landmarks_mm, moving_landmarks_mm)
    elif init == "landmarks":
        raise InputError(
            "init='landmarks' needs fixed and moving landmark pairs",
            "give at least 3 paired points, or use init='moments'",
        )

    start = time.perf_counter()
    fixed_image = sitk.Cast(fixed.to_sitk(), sitk.sitkFloat32)
    moving_image = sitk.Cast(moving.to_sitk(), sitk.sitkFloat32)
    if init == "landmarks":
        initial = sitk.VersorRigid3DTransform(
            sitk.LandmarkBasedTransformInitializer(
                sitk.VersorRigid3DTransform(),
                landmarks[0].ravel().tolist(),
                landmarks[1].ravel().tolist(),
            )
        )
        _check_overlap(fixed, moving, initial)
    else:
        _check_overlap(fixed, moving, sitk.Transform(3, sitk.sitkIdentity))
        initial = sitk.CenteredTransformInitializer(
            _mass_image(fixed_image) if init == "moments" else fixed_image,
            _mass_image(moving_image) if init == "moments" else moving_image,
            sitk.VersorRigid3DTransform(),
            sitk.CenteredTransformInitializerFilter.MOMENTS
            if init == "moments"
            else sitk.CenteredTransformInitializerFilter.GEOMETRY,
        )
        initial = sitk.VersorRigid3DTransform(initial)

    percentages = _sampling_percentages(
        fixed_image, shrink_factors, sampling_percentage, samples_per_level
    )
    settings = {
        "kind": kind,
        "metric": metric,
        "init": init,
        "shrink_factors": list(shrink_factors),
        "smoothing_sigmas_mm": list(smoothing_sigmas_mm),
        "iterations_per_level": iterations,
        "sampling_percentage_per_level": percentages,
        "samples_per_level": samples_per_level if sampling_percentage is None else None,
        "sampling_strategy": "random",
        "histogram_bins": histogram_bins,
        "interpolator": "linear",
        "optimizer": {
            "rigid": "conjugate gradient line search",
            "affine": "regular step gradient descent from the rigid result, "
            f"first step {AFFINE_FIRST_STEP}",
            "bspline": "L-BFGS-B",
            "scales": "from physical shift (rigid, affine)",
        },
        "bspline_grid_spacing_mm": bspline_grid_spacing_mm if kind == "bspline" else None,
        "fixed_mask": fixed_mask is not None,
        "moving_mask": moving_mask is not None,
        "seed": seed,
        "transform_direction": "fixed physical -> moving physical (LPS mm)",
    }
    observer = _IterationObserver(on_iteration, should_stop)

    pyramid: dict[int, tuple] = {}

    def level_images(level: int):
        if level not in pyramid:
            pyramid[level] = tuple(
                _pyramid_level(image, shrink_factors[level], smoothing_sigmas_mm[level])
                for image in (fixed_image, moving_image)
            )
        return pyramid[level]

    def run(transform, levels, *, moving_initial=None, optimizer="cg", max_iterations=iterations):
        counted = observer.count
        for level in levels:
            fixed_level, moving_level = level_images(level)
            method = sitk.ImageRegistrationMethod()
            _set_metric(method, metric, histogram_bins)
            method.SetMetricSamplingStrategy(method.RANDOM)
            method.SetMetricSamplingPercentage(percentages[level], seed=seed)
            # gradients at the sampled points only, not filtered over whole images
            method.SetMetricUseFixedImageGradientFilter(False)
            method.SetMetricUseMovingImageGradientFilter(False)
            if fixed_mask is not None:
                method.SetMetricFixedMask(_mask_image(fixed_mask))
            if moving_mask is not None:
                method.SetMetricMovingMask(_mask_image(moving_mask))
            method.SetInterpolator(sitk.sitkLinear)
            if optimizer == "lbfgsb":
                method.SetOptimizerAsLBFGSB(
                    gradientConvergenceTolerance=1e-5,
                    numberOfIterations=max_iterations,
                    maximumNumberOfCorrections=5,
                    maximumNumberOfFunctionEvaluations=2 * max_iterations,
                    costFunctionConvergenceFactor=1e7,
                )
            elif optimizer == "step":
                method.SetOptimizerAsRegularStepGradientDescent(
                    learningRate=AFFINE_FIRST_STEP,
                    minStep=AFFINE_FIRST_STEP / 1000,
                    numberOfIterations=max_iterations,
                    relaxationFactor=0.5,
                )
                method.SetOptimizerScalesFromPhysicalShift()
            else:
                method.SetOptimizerAsConjugateGradientLineSearch(
                    learningRate=1.0,
                    numberOfIterations=max_iterations,
                    convergenceMinimumValue=1e-5,
                    convergenceWindowSize=10,
                    estimateLearningRate=method.Once,
                )
                method.SetOptimizerScalesFromPhysicalShift()
            if moving_initial is not None:
                method.SetMovingInitialTransform(moving_initial)
            method.SetInitialTransform(transform, inPlace=True)
            observer.watch(method)
            method.Execute(fixed_level, moving_level)
            if observer.cancelled:
                break
        return {
            "final_metric": float(method.GetMetricValue()),
            "iterations": observer.count - counted,
            "stop_reason": "cancelled"
            if observer.cancelled
            else method.GetOptimizerStopConditionDescription(),
        }

    all_levels = list(range(len(shrink_factors)))
    stages = []
    rigid = initial
    stages.append({"kind": "rigid", **run(rigid, all_levels)})
    transform = rigid
    if kind in ("affine", "bspline") and not observer.cancelled:
        affine = sitk.AffineTransform(3)
        affine.SetCenter(rigid.GetCenter())
        affine.SetParameters(_affine_parameters(rigid))
        stage = {"kind": "affine", **run(affine, all_levels[-1:], optimizer="step")}
        stages.append(stage)
        if stage["final_metric"] > stages[0]["final_metric"]:
            # the refinement left the rigid optimum for a worse fit: keep the rigid one
            stage["kept"] = False
            stage["stop_reason"] += "; metric worse than rigid, rigid result kept"
            stage["final_metric"] = stages[0]["final_metric"]
            affine.SetParameters(_affine_parameters(rigid))
            log.warning("registration: the affine stage did not improve on rigid; rigid kept")
        transform = affine
    if kind == "bspline" and not observer.cancelled:
        physical_size = np.asarray(fixed_image.GetSize()) * np.asarray(fixed_image.GetSpacing())
        mesh = np.maximum(1, np.round(physical_size / bspline_grid_spacing_mm)).astype(int)
        bspline = sitk.BSplineTransformInitializer(fixed_image, mesh.tolist(), order=3)
        stages.append(
            {
                "kind": "bspline",
                **run(
                    bspline,
                    all_levels[-1:],
                    moving_initial=transform,
                    optimizer="lbfgsb",
                    max_iterations=min(iterations, BSPLINE_ITERATIONS),
                ),
            }
        )
        composite = sitk.CompositeTransform(transform)
        composite.AddTransform(bspline)
        transform = composite

    resampled = resample_to(moving, fixed, transform)
    seconds = time.perf_counter() - start
    tre = None if landmarks is None else landmark_error_mm(transform, *landmarks)
    result = Registration(
        transform=transform,
        resampled=resampled,
        kind=kind,
        metric_name=metric,
        final_metric=stages[-1]["final_metric"],
        iterations=observer.count,
        stop_reason=stages[-1]["stop_reason"],
        seconds=seconds,
        tre_mm=tre,
        settings=settings,
        stages=stages,
    )
    log.info(
        "registration %s/%s: metric %.4f after %d iterations in %.1f s (%s)",
        kind,
        metric,
        result.final_metric,
        result.iterations,
        seconds,
        result.stop_reason,
    )
    return result


def resample_to(
    volume: Volume,
    reference: Volume,
    transform,
    *,
    labels: bool = False,
    default_value: float | None = None,
) -> Volume:
    """Resample ``volume`` on the grid of ``reference`` through ``transform``.

    Parameters
    ----------
    volume : the image to move (its values are looked up at ``transform(p)`` for each
        reference voxel centre ``p``).
    reference : gives the output grid (shape, spacing, origin, direction).
    transform : ``SimpleITK.Transform`` from reference physical points to ``volume``
        physical points.
    labels : nearest-neighbour interpolation and integer values (label images);
        otherwise linear interpolation, float32.
    default_value : value outside ``volume``; 0 for labels, else the volume's minimum.

    Returns
    -------
    Volume on the reference grid, with ``volume``'s modality and units.
    """
    import SimpleITK as sitk

    image = volume.to_sitk()
    if labels:
        interpolator, pixel = sitk.sitkNearestNeighbor, image.GetPixelID()
        default = 0.0 if default_value is None else default_value
    else:
        interpolator, pixel = sitk.sitkLinear, sitk.sitkFloat32
        default = float(np.min(volume.numpy())) if default_value is None else default_value
    out = sitk.Resample(
        image, _grid_image(reference), transform, interpolator, float(default), pixel
    )
    return Volume.from_sitk(
        out, modality=volume.modality, units=volume.units, acquisition=volume.acquisition
    )


def apply_transform(
    volume: Volume,
    reference: Volume,
    transform,
    *,
    inverse: bool = False,
    labels: bool | None = None,
) -> Volume:
    """Carry ``volume`` onto the grid of ``reference`` with a registration transform.

    Parameters
    ----------
    volume : image or label volume to carry.
    reference : the target grid.
    transform : the fixed -> moving transform of a :class:`Registration` (or loaded
        with :func:`load_transform`).
    inverse : False when ``volume`` lives in the moving space and ``reference`` in the
        fixed space (e.g. MRI labels onto the CT); True for the other way round.
    labels : nearest-neighbour resampling; by default True for ``LABELS`` volumes and
        integer arrays.
    """
    if inverse:
        try:
            transform = transform.GetInverse()
        except RuntimeError as err:
            raise InputError(
                "this transform has no inverse (B-spline transforms are not invertible in closed form)",
                "register in the other direction instead",
            ) from err
    if labels is None:
        labels = volume.modality == "LABELS" or np.issubdtype(volume.array.dtype, np.integer)
        labels = labels and volume.modality not in ("CT", "MR")
    return resample_to(volume, reference, transform, labels=labels)


def transform_points(transform, points_xyz) -> np.ndarray:
    """Map LPS points ``(n, 3)`` (mm) through a SimpleITK transform."""
    pts = np.atleast_2d(np.asarray(points_xyz, dtype=float))
    return np.array([transform.TransformPoint(tuple(p)) for p in pts])


def landmark_error_mm(transform, fixed_points, moving_points) -> dict:
    """Mean and maximum ``‖T(f_i) − m_i‖`` over landmark pairs (mm), see the module docstring."""
    errors = np.linalg.norm(transform_points(transform, fixed_points) - moving_points, axis=1)
    return {
        "mean": float(errors.mean()),
        "max": float(errors.max()),
        "n_points": len(errors),
        "per_point": errors.round(4).tolist(),
    }


def check_landmarks(fixed_points, moving_points) -> tuple[np.ndarray, np.ndarray]:
    """Validate landmark pairs; returns them as ``(n, 3)`` float arrays.

    Raises :class:`InputError` when one side is missing, the counts differ, a point
    is not 3 finite numbers, there are fewer than 3 pairs, or either set lies within
    ``COLLINEAR_TOLERANCE_MM`` of one straight line (a rotation about it would be free).
    """
    if fixed_points is None or moving_points is None:
        raise InputError(
            "landmarks were given for only one image", "give the same points in both images"
        )
    sets = []
    for name, points in (("fixed", fixed_points), ("moving", moving_points)):
        pts = np.asarray(points, dtype=float)
        if pts.ndim != 2 or pts.shape[1] != 3 or not np.all(np.isfinite(pts)):
            raise InputError(
                f"{name} landmarks must be rows of 3 numbers (x, y, z in LPS mm); got shape {pts.shape}"
            )
        sets.append(pts)
    fixed_pts, moving_pts = sets
    if len(fixed_pts) != len(moving_pts):
        raise InputError(
            f"{len(fixed_pts)} fixed landmarks but {len(moving_pts)} moving landmarks",
            "the two lists must pair point for point, in the same order",
        )
    if len(fixed_pts) < 3:
        raise InputError(
            f"{len(fixed_pts)} landmark pairs; at least 3 non-collinear pairs are needed",
            "add landmarks that are not on one line",
        )
    for name, pts in (("fixed", fixed_pts), ("moving", moving_pts)):
        spread = _distance_from_line_mm(pts)
        if spread < COLLINEAR_TOLERANCE_MM:
            raise InputError(
                f"the {name} landmarks are collinear (all within {spread:.2f} mm of one line)",
                "pick at least one landmark away from the line through the others",
            )
    return fixed_pts, moving_pts


def read_landmarks_csv(path) -> np.ndarray:
    """Read landmarks from a CSV: one point per row, x, y, z in LPS mm; header optional."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"landmark file {path} does not exist")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        cells = [c.strip() for c in line.replace(";", ",").split(",")]
        if not line.strip():
            continue
        try:
            values = [float(c) for c in cells]
        except ValueError:
            if number == 1 and not rows:
                continue  # header
            raise InputError(
                f"{path} line {number}: {line.strip()!r} is not three numbers",
                "write one point per row as x, y, z in LPS millimetres",
            ) from None
        if len(values) != 3:
            raise InputError(
                f"{path} line {number} has {len(values)} values; landmarks need x, y, z",
                "write one point per row as x, y, z in LPS millimetres",
            )
        rows.append(values)
    if not rows:
        raise InputError(f"{path} holds no landmarks")
    return np.asarray(rows, dtype=float)


def save_transform(transform, path) -> Path:
    """Write a transform as ITK ``.tfm``/``.txt`` or HDF5 ``.h5``, atomically."""
    import SimpleITK as sitk

    path = Path(path)
    suffix = _transform_suffix(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=suffix)
    os.close(fd)
    try:
        sitk.WriteTransform(transform, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_transform(path):
    """Read a transform written by :func:`save_transform` (or by any ITK tool)."""
    import SimpleITK as sitk

    path = Path(path)
    _transform_suffix(path)
    if not path.is_file():
        raise InputError(f"transform file {path} does not exist")
    try:
        transform = sitk.ReadTransform(str(path))
    except RuntimeError as err:
        raise InputError(f"{path} is not a readable ITK transform") from err
    if isinstance(transform, sitk.CompositeTransform) and transform.GetNumberOfTransforms() == 1:
        transform = transform.GetNthTransform(0)
    return transform


def transform_to_text(transform) -> str:
    """A transform as ITK's text transform format (what a ``.tfm`` file holds).

    Plain text travels where a SimpleITK object cannot: napari layer metadata saved in
    a reading session, JSON. :func:`transform_from_text` reads it back exactly.
    """
    import SimpleITK as sitk

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "transform.tfm"
        sitk.WriteTransform(transform, str(path))
        return path.read_text()


def transform_from_text(text: str):
    """The transform written by :func:`transform_to_text`."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "transform.tfm"
        path.write_text(text)
        return load_transform(path)


def checkerboard(first: Volume, second: Volume, squares: int = 8) -> Volume:
    """Alternate cubes of two volumes on one grid, each scaled to [0, 1].

    Each image is scaled between its 1st and 99th percentile, so a CT and an MRI can
    share the display; ``squares`` cubes per axis. Cubes whose indices sum to an even
    number show ``first``, the others ``second``.
    """
    import SimpleITK as sitk

    if not first.same_grid(second):
        raise InputError("a checkerboard needs two volumes on the same grid", "resample first")
    images = []
    for volume in (first, second):
        values = volume.numpy().astype(np.float32)
        low, high = np.percentile(values, [1.0, 99.0])
        scaled = np.clip((values - low) / max(high - low, 1e-6), 0.0, 1.0)
        images.append(volume.with_array(scaled.astype(np.float32)).to_sitk())
    board = sitk.CheckerBoard(images[0], images[1], [int(squares)] * 3)
    return Volume.from_sitk(board, modality="OT")


# ------------------------------------------------------------------ internals
def _affine_parameters(rigid) -> tuple:
    """The 12 parameters (matrix row-major, translation) of an affine equal to ``rigid``."""
    return tuple(rigid.GetMatrix()) + tuple(rigid.GetTranslation())


def _check_choice(name: str, value: str, choices) -> None:
    if value not in choices:
        raise InputError(f"unknown {name} {value!r}", f"choose one of {', '.join(choices)}")


def _check_3d(volume: Volume, name: str) -> None:
    if min(volume.shape) < MIN_VOXELS_PER_AXIS:
        raise InputError(
            f"the {name} image is 2-D (shape z, y, x = {volume.shape}); registration needs 3-D volumes",
            f"give a volume with at least {MIN_VOXELS_PER_AXIS} voxels along every axis",
        )


def _corners(volume: Volume) -> np.ndarray:
    hi = np.asarray(volume.shape) - 1
    return volume.index_to_physical(
        [[z, y, x] for z in (0, hi[0]) for y in (0, hi[1]) for x in (0, hi[2])]
    )


def _check_overlap(fixed: Volume, moving: Volume, initial) -> None:
    """Refuse images whose physical boxes do not meet under the starting alignment."""
    mapped = transform_points(initial, _corners(fixed))
    moving_corners = _corners(moving)
    if np.any(mapped.max(axis=0) < moving_corners.min(axis=0)) or np.any(
        moving_corners.max(axis=0) < mapped.min(axis=0)
    ):
        raise InputError(
            "the fixed and moving images do not overlap in physical space "
            f"(fixed spans {np.round(mapped.min(axis=0), 1).tolist()} to "
            f"{np.round(mapped.max(axis=0), 1).tolist()} mm, moving "
            f"{np.round(moving_corners.min(axis=0), 1).tolist()} to "
            f"{np.round(moving_corners.max(axis=0), 1).tolist()} mm)",
            "check that both images are of the same subject, or give 3 or more landmark "
            "pairs (init='landmarks') to relate their coordinate systems",
        )


def _distance_from_line_mm(points: np.ndarray) -> float:
    """Largest distance of the points from their best-fitting straight line (mm)."""
    centred = points - points.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    residual = centred - np.outer(centred @ vt[0], vt[0])
    return float(np.linalg.norm(residual, axis=1).max())


def _mass_image(image, shrink: int = 4):
    """A block-averaged copy (``shrink`` voxels per axis) minus its minimum: centres of
    mass then ignore negative HU, and cost a fraction of the full image."""
    import SimpleITK as sitk

    small = sitk.BinShrink(image, [min(shrink, n) for n in image.GetSize()])
    stats = sitk.MinimumMaximumImageFilter()
    stats.Execute(small)
    return small - stats.GetMinimum()


def _sampling_percentages(image, shrink_factors, sampling_percentage, samples_per_level):
    if sampling_percentage is not None:
        values = np.broadcast_to(
            np.asarray(sampling_percentage, dtype=float), (len(shrink_factors),)
        )
        if np.any(values <= 0) or np.any(values > 1):
            raise InputError(f"sampling_percentage must be in (0, 1], got {sampling_percentage}")
        return [float(v) for v in values]
    n_voxels = float(np.prod(image.GetSize()))  # at full resolution
    n_levels = len(shrink_factors)
    return [
        float(min(1.0, samples_per_level / 2 ** (n_levels - 1 - i) / (n_voxels / float(f) ** 3)))
        for i, f in enumerate(shrink_factors)
    ]


def _pyramid_level(image, shrink: int, sigma_mm: float):
    """One pyramid level: block-average by ``shrink`` voxels per axis, then Gaussian
    smoothing of ``sigma_mm`` (physical units) on the small image.

    Shrinking first keeps the cost of a level proportional to its own size.
    """
    import SimpleITK as sitk

    if shrink > 1:
        image = sitk.BinShrink(image, [int(shrink)] * 3)
    if sigma_mm > 0:
        image = sitk.SmoothingRecursiveGaussian(image, float(sigma_mm))
    return image


def _set_metric(method, metric: str, bins: int) -> None:
    if metric == "mattes":
        method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=bins)
    elif metric == "meansquares":
        method.SetMetricAsMeanSquares()
    else:
        method.SetMetricAsCorrelation()


def _mask_image(mask: Volume):
    import SimpleITK as sitk

    return sitk.Cast(mask.to_sitk() != 0, sitk.sitkUInt8)


def _grid_image(reference: Volume):
    """An empty SimpleITK image with the reference geometry (for resampling)."""
    import SimpleITK as sitk

    z, y, x = reference.shape
    image = sitk.Image(x, y, z, sitk.sitkUInt8)
    image.SetSpacing(reference.spacing_mm)
    image.SetOrigin(reference.origin_mm)
    image.SetDirection(reference.direction.flatten().tolist())
    return image


def _transform_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in TRANSFORM_EXTENSIONS:
        raise InputError(
            f"{path.name}: unknown transform file type",
            f"use one of {', '.join(TRANSFORM_EXTENSIONS)}",
        )
    return suffix
