"""Every core module imports without napari, Qt or magicgui (scripts, notebooks, clusters).

The core is everything except the napari adapters: ``widgets/`` and the ``_reader``,
``_writer`` and ``_sample_data`` contributions.
"""

import pkgutil
import subprocess
import sys

import napari_calcium

ADAPTERS = ("napari_calcium.widgets", "napari_calcium._")
GUI_PACKAGES = ("napari", "qtpy", "PyQt6", "PyQt5", "PySide6", "PySide2", "magicgui", "vispy")


def core_modules() -> list[str]:
    names = [
        m.name
        for m in pkgutil.walk_packages(napari_calcium.__path__, "napari_calcium.")
        if not m.name.startswith(ADAPTERS)
    ]
    return ["napari_calcium", *sorted(names)]


def test_the_core_is_found():
    modules = core_modules()
    for expected in ("napari_calcium.volume", "napari_calcium.io.dicom", "napari_calcium.cli",
                     "napari_calcium.registration", "napari_calcium.calcium.coronary",
                     "napari_calcium.vessel.ivus", "napari_calcium.intracranial",
                     "napari_calcium.svd", "napari_calcium.cohort.batch"):  # fmt: skip
        assert expected in modules


def test_core_imports_without_napari_or_qt():
    code = (
        "import importlib, sys\n"
        f"for name in {core_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(','.join(m for m in sys.modules if m.split('.')[0] in {GUI_PACKAGES!r}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"the core pulled in GUI modules: {out.stdout}"
