"""Intracranial artery calcification along a vessel, and the combined CT + VW-MRI job.

* :func:`find_calcifications` — voxels >= 130 HU inside a tube of chosen radius
  around the reader's centreline (the tube keeps skull base and clinoid bone out),
  split into 3-D components: a label image on the CT grid.
* :func:`measure_calcifications` — per component: volume and mean/peak density
  through PyRadiomics on the CT and the component mask (same geometry), and from
  cross-sections perpendicular to the centreline: longitudinal length, arc about
  the lumen centre, radial thickness, continuity; then the spotty flag and the
  Kockelkoren items, points and pattern.
* :func:`run_intracranial` — the whole job (CT, optional vessel-wall MRI pre/post
  contrast, optional MRI->CT transform): calcifications, per-segment grades, the
  overall grade, plaque metrics and class, and the ``settings`` used.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import numpy as np
from scipy import ndimage

from napari_calcium.calcium.hu import check_ct_hu
from napari_calcium.calcium.radiomics import EXTRACTOR_SETTINGS
from napari_calcium.errors import InputError
from napari_calcium.scores import intracranial as scores
from napari_calcium.scores.intracranial import segment_grades
from napari_calcium.vessel.centerline import (
    Centerline,
    CrossSections,
    check_inside,
    cross_sections,
    sample_physical,
    smooth_points,
    tube_mask,
)
from napari_calcium.vessel.plaques import default_plaque_settings, plaque_records
from napari_calcium.volume import Volume, require_volumes

log = logging.getLogger(__name__)

#: PyRadiomics settings for per-calcification density and volume: the CT is used
#: as is (no resampling, no normalisation) and a single voxel is a valid ROI.
#: PyRadiomics feature -> result key of each calcification (one wrapper for every
#: analysis: :func:`napari_calcium.calcium.radiomics.label_features`).
RADIOMICS_FEATURES = {
    "original_shape_VoxelVolume": "volume_mm3",
    "original_firstorder_Mean": "mean_hu",
    "original_firstorder_Maximum": "peak_hu",
}

#: Plaque keys always present in the output (``None`` when not measured).
PLAQUE_KEYS = (
    "class",
    "calcified_fraction",
    "stenosis_pct",
    "remodeling_index",
    "remodeling",
    "lumen_area_mm2",
    "outer_wall_area_mm2",
    "wall_area_mm2",
    "normalized_wall_index",
    "max_wall_thickness_mm",
    "min_wall_thickness_mm",
    "eccentricity_index",
    "eccentric",
    "plaque_burden_pct",
    "plaque_length_mm",
    "enhancement_ratio",
    "narrowest_mm",
    "reference_mm",
    "reference_choice",
)

#: Columns of the per-calcification table (CSV, napari layer features).
CALCIFICATION_COLUMNS = (
    "id",
    "volume_mm3",
    "mean_hu",
    "peak_hu",
    "length_mm",
    "arc_deg",
    "thickness_mm",
    "resolution_limit_mm",
    "excess_hu_mm3",
    "start_mm",
    "end_mm",
    "spotty",
    "segment",
    "circularity",
    "thickness_class",
    "morphology",
    "pattern_points",
    "pattern",
    "pattern_two_class",
    "pattern_three_class",
)


def find_calcifications(
    ct: Volume,
    centerline: Centerline,
    threshold_hu: float = 130.0,
    region_radius_mm: float = 4.5,
    connectivity: int = 3,
) -> tuple[Volume, np.ndarray]:
    """Calcified components within ``region_radius_mm`` of the centreline.

    Parameters
    ----------
    ct : CT Volume in HU.
    centerline : the vessel's centreline (LPS mm).
    threshold_hu : calcium threshold, voxels ``>= threshold_hu`` (CLINICAL_RULES 0b, 3.1).
    region_radius_mm : radius of the vessel region around the centreline; bone
        outside it is excluded.
    connectivity : 1 (faces), 2 (edges) or 3 (corners) 3-D neighbourhood.

    Returns
    -------
    labels : ``LABELS`` Volume on the CT grid (0 background, 1..n components ordered
        from proximal to distal).
    region : boolean ``(z, y, x)`` vessel region.
    """
    check_inside(ct, centerline, "CT")
    region = tube_mask(ct, centerline, region_radius_mm)
    check_ct_hu(ct, units=True, tissue=True, region=region)
    mask = region & (np.asarray(ct.array) >= threshold_hu)
    labels, n = ndimage.label(mask, ndimage.generate_binary_structure(3, connectivity))
    if n:
        # order components from proximal to distal along the centreline
        pts, arc = centerline.dense(0.1)
        from scipy.spatial import cKDTree

        centroids = ndimage.center_of_mass(mask, labels, range(1, n + 1))
        _, nearest = cKDTree(pts).query(ct.index_to_physical(np.asarray(centroids)))
        order = np.argsort(arc[nearest], kind="stable")
        lut = np.zeros(n + 1, dtype=np.int32)
        lut[order + 1] = np.arange(1, n + 1)
        labels = lut[labels]
    return ct.replace(array=labels.astype(np.int32), modality="LABELS", units="label"), region


def radiomics_density_volume(ct: Volume, labels: Volume, label: int) -> dict:
    """PyRadiomics ``VoxelVolume`` (mm³), ``Mean`` and ``Maximum`` (HU) of one component.

    A one-voxel component (which PyRadiomics refuses) gets its voxel's volume and
    value directly; ``density_source`` says which was used.

    The CT and the mask are cropped to the component's bounding box (plus one voxel)
    with their physical geometry kept and measured by
    :func:`~napari_calcium.calcium.radiomics.label_features`.
    """
    from napari_calcium.calcium.radiomics import label_features

    inside = np.asarray(labels.array) == label
    if inside.sum() == 1:  # PyRadiomics refuses a one-voxel ROI: its values are exact anyway
        value = float(np.asarray(ct.array)[inside][0])
        return {
            "volume_mm3": ct.voxel_volume_mm3,
            "mean_hu": value,
            "peak_hu": value,
            "density_source": "single voxel (PyRadiomics needs >= 2 voxels)",
        }
    values = label_features(ct, labels, [label], RADIOMICS_FEATURES)[label]
    return {**values, "density_source": "PyRadiomics"}


def _polar_component(
    ct: Volume,
    labels: Volume,
    label: int,
    sections: CrossSections,
    frames: np.ndarray,
    radii: np.ndarray,
    angles: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Component indicator and CT values at each (frame, angle, radius) sample.

    The component's indicator is interpolated linearly: it is >= 0.5 inside the
    component (boundary midway between inside and outside voxel centres) and > 0
    within one voxel of it, where partial volume spreads its calcium. The CT is
    interpolated linearly too.
    """
    lab = np.asarray(labels.array)
    box = ndimage.find_objects((lab == label).astype(np.uint8))[0]
    lo = [max(b.start - 2, 0) for b in box]
    hi = [min(b.stop + 2, n) for b, n in zip(box, lab.shape, strict=True)]
    crop = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    origin = tuple(labels.index_to_physical(lo))
    indicator = labels.replace(array=(lab[crop] == label).astype(np.float32), origin_mm=origin)
    values = ct.replace(array=np.asarray(ct.array)[crop].astype(np.float32), origin_mm=origin)
    inside = np.zeros((len(frames), len(angles), len(radii)), dtype=np.float32)
    hu = np.zeros_like(inside)
    for n, f in enumerate(frames):
        pts = sections.polar_points(int(f), angles, radii)
        inside[n] = sample_physical(indicator, pts, order=1, cval=0.0)
        hu[n] = sample_physical(values, pts, order=1, cval=np.nan)
    return inside, np.nan_to_num(hu, nan=0.0)


