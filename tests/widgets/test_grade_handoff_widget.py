"""The intracranial widget's CT grade reaches the SVD widget without copying by hand."""

import numpy as np

from napari_calcium.phantoms.vessel import vessel_ct
from napari_calcium.widgets.intracranial import IntracranialWidget
from napari_calcium.widgets.layers import image_tuple
from napari_calcium.widgets.svd import NOT_SET, SvdWidget


def test_take_the_intracranial_grade_into_the_svd_widget(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    ct, truth = vessel_ct()
    data, kwargs, _ = image_tuple(ct, "head CT")
    viewer.add_image(data, **kwargs)
    viewer.add_shapes(
        [np.asarray(truth["centerline_mm"])[:, ::-1]], shape_type="path", name="centreline"
    )
    intracranial = IntracranialWidget(viewer)
    svd = SvdWidget(viewer)
    intracranial.ct_layer.value = viewer.layers["head CT"]
    intracranial.line_layer.value = viewer.layers["centreline"]
    intracranial.step_mm.value = 0.5
    # nothing to take yet: a message, no grade set
    svd.take_intracranial_grades()
    assert "no intracranial result" in svd.summary.value
    intracranial.artery.value = "MCA_left"
    intracranial.run()
    qtbot.waitUntil(lambda: "calcifications" in viewer.layers, timeout=120_000)
    result = viewer.layers["calcifications"].metadata["intracranial"]
    assert result["artery"] == "MCA_left"
    svd.take_intracranial_grades()
    # the ring (arc 320 >= 270) is extensive, CT alone measures no narrowing: moderate
    assert svd.artery_grades["MCA_left"].value == "moderate"
    assert svd.artery_grades["MCA_right"].value == NOT_SET
