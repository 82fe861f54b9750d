"""Finding and measuring calcium: candidates, lesions, PyRadiomics features.

* :mod:`.components` — thresholds and connected components (2-D per slice, 3-D);
* :mod:`.coronary` — coronary calcium lesions and scores from a CT and artery labels;
* :mod:`.hu` — the check that a CT is in Hounsfield units (its rules stated there);
* :mod:`.radiomics` — PyRadiomics features per lesion in physical space (the one wrapper).
"""

from napari_calcium.calcium.coronary import (
    ARTERY_NAMES,
    CoronaryResult,
    CoronarySettings,
    measure_coronary,
    run_coronary,
)

__all__ = [
    "ARTERY_NAMES",
    "CoronaryResult",
    "CoronarySettings",
    "measure_coronary",
    "run_coronary",
]