def background_hu(ct: Volume, region: np.ndarray, threshold_hu: float) -> float:
    """Median CT value (HU) of the vessel region below the calcium threshold.

    The level of lumen, wall and surrounding soft tissue from which calcium excess
    is measured.
    """
    values = np.asarray(ct.array)[region]
    values = values[values < threshold_hu]
    return float(np.median(values)) if values.size else 0.0


def measure_calcifications(
    ct: Volume,
    labels: Volume,
    centerline: Centerline,
    region_radius_mm: float = 4.5,
    step_mm: float = 0.25,
    n_angles: int = 360,
    thickness_percentile: float = 75.0,
    score_settings: Mapping | None = None,
    threshold_hu: float = 130.0,
) -> list[dict]:
    """Measure every component of ``labels`` along ``centerline``.

    Cross-sections every ``step_mm`` perpendicular to the centreline are searched
    on ``n_angles`` rays from the centreline point (the lumen centre) out to
    ``region_radius_mm``. A sample is calcified when the component's indicator,
    interpolated linearly, is >= 0.5; its partial-volume rim is where the indicator
    is > 0 (within one voxel). The calcium *excess* of a sample is its CT value
    minus the background (:func:`background_hu`), and the component's *peak
    excess* is its peak HU minus the background. Because partial volume conserves
    the amount of calcium (the excess integrated over the component and its rim),
    geometry is measured from the excess rather than from counting thresholded
    samples:

    * ``thickness_mm``: on each calcified ray, the excess integrated along the ray
      over the component and its rim, divided by the peak excess; the
      ``thickness_percentile`` percentile over the rays (robust maximum). Exact
      for a uniform calcification resolved by the voxels (its peak is its density);
      for one thinner than a voxel the peak underestimates the density and the
      value is an upper bound, close to the true thickness while the calcification
      still fills half a voxel (``resolution_limit_mm`` = largest voxel side);
    * ``length_mm``: full width at half maximum of the calcium area per
      cross-section (excess integrated over the cross-section / peak excess) along
      the centreline; each end's half maximum is half the largest area within two
      voxels inside that end, so a calcification thinner at one end keeps its length;
    * ``arc_deg``: largest angle covered in one cross-section by rays whose
      excess integral is at least half the largest within one voxel around them
      (half maximum in angle, so the partial-volume rim at the arc's ends, which
      the 130 HU threshold keeps, does not widen it);
    * continuity over that length: fraction of cross-sections holding the
      component (``covered_fraction``) and the coefficient of variation of
      the area (``area_cv``), over the cross-sections more than half a voxel from
      either end (the ends are blurred by partial volume);
    * ``excess_hu_mm3``: the excess integrated over the component and its rim
      (HU x mm³); equals calcium density above background x true volume.

    Volume and mean/peak HU come from PyRadiomics (:func:`radiomics_density_volume`)
    over the thresholded voxels. Scores follow
    :mod:`napari_calcium.scores.intracranial`; ``score_settings`` overrides
    :func:`~napari_calcium.scores.intracranial.default_settings` values.

    Returns
    -------
    list of dicts, one per component (``id`` = label value), units in the keys.
    """
    cfg = scores.default_settings()
    cfg.update(score_settings or {})
    lab = np.asarray(labels.array)
    ids = [int(i) for i in np.unique(lab) if i != 0]
    if not ids:
        return []
    background = background_hu(ct, tube_mask(ct, centerline, region_radius_mm), threshold_hu)
    sections = cross_sections(centerline, step_mm, 2 * region_radius_mm, min(ct.spacing_mm))
    dr = min(ct.spacing_mm) / 4.0
    radii = np.arange(dr / 2, region_radius_mm, dr)
    angles = np.arange(n_angles) * 2 * np.pi / n_angles
    dtheta = 2 * np.pi / n_angles
    resolution = float(max(ct.spacing_mm))
    # arc position of every component voxel: which cross-sections can hold it
    from scipy.spatial import cKDTree

    tree = cKDTree(sections.centers_mm)
    hu_all = np.asarray(ct.array)
    out = []
    for k in ids:
        vox = ct.index_to_physical(np.argwhere(lab == k))
        _, nearest = tree.query(vox)
        pad = int(np.ceil(max(ct.spacing_mm) / step_mm)) + 1
        frames = np.arange(
            max(nearest.min() - pad, 0), min(nearest.max() + pad + 1, sections.n_frames)
        )
        dens = radiomics_density_volume(ct, labels, k)
        peak_excess = max(dens["peak_hu"] - background, 1e-6)
        indicator, hu = _polar_component(ct, labels, k, sections, frames, radii, angles)
        hit = indicator >= 0.5
        excess = np.where(indicator > 0, hu - background, 0.0) / peak_excess
        present = hit.any(axis=(1, 2))
        rays = hit.any(axis=2)
        along_ray = excess.sum(axis=2) * dr
        if rays.any():
            # half maximum in angle: against the largest ray within one voxel around
            radius = float(np.median(np.broadcast_to(radii, hit.shape)[hit]))
            reach = int(np.ceil(resolution / (radius * dtheta)))
            local = ndimage.maximum_filter1d(along_ray, 2 * reach + 1, axis=1, mode="wrap")
            arc_rays = (along_ray >= 0.5 * local) & (along_ray > 0)
        else:
            arc_rays = rays
        arc_per_frame = arc_rays.sum(axis=1) * 360.0 / n_angles
        area_per_frame = (excess * radii).sum(axis=2).sum(axis=1) * dr * dtheta
        ray_thickness = along_ray[rays]
        if present.any():
            first, last = _half_maximum_extent(
                area_per_frame, np.flatnonzero(present), int(np.ceil(2 * resolution / step_mm))
            )
            idx = np.arange(first, last + 1)
            length = idx.size * step_mm
            trim = int(np.ceil(0.5 * resolution / step_mm))
            core = idx[trim : idx.size - trim] if idx.size > 2 * trim + 1 else idx
            covered = float(np.mean(present[idx]))
            areas = area_per_frame[core]
            area_cv = float(np.std(areas) / np.mean(areas))
            arc = float(arc_per_frame.max())
            thickness = float(np.percentile(ray_thickness, thickness_percentile))
            start_mm = float(sections.arc_mm[frames[idx[0]]])
            end_mm = float(sections.arc_mm[frames[idx[-1]]])
        else:  # too small to reach a cross-section: measured by its voxels only
            covered, area_cv, length, arc, thickness = 0.0, 0.0, 0.0, 0.0, 0.0
            start_mm = end_mm = float(sections.arc_mm[int(np.median(nearest))])
        rim = ndimage.binary_dilation(lab == k, ndimage.generate_binary_structure(3, 3))
        rim &= (lab == 0) | (lab == k)
        excess_hu_mm3 = float((hu_all[rim] - background).sum() * ct.voxel_volume_mm3)
        centroid = ct.index_to_physical(np.argwhere(lab == k).mean(axis=0))
        out.append(
            {
                "id": k,
                **dens,
                "voxel_count": int((lab == k).sum()),
                "background_hu": background,
                "excess_hu_mm3": excess_hu_mm3,
                "length_mm": float(length),
                "arc_deg": arc,
                "thickness_mm": thickness,
                "resolution_limit_mm": resolution,
                "start_mm": start_mm,
                "end_mm": end_mm,
                "covered_fraction": float(covered),
                "area_cv": area_cv,
                "spotty": scores.is_spotty(
                    length, arc, cfg["spotty_max_length_mm"], cfg["spotty_max_arc_deg"]
                ),
                "centroid_mm": centroid.tolist(),
            }
        )
    return out


