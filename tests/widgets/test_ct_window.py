"""The CT window presets dock applies a preset as soon as it is picked."""

import numpy as np

from napari_calcium.widgets.layers import CT_WINDOWS


def test_preset_applies_when_picked(make_napari_viewer):
    viewer = make_napari_viewer()
    layer = viewer.add_image(np.zeros((4, 8, 8), np.int16), name="CT")
    _, widget = viewer.window.add_plugin_dock_widget("napari-calcium", "CT window presets")
    widget.image.value = layer
    names = [*list(CT_WINDOWS)[1:], next(iter(CT_WINDOWS))]  # the first is the default
    for name in names:
        width, level = CT_WINDOWS[name]
        widget.window.value = name  # no call: picking the preset is enough
        assert tuple(layer.contrast_limits) == (level - width / 2, level + width / 2)
