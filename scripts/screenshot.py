"""Screenshots of napari with the plugin, made from phantoms only (never local-only images).

* docs/images/napari-coronary-ct.png: the sample coronary CT scored, for the README;
* docs/images/widgets/<widget>.png: each widget of the plugin after its run
  (tests/widgets/widget_runs.py, the same runs as the window-size test) in a main window
  of 1366 x 768, the size of a small laptop screen;
* docs/images/ivus-report.png: the HTML report of the sample IVUS pullback
  (`napari-calcium ivus ... --html`), rendered by headless Chromium (name: ivus-report).

Run with a display of at least that size:
`xvfb-run -a -s "-screen 0 1366x768x24" .venv/bin/python scripts/screenshot.py [NAME ...]`
(no names: every image).
"""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import napari
from qtpy.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.widgets.widget_runs import RUNS  # noqa: E402

IMAGES = ROOT / "docs" / "images"
SCREEN = (1366, 768)


def wait_until(condition, seconds=60.0):
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("napari did not finish in time")
        QApplication.processEvents()
        time.sleep(0.02)


def settle(seconds=1.0):
    """Let napari draw what the run produced."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.05)


def readme_coronary():
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
    settle()
    out = IMAGES / "napari-coronary-ct.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(out), canvas_only=False, flash=False)
    print(f"wrote {out}")
    viewer.close()


def widget_after_run(name, folder):
    viewer = napari.Viewer(title=f"napari-calcium: {name}")
    window = viewer.window._qt_window
    window.resize(*SCREEN)
    QApplication.processEvents()
    RUNS[name](viewer, wait_until, folder)
    settle()
    size = (window.width(), window.height())
    out = IMAGES / "widgets" / f"{name}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(out), canvas_only=False, flash=False)
    fits = "fits" if size[0] <= SCREEN[0] and size[1] <= SCREEN[1] else "DOES NOT FIT"
    print(f"wrote {out}: main window {size[0]} x {size[1]} ({fits} {SCREEN[0]} x {SCREEN[1]})")
    viewer.close()


def ivus_report(folder, size=(1100, 2800)):
    from napari_calcium.cli import main as cli

    sample = ROOT / "sample_data" / "ivus"
    speed = json.loads((sample / "truth.json").read_text())["pullback_speed_mm_s"]
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / "ivus.html"
    args = ["ivus", sample / "pullback.dcm", "--pullback-speed", speed, "--html", page,
            "--json", folder / "ivus.json"]  # fmt: skip
    if cli([str(a) for a in args]) != 0:
        raise RuntimeError("the IVUS analysis of the sample failed")
    out = IMAGES / "ivus-report.png"
    chromium = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    window = f"--window-size={size[0]},{size[1]}"
    subprocess.run([*chromium, window, f"--screenshot={out}", page.as_uri()], check=True,
                   capture_output=True)  # fmt: skip
    from PIL import Image

    Image.open(out).convert("RGB").quantize(256).save(out, optimize=True)  # a page: 256 colours
    print(f"wrote {out}: the top {size[1]} px of the report at {size[0]} px wide")


def main(names):
    names = names or ["readme", "ivus-report", *RUNS]
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            if name == "readme":
                readme_coronary()
            elif name == "ivus-report":
                ivus_report(Path(tmp) / name)
            else:
                widget_after_run(name, Path(tmp) / name)


if __name__ == "__main__":
    main(sys.argv[1:])
