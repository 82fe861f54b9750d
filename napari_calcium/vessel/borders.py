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

from napari_calcium.vessel.polar import circular_runs


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


def normalise_frames(
    polar: np.ndarray, start: int, percentiles: tuple[float, float] = (10.0, 90.0)
) -> np.ndarray:
    """Each frame's polar image in units of its own intensity spread (float32).

    ``(p - p_low) / (p_high - p_low)`` with the percentiles of the frame's samples
    beyond radius index ``start`` (outside the catheter): 0 is the frame's dark level
    (blood, shadows), 1 its bright level. A gain (an added or multiplied constant of the
    log-compressed grey values) or a different dynamic range leaves the result unchanged,
    so every threshold below is judged against the frame's own statistics.
    """
    beyond = polar[:, ::2, start::2].reshape(polar.shape[0], -1)  # every other sample
    low, high = np.percentile(beyond, percentiles, axis=1)
    spread = np.maximum(high - low, 1e-3)
    return ((polar - low[:, None, None]) / spread[:, None, None]).astype(np.float32)


def temporal_correlation(frames: np.ndarray, box: tuple[int, int]) -> np.ndarray:
    """Local correlation (-1..1) of each polar frame with the frame before it.

    ``frames`` is ``(frame, angle, radius)``; the result ``(frame - 1, angle, radius)``
    holds the correlation of frames 1, 2, ... with frames 0, 1, ..., taken over ``box``
    (rays, samples) around each sample. Blood speckle changes from one frame to the next
    as the blood flows, tissue speckle does not (the catheter moves a fraction of a
    millimetre between frames), so blood decorrelates and tissue does not.
    """

    def mean(x):
        x = ndimage.uniform_filter1d(x, box[0], axis=1, mode="wrap")
        return ndimage.uniform_filter1d(x, box[1], axis=2, mode="nearest")

    centred = frames - mean(frames)  # each frame's local means computed once
    variance = mean(centred * centred)
    a, b = centred[1:], centred[:-1]
    covariance = mean(a * b)
    return (covariance / np.sqrt(np.maximum(variance[1:] * variance[:-1], 1e-12))).astype(
        np.float32
    )


