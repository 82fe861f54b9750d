"""napari-calcium: vascular calcification imaging in physical space.

The core API needs neither napari nor Qt::

    import napari_calcium as nc

    ct = nc.read("sample_data/coronary-ct/ct")      # Volume, (z, y, x), LPS millimetres
    arteries = nc.read("sample_data/coronary-ct/artery_labels.nii.gz")
    result = nc.run_coronary(ct, arteries)          # Agatston, volume, mass, CAC-DRS, lesions

The analysis functions are imported on first use, so ``import napari_calcium`` stays light.
"""

from importlib import import_module

from napari_calcium.errors import InputError
from napari_calcium.io import read, write
from napari_calcium.volume import Acquisition, Volume

__version__ = "0.1.0"

#: Public analysis functions -> the module that defines them (imported on first use).
_LAZY = {
    "register": "napari_calcium.registration",
    "run_coronary": "napari_calcium.calcium.coronary",
    "run_ivus": "napari_calcium.vessel.ivus",
    "run_intracranial": "napari_calcium.intracranial",
    "run_svd": "napari_calcium.svd",
}

__all__ = ["Acquisition", "InputError", "Volume", "__version__", "read", "write", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'napari_calcium' has no attribute {name!r}")
