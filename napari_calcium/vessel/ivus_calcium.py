"""Calcium on IVUS: bright echoes that cast an acoustic shadow, and their arcs and depths.

CLINICAL_RULES 0b / 2.1: calcium is a bright echo (brighter than the tissue) with an
acoustic shadow behind it; dense fibrous tissue is bright too but casts no shadow.
Reverberations (equally spaced replicas behind the leading edge) lie inside the shadow
and are never taken as calcium: only the first bright run on each ray is.
"""

from __future__ import annotations

import numpy as np

from napari_calcium.vessel.borders import box_means
from napari_calcium.vessel.polar import angles_of, circular_runs, ray_directions


def detect_rays(
    polar: np.ndarray,
    lumen_idx: np.ndarray,
    tissue_level: float,
    *,
    bright_factor: float,
    shadow_level: float,
    dark_fraction: float,
    search_before: int,
    search_after: int,
    shadow_skip: int,
    shadow_length: int,
    max_echo: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Leading edge and end (radius indices) of calcium on each ray, ``nan`` where none.

    Parameters
    ----------
    polar : ``(frame, angle, radius)`` intensities (lightly smoothed across angle).
    lumen_idx : ``(frame, angle)`` lumen border radius index; the search runs from
        ``lumen - search_before`` to ``lumen + search_after``.
    tissue_level : reference tissue echo level of the pullback.
    bright_factor : an echo is bright when >= ``bright_factor * tissue_level``.
    shadow_level, dark_fraction : there is a shadow when at least ``dark_fraction`` of
        the ``shadow_length`` samples starting ``shadow_skip`` samples behind the echo
        are darker than ``shadow_level * tissue_level`` (a fraction, not a mean, so that
        reverberation lines inside the shadow do not hide it).
    max_echo : the echo is looked at over ``max_echo`` samples from the first bright
        sample: its leading edge is the first sample >= 3/4 of its peak, and the calcium
        mask ends at the first sample after the peak below half of it.
    """
    n, n_angles, n_radii = polar.shape
    bright_level = bright_factor * tissue_level
    dark = (polar < shadow_level * tissue_level).astype(np.float32)
    behind = box_means(dark, shadow_skip, shadow_length)
    r = np.arange(n_radii)
    fits = (r + shadow_skip + shadow_length) <= n_radii
    lo = (lumen_idx - search_before)[..., None]
    hi = (lumen_idx + search_after)[..., None]
    candidate = (polar >= bright_level) & (behind >= dark_fraction) & fits & (r >= lo) & (r <= hi)
    has = candidate.any(axis=2)
    first = candidate.argmax(axis=2)
    # within the echo, the leading edge is the first sample >= 3/4 of the echo peak and
    # the echo ends at the first sample after the peak below half of it
    offsets = np.arange(max_echo)
    pos = np.clip(first[..., None] + offsets, 0, n_radii - 1)
    echo = np.take_along_axis(polar, pos, axis=2)
    peak_at = echo.argmax(axis=2)
    peak = np.take_along_axis(echo, peak_at[..., None], axis=2)
    edge = first + (echo >= 0.75 * peak).argmax(axis=2)
    dim = (echo < 0.5 * peak) & (offsets > peak_at[..., None])
    end = first + np.where(dim.any(axis=2), dim.argmax(axis=2), max_echo)
    edge_f = np.where(has, edge, np.nan)
    end_f = np.where(has, end, np.nan)
    return edge_f, end_f


def run_arc_deg(
    start: int,
    length: int,
    edge_px: np.ndarray,
    angles_deg: np.ndarray,
    catheter_yx: np.ndarray,
    about_yx: np.ndarray,
) -> float:
    """Arc (deg) of a run of rays seen from ``about_yx`` (e.g. the lumen centroid).

    The run's outer ray edges (half a ray step beyond its first and last rays) are
    placed at the calcium leading edge and their angles measured about ``about_yx``.
    """
    n = angles_deg.size
    if length >= n:
        return 360.0
    step = 360.0 / n
    first, last = start, (start + length - 1) % n
    a0 = angles_deg[first] - step / 2
    a1 = angles_deg[last] + step / 2
    p0 = catheter_yx + edge_px[first] * ray_directions(a0)
    p1 = catheter_yx + edge_px[last] * ray_directions(a1)
    phi0 = angles_of(p0 - about_yx)
    phi1 = angles_of(p1 - about_yx)
    arc = (phi1 - phi0) % 360.0
    # a run narrower than half a turn cannot look wider than one from a nearby point
    if length * step < 180.0 and arc > 270.0:
        arc = 0.0
    return float(arc)


def mask_arc_deg(mask, edge_px, angles_deg, catheter_yx, about_yx) -> float:
    """Total arc (deg, <= 360) of the runs of ``mask`` seen from ``about_yx``."""
    total = sum(
        run_arc_deg(s, m, edge_px, angles_deg, catheter_yx, about_yx)
        for s, m in circular_runs(mask)
    )
    return float(min(total, 360.0))


def nodule_candidate(
    mask: np.ndarray,
    edge_px: np.ndarray,
    lumen_px: np.ndarray,
    px_mm: float,
    min_protrusion_mm: float,
    max_surface_gap_mm: float,
    margin_rays: int = 5,
) -> tuple[bool, float]:
    """Whether a calcium run bulges convexly into the lumen (calcified-nodule candidate).

    For each calcium run narrower than 180 degrees, the lumen border expected without
    the run is the straight interpolation (in polar terms) between the lumen radii
    ``margin_rays`` rays beyond each end. The run is a candidate when its leading edge
    lies on the lumen surface (median gap <= ``max_surface_gap_mm``) and the lumen
    border protrudes inwards by >= ``min_protrusion_mm`` with its deepest point in the
    middle 60 % of the run (a convex bulge, not a step). The reader confirms.

    Returns
    -------
    (candidate, protrusion_mm) : the flag and the largest protrusion found.
    """
    n = mask.size
    best = 0.0
    found = False
    for start, length in circular_runs(mask):
        if length * 360.0 / n >= 180.0 or length < 3:
            continue
        idx = (start + np.arange(length)) % n
        left = lumen_px[(start - margin_rays + np.arange(3)) % n]
        right = lumen_px[(start + length + margin_rays - 3 + np.arange(3)) % n]
        base_l, base_r = np.median(left), np.median(right)
        span = length + 2 * margin_rays - 2
        pos = np.arange(length) + margin_rays - 1
        baseline = base_l + (base_r - base_l) * pos / span
        protrusion = (baseline - lumen_px[idx]) * px_mm
        gap = np.nanmedian(edge_px[idx] - lumen_px[idx]) * px_mm
        peak = int(np.argmax(protrusion))
        central = 0.2 * length <= peak <= 0.8 * length
        best = max(best, float(protrusion.max()))
        if (
            protrusion.max() >= min_protrusion_mm
            and np.isfinite(gap)
            and gap <= max_surface_gap_mm
            and central
        ):
            found = True
    return found, best
