"""Lumen and outer-wall contours on vessel-wall MRI cross-sections, and wall metrics.

Contours are found semi-automatically in each cross-section perpendicular to the
centreline (:mod:`napari_calcium.vessel.centerline`): intensity profiles along
rays from the centre are searched by polar dynamic programming for a closed,
smooth path along the strongest dark-to-bright edge (black-blood lumen to bright
wall), then along the strongest bright-to-dark edge outside it (wall to
surrounding tissue); each ray's edge radius is then measured with partial volume
taken into account (the lumen or wall fraction of every sample, integrated along
the ray). The rays are re-centred once on the lumen centroid, so an
eccentric lumen is followed. Contours are ``(n, 2)`` arrays of in-plane ``(u, v)``
mm and can be edited; :func:`wall_table` recomputes everything from them.

Metrics per cross-section follow CLINICAL_RULES 4: lumen area (LA), outer wall
area (OWA), wall area (WA = OWA - LA), normalised wall index (NWI = WA / OWA),
plaque burden (WA / OWA x 100), max/min wall thickness (distance from each
outer-wall point to the lumen contour) and the eccentricity index.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from napari_calcium.errors import InputError
from napari_calcium.scores import intracranial as scores
from napari_calcium.vessel.centerline import (
    Centerline,
    CrossSections,
    check_inside,
    cross_sections,
    sample_physical,
)
from napari_calcium.volume import Volume

#: Largest in-plane voxel (mm) of a vessel-wall MRI whose wall metrics are trusted.
MAX_IN_PLANE_VOXEL_MM = 0.7
RESOLUTION_SOURCE = (
    "3-D intracranial vessel-wall MRI at 3 T is acquired with isotropic voxels of "
    "0.4-0.7 mm (the range of the ASNR Vessel Wall Imaging Study Group consensus, Mandell "
    "et al., AJNR 2017;38:218-229, PMC7963837, as summarised in the Radiopaedia 'MR vessel "
    "wall imaging' article); the threshold is the upper end of that range [R: the "
    "consensus text itself could not be read here], so the vertebrobasilar study's "
    "0.7 x 0.7 x 1.1 mm acquisition passes"
)


def default_wall_settings() -> dict:
    """Contour-detection and plaque-summary parameters with their defaults."""
    return {
        "n_angles": 180,
        "max_radius_mm": 5.0,
        "max_step_mm": 0.15,
        "min_wall_mm": 0.25,
        "edge_window_mm": 0.6,
        "recentre": True,
        # calcium on a registered CT is wall: MRI shows calcification as signal void
        "ct_calcium_as_wall": True,
        # see RESOLUTION_SOURCE: coarser in-plane voxels get a warning with the results
        "max_in_plane_voxel_mm": MAX_IN_PLANE_VOXEL_MM,
        "resolution_source": RESOLUTION_SOURCE,
        "end_margin_mm": 1.0,
        "reference_min_distance_mm": 2.0,
        "reference_nwi_tolerance": 0.02,
        "plaque_nwi_margin": 0.1,
        "enhancement_normalisation": "post/pre of the plaque wall divided by post/pre "
        "of the normal wall at the reference site",
        "wall_signal": "mean over the middle half of the wall thickness",
        "lumen_diameter": "WASID (Samuels et al., AJNR 2000) on measured diameters: the "
        "minimum caliper lumen diameter at the narrowest site (D_stenosis) and at the "
        "reference site (D_normal); the figure from area-equivalent diameters "
        "2 sqrt(LA / pi) is stenosis_area_based_pct",
        "plaque_calcified_fraction": "largest over the plaque's cross-sections of the "
        "wall area with CT >= threshold / wall area",
    }


# ------------------------------------------------------------------ contours
def _dp_closed_path(cost: np.ndarray, max_jump: int) -> np.ndarray:
    """Minimum-cost radius index per angle, moving at most ``max_jump`` per angle.

    Half the angles are repeated before and after, and the middle copy kept, so the
    path closes on itself.
    """
    a, r = cost.shape
    h = a // 2
    c = np.concatenate([cost[h:], cost, cost[:h]])
    back = np.zeros(c.shape, dtype=np.int64)
    window = np.arange(r)[:, None] + np.arange(2 * max_jump + 1)[None, :]
    rows = np.arange(r)
    padded = np.full(r + 2 * max_jump, np.inf)
    padded[max_jump : max_jump + r] = c[0]
    for i in range(1, len(c)):
        candidates = padded[window]
        best = candidates.argmin(axis=1)
        back[i] = rows + best - max_jump
        padded[max_jump : max_jump + r] = candidates[rows, best] + c[i]
    acc = padded[max_jump : max_jump + r]
    path = np.empty(len(c), dtype=np.int64)
    path[-1] = int(np.argmin(acc))
    for i in range(len(c) - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return path[a - h : 2 * a - h]


def _profiles(mri, sections, frame, angles, radii, center, ct=None, threshold_hu=130.0):
    """MRI intensity along each ray; with a CT, calcium samples read as bright wall.

    Calcification is dark on MRI (no signal), so a calcified wall looks like lumen or
    CSF there. On rays whose CT reaches ``threshold_hu``, the samples above half the
    ray's peak over its median (the calcium's extent, not the wider partial-volume
    blur of a coarse CT) are given the 95th percentile of the cross-section, a
    wall-like brightness.
    """
    points = sections.polar_points(frame, angles, radii, center)
    prof = sample_physical(mri, points, order=1)
    if np.isnan(prof).any():
        prof = np.where(np.isnan(prof), np.nanmean(prof), prof)
    if ct is not None:
        hu = sample_physical(ct, points, order=1, cval=-1000.0)
        peak, base = hu.max(axis=1, keepdims=True), np.median(hu, axis=1, keepdims=True)
        half = np.maximum(base + 0.5 * (peak - base), threshold_hu)
        calcium = (peak >= threshold_hu) & (hu >= half)
        if calcium.any():
            prof = np.where(calcium, np.percentile(prof[~calcium], 95), prof)
    return prof


def _edges_from_profiles(prof, radii, dr, lumen_idx, outer_idx, window):
    """Partial-volume radii of the lumen and outer-wall edges along each ray.

    The lumen fraction of each sample, ``(wall - I) / (wall - lumen)`` clipped to
    [0, 1], is integrated from the centre to mid-wall: ``r^2 = 2 * integral(f r dr)``
    is the radius whose disc sector holds the same lumen area. The outer edge is
    found likewise from the wall fraction ``(I - tissue) / (wall - tissue)``
    between mid-wall and ``2 * window`` beyond the path. Levels are the ray's own:
    darkest lumen sample, brightest wall sample, median tissue beyond the wall.
    """
    n = len(radii)
    idx = np.arange(n)[None, :]
    li, oi = lumen_idx[:, None], outer_idx[:, None]
    mid = (li + oi) // 2
    inner = np.where(idx < np.maximum(li, 1), prof, np.inf).min(axis=1)
    wall = np.where((idx >= li) & (idx <= oi), prof, -np.inf).max(axis=1)
    beyond = (idx >= oi + window // 2) & (idx <= oi + 2 * window)
    beyond[~beyond.any(axis=1), -1] = True  # rays whose wall reaches the end: last sample
    outside = np.nanmedian(np.where(beyond, prof, np.nan), axis=1)
    f = np.clip((wall[:, None] - prof) / np.maximum(wall - inner, 1e-9)[:, None], 0, 1)
    f = np.where(idx < mid, f, 0.0)
    lumen_r = np.sqrt(2.0 * (f * radii[None, :]).sum(axis=1) * dr)
    g = np.clip((prof - outside[:, None]) / np.maximum(wall - outside, 1e-9)[:, None], 0, 1)
    g = np.where((idx >= mid) & (idx <= oi + 2 * window), g, 0.0)
    outer_r = np.sqrt((mid[:, 0] * dr) ** 2 + 2.0 * (g * radii[None, :]).sum(axis=1) * dr)
    return lumen_r, outer_r


def detect_contours(
    mri: Volume,
    sections: CrossSections,
    frame: int,
    n_angles: int = 180,
    max_radius_mm: float = 5.0,
    max_step_mm: float = 0.15,
    min_wall_mm: float = 0.25,
    edge_window_mm: float = 0.6,
    recentre: bool = True,
    ct: Volume | None = None,
    threshold_hu: float = 130.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Lumen and outer-wall contours of one cross-section of black-blood MRI.

    Parameters
    ----------
    mri : vessel-wall MRI Volume (dark lumen, bright wall).
    sections : cross-section geometry; ``frame`` is the plane to search.
    n_angles : rays per cross-section.
    max_radius_mm : ray length.
    max_step_mm : largest change of a path's radius between neighbouring rays.
    min_wall_mm : the outer-wall path lies at least this far outside the lumen path.
    edge_window_mm : how far beyond the outer-wall path the tissue level is read.
    recentre : search again from the lumen centroid found in the first pass.
    ct, threshold_hu : CT in the same physical space; its calcium (>= threshold) is
        taken as wall, which MRI alone cannot see.

    Returns
    -------
    lumen_uv, outer_uv : ``(n_angles, 2)`` in-plane ``(u, v)`` mm.
    """
    dr = min(mri.spacing_mm) / 6.0
    radii = (np.arange(int(np.ceil(max_radius_mm / dr))) + 0.5) * dr
    angles = np.arange(n_angles) * 2 * np.pi / n_angles
    jump = max(1, int(round(max_step_mm / dr)))
    window = max(2, int(round(edge_window_mm / dr)))
    min_wall = max(1, int(round(min_wall_mm / dr)))
    r_idx = np.arange(len(radii))[None, :]
    center = np.zeros(2)
    for _ in range(2 if recentre else 1):
        prof = _profiles(mri, sections, frame, angles, radii, center, ct, threshold_hu)
        grad = np.gradient(prof, dr, axis=1)
        scale = np.abs(grad).max() or 1.0
        cost = -grad / scale
        cost[:, :2] = np.inf
        lumen_idx = _dp_closed_path(cost, jump)
        outer_cost = grad / scale
        outer_cost[r_idx < (lumen_idx[:, None] + min_wall)] = np.inf
        outer_idx = _dp_closed_path(outer_cost, jump)
        lumen_r, outer_r = _edges_from_profiles(prof, radii, dr, lumen_idx, outer_idx, window)
        directions = np.column_stack([np.cos(angles), np.sin(angles)])
        lumen_uv = center + lumen_r[:, None] * directions
        outer_uv = center + outer_r[:, None] * directions
        new_center = polygon_centroid(lumen_uv)
        if np.allclose(new_center, center, atol=dr / 2):
            break
        center = new_center
    return lumen_uv, outer_uv


