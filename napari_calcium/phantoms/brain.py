"""A synthetic brain on FLAIR and SWI with small vessel disease of known extent.

The brain is an ellipsoid (semi-axes 55 x 65 x 48 mm in LPS x, y, z) on a 1 x 1 x
1.5 mm grid centred on the origin, with a 5 mm grey-matter rim and two lateral
ventricles (ellipsoids of semi-axes 6 x 25 x 9 mm at x = +-12 mm, z = +8 mm). All
shapes are rendered with partial volume (3 x 3 x 3 sub-samples per voxel), so a
half-way threshold recovers their analytic volume.

White-matter hyperintensities (WMH) on FLAIR, by the Fazekas grades asked for
(CLINICAL_RULES 5.2):

* periventricular (PV) 1, "caps": the ends (|y - y_c| >= 22 mm) of a 4 mm lining
  (the shell between the ventricle ellipsoid and the one with 4 mm longer semi-axes);
* PV 2, "smooth halo": the whole 4 mm lining;
* PV 3, "extending into deep white matter": the lining's outer ellipsoid is 16 mm
  taller above and below the ventricle (16 mm > the 10 mm periventricular
  distance), so the lesion reaches deep white matter and forms a confluent area
  there (PV 3 therefore comes with deep 3 in this phantom).

Every point of a lining lies within its thickness of the ventricle surface (the
outer ellipsoid point at parameter u is the inner one at u plus thickness x a unit
vector), so PV 1 and 2 lesions are periventricular by construction; deep lesions
are placed at least 12 mm from both ventricles (checked when built).

* deep 1: six punctate spheres of 5 mm diameter;
* deep 2: plus an ellipsoid of 14 mm maximal diameter (beginning confluence);
* deep 3: plus an ellipsoid of 30 mm maximal diameter (large confluent area).

Volumes are analytic: ellipsoid 4/3 pi a b c; an ellipsoid end beyond the plane
``|y'| = h`` is pi a c (b^2 (b - h) - (b^3 - h^3) / 3) / b^2.

Microbleeds on SWI: spheres of 3-8 mm diameter at 15% of tissue signal, in lobar,
deep and infratentorial regions of :func:`brain_region_map`. Mimics: a 2.5 mm wide,
40 mm long vein (elongated, must be rejected) and a 5 mm calcified focus that is as
dark on SWI as a microbleed but 400 HU on the CT of :func:`brain_ct` (excluded only
when a CT is given). Lacunes (optional) are CSF-filled spheres on FLAIR: one of
6 mm (a lacune, 3-15 mm) and one of 16.5 mm (too large for a lacune, STRIVE).
"""

from __future__ import annotations

import numpy as np

from napari_calcium.volume import Volume

SPACING_MM = (1.0, 1.0, 1.5)  # x, y, z
SHAPE_ZYX = (68, 140, 120)
BRAIN_SEMI_MM = (55.0, 65.0, 48.0)
CORTEX_MM = 5.0
VENTRICLE_SEMI_MM = (6.0, 25.0, 9.0)
VENTRICLE_CENTRES_MM = ((12.0, 0.0, 8.0), (-12.0, 0.0, 8.0))
LINING_MM = 4.0
CAP_PLANE_MM = 22.0
PV3_EXTRA_Z_MM = 16.0
PERIVENTRICULAR_DISTANCE_MM = 10.0

# FLAIR and SWI signal (arbitrary units) of each tissue.
FLAIR = {"white": 100.0, "grey": 110.0, "csf": 15.0, "wmh": 170.0}
SWI = {"white": 100.0, "grey": 95.0, "csf": 110.0, "microbleed": 15.0, "vein": 20.0}

DEEP_PUNCTATE = [  # centre (x, y, z) mm, 5 mm diameter spheres
    (30.0, -30.0, 20.0),
    (-30.0, -28.0, 22.0),
    (32.0, 28.0, 18.0),
    (-31.0, 30.0, 16.0),
    (10.0, -40.0, 26.0),
    (-10.0, 38.0, 26.0),
]
DEEP_CONFLUENCE_BEGINNING = ((-36.0, -5.0, 4.0), (4.0, 7.0, 4.0))  # centre, semi-axes
DEEP_CONFLUENCE_LARGE = ((37.0, 0.0, 2.0), (5.0, 15.0, 5.0))

