"""Bad input opened in napari: a clear notification, no traceback, nothing half-added."""

import numpy as np
import pytest
from napari.utils.notifications import notification_manager

from napari_calcium import Volume
from napari_calcium._reader import read_layers
from napari_calcium.io import write_ultrasound_multiframe


@pytest.fixture
def notifications():
    messages = []
    notification_manager.notification_ready.connect(lambda n: messages.append(str(n.message)))
    yield messages
    notification_manager.notification_ready.disconnect()


def images(n):
    return [np.full((6, 7), 1000 + 10 * k, np.uint16) for k in range(n)]


def open_in_napari(viewer, path):
    viewer.open(path, plugin="napari-calcium")
    return list(viewer.layers)


def test_empty_folder(make_napari_viewer, tmp_path, notifications):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "x.dcm").write_bytes(b"")
    assert open_in_napari(make_napari_viewer(), tmp_path / "empty") == []
    assert any("could not open empty" in m for m in notifications), notifications


def test_missing_slice(make_napari_viewer, tmp_path, dicom_slices, axial, notifications):
    dicom_slices(tmp_path / "ct", images(4), axial([0, 2, 4, 8]))
    assert open_in_napari(make_napari_viewer(), tmp_path / "ct") == []
    assert any("missing" in m and "resample" in m for m in notifications), notifications


def test_truncated_dicom(make_napari_viewer, tmp_path, dicom_slices, axial, notifications):
    dicom_slices(tmp_path / "ct", images(3), axial([0, 2, 4]))
    victim = sorted((tmp_path / "ct").iterdir())[0]
    victim.write_bytes(victim.read_bytes()[:-40])
    assert open_in_napari(make_napari_viewer(), tmp_path / "ct") == []
    assert any(victim.name in m for m in notifications), notifications


def test_non_image_dicom_extension(make_napari_viewer, tmp_path, notifications):
    (tmp_path / "report.dcm").write_text("this is a text report")
    assert open_in_napari(make_napari_viewer(), tmp_path / "report.dcm") == []
    assert any("report.dcm" in m for m in notifications), notifications


def test_two_series_asks_which_one(tmp_path, dicom_slices, axial):
    dicom_slices(tmp_path, images(3), axial([0, 2, 4]), description="small", prefix="a")
    dicom_slices(tmp_path, images(5), axial([0, 2, 4, 6, 8]), description="large", prefix="b")
    offered = []

    def choose(series):
        offered.extend(s.description for s in series)
        return series[1].series_uid

    ((data, kwargs, kind),) = read_layers(tmp_path, choose_series=choose)
    assert offered == ["large", "small"]
    assert data.shape == (3, 6, 7) and kind == "image"
    assert read_layers(tmp_path, choose_series=lambda series: None) == [(None,)]


def test_pullback_without_speed_opens_with_a_warning(make_napari_viewer, tmp_path, notifications):
    frames = Volume(np.full((4, 8, 8), 50, np.uint8), (0.03, 0.03, 1.0), modality="IVUS")
    path = tmp_path / "pullback.dcm"
    write_ultrasound_multiframe(frames, path)
    (layer,) = open_in_napari(make_napari_viewer(), path)
    assert layer.data.shape == (4, 8, 8)
    assert any("pullback speed and frame rate" in m for m in notifications), notifications
