"""Polar resampling of cross-sections about a centre, and polygon <-> polar radii.

Angle convention (used by every output of the package): angles are in degrees,
measured **clockwise from 12 o'clock** as the frame is displayed (12 o'clock = towards
row 0, i.e. image ``-y``; 3 o'clock = ``+x``). Ray ``a`` of a grid with ``n_angles``
rays points at ``a * 360 / n_angles`` degrees; a point at radius ``r`` on it is
``(y, x) = centre + r * (-cos(theta), sin(theta))``.

Polar images are ``(frame, angle, radius)``; radii are in pixels of the frame (the
in-plane spacing of the Volume turns them into mm).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy import sparse

ANGLE_CONVENTION = (
    "degrees clockwise from 12 o'clock (towards the top row of the displayed frame, -y), "
    "3 o'clock = +x"
)


def ray_directions(angles_deg) -> np.ndarray:
    """Unit vectors ``(..., 2)`` in ``(y, x)`` for angles clockwise from 12 o'clock."""
    theta = np.deg2rad(np.asarray(angles_deg, dtype=float))
    return np.stack([-np.cos(theta), np.sin(theta)], axis=-1)


def angles_of(vectors_yx) -> np.ndarray:
    """Angles (deg, [0, 360)) clockwise from 12 o'clock of ``(..., 2)`` (y, x) vectors."""
    v = np.asarray(vectors_yx, dtype=float)
    return np.rad2deg(np.arctan2(v[..., 1], -v[..., 0])) % 360.0


@dataclass(frozen=True)
class PolarGrid:
    """Rays from one centre: ``n_angles`` rays x ``n_radii`` samples ``radial_step_px`` apart.

    Parameters
    ----------
    centre_yx_px : ray origin (row, column) in pixels, e.g. the IVUS catheter centre.
    n_angles : rays per turn; ray ``a`` is at ``a * 360 / n_angles`` degrees.
    n_radii : samples per ray; sample ``i`` is at radius ``i * radial_step_px``.
    radial_step_px : distance between samples along a ray (pixels).
    """

    centre_yx_px: tuple[float, float]
    n_angles: int
    n_radii: int
    radial_step_px: float = 1.0

    @property
    def angles_deg(self) -> np.ndarray:
        return np.arange(self.n_angles) * (360.0 / self.n_angles)

    @property
    def angle_step_deg(self) -> float:
        return 360.0 / self.n_angles

    @property
    def radii_px(self) -> np.ndarray:
        return np.arange(self.n_radii) * self.radial_step_px

    @classmethod
    def fitting(cls, frame_shape, centre_yx_px, n_angles=360, radial_step_px=1.0) -> PolarGrid:
        """The grid whose longest ray still lies inside a frame of ``frame_shape`` (y, x)."""
        cy, cx = centre_yx_px
        h, w = frame_shape
        reach = min(cy, cx, h - 1 - cy, w - 1 - cx)
        if reach < 4 * radial_step_px:
            raise ValueError(f"centre {centre_yx_px} is too close to the frame border")
        n_radii = int(np.floor(reach / radial_step_px)) + 1
        return cls((float(cy), float(cx)), int(n_angles), n_radii, float(radial_step_px))

    @property
    def box_px(self) -> int:
        """Side (pixels) of the box each sample averages over: the radial step, rounded."""
        return max(1, int(round(self.radial_step_px)))

    def coordinates(self) -> tuple[np.ndarray, np.ndarray]:
        """Row and column (pixels) of every sample, each ``(n_angles, n_radii)``."""
        directions = ray_directions(self.angles_deg)
        r = self.radii_px
        y = self.centre_yx_px[0] + directions[:, 0, None] * r[None, :]
        x = self.centre_yx_px[1] + directions[:, 1, None] * r[None, :]
        return y, x

    def sample(self, frames) -> np.ndarray:
        """Polar images ``(frame, angle, radius)`` (float32) of frames ``(frame, y, x)``.

        Each sample is the bilinear interpolation of the frame averaged over a
        :attr:`box_px` box (so samples one radial step apart do not alias the speckle).
        Both steps are one sparse matrix, built once per grid and frame size; sampling a
        frame is one sparse matrix-vector product (no per-sample Python work).
        """
        frames = np.asarray(frames)
        n, h, w = frames.shape
        operator = _sampling_operator(self, (h, w))
        out = np.empty((n, self.n_angles * self.n_radii), np.float32)
        for i in range(n):
            out[i] = operator @ frames[i].ravel()
        return out.reshape(n, self.n_angles, self.n_radii)

    def points(self, radii_px) -> np.ndarray:
        """``(..., n_angles, 2)`` (y, x) points at ``radii_px`` ``(..., n_angles)`` along each ray."""
        radii = np.asarray(radii_px, dtype=float)
        d = ray_directions(self.angles_deg)
        return np.asarray(self.centre_yx_px) + radii[..., None] * d


