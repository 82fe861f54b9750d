"""Image-based cardiac gating of an IVUS pullback: one end-diastolic frame per cycle.

The frame-to-frame signal is the mean absolute difference between consecutive frames
after block-averaging their polar images (which keeps structure motion and averages
speckle out). The
heart moves the vessel in systole and holds it still in late diastole, so the signal
is low in diastole and rises when contraction starts. The cycle length is the lag of
the highest autocorrelation of the signal within the allowed heart-rate range; the
end-diastolic frame of a cycle is the last quiet frame before the motion rises.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def block_mean(frames: np.ndarray, block: int) -> np.ndarray:
    """Images ``(n, a, b)`` averaged over ``block x block`` blocks (float32)."""
    n, h, w = frames.shape
    hb, wb = h // block, w // block
    cut = np.asarray(frames[:, : hb * block, : wb * block], dtype=np.float32)
    return cut.reshape(n, hb, block, wb, block).mean(axis=(2, 4))


def motion_signal(small_frames: np.ndarray, previous: np.ndarray | None = None) -> np.ndarray:
    """Mean absolute difference of each block-averaged frame from the one before it.

    ``previous`` is the frame before the first one (from an earlier chunk); the first
    frame of the pullback gets ``nan``.
    """
    stack = small_frames if previous is None else np.concatenate([previous[None], small_frames])
    diffs = np.abs(np.diff(stack, axis=0)).mean(axis=(1, 2))
    return diffs if previous is not None else np.concatenate([[np.nan], diffs])


def end_diastolic_frames(
    signal: np.ndarray,
    frame_rate_hz: float,
    heart_rate_range_bpm: tuple[float, float] = (40.0, 150.0),
    quiet_fraction: float = 0.25,
    valid: np.ndarray | None = None,
) -> tuple[list[int], float | None]:
    """One end-diastolic frame per cardiac cycle from the frame-to-frame signal.

    Parameters
    ----------
    signal : ``(n,)`` frame-to-frame difference (``signal[i]`` compares frame i with i-1).
    frame_rate_hz : frames per second.
    heart_rate_range_bpm : allowed heart rates; bounds the cycle length searched.
    quiet_fraction : a frame is quiet when its signal is below the local minimum plus
        this fraction of the local range (over two cycles around it).
    valid : frames usable for gating (invalid frames are never chosen).

    Returns
    -------
    frames : indices of the end-diastolic frames, increasing.
    cycle_frames : the cycle length found (frames), or ``None`` when no rhythm is found.
    reason : why no rhythm could be looked for or found (``None`` when one was found):
        a frame rate at which the fastest allowed cycle spans fewer than 2 frames, or a
        pullback shorter than two of the shortest cycles.
    """
    s = np.asarray(signal, dtype=float).copy()
    n = s.size
    valid = np.ones(n, bool) if valid is None else np.asarray(valid, bool)
    s[~np.isfinite(s)] = np.nanmedian(s) if np.isfinite(s).any() else 0.0
    raw = s
    s = ndimage.uniform_filter1d(s, 3, mode="nearest")
    low_bpm, high_bpm = heart_rate_range_bpm
    shortest = frame_rate_hz * 60.0 / high_bpm  # frames per cycle at the fastest rate
    if shortest < 2.0:
        return (
            [],
            None,
            (
                f"at {frame_rate_hz:g} frames/s a cardiac cycle at {high_bpm:g} beats/min spans "
                f"{shortest:.1f} frames (< 2): the frames cannot be gated from the images "
                "(they may already be one per heartbeat)"
            ),
        )
    lag_min = int(np.floor(shortest))
    lag_max = min(int(np.ceil(frame_rate_hz * 60.0 / low_bpm)), n // 2)
    if lag_max <= lag_min:
        return (
            [],
            None,
            (
                f"the pullback has {n} frames, too few for a cardiac rhythm: two cycles at "
                f"{high_bpm:g} beats/min need {int(np.ceil(2 * shortest)) + 2} frames at "
                f"{frame_rate_hz:g} frames/s"
            ),
        )
    x = s - s.mean()
    ac = np.array([np.dot(x[:-lag], x[lag:]) / (n - lag) for lag in range(lag_min, lag_max + 1)])
    if ac.max() <= 0:
        return [], None, "no periodic motion was found in the frame-to-frame signal"
    cycle = lag_min + int(np.argmax(ac))
    span = 2 * cycle + 1
    low = ndimage.minimum_filter1d(s, span, mode="nearest")
    high = ndimage.maximum_filter1d(s, span, mode="nearest")
    quiet = raw < low + quiet_fraction * (high - low)
    # onsets: quiet frame i followed by a moving frame i+1
    onsets = np.array([i for i in np.flatnonzero(quiet[:-1] & ~quiet[1:]) if valid[i]], int)
    # follow the rhythm: from each chosen onset, the next is the onset nearest one cycle
    # later (within 30 % of a cycle); a cycle without one is skipped, never invented
    chosen: list[int] = []
    tolerance = 0.3 * cycle
    expected = None
    for start in onsets:
        if np.any(np.abs(onsets - (start + cycle)) <= tolerance):
            expected = float(start)
            break
    while expected is not None and expected < n:
        near = onsets[np.abs(onsets - expected) <= tolerance] if onsets.size else onsets
        if near.size:
            pick = int(near[np.argmin(np.abs(near - expected))])
            chosen.append(pick)
            expected = pick + cycle
        else:
            expected += cycle
    return chosen, float(cycle), None
