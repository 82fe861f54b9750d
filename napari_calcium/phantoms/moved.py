"""Real images moved by a known rigid transform, and a T1-like pseudo-MRI made from a CT.

Registration of real anatomy has no exact ground truth; moving an image by a transform
chosen here gives one by construction:

* :func:`move` resamples a volume as if the same anatomy had been scanned after a rigid
  motion ``T``: the moved image shows at physical point ``q`` what the original shows at
  ``T⁻¹(q)``, on a grid of its own (spacing, field of view and position chosen freely).
  ``T`` maps original physical points to moved physical points, so if ``R`` is the
  fixed -> moving transform of the original pair (ITK convention), the pair with the
  moved image has ``T ∘ R``: with a pseudo-MRI made from the fixed CT itself ``R`` is the
  identity and ``T`` is the exact answer; with a real MRI, ``T ∘ R`` is a consistency
  check of a registration method against its own result on the unmoved pair.
* :func:`move_header` moves a volume by changing only its geometry (origin and
  direction), the voxels untouched: the same ``T ∘ R`` holds exactly, with no
  resampling and no change of what is in the field of view, so a method that finds the
  optimum of its metric must give the same answer on both pairs.
* :func:`pseudo_t1` maps CT numbers to a T1-weighted-like signal (fat bright, muscle
  intermediate, cortical bone and air dark) with a smooth bias field and Rician noise:
  an image of the CT's anatomy with a non-monotonic, MRI-like contrast, for which only a
  multi-modal metric works.
"""

from __future__ import annotations

import numpy as np

from napari_calcium.volume import Volume

#: CT number (HU) -> T1-like signal (a.u.), piecewise linear: air 0, fat (-100 HU)
#: brightest, muscle (40 HU) intermediate, dense tissue and cortical bone dark.
#: Values and breakpoints are chosen for contrast shape only, not fitted to any scanner.
PSEUDO_T1_HU = (-1000.0, -500.0, -200.0, -100.0, -30.0, 20.0, 60.0, 150.0, 400.0, 2000.0)
PSEUDO_T1_SIGNAL = (0.0, 0.0, 600.0, 900.0, 650.0, 330.0, 290.0, 240.0, 40.0, 20.0)


def rigid_motion(rotation_deg, translation_mm, centre_mm):
    """A SimpleITK ``Euler3DTransform``: rotation (degrees about LPS x, y, z, ITK Z·X·Y
    order) about ``centre_mm``, then ``translation_mm`` (mm)."""
    import SimpleITK as sitk

    return sitk.Euler3DTransform(
        tuple(float(c) for c in centre_mm),
        *np.deg2rad(np.asarray(rotation_deg, dtype=float)).tolist(),
        tuple(float(t) for t in translation_mm),
    )


def rotation_angle_deg(transform) -> float:
    """The angle (degrees) of the rotation of a rigid transform (from its matrix trace)."""
    matrix = np.asarray(transform.GetMatrix()).reshape(3, 3)
    return float(np.rad2deg(np.arccos(np.clip((np.trace(matrix) - 1.0) / 2.0, -1.0, 1.0))))


def centre_mm(volume: Volume) -> np.ndarray:
    """Physical position (LPS mm) of the centre of a volume's field of view."""
    return volume.index_to_physical([(np.asarray(volume.shape) - 1) / 2.0])[0]


def _corners_mm(volume: Volume) -> np.ndarray:
    high = np.asarray(volume.shape) - 1
    return volume.index_to_physical(
        [[z, y, x] for z in (0, high[0]) for y in (0, high[1]) for x in (0, high[2])]
    )