# ------------------------------------------------------------------- metrics
def polygon_area(uv: np.ndarray) -> float:
    """Area (mm²) of a closed polygon ``(n, 2)`` (shoelace)."""
    u, v = uv[:, 0], uv[:, 1]
    return float(0.5 * abs(np.dot(u, np.roll(v, -1)) - np.dot(v, np.roll(u, -1))))


def polygon_centroid(uv: np.ndarray) -> np.ndarray:
    """Area centroid ``(u, v)`` of a closed polygon."""
    u, v = uv[:, 0], uv[:, 1]
    un, vn = np.roll(u, -1), np.roll(v, -1)
    cross = u * vn - un * v
    a = cross.sum() / 2
    if abs(a) < 1e-12:
        return uv.mean(axis=0)
    return np.array([((u + un) * cross).sum(), ((v + vn) * cross).sum()]) / (6 * a)


def distance_to_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Shortest distance from each point ``(m, 2)`` to a closed polygon's edges ``(n, 2)``."""
    a = polygon
    b = np.roll(polygon, -1, axis=0)
    ab = b - a
    ap = points[:, None, :] - a[None, :, :]
    t = np.clip(np.einsum("mnk,nk->mn", ap, ab) / np.maximum((ab**2).sum(1), 1e-18), 0, 1)
    closest = a[None] + t[..., None] * ab[None]
    return np.linalg.norm(points[:, None, :] - closest, axis=2).min(axis=1)