def _half_maximum_extent(area: np.ndarray, present: np.ndarray, window: int) -> tuple[int, int]:
    """First and last index of ``area`` at or above half its maximum near each end.

    ``present`` holds the indices where the component is seen; from the largest
    area within ``window`` indices inside each end, the extent grows outwards while
    the area stays at or above half of that largest area.
    """
    first, last = int(present[0]), int(present[-1])
    lo = first + int(np.argmax(area[first : first + window + 1]))
    half = 0.5 * area[lo]
    while lo > 0 and area[lo - 1] >= half:
        lo -= 1
    begin = max(last - window, 0)
    hi = begin + int(np.argmax(area[begin : last + 1]))
    half = 0.5 * area[hi]
    while hi < len(area) - 1 and area[hi + 1] >= half:
        hi += 1
    return lo, max(hi, lo)


def resample_onto(moving: Volume, reference: Volume, transform=None) -> Volume:
    """``moving`` resampled (linear) onto ``reference``'s grid with ``sitk.Resample``.

    ``transform`` maps reference (CT) physical points to moving (MRI) points, as a
    SimpleITK/ITK registration with the CT fixed and the MRI moving writes it;
    ``None`` means both share one physical space.
    """
    from napari_calcium.resampling import resample_to

    return resample_to(moving, reference, transform, default_value=float("nan"))


