"""Vessel centrelines and cross-sectional (straightened) reformats in physical space.

A :class:`Centerline` is a smooth curve through reader-placed points (LPS mm,
proximal first). It is an interpolating spline (cubic, or lower order for 2-3
points) parametrised by chord length and re-parametrised by arc length on a dense
sampling, so positions along it are given in mm from the first point.

:func:`cross_sections` places a stack of planes perpendicular to the curve every
``step_mm``; the in-plane axes are rotation-minimising frames (parallel transport,
double-reflection method of Wang et al., ACM TOG 2008), so the stack does not
twist where the vessel bends. The resulting :class:`CrossSections` is the geometry
of a reformat array ``(frame, v, u)``: it maps continuous indices to LPS points
and back, and samples any :class:`~napari_calcium.volume.Volume` with
``scipy.ndimage.map_coordinates`` through :meth:`Volume.physical_to_index`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.interpolate import make_interp_spline, make_smoothing_spline
from scipy.optimize import brentq

from napari_calcium.errors import InputError
from napari_calcium.volume import Volume

#: Control points closer than this (mm) count as the same point placed twice.
MIN_POINT_DISTANCE_MM = 0.05

#: Arc-length resolution of the dense curve sampling (mm).
DENSE_STEP_MM = 0.02


@dataclass(frozen=True, eq=False)
class Centerline:
    """A smooth curve through control points in LPS millimetres.

    Parameters
    ----------
    points_mm : (N, 3) LPS ``(x, y, z)`` points in mm, from proximal to distal.
        At least 2 distinct points; consecutive points closer than
        ``MIN_POINT_DISTANCE_MM`` are refused as repeated points.
    """

    points_mm: np.ndarray

    def __post_init__(self):
        pts = check_centerline_points(self.points_mm)
        object.__setattr__(self, "points_mm", pts)
        chord = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
        k = min(3, len(pts) - 1)
        spline = make_interp_spline(chord, pts, k=k)
        n_dense = max(200, int(np.ceil(chord[-1] / DENSE_STEP_MM)) + 1)
        t_dense = np.linspace(0.0, chord[-1], n_dense)
        dense = spline(t_dense)
        arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(dense, axis=0), axis=1))])
        object.__setattr__(self, "_spline", spline)
        object.__setattr__(self, "_t_dense", t_dense)
        object.__setattr__(self, "_arc_dense", arc)

    @property
    def length_mm(self) -> float:
        """Arc length of the curve (mm)."""
        return float(self._arc_dense[-1])

    def _param(self, arc_mm) -> np.ndarray:
        return np.interp(np.asarray(arc_mm, dtype=float), self._arc_dense, self._t_dense)

    def position(self, arc_mm) -> np.ndarray:
        """LPS points (..., 3) at arc lengths ``arc_mm`` (mm from the first point)."""
        return self._spline(self._param(arc_mm))

    def tangent(self, arc_mm) -> np.ndarray:
        """Unit tangents (..., 3) at arc lengths ``arc_mm``, pointing distally."""
        d = self._spline.derivative()(self._param(arc_mm))
        return d / np.linalg.norm(d, axis=-1, keepdims=True)

    def dense(self, step_mm: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
        """Points (M, 3) every ``step_mm`` along the curve and their arc lengths (M,)."""
        n = max(2, int(np.ceil(self.length_mm / step_mm)) + 1)
        arc = np.linspace(0.0, self.length_mm, n)
        return self.position(arc), arc


def check_centerline_points(points_mm) -> np.ndarray:
    """Validate reader-drawn centreline points; return them as a float (N, 3) array.

    Raises
    ------
    InputError
        Fewer than two points, points that are not 3-D or not finite, or the same
        point placed twice in a row.
    """
    try:
        pts = np.asarray(points_mm, dtype=float)
    except ValueError:
        pts = np.zeros((0,))
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise InputError(
            f"a centreline is a list of (x, y, z) points in mm; got an array of shape {pts.shape}",
            "give one point per row with three LPS coordinates in mm",
        )
    if len(pts) < 2:
        raise InputError(
            f"a centreline needs at least 2 points; got {len(pts)}",
            "draw the path along the vessel with at least two clicks, proximal first",
        )
    if not np.all(np.isfinite(pts)):
        raise InputError("the centreline has missing or infinite coordinates")
    gaps = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    repeated = np.flatnonzero(gaps < MIN_POINT_DISTANCE_MM)
    if repeated.size:
        i = int(repeated[0])
        raise InputError(
            f"centreline points {i} and {i + 1} are the same point placed twice "
            f"({gaps[i]:.3f} mm apart, {pts[i].round(2).tolist()})",
            "remove the repeated point (consecutive points must be at least "
            f"{MIN_POINT_DISTANCE_MM} mm apart)",
        )
    return pts


def smooth_points(points_mm, min_points: int = 5) -> np.ndarray:
    """The reader's centreline points moved onto a smoothing spline through them.

    Clicked points stray from the vessel axis by a fraction of a millimetre; an
    interpolating spline through close, strayed points wiggles, and its tangent (the
    normal of every cross-section) swings by tens of degrees, which widens or narrows
    the arc a calcification subtends about the centre. A cubic smoothing spline of each
    coordinate against the chord length, with its smoothing chosen by generalised
    cross-validation (``scipy.interpolate.make_smoothing_spline``, Woltring's GCV
    spline), estimates the axis from the points without a chosen tolerance: points on a
    smooth curve stay where they are, strayed ones move towards the curve. With fewer
    than ``min_points`` points (GCV needs 5) the points are returned unchanged.
    """
    pts = check_centerline_points(points_mm)
    if len(pts) < max(min_points, 5):
        return pts
    chord = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
    return make_smoothing_spline(chord, pts)(chord)


def check_inside(volume: Volume, centerline: Centerline, name: str = "image") -> None:
    """Raise :class:`InputError` unless the whole centreline lies inside ``volume``'s grid."""
    pts, _ = centerline.dense(0.5)
    idx = volume.physical_to_index(pts)
    shape = np.asarray(volume.shape)
    outside = np.any((idx < -0.5) | (idx > shape - 0.5), axis=1)
    if outside.any():
        first = pts[np.argmax(outside)]
        raise InputError(
            f"the centreline leaves the {name}: {outside.mean():.0%} of it lies outside "
            f"(first outside point at LPS {first.round(1).tolist()} mm)",
            "draw the centreline on this image, or check that the points are LPS millimetres "
            "of this image's physical space",
        )