def contour_metrics(lumen_uv: np.ndarray, outer_uv: np.ndarray) -> dict:
    """Wall metrics of one cross-section from its lumen and outer-wall contours (mm).

    Wall thickness at an outer-wall point is its shortest distance to the lumen
    contour; the max and min over the outer wall give ``max_wall_thickness_mm``
    and ``min_wall_thickness_mm`` (CLINICAL_RULES 4).
    """
    la = polygon_area(lumen_uv)
    owa = polygon_area(outer_uv)
    wt = distance_to_polygon(outer_uv, lumen_uv)
    wmax, wmin = float(wt.max()), float(wt.min())
    wa = owa - la
    return {
        "lumen_area_mm2": la,
        "outer_wall_area_mm2": owa,
        "wall_area_mm2": wa,
        "normalized_wall_index": wa / owa if owa > 0 else float("nan"),
        "plaque_burden_pct": 100.0 * wa / owa if owa > 0 else float("nan"),
        "max_wall_thickness_mm": wmax,
        "min_wall_thickness_mm": wmin,
        "eccentricity_index": scores.eccentricity_index(wmax, wmin),
        "lumen_diameter_mm": 2.0 * np.sqrt(la / np.pi),
        **caliper_diameters(lumen_uv),
    }


def caliper_diameters(polygon_uv: np.ndarray) -> dict:
    """Measured lumen diameters (mm) of a closed contour ``(n, 2)``.

    ``lumen_min_diameter_mm``: the minimum caliper (Feret) width, the narrowest
    diameter a projection through the cross-section shows — exact by rotating
    calipers: the smallest, over the convex hull's edges, of the largest distance of a
    hull vertex from that edge's line. ``lumen_mean_diameter_mm``: the caliper width
    averaged over all directions, the hull perimeter / pi (Cauchy's formula); for a
    circle both are its diameter. WASID measures diameters (Samuels et al., AJNR
    2000;21:643-646); the hull comes from ``scipy.spatial.ConvexHull``.
    """
    from scipy.spatial import ConvexHull, QhullError

    try:
        hull = polygon_uv[ConvexHull(polygon_uv).vertices]
    except (QhullError, ValueError):
        return {"lumen_min_diameter_mm": 0.0, "lumen_mean_diameter_mm": 0.0}
    edges = np.roll(hull, -1, axis=0) - hull
    lengths = np.linalg.norm(edges, axis=1)
    normals = np.stack([-edges[:, 1], edges[:, 0]], axis=1) / lengths[:, None]
    heights = np.abs((hull[None, :, :] - hull[:, None, :]) @ normals[..., None])[..., 0]
    width = heights.max(axis=1)
    return {
        "lumen_min_diameter_mm": float(width.min()),
        "lumen_mean_diameter_mm": float(lengths.sum() / np.pi),
    }


