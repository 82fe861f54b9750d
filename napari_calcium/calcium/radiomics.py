"""PyRadiomics features per lesion, in physical space.

Each lesion is passed to ``radiomics.featureextractor.RadiomicsFeatureExtractor``
as two SimpleITK images with the CT's own geometry (spacing, origin, direction):
the CT and a binary mask of that lesion, both cropped to the lesion's bounding box
plus a margin. Cropping keeps every voxel at its physical position; there is no
resampling, normalisation or re-segmentation. The settings passed to PyRadiomics
are returned so every output can record them.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from scipy import ndimage

from napari_calcium.volume import Volume

#: PyRadiomics feature -> output column (units in the name).
FEATURES: dict[str, str] = {
    "original_firstorder_Mean": "rad_mean_hu",
    "original_firstorder_Maximum": "rad_max_hu",
    "original_firstorder_Minimum": "rad_min_hu",
    "original_firstorder_Median": "rad_median_hu",
    "original_firstorder_10Percentile": "rad_p10_hu",
    "original_firstorder_90Percentile": "rad_p90_hu",
    "original_shape_VoxelVolume": "rad_voxel_volume_mm3",
    "original_shape_MeshVolume": "rad_mesh_volume_mm3",
    "original_shape_Sphericity": "rad_sphericity",
    "original_shape_MajorAxisLength": "rad_major_axis_length_mm",
}

#: Extractor settings: no resampling, no normalisation, single-voxel-thick lesions allowed.
EXTRACTOR_SETTINGS: dict[str, Any] = {
    "label": 1,
    "normalize": False,
    "resampledPixelSpacing": None,
    "removeOutliers": None,
    "resegmentRange": None,
    "preCrop": False,
    "force2D": False,
    "minimumROIDimensions": 1,
    "minimumROISize": None,
    "additionalInfo": False,
}

#: Voxels of CT kept around each lesion's bounding box (PyRadiomics pads shape masks itself).
MARGIN_VOXELS = 1


def make_extractor():
    """A ``RadiomicsFeatureExtractor`` with :data:`EXTRACTOR_SETTINGS` and the features of :data:`FEATURES`."""
    from radiomics import featureextractor

    extractor = featureextractor.RadiomicsFeatureExtractor(**EXTRACTOR_SETTINGS)
    extractor.disableAllFeatures()
    enabled: dict[str, list[str]] = {}
    for name in FEATURES:
        _, feature_class, feature = name.split("_", 2)
        enabled.setdefault(feature_class, []).append(feature)
    extractor.enableFeaturesByName(**enabled)
    extractor.enableImageTypeByName("Original")
    return extractor


def lesion_radiomics(
    ct: Volume, lesions: Volume, lesion_ids=None
) -> tuple[dict[int, dict[str, float]], dict[str, Any]]:
    """PyRadiomics density, volume and shape features of each lesion.

    Parameters
    ----------
    ct : CT in HU, ``(z, y, x)``.
    lesions : label image on the same grid (one positive id per lesion).
    lesion_ids : ids to measure; all present ids by default.

    Returns
    -------
    features : lesion id -> ``{column: value}`` with the columns of :data:`FEATURES`
        (HU, mm³, mm, or unitless).
    settings : what PyRadiomics was given (for the output's ``settings``).
    """
    import radiomics

    if not ct.same_grid(lesions):
        raise ValueError("the lesion labels must be on the CT's grid")
    labels = np.asarray(lesions.array)
    ct_array = np.asarray(ct.array)
    boxes = ndimage.find_objects(labels)
    if lesion_ids is None:
        lesion_ids = [i + 1 for i, box in enumerate(boxes) if box is not None]
    features: dict[int, dict[str, float]] = {}
    previous_level = radiomics.logger.level
    radiomics.logger.setLevel(logging.ERROR)  # PyRadiomics logs every step at INFO
    try:
        extractor = make_extractor()
        for lesion_id in lesion_ids:
            box = boxes[lesion_id - 1]
            box = tuple(
                slice(max(0, s.start - MARGIN_VOXELS), min(n, s.stop + MARGIN_VOXELS))
                for s, n in zip(box, labels.shape, strict=True)
            )
            corner = ct.index_to_physical([s.start for s in box])
            crop = ct.replace(array=ct_array[box], origin_mm=tuple(corner))
            mask = crop.replace(array=(labels[box] == lesion_id).astype(np.uint8))
            values = extractor.execute(crop.to_sitk(), mask.to_sitk())
            features[int(lesion_id)] = {
                column: _real(values[name]) for name, column in FEATURES.items()
            }
    finally:
        radiomics.logger.setLevel(previous_level)
    settings = {
        "package": f"pyradiomics {radiomics.__version__}",
        "extractor_settings": dict(EXTRACTOR_SETTINGS),
        "features": dict(FEATURES),
        "image": "CT cropped to each lesion's bounding box + "
        f"{MARGIN_VOXELS} voxel(s), original spacing/origin/direction",
    }
    return features, settings


def _real(value) -> float:
    """A feature value as float; eigenvalue-based shape features of flat lesions may come
    back as complex numbers with a zero imaginary part."""
    value = complex(np.asarray(value).item())
    if abs(value.imag) > 1e-9 * max(1.0, abs(value.real)):
        return float("nan")
    return float(value.real)
