"""napari-calcium: vascular calcification imaging in physical space.

The core API needs neither napari nor Qt::

    import napari_calcium as nc
    ct = nc.read("ct_series/")          # Volume, (z, y, x), LPS millimetres
"""

from napari_calcium.errors import InputError
from napari_calcium.io import read, write
from napari_calcium.volume import Acquisition, Volume

__version__ = "0.1.0"

__all__ = ["Acquisition", "InputError", "Volume", "read", "write", "__version__"]