def vessel_grid(ct: Volume, centerline: Centerline, spacing_mm: float, margin_mm: float) -> Volume:
    """An empty isotropic grid of ``spacing_mm`` with the CT's axes, around the vessel.

    It covers the centreline and ``margin_mm`` around it, so an MRI resampled onto it
    keeps its own resolution (the CT's voxels are usually coarser than a vessel wall)
    while sharing the CT's physical space.
    """
    points, _ = centerline.dense(0.5)
    local = (points - np.asarray(ct.origin_mm)) @ ct.direction  # CT axes, mm
    low = local.min(axis=0) - margin_mm
    high = local.max(axis=0) + margin_mm
    shape_xyz = np.ceil((high - low) / spacing_mm).astype(int) + 1
    origin = np.asarray(ct.origin_mm) + ct.direction @ low
    return Volume(
        np.zeros(shape_xyz[::-1], np.float32),
        (spacing_mm,) * 3,
        tuple(origin),
        ct.direction,
        modality=ct.modality,
    )


def check_overlap(mri: Volume, ct: Volume, centerline: Centerline, name: str = "MRI") -> None:
    """Raise :class:`InputError` when an MRI given without a transform misses the vessel."""
    pts, _ = centerline.dense(0.5)
    idx = mri.physical_to_index(pts)
    inside = np.all((idx >= -0.5) & (idx <= np.asarray(mri.shape) - 0.5), axis=1)
    if inside.mean() < 0.999:
        raise InputError(
            f"without a transform the {name} must lie in the CT's physical space along the "
            f"whole centreline, and only {inside.mean():.0%} of the centreline is inside it",
            f"register the {name} onto the CT (CT fixed, {name} moving) and give that "
            "transform (the intracranial widget's 'MRI onto CT registration', or "
            "--transform T.tfm on the command line), or use an MRI that covers the centreline",
        )


