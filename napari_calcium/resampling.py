"""One resampler: a Volume carried onto another Volume's grid with SimpleITK.

Every analysis that moves an image onto another grid (a registration's result, an
MRI onto the CT's vessel grid, a SWI onto the FLAIR) calls :func:`resample_to`; only
what it asks for differs (interpolation, value outside, pixel type), and those are
its keyword arguments.
"""

from __future__ import annotations

import numpy as np

from napari_calcium.volume import Volume


def grid_image(reference: Volume):
    """An empty SimpleITK image with the reference geometry (for resampling)."""
    import SimpleITK as sitk

    z, y, x = reference.shape
    image = sitk.Image(x, y, z, sitk.sitkUInt8)
    image.SetSpacing(reference.spacing_mm)
    image.SetOrigin(reference.origin_mm)
    image.SetDirection(reference.direction.flatten().tolist())
    return image


def resample_to(
    volume: Volume,
    reference: Volume,
    transform=None,
    *,
    labels: bool = False,
    default_value: float | None = None,
    keep_type: bool = False,
) -> Volume:
    """Resample ``volume`` on the grid of ``reference`` through ``transform``.

    Parameters
    ----------
    volume : the image to move (its values are looked up at ``transform(p)`` for each
        reference voxel centre ``p``).
    reference : gives the output grid (shape, spacing, origin, direction).
    transform : ``SimpleITK.Transform`` from reference physical points to ``volume``
        physical points (the fixed -> moving transform of a registration with the
        reference fixed); ``None`` when both already share one physical space.
    labels : nearest-neighbour interpolation and the label pixel type (label images);
        otherwise linear interpolation.
    default_value : value outside ``volume``; 0 for labels, else the volume's minimum
        (``float("nan")`` marks "not imaged").
    keep_type : linear interpolation written in ``volume``'s own pixel type instead
        of float32.

    Returns
    -------
    Volume on the reference grid, with ``volume``'s modality, units and acquisition.
    """
    import SimpleITK as sitk

    image = volume.to_sitk()
    if labels or keep_type:
        pixel = image.GetPixelID()
    else:
        pixel = sitk.sitkFloat32
    interpolator = sitk.sitkNearestNeighbor if labels else sitk.sitkLinear
    if default_value is None:
        default_value = 0.0 if labels else float(np.min(volume.numpy()))
    if transform is None:
        transform = sitk.Transform(3, sitk.sitkIdentity)
    out = sitk.Resample(
        image, grid_image(reference), transform, interpolator, float(default_value), pixel
    )
    return Volume.from_sitk(
        out, modality=volume.modality, units=volume.units, acquisition=volume.acquisition
    )


def coverage(volume: Volume, reference: Volume, transform=None) -> float:
    """Fraction of ``reference``'s voxels whose centre falls inside ``volume``."""
    ones = volume.with_array(np.ones(volume.shape, dtype=np.uint8))
    inside = resample_to(ones, reference, transform, labels=True, default_value=0)
    return float(np.asarray(inside.array).mean())