@functools.lru_cache(maxsize=8)
def _sampling_operator(grid: PolarGrid, frame_shape: tuple[int, int]) -> sparse.csr_matrix:
    """Sparse ``(n_angles * n_radii, h * w)`` matrix: box average, then bilinear sampling.

    Points outside the frame take the nearest border pixel.
    """
    h, w = frame_shape
    y, x = (c.ravel() for c in grid.coordinates())
    y = np.clip(y, 0, h - 1)
    x = np.clip(x, 0, w - 1)
    y0 = np.minimum(np.floor(y).astype(np.int64), h - 2)
    x0 = np.minimum(np.floor(x).astype(np.int64), w - 2)
    fy, fx = y - y0, x - x0
    rows = np.repeat(np.arange(y.size), 4)
    cols = np.stack([y0 * w + x0, y0 * w + x0 + 1, (y0 + 1) * w + x0, (y0 + 1) * w + x0 + 1], 1)
    weights = np.stack([(1 - fy) * (1 - fx), (1 - fy) * fx, fy * (1 - fx), fy * fx], 1)
    bilinear = sparse.csr_matrix(
        (weights.ravel().astype(np.float32), (rows, cols.ravel())), shape=(y.size, h * w)
    )
    box = grid.box_px
    if box == 1:
        return bilinear

    # box average with edge pixels repeated: a product of two 1-D averaging matrices
    def average(n):
        offsets = np.arange(box) - (box - 1) // 2
        r = np.repeat(np.arange(n), box)
        c = np.clip(r + np.tile(offsets, n), 0, n - 1)
        return sparse.csr_matrix((np.full(r.size, 1.0 / box, np.float32), (r, c)), shape=(n, n))

    return (bilinear @ sparse.kron(average(h), average(w), format="csr")).tocsr()


def polygon_area(polygon_yx) -> float:
    """Area (pixels^2) of a closed polygon ``(n, 2)`` (shoelace formula)."""
    p = np.asarray(polygon_yx, dtype=float)
    y, x = p[:, 0], p[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)


def polygon_centroid(polygon_yx) -> np.ndarray:
    """Area centroid ``(y, x)`` of a closed simple polygon ``(n, 2)``."""
    p = np.asarray(polygon_yx, dtype=float)
    y, x = p[:, 0], p[:, 1]
    y1, x1 = np.roll(y, -1), np.roll(x, -1)
    cross = x * y1 - x1 * y
    a = cross.sum() / 2.0
    if abs(a) < 1e-12:
        return p.mean(axis=0)
    return np.array([((y + y1) * cross).sum(), ((x + x1) * cross).sum()]) / (6.0 * a)


def polygon_radii(polygon_yx, centre_yx, angles_deg) -> np.ndarray:
    """Distance from ``centre_yx`` to a closed polygon along rays at ``angles_deg``.

    Each ray is intersected with every edge; the farthest crossing is kept (the outer
    border seen from the centre). Rays that miss the polygon give ``nan``.
    """
    p = np.asarray(polygon_yx, dtype=float)
    q = np.roll(p, -1, axis=0)
    c = np.asarray(centre_yx, dtype=float)
    d = ray_directions(angles_deg)  # (A, 2)
    e = q - p  # (V, 2)
    w = p - c  # (V, 2)
    # Solve c + t d = p + s e  ->  t d - s e = w  (2x2 per ray and edge)
    det = d[:, None, 0] * (-e[None, :, 1]) - d[:, None, 1] * (-e[None, :, 0])
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (w[None, :, 0] * (-e[None, :, 1]) - w[None, :, 1] * (-e[None, :, 0])) / det
        s = (d[:, None, 0] * w[None, :, 1] - d[:, None, 1] * w[None, :, 0]) / det
    ok = (np.abs(det) > 1e-12) & (s >= 0) & (s <= 1) & (t >= 0)
    t = np.where(ok, t, -np.inf)
    best = t.max(axis=1)
    return np.where(np.isfinite(best), best, np.nan)


def circular_runs(mask) -> list[tuple[int, int]]:
    """Runs of True in a circular 1-D mask as ``(start, length)``; a full ring is ``(0, n)``."""
    m = np.asarray(mask, dtype=bool)
    n = m.size
    if not m.any():
        return []
    if m.all():
        return [(0, n)]
    shift = int(np.argmin(m))  # start the scan on a False so no run wraps
    rolled = np.roll(m, -shift)
    edges = np.diff(np.concatenate([[0], rolled.astype(np.int8), [0]]))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return [(int((s + shift) % n), int(e - s)) for s, e in zip(starts, ends, strict=True)]


def circular_clean(mask, fill_gaps: int, min_run: int) -> np.ndarray:
    """Close gaps of up to ``fill_gaps`` rays, then drop runs shorter than ``min_run`` rays."""
    m = np.asarray(mask, dtype=bool)
    n = m.size
    out = m.copy()
    if fill_gaps > 0 and m.any():
        for start, length in circular_runs(~m):
            if length <= fill_gaps:
                out[(start + np.arange(length)) % n] = True
    if min_run > 1:
        for start, length in circular_runs(out):
            if length < min_run:
                out[(start + np.arange(length)) % n] = False
    return out