MICROBLEEDS = [  # centre (x, y, z) mm, diameter mm, region
    ((34.0, -30.0, 15.0), 4.0, "lobar"),
    ((-42.0, 20.0, -5.0), 5.0, "lobar"),
    ((20.0, 12.0, -10.0), 3.0, "deep"),
    ((-20.0, -14.0, -8.0), 6.0, "deep"),
    ((6.0, 25.0, -34.0), 4.0, "infratentorial"),
    ((0.0, -48.0, 8.0), 8.0, "lobar"),
]
VEIN = ((-22.0, -25.0, 34.0), (-22.0, 15.0, 34.0), 2.5)  # end, end, diameter mm
CALCIFIED_FOCUS = ((0.0, 30.0, 16.0), 5.0)  # e.g. pineal / choroid plexus calcification
LACUNES = [((24.0, -16.0, -14.0), 6.0), ((-26.0, 10.0, -22.0), 16.5)]

# Region map: infratentorial below this plane, deep inside this ellipsoid, else lobar.
TENTORIUM_Z_MM = -24.0
DEEP_REGION_SEMI_MM = (28.0, 35.0, 22.0)
DEEP_REGION_CENTRE_MM = (0.0, 0.0, 2.0)
REGION_LABELS = {1: "lobar", 2: "deep", 3: "infratentorial"}


def _grid_origin() -> tuple[float, float, float]:
    n_xyz = SHAPE_ZYX[::-1]
    return tuple(-(n - 1) / 2.0 * s for n, s in zip(n_xyz, SPACING_MM, strict=True))


def _volume(array, modality="MR", units="a.u.") -> Volume:
    return Volume(
        array=array,
        spacing_mm=SPACING_MM,
        origin_mm=_grid_origin(),
        modality=modality,
        units=units,
    )


def _in_ellipsoid(x, y, z, centre, semi):
    return (
        ((x - centre[0]) / semi[0]) ** 2
        + ((y - centre[1]) / semi[1]) ** 2
        + ((z - centre[2]) / semi[2]) ** 2
    ) <= 1.0


def _fraction(inside, lo_mm, hi_mm, sub: int = 3):
    """Partial-volume fraction of ``inside(x, y, z)`` in every voxel of the grid.

    Only voxels whose centres lie in the box ``[lo_mm - 2, hi_mm + 2]`` (x, y, z) are
    evaluated; where a voxel's 26 neighbours disagree about being inside, ``sub`` x
    ``sub`` x ``sub`` points per voxel give its fraction.
    """
    from scipy import ndimage

    origin = np.asarray(_grid_origin())
    spacing = np.asarray(SPACING_MM)
    lo = np.maximum(np.floor((np.asarray(lo_mm) - 2 - origin) / spacing).astype(int), 0)
    hi = np.minimum(
        np.ceil((np.asarray(hi_mm) + 2 - origin) / spacing).astype(int) + 1,
        np.asarray(SHAPE_ZYX[::-1]),
    )
    out = np.zeros(SHAPE_ZYX, dtype=np.float32)
    if np.any(hi <= lo):
        return out
    axes = [origin[a] + spacing[a] * np.arange(lo[a], hi[a]) for a in range(3)]
    z, y, x = np.meshgrid(axes[2], axes[1], axes[0], indexing="ij")
    centre_inside = inside(x, y, z)
    cube = np.ones((3, 3, 3), bool)
    mixed = ndimage.binary_dilation(centre_inside, cube) & ~ndimage.binary_erosion(
        centre_inside, cube, border_value=0
    )
    fraction = centre_inside.astype(np.float32)
    offsets = (np.arange(sub) + 0.5) / sub - 0.5
    grid = np.stack(np.meshgrid(offsets, offsets, offsets, indexing="ij"), -1).reshape(-1, 3)
    centres = np.stack([x[mixed], y[mixed], z[mixed]], -1)  # (n, 3) x, y, z mm
    points = centres[:, None, :] + grid[None, :, :] * spacing
    fraction[mixed] = inside(points[..., 0], points[..., 1], points[..., 2]).mean(axis=1)
    out[lo[2] : hi[2], lo[1] : hi[1], lo[0] : hi[0]] = fraction
    return out


