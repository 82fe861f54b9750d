"""IVUS pullbacks: multi-frame ultrasound DICOM, frame folders, pullback geometry."""

import logging

import dask.array as da
import imageio.v3 as iio
import numpy as np
import pydicom
import pytest

from napari_calcium.errors import InputError
from napari_calcium.io import read, require_frame_spacing, write, write_ultrasound_multiframe
from napari_calcium.volume import Acquisition, Volume

PIXEL_MM = 0.025


def pullback(n_frames=5, rows=12, cols=10):
    """Frame k holds (k * 7 + column) mod 256, so every frame differs."""
    values = (np.arange(n_frames)[:, None, None] * 7 + np.arange(cols)[None, None, :]) % 256
    return Volume(
        np.broadcast_to(values, (n_frames, rows, cols)).astype(np.uint8),
        (PIXEL_MM, PIXEL_MM, 1.0),
        modality="IVUS",
    )


@pytest.mark.parametrize("rgb", [False, True])
@pytest.mark.parametrize("compress", [False, True])
def test_multiframe_round_trip(tmp_path, rgb, compress):
    volume = pullback()
    path = write_ultrasound_multiframe(
        volume, tmp_path / "pb.dcm", rgb=rgb, frame_rate_hz=30.0, compress=compress
    )
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.3.1"
    assert ds.SamplesPerPixel == (3 if rgb else 1)
    assert ds.SequenceOfUltrasoundRegions[0].PhysicalUnitsXDirection == 3  # cm
    assert ds.SequenceOfUltrasoundRegions[0].PhysicalDeltaX == pytest.approx(PIXEL_MM / 10)
    assert float(ds.FrameTime) == pytest.approx(1000 / 30)
    back = read(path, pullback_speed_mm_s=0.5)
    assert back.modality == "IVUS" and back.array.dtype == np.uint8
    np.testing.assert_array_equal(back.numpy(), volume.array)
    np.testing.assert_allclose(back.spacing_mm, (PIXEL_MM, PIXEL_MM, 0.5 / 30))
    assert back.acquisition.frame_rate_hz == pytest.approx(30.0)
    assert require_frame_spacing(back) == pytest.approx(0.5 / 30)


def test_user_values_override_the_file(tmp_path):
    path = write_ultrasound_multiframe(pullback(), tmp_path / "pb.dcm", frame_rate_hz=30.0)
    volume = read(path, pullback_speed_mm_s=1.0, frame_rate_hz=20.0, pixel_spacing_mm=0.04)
    np.testing.assert_allclose(volume.spacing_mm, (0.04, 0.04, 1.0 / 20.0))
    assert volume.acquisition.pullback_speed_mm_s == 1.0


def test_pullback_without_speed_opens_with_warning(tmp_path, caplog):
    path = write_ultrasound_multiframe(pullback(), tmp_path / "pb.dcm", frame_rate_hz=30.0)
    with caplog.at_level(logging.WARNING):
        volume = read(path)
    assert "--pullback-speed" in caplog.text and "--frame-rate" in caplog.text
    assert volume.spacing_mm[2] == 1.0 and volume.acquisition.frame_spacing_mm is None
    with pytest.raises(InputError) as err:
        require_frame_spacing(volume)
    assert "pullback speed not given" in str(err.value) and "--pullback-speed" in str(err.value)


def test_large_pullback_opens_lazily(tmp_path):
    n_frames = 200
    volume = pullback(n_frames, rows=16, cols=16)
    path = write_ultrasound_multiframe(volume, tmp_path / "pb.dcm", frame_rate_hz=30.0)
    opened = read(path, pullback_speed_mm_s=0.5)
    assert isinstance(opened.array, da.Array)
    assert opened.array.chunks[0] == (1,) * n_frames  # one chunk per frame
    # Pixels are read when a frame is asked for, not at opening: change frame 150 on
    # disk after opening and the opened volume shows the new values.
    ds = pydicom.dcmread(path, defer_size=64)
    offset = ds._dict[0x7FE00010].value_tell + 150 * 16 * 16
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(bytes([222]) * 16 * 16)
    np.testing.assert_array_equal(opened.array[150].compute(), 222)
    np.testing.assert_array_equal(opened.array[149].compute(), volume.array[149])


def test_truncated_pullback(tmp_path):
    path = write_ultrasound_multiframe(pullback(20), tmp_path / "pb.dcm")
    path.write_bytes(path.read_bytes()[:-500])
    with pytest.raises(InputError, match="pb.dcm is truncated"):
        read(path)


def test_frame_folder_natural_order_and_lazy(tmp_path):
    volume = pullback(12)
    for k, frame in enumerate(volume.array):  # frame2 before frame10 (natural order)
        suffix = "png" if k % 2 else "tif"
        iio.imwrite(tmp_path / f"frame{k}.{suffix}", frame)
    opened = read(tmp_path, pixel_spacing_mm=PIXEL_MM, pullback_speed_mm_s=0.5, frame_rate_hz=30)
    assert isinstance(opened.array, da.Array)
    np.testing.assert_array_equal(opened.numpy(), volume.array)
    np.testing.assert_allclose(opened.spacing_mm, (PIXEL_MM, PIXEL_MM, 0.5 / 30))
    iio.imwrite(tmp_path / "frame10.tif", np.full((12, 10), 9, np.uint8))
    np.testing.assert_array_equal(opened.array[10].compute(), 9)  # read on demand