def run_intracranial(
    ct: Volume,
    centerline_mm,
    mri: Volume | None = None,
    mri_post: Volume | None = None,
    transform=None,
    post_transform=None,
    reference_mm: float | None = None,
    refine_centerline: bool = False,
    smooth_centerline: bool = True,
    threshold_hu: float = 130.0,
    region_radius_mm: float = 4.5,
    step_mm: float = 0.25,
    n_angles: int = 360,
    segments: Mapping[str, tuple[float, float]] | None = None,
    artery: str = "artery",
    score_settings: Mapping | None = None,
    grade_settings: Mapping | None = None,
    wall_settings: Mapping | None = None,
    plaque_settings: Mapping | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> dict:
    """Calcification along a vessel on CT, with vessel-wall MRI plaque metrics if given.

    Parameters
    ----------
    ct : non-contrast CT Volume in HU.
    centerline_mm : (N, 3) LPS points (mm), proximal first.
    mri, mri_post : black-blood vessel-wall MRI, pre- and post-contrast (optional).
    transform, post_transform : ``SimpleITK.Transform`` mapping CT points to MRI
        (resp. post-contrast MRI) points; the MRI is resampled with it into the CT's
        space at its own resolution (:func:`vessel_grid`). Without one the MRI must
        share the CT's physical space.
    reference_mm : reader's reference site (mm along the centreline) for stenosis
        and remodeling; ``None`` picks the proximal normal segment automatically.
    refine_centerline : with an MRI, move the centreline to the lumen centre
        (:func:`~napari_calcium.vessel.wall.refine_centerline`) before measuring.
    smooth_centerline : estimate the vessel axis from the reader's points with a
        smoothing spline (:func:`~napari_calcium.vessel.centerline.smooth_points`)
        rather than interpolating them: arcs, thicknesses and lengths are measured in
        cross-sections about that axis, which strayed clicks would tilt and shift.
    threshold_hu, region_radius_mm, step_mm, n_angles : calcium detection and
        cross-section sampling (see :func:`find_calcifications`,
        :func:`measure_calcifications`).
    segments : artery segments ``name -> (start_mm, end_mm)``; default one segment
        named ``artery`` over the whole centreline.
    score_settings, grade_settings, wall_settings : overrides of the score, overall
        grade (:func:`~napari_calcium.scores.intracranial.overall_grade` keywords)
        and wall-measurement parameters.
    plaque_settings : overrides of
        :func:`~napari_calcium.vessel.plaques.default_plaque_settings` (per-plaque records).
    progress : optional ``callback(stage, fraction)``.

    Returns
    -------
    dict with ``calcifications``, ``segments``, ``plaque`` (values ``None`` and
    class ``unknown`` without MRI), ``plaques`` (one record per plaque,
    :func:`~napari_calcium.vessel.plaques.plaque_records`; empty without MRI),
    ``grade``, ``settings``, and, not JSON, ``labels`` (the label Volume on the CT
    grid) and ``wall`` (:func:`~napari_calcium.vessel.wall.measure_wall` result).
    """
    from napari_calcium.vessel import wall

    def report(stage, fraction):
        log.info("%s (%.0f%%)", stage, 100 * fraction)
        if progress is not None:
            progress(stage, fraction)

    require_volumes(ct=ct, mri=mri, mri_post=mri_post)
    centerline = Centerline(smooth_points(centerline_mm) if smooth_centerline else centerline_mm)
    check_inside(ct, centerline, "CT")
    if reference_mm is not None and not 0.0 <= reference_mm <= centerline.length_mm:
        raise InputError(
            f"the reference position {reference_mm} mm is outside the centreline "
            f"(0 to {centerline.length_mm:.1f} mm)",
            "give --reference-mm as a distance along the centreline from its first point",
        )
    wall_cfg = dict(wall_settings or {})
    wall_all = {**wall.default_wall_settings(), **wall_cfg}
    margin_mm = 2 * wall_all["max_radius_mm"]  # MRI kept out to twice the contour search
    mri_on_ct = post_on_ct = None
    warnings: list[str] = []
    if mri is not None:  # check the MRI before the long work
        if (text := wall.resolution_warning(mri, wall_all["max_in_plane_voxel_mm"])) is not None:
            log.warning(text)
            warnings.append(text)
        report("resampling the MRI into the CT's space", 0.02)
        mri_on_ct = _mri_on_ct(mri, ct, centerline, transform, "MRI", margin_mm)
        if mri_post is not None:
            post_on_ct = _mri_on_ct(
                mri_post,
                ct,
                centerline,
                post_transform or transform,
                "post-contrast MRI",
                margin_mm,
            )
    if refine_centerline and mri_on_ct is not None:
        report("refining the centreline to the lumen centre", 0.04)
        centerline = wall.refine_centerline(mri_on_ct, centerline, **wall_cfg)
    report("finding calcifications", 0.05)
    labels, _ = find_calcifications(ct, centerline, threshold_hu, region_radius_mm)
    report("measuring calcifications", 0.25)
    calcs = measure_calcifications(
        ct,
        labels,
        centerline,
        region_radius_mm,
        step_mm,
        n_angles,
        score_settings=score_settings,
        threshold_hu=threshold_hu,
    )
    cfg = scores.default_settings()
    cfg.update(score_settings or {})
    segments = dict(segments or {artery: (0.0, centerline.length_mm)})
    seg = segment_grades(calcs, segments, cfg)

    plaque = wall_result = None
    if mri is not None:
        report("vessel-wall MRI", 0.55)
        wall_result = wall.measure_wall(
            mri_on_ct,
            centerline,
            step_mm=step_mm,
            post=post_on_ct,
            ct=ct,
            threshold_hu=threshold_hu,
            **wall_cfg,
        )
        report("plaque summary", 0.85)
        plaque = wall.summarise_plaque(
            wall_result["table"],
            reference_mm=reference_mm,
            remodeling_positive_min=cfg["remodeling_positive_min"],
            remodeling_negative_max=cfg["remodeling_negative_max"],
            calcified_min_fraction=cfg["calcified_plaque_min_fraction"],
            eccentric_min_index=cfg["eccentric_min_index"],
            **wall.plaque_settings(wall_cfg),
        )
    if plaque is None:
        plaque = dict.fromkeys(PLAQUE_KEYS) | {"class": "unknown"}
        plaques = []
    else:
        plaques = plaque_records(
            wall_result["table"], plaque, calcs, segments, cfg, wall_cfg, plaque_settings
        )
    grade_cfg = dict(grade_settings or {})
    grade = scores.overall_grade(calcs, plaque["stenosis_pct"], **grade_cfg)
    if grade["severe_if_narrowed"]:
        text = (
            "extensive calcification graded moderate: severe needs vessel narrowing, which "
            "CT alone does not measure; add the vessel-wall MRI (or read the narrowing) "
            "before calling it severe"
        )
        log.warning(text)
        warnings.append(text)
    report("done", 1.0)
    settings = {
        "threshold_hu": threshold_hu,
        "threshold_inclusive": True,
        "region_radius_mm": region_radius_mm,
        "cross_section_step_mm": step_mm,
        "n_angles": n_angles,
        "connectivity": "3-D, 26-neighbour",
        "calcium_excess": "CT minus the background (median of the vessel region below the "
        "threshold), over the component and its one-voxel partial-volume rim",
        "thickness": "75th percentile over calcified rays of the excess integrated along the "
        "ray / the component's peak excess; exact for a uniform calcification the voxels "
        "resolve, an upper bound for one thinner than a voxel (resolution_limit_mm)",
        "arc": "rays with excess integral >= half the largest within one voxel around, "
        "largest angle in one cross-section",
        "length": "full width at half maximum of the calcium area per cross-section "
        "(excess / peak excess) along the centreline",
        "continuity": "cross-sections holding the component over that length; area CV "
        "over it less half a voxel at each end",
        "lumen_centre": "centreline point of each cross-section",
        "centerline_smoothing": (
            "GCV smoothing spline through the reader's points (5 or more points)"
            if smooth_centerline
            else "interpolating spline through the reader's points"
        ),
        "segments": {k: list(v) for k, v in segments.items()},
        "centerline_direction": "first point proximal",
        "centerline_refined_to_lumen": bool(refine_centerline and mri is not None),
        "radiomics": {"settings": EXTRACTOR_SETTINGS, "features": RADIOMICS_FEATURES},
        "scores": cfg,
        "grade": {**_grade_defaults(), **grade_cfg},
        "wall": wall_all,
        "plaques": {**default_plaque_settings(), **(plaque_settings or {})},
        "wall_cross_sections": (
            None if wall_result is None else wall_result["sections"].geometry_dict()
        ),
        "mri_registration": (
            None
            if mri is None
            else ("transform (CT -> MRI), linear resampling")
            if transform is not None
            else "none: MRI in the CT's physical space, linear resampling"
        ),
        "mri_grid": (
            None
            if mri_on_ct is None
            else f"isotropic {mri_on_ct.spacing_mm[0]:g} mm (the MRI's finest voxel) with "
            f"the CT's axes, {margin_mm:g} mm around the centreline"
        ),
        "ct": ct.geometry_dict(),
    }
    return {
        "calcifications": calcs,
        "segments": seg,
        "plaque": plaque,
        "plaques": plaques,
        "grade": grade,
        "labels": labels,
        "wall": wall_result,
        "artery": artery,
        "centerline_length_mm": centerline.length_mm,
        "centerline_mm": centerline.points_mm.tolist(),
        "settings": settings,
        "warnings": warnings,
    }


def _grade_defaults() -> dict:
    import inspect

    sig = inspect.signature(scores.overall_grade)
    return {
        k: p.default
        for k, p in sig.parameters.items()
        if p.default is not inspect.Parameter.empty and k != "stenosis_pct"
    }


def _mri_on_ct(
    mri: Volume, ct: Volume, centerline: Centerline, transform, name: str, margin_mm: float
) -> Volume:
    """The MRI resampled into the CT's physical space at its own finest voxel size."""
    if transform is None:
        check_overlap(mri, ct, centerline, name)
    grid = vessel_grid(ct, centerline, min(mri.spacing_mm), margin_mm)
    resampled = resample_onto(mri, grid, transform)
    values = np.asarray(resampled.array)
    idx = resampled.physical_to_index(centerline.dense(0.5)[0])
    along = ndimage.map_coordinates(np.nan_to_num(values, nan=np.inf), idx.T, order=0)
    if not np.all(np.isfinite(along)):
        raise InputError(
            f"after applying the transform the {name} does not cover the centreline",
            "check that the transform maps CT points to MRI points (fixed = CT, moving = MRI)",
        )
    return resampled


def read_centerline_csv(path) -> np.ndarray:
    """Centreline points (N, 3) from a CSV of LPS ``x, y, z`` in mm (header optional).

    A header row naming the columns (``x``, ``y``, ``z``, optionally with ``_mm``) is
    used when present; otherwise the first three columns are taken.
    """
    import csv
    from pathlib import Path

    path = Path(path)
    if not path.is_file():
        raise InputError(f"centreline file {path} does not exist")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.reader(handle) if r and any(c.strip() for c in r)]
    if not rows:
        raise InputError(f"centreline file {path} is empty", "one x, y, z point (mm) per row")
    columns = [0, 1, 2]
    header = [c.strip().lower().removesuffix("_mm") for c in rows[0]]
    if {"x", "y", "z"} <= set(header):
        columns = [header.index(k) for k in ("x", "y", "z")]
        rows = rows[1:]
    try:
        points = np.array([[float(r[i]) for i in columns] for r in rows], dtype=float)
    except (ValueError, IndexError) as err:
        raise InputError(
            f"centreline file {path} is not a table of numbers ({err})",
            "write one point per row as x, y, z in LPS millimetres, with an optional header x,y,z",
        ) from err
    return points.reshape(-1, 3)


def calcification_table(result: dict):
    """The per-calcification rows of a :func:`run_intracranial` result as a DataFrame."""
    import pandas as pd

    rows = [{k: c[k] for k in CALCIFICATION_COLUMNS} for c in result["calcifications"]]
    table = pd.DataFrame(rows, columns=list(CALCIFICATION_COLUMNS))
    table["pattern_class"] = table["pattern"]
    table["grade"] = result["grade"]["grade"]
    table["plaque_class"] = result["plaque"]["class"]
    return table


def result_json(result: dict) -> dict:
    """The JSON-able part of a :func:`run_intracranial` result."""
    keys = (
        "artery",
        "calcifications",
        "segments",
        "plaque",
        "plaques",
        "grade",
        "centerline_length_mm",
        "centerline_mm",
        "settings",
        "warnings",
    )
    out = {k: result[k] for k in keys}
    # the per-cross-section wall metrics, for reader agreement and re-analysis
    out["wall_sections"] = [] if result["wall"] is None else result["wall"]["table"]
    return out
