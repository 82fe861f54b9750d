"""Screenshot of napari with the sample coronary CT, scored, for the README.

Run with a display (or `xvfb-run -a .venv/bin/python scripts/screenshot.py`); writes
docs/images/napari-coronary-ct.png.
"""

import time
from pathlib import Path

import napari
from qtpy.QtWidgets import QApplication

OUT = Path(__file__).resolve().parents[1] / "docs" / "images" / "napari-coronary-ct.png"


def wait_until(condition, seconds=60.0):
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("napari did not finish in time")
        QApplication.processEvents()
        time.sleep(0.02)


def main():
    viewer = napari.Viewer(title="napari-calcium")
    viewer.window.resize(1500, 900)
    viewer.open_sample("napari-calcium", "coronary_ct")
    _, widget = viewer.window.add_plugin_dock_widget("napari-calcium", "Coronary calcium scoring")
    widget.show_candidates()
    wait_until(lambda: widget.report is not None)
    lesion = max(widget.report["lesions"], key=lambda lesion: lesion["agatston"])
    ct = viewer.layers["coronary CT phantom (CT)"]
    z_index = ct.world_to_data(lesion["centroid_mm"][::-1])[0]
    viewer.dims.set_point(0, ct.data_to_world((round(z_index), 0, 0))[0])
    for _ in range(20):
        QApplication.processEvents()
        time.sleep(0.05)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(OUT), canvas_only=False, flash=False)
    print(f"wrote {OUT}")
    viewer.close()


if __name__ == "__main__":
    main()