def _ellipsoid_fraction(centre, semi):
    c, s = np.asarray(centre), np.asarray(semi)
    return _fraction(lambda x, y, z: _in_ellipsoid(x, y, z, c, s), c - s, c + s)


def _paint(image, fraction, value):
    image *= 1.0 - fraction
    image += fraction * value


def _ellipsoid_ml(semi) -> float:
    return 4.0 / 3.0 * np.pi * float(np.prod(semi)) / 1000.0


def _ellipsoid_end_ml(semi, h) -> float:
    """Volume (mL) of both ends ``|y'| >= h`` of an ellipsoid with semi-axes (a, b, c)."""
    a, b, c = semi
    one = np.pi * a * c * (b**2 * (b - h) - (b**3 - h**3) / 3.0) / b**2
    return 2.0 * one / 1000.0


def _lining(centre, grade):
    """(inside function, outer semi-axes, analytic volume mL) of one ventricle's PV WMH."""
    inner = np.asarray(VENTRICLE_SEMI_MM)
    outer = inner + LINING_MM
    if grade == 3:
        outer = outer + np.array([0.0, 0.0, PV3_EXTRA_Z_MM])
    c = np.asarray(centre)

    def inside(x, y, z):
        shell = _in_ellipsoid(x, y, z, c, outer) & ~_in_ellipsoid(x, y, z, c, inner)
        if grade == 1:
            shell &= np.abs(y - c[1]) >= CAP_PLANE_MM
        return shell

    if grade == 1:
        ml = _ellipsoid_end_ml(outer, CAP_PLANE_MM) - _ellipsoid_end_ml(inner, CAP_PLANE_MM)
    else:
        ml = _ellipsoid_ml(outer) - _ellipsoid_ml(inner)
    return inside, outer, ml


def _unit_sphere(n_theta: int = 61, n_phi: int = 121) -> np.ndarray:
    u, v = np.meshgrid(np.linspace(0, np.pi, n_theta), np.linspace(0, 2 * np.pi, n_phi))
    return np.stack([np.sin(u) * np.cos(v), np.sin(u) * np.sin(v), np.cos(u)], -1).reshape(-1, 3)


def _clearance_from_ventricles_mm(centre, semi) -> float:
    """Smallest distance (mm) between an ellipsoid lesion and the ventricle surfaces."""
    from scipy.spatial import cKDTree

    unit = _unit_sphere()
    ventricles = np.concatenate(
        [np.asarray(c) + unit * np.asarray(VENTRICLE_SEMI_MM) for c in VENTRICLE_CENTRES_MM]
    )
    lesion = np.asarray(centre) + unit * np.asarray(semi)
    return float(cKDTree(ventricles).query(lesion)[0].min())


def _deep_lesions(grade):
    """(centre, semi-axes) of the deep WMH of a deep Fazekas grade."""
    lesions = [(c, (2.5, 2.5, 2.5)) for c in DEEP_PUNCTATE] if grade >= 1 else []
    if grade >= 2:
        lesions.append(DEEP_CONFLUENCE_BEGINNING)
    if grade >= 3:
        lesions.append(DEEP_CONFLUENCE_LARGE)
    for centre, semi in lesions:
        clearance = _clearance_from_ventricles_mm(centre, semi)
        if clearance < PERIVENTRICULAR_DISTANCE_MM + 2.0:
            raise AssertionError(
                f"deep lesion at {centre} is only {clearance:.1f} mm from a ventricle"
            )
    return lesions


