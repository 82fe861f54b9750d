"""Lumen and EEM borders as optimal paths in the polar image (dynamic programming).

A border is one radius per ray. The optimal closed path minimises the summed cost
over all rays while the radius changes by at most ``max_step`` samples between
neighbouring rays (smoothness across angle); the closure is handled by running the
recursion over a quarter turn before and after the full turn and keeping the middle.
Smoothness across frames comes from a running median of the radii along the pullback.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def optimal_closed_paths(cost: np.ndarray, max_step: int) -> np.ndarray:
    """Minimal-cost closed paths, one per frame, through ``cost`` ``(frame, angle, radius)``.

    Parameters
    ----------
    cost : float array ``(n, A, R)``; lower is better.
    max_step : largest change of the radius index between neighbouring rays.

    Returns
    -------
    int array ``(n, A)``: the radius index chosen on each ray.
    """
    n, n_angles, n_radii = cost.shape
    wrap = max(1, n_angles // 4)
    c = np.concatenate([cost[:, -wrap:], cost, cost[:, :wrap]], axis=1)
    steps = c.shape[1]
    k = int(max_step)
    acc = c[:, 0].astype(np.float32)
    back = np.zeros((n, steps, n_radii), np.int8)
    padded = np.full((n, n_radii + 2 * k), np.inf, np.float32)
    for a in range(1, steps):
        padded[:, k : k + n_radii] = acc
        best = padded[:, k : k + n_radii].copy()
        offset = back[:, a]
        for o in range(-k, k + 1):
            if o == 0:
                continue
            candidate = padded[:, k + o : k + o + n_radii]
            better = candidate < best
            np.copyto(best, candidate, where=better)
            offset[better] = o
        acc = best + c[:, a]
    path = np.empty((n, steps), np.int64)
    path[:, -1] = acc.argmin(axis=1)
    rows = np.arange(n)
    for a in range(steps - 1, 0, -1):
        path[:, a - 1] = path[:, a] + back[rows, a, path[:, a]]
    return path[:, wrap : wrap + n_angles]


def box_means(profile: np.ndarray, start: int, width: int) -> np.ndarray:
    """Mean of ``profile[..., r + start : r + start + width]`` for every r (edges repeated)."""
    width = max(1, int(width))
    centred = ndimage.uniform_filter1d(
        np.asarray(profile, dtype=np.float32), width, axis=-1, mode="nearest"
    )
    shift = int(start) + width // 2  # out[r] = centred[r + shift]
    n = centred.shape[-1]
    if shift == 0:
        return centred
    out = np.empty_like(centred)
    if shift > 0:
        k = min(shift, n)
        out[..., : n - k] = centred[..., k:]
        out[..., n - k :] = centred[..., -1:]
    else:
        k = min(-shift, n)
        out[..., k:] = centred[..., : n - k]
        out[..., :k] = centred[..., :1]
    return out


def lumen_cost(polar_smooth: np.ndarray, tissue_level: float, window: int) -> np.ndarray:
    """Cost of a lumen border at each sample: minus the blood-to-tissue step.

    Intensities are clipped at ``tissue_level`` so that a bright calcium echo behind a
    thin intima does not outbid the blood-intima border; the step is the mean of the
    ``window`` samples outside minus the mean of the ``window`` samples inside.
    """
    f = np.minimum(polar_smooth, tissue_level)
    step = box_means(f, 0, window) - box_means(f, -window, window)
    return -(step / tissue_level).astype(np.float32)


def eem_cost(
    polar_smooth: np.ndarray, tissue_level: float, media: int, outer: int, inner: int
) -> np.ndarray:
    """Cost of an EEM border: a dark media band just inside, bright adventitia outside.

    The score is (adventitia - media) + (plaque - media), with the media the
    ``media`` samples inside the border, the adventitia ``outer`` samples outside and
    the plaque ``inner`` samples inside the media; intensities are clipped at twice the
    tissue level.
    """
    f = np.minimum(polar_smooth, 2.0 * tissue_level)
    media_mean = box_means(f, -media, media)
    score = box_means(f, 0, outer) + box_means(f, -media - inner, inner) - 2.0 * media_mean
    return -(score / tissue_level).astype(np.float32)


#: Cost of a radius where a border may not lie.
OUTSIDE = 10.0


def restrict(cost: np.ndarray, low: np.ndarray, high: np.ndarray, penalty: float = OUTSIDE):
    """Set ``cost`` to ``penalty`` outside ``low <= radius index < high`` (per frame and ray)."""
    r = np.arange(cost.shape[-1])
    outside = (r < np.asarray(low)[..., None]) | (r >= np.asarray(high)[..., None])
    cost[outside] = penalty
    return cost


def fill_along_frames(radii: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Replace unknown radii ``(frame, angle)`` by linear interpolation along the pullback.

    Each ray is interpolated between the nearest frames where it is known (constant
    beyond the first / last such frame); a ray known nowhere takes the median of the
    known radii of its frame, or of all frames.
    """
    out = radii.astype(float).copy()
    n = radii.shape[0]
    frames = np.arange(n)
    for a in range(radii.shape[1]):
        ok = known[:, a]
        if ok.all() or not ok.any():
            continue
        out[~ok, a] = np.interp(frames[~ok], frames[ok], radii[ok, a])
    nowhere = ~known.any(axis=0)
    if nowhere.any():
        for i in range(n):
            pool = out[i, ~nowhere] if (~nowhere).any() else out[known]
            out[i, nowhere] = np.median(pool) if pool.size else np.nan
    return out