def _wall_samples(sections, frame, lumen_uv, outer_uv, inner_fraction, outer_fraction, n=8):
    """LPS points across the wall on rays from the lumen centroid, and their area weights."""
    center = polygon_centroid(lumen_uv)
    lv, ov = lumen_uv - center, outer_uv - center
    lr = np.linalg.norm(lv, axis=1)
    angles = np.arctan2(lv[:, 1], lv[:, 0])
    # outer radius along the same directions, from the outer contour's polar form
    oa = np.arctan2(ov[:, 1], ov[:, 0])
    order = np.argsort(oa)
    orad = np.interp(angles, oa[order], np.linalg.norm(ov, axis=1)[order], period=2 * np.pi)
    t = inner_fraction + (outer_fraction - inner_fraction) * (np.arange(n) + 0.5) / n
    radii = lr[:, None] + t[None, :] * (orad - lr)[:, None]
    u = center[0] + radii * np.cos(angles)[:, None]
    v = center[1] + radii * np.sin(angles)[:, None]
    return sections.plane_points(frame, u, v), radii


def wall_table(
    sections: CrossSections,
    lumen: list[np.ndarray],
    outer: list[np.ndarray],
    mri: Volume | None = None,
    post: Volume | None = None,
    ct: Volume | None = None,
    threshold_hu: float = 130.0,
) -> list[dict]:
    """Per cross-section metrics from (possibly edited) contours.

    Adds ``arc_mm`` and ``frame``; with ``mri``/``post`` the mean wall signal over
    the middle half of the wall (``wall_si``, ``wall_si_post``); with ``ct`` the
    fraction of the wall area whose CT voxel is at or above ``threshold_hu``
    (``calcified_fraction``, nearest voxel).
    """
    rows = []
    for f in range(sections.n_frames):
        row = {"frame": f, "arc_mm": float(sections.arc_mm[f])}
        row.update(contour_metrics(lumen[f], outer[f]))
        for key, vol in (("wall_si", mri), ("wall_si_post", post)):
            if vol is not None:
                pts, _ = _wall_samples(sections, f, lumen[f], outer[f], 0.25, 0.75)
                row[key] = float(np.nanmean(sample_physical(vol, pts, order=1)))
        if ct is not None:
            pts, radii = _wall_samples(sections, f, lumen[f], outer[f], 0.0, 1.0, n=16)
            hu = sample_physical(ct, pts, order=0, cval=-1000.0)
            row["calcified_fraction"] = float(((hu >= threshold_hu) * radii).sum() / radii.sum())
        rows.append(row)
    return rows


