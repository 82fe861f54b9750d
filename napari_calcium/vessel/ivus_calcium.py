"""Calcium on IVUS: bright echoes that cast an acoustic shadow, and their arcs and depths.

CLINICAL_RULES 0b / 2.1: calcium is a bright echo (brighter than the tissue) with an
acoustic shadow behind it; dense fibrous tissue is bright too but casts no shadow, and a
guide wire is a bright point with a narrow shadow (never calcium).
Reverberations (equally spaced replicas behind the leading edge) lie inside the shadow
and are never taken as calcium: only the first bright run on each ray is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from napari_calcium.vessel.polar import angles_of, circular_runs, ray_directions


@dataclass(frozen=True)
class RayEchoes:
    """The bright runs of frame-normalised rays and what lies in front of and behind them.

    Computed once per chunk of frames (:func:`ray_echoes`) and judged by
    :func:`detect_rays` with each pass's thresholds. One entry per bright run (in
    frame, angle, radius order) whose shadow window lies at least half on the ray.
    """

    shape: tuple[int, int, int]  #: (frame, angle, radius) of the rays
    profile: np.ndarray  #: the intensities the echo's extent is measured on
    ray: np.ndarray  #: flat ray index (frame * angles + angle) of each run
    start: np.ndarray  #: radius index where the run starts
    peak: np.ndarray  #: the largest intensity over ``max_echo`` samples from its start
    front: np.ndarray  #: mean of the ``front_length`` samples in front of it
    behind: np.ndarray  #: mean of the shadow window behind it
    dark: np.ndarray  #: fraction of the shadow window darker than ``dark_level``
    sums: np.ndarray  #: cumulative sums along each ray, for the adventitia means
    adventitia_length: int
    max_echo: int


def _window_means(sums: np.ndarray, ray: np.ndarray, start: np.ndarray, width: int):
    """Means of ``width`` samples from ``start`` along rays ``ray`` given the rays'
    cumulative sums ``(ray, radius + 1)``, the window clipped to the ray: one starting
    before the ray starts at its first sample, one running off its end is the part on
    the ray (0 where none of it is)."""
    n_radii = sums.shape[-1] - 1
    a = np.clip(start, 0, n_radii)
    b = np.clip(a + width, 0, n_radii)
    flat = sums.reshape(-1)
    base = ray * (n_radii + 1)
    return ((flat[base + b] - flat[base + a]) / np.maximum(b - a, 1)).astype(np.float32)


def _cumulative(values: np.ndarray) -> np.ndarray:
    """Cumulative sums along the last axis with a leading 0 (float32: a ray's samples
    are a few units each, so its sums keep a thousandth of a sample's precision)."""
    out = np.zeros(values.shape[:-1] + (values.shape[-1] + 1,), np.float32)
    np.cumsum(values, axis=-1, out=out[..., 1:])
    return out


def ray_echoes(
    normalised: np.ndarray,
    *,
    bright_level: float,
    front_length: int,
    shadow_skip: int,
    shadow_length: int,
    max_echo: int,
    adventitia_length: int = 1,
    dark_level: float = 0.3,
    echo_profile: np.ndarray | None = None,
) -> RayEchoes:
    """Bright runs (samples ``>= bright_level``) of ``normalised`` ``(frame, angle,
    radius)`` and the means :func:`detect_rays` judges them by.

    The shadow window is ``shadow_length`` samples starting ``shadow_skip`` behind the
    end of the run; the front window the ``front_length`` samples before its start.
    ``echo_profile``: intensities the echo's extent is measured on (default
    ``normalised``; e.g. the same frames without the smoothing across rays, so that a
    ray at the rim of an arc does not take its neighbour's echo).
    """
    n, n_angles, n_radii = normalised.shape
    bright = normalised >= bright_level
    edge = np.zeros((n, n_angles, 1), bool)
    opens = bright & ~np.concatenate([edge, bright[..., :-1]], 2)
    closes = bright & ~np.concatenate([bright[..., 1:], edge], 2)
    # runs open and close in the same order along each ray
    ray, start = np.divmod(np.flatnonzero(opens), n_radii)
    stop = np.flatnonzero(closes) % n_radii + 1  # first dim sample after the run
    width = max(1, int(shadow_length))
    fits = stop + shadow_skip + max(1, width // 2) <= n_radii  # half of it on the ray
    ray, start, stop = ray[fits], start[fits], stop[fits]
    values = normalised.reshape(n * n_angles, n_radii)
    sums = _cumulative(values)
    dark = _cumulative((values < dark_level).astype(np.float32))
    m = max(1, int(max_echo))
    ahead = np.minimum(start[:, None] + np.arange(m), n_radii - 1)
    fl = max(1, int(front_length))

    return RayEchoes(
        shape=(n, n_angles, n_radii),
        profile=normalised if echo_profile is None else echo_profile,
        ray=ray,
        start=start,
        peak=values[ray[:, None], ahead].max(axis=1),
        front=_window_means(sums, ray, start - fl, fl),
        behind=_window_means(sums, ray, stop + shadow_skip, width),
        dark=_window_means(dark, ray, stop + shadow_skip, width),
        sums=sums,
        adventitia_length=max(1, int(adventitia_length)),
        max_echo=m,
    )


def detect_rays(
    echoes: RayEchoes,
    lo_idx: np.ndarray,
    hi_idx: np.ndarray,
    *,
    shadow_ratio: float,
    front_ratio: float,
    eem_idx: np.ndarray | None = None,
    eem_zone: int = 0,
    adventitia_ratio: float = 0.6,
    dark_fraction: float = 0.6,
) -> tuple[np.ndarray, np.ndarray]:
    """Leading edge and end (radius indices) of calcium on each ray, ``nan`` where none.

    Calcium is a bright echo with an acoustic shadow behind it (CLINICAL_RULES 0b), both
    judged on the frame's own intensity scale
    (:func:`~napari_calcium.vessel.borders.normalise_frames`: 0 = the frame's dark
    level, 1 = its bright level) and against the echo on the same ray, so gain,
    time-gain compensation, dynamic range and the depth of the echo do not matter.
    On each ray the first echo that passes is taken: what lies behind it is in its
    shadow or its reverberations, whatever it is.

    * the echo: a bright run of ``echoes`` (:func:`ray_echoes`) starting between
      ``lo_idx`` and ``hi_idx`` (both included); ``P`` its peak over ``max_echo`` samples;
    * a leading edge: the mean of the samples in front of the run is at most
      ``front_ratio * P`` (blood or softer plaque before it, not a speckle inside a
      bright region);
    * an acoustic shadow: the mean of the shadow window behind the run is at most
      ``shadow_ratio * P`` (dense fibrous tissue is bright too, but the tissue behind it
      is not attenuated);
    * with ``eem_idx`` (``(frame, angle)`` radius indices of an EEM; ``None``: no EEM
      known, every echo is judged as at the EEM):

      - an echo more than ``eem_zone`` samples inside the EEM must hide the adventitia
        too: the mean of the samples from the EEM out is at most ``adventitia_ratio * P``
        (dense fibrous tissue leaves the adventitia behind it visible, calcium does not);
      - an echo within ``eem_zone`` of the EEM or beyond needs a complete shadow: at
        least ``dark_fraction`` of the shadow window darker than the dark level. A
        bright echo is expected there anyway (the adventitia, with darker tissue
        beyond it), so only a shadow as dark as the blood shows calcium.

    The calcium mask follows the echo over at most ``max_echo`` samples: its leading
    edge is the start of the run of samples >= 3/4 of the peak that holds the peak, and
    it ends at the first sample after the peak below half of it: the echo of a
    reflecting surface is about one pulse long, and what lies behind it is shadowed (its
    thickness is not seen on IVUS).
    """
    e = echoes
    n, n_angles, n_radii = e.shape
    lo = np.asarray(lo_idx).reshape(-1)[e.ray]
    hi = np.asarray(hi_idx).reshape(-1)[e.ray]
    passes = (e.start >= lo) & (e.start <= hi)
    passes &= (e.front <= front_ratio * e.peak) & (e.behind <= shadow_ratio * e.peak)
    complete = e.dark >= dark_fraction
    if eem_idx is None:
        passes &= complete
    else:
        eem_flat = np.asarray(eem_idx).reshape(-1)
        rays = np.arange(eem_flat.size)
        adventitia = _window_means(e.sums, rays, eem_flat, e.adventitia_length)
        hidden = adventitia[e.ray] <= adventitia_ratio * e.peak
        passes &= np.where(e.start < eem_flat[e.ray] - eem_zone, hidden, complete)
    # the first run that passes on each ray (runs are in ray, radius order)
    rays, at = np.unique(e.ray[passes], return_index=True)
    found = np.zeros(n * n_angles, bool)
    found[rays] = True
    first = np.zeros(n * n_angles, int)
    first[rays] = e.start[passes][at]
    found, first = found.reshape(n, n_angles), first.reshape(n, n_angles)
    # the echo may start a little before the first sample that passes: look from a
    # quarter of the echo length before it
    max_echo = e.max_echo
    back = max(1, max_echo // 4)
    begin = np.maximum(first - back, 0)
    offsets = np.arange(max_echo + back)
    pos = np.clip(begin[..., None] + offsets, 0, n_radii - 1)
    echo = np.take_along_axis(e.profile, pos, axis=2)
    peak_at = echo.argmax(axis=2)
    top = np.take_along_axis(echo, peak_at[..., None], axis=2)
    # the leading edge: where the run of samples >= 3/4 of the peak that ends in the
    # peak starts (a speckle before the echo is not its edge)
    low_before = (echo < 0.75 * top) & (offsets < peak_at[..., None])
    last_low = np.where(
        low_before.any(axis=2), offsets.size - 1 - low_before[..., ::-1].argmax(axis=2), -1
    )
    edge = begin + last_low + 1
    dim = (echo < 0.5 * top) & (offsets > peak_at[..., None])
    end = begin + np.where(dim.any(axis=2), dim.argmax(axis=2), offsets.size)
    end = np.minimum(end, edge + max_echo)
    return np.where(found, edge, np.nan), np.where(found, end, np.nan)


def guide_wire_rays(
    mask: np.ndarray,
    edge_px: np.ndarray,
    lumen_px: np.ndarray,
    px_mm: float,
    max_width_mm: float,
    min_inside_mm: float,
) -> np.ndarray:
    """Rays of the guide wire: narrow shadowing echoes lying inside the lumen.

    A guide wire is a bright point in the blood with a narrow shadow behind it
    (CLINICAL_RULES 6). A run of ``mask`` (rays with a shadowing echo at ``edge_px``) is
    the wire when it is narrower than ``max_width_mm`` at its echo (a 0.014-inch wire is
    0.36 mm, widened by the beam) and its echo lies at least ``min_inside_mm`` inside the
    lumen border ``lumen_px`` drawn across it; a narrow calcium at the lumen surface is
    not inside the lumen, so it stays calcium.
    """
    n = mask.size
    out = np.zeros(n, bool)
    for start, length in circular_runs(mask):
        idx = (start + np.arange(length)) % n
        radius_mm = np.nanmedian(edge_px[idx]) * px_mm
        width_mm = np.deg2rad(length * 360.0 / n) * radius_mm
        inside_mm = np.nanmedian(lumen_px[idx] - edge_px[idx]) * px_mm
        if width_mm < max_width_mm and inside_mm >= min_inside_mm:
            out[idx] = True
    return out


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
