"""PyRadiomics features per lesion, in physical space: the one PyRadiomics wrapper.

Coronary lesions (:func:`lesion_radiomics`) and intracranial calcifications
(:func:`napari_calcium.intracranial.radiomics_density_volume`) are measured by
:func:`label_features` with the same :data:`EXTRACTOR_SETTINGS`. Each lesion is passed to ``radiomics.featureextractor.RadiomicsFeatureExtractor``
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


def make_extractor(features=FEATURES):
    """A ``RadiomicsFeatureExtractor`` with :data:`EXTRACTOR_SETTINGS` and ``features``
    (PyRadiomics names such as ``original_firstorder_Mean``) enabled."""
    from radiomics import featureextractor

    extractor = featureextractor.RadiomicsFeatureExtractor(**EXTRACTOR_SETTINGS)
    extractor.disableAllFeatures()
    enabled: dict[str, list[str]] = {}
    for name in features:
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

    features = label_features(ct, lesions, lesion_ids)
    settings = {
        "package": f"pyradiomics {radiomics.__version__}",
        "extractor_settings": dict(EXTRACTOR_SETTINGS),
        "features": dict(FEATURES),
        "image": "CT cropped to each lesion's bounding box + "
        f"{MARGIN_VOXELS} voxel(s), original spacing/origin/direction",
    }
    return features, settings


def label_features(
    ct: Volume, labels: Volume, label_ids=None, features: dict[str, str] = FEATURES
) -> dict[int, dict[str, float]]:
    """PyRadiomics ``features`` (PyRadiomics name -> output column) of each label.

    Each label is measured on the CT and its binary mask cropped to the label's
    bounding box plus :data:`MARGIN_VOXELS`, with the CT's spacing, origin and
    direction kept (no resampling), with :data:`EXTRACTOR_SETTINGS`.

    Returns
    -------
    label id -> ``{column: value}``; ``label_ids`` (default: every label present).
    """
    import radiomics

    if not ct.same_grid(labels):
        raise ValueError("the lesion labels must be on the CT's grid")
    label_array = np.asarray(labels.array)
    ct_array = np.asarray(ct.array)
    boxes = ndimage.find_objects(label_array)
    if label_ids is None:
        label_ids = [i + 1 for i, box in enumerate(boxes) if box is not None]
    out: dict[int, dict[str, float]] = {}
    previous_level = radiomics.logger.level
    radiomics.logger.setLevel(logging.ERROR)  # PyRadiomics logs every step at INFO
    try:
        extractor = make_extractor(features)
        for label_id in label_ids:
            box = tuple(
                slice(max(0, s.start - MARGIN_VOXELS), min(n, s.stop + MARGIN_VOXELS))
                for s, n in zip(boxes[label_id - 1], label_array.shape, strict=True)
            )
            corner = ct.index_to_physical([s.start for s in box])
            crop = ct.replace(array=ct_array[box], origin_mm=tuple(corner))
            mask = crop.replace(array=(label_array[box] == label_id).astype(np.uint8))
            values = extractor.execute(crop.to_sitk(), mask.to_sitk())
            out[int(label_id)] = {column: _real(values[name]) for name, column in features.items()}
    finally:
        radiomics.logger.setLevel(previous_level)
    return out


def _real(value) -> float:
    """A feature value as float; eigenvalue-based shape features of flat lesions may come
    back as complex numbers with a zero imaginary part."""
    value = complex(np.asarray(value).item())
    if abs(value.imag) > 1e-9 * max(1.0, abs(value.real)):
        return float("nan")
    return float(value.real)