def test_rgb_frames_become_grey(tmp_path):
    rgb = np.zeros((2, 6, 8, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 100, 50
    for k, frame in enumerate(rgb):
        iio.imwrite(tmp_path / f"f{k}.png", frame)
    volume = read(tmp_path)
    np.testing.assert_array_equal(volume.numpy(), round(0.299 * 200 + 0.587 * 100 + 0.114 * 50))


def test_frames_of_different_sizes(tmp_path):
    for k in range(3):
        iio.imwrite(tmp_path / f"f{k}.png", np.zeros((8, 8), np.uint8))
    iio.imwrite(tmp_path / "f3.png", np.zeros((8, 9), np.uint8))
    with pytest.raises(InputError, match=r"f3.png \(9x8\)"):
        read(tmp_path)


def test_nifti_stack_as_ivus(tmp_path):
    path = write(pullback(), tmp_path / "pb.nii.gz")
    volume = read(path, modality="IVUS", pullback_speed_mm_s=0.5, frame_rate_hz=25.0)
    assert volume.modality == "IVUS"
    assert volume.spacing_mm[2] == pytest.approx(0.02)
    np.testing.assert_array_equal(volume.numpy(), pullback().array)


def test_pullback_options_refused_for_ct(tmp_path):
    path = write(Volume(np.zeros((2, 3, 4), np.int16), modality="CT"), tmp_path / "ct.nrrd")
    with pytest.raises(InputError, match="apply to IVUS only"):
        read(path, modality="CT", frame_rate_hz=30.0)


def test_acquisition_frame_rate_written_by_default(tmp_path):
    volume = pullback().replace(acquisition=Acquisition(frame_rate_hz=12.5))
    path = write_ultrasound_multiframe(volume, tmp_path / "pb.dcm")
    assert read(path).acquisition.frame_rate_hz == pytest.approx(12.5)


def test_folder_of_single_frame_ultrasound_files(tmp_path, caplog):
    """One file per frame, same series: ordered by InstanceNumber, not by file name."""
    volume = pullback(3)
    for k, frame in enumerate(volume.array):
        path = write_ultrasound_multiframe(
            volume.replace(array=frame[None]), tmp_path / f"z{2 - k}.dcm"
        )
        ds = pydicom.dcmread(path)
        ds.SeriesInstanceUID, ds.InstanceNumber = "1.2.3.99", k + 1
        ds.save_as(path)
    with caplog.at_level(logging.WARNING):
        opened = read(tmp_path, pixel_spacing_mm=0.04, pullback_speed_mm_s=0.5, frame_rate_hz=10)
    np.testing.assert_array_equal(opened.numpy(), volume.array)
    np.testing.assert_allclose(opened.spacing_mm, (0.04, 0.04, 0.05))
    assert caplog.text == ""  # everything needed was given


def test_imagej_stack_is_a_pullback_with_its_calibration(tmp_path):
    import tifffile

    volume = pullback(n_frames=6)
    path = tmp_path / "pullback.tif"
    # ImageJ calibration: 40 pixels per mm, one frame every 1/30 s
    tifffile.imwrite(
        path, volume.numpy(), imagej=True, resolution=(40.0, 40.0),
        metadata={"unit": "mm", "finterval": 1 / 30, "axes": "TYX"},
    )  # fmt: skip
    read_back = read(path, pullback_speed_mm_s=0.5)
    assert read_back.modality == "IVUS"
    assert np.array_equal(read_back.numpy(), volume.numpy())
    assert read_back.spacing_mm[0] == pytest.approx(1 / 40)
    assert read_back.acquisition.frame_rate_hz == pytest.approx(30.0)
    assert read_back.frame_spacing_mm == pytest.approx(0.5 / 30)


def test_tiff_stack_without_calibration_and_palette_pages(tmp_path, caplog):
    import tifffile

    frames = pullback(n_frames=4).numpy()
    plain = tmp_path / "plain.tif"
    tifffile.imwrite(plain, frames, photometric="minisblack")  # 4 pages, no resolution
    with caplog.at_level(logging.WARNING):
        volume = read(plain)
    assert volume.shape == (4, 12, 10) and volume.spacing_mm[0] == 1.0
    assert "carries no pixel size" in caplog.text
    assert read(plain, pixel_spacing_mm=0.03).spacing_mm[0] == 0.03
    # palette pages (index -> colour table) become the luminance of their colours
    table = np.zeros((3, 256), np.uint16)
    table[:, 7] = [65535, 65535, 65535]  # index 7 is white, the rest black
    indexed = np.where(frames % 2 == 0, 7, 0).astype(np.uint8)
    palette = tmp_path / "palette.tif"
    tifffile.imwrite(palette, indexed, photometric="palette", colormap=table)
    grey = read(palette).numpy()
    assert np.array_equal(grey, np.where(indexed == 7, 255, 0))


def test_dicom_pullback_rate_and_frames_are_read_and_written(tmp_path):
    volume = pullback(n_frames=8).with_pullback(0.5, 30.0)
    volume = volume.replace(
        acquisition=Acquisition(
            pullback_speed_mm_s=0.5, frame_rate_hz=30.0, pullback_start_frame=2,
            pullback_stop_frame=6,
        )
    )  # fmt: skip
    path = write_ultrasound_multiframe(volume, tmp_path / "pb.dcm")
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    assert float(ds[0x0018, 0x3101].value) == 0.5  # IVUS Pullback Rate, mm/s
    assert (ds.IVUSPullbackStartFrameNumber, ds.IVUSPullbackStopFrameNumber) == (3, 7)
    read_back = read(path)  # no pullback speed given: the file has it
    assert read_back.frame_spacing_mm == pytest.approx(0.5 / 30)
    acq = read_back.acquisition
    assert (acq.pullback_start_frame, acq.pullback_stop_frame) == (2, 6)