def smooth_along_frames(radii: np.ndarray, size: int) -> np.ndarray:
    """Running median of radii ``(frame, angle)`` over ``size`` frames (odd)."""
    if size <= 1 or radii.shape[0] < size:
        return radii
    return ndimage.median_filter(radii, size=(size, 1), mode="nearest")


def refine_rising_edge(
    polar: np.ndarray, idx: np.ndarray, reach: int, cap: float, exclude: int = 0
) -> np.ndarray:
    """Sub-sample position of a dark-to-bright border near ``idx`` (frame, angle).

    The border is where the profile first crosses halfway between the mean of the
    ``reach`` samples ending two samples inside ``idx`` and the mean (values capped at
    ``cap``) of the ``reach`` samples starting one sample outside, searched within
    ``reach`` samples of ``idx``; linear interpolation between samples. Where no
    crossing is found the border stays at ``idx - 0.5``.
    """
    n_radii = polar.shape[-1]
    offsets = np.arange(-reach, reach + 1)
    pos = np.clip(idx[..., None] + offsets, 0, n_radii - 1)
    vals = np.take_along_axis(polar, pos, axis=-1)
    inner_pos = np.clip(idx[..., None] - 2 - np.arange(reach), exclude, n_radii - 1)
    outer_pos = np.clip(idx[..., None] + 1 + np.arange(reach), 0, n_radii - 1)
    low = np.take_along_axis(polar, inner_pos, axis=-1).mean(axis=-1)
    high = np.minimum(np.take_along_axis(polar, outer_pos, axis=-1), cap).mean(axis=-1)
    half = (low + high) / 2.0
    above = vals >= half[..., None]
    above[..., 0] = False
    first = above.argmax(axis=-1)
    found = above.any(axis=-1) & (high > low)
    prev = np.take_along_axis(vals, np.maximum(first - 1, 0)[..., None], -1)[..., 0]
    cur = np.take_along_axis(vals, first[..., None], -1)[..., 0]
    frac = np.clip((half - prev) / np.maximum(cur - prev, 1e-6), 0.0, 1.0)
    refined = idx + offsets[0] + first - 1 + frac
    return np.where(found, refined, idx - 0.5)
