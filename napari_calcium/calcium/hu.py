"""Is a CT in Hounsfield units? The one check, with its four rules.

Calcium thresholds (130 HU) mean nothing on raw stored values, so every analysis of
a CT refuses one that is not in HU, with :func:`check_ct_hu`. Its rules:

1. **units** — the Volume says its values are HU (``units == "HU"``: the DICOM
   rescale was applied, or a NIfTI's values were recognised as HU on reading).
2. **air** — a CT holds air near -1000 HU: a minimum above
   :data:`AIR_MINIMUM_HU` (-200), or an unsigned pixel type, means raw stored values.
   A CT in HU cropped inside the body holds no air and fails this rule: rule 3 is
   for such an image.
3. **cropped** — a CT in HU cropped inside the body needs no air: at least 5 % of its
   voxels are fat, water or soft tissue (-150..150 HU), more than lie at 874..1174
   (soft tissue in raw stored values, HU + 1024), and 99 % lie within -1100..3100 HU
   (:func:`napari_calcium.io.images.hu_evidence` without the air band).
4. **tissue** — the median of the soft tissue / blood around the vessel lies within
   :data:`SOFT_TISSUE_HU_RANGE`; it needs a region that is mostly tissue (the
   intracranial vessel region), not a whole chest CT whose median may be air.

The coronary analysis applies rule 2 or 3 (``hu_check="air"`` / ``"cropped"``, or
none with ``"off"``: whole-chest CTs, whatever their units tag); the intracranial
analysis rules 1 and 4 (a CT possibly cropped around the head). :data:`RULES` states
each rule in one sentence, as results record it.
"""

from __future__ import annotations

import numpy as np

from napari_calcium.errors import InputError
from napari_calcium.io import images
from napari_calcium.volume import Volume

#: Below this minimum a CT is not taken to be in HU (air is -1000 HU).
AIR_MINIMUM_HU = -200.0
#: Accepted median HU of the soft tissue / blood in the vessel region; outside it
#: the image is taken as not calibrated in HU (e.g. raw stored values).
SOFT_TISSUE_HU_RANGE = (-200.0, 600.0)

#: Each rule of :func:`check_ct_hu` in one sentence (the bands of rule ``cropped`` are
#: those of :func:`napari_calcium.io.images.hu_fractions`).
RULES: dict[str, str] = {
    "units": "the CT's units are HU (the DICOM rescale applied or the values recognised "
    "as HU on reading)",
    "air": "a CT in HU holds air: refused when its minimum is above -200 HU or its values "
    "are unsigned (raw stored values without the DICOM rescale)",
    "cropped": "a CT in HU cropped inside the body needs no air: refused unless at least "
    "5 % of its voxels are fat, water or soft tissue (-150..150 HU), more than lie at "
    "874..1174 (soft tissue in raw stored values, HU + 1024), and 99 % lie within "
    "-1100..3100 HU (a padding value below -1100 set aside)",
    "tissue": "the median of the soft tissue / blood around the vessel lies within -200..600 HU",
}


def check_ct_hu(
    ct: Volume,
    *,
    units: bool = False,
    air: bool = False,
    cropped: bool = False,
    tissue: bool = False,
    region: np.ndarray | None = None,
) -> None:
    """Raise :class:`InputError` unless ``ct`` passes the asked rules (module docstring).

    ``units``, ``air``, ``cropped`` and ``tissue`` switch rules 1-4 on; ``region`` (a
    boolean ``(z, y, x)`` mask) is where rule 4 takes its median (the whole image when
    it is ``None`` or empty). An empty CT is refused whatever the rules.
    """
    if units and ct.units != "HU":
        raise InputError(
            f"the CT is not in Hounsfield units (units {ct.units!r}, modality {ct.modality!r})",
            "load the CT as modality CT with the DICOM rescale applied (values in HU)",
        )
    values = np.asarray(ct.array)
    if values.size == 0:
        raise InputError("the CT is empty")
    if air:
        _check_air(values)
    if cropped:
        _check_cropped(values)
    if tissue:
        _check_tissue(values, region)


def _check_air(values: np.ndarray) -> None:
    minimum = float(values.min())
    if np.issubdtype(values.dtype, np.unsignedinteger) or minimum > AIR_MINIMUM_HU:
        raise InputError(
            f"the CT does not look like Hounsfield units: its minimum is {minimum:g} "
            f"({values.dtype}), but air in HU is about -1000",
            "apply the DICOM rescale slope/intercept (read the DICOM series with "
            "napari-calcium) or export the CT in HU; for a CT in HU cropped inside the body "
            "(no air), check its soft tissue instead (--hu-check cropped, hu_check='cropped')",
        )


def _check_cropped(values: np.ndarray) -> None:
    if images.hu_evidence(values, require_air=False) is not None:
        return
    fractions = images.hu_fractions(values) or dict.fromkeys(
        ("soft_tissue", "raw_soft_tissue", "plausible"), 0.0
    )
    raise InputError(
        "the CT does not look like Hounsfield units cropped inside the body: "
        f"{fractions['soft_tissue']:.1%} of its voxels are fat, water or soft tissue "
        f"(-150..150 HU; at least {images.MIN_SOFT_TISSUE_FRACTION:.0%} needed, and more "
        f"than the {fractions['raw_soft_tissue']:.1%} at 874..1174, soft tissue in raw "
        f"stored values) and {fractions['plausible']:.1%} lie within -1100..3100 HU "
        f"({images.MIN_PLAUSIBLE_FRACTION:.0%} needed)",
        "apply the DICOM rescale slope/intercept or export the CT in HU; if the values "
        "are HU, turn the check off (--hu-check off, hu_check='off')",
    )


def _check_tissue(values: np.ndarray, region: np.ndarray | None) -> None:
    sample = values[region] if region is not None and region.any() else values
    median = float(np.median(sample))
    lo, hi = SOFT_TISSUE_HU_RANGE
    if not lo <= median <= hi:
        raise InputError(
            f"the CT values around the vessel do not look like HU (median {median:.0f}, "
            f"expected soft tissue / blood within {lo:.0f} to {hi:.0f} HU)",
            "apply the DICOM RescaleSlope/RescaleIntercept (raw stored values are often "
            "offset by 1024) or check that this image is a CT",
        )
