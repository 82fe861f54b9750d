"""The IVUS core (phantom, analysis, scores, CLI) imports without napari or Qt."""

import subprocess
import sys

CORE = [
    "napari_calcium.phantoms.ivus",
    "napari_calcium.vessel.polar",
    "napari_calcium.vessel.ivus",
    "napari_calcium.scores.ivus",
    "napari_calcium.cli",
]


def test_ivus_core_imports_without_napari_or_qt():
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in CORE)
        + "bad = [m for m in sys.modules if m.split('.')[0] in ('napari', 'qtpy', 'PyQt6', 'PyQt5', 'PySide6', 'magicgui')]\n"
        + "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core pulled in GUI modules: {out.stdout}"
