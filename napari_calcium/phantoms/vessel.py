"""A curved intracranial artery on CT and vessel-wall MRI, with known truth.

The artery's axis is an arc of a circle (radius ``curvature_radius_mm``) tilted
obliquely in LPS space, so no part of it is aligned with the image axes. A point
is described in tube coordinates ``(s, rho, theta)``: ``s`` mm along the axis
from its proximal end, ``rho`` mm from the axis in the perpendicular plane and
``theta`` degrees about the axis, measured from the outward normal of the arc
(away from the circle's centre) towards its binormal. Every structure is defined
in these coordinates, so its arc, thickness, length, areas and volume follow
analytically; the volume element of the curved tube is
``(1 + rho cos(theta) / R) rho drho dtheta ds``.

* :func:`vessel_ct` — non-contrast CT in HU: lumen, three calcifications of
  uniform density (a thin continuous circumferential IEL-type one, a thick patchy
  intimal-type one, a spotty one) and a bony canal outside the vessel region.
  Voxels are set by their centre (no partial volume), so every calcified voxel
  holds exactly ``calcium_hu``.
* :func:`vessel_mri` — black-blood vessel-wall MRI (optionally the post-contrast
  scan) with an eccentric stenosing plaque between normal proximal and distal
  segments; partial volume is modelled by supersampling so edges lie where the
  construction puts them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from napari_calcium.volume import Acquisition, Volume


def rotation_matrix(angles_deg=(25.0, -35.0, 20.0)) -> np.ndarray:
    """Rotation about x, then y, then z (degrees) — a fixed oblique orientation."""
    ax, ay, az = np.deg2rad(angles_deg)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


@dataclass(frozen=True)
class VesselGeometry:
    """An artery whose axis is a circular arc in LPS space.

    Attributes
    ----------
    length_mm : arc length of the axis.
    curvature_radius_mm : radius of the circle the axis follows.
    orientation : 3x3 rotation whose columns are the circle's in-plane axes e1, e2
        and its normal (the binormal b).
    center_mm : LPS centre of the circle.
    """

    length_mm: float = 22.0
    curvature_radius_mm: float = 30.0
    orientation: tuple = tuple(map(tuple, rotation_matrix()))
    center_mm: tuple[float, float, float] = (10.0, -20.0, 35.0)

    @property
    def _axes(self):
        m = np.asarray(self.orientation, dtype=float)
        return m[:, 0], m[:, 1], m[:, 2]

    @property
    def _phi0(self) -> float:
        return -0.5 * self.length_mm / self.curvature_radius_mm

    def axis_points(self, arc_mm) -> np.ndarray:
        """LPS points (..., 3) of the axis at ``arc_mm`` from the proximal end."""
        e1, e2, _ = self._axes
        phi = self._phi0 + np.asarray(arc_mm, dtype=float)[..., None] / self.curvature_radius_mm
        return np.asarray(self.center_mm) + self.curvature_radius_mm * (
            np.cos(phi) * e1 + np.sin(phi) * e2
        )

    def tube_coordinates(self, points_xyz) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(s_mm, rho_mm, theta_deg)`` of LPS points (..., 3); theta in [0, 360)."""
        e1, e2, b = self._axes
        q = np.asarray(points_xyz, dtype=float) - np.asarray(self.center_mm)
        h = q @ b
        x1, x2 = q @ e1, q @ e2
        phi = np.arctan2(x2, x1)
        a = np.hypot(x1, x2) - self.curvature_radius_mm
        s = (phi - self._phi0) * self.curvature_radius_mm
        rho = np.hypot(a, h)
        theta = np.rad2deg(np.arctan2(h, a)) % 360.0
        return s, rho, theta

    def in_plane_offsets(self, points_xyz) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(s_mm, a_mm, h_mm)``: arc position and offsets along the outward normal and b."""
        s, rho, theta = self.tube_coordinates(points_xyz)
        t = np.deg2rad(theta)
        return s, rho * np.cos(t), rho * np.sin(t)

    def centerline_points(self, spacing_mm: float = 3.0, start_mm=0.0, stop_mm=None):
        """Reader-like centreline points (N, 3) LPS every ``spacing_mm`` along the axis."""
        stop_mm = self.length_mm if stop_mm is None else stop_mm
        n = int(np.ceil((stop_mm - start_mm) / spacing_mm)) + 1
        return self.axis_points(np.linspace(start_mm, stop_mm, n))

    def sector_volume_mm3(self, s_range, rho_range, theta_range_deg) -> float:
        """Exact volume of ``{s, rho, theta}`` in the given ranges (theta may wrap)."""
        (s0, s1), (r0, r1), (t0, t1) = s_range, rho_range, theta_range_deg
        t0, t1 = np.deg2rad(t0), np.deg2rad(t1)
        area = 0.5 * (r1**2 - r0**2) * (t1 - t0)
        bend = (r1**3 - r0**3) / 3.0 * (np.sin(t1) - np.sin(t0)) / self.curvature_radius_mm
        return float((s1 - s0) * (area + bend))


def grid_for(
    geometry: VesselGeometry,
    spacing_mm,
    direction=None,
    margin_mm: float = 6.0,
    extra_points=None,
) -> tuple[tuple[int, int, int], tuple[float, float, float], np.ndarray]:
    """Shape ``(z, y, x)``, origin and direction of a grid that holds the artery.

    The grid is aligned with ``direction`` (identity by default) and extends
    ``margin_mm`` beyond the axis in every direction.
    """
    direction = np.eye(3) if direction is None else np.asarray(direction, dtype=float)
    pts = geometry.axis_points(np.linspace(0, geometry.length_mm, 200))
    if extra_points is not None:
        pts = np.vstack([pts, extra_points])
    local = pts @ direction  # coordinates along the grid axes (i, j, k)
    lo = local.min(axis=0) - margin_mm
    hi = local.max(axis=0) + margin_mm
    spacing = np.asarray(spacing_mm, dtype=float)
    n_ijk = np.ceil((hi - lo) / spacing).astype(int) + 1
    origin = direction @ lo
    return tuple(int(n) for n in n_ijk[::-1]), tuple(origin), direction


def _physical_grid(shape, spacing, origin, direction, supersample: int = 1) -> np.ndarray:
    """LPS points of voxel centres, or of ``supersample**3`` sub-voxel points each."""
    vol = Volume(np.zeros(shape, dtype=np.uint8), spacing, origin, direction)
    offs = (np.arange(supersample) + 0.5) / supersample - 0.5
    axes = [np.add.outer(np.arange(n), offs).ravel() for n in shape]
    zz, yy, xx = np.meshgrid(*axes, indexing="ij")
    return vol.index_to_physical(np.stack([zz, yy, xx], axis=-1))


#: Calcifications of :func:`vessel_ct`, in tube coordinates, with their expected
#: Kockelkoren items. Each is a union of boxes ``(s_range, rho_range, theta_range)``.
CT_CALCIFICATIONS = {
    "iel": {
        "boxes": [((2.0, 8.0), (2.2, 3.0), (20.0, 340.0))],
        "circularity": "270-360",
        "thickness_class": "thin",
        "morphology": "continuous",
        "pattern": "IEL-predominant",
        "spotty": False,
    },
    "intimal": {
        "boxes": [
            ((10.0, 12.5), (2.0, 3.8), (0.0, 150.0)),
            ((12.0, 14.5), (2.0, 2.7), (90.0, 200.0)),
        ],
        "circularity": "90-270",
        "thickness_class": "thick",
        "morphology": "irregular",
        "pattern": "intimal-predominant",
        "spotty": False,
    },
    "spotty": {
        "boxes": [((16.5, 18.5), (2.0, 2.8), (200.0, 250.0))],
        "circularity": "dots",
        "thickness_class": "thin",
        "morphology": "indistinguishable",
        "pattern": "absent/indistinguishable",
        "spotty": True,
    },
}


def _in_box(s, rho, theta, box) -> np.ndarray:
    (s0, s1), (r0, r1), (t0, t1) = box
    return (s >= s0) & (s <= s1) & (rho >= r0) & (rho <= r1) & (theta >= t0) & (theta <= t1)


def _calcification_truth(geometry: VesselGeometry, boxes) -> dict:
    s_lo = min(b[0][0] for b in boxes)
    s_hi = max(b[0][1] for b in boxes)
    volume = sum(geometry.sector_volume_mm3(*b) for b in boxes)
    for i, a in enumerate(boxes):  # subtract pairwise overlaps (no triple overlaps here)
        for b in boxes[i + 1 :]:
            inter = [(max(x[0], y[0]), min(x[1], y[1])) for x, y in zip(a, b, strict=True)]
            if all(lo < hi for lo, hi in inter):
                volume -= geometry.sector_volume_mm3(*inter)
    # Largest angular extent in any cross-section: the union of the boxes present at s.
    arc = 0.0
    cuts = sorted({x for b in boxes for x in b[0]})
    for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
        mid = 0.5 * (lo + hi)
        present = [b[2] for b in boxes if b[0][0] <= mid <= b[0][1]]
        covered = np.zeros(3600, dtype=bool)
        for t0, t1 in present:
            covered[int(round(t0 * 10)) : int(round(t1 * 10))] = True
        arc = max(arc, covered.sum() / 10.0)
    thickness = max(b[1][1] - b[1][0] for b in boxes)
    return {
        "volume_mm3": float(volume),
        "length_mm": float(s_hi - s_lo),
        "arc_deg": float(arc),
        "thickness_mm": float(thickness),
        "s_range_mm": [float(s_lo), float(s_hi)],
    }


def vessel_ct(
    spacing_mm=(0.4, 0.4, 0.45),
    direction=None,
    geometry: VesselGeometry | None = None,
    lumen_radius_mm: float = 2.0,
    calcium_hu: float = 420.0,
    blood_hu: float = 45.0,
    tissue_hu: float = 30.0,
    bone_hu: float = 1100.0,
    bone_rho_mm: tuple[float, float] = (6.5, 8.0),
    calcification_specs: dict | None = None,
) -> tuple[Volume, dict]:
    """A non-contrast head-CT patch with a curved calcified artery and a bony canal.

    Parameters
    ----------
    spacing_mm : (x, y, z) voxel size (mm); anisotropic by default.
    direction : grid direction (3x3, columns = index axes in LPS); identity by default.
    geometry : the artery's axis (:class:`VesselGeometry`).
    lumen_radius_mm, calcium_hu, blood_hu, tissue_hu, bone_hu : the construction.
    bone_rho_mm : radial range of the bony canal wall around the artery (mm), on the
        side ``theta`` in [180, 360) degrees — outside a 4.5 mm vessel region.
    calcification_specs : name -> spec as in :data:`CT_CALCIFICATIONS` (``boxes`` in tube
        coordinates, the expected classes, and optionally its own ``calcium_hu``);
        default :data:`CT_CALCIFICATIONS`.

    Returns
    -------
    ct : Volume in HU, modality ``CT``.
    truth : ``calcifications`` (name -> volume_mm3, length_mm, arc_deg,
        thickness_mm, mean/peak HU and the expected classes), ``lumen_radius_mm``,
        ``centerline_mm`` (reader-like points every 3 mm) and the construction.
    """
    geometry = geometry or VesselGeometry()
    shape, origin, direction = grid_for(geometry, spacing_mm, direction, margin_mm=9.0)
    pts = _physical_grid(shape, spacing_mm, origin, direction)
    s, rho, theta = geometry.tube_coordinates(pts)
    along = (s >= -3.0) & (s <= geometry.length_mm + 3.0)
    array = np.full(shape, tissue_hu, dtype=np.float32)
    array[along & (rho <= lumen_radius_mm)] = blood_hu
    array[along & (rho >= bone_rho_mm[0]) & (rho <= bone_rho_mm[1]) & (theta >= 180)] = bone_hu
    calcifications = {}
    for name, spec in (
        CT_CALCIFICATIONS if calcification_specs is None else calcification_specs
    ).items():
        inside = np.zeros(shape, dtype=bool)
        for box in spec["boxes"]:
            inside |= _in_box(s, rho, theta, box)
        hu = float(spec.get("calcium_hu", calcium_hu))
        array[inside] = hu
        truth = _calcification_truth(geometry, spec["boxes"])
        truth.update(
            {k: v for k, v in spec.items() if k not in ("boxes", "calcium_hu")},
            mean_hu=hu,
            peak_hu=hu,
            voxel_count=int(inside.sum()),
        )
        calcifications[name] = truth
    ct = Volume(
        array=array,
        spacing_mm=spacing_mm,
        origin_mm=origin,
        direction=direction,
        modality="CT",
        units="HU",
        acquisition=Acquisition(kvp=120.0, slice_thickness_mm=float(spacing_mm[2])),
    )
    truth = {
        "calcifications": calcifications,
        "lumen_radius_mm": lumen_radius_mm,
        "calcium_hu": calcium_hu,
        "bone_hu": bone_hu,
        "bone_rho_mm": list(bone_rho_mm),
        "centerline_mm": geometry.centerline_points(3.0).tolist(),
        "length_mm": geometry.length_mm,
    }
    return ct, truth


@dataclass(frozen=True)
class PlaqueSpec:
    """An eccentric stenosing plaque of :func:`vessel_mri` (all in mm / degrees).

    Along the axis a weight ``w(s)`` is 1 on ``[center - plateau/2, center +
    plateau/2]``, falls as ``cos^2`` to 0 over ``taper_mm`` each side and is 0 in the
    normal segments. The lumen radius is ``lumen_ref - (lumen_ref - lumen_min) w``,
    the outer-wall radius ``outer_ref + (outer_max - outer_ref) w``, and the lumen
    centre is shifted by ``offset_max * w`` towards ``offset_theta_deg``.
    """

    center_mm: float = 12.0
    plateau_mm: float = 2.0
    taper_mm: float = 2.5
    lumen_ref_mm: float = 2.0
    lumen_min_mm: float = 1.2
    outer_ref_mm: float = 2.8
    outer_max_mm: float = 3.2
    offset_max_mm: float = 0.8
    offset_theta_deg: float = 60.0
    #: post/pre wall signal at the plaque; ``None``: :func:`vessel_mri`'s
    #: ``plaque_enhancement``
    enhancement: float | None = None

    def weight(self, s) -> np.ndarray:
        d = np.abs(np.asarray(s, dtype=float) - self.center_mm) - self.plateau_mm / 2
        w = np.cos(0.5 * np.pi * np.clip(d / self.taper_mm, 0.0, 1.0)) ** 2
        return np.where(d <= 0, 1.0, w)

    def radii(self, s):
        """Lumen radius, outer radius and lumen-centre offset (mm) at ``s``."""
        w = self.weight(s)
        lumen = self.lumen_ref_mm - (self.lumen_ref_mm - self.lumen_min_mm) * w
        outer = self.outer_ref_mm + (self.outer_max_mm - self.outer_ref_mm) * w
        return lumen, outer, self.offset_max_mm * w


def vessel_mri(
    spacing_mm=(0.3, 0.3, 0.35),
    direction=None,
    geometry: VesselGeometry | None = None,
    plaque: PlaqueSpec | None = None,
    lumen_si: float = 20.0,
    wall_si: float = 300.0,
    tissue_si: float = 120.0,
    post_contrast: bool = False,
    plaque_enhancement: float = 1.8,
    normal_wall_enhancement: float = 1.2,
    supersample: int = 2,
    plaques: list[PlaqueSpec] | None = None,
) -> tuple[Volume, dict]:
    """Black-blood vessel-wall MRI of the artery with eccentric stenosing plaques.

    Parameters
    ----------
    spacing_mm, direction, geometry : grid and artery as in :func:`vessel_ct`.
    plaque : :class:`PlaqueSpec` (one plaque); ``plaques`` gives several instead,
        which must not overlap along the artery (their normal-segment radii are the
        first one's).
    lumen_si, wall_si, tissue_si : signal of the (dark) lumen, the wall and the
        surrounding tissue (a.u.).
    post_contrast : the post-contrast scan: the wall signal is multiplied by
        ``normal_wall_enhancement + (enhancement - normal_wall_enhancement) w(s)``,
        ``enhancement`` being the plaque's own or ``plaque_enhancement``.
    supersample : sub-voxel points per axis for partial volume.

    Returns
    -------
    mri : Volume, modality ``MR``.
    truth : narrowest-site and reference-site lumen area, outer wall area, wall
        area, max/min wall thickness, eccentricity index, stenosis (WASID),
        remodeling index and class, and the enhancement ratio (post/pre plaque
        signal normalised by post/pre normal-wall signal) of the first plaque, and
        the same for every plaque under ``plaques``.
    """
    geometry = geometry or VesselGeometry()
    specs = list(plaques) if plaques else [plaque or PlaqueSpec()]
    lref, oref = specs[0].lumen_ref_mm, specs[0].outer_ref_mm
    shape, origin, direction = grid_for(geometry, spacing_mm, direction, margin_mm=4.5)
    pts = _physical_grid(shape, spacing_mm, origin, direction, supersample)
    s, a, h = geometry.in_plane_offsets(pts)
    lumen_r = np.full(s.shape, lref)
    outer_r = np.full(s.shape, oref)
    shift_a, shift_h = np.zeros(s.shape), np.zeros(s.shape)
    wall_gain = np.full(s.shape, normal_wall_enhancement) if post_contrast else 1.0
    for spec in specs:
        w = spec.weight(s)
        lumen_r -= (lref - spec.lumen_min_mm) * w
        outer_r += (spec.outer_max_mm - oref) * w
        t0 = np.deg2rad(spec.offset_theta_deg)
        shift_a += spec.offset_max_mm * w * np.cos(t0)
        shift_h += spec.offset_max_mm * w * np.sin(t0)
        if post_contrast:
            gain = plaque_enhancement if spec.enhancement is None else spec.enhancement
            wall_gain = wall_gain + (gain - normal_wall_enhancement) * w
    in_lumen = np.hypot(a - shift_a, h - shift_h) <= lumen_r
    in_outer = np.hypot(a, h) <= outer_r
    along = (s >= -3.0) & (s <= geometry.length_mm + 3.0)
    values = np.full(s.shape, tissue_si, dtype=np.float64)
    values = np.where(along & in_outer, wall_si * wall_gain, values)
    values = np.where(along & in_lumen, lumen_si, values)
    k = supersample
    values = values.reshape(shape[0], k, shape[1], k, shape[2], k).mean(axis=(1, 3, 5))
    mri = Volume(
        array=values.astype(np.float32),
        spacing_mm=spacing_mm,
        origin_mm=origin,
        direction=direction,
        modality="MR",
        units="a.u.",
    )
    truths = [
        _plaque_truth(
            spec,
            plaque_enhancement if spec.enhancement is None else spec.enhancement,
            normal_wall_enhancement,
        )
        for spec in specs
    ]
    truth = {
        **truths[0],
        "centerline_mm": geometry.centerline_points(3.0).tolist(),
        "plaques": truths,
    }
    return mri, truth


def _plaque_truth(plaque: PlaqueSpec, enhancement: float, normal_wall_enhancement: float):
    """Construction truth of one plaque of :func:`vessel_mri`."""
    lmin, omax, d = plaque.lumen_min_mm, plaque.outer_max_mm, plaque.offset_max_mm
    lref, oref = plaque.lumen_ref_mm, plaque.outer_ref_mm
    ri = (omax / oref) ** 2
    return {
        "narrowest": {
            "lumen_area_mm2": np.pi * lmin**2,
            "outer_wall_area_mm2": np.pi * omax**2,
            "wall_area_mm2": np.pi * (omax**2 - lmin**2),
            "max_wall_thickness_mm": omax - lmin + d,
            "min_wall_thickness_mm": omax - lmin - d,
            "eccentricity_index": 2 * d / (omax - lmin + d),
            "plaque_burden_pct": 100 * (1 - lmin**2 / omax**2),
            "arc_range_mm": [
                plaque.center_mm - plaque.plateau_mm / 2,
                plaque.center_mm + plaque.plateau_mm / 2,
            ],
        },
        "reference": {
            "lumen_area_mm2": np.pi * lref**2,
            "outer_wall_area_mm2": np.pi * oref**2,
            "wall_thickness_mm": oref - lref,
            "arc_range_mm": [0.0, plaque.center_mm - plaque.plateau_mm / 2 - plaque.taper_mm],
        },
        "stenosis_pct": 100 * (1 - lmin / lref),
        "remodeling_index": ri,
        "remodeling": "positive" if ri >= 1.05 else ("negative" if ri <= 0.95 else "intermediate"),
        "enhancement_ratio": enhancement / normal_wall_enhancement,
        "plaque": plaque.__dict__,
    }
