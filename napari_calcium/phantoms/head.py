"""A synthetic head seen by CT and by T1 black-blood vessel-wall MRI, with known truth.

The head is defined analytically in the CT's physical frame (LPS, mm): scalp, skull,
CSF, grey and white matter, lateral and third ventricles, and asymmetric structures
(a left deep-grey nucleus, a calcified pineal gland, a right-sided lesion, the upper
falx and two eyes) so that a rigid registration has a single answer. An intracranial
artery (a curved tube) runs through the left hemisphere; a stretch of its wall holds a
thin, continuous, circumferential calcified ring (an IEL-predominant pattern).

The MRI images the same head in another frame: an MRI physical point ``q`` shows the
anatomy at CT physical point ``T⁻¹(q)``, where ``T`` is a known rigid
``Euler3DTransform`` about the head centre. ``T`` maps CT physical points to MRI
physical points, which is the transform an ITK registration with the CT fixed and the
MRI moving estimates. :func:`vessel_wall_mri` adds a 0.5 mm vessel-wall slab around the
artery in that same MRI space (one session: the whole-head T1 for registration, the
slab for the wall).

Both images are rendered with partial volume (each voxel averages sub-voxel samples,
finer near the artery), so thin structures keep their analytic amount of material.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from napari_calcium.volume import Volume

#: Tissue ids used while rendering (later entries overwrite earlier ones).
TISSUES = {
    "air": 0,
    "scalp": 1,
    "skull": 2,
    "csf": 3,
    "grey_matter": 4,
    "white_matter": 5,
    "ventricle": 6,
    "deep_grey": 7,
    "pineal_calcification": 8,
    "lesion": 9,
    "falx": 10,
    "eye": 11,
    "lumen": 12,
    "vessel_wall": 13,
    "wall_calcification": 14,
}

#: CT values (HU) per tissue id.
CT_HU = np.array([-1000, 30, 1000, 8, 38, 28, 5, 42, 250, 18, 60, 12, 40, 45, 450], dtype=float)

#: T1 black-blood MRI signal (a.u.) per tissue id: skull, CSF, lumen and calcium dark.
MRI_T1 = np.array([0, 700, 40, 90, 380, 500, 90, 340, 60, 220, 120, 150, 25, 560, 40], dtype=float)

#: Ventricle label ids of ``truth["labels_ct"]`` / ``truth["labels_mri"]``.
VENTRICLE_LABELS = {
    1: "left lateral ventricle",
    2: "right lateral ventricle",
    3: "third ventricle",
}


@dataclass(frozen=True)
class _Ellipsoid:
    """Ellipsoid with ``centre`` relative to the head centre, ``semi_axes_mm`` and a
    rotation (degrees about x, y, z) of its axes."""

    centre: tuple[float, float, float]
    semi_axes_mm: tuple[float, float, float]
    rotation_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __post_init__(self):
        object.__setattr__(self, "_rotation", _rotation_matrix(np.deg2rad(self.rotation_deg)))

    def contains(self, p_rel: np.ndarray) -> np.ndarray:
        reach = max(self.semi_axes_mm)
        inside = np.abs(p_rel[:, 2] - self.centre[2]) <= reach
        inside &= np.abs(p_rel[:, 0] - self.centre[0]) <= reach
        candidates = np.nonzero(inside)[0]
        local = p_rel[candidates] - np.asarray(self.centre)
        if self.rotation_deg != (0.0, 0.0, 0.0):
            local = local @ self._rotation
        inside[candidates] = np.sum((local / np.asarray(self.semi_axes_mm)) ** 2, axis=-1) <= 1.0
        return inside

    @property
    def volume_mm3(self) -> float:
        return float(4.0 / 3.0 * np.pi * np.prod(self.semi_axes_mm))


def _rotation_matrix(angles_rad) -> np.ndarray:
    """ITK ``Euler3DTransform`` rotation (angles about x, y, z; Z·X·Y order)."""
    import SimpleITK as sitk

    t = sitk.Euler3DTransform((0.0, 0.0, 0.0), *[float(a) for a in angles_rad])
    return np.asarray(t.GetMatrix()).reshape(3, 3)


SCALP = _Ellipsoid((0, 0, 0), (72, 92, 78))
SKULL = _Ellipsoid((0, 0, 0), (67, 87, 73))
SKULL_INNER = _Ellipsoid((0, 0, 0), (61, 81, 67))
BRAIN = _Ellipsoid((0, 0, 0), (59, 79, 65))
WHITE_MATTER = _Ellipsoid((0, 2, 4), (45, 62, 48))
VENTRICLES = (
    _Ellipsoid((9, -2, 12), (8, 24, 10), (8, 0, -6)),  # left (LPS: +x is left)
    _Ellipsoid((-8, 2, 10), (6.5, 21, 9), (-5, 0, 5)),  # right, smaller
    _Ellipsoid((0, 6, -6), (2.5, 10, 8)),  # third
)
DEEP_GREY = _Ellipsoid((24, -6, -3), (8, 12, 10), (0, 0, 15))
PINEAL = _Ellipsoid((0, 30, 0), (4, 4, 4))
LESION = _Ellipsoid((-30, 32, 26), (9, 9, 9))
EYES = (_Ellipsoid((32, -80, -22), (12, 12, 12)), _Ellipsoid((-32, -80, -22), (12, 12, 12)))


@dataclass(frozen=True)
class _Artery:
    """A tube along a straight segment followed by a circular bend (head-relative mm).

    Like an intracranial artery in its cistern, the tube runs in a sleeve of CSF
    (``csf_sleeve_mm`` beyond the outer wall), which gives black-blood MRI its contrast
    at the outer wall.
    """

    start: tuple[float, float, float] = (5.0, -10.0, -16.0)
    direction: tuple[float, float, float] = (1.0, -0.2, 0.15)
    straight_mm: float = 24.0
    bend_radius_mm: float = 22.0
    bend_deg: float = 75.0
    lumen_radius_mm: float = 1.75
    wall_thickness_mm: float = 1.0
    csf_sleeve_mm: float = 1.5
    calc_start_mm: float = 9.0  # arc length along the centreline
    calc_length_mm: float = 6.0
    calc_arc_deg: float = 300.0
    calc_inner_radius_mm: float = 1.95
    calc_thickness_mm: float = 0.6

    @property
    def u(self) -> np.ndarray:
        d = np.asarray(self.direction, dtype=float)
        return d / np.linalg.norm(d)

    @property
    def frame(self) -> tuple[np.ndarray, np.ndarray]:
        """Two unit vectors perpendicular to the straight segment (angle 0 along the first)."""
        u = self.u
        e1 = np.cross(u, [0.0, 0.0, 1.0])
        e1 /= np.linalg.norm(e1)
        return e1, np.cross(u, e1)

    @property
    def length_mm(self) -> float:
        return self.straight_mm + np.deg2rad(self.bend_deg) * self.bend_radius_mm

    def centreline(self, step_mm: float) -> np.ndarray:
        """Head-relative centreline points every ``step_mm`` of arc length (N, 3)."""
        s = np.arange(0.0, self.length_mm + 1e-9, step_mm)
        return self.point_at(s)

    def point_at(self, s: np.ndarray) -> np.ndarray:
        s = np.asarray(s, dtype=float)[:, None]
        u = self.u
        _, e2 = self.frame  # bend towards e2 (upwards component)
        p0 = np.asarray(self.start)
        straight = p0 + np.minimum(s, self.straight_mm) * u
        theta = np.clip(s - self.straight_mm, 0.0, None) / self.bend_radius_mm
        bend = self.bend_radius_mm * (np.sin(theta) * u + (1.0 - np.cos(theta)) * e2)
        return straight + bend

    @property
    def outer_radius_mm(self) -> float:
        return self.lumen_radius_mm + self.wall_thickness_mm

    @property
    def calc_volume_mm3(self) -> float:
        """Ring sector volume: arc/360 · π (r_out² − r_in²) · length (straight segment)."""
        r_in = self.calc_inner_radius_mm
        r_out = r_in + self.calc_thickness_mm
        return self.calc_arc_deg / 360.0 * np.pi * (r_out**2 - r_in**2) * self.calc_length_mm

    def label(self, p_rel: np.ndarray, labels: np.ndarray, tree) -> None:
        """Paint lumen, wall and calcification ids into ``labels`` (in place)."""
        points = self.centreline(1.0)
        reach = self.outer_radius_mm + self.csf_sleeve_mm
        near = np.all(
            (p_rel >= points.min(axis=0) - reach - 1.0)
            & (p_rel <= points.max(axis=0) + reach + 1.0),
            axis=1,
        )
        if not near.any():
            return
        p_near = p_rel[near]
        near_labels = labels[near]
        distance, _ = tree.query(p_near, distance_upper_bound=reach)
        near_labels[(distance <= reach) & (near_labels != TISSUES["air"])] = TISSUES["csf"]
        near_labels[distance <= self.outer_radius_mm] = TISSUES["vessel_wall"]
        near_labels[distance <= self.lumen_radius_mm] = TISSUES["lumen"]
        self._label_calcification(p_near, near_labels)
        labels[near] = near_labels

    def _label_calcification(self, p_rel: np.ndarray, labels: np.ndarray) -> None:
        rel = p_rel - np.asarray(self.start)
        s = rel @ self.u
        radial = rel - s[:, None] * self.u
        e1, e2 = self.frame
        r = np.linalg.norm(radial, axis=1)
        angle = np.rad2deg(np.arctan2(radial @ e2, radial @ e1)) % 360.0
        calc = (
            (s >= self.calc_start_mm)
            & (s <= self.calc_start_mm + self.calc_length_mm)
            & (r >= self.calc_inner_radius_mm)
            & (r <= self.calc_inner_radius_mm + self.calc_thickness_mm)
            & (angle < self.calc_arc_deg)
        )
        labels[calc] = TISSUES["wall_calcification"]


ARTERY = _Artery()


def _tissue_labels(p_rel: np.ndarray, tree, artery: _Artery) -> np.ndarray:
    """Tissue id at head-relative points ``(N, 3)`` (LPS mm)."""
    labels = np.zeros(len(p_rel), dtype=np.uint8)
    in_head = np.nonzero(SCALP.contains(p_rel))[0]
    head = p_rel[in_head]
    head_labels = np.full(len(head), TISSUES["scalp"], dtype=np.uint8)
    for shape, name in (
        (SKULL, "skull"),
        (SKULL_INNER, "csf"),
        (BRAIN, "grey_matter"),
        (WHITE_MATTER, "white_matter"),
        (DEEP_GREY, "deep_grey"),
    ):
        head_labels[shape.contains(head)] = TISSUES[name]
    falx = (np.abs(head[:, 0]) < 1.0) & (head[:, 2] > 22.0) & BRAIN.contains(head)
    head_labels[falx] = TISSUES["falx"]
    for shape in VENTRICLES:
        head_labels[shape.contains(head)] = TISSUES["ventricle"]
    head_labels[PINEAL.contains(head)] = TISSUES["pineal_calcification"]
    head_labels[LESION.contains(head)] = TISSUES["lesion"]
    labels[in_head] = head_labels
    for eye in EYES:
        labels[eye.contains(p_rel)] = TISSUES["eye"]
    artery.label(p_rel, labels, tree)
    return labels


def _ventricle_labels(p_rel: np.ndarray) -> np.ndarray:
    labels = np.zeros(len(p_rel), dtype=np.uint8)
    for label, shape in zip(VENTRICLE_LABELS, VENTRICLES, strict=True):
        labels[shape.contains(p_rel)] = label
    return labels


def _render(
    grid: Volume,
    head_from_physical: np.ndarray,
    centre: np.ndarray,
    lut: np.ndarray,
    supersample: int,
    artery_supersample: int,
    artery: _Artery = ARTERY,
) -> np.ndarray:
    """Partial-volume rendering of ``lut[tissue]`` on ``grid`` (float32, ``(z, y, x)``).

    Voxels whose centre tissue differs from a face neighbour's are averaged over
    ``supersample³`` sub-samples; voxels near the artery over ``artery_supersample³``.
    ``artery`` is the tube drawn (:data:`ARTERY`; a test draws it without its ring).
    """
    from scipy.spatial import cKDTree

    tree = cKDTree(artery.centreline(0.05))
    index_to_head = head_from_physical @ grid.index_to_physical_matrix

    def mean_value(idx: np.ndarray, n: int) -> np.ndarray:
        offsets = (np.arange(n) + 0.5) / n - 0.5
        total = np.zeros(len(idx))
        for off in np.stack(np.meshgrid(offsets, offsets, offsets), -1).reshape(-1, 3):
            p = (idx + off) @ index_to_head[:3, :3].T + index_to_head[:3, 3] - centre
            total += lut[_tissue_labels(p, tree, artery)]
        return total / n**3

    def voxels(mask_or_box) -> np.ndarray:
        return np.stack(mask_or_box, axis=1).astype(float)

    nz, ny, nx = grid.shape
    labels = np.empty(grid.shape, dtype=np.uint8)
    step = max(1, 500_000 // (ny * nx))
    for z0 in range(0, nz, step):
        z1 = min(nz, z0 + step)
        idx = np.indices((z1 - z0, ny, nx), dtype=np.float32).reshape(3, -1).T + (z0, 0, 0)
        p = idx @ index_to_head[:3, :3].T + index_to_head[:3, 3] - centre
        labels[z0:z1] = _tissue_labels(p, tree, artery).reshape(z1 - z0, ny, nx)
    out = lut[labels].astype(np.float32)

    if supersample > 1:
        edge = np.zeros(grid.shape, dtype=bool)
        for axis in range(3):
            differs = np.diff(labels, axis=axis) != 0
            lo = [slice(None)] * 3
            hi = [slice(None)] * 3
            lo[axis] = slice(0, -1)
            hi[axis] = slice(1, None)
            edge[tuple(lo)] |= differs
            edge[tuple(hi)] |= differs
        where = np.nonzero(edge)
        chunk = 100_000
        for start in range(0, len(where[0]), chunk):
            part = tuple(w[start : start + chunk] for w in where)
            out[part] = mean_value(voxels(part), supersample)

    # Finer sampling around the artery, where the calcified ring is thinner than a voxel.
    points = artery.centreline(1.0)
    margin = artery.outer_radius_mm + max(grid.spacing_mm)  # > half a voxel diagonal
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]) * margin
    box = (points[:, None, :] + corners[None]).reshape(-1, 3) + centre
    physical = (box - head_from_physical[:3, 3]) @ np.linalg.inv(head_from_physical[:3, :3]).T
    idx = grid.physical_to_index(physical)
    lo = np.clip(np.floor(idx.min(axis=0)).astype(int), 0, grid.shape)
    hi = np.clip(np.ceil(idx.max(axis=0)).astype(int) + 1, 0, grid.shape)
    if np.all(hi > lo):
        box_idx = np.indices(hi - lo).reshape(3, -1).T + lo
        distance, _ = tree.query(
            box_idx @ index_to_head[:3, :3].T + index_to_head[:3, 3] - centre,
            distance_upper_bound=margin,
        )
        near = box_idx[np.isfinite(distance)]
        part = tuple(near.T)
        out[part] = mean_value(near.astype(float), artery_supersample)
    return out


def _grid(centre_mm, fov_mm, spacing_mm) -> Volume:
    spacing = np.asarray(spacing_mm, dtype=float)
    shape_xyz = np.maximum(1, np.round(np.asarray(fov_mm) / spacing).astype(int))
    origin = np.asarray(centre_mm) - spacing * (shape_xyz - 1) / 2.0
    return Volume(
        np.zeros(tuple(shape_xyz[::-1]), dtype=np.float32),
        spacing_mm=tuple(spacing),
        origin_mm=tuple(origin),
    )


def head_ct_mri(
    rotation_deg: tuple[float, float, float] = (6.0, -4.0, 8.0),
    translation_mm: tuple[float, float, float] = (8.0, -6.0, 5.0),
    *,
    ct_spacing_mm: tuple[float, float, float] = (1.25, 1.25, 1.5),
    mri_spacing_mm: tuple[float, float, float] = (1.0, 1.0, 1.0),
    ct_fov_mm: tuple[float, float, float] = (170.0, 210.0, 170.0),
    mri_fov_mm: tuple[float, float, float] = (150.0, 180.0, 130.0),
    mri_fov_offset_mm: tuple[float, float, float] = (0.0, -8.0, 10.0),
    head_centre_mm: tuple[float, float, float] = (2.0, -15.0, 40.0),
    ct_noise_hu: float = 5.0,
    mri_noise: float = 0.02,
    mri_bias: float = 0.15,
    supersample: int = 2,
    artery_supersample: int = 4,
    seed: int = 0,
) -> tuple[Volume, Volume, dict]:
    """A head CT and a T1 black-blood MRI of the same head, related by a known rigid transform.

    Parameters
    ----------
    rotation_deg : Euler angles (about LPS x, y, z, degrees; ITK ``Euler3DTransform``
        Z·X·Y order) of the rigid transform ``T`` from CT to MRI physical space, about
        the head centre.
    translation_mm : translation of ``T`` (LPS x, y, z, mm).
    ct_spacing_mm, mri_spacing_mm : voxel sizes (x, y, z), mm.
    ct_fov_mm, mri_fov_mm : fields of view (x, y, z), mm; the CT's is centred on the
        head, the MRI's on the transformed head centre plus ``mri_fov_offset_mm``.
    head_centre_mm : LPS position of the head centre in CT space (mm).
    ct_noise_hu : standard deviation of Gaussian CT noise (HU).
    mri_noise : Rician noise standard deviation as a fraction of white-matter signal.
    mri_bias : amplitude of the smooth multiplicative MRI bias field
        (``exp(mri_bias · f)`` with ``f`` in [-1, 1] across the field of view).
    supersample, artery_supersample : sub-samples per voxel axis for partial volume,
        everywhere and around the artery.
    seed : random seed of the noise.

    Returns
    -------
    ct : Volume, modality ``CT``, int16 HU, ``(z, y, x)``.
    mri : Volume, modality ``MR``, float32, ``(z, y, x)``.
    truth : dict of plain values with units in the keys, plus the ventricle label
        Volumes ``labels_ct`` and ``labels_mri`` (ids in ``ventricle_labels``):
        ``transform`` (``matrix_4x4`` and ITK Euler parameters of ``T``, CT -> MRI),
        ``landmarks_ct_mm`` / ``landmarks_mri_mm`` (12 points spread through the
        head and their images under ``T``), ``artery`` (``centerline_mm`` every 1 mm in
        CT LPS, lumen and wall sizes, ``calcification`` facts) and tissue values.
    """
    import SimpleITK as sitk

    rng = np.random.default_rng(seed)
    centre = np.asarray(head_centre_mm, dtype=float)
    transform = sitk.Euler3DTransform(
        tuple(centre), *np.deg2rad(rotation_deg).tolist(), tuple(float(t) for t in translation_mm)
    )
    ct_to_mri = np.eye(4)
    ct_to_mri[:3, :3] = np.asarray(transform.GetMatrix()).reshape(3, 3)
    ct_to_mri[:3, 3] = transform.TransformPoint((0.0, 0.0, 0.0))
    mri_to_ct = np.linalg.inv(ct_to_mri)

    ct_grid = _grid(centre, ct_fov_mm, ct_spacing_mm)
    ct_values = _render(ct_grid, np.eye(4), centre, CT_HU, supersample, artery_supersample)
    ct_values += rng.normal(0.0, ct_noise_hu, ct_values.shape).astype(np.float32)
    ct = ct_grid.replace(
        array=np.clip(np.round(ct_values), -1024, 3071).astype(np.int16),
        modality="CT",
        units="HU",
    )

    mri_centre = transform.TransformPoint(tuple(centre)) + np.asarray(mri_fov_offset_mm)
    mri_grid = _grid(mri_centre, mri_fov_mm, mri_spacing_mm)
    mri_values = _render(mri_grid, mri_to_ct, centre, MRI_T1, supersample, artery_supersample)
    mri_values *= _bias_field(mri_grid, mri_bias)
    mri_values = _rician(mri_values, mri_noise, rng)
    mri = mri_grid.replace(array=mri_values, modality="MR", units="a.u.")

    landmarks_ct = centre + np.array(
        [[x, y, z] for x in (-35.0, 35.0) for y in (-45.0, 45.0) for z in (-30.0, 30.0)]
        + [[0.0, 0.0, 0.0], [0.0, -60.0, 0.0], [0.0, 0.0, 50.0], [45.0, 10.0, -10.0]]
    )
    calc_start = ARTERY.point_at([ARTERY.calc_start_mm])[0] + centre
    calc_end = ARTERY.point_at([ARTERY.calc_start_mm + ARTERY.calc_length_mm])[0] + centre
    truth = {
        "transform": {
            "type": "Euler3DTransform",
            "direction": "CT physical (LPS mm) -> MRI physical (LPS mm)",
            "rotation_deg": [float(a) for a in rotation_deg],
            "translation_mm": [float(t) for t in translation_mm],
            "center_mm": centre.tolist(),
            "parameters": list(transform.GetParameters()),
            "fixed_parameters": list(transform.GetFixedParameters()),
            "matrix_4x4": ct_to_mri.tolist(),
        },
        "head_centre_mm": centre.tolist(),
        "landmarks_ct_mm": landmarks_ct.tolist(),
        "landmarks_mri_mm": transform_points_4x4(ct_to_mri, landmarks_ct).tolist(),
        "artery": {
            "centerline_mm": (ARTERY.centreline(1.0) + centre).tolist(),
            "length_mm": float(ARTERY.length_mm),
            "lumen_diameter_mm": 2 * ARTERY.lumen_radius_mm,
            "wall_thickness_mm": ARTERY.wall_thickness_mm,
            "lumen_hu": float(CT_HU[TISSUES["lumen"]]),
            "calcification": {
                "pattern": "IEL-predominant (thin, continuous, circumferential)",
                "arc_deg": ARTERY.calc_arc_deg,
                "thickness_mm": ARTERY.calc_thickness_mm,
                "length_mm": ARTERY.calc_length_mm,
                "inner_radius_mm": ARTERY.calc_inner_radius_mm,
                "volume_mm3": float(ARTERY.calc_volume_mm3),
                "density_hu": float(CT_HU[TISSUES["wall_calcification"]]),
                "start_mm": calc_start.tolist(),
                "end_mm": calc_end.tolist(),
                "centerline_start_index": int(round(ARTERY.calc_start_mm)),
            },
        },
        "ventricle_labels": {str(k): v for k, v in VENTRICLE_LABELS.items()},
        "ventricle_volumes_mm3": {
            str(k): shape.volume_mm3 for k, shape in zip(VENTRICLE_LABELS, VENTRICLES, strict=True)
        },
        "tissue_ct_hu": {name: float(CT_HU[i]) for name, i in TISSUES.items()},
        "tissue_mri_t1": {name: float(MRI_T1[i]) for name, i in TISSUES.items()},
        "labels_ct": _labels_volume(ct_grid, np.eye(4), centre),
        "labels_mri": _labels_volume(mri_grid, mri_to_ct, centre),
        "settings": {
            "ct_spacing_mm": list(ct.spacing_mm),
            "mri_spacing_mm": list(mri.spacing_mm),
            "ct_noise_hu": ct_noise_hu,
            "mri_noise": mri_noise,
            "mri_bias": mri_bias,
            "seed": seed,
        },
    }
    return ct, mri, truth


def vessel_wall_mri(
    truth: dict,
    spacing_mm: float = 0.5,
    margin_mm: float = 8.0,
    noise: float = 0.02,
    supersample: int = 2,
    artery_supersample: int = 4,
    seed: int = 1,
) -> Volume:
    """A targeted 3-D black-blood vessel-wall slab of the head's artery.

    Acquired in the same session as :func:`head_ct_mri`'s whole-head T1, so it shares
    that MRI's physical space: the CT -> MRI transform of ``truth`` (or one found by
    registering the whole-head T1) carries it onto the CT. The slab is isotropic
    ``spacing_mm`` (intracranial vessel-wall imaging is 0.4-0.55 mm in-plane) and
    covers the artery with ``margin_mm`` around it, with Rician noise of ``noise``
    times the white-matter signal and no bias field (small field of view).
    """
    ct_to_mri = np.asarray(truth["transform"]["matrix_4x4"])
    centre = np.asarray(truth["head_centre_mm"])
    line = transform_points_4x4(ct_to_mri, truth["artery"]["centerline_mm"])
    low, high = line.min(axis=0) - margin_mm, line.max(axis=0) + margin_mm
    grid = _grid((low + high) / 2, high - low, (spacing_mm,) * 3)
    values = _render(
        grid, np.linalg.inv(ct_to_mri), centre, MRI_T1, supersample, artery_supersample
    )
    values = _rician(values, noise, np.random.default_rng(seed))
    return grid.replace(array=values, modality="MR", units="a.u.")


def _rician(values: np.ndarray, noise: float, rng) -> np.ndarray:
    """MR magnitude with Rician noise of ``noise`` times the white-matter signal (float32)."""
    sigma = noise * MRI_T1[TISSUES["white_matter"]]
    if sigma > 0:
        real = values + rng.normal(0.0, sigma, values.shape)
        imaginary = rng.normal(0.0, sigma, values.shape)
        values = np.hypot(real, imaginary)
    return values.astype(np.float32)


def transform_points_4x4(matrix: np.ndarray, points_xyz) -> np.ndarray:
    """Apply a 4x4 affine to LPS points ``(N, 3)``."""
    pts = np.asarray(points_xyz, dtype=float)
    return pts @ np.asarray(matrix)[:3, :3].T + np.asarray(matrix)[:3, 3]


def truth_transform(truth: dict):
    """The true CT -> MRI transform of a :func:`head_ct_mri` truth as a SimpleITK transform."""
    import SimpleITK as sitk

    t = sitk.Euler3DTransform()
    t.SetFixedParameters(truth["transform"]["fixed_parameters"])
    t.SetParameters(truth["transform"]["parameters"])
    return t


def _labels_volume(grid: Volume, head_from_physical: np.ndarray, centre) -> Volume:
    index_to_head = head_from_physical @ grid.index_to_physical_matrix
    idx = np.indices(grid.shape, dtype=np.float32).reshape(3, -1).T
    p = idx @ index_to_head[:3, :3].T.astype(np.float32) + (index_to_head[:3, 3] - centre)
    labels = _ventricle_labels(p).reshape(grid.shape)
    return grid.replace(array=labels, modality="LABELS", units="label")


def _bias_field(grid: Volume, amplitude: float) -> np.ndarray:
    """Smooth multiplicative field ``exp(amplitude · f)``, ``f`` in [-1, 1] (linear + quadratic)."""
    if amplitude == 0:
        return np.ones(grid.shape, dtype=np.float32)
    z, y, x = (np.linspace(-1.0, 1.0, n) for n in grid.shape)
    zz, yy, xx = np.meshgrid(z, y, x, indexing="ij")
    f = 0.5 * xx - 0.3 * yy + 0.2 * zz + 0.4 * (xx**2 + zz**2) - 0.4
    f /= np.abs(f).max()
    return np.exp(amplitude * f).astype(np.float32)