def measure_wall(
    mri: Volume,
    centerline: Centerline,
    step_mm: float = 0.25,
    post: Volume | None = None,
    ct: Volume | None = None,
    threshold_hu: float = 130.0,
    **settings,
) -> dict:
    """Detect contours in every cross-section and tabulate the wall metrics.

    Parameters
    ----------
    mri : black-blood vessel-wall MRI (already on the CT grid when combined).
    centerline : the vessel centreline; ``step_mm`` between cross-sections.
    post : post-contrast MRI in the same physical space (enhancement).
    ct : CT in the same physical space (calcified fraction of the plaque).
    settings : overrides of :func:`default_wall_settings` (detection keys).

    Returns
    -------
    dict with ``sections`` (:class:`CrossSections`), ``lumen_uv`` and ``outer_uv``
    (one ``(n, 2)`` contour per cross-section), ``table`` (:func:`wall_table`) and
    ``volumes`` (the inputs, to recompute the table from edited contours).
    """
    cfg = default_wall_settings()
    cfg.update(settings)
    check_inside(mri, centerline, "MRI")
    fov = 2 * cfg["max_radius_mm"]
    sections = cross_sections(centerline, step_mm, fov, min(mri.spacing_mm) / 2)
    lumen, outer = [], []
    for f in range(sections.n_frames):
        lu, ou = detect_contours(
            mri,
            sections,
            f,
            ct=ct if cfg["ct_calcium_as_wall"] else None,
            threshold_hu=threshold_hu,
            **_contour_options(cfg),
        )
        lumen.append(lu)
        outer.append(ou)
    table = wall_table(sections, lumen, outer, mri, post, ct, threshold_hu)
    return {
        "sections": sections,
        "lumen_uv": lumen,
        "outer_uv": outer,
        "table": table,
        "volumes": {"mri": mri, "post": post, "ct": ct, "threshold_hu": threshold_hu},
    }


def resolution_warning(mri: Volume, max_in_plane_voxel_mm: float) -> str | None:
    """Why the wall metrics of ``mri`` are unreliable, or None when its voxels are fine.

    The in-plane voxel is taken as the second-smallest spacing (3-D VW-MRI is
    acquired isotropic or with its thickest axis across the slab).
    """
    in_plane_mm = sorted(mri.spacing_mm)[1]
    if in_plane_mm <= max_in_plane_voxel_mm:
        return None
    return (
        f"the MRI's in-plane voxel is {in_plane_mm:.2f} mm, coarser than the "
        f"{max_in_plane_voxel_mm:g} mm of intracranial vessel-wall imaging: a wall about "
        "1 mm thick spans one or two voxels, so lumen and wall areas, wall thickness, "
        "stenosis and remodeling are unreliable — measure on a dedicated vessel-wall "
        "acquisition, or check and edit the contours"
    )


def _contour_options(cfg: dict, **override) -> dict:
    """The :func:`detect_contours` keywords out of the wall settings."""
    names = (
        "n_angles",
        "max_radius_mm",
        "max_step_mm",
        "min_wall_mm",
        "edge_window_mm",
        "recentre",
    )
    return {**{name: cfg[name] for name in names}, **override}


def refine_centerline(
    mri: Volume, centerline: Centerline, step_mm: float = 1.0, **settings
) -> Centerline:
    """The centreline moved to the lumen centre (centroid of the lumen contour).

    Cross-sections every ``step_mm`` along the reader's centreline are searched as
    in :func:`detect_contours` (``settings`` override :func:`default_wall_settings`);
    the new centreline passes through the lumen centroids, proximal first.
    """
    cfg = default_wall_settings()
    cfg.update(settings)
    check_inside(mri, centerline, "MRI")
    sections = cross_sections(centerline, step_mm, 2 * cfg["max_radius_mm"], min(mri.spacing_mm))
    points = []
    for f in range(sections.n_frames):
        lumen_uv, _ = detect_contours(mri, sections, f, **_contour_options(cfg, recentre=True))
        u, v = polygon_centroid(lumen_uv)
        points.append(sections.plane_points(f, u, v))
    return Centerline(np.array(points))


