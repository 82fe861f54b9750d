"""The napari reader and writers keep physical geometry, in a real viewer."""

import numpy as np
import pytest
import SimpleITK as sitk
from napari.utils.notifications import notification_manager

from napari_calcium import Volume, write
from napari_calcium._reader import napari_get_reader


@pytest.fixture
def oblique_ct():
    direction = np.asarray(sitk.VersorTransform((0.2, 1.0, 0.4), 0.35).GetMatrix()).reshape(3, 3)
    array = (np.arange(6 * 7 * 8, dtype=np.int16).reshape(6, 7, 8) * 3) - 1024
    return Volume(
        array, (0.45, 0.6, 2.5), (-30.0, 12.5, -804.5), direction, modality="CT", units="HU"
    )


@pytest.fixture
def notifications():
    messages = []
    notification_manager.notification_ready.connect(lambda n: messages.append(str(n.message)))
    return messages


def test_opened_layer_world_coordinates_equal_physical_points(
    make_napari_viewer, tmp_path, oblique_ct
):
    path = write(oblique_ct, tmp_path / "ct.nii.gz")
    viewer = make_napari_viewer()
    (layer,) = viewer.open(path, plugin="napari-calcium")
    image = sitk.ReadImage(str(path))
    for k, j, i in [(0, 0, 0), (5, 6, 7), (2, 3, 1), (4, 0, 6)]:
        physical = np.asarray(image.TransformIndexToPhysicalPoint((i, j, k)))
        world = np.asarray(layer.data_to_world((k, j, i)))
        np.testing.assert_allclose(world[::-1], physical, atol=1e-4)


def test_labels_written_from_napari_read_back_identically(
    make_napari_viewer, tmp_path, oblique_ct
):
    viewer = make_napari_viewer()
    (image,) = viewer.open(write(oblique_ct, tmp_path / "ct.nii.gz"), plugin="napari-calcium")
    labels = viewer.add_labels(
        (oblique_ct.array > 0).astype(np.uint8),
        scale=image.scale,
        translate=image.translate,
        affine=image.affine,
        metadata=image.metadata,
    )
    out = tmp_path / "labels.nrrd"
    labels.save(str(out), plugin="napari-calcium")
    (back,) = viewer.open(out, plugin="napari-calcium")
    np.testing.assert_array_equal(back.data, labels.data)
    for idx in [(0, 0, 0), (5, 6, 7)]:
        np.testing.assert_allclose(back.data_to_world(idx), labels.data_to_world(idx), atol=1e-4)


def test_reader_declines_what_it_cannot_read(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    assert napari_get_reader(str(tmp_path / "notes.txt")) is None
    assert napari_get_reader(str(tmp_path)) is None  # a folder with no images


def test_broken_file_gives_a_message_not_a_traceback(make_napari_viewer, tmp_path, notifications):
    broken = tmp_path / "broken.nii.gz"
    broken.write_bytes(b"\x1f\x8b this is not a NIfTI file")
    viewer = make_napari_viewer()
    viewer.open(broken, plugin="napari-calcium")
    assert len(viewer.layers) == 0
    assert any("broken.nii.gz" in m and "could not be read" in m for m in notifications)


def test_label_images_open_as_labels_layers(make_napari_viewer, tmp_path, oblique_ct):
    labels = oblique_ct.replace(array=(oblique_ct.array > 0).astype(np.uint8), modality="LABELS")
    path = write(labels, tmp_path / "artery_labels.nii.gz")
    image_path = write(labels, tmp_path / "ct.nii.gz")  # same values, a name without "labels"
    viewer = make_napari_viewer()
    (layer,) = viewer.open(path, plugin="napari-calcium")
    (image,) = viewer.open(image_path, plugin="napari-calcium")
    assert layer.__class__.__name__ == "Labels" and layer.name == "artery_labels"
    assert image.__class__.__name__ == "Image"
    np.testing.assert_allclose(layer.data_to_world((1, 2, 3)), image.data_to_world((1, 2, 3)))


def test_ct_window_presets(make_napari_viewer):
    from napari_calcium.widgets.layers import CT_WINDOWS, apply_ct_window

    viewer = make_napari_viewer()
    layer = viewer.open_sample("napari-calcium", "coronary_ct")[0]
    assert tuple(layer.contrast_limits) == (-450.0, 1050.0)  # calcium: W 1500 / L 300
    apply_ct_window(layer, "brain")
    assert tuple(layer.contrast_limits) == (0.0, 80.0)  # W 80 / L 40
    _, widget = viewer.window.add_plugin_dock_widget("napari-calcium", "CT window presets")
    assert set(widget.window.choices) == set(CT_WINDOWS) >= {"calcium", "bone", "brain"}


def test_multi_page_tiff_opens_as_a_pullback_with_its_frames(make_napari_viewer, tmp_path):
    import tifffile

    frames = (np.arange(5)[:, None, None] * 40 + np.zeros((5, 32, 32))).astype(np.uint8)
    stack = tmp_path / "pullback.tif"
    tifffile.imwrite(stack, frames, imagej=True, resolution=(40.0, 40.0), metadata={"unit": "mm"})
    single = tmp_path / "photo.tif"
    tifffile.imwrite(single, frames[0])
    assert napari_get_reader(str(single)) is None  # one image: left to napari's own reader
    viewer = make_napari_viewer()
    (layer,) = viewer.open(stack, plugin="napari-calcium")
    assert layer.data.shape == (5, 32, 32)
    assert np.array_equal(np.asarray(layer.data[3]), frames[3])
    assert layer.scale[1:] == pytest.approx((0.025, 0.025))
    assert layer.metadata["napari_calcium"]["modality"] == "IVUS"