def brain_flair_swi(
    seed: int = 0,
    fazekas_periventricular: int = 2,
    fazekas_deep: int = 2,
    n_microbleeds: int = len(MICROBLEEDS),
    lacunes: bool = True,
    noise_sd: float = 3.0,
) -> tuple[Volume, Volume, dict]:
    """A synthetic FLAIR and SWI of one brain with known small vessel disease.

    Parameters
    ----------
    seed : seed of the Gaussian noise (the anatomy is fixed).
    fazekas_periventricular, fazekas_deep : Fazekas grades (0-3) built into the WMH;
        a periventricular 3 needs a deep 3 (the extension is confluent in deep WM).
    n_microbleeds : how many of the six microbleeds to include (0-6).
    lacunes : include the 6 mm lacune and the 16.5 mm cavity.
    noise_sd : standard deviation of the added noise (a.u.; tissue is 100).

    Returns
    -------
    flair, swi : Volumes (MR) on the same (z, y, x) grid, 1 x 1 x 1.5 mm.
    truth : plain JSON values: ``wmh_volume_ml``, ``wmh_periventricular_ml`` and
        ``wmh_deep_ml`` (``None`` for periventricular 3, whose extension straddles the
        10 mm boundary), Fazekas grades, ``microbleeds`` (position_mm (x, y, z) LPS,
        diameter_mm, region), ``mimics``, ``lacunes``, ``periventricular_distance_mm``.
    """
    if fazekas_periventricular not in (0, 1, 2, 3) or fazekas_deep not in (0, 1, 2, 3):
        raise ValueError("Fazekas grades are 0-3")
    if fazekas_periventricular == 3 and fazekas_deep != 3:
        raise ValueError(
            "periventricular 3 extends into deep white matter as a confluent area: use deep 3"
        )
    if not 0 <= n_microbleeds <= len(MICROBLEEDS):
        raise ValueError(f"n_microbleeds must be 0-{len(MICROBLEEDS)}")
    rng = np.random.default_rng(seed)

    brain_semi = np.asarray(BRAIN_SEMI_MM)
    brain = _ellipsoid_fraction((0, 0, 0), brain_semi)
    white = _ellipsoid_fraction((0, 0, 0), brain_semi - CORTEX_MM)
    flair = np.zeros(SHAPE_ZYX, dtype=np.float32)
    swi = np.zeros(SHAPE_ZYX, dtype=np.float32)
    _paint(flair, brain, FLAIR["grey"])
    _paint(flair, white, FLAIR["white"])
    _paint(swi, brain, SWI["grey"])
    _paint(swi, white, SWI["white"])
    for centre in VENTRICLE_CENTRES_MM:
        ventricle = _ellipsoid_fraction(centre, VENTRICLE_SEMI_MM)
        _paint(flair, ventricle, FLAIR["csf"])
        _paint(swi, ventricle, SWI["csf"])

    pv_ml = 0.0
    if fazekas_periventricular:
        for centre in VENTRICLE_CENTRES_MM:
            inside, outer, ml = _lining(centre, fazekas_periventricular)
            c = np.asarray(centre)
            _paint(flair, _fraction(inside, c - outer, c + outer), FLAIR["wmh"])
            pv_ml += ml
    deep_ml = 0.0
    for centre, semi in _deep_lesions(fazekas_deep):
        _paint(flair, _ellipsoid_fraction(centre, semi), FLAIR["wmh"])
        deep_ml += _ellipsoid_ml(semi)

    lacune_truth = []
    if lacunes:
        for centre, diameter in LACUNES:
            _paint(flair, _ellipsoid_fraction(centre, (diameter / 2,) * 3), FLAIR["csf"])
            _paint(swi, _ellipsoid_fraction(centre, (diameter / 2,) * 3), SWI["csf"])
            lacune_truth.append(
                {
                    "position_mm": list(centre),
                    "diameter_mm": diameter,
                    "is_lacune": 3.0 <= diameter <= 15.0,
                }
            )

    microbleeds = []
    for centre, diameter, region in MICROBLEEDS[:n_microbleeds]:
        _paint(swi, _ellipsoid_fraction(centre, (diameter / 2,) * 3), SWI["microbleed"])
        microbleeds.append(
            {"position_mm": list(centre), "diameter_mm": diameter, "region": region}
        )
    a, b, d = np.asarray(VEIN[0]), np.asarray(VEIN[1]), VEIN[2]

    def in_vein(x, y, z):
        p = np.stack([x, y, z], -1) - a
        axis = (b - a) / np.linalg.norm(b - a)
        t = p @ axis
        radial = np.linalg.norm(p - t[..., None] * axis, axis=-1)
        return (t >= 0) & (t <= np.linalg.norm(b - a)) & (radial <= d / 2)

    _paint(swi, _fraction(in_vein, np.minimum(a, b) - d, np.maximum(a, b) + d), SWI["vein"])
    calc_centre, calc_diameter = CALCIFIED_FOCUS
    _paint(swi, _ellipsoid_fraction(calc_centre, (calc_diameter / 2,) * 3), SWI["microbleed"])

    flair = np.abs(flair + rng.normal(0.0, noise_sd, SHAPE_ZYX)).astype(np.float32)
    swi = np.abs(swi + rng.normal(0.0, noise_sd, SHAPE_ZYX)).astype(np.float32)
    by_region = {r: sum(m["region"] == r for m in microbleeds) for r in REGION_LABELS.values()}
    truth = {
        "wmh_volume_ml": pv_ml + deep_ml,
        "wmh_periventricular_ml": None if fazekas_periventricular == 3 else pv_ml,
        "wmh_deep_ml": None if fazekas_periventricular == 3 else deep_ml,
        "fazekas_periventricular": fazekas_periventricular,
        "fazekas_deep": fazekas_deep,
        "periventricular_distance_mm": PERIVENTRICULAR_DISTANCE_MM,
        "ventricle_volume_ml": 2 * _ellipsoid_ml(VENTRICLE_SEMI_MM),
        "microbleeds": microbleeds,
        "microbleed_count": len(microbleeds),
        "microbleeds_by_region": by_region,
        "mimics": [
            {"kind": "vein", "ends_mm": [list(VEIN[0]), list(VEIN[1])], "diameter_mm": VEIN[2]},
            {
                "kind": "calcification",
                "position_mm": list(calc_centre),
                "diameter_mm": calc_diameter,
                "ct_hu": 400.0,
            },
        ],
        "lacunes": lacune_truth,
        "lacune_count": sum(lac["is_lacune"] for lac in lacune_truth),
        "noise_sd": noise_sd,
        "seed": seed,
    }
    return _volume(flair), _volume(swi), truth