def rotation_minimising_frames(
    positions: np.ndarray, tangents: np.ndarray, first_u: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """In-plane axes (u, v) along a curve by parallel transport (double reflection).

    Parameters
    ----------
    positions, tangents : (F, 3) points and unit tangents along the curve.
    first_u : optional first u axis; by default the LPS axis least aligned with the
        first tangent, made perpendicular to it.

    Returns
    -------
    u, v : (F, 3) unit vectors with ``u x v = tangent``.
    """
    t = np.asarray(tangents, dtype=float)
    x = np.asarray(positions, dtype=float)
    if first_u is None:
        first_u = np.eye(3)[int(np.argmin(np.abs(t[0])))]
    r = np.asarray(first_u, dtype=float) - np.dot(first_u, t[0]) * t[0]
    u = np.empty_like(t)
    u[0] = r / np.linalg.norm(r)
    for i in range(len(t) - 1):
        v1 = x[i + 1] - x[i]
        c1 = v1 @ v1
        if c1 < 1e-18:
            u[i + 1] = u[i]
            continue
        r_l = u[i] - (2.0 / c1) * (v1 @ u[i]) * v1
        t_l = t[i] - (2.0 / c1) * (v1 @ t[i]) * v1
        v2 = t[i + 1] - t_l
        c2 = v2 @ v2
        r_next = r_l - (2.0 / c2) * (v2 @ r_l) * v2 if c2 > 1e-18 else r_l
        r_next -= (r_next @ t[i + 1]) * t[i + 1]
        u[i + 1] = r_next / np.linalg.norm(r_next)
    v = np.cross(t, u)
    return u, v


@dataclass(frozen=True, eq=False)
class CrossSections:
    """Geometry of a cross-sectional reformat: square planes along a centreline.

    The reformat array is ``(frame, v, u)``. Frame ``f`` is centred on
    ``centers_mm[f]``, perpendicular to ``tangents[f]``; pixel ``(v, u)`` lies at
    ``center + (u - c) * pixel_mm * u_axis + (v - c) * pixel_mm * v_axis`` with
    ``c = (size - 1) / 2``. Between frames the centre and axes are interpolated
    linearly, which makes the index <-> LPS maps exact inverses of each other.

    Attributes
    ----------
    centers_mm, tangents, u_axes, v_axes : (F, 3) LPS.
    arc_mm : (F,) position of each frame along the centreline (mm from its start).
    pixel_mm : in-plane pixel size (mm).
    size : pixels per side of each plane.
    step_mm : distance between frames along the centreline (mm).
    """

    centers_mm: np.ndarray
    tangents: np.ndarray
    u_axes: np.ndarray
    v_axes: np.ndarray
    arc_mm: np.ndarray
    pixel_mm: float
    size: int
    step_mm: float

    @property
    def shape(self) -> tuple[int, int, int]:
        """Reformat array shape ``(frame, v, u)``."""
        return (len(self.arc_mm), self.size, self.size)

    @property
    def n_frames(self) -> int:
        return len(self.arc_mm)

    @property
    def half_width_mm(self) -> float:
        """Distance from a frame centre to its edge pixels' centres (mm)."""
        return (self.size - 1) / 2.0 * self.pixel_mm

    def _frame_at(self, frame: float):
        f = float(np.clip(frame, 0, self.n_frames - 1))
        f0 = min(int(np.floor(f)), self.n_frames - 2) if self.n_frames > 1 else 0
        w = f - f0
        f1 = min(f0 + 1, self.n_frames - 1)

        def lerp(a):
            return (1 - w) * a[f0] + w * a[f1]

        return lerp(self.centers_mm), lerp(self.u_axes), lerp(self.v_axes), lerp(self.tangents)

    def plane_points(self, frame: int, u_mm, v_mm) -> np.ndarray:
        """LPS points (..., 3) of in-plane offsets ``u_mm``, ``v_mm`` (mm) in frame ``frame``."""
        u_mm = np.asarray(u_mm, dtype=float)[..., None]
        v_mm = np.asarray(v_mm, dtype=float)[..., None]
        return self.centers_mm[frame] + u_mm * self.u_axes[frame] + v_mm * self.v_axes[frame]

    def index_to_physical(self, index_fvu) -> np.ndarray:
        """LPS ``(x, y, z)`` mm of continuous reformat indices ``(..., 3)`` = (frame, v, u)."""
        idx = np.asarray(index_fvu, dtype=float)
        flat = idx.reshape(-1, 3)
        c = (self.size - 1) / 2.0
        out = np.empty_like(flat)
        for n, (f, v, u) in enumerate(flat):
            if not np.isfinite(f):
                out[n] = np.nan
                continue
            center, ua, va, _ = self._frame_at(f)
            out[n] = center + (u - c) * self.pixel_mm * ua + (v - c) * self.pixel_mm * va
        return out.reshape(idx.shape)

    def physical_to_index(self, points_xyz) -> np.ndarray:
        """Continuous reformat indices (frame, v, u) of LPS points ``(..., 3)``.

        A point that lies in no plane of the stack (beyond its ends or outside the
        field of view) gives ``nan``.
        """
        pts = np.asarray(points_xyz, dtype=float)
        flat = pts.reshape(-1, 3)
        out = np.full_like(flat, np.nan)
        c = (self.size - 1) / 2.0
        for n, p in enumerate(flat):
            found = self._locate(p)
            if found is None:
                continue
            f, u_mm, v_mm = found
            out[n] = (f, v_mm / self.pixel_mm + c, u_mm / self.pixel_mm + c)
        return out.reshape(pts.shape)

    def _solve(self, p: np.ndarray, f: float) -> np.ndarray:
        center, ua, va, ta = self._frame_at(f)
        return np.linalg.solve(np.column_stack([ua, va, ta]), p - center)

    def _locate(self, p: np.ndarray):
        rel = p - self.centers_mm
        d = np.einsum("ij,ij->i", rel, self.tangents)
        radial = np.linalg.norm(rel - d[:, None] * self.tangents, axis=1)
        limit = self.half_width_mm * np.sqrt(2.0) + 0.5 * self.pixel_mm
        best = None
        eps = 1e-9
        if self.n_frames == 1:
            candidates = [0] if abs(d[0]) < eps else []
        else:
            candidates = [i for i in range(self.n_frames - 1) if d[i] >= -eps and d[i + 1] <= eps]
            if abs(d[-1]) < eps:
                candidates.append(self.n_frames - 1)
        for i in candidates:
            if radial[i] > limit + self.step_mm:
                continue
            if i == self.n_frames - 1:
                f = float(i)
            else:

                def g(w, i=i):
                    return self._solve(p, i + w)[2]

                g0, g1 = g(0.0), g(1.0)
                if abs(g0) < eps:
                    f = float(i)
                elif abs(g1) < eps:
                    f = float(i + 1)
                elif g0 * g1 > 0:
                    continue
                else:
                    f = i + brentq(g, 0.0, 1.0, xtol=1e-12)
            u_mm, v_mm, _ = self._solve(p, f)
            if max(abs(u_mm), abs(v_mm)) > self.half_width_mm + 0.5 * self.pixel_mm:
                continue
            if best is None or np.hypot(u_mm, v_mm) < np.hypot(best[1], best[2]):
                best = (f, u_mm, v_mm)
        return best

    def grid_points(self, frames=None) -> np.ndarray:
        """LPS points ``(F, size, size, 3)`` of every reformat pixel (optionally some frames)."""
        frames = np.arange(self.n_frames) if frames is None else np.asarray(frames)
        offsets = (np.arange(self.size) - (self.size - 1) / 2.0) * self.pixel_mm
        vv, uu = np.meshgrid(offsets, offsets, indexing="ij")
        return (
            self.centers_mm[frames, None, None, :]
            + uu[None, ..., None] * self.u_axes[frames, None, None, :]
            + vv[None, ..., None] * self.v_axes[frames, None, None, :]
        )

    def polar_points(self, frame: int, angles_rad, radii_mm, center_uv_mm=(0.0, 0.0)):
        """LPS points ``(A, R, 3)`` on rays from an in-plane centre of frame ``frame``.

        Angles are measured from the u axis towards the v axis.
        """
        a = np.asarray(angles_rad, dtype=float)[:, None]
        r = np.asarray(radii_mm, dtype=float)[None, :]
        return self.plane_points(
            frame, center_uv_mm[0] + r * np.cos(a), center_uv_mm[1] + r * np.sin(a)
        )

    def sample(self, volume: Volume, order: int = 1, cval: float = np.nan) -> np.ndarray:
        """Resample ``volume`` onto the reformat: a float32 array ``(frame, v, u)``."""
        out = np.empty(self.shape, dtype=np.float32)
        for f in range(self.n_frames):
            out[f] = sample_physical(volume, self.grid_points([f])[0], order=order, cval=cval)
        return out

    @property
    def scale_mm(self) -> tuple[float, float, float]:
        """Reformat voxel size ``(frame, v, u)`` in mm, e.g. a napari layer ``scale``."""
        return (self.step_mm, self.pixel_mm, self.pixel_mm)

    def geometry_dict(self) -> dict:
        """The stack geometry as plain JSON-able values."""
        return {
            "n_frames": self.n_frames,
            "step_mm": self.step_mm,
            "pixel_mm": self.pixel_mm,
            "size": self.size,
            "field_of_view_mm": self.size * self.pixel_mm,
        }


def sample_physical(volume: Volume, points_xyz, order: int = 1, cval: float = np.nan):
    """Values of ``volume`` at LPS points ``(..., 3)`` (spline ``order``; 0 = nearest).

    Points outside the grid get ``cval``.
    """
    pts = np.asarray(points_xyz, dtype=float)
    idx = volume.physical_to_index(pts.reshape(-1, 3)).T
    values = ndimage.map_coordinates(
        np.asarray(volume.array), idx, order=order, mode="constant", cval=cval, prefilter=False
    )
    return values.reshape(pts.shape[:-1])


def cross_sections(
    centerline: Centerline,
    step_mm: float = 0.25,
    field_of_view_mm: float = 12.0,
    pixel_mm: float = 0.1,
) -> CrossSections:
    """Planes perpendicular to ``centerline`` every ``step_mm`` (mm) from its start.

    Parameters
    ----------
    centerline : the curve.
    step_mm : distance between planes along the curve (mm), e.g. 0.25-0.5.
    field_of_view_mm : side of each square plane (mm).
    pixel_mm : in-plane pixel size (mm).
    """
    for name, value in (
        ("step_mm", step_mm),
        ("field_of_view_mm", field_of_view_mm),
        ("pixel_mm", pixel_mm),
    ):
        if not (np.isfinite(value) and value > 0):
            raise InputError(f"{name} must be a positive number of mm, got {value}")
    n = int(np.floor(centerline.length_mm / step_mm + 1e-9)) + 1
    arc = np.arange(n) * step_mm
    centers = centerline.position(arc)
    tangents = centerline.tangent(arc)
    u, v = rotation_minimising_frames(centers, tangents)
    size = max(3, int(round(field_of_view_mm / pixel_mm)))
    return CrossSections(
        centers_mm=centers,
        tangents=tangents,
        u_axes=u,
        v_axes=v,
        arc_mm=arc,
        pixel_mm=float(pixel_mm),
        size=size,
        step_mm=float(step_mm),
    )


def reformat(
    volume: Volume,
    centerline: Centerline,
    step_mm: float = 0.25,
    field_of_view_mm: float = 12.0,
    pixel_mm: float = 0.1,
    order: int = 1,
) -> tuple[np.ndarray, CrossSections]:
    """Straightened cross-sectional reformat of ``volume`` along ``centerline``.

    Returns
    -------
    array : float32 ``(frame, v, u)``; pixels outside the source grid are ``nan``.
    sections : the :class:`CrossSections` mapping reformat indices <-> LPS mm.
    """
    check_inside(volume, centerline)
    sections = cross_sections(centerline, step_mm, field_of_view_mm, pixel_mm)
    return sections.sample(volume, order=order), sections


def tube_mask(volume: Volume, centerline: Centerline, radius_mm: float) -> np.ndarray:
    """Boolean mask ``(z, y, x)`` of voxels within ``radius_mm`` of the curve.

    Only voxels whose nearest curve point lies between the two ends (not beyond
    them) are included, so the region ends in flat caps.
    """
    from scipy.spatial import cKDTree

    step = min(0.05, min(volume.spacing_mm) / 4)
    pts, _ = centerline.dense(step)
    idx = volume.physical_to_index(pts)
    reach = radius_mm / np.asarray(volume.spacing_zyx_mm) + 2
    lo = np.maximum(np.floor(idx.min(axis=0) - reach), 0).astype(int)
    hi = np.minimum(np.ceil(idx.max(axis=0) + reach) + 1, volume.shape).astype(int)
    mask = np.zeros(volume.shape, dtype=bool)
    if np.any(hi <= lo):
        return mask
    grid = np.stack(
        np.meshgrid(*[np.arange(a, b) for a, b in zip(lo, hi, strict=True)], indexing="ij"),
        axis=-1,
    ).reshape(-1, 3)
    phys = volume.index_to_physical(grid)
    dist, nearest = cKDTree(pts).query(phys, distance_upper_bound=radius_mm + step)
    inside = np.isfinite(dist) & (dist <= radius_mm)
    tangents = centerline.tangent(np.array([0.0, centerline.length_mm]))
    first = (nearest == 0) & (np.einsum("ij,j->i", phys - pts[0], tangents[0]) < -1e-9)
    last = (nearest == len(pts) - 1) & (np.einsum("ij,j->i", phys - pts[-1], tangents[1]) > 1e-9)
    inside &= ~first & ~last
    sel = grid[inside]
    mask[sel[:, 0], sel[:, 1], sel[:, 2]] = True
    return mask