# ------------------------------------------------------------------- summary
def summarise_plaque(
    table: list[dict],
    reference_mm: float | None = None,
    end_margin_mm: float = 1.0,
    reference_min_distance_mm: float = 2.0,
    reference_nwi_tolerance: float = 0.02,
    plaque_nwi_margin: float = 0.1,
    remodeling_positive_min: float = 1.05,
    remodeling_negative_max: float = 0.95,
    calcified_min_fraction: float = 0.5,
    eccentric_min_index: float = 0.5,
) -> dict:
    """Plaque metrics at the site of maximal lumen narrowing against a reference site.

    * narrowest site: smallest lumen area, ignoring ``end_margin_mm`` at both ends;
    * reference: the reader's ``reference_mm`` (nearest cross-section), else the
      proximal normal segment chosen automatically — among calcium-free (on CT, when
      given) cross-sections at least ``reference_min_distance_mm`` proximal to the
      narrowest site, those whose NWI is within ``reference_nwi_tolerance`` of the
      lowest, the one nearest the lesion (the distal side when there is no proximal
      segment); the choice is recorded in ``reference_choice``;
    * stenosis (WASID, Samuels et al., AJNR 2000): (1 - D_stenosis / D_normal) x 100
      on measured diameters — the minimum caliper lumen diameter
      (:func:`caliper_diameters`) at the narrowest site (D_stenosis) and at the
      reference site (D_normal), the same measurement at both as WASID measures both
      on one image; the figure from area-equivalent diameters is kept as
      ``stenosis_area_based_pct``; remodeling index = OWA at
      the narrowest site / reference OWA and its class, plaque length = extent of
      the contiguous cross-sections around the narrowest site whose NWI exceeds the
      reference NWI by ``plaque_nwi_margin``;
    * enhancement ratio (when ``wall_si_post`` is present): (plaque post/pre) /
      (reference-wall post/pre) at the narrowest site;
    * plaque class from the largest calcified fraction of the wall over the plaque
      (when ``calcified_fraction`` is present), CLINICAL_RULES 0b.
    """
    if not table:
        raise InputError("no cross-sections to summarise", "draw a longer centreline")
    arc = np.array([r["arc_mm"] for r in table])
    la = np.array([r["lumen_area_mm2"] for r in table])
    nwi = np.array([r["normalized_wall_index"] for r in table])
    length = arc[-1]
    inner = (arc >= arc[0] + end_margin_mm) & (arc <= length - end_margin_mm)
    if not inner.any():
        inner[:] = True
    mln = int(np.flatnonzero(inner)[np.argmin(la[inner])])
    if reference_mm is not None:
        if not (arc[0] - 1e-6 <= reference_mm <= length + 1e-6):
            raise InputError(
                f"the reference position {reference_mm} mm is outside the centreline "
                f"(0 to {length:.1f} mm)",
                "give --reference-mm as a distance along the centreline from its first point",
            )
        ref = int(np.argmin(np.abs(arc - reference_mm)))
        choice = f"reader: {reference_mm} mm along the centreline"
    else:
        calcified = np.array([(r.get("calcified_fraction") or 0.0) > 0 for r in table])
        ref, choice = _auto_reference(
            arc, nwi, inner, calcified, mln, reference_min_distance_mm, reference_nwi_tolerance
        )
    thickened = nwi >= nwi[ref] + plaque_nwi_margin
    extent = None
    if thickened[mln]:
        lo = hi = mln
        while lo > 0 and thickened[lo - 1]:
            lo -= 1
        while hi < len(table) - 1 and thickened[hi + 1]:
            hi += 1
        extent = (lo, hi)
    return site_summary(
        table,
        mln,
        ref,
        choice,
        extent,
        remodeling_positive_min,
        remodeling_negative_max,
        calcified_min_fraction,
        eccentric_min_index,
    )