def blood_statistics(normalised: np.ndarray, inside: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Blood level (median) and speckle (1.4826 x median absolute deviation) of each frame
    from its samples marked ``inside`` (frame, angle, radius), ``(frame,)`` each."""
    level = np.empty(normalised.shape[0])
    spread = np.empty(normalised.shape[0])
    for i in range(normalised.shape[0]):
        values = normalised[i][inside[i]]
        if values.size < 10:
            values = normalised[i, :, : max(1, normalised.shape[-1] // 8)].ravel()
        level[i] = np.median(values)
        spread[i] = 1.4826 * np.median(np.abs(values - level[i]))
    return level, spread


def near_catheter_blood(normalised: np.ndarray, window: int) -> np.ndarray:
    """Samples ``window`` to ``3 window`` beyond the catheter on the quarter of the rays
    darkest there (blood on most rays; the wall may touch the catheter on others): a
    first guess of where the blood is (frame, angle, radius mask)."""
    mask = np.zeros(normalised.shape, bool)
    band = normalised[..., window : 3 * window]
    means = band.mean(axis=-1)
    mask[..., window : 3 * window] = (means <= np.percentile(means, 25, axis=-1, keepdims=True))[
        ..., None
    ]
    return mask


def lumen_cost(
    normalised: np.ndarray,
    outside: int,
    level: np.ndarray,
    spread: np.ndarray,
    correlation: np.ndarray | None = None,
    informative: np.ndarray | None = None,
) -> np.ndarray:
    """Cost of a lumen border at each sample: blood inside it, tissue just outside.

    A two-region model along each ray, given the frame's blood ``level`` and speckle
    ``spread`` (:func:`blood_statistics`; they depend on the frequency and on the
    frame's scale, :func:`normalise_frames`). Each sample scores
    ``(x - level - 3 spread) / spread`` clipped to [-1, 1]: about -1 for blood, +1 for anything
    clearly brighter (an echolucent plaque as much as a calcium echo). On frames where
    ``informative`` (``(frame,)``) is set, the score is taken from the ``correlation``
    with the frame before instead (:func:`temporal_correlation`): about -1 where the
    speckle changed (blood), +1 where it held (tissue). The cost of a border at ``r`` is the tissue found inside it (the positive scores from the catheter
    to ``r``) minus the sum of the scores over the ``outside`` samples beyond ``r``:
    lowest where blood ends and tissue begins. A speckle of blood brighter than the rest
    is followed by blood, so the border does not stop at it; the dark shadow behind a
    calcium echo is not taken for blood, as the echo would then lie inside; a wall
    touching the catheter gives its border there.
    """
    spread = np.asarray(spread, np.float32)[:, None, None]
    level = np.asarray(level, np.float32)[:, None, None]
    score = np.clip((normalised - level - 3.0 * spread) / spread, -1.0, 1.0)
    if correlation is not None:
        # where the frame's blood decorrelates and its tissue does not, that tells them
        # apart better than brightness (blood is as bright as soft plaque at 40-60 MHz)
        # (not next to the catheter, where the ring-down's still tail would look like tissue)
        by_motion = np.clip((correlation - np.float32(0.5)) / np.float32(0.15), -1.0, 1.0)
        use = informative[:, None, None] & (np.arange(score.shape[-1]) >= outside)
        score = np.where(use, by_motion, score)
    tissue = np.maximum(score, 0.0)
    inside = np.cumsum(tissue, axis=-1) - tissue  # tissue in the lumen, before r
    beyond = box_means(score, 0, outside) * outside
    return ((inside - beyond) / outside).astype(np.float32)


def eem_cost(normalised: np.ndarray, inner: int, outer: int) -> np.ndarray:
    """Cost of an EEM border: the outer edge of the echolucent media, bright tissue outside.

    The EEM is where the dark media band ends and the echogenic adventitia begins
    (ACC IVUS consensus, Mintz et al. 2001): the score is the mean of the ``outer``
    samples outside the border minus the mean of the ``inner`` samples inside it, on
    frame-normalised intensities (:func:`normalise_frames`) clipped to ``[0, 1]``. The
    adventitia is bright over a long stretch, so ``outer`` spanning several tenths of a
    millimetre lets a thin echo followed by a shadow (calcium) score far less than it.
    """
    f = np.clip(normalised, 0.0, 1.0)
    score = box_means(f, 0, outer) - box_means(f, -inner, inner)
    return -score.astype(np.float32)


#: Cost of a radius where a border may not lie.
OUTSIDE = 10.0


def restrict(cost: np.ndarray, low: np.ndarray, high: np.ndarray, penalty: float = OUTSIDE):
    """Set ``cost`` to ``penalty`` outside ``low <= radius index < high`` (per frame and ray)."""
    r = np.arange(cost.shape[-1])
    outside = (r < np.asarray(low)[..., None]) | (r >= np.asarray(high)[..., None])
    cost[outside] = penalty
    return cost


def bridge_hidden_rays(
    values: np.ndarray, hidden: np.ndarray, min_visible: float, anchor_rays: int = 10
) -> np.ndarray:
    """``values`` ``(frame, angle, ...)`` with the ``hidden`` rays drawn across from visible ones.

    Each run of hidden rays is bridged linearly in angle between anchors on each side:
    the median of the ``anchor_rays`` visible rays next to it (per trailing index, e.g.
    per radius of a cost image). A frame with less than ``min_visible`` of its rays
    visible gets ``nan`` on its hidden rays (too little is seen to draw the rest from it).
    """
    out = values.astype(np.float32 if values.dtype == np.float32 else float).copy()
    n_angles = values.shape[1]
    for i in np.flatnonzero(hidden.any(axis=1)):
        seen = ~hidden[i]
        if seen.mean() < min_visible:
            out[i, hidden[i]] = np.nan
            continue
        visible = np.flatnonzero(seen)
        for start, length in circular_runs(hidden[i]):
            last = start + length - 1
            left = visible[np.argsort((start - visible) % n_angles)[:anchor_rays]]
            right = visible[np.argsort((visible - last) % n_angles)[:anchor_rays]]
            v0 = np.median(values[i, left], axis=0)
            v1 = np.median(values[i, right], axis=0)
            t = ((np.arange(length) + 1) / (length + 1)).reshape(-1, *[1] * (values.ndim - 2))
            out[i, (start + np.arange(length)) % n_angles] = v0 + (v1 - v0) * t
    return out


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
