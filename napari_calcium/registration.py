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

import contextlib
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
from napari_calcium.resampling import resample_to
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

#: Step shrink factor of the regular step gradient descent when the gradient turns
#: back: 0.7 takes about 20 turns to shrink the step a thousandfold, so noisy sampled
#: metrics still converge to their optimum rather than stall at the first bumps.
RELAXATION = 0.7

#: Smallest number of voxels along an axis for a volume to count as 3-D.
MIN_VOXELS_PER_AXIS = 4

#: Start search: rotations of up to +-SEARCH_RANGE_DEG about each axis, every
#: SEARCH_STEP_DEG (all combinations), around each centring, scored on images
#: block-averaged to about SEARCH_VOXEL_MM voxels and smoothed by half that, with
#: SEARCH_SAMPLES sample points; the SEARCH_REFINED best are refined.
SEARCH_RANGE_DEG = 30.0
SEARCH_STEP_DEG = 10.0
SEARCH_VOXEL_MM = 8.0
SEARCH_SAMPLES = 3000
SEARCH_REFINED = 5

#: Foreground masks (:func:`foreground_mask`): voxel size of the mask grid, CT air
#: threshold, opening radius that removes thin structures (CT table, blankets), and the
#: smallest component kept, as a share of the largest.
MASK_VOXEL_MM = 4.0
CT_AIR_HU = -400.0
MASK_OPENING_MM = 4.0
MASK_KEEP_FRACTION = 0.1
#: The metric samples the fixed foreground grown by this margin (mm): the skin and the
#: air next to it (the body outline guides the fit), not the far air or a table below.
MASK_MARGIN_MM = 12.0