def move(
    volume: Volume,
    rotation_deg=(0.0, 0.0, 0.0),
    translation_mm=(0.0, 0.0, 0.0),
    *,
    spacing_mm=None,
    fov_mm=None,
    fov_offset_mm=(0.0, 0.0, 0.0),
    default_value: float | None = None,
) -> tuple[Volume, object]:
    """The anatomy of ``volume`` after a rigid motion ``T``, on a new axis-aligned grid.

    Parameters
    ----------
    volume : the image to move (any modality; linear interpolation).
    rotation_deg, translation_mm : ``T`` as :func:`rigid_motion` about the centre of
        ``volume``'s field of view.
    spacing_mm : voxel size (x, y, z) of the new grid; default ``volume``'s.
    fov_mm : field of view (x, y, z) of the new grid, mm; default the box that holds the
        whole moved field of view of ``volume`` (nothing is cut off; the corners the
        original did not cover hold ``default_value``).
    fov_offset_mm : the new grid is centred on ``T(centre) + fov_offset_mm``: zero moves
        the field of view with the anatomy (as a scanner operator would centre it), a
        non-zero offset also shifts the anatomy inside it (and may cut part of it off).
    default_value : value outside the original image; default its minimum.

    Returns
    -------
    moved : Volume with ``volume``'s modality and units.
    transform : ``T`` (SimpleITK ``Euler3DTransform``), original physical -> moved physical.
    """
    import SimpleITK as sitk

    centre = centre_mm(volume)
    transform = rigid_motion(rotation_deg, translation_mm, centre)
    spacing = np.asarray(volume.spacing_mm if spacing_mm is None else spacing_mm, dtype=float)
    if fov_mm is None:
        corners = np.array([transform.TransformPoint(tuple(p)) for p in _corners_mm(volume)])
        fov = corners.max(axis=0) - corners.min(axis=0) + spacing
    else:
        fov = np.asarray(fov_mm, dtype=float)
    size = np.maximum(1, np.ceil(fov / spacing - 1e-6)).astype(int)
    new_centre = np.asarray(transform.TransformPoint(tuple(centre))) + np.asarray(fov_offset_mm)
    grid = sitk.Image([int(n) for n in size], sitk.sitkUInt8)
    grid.SetSpacing(tuple(spacing))
    grid.SetOrigin(tuple(new_centre - spacing * (size - 1) / 2.0))
    image = sitk.Cast(volume.to_sitk(), sitk.sitkFloat32)
    default = float(np.min(volume.numpy())) if default_value is None else float(default_value)
    moved = sitk.Resample(
        image, grid, transform.GetInverse(), sitk.sitkLinear, default, sitk.sitkFloat32
    )
    return (
        Volume.from_sitk(
            moved, modality=volume.modality, units=volume.units, acquisition=volume.acquisition
        ),
        transform,
    )


def move_header(volume: Volume, rotation_deg, translation_mm) -> tuple[Volume, object]:
    """``volume`` after the rigid motion ``T`` (:func:`rigid_motion` about its centre), by
    a new origin ``T(origin)`` and direction ``R · direction``; the same voxels.

    Returns the moved volume and ``T`` (original physical -> moved physical)."""
    transform = rigid_motion(rotation_deg, translation_mm, centre_mm(volume))
    matrix = np.asarray(transform.GetMatrix()).reshape(3, 3)
    origin = transform.TransformPoint(tuple(float(v) for v in volume.origin_mm))
    return volume.replace(direction=matrix @ volume.direction, origin_mm=tuple(origin)), transform


def pseudo_t1(ct: Volume, *, bias: float = 0.2, noise: float = 0.03, seed: int = 0) -> Volume:
    """A T1-weighted-like MR image of a CT's anatomy, on the CT's grid.

    The signal is :data:`PSEUDO_T1_SIGNAL` interpolated at the CT numbers
    (:data:`PSEUDO_T1_HU`), smoothed with a 1 mm Gaussian (MR point spread), multiplied
    by a smooth bias field ``exp(bias · f)`` (``f`` linear plus quadratic in [-1, 1]
    across the field of view) and given Rician noise of ``noise`` times the fat signal.
    """
    import SimpleITK as sitk

    signal = np.interp(ct.numpy().astype(float), PSEUDO_T1_HU, PSEUDO_T1_SIGNAL)
    image = ct.replace(array=signal.astype(np.float32)).to_sitk()
    signal = sitk.GetArrayFromImage(sitk.SmoothingRecursiveGaussian(image, 1.0)).astype(float)
    z, y, x = np.meshgrid(*(np.linspace(-1.0, 1.0, n) for n in ct.shape), indexing="ij")
    field = 0.5 * x - 0.4 * y + 0.3 * z + 0.4 * (x**2 + y**2) - 0.4
    signal *= np.exp(bias * field / np.abs(field).max())
    rng = np.random.default_rng(seed)
    sigma = noise * max(PSEUDO_T1_SIGNAL)
    signal = np.hypot(
        signal + rng.normal(0, sigma, signal.shape), rng.normal(0, sigma, signal.shape)
    )
    return ct.replace(array=signal.astype(np.float32), modality="MR", units="a.u.")