def site_summary(
    table: list[dict],
    site: int,
    ref: int,
    choice: str,
    extent: tuple[int, int] | None = None,
    remodeling_positive_min: float = 1.05,
    remodeling_negative_max: float = 0.95,
    calcified_min_fraction: float = 0.5,
    eccentric_min_index: float = 0.5,
) -> dict:
    """Plaque metrics at cross-section ``site`` against reference cross-section ``ref``.

    The measurements of :func:`summarise_plaque` (see there) for a given site,
    reference (``choice`` says how it was chosen) and plaque ``extent`` (first and
    last cross-section; ``None``: the site's wall is not thickened, length 0 and the
    calcified fraction of the site alone).
    """
    arc = np.array([row["arc_mm"] for row in table])
    m, r = table[site], table[ref]
    stenosis = scores.wasid_stenosis_pct(m["lumen_min_diameter_mm"], r["lumen_min_diameter_mm"])
    stenosis_area = scores.wasid_stenosis_pct(m["lumen_diameter_mm"], r["lumen_diameter_mm"])
    ri = m["outer_wall_area_mm2"] / r["outer_wall_area_mm2"]
    lo, hi = extent if extent is not None else (site, site)
    step = arc[1] - arc[0] if len(arc) > 1 else 0.0
    plaque_length = (hi - lo + 1) * step if extent is not None else 0.0
    enhancement = None
    if "wall_si_post" in m and m.get("wall_si"):
        enhancement = (m["wall_si_post"] / m["wall_si"]) / (r["wall_si_post"] / r["wall_si"])
    calcified_fraction = None
    if "calcified_fraction" in m:
        calcified_fraction = float(max(t["calcified_fraction"] for t in table[lo : hi + 1]))
    return {
        "class": scores.plaque_class(calcified_fraction, calcified_min_fraction),
        "calcified_fraction": calcified_fraction,
        "stenosis_pct": stenosis,
        "stenosis_area_based_pct": stenosis_area,
        "remodeling_index": float(ri),
        "remodeling": scores.remodeling_class(
            ri, remodeling_positive_min, remodeling_negative_max
        ),
        "lumen_area_mm2": m["lumen_area_mm2"],
        "outer_wall_area_mm2": m["outer_wall_area_mm2"],
        "wall_area_mm2": m["wall_area_mm2"],
        "normalized_wall_index": m["normalized_wall_index"],
        "max_wall_thickness_mm": m["max_wall_thickness_mm"],
        "min_wall_thickness_mm": m["min_wall_thickness_mm"],
        "eccentricity_index": m["eccentricity_index"],
        "eccentric": scores.is_eccentric(m["eccentricity_index"], eccentric_min_index),
        "plaque_burden_pct": m["plaque_burden_pct"],
        "plaque_length_mm": float(plaque_length),
        "enhancement_ratio": None if enhancement is None else float(enhancement),
        "narrowest_mm": float(arc[site]),
        "narrowest_frame": site,
        "d_stenosis_mm": m["lumen_min_diameter_mm"],
        "d_normal_mm": r["lumen_min_diameter_mm"],
        "d_stenosis_area_equivalent_mm": m["lumen_diameter_mm"],
        "d_normal_area_equivalent_mm": r["lumen_diameter_mm"],
        "reference_mm": float(arc[ref]),
        "reference_frame": ref,
        "reference_choice": choice,
        "reference_lumen_area_mm2": r["lumen_area_mm2"],
        "reference_outer_wall_area_mm2": r["outer_wall_area_mm2"],
    }


def _auto_reference(arc, nwi, inner, calcified, mln, min_distance, tolerance):
    """The WASID reference site: a normal (here also calcium-free on CT) segment.

    Calcium on the CT marks the wall as diseased however the MRI contours look
    (calcification is dark on MRI and can hide the wall); only when every
    cross-section holds some are calcified ones considered.
    """
    free = inner & ~calcified
    if free.any():
        inner = free
    proximal = np.flatnonzero(inner & (arc <= arc[mln] - min_distance))
    side = "proximal"
    if proximal.size == 0:
        proximal = np.flatnonzero(inner & (arc >= arc[mln] + min_distance))
        side = "distal (no proximal segment)"
    if proximal.size == 0:
        raise InputError(
            "no normal segment to use as the stenosis reference: the centreline is too short "
            "around the narrowest site",
            "extend the centreline proximally or give --reference-mm",
        )
    normal = proximal[nwi[proximal] <= nwi[proximal].min() + tolerance]
    ref = int(normal[np.argmin(np.abs(arc[normal] - arc[mln]))])
    return ref, (
        f"automatic: {side} normal segment at {arc[ref]:.2f} mm (lowest normalised wall "
        f"index {nwi[ref]:.2f} within {tolerance}, nearest the lesion"
        f"{', no calcium on CT' if free.any() and calcified.any() else ''})"
    )


def plaque_settings(cfg: Mapping) -> dict:
    """The :func:`summarise_plaque` keywords found in a settings mapping."""
    keys = (
        "end_margin_mm",
        "reference_min_distance_mm",
        "reference_nwi_tolerance",
        "plaque_nwi_margin",
    )
    return {k: cfg[k] for k in keys if k in cfg}