#: Result checks (see :func:`_quality_checks`).
MIN_METRIC_GAIN = 0.02
AMBIGUOUS_METRIC = 0.03
AMBIGUOUS_DISTANCE_VOXELS = 4.0
MIN_FOREGROUND_OVERLAP = 0.6
MIN_SHARED_VIEW = 0.75
LANDMARK_WARNING_VOXELS = 2.0


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
    start : the start the rigid stage continued from: ``init``, ``centring``
        (``geometry`` or ``moments``) and ``rotation_deg`` (Euler x, y, z about the fixed
        centre), ``search`` when the start search chose it.
    candidates : every start the search scored (``centring``, ``rotation_deg``,
        ``search_metric``), best first; the refined ones also carry ``refined_metric``
        (after refinement at the search level), the finalists ``coarse_metric`` (after
        the coarsest pyramid level, every mask voxel sampled) and, but for the chosen
        one (``chosen: True``), ``distance_from_chosen_mm``; ``shared_view`` and
        ``coarse_shared_view`` (after refinement and after the coarsest level) are the
        share of tissue within the other image's field of view (see
        ``_foreground_overlap``): starts that slid the images apart rank last.
    checks : the figures of the result checks (metric of the start and of the result,
        other starts, foreground overlap, landmark error; see ``_quality_checks``).
    warnings : why the result may be wrong, one sentence each; empty when the checks pass.
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
    start: dict = field(default_factory=dict)
    candidates: list = field(default_factory=list)
    checks: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)

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
            "start": self.start,
            "candidates": self.candidates,
            "checks": self.checks,
            "warnings": self.warnings,
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
    init: str = "geometry",
    fixed_landmarks_mm=None,
    moving_landmarks_mm=None,
    fixed_mask: Volume | None = None,
    moving_mask: Volume | None = None,
    shrink_factors: Sequence[int] = (4, 2, 1),
    smoothing_sigmas_mm: Sequence[float] = (2.0, 1.0, 0.0),
    iterations: int = 200,
    sampling_percentage: float | Sequence[float] | None = None,
    samples_per_level: int = 20_000,
    histogram_bins: int = 32,
    bspline_grid_spacing_mm: float = 50.0,
    seed: int = 1,
    on_iteration: Callable[[int, float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    search: bool | None = None,
    search_range_deg: float = SEARCH_RANGE_DEG,
    search_step_deg: float = SEARCH_STEP_DEG,
    search_refined: int = SEARCH_REFINED,
    auto_masks: bool = True,
) -> Registration:
    """Register ``moving`` onto ``fixed`` (multi-resolution SimpleITK registration).

    The rigid stage starts from ``init``; unless ``search`` is off, a coarse global
    search first scores every combination of rotations (``search_step_deg`` apart,
    within ``search_range_deg``) about the three axes around both centrings (geometric centres and foreground centroids) on a level of
    about ``SEARCH_VOXEL_MM`` voxels and refines the ``search_refined`` best at that
    level; the best of them and the best one that ended elsewhere run the coarsest
    pyramid level, and the one with the better metric there runs the finer levels. The result
    is then checked (see :func:`_quality_checks`): warnings say when it may be wrong.

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
    init : starting alignment: ``"geometry"`` (centres of the fields of view),
        ``"moments"`` (centroids of the foregrounds, see :func:`foreground_mask`) or
        ``"landmarks"`` (rigid least-squares fit of the landmark pairs). Landmark pairs
        given with another init are used only to check the result.
    fixed_landmarks_mm, moving_landmarks_mm : ``(n, 3)`` LPS points (x, y, z) in mm,
        paired by row; at least 3 non-collinear pairs.
    fixed_mask, moving_mask : optional label volumes; the metric only samples where
        they are non-zero. Without a fixed mask (and with ``auto_masks``) the metric
        samples the fixed foreground found by :func:`foreground_mask` (air and the CT
        table excluded); the moving image is sampled wherever the fixed points land,
        background included (its contrast with the fixed tissue guides the fit).
    shrink_factors, smoothing_sigmas_mm : the resolution pyramid, one entry per level. A
        shrink factor ``f`` block-averages each axis towards ``f`` times the finest
        voxel size of the image (a 3 mm slice axis of a 1 mm image is not shrunk by 2).
    iterations : maximum optimizer iterations per level.
    sampling_percentage : fraction of the fixed-mask voxels sampled per level (a number
        or one per level). ``None`` samples every mask voxel at the coarsest level (see
        :func:`_samples_per_level`), ``samples_per_level`` random points at the finest
        level and half as many at each level between.
    histogram_bins : bins of the Mattes mutual information.
    bspline_grid_spacing_mm : control point spacing of the B-spline stage (mm).
    seed : seed of the random metric sampling, a positive integer (SimpleITK reads 0
        as "seed from the clock"): the same seed samples the same points. Results are
        then identical run to run when SimpleITK runs single-threaded; with several
        threads the metric sums are added in varying order and the result can move by
        a fraction of a voxel.
    on_iteration : called as ``on_iteration(iteration, metric)`` at every optimizer
        iteration (every start scored by the search counts as one), ``iteration``
        counting from 1 over the search, all levels and stages.
    should_stop : polled at every iteration; returning True stops the registration,
        which then returns with ``stop_reason == "cancelled"``.
    search : run the start search; default on, except with ``init="landmarks"``.
    search_range_deg, search_step_deg : the rotations the search tries about each axis
        (every combination); a step of 0 tries the centrings only.
    search_refined : how many of the best-scored starts are refined.
    auto_masks : sample the metric on the fixed foreground when no fixed mask is given
        (the foregrounds are found in any case, for the ``moments`` centring and the
        overlap check).

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
            "give at least 3 paired points, or use init='geometry'",
        )
    if search is None:
        search = init != "landmarks"

    start_time = time.perf_counter()
    problem = _Problem(
        fixed,
        moving,
        metric=metric,
        histogram_bins=histogram_bins,
        seed=seed,
        fixed_mask=fixed_mask,
        moving_mask=moving_mask,
        masks_in_metric=auto_masks,
        observer=_IterationObserver(on_iteration, should_stop),
    )
    levels = problem.pyramid_levels(shrink_factors, smoothing_sigmas_mm)
    samples = _samples_per_level(problem, levels, sampling_percentage, samples_per_level)
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
        initial = problem.centred_start(init)
    start = {"init": init, "centring": init, "rotation_deg": [0.0, 0.0, 0.0]}

    candidates: list[dict] = []
    rigid = sitk.VersorRigid3DTransform(initial)
    stages = []
    if search and not problem.observer.cancelled:
        candidates = problem.search(search_range_deg, search_step_deg)
        refined = problem.refine(candidates, search_refined, init, iterations)
        finalists = _finalists(problem, refined)
        for candidate, transform in finalists:
            outcome = problem.run(transform, levels[:1], samples[:1], "rigid", iterations)
            candidate["coarse_metric"] = outcome["final_metric"]
            candidate["coarse_iterations"] = outcome["iterations"]
            problem.finalist_transforms[id(candidate)] = sitk.VersorRigid3DTransform(transform)
            candidate["coarse_shared_view"] = _shared_view(problem, transform)
        if finalists:
            chosen, rigid = min(
                finalists,
                key=lambda pair: (
                    pair[0]["coarse_shared_view"] < MIN_SHARED_VIEW,
                    pair[0]["coarse_metric"],
                ),
            )
            chosen["chosen"] = True
            outcome = problem.run(
                rigid, levels[1:], samples[1:], "rigid", iterations, line_search=True
            )
            if len(levels) == 1:
                outcome["final_metric"] = chosen["coarse_metric"]
            outcome["iterations"] += chosen["coarse_iterations"]
            start = {"init": init, "centring": chosen["centring"]}
            start.update(rotation_deg=chosen["rotation_deg"], search=True)
            stages.append({"kind": "rigid", **outcome})
    if not stages:
        stages.append(
            {"kind": "rigid", **problem.run(rigid, levels, samples, "rigid", iterations)}
        )
    transform = rigid
    if kind in ("affine", "bspline") and not problem.observer.cancelled:
        affine = sitk.AffineTransform(3)
        affine.SetCenter(rigid.GetCenter())
        affine.SetParameters(_affine_parameters(rigid))
        stage = {
            "kind": "affine",
            **problem.run(affine, levels[-1:], samples[-1:], "affine", iterations),
        }
        stages.append(stage)
        if stage["final_metric"] > stages[0]["final_metric"]:
            # the refinement left the rigid optimum for a worse fit: keep the rigid one
            stage["kept"] = False
            stage["stop_reason"] += "; metric worse than rigid, rigid result kept"
            stage["final_metric"] = stages[0]["final_metric"]
            affine.SetParameters(_affine_parameters(rigid))
            log.warning("registration: the affine stage did not improve on rigid; rigid kept")
        transform = affine
    if kind == "bspline" and not problem.observer.cancelled:
        image = problem.fixed_image
        physical_size = np.asarray(image.GetSize()) * np.asarray(image.GetSpacing())
        mesh = np.maximum(1, np.round(physical_size / bspline_grid_spacing_mm)).astype(int)
        bspline = sitk.BSplineTransformInitializer(image, mesh.tolist(), order=3)
        stages.append(
            {
                "kind": "bspline",
                **problem.run(
                    bspline,
                    levels[-1:],
                    samples[-1:],
                    "bspline",
                    min(iterations, BSPLINE_ITERATIONS),
                    moving_initial=transform,
                ),
            }
        )
        composite = sitk.CompositeTransform(transform)
        composite.AddTransform(bspline)
        transform = composite

    cancelled = problem.observer.cancelled
    tre = None if landmarks is None else landmark_error_mm(transform, *landmarks)
    checks, warnings = ({}, [])
    if not cancelled:
        checks, warnings = _quality_checks(
            problem, transform, initial, candidates, levels[-1], samples[-1], tre
        )
    resampled = resample_to(moving, fixed, transform)
    seconds = time.perf_counter() - start_time
    settings = {
        "kind": kind,
        "metric": metric,
        "init": init,
        "search": bool(search),
        "search_range_deg": search_range_deg if search else None,
        "search_step_deg": search_step_deg if search else None,
        "search_voxel_mm": SEARCH_VOXEL_MM if search else None,
        "search_samples": SEARCH_SAMPLES if search else None,
        "search_refined": search_refined if search else None,
        "shrink_factors": list(shrink_factors),
        "shrink_per_axis": [list(level.shrink) for level in levels],
        "smoothing_sigmas_mm": list(smoothing_sigmas_mm),
        "iterations_per_level": iterations,
        "samples_per_level": [int(n) for n in samples],
        "sampling_strategy": "every mask voxel where samples cover the mask, else random",
        "histogram_bins": histogram_bins,
        "interpolator": "linear",
        "optimizer": {
            "rigid": "regular step gradient descent, first step half the level's voxel (mm)"
            + (
                "; from the chosen start, conjugate gradient with a line search on the finer levels"
                if start.get("search")
                else ""
            ),
            "affine": "regular step gradient descent from the rigid result, "
            f"first step {AFFINE_FIRST_STEP}",
            "bspline": "L-BFGS-B",
            "scales": "from physical shift (rigid, affine)",
        },
        "bspline_grid_spacing_mm": bspline_grid_spacing_mm if kind == "bspline" else None,
        "fixed_mask": "given" if fixed_mask is not None else problem.mask_source("fixed"),
        "moving_mask": "given" if moving_mask is not None else problem.mask_source("moving"),
        "seed": seed,
        "transform_direction": "fixed physical -> moving physical (LPS mm)",
    }
    result = Registration(
        transform=transform,
        resampled=resampled,
        kind=kind,
        metric_name=metric,
        final_metric=stages[-1]["final_metric"],
        iterations=problem.observer.count,
        stop_reason=stages[-1]["stop_reason"],
        seconds=seconds,
        tre_mm=tre,
        settings=settings,
        stages=stages,
        start=start,
        candidates=candidates,
        checks=checks,
        warnings=warnings,
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
    for message in warnings:
        log.warning("registration: %s", message)
    return result


def expected_iterations(kind: str, iterations: int, n_levels: int, search: bool) -> int:
    """An upper estimate of the iterations :func:`register` reports (for progress bars):
    the starts the search scores, the refinement of the best of them, the coarsest level
    of the two finalists and ``iterations`` per level and stage."""
    stages = {"rigid": n_levels, "affine": n_levels + 1, "bspline": n_levels + 2}[kind]
    total = iterations * stages
    if search:
        per_axis = 2 * round(SEARCH_RANGE_DEG / SEARCH_STEP_DEG) + 1
        total += 2 * per_axis**3 + (SEARCH_REFINED + 2) * iterations
    return int(total)


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


def _pyramid_level(image, shrink, sigma_mm: float):
    """One pyramid level: block-average by ``shrink`` voxels per axis (x, y, z), then
    Gaussian smoothing of ``sigma_mm`` (physical units) on the small image.

    Shrinking first keeps the cost of a level proportional to its own size.
    """
    import SimpleITK as sitk

    if max(shrink) > 1:
        image = sitk.BinShrink(image, [int(f) for f in shrink])
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


def _transform_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in TRANSFORM_EXTENSIONS:
        raise InputError(
            f"{path.name}: unknown transform file type",
            f"use one of {', '.join(TRANSFORM_EXTENSIONS)}",
        )
    return suffix


@dataclass
class _Level:
    """One resolution level: block-averaged by ``shrink`` (x, y, z) and smoothed."""

    shrink: tuple[int, int, int]
    sigma_mm: float
    fixed: Any
    moving: Any
    step_mm: float  # first optimizer step: half the level's finest voxel size


class _Problem:
    """The images, masks and metric settings one :func:`register` call shares by its stages."""

    def __init__(
        self,
        fixed: Volume,
        moving: Volume,
        *,
        metric,
        histogram_bins,
        seed,
        fixed_mask,
        moving_mask,
        masks_in_metric,
        observer,
    ):
        import SimpleITK as sitk

        self.metric, self.bins, self.seed = metric, histogram_bins, seed
        self.observer = observer
        self.fixed_image = sitk.Cast(fixed.to_sitk(), sitk.sitkFloat32)
        self.moving_image = sitk.Cast(moving.to_sitk(), sitk.sitkFloat32)
        self.fixed_foreground = _foreground(self.fixed_image, fixed.modality)
        self.moving_foreground = _foreground(self.moving_image, moving.modality)
        for name, mask in (("fixed", self.fixed_foreground), ("moving", self.moving_foreground)):
            if _count(mask) == 0:
                raise InputError(
                    f"no foreground found in the {name} image (it looks empty or uniform)",
                    "check that the file holds an image of the patient",
                )
        self.masks_in_metric = masks_in_metric
        self.fixed_mask = (
            _mask_image(fixed_mask)
            if fixed_mask is not None
            else (_dilated(self.fixed_foreground, MASK_MARGIN_MM) if masks_in_metric else None)
        )
        # the moving foreground is not a metric mask by default: the contrast of the
        # moving image's background with the fixed image's tissue guides the fit
        self.moving_mask = None if moving_mask is None else _mask_image(moving_mask)
        self.given = {"fixed": fixed_mask is not None, "moving": moving_mask is not None}
        mask = self.fixed_mask if self.fixed_mask is not None else None
        # share of the fixed field of view the sampled region covers
        self.fixed_fraction = (
            1.0 if mask is None else _count(mask) / float(np.prod(mask.GetSize()))
        )
        self.fixed_fraction = max(self.fixed_fraction, 1e-6)
        self._levels: dict = {}
        self._centres: dict = {}
        self.finalist_transforms: dict = {}  # id(candidate) -> its transform (finalists)

    def mask_source(self, side: str) -> str | None:
        if self.given[side]:
            return "given"
        return "foreground (automatic)" if self.masks_in_metric and side == "fixed" else None

    # ----------------------------------------------------------- levels
    def level(self, target_mm: float, sigma_mm: float) -> _Level:
        """Images block-averaged towards ``target_mm`` voxels, then smoothed (``sigma_mm``)."""
        key = (round(target_mm, 6), sigma_mm)
        if key not in self._levels:
            shrink = tuple(_shrink_per_axis(self.fixed_image, target_mm))
            moving_shrink = _shrink_per_axis(self.moving_image, target_mm)
            self._levels[key] = _Level(
                shrink=shrink,
                sigma_mm=sigma_mm,
                fixed=_pyramid_level(self.fixed_image, shrink, sigma_mm),
                moving=_pyramid_level(self.moving_image, moving_shrink, sigma_mm),
                step_mm=0.5 * target_mm,
            )
        return self._levels[key]

    def pyramid_levels(self, shrink_factors, sigmas_mm) -> list[_Level]:
        finest = min(self.fixed_image.GetSpacing())
        return [self.level(f * finest, s) for f, s in zip(shrink_factors, sigmas_mm, strict=True)]

    def sampled_voxels(self, level: _Level) -> float:
        """About how many voxels of ``level`` the metric can sample (inside the fixed mask)."""
        return float(np.prod(level.fixed.GetSize())) * self.fixed_fraction

    # ----------------------------------------------------------- metric
    def method(self, level: _Level, samples: float):
        import SimpleITK as sitk

        method = sitk.ImageRegistrationMethod()
        _set_metric(method, self.metric, self.bins)
        share = samples / max(self.sampled_voxels(level), 1.0)
        if share >= 1.0:
            method.SetMetricSamplingStrategy(method.NONE)  # every voxel of the mask
        else:
            method.SetMetricSamplingStrategy(method.RANDOM)
            method.SetMetricSamplingPercentage(float(share), seed=self.seed)
        # gradients at the sampled points only, not filtered over whole images
        method.SetMetricUseFixedImageGradientFilter(False)
        method.SetMetricUseMovingImageGradientFilter(False)
        if self.fixed_mask is not None:
            method.SetMetricFixedMask(self.fixed_mask)
        if self.moving_mask is not None:
            method.SetMetricMovingMask(self.moving_mask)
        method.SetInterpolator(sitk.sitkLinear)
        return method

    def evaluate(self, transform, level: _Level, samples: float) -> float:
        """The metric of ``transform`` at ``level``, on the same sample points as a run.

        An exhaustive "search" of zero steps evaluates it once with the run's sampling
        (SimpleITK's ``MetricEvaluate`` samples every voxel instead).
        """
        import SimpleITK as sitk

        method = self.method(level, samples)
        copy = sitk.Transform(transform)
        method.SetInitialTransform(copy, inPlace=True)
        method.SetOptimizerAsExhaustive([0] * copy.GetNumberOfParameters())
        try:
            method.Execute(level.fixed, level.moving)
        except RuntimeError:
            return float("inf")  # no sample maps into the moving image
        return float(method.GetMetricValue())

    # ----------------------------------------------------------- starts
    def centres(self, centring: str) -> tuple[np.ndarray, np.ndarray]:
        """Fixed and moving points that the centring ``geometry`` / ``moments`` pairs."""
        if centring not in self._centres:
            if centring == "geometry":
                pair = (_fov_centre(self.fixed_image), _fov_centre(self.moving_image))
            else:
                pair = (_centroid(self.fixed_foreground), _centroid(self.moving_foreground))
            self._centres[centring] = pair
        return self._centres[centring]

    def centred_start(self, centring: str, rotation_deg=(0.0, 0.0, 0.0)):
        """Versor rigid transform about the fixed centre: rotation (Euler x, y, z degrees,
        ITK Z·X·Y order), then the fixed centre onto the moving one."""
        import SimpleITK as sitk

        fixed_centre, moving_centre = self.centres(centring)
        euler = sitk.Euler3DTransform(
            tuple(fixed_centre),
            *np.deg2rad(rotation_deg).tolist(),
            tuple(moving_centre - fixed_centre),
        )
        versor = sitk.VersorRigid3DTransform()
        versor.SetCenter(euler.GetCenter())
        versor.SetMatrix(euler.GetMatrix())
        versor.SetTranslation(euler.GetTranslation())
        return versor

    def search(self, range_deg: float, step_deg: float) -> list[dict]:
        """Score every rotation of the grid about both centrings on the search level.

        One exhaustive SimpleITK run per centring evaluates the metric at each grid point
        with the same sample points, so the scores compare. Returns one dict per
        candidate, best (lowest) metric first.
        """
        import SimpleITK as sitk

        level = self.level(SEARCH_VOXEL_MM, SEARCH_VOXEL_MM / 2)
        steps = int(round(range_deg / step_deg)) if step_deg > 0 else 0
        candidates = []
        for centring in ("geometry", "moments"):
            fixed_centre, moving_centre = self.centres(centring)
            euler = sitk.Euler3DTransform()
            euler.SetCenter(tuple(fixed_centre))
            euler.SetTranslation(tuple(moving_centre - fixed_centre))
            method = self.method(level, SEARCH_SAMPLES)
            method.SetInitialTransform(euler, inPlace=True)
            method.SetOptimizerAsExhaustive([steps] * 3 + [0] * 3, stepLength=np.deg2rad(step_deg))
            method.SetOptimizerScales([1.0] * 6)
            scored = []
            method.AddCommand(
                sitk.sitkIterationEvent,
                lambda m=method, s=scored: s.append(
                    (tuple(m.GetOptimizerPosition()[:3]), float(m.GetMetricValue()))
                ),
            )
            self.observer.watch(method)
            # a rotation that puts no sample in the moving image ends the grid early
            with contextlib.suppress(RuntimeError):
                method.Execute(level.fixed, level.moving)
            for angles, value in scored:
                candidates.append(
                    {
                        "centring": centring,
                        "rotation_deg": [round(float(a), 3) for a in np.rad2deg(angles)],
                        "search_metric": value,
                    }
                )
            if self.observer.cancelled:
                break
        candidates.sort(key=lambda c: c["search_metric"])
        return candidates

    def refine(self, candidates, n_best, init, iterations):
        """Refine the ``n_best`` first candidates, and the plain ``init`` centring, on the
        search level; returns ``(candidate, transform)`` pairs, lowest metric first (the
        same sample points for all)."""
        search_level = self.level(SEARCH_VOXEL_MM, SEARCH_VOXEL_MM / 2)
        plain = [c for c in candidates if c["centring"] == init and not any(c["rotation_deg"])]
        refined = []
        for candidate in candidates[:n_best] + [c for c in plain if c not in candidates[:n_best]]:
            transform = self.centred_start(candidate["centring"], candidate["rotation_deg"])
            outcome = self.run(
                transform,
                [search_level],
                [SEARCH_SAMPLES],
                "rigid",
                iterations,
                tolerate_no_overlap=True,
            )
            candidate["refined_metric"] = outcome["final_metric"]
            if np.isfinite(outcome["final_metric"]):
                refined.append((candidate, transform))
            if self.observer.cancelled:
                break
        return sorted(refined, key=lambda pair: pair[0]["refined_metric"])

    # ----------------------------------------------------------- optimisation
    def run(
        self,
        transform,
        levels,
        samples,
        stage: str,
        max_iterations: int,
        *,
        moving_initial=None,
        tolerate_no_overlap: bool = False,
        line_search: bool = False,
    ) -> dict:
        """Optimise ``transform`` in place over ``levels``; the stage's figures.

        The regular step gradient descent finds the basin from a coarse start; within
        it, ``line_search`` (conjugate gradient with a line search) polishes further: on
        the head phantom the step descent stopped 0.5-0.7 mm (mean landmark error) from
        the truth where the line search reaches 0.2-0.4 mm."""
        if self.observer.cancelled:
            return {"final_metric": float("nan"), "stop_reason": "cancelled", "iterations": 0}
        counted = self.observer.count
        outcome = {"final_metric": float("nan"), "stop_reason": "no level to run"}
        for level, n_samples in zip(levels, samples, strict=True):
            method = self.method(level, n_samples)
            if stage == "bspline":
                method.SetOptimizerAsLBFGSB(
                    gradientConvergenceTolerance=1e-5,
                    numberOfIterations=max_iterations,
                    maximumNumberOfCorrections=5,
                    maximumNumberOfFunctionEvaluations=2 * max_iterations,
                    costFunctionConvergenceFactor=1e7,
                )
            elif line_search:
                method.SetOptimizerAsConjugateGradientLineSearch(
                    learningRate=1.0,
                    numberOfIterations=max_iterations,
                    convergenceMinimumValue=1e-5,
                    convergenceWindowSize=10,
                    estimateLearningRate=method.Once,
                )
                method.SetOptimizerScalesFromPhysicalShift()
            else:
                first_step = AFFINE_FIRST_STEP if stage == "affine" else level.step_mm
                method.SetOptimizerAsRegularStepGradientDescent(
                    learningRate=first_step,
                    minStep=first_step / 1000,
                    numberOfIterations=max_iterations,
                    relaxationFactor=RELAXATION,
                    gradientMagnitudeTolerance=1e-8,
                )
                method.SetOptimizerScalesFromPhysicalShift()
            if moving_initial is not None:
                method.SetMovingInitialTransform(moving_initial)
            method.SetInitialTransform(transform, inPlace=True)
            self.observer.watch(method)
            try:
                method.Execute(level.fixed, level.moving)
            except RuntimeError as err:
                if tolerate_no_overlap:
                    return {
                        "final_metric": float("inf"),
                        "iterations": self.observer.count - counted,
                        "stop_reason": "no overlap",
                    }
                raise InputError(
                    "the registration lost the overlap of the two images "
                    f"({str(err).strip().splitlines()[-1][:120]})",
                    "check that both images show the same anatomy, or give 3 or more "
                    "landmark pairs (init='landmarks')",
                ) from err
            outcome = {
                "final_metric": float(method.GetMetricValue()),
                "stop_reason": "cancelled"
                if self.observer.cancelled
                else method.GetOptimizerStopConditionDescription(),
            }
            if self.observer.cancelled:
                break
        return {**outcome, "iterations": self.observer.count - counted}


def _quality_checks(problem, transform, initial, candidates, level, samples, tre):
    """Figures that tell whether a registration may have failed, and warnings.

    * ``metric_start`` / ``metric_final``: the metric of the start and of the result at
      the finest level with the same sample points; a result that moved more than a
      voxel from its start without improving the metric by ``MIN_METRIC_GAIN`` (share
      of the start's value) is suspect.
    * ``other_starts``: the other finalist of the search; one that ended more than
      ``AMBIGUOUS_DISTANCE_VOXELS`` voxels away from the chosen one (after the coarsest
      pyramid level) with a metric within
      ``AMBIGUOUS_METRIC`` (share) of it means two alignments fit about equally well,
      unless that one slid the images apart (``shared_view``) and the chosen did not.
    * ``foreground_overlap``: of the foreground of each image that falls in the other
      image's field of view, the share that falls on the other's foreground (the
      smaller of the two); below ``MIN_FOREGROUND_OVERLAP`` tissue lies on air, or the
      two images do not show the same anatomy.
    * ``shared_view``: the larger share of either image's foreground that lies inside
      the other's field of view; below ``MIN_SHARED_VIEW`` the fit may have slid the
      images apart (mutual information favours small overlaps).
    * ``landmark_error_mm``: with landmark pairs, their mean error; above
      ``LANDMARK_WARNING_VOXELS`` voxels (the larger spacing of the two images) the
      result and the landmarks disagree.
    """
    import SimpleITK as sitk

    voxel_mm = max(max(problem.fixed_image.GetSpacing()), max(problem.moving_image.GetSpacing()))
    bulk = transform
    if isinstance(transform, sitk.CompositeTransform):
        bulk = transform.GetNthTransform(0)  # the affine part before the B-spline
    points = _mask_points(problem.fixed_foreground)
    checks: dict = {"voxel_mm": voxel_mm}
    warnings: list[str] = []

    start_metric = problem.evaluate(initial, level, samples)
    final_metric = problem.evaluate(transform, level, samples)
    moved_mm = _mean_displacement_mm(initial, transform, points)
    checks.update(
        metric_start=start_metric, metric_final=final_metric, start_to_result_mm=moved_mm
    )
    gain = start_metric - final_metric
    if moved_mm > voxel_mm and not gain > MIN_METRIC_GAIN * abs(start_metric):
        warnings.append(
            f"the result moved {moved_mm:.1f} mm from the start but its metric "
            f"({final_metric:.4f}) is not clearly better than the start's ({start_metric:.4f}): "
            "the registration may have failed; check the overlay"
        )

    finalists = [c for c in candidates if np.isfinite(c.get("coarse_metric", np.inf))]
    chosen = next((c for c in finalists if c.get("chosen")), None)
    others = []
    for candidate in finalists if chosen is not None else []:
        if candidate is chosen:
            continue
        distance = _mean_displacement_mm(
            problem.finalist_transforms[id(chosen)],
            problem.finalist_transforms[id(candidate)],
            points,
        )
        gap = candidate["coarse_metric"] - chosen["coarse_metric"]
        candidate["distance_from_chosen_mm"] = round(distance, 2)
        others.append({"distance_mm": distance, "metric_gap": gap})
        slid_off = candidate["coarse_shared_view"] < MIN_SHARED_VIEW
        if (
            distance > AMBIGUOUS_DISTANCE_VOXELS * voxel_mm
            and gap < AMBIGUOUS_METRIC * abs(chosen["coarse_metric"])
            and not (slid_off and chosen["coarse_shared_view"] >= MIN_SHARED_VIEW)
        ):
            warnings.append(
                f"another start ({candidate['centring']} centring, rotation "
                f"{candidate['rotation_deg']} deg) reached an alignment {distance:.1f} mm "
                f"away with almost the same metric ({candidate['coarse_metric']:.4f} vs "
                f"{chosen['coarse_metric']:.4f}): the alignment is ambiguous"
            )
    checks["other_starts"] = others

    meeting = _foreground_overlap(problem, bulk) or {}
    overlap, shared = meeting.get("overlap"), meeting.get("shared_view")
    checks.update(foreground_overlap=overlap, shared_view=shared)
    if shared is not None and shared < MIN_SHARED_VIEW:
        warnings.append(
            f"after registration only {shared:.0%} of either image's tissue lies inside the "
            f"other's field of view (expected at least {MIN_SHARED_VIEW:.0%} when both show "
            "the same body part): mutual information can prefer such a small overlap, so the "
            "registration may have slid off; check the overlay"
        )
    if overlap is None or overlap < MIN_FOREGROUND_OVERLAP:
        shown = "none" if overlap is None else f"{overlap:.0%}"
        warnings.append(
            f"the two foregrounds overlap poorly after registration ({shown} of the "
            f"tissue on tissue, expected at least {MIN_FOREGROUND_OVERLAP:.0%}): the images "
            "may not show the same anatomy, or the registration failed"
        )
    if tre is not None:
        checks["landmark_error_mm"] = tre["mean"]
        if tre["mean"] > LANDMARK_WARNING_VOXELS * voxel_mm:
            warnings.append(
                f"the landmarks disagree with the result: mean error {tre['mean']:.1f} mm "
                f"(max {tre['max']:.1f} mm), more than {LANDMARK_WARNING_VOXELS} voxels "
                f"({LANDMARK_WARNING_VOXELS * voxel_mm:.1f} mm)"
            )
    return checks, warnings


def _finalists(problem, refined) -> list:
    """The best refined start and the best one that ended more than a voxel (mean
    displacement over the fixed foreground) away from it: both go on to the coarsest
    pyramid level, whose metric (every voxel of the mask) tells them apart better than
    the search level's.

    Starts whose refinement kept the fields of view together (``shared_view`` of at least
    ``MIN_SHARED_VIEW``, see :func:`_foreground_overlap`) rank before those that slid
    them apart: mutual information's preference for small overlaps otherwise wins."""
    if not refined:
        return []
    for candidate, transform in refined:
        candidate["shared_view"] = _shared_view(problem, transform)
    refined = sorted(refined, key=lambda pair: pair[0]["shared_view"] < MIN_SHARED_VIEW)
    voxel_mm = max(problem.fixed_image.GetSpacing())
    points = _mask_points(problem.fixed_foreground)
    best = refined[0]
    other = next(
        (
            pair
            for pair in refined[1:]
            if _mean_displacement_mm(best[1], pair[1], points) > voxel_mm
        ),
        None,
    )
    return [best] if other is None else [best, other]


def _shared_view(problem, transform) -> float:
    """``shared_view`` of :func:`_foreground_overlap` (0 when the images do not meet)."""
    meeting = _foreground_overlap(problem, transform)
    return 0.0 if meeting is None else round(meeting["shared_view"], 3)


def _foreground_overlap(problem, transform) -> dict | None:
    """How the two foregrounds meet under ``transform``: ``overlap`` and ``shared_view``.

    ``overlap``: the smaller, over the two images, of the share of its foreground (within
    the other image's field of view) that lands on the other's foreground. Only points
    inside the other image's field of view count, so a cropped MRI does not lower it.
    After registration it is 0.87-0.97 on the three real thigh CT/MRI pairs and 0.70 on
    the head phantom (its MRI shows no skull); the head phantom's MRI fitted onto a
    thigh CT gives 0.48. The MRI of one thigh patient fitted onto another's CT gives
    0.75 or 0.90: a similar anatomy of another patient is not told apart.

    ``shared_view``: the larger, over the two images, of the share of its foreground
    that lies inside the other's field of view; the smaller field of view lies within
    the larger one when the images show the same body part, so it is near 1 (0.99 on
    the real thigh MRI). Mutual information favours small overlaps: on the real thigh
    MRI of one patient moved by 7 deg the metric's best alignment slid 76 mm along the
    leg, where it was 0.55 (``overlap`` still 0.69).
    """
    try:
        inverse = transform.GetInverse()
    except RuntimeError:
        return None
    overlaps, views = [], []
    for source, target, mapping in (
        (problem.fixed_foreground, problem.moving_foreground, transform),
        (problem.moving_foreground, problem.fixed_foreground, inverse),
    ):
        mapped = transform_points(mapping, _mask_points(source))
        index = np.array([target.TransformPhysicalPointToContinuousIndex(p) for p in mapped])
        index = np.round(index).astype(int)
        inside = np.all((index >= 0) & (index < np.asarray(target.GetSize())), axis=1)
        if not inside.any():
            return None
        values = _mask_array(target)[tuple(index[inside][:, ::-1].T)]
        overlaps.append(float(np.mean(values > 0)))
        views.append(float(np.mean(inside)))
    return {"overlap": min(overlaps), "shared_view": max(views)}


def foreground_mask(volume: Volume) -> Volume:
    """The body (foreground) of an image, on a grid of about ``MASK_VOXEL_MM`` voxels.

    CT (modality ``CT``): voxels above ``CT_AIR_HU`` (air and lung excluded); any other
    image: above an Otsu threshold of ``log(1 + value - min)``, which separates the dark
    background of an MRI from tissue. Then a morphological opening of
    ``MASK_OPENING_MM`` removes thin structures such as the CT table and blankets, the
    connected components of at least ``MASK_KEEP_FRACTION`` of the largest are kept (both
    legs, say) and holes are filled. Used by :func:`register` for the metric, for the
    foreground centring and for the overlap check.
    """
    import SimpleITK as sitk

    mask = _foreground(sitk.Cast(volume.to_sitk(), sitk.sitkFloat32), volume.modality)
    return Volume.from_sitk(mask, modality="LABELS", units="label")


def _foreground(image, modality: str):
    import SimpleITK as sitk

    small = sitk.BinShrink(image, _shrink_per_axis(image, MASK_VOXEL_MM))
    if modality == "CT":
        mask = small > CT_AIR_HU
    else:
        stats = sitk.MinimumMaximumImageFilter()
        stats.Execute(small)
        otsu = sitk.OtsuThresholdImageFilter()
        otsu.SetInsideValue(0)
        otsu.SetOutsideValue(1)
        mask = otsu.Execute(sitk.Log(small - stats.GetMinimum() + 1.0))
    radius = [int(round(MASK_OPENING_MM / s)) for s in small.GetSpacing()]
    mask = sitk.BinaryMorphologicalOpening(sitk.Cast(mask, sitk.sitkUInt8), radius)
    components = sitk.RelabelComponent(sitk.ConnectedComponent(mask), sortByObjectSize=True)
    sizes = np.bincount(sitk.GetArrayViewFromImage(components).ravel())[1:]
    if sizes.size == 0:
        return mask
    keep = int(np.sum(sizes >= MASK_KEEP_FRACTION * sizes[0]))
    mask = sitk.BinaryThreshold(components, 1, keep, 1, 0)
    return sitk.BinaryFillhole(mask, fullyConnected=False)


def _dilated(mask, margin_mm: float):
    """A mask grown by ``margin_mm`` (whole voxels per axis)."""
    import SimpleITK as sitk

    radius = [int(round(margin_mm / s)) for s in mask.GetSpacing()]
    return sitk.BinaryDilate(mask, radius) if max(radius) > 0 else mask


def _mask_array(mask) -> np.ndarray:
    import SimpleITK as sitk

    return sitk.GetArrayViewFromImage(mask)


def _count(mask) -> int:
    return int(np.count_nonzero(_mask_array(mask)))


def _mask_points(mask, at_most: int = 2000) -> np.ndarray:
    """Physical points (x, y, z) of up to ``at_most`` evenly picked mask voxels."""
    index = np.argwhere(_mask_array(mask) > 0)[:, ::-1].astype(float)  # (i, j, k)
    index = index[:: max(1, len(index) // at_most)]
    matrix = np.asarray(mask.GetDirection()).reshape(3, 3) * np.asarray(mask.GetSpacing())
    return index @ matrix.T + np.asarray(mask.GetOrigin())


def _centroid(mask) -> np.ndarray:
    return _mask_points(mask, at_most=10**9).mean(axis=0)


def _fov_centre(image) -> np.ndarray:
    centre = [(n - 1) / 2.0 for n in image.GetSize()]
    return np.asarray(image.TransformContinuousIndexToPhysicalPoint(centre))


def _mean_displacement_mm(first, second, points) -> float:
    """Mean distance between the images of ``points`` under two transforms (mm)."""
    return float(
        np.mean(
            np.linalg.norm(
                transform_points(first, points) - transform_points(second, points), axis=1
            )
        )
    )


def _shrink_per_axis(image, target_mm: float) -> list[int]:
    """Block sizes (x, y, z) that bring each voxel axis towards ``target_mm``, keeping at
    least ``MIN_VOXELS_PER_AXIS`` voxels along each axis."""
    return [
        int(max(1, min(round(target_mm / spacing), size // MIN_VOXELS_PER_AXIS)))
        for spacing, size in zip(image.GetSpacing(), image.GetSize(), strict=True)
    ]


def _samples_per_level(problem, levels, sampling_percentage, samples_per_level) -> list[float]:
    """Metric sample points per level: a share of the fixed-mask voxels, or every mask
    voxel at the coarsest level and ``samples_per_level`` at the finest, half as many at
    each level between.

    The coarsest level decides which basin the fit ends in. A few thousand random points
    there give a metric with false minima (on the real thigh CT/MRI pairs, fits from
    two starts stopped 12-14 mm apart on the same landscape, where the dense metric
    falls steadily from one to the other); every voxel of that small level costs little
    and removes them. The finer levels only polish within the basin.
    """
    if sampling_percentage is not None:
        values = np.broadcast_to(np.asarray(sampling_percentage, dtype=float), (len(levels),))
        if np.any(values <= 0) or np.any(values > 1):
            raise InputError(f"sampling_percentage must be in (0, 1], got {sampling_percentage}")
        return [
            float(v) * problem.sampled_voxels(level)
            for v, level in zip(values, levels, strict=True)
        ]
    n = len(levels)
    counts = [
        float(min(samples_per_level / 2 ** (n - 1 - i), problem.sampled_voxels(level)))
        for i, level in enumerate(levels)
    ]
    if n > 1:
        counts[0] = problem.sampled_voxels(levels[0])
    return counts