def brain_region_map() -> Volume:
    """MARS region labels on the phantom grid: 1 lobar, 2 deep, 3 infratentorial, 0 outside.

    Infratentorial is the brain below z = -24 mm; deep is the ellipsoid of semi-axes
    28 x 35 x 22 mm about (0, 0, 2) mm (basal ganglia, thalami, internal capsules and
    periventricular white matter) above it; lobar is the rest of the brain.
    """
    brain = _ellipsoid_fraction((0, 0, 0), BRAIN_SEMI_MM) >= 0.5
    deep = _ellipsoid_fraction(DEEP_REGION_CENTRE_MM, DEEP_REGION_SEMI_MM) >= 0.5
    origin = _grid_origin()
    z_mm = origin[2] + SPACING_MM[2] * np.arange(SHAPE_ZYX[0])
    below = (z_mm < TENTORIUM_Z_MM)[:, None, None]
    labels = np.where(brain, 1, 0).astype(np.uint8)
    labels[brain & deep] = 2
    labels[brain & below] = 3
    return _volume(labels, modality="LABELS", units="label")


def brain_ct() -> Volume:
    """A head CT (HU) on the phantom grid: brain 35 HU, ventricles and lacunes 5 HU, the
    calcified focus of :data:`CALCIFIED_FOCUS` at 400 HU, air -1000 HU (no noise)."""
    ct = np.full(SHAPE_ZYX, -1000.0, dtype=np.float32)
    _paint(ct, _ellipsoid_fraction((0, 0, 0), BRAIN_SEMI_MM), 35.0)
    for centre in VENTRICLE_CENTRES_MM:
        _paint(ct, _ellipsoid_fraction(centre, VENTRICLE_SEMI_MM), 5.0)
    centre, diameter = CALCIFIED_FOCUS
    _paint(ct, _ellipsoid_fraction(centre, (diameter / 2,) * 3), 400.0)
    return _volume(ct, modality="CT", units="HU")
