"""Bad input is told to the user with what to do, never silently opened wrong."""

import logging

import numpy as np
import pytest

from napari_calcium.errors import InputError
from napari_calcium.io import list_series, read, write_dicom_series
from napari_calcium.volume import Volume

TILT_DEG = 15.0


def slices(n, rows=6, cols=7):
    """Stored images whose value is 100 * slice number + column (distinct per slice)."""
    return [
        np.full((rows, cols), 100 * k, np.uint16) + np.arange(cols, dtype=np.uint16)
        for k in range(n)
    ]


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty"):
        read(tmp_path / "empty")


def test_missing_path(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read(tmp_path / "nowhere")


def test_non_image_file_and_folder(tmp_path):
    notes = tmp_path / "notes" / "notes.txt"
    notes.parent.mkdir()
    notes.write_text("not an image")
    with pytest.raises(InputError, match="notes.txt is not a format"):
        read(notes)
    with pytest.raises(InputError, match="no DICOM images or PNG/TIFF frames"):
        read(notes.parent)


def test_two_series(tmp_path, dicom_slices, axial, caplog):
    small = dicom_slices(tmp_path, slices(3), axial([0, 2, 4]), description="small", prefix="a")
    large = dicom_slices(
        tmp_path, slices(5), axial([0, 2, 4, 6, 8]), modality="MR", description="large", prefix="b"
    )
    with pytest.raises(InputError) as err:
        read(tmp_path)
    message = str(err.value)
    for text in (small, large, "[CT] small: 3 image(s)", "[MR] large: 5 image(s)", "--series"):
        assert text in message
    assert [s.series_uid for s in list_series(tmp_path)] == [large, small]  # largest first
    with caplog.at_level(logging.WARNING):
        volume = read(tmp_path, pick_series="largest")
    assert volume.shape == (5, 6, 7) and volume.modality == "MR"
    assert large in caplog.text
    assert read(tmp_path, series_uid=small).shape == (3, 6, 7)


def test_missing_slice(tmp_path, dicom_slices, axial):
    z = [0, 2, 4, 8, 10]  # the slice at 6 mm is missing
    dicom_slices(tmp_path, slices(5), axial(z))
    with pytest.raises(InputError) as err:
        read(tmp_path)
    assert "missing slice" in str(err.value) and "4.000 mm between slices 2 and 3" in str(
        err.value
    )
    assert "--resample" in str(err.value)
    volume = read(tmp_path, resample=True)
    assert volume.shape == (6, 6, 7) and volume.spacing_mm[2] == pytest.approx(2.0)
    # the slice at 6 mm is half-way between the stored slices 2 (4 mm) and 3 (8 mm)
    stored = slices(5)
    np.testing.assert_allclose(volume.array[3], (stored[2] + stored[3].astype(float)) / 2)
    np.testing.assert_allclose(volume.array[4], stored[3])
    assert "missing slice" in volume.acquisition.resampling


def test_non_uniform_spacing(tmp_path, dicom_slices, axial):
    dicom_slices(tmp_path, slices(5), axial([0, 2, 4, 6.5, 8.5]))
    with pytest.raises(InputError, match="non-uniform slice spacing") as err:
        read(tmp_path)
    assert "2.500" in str(err.value) and "2-3" in str(err.value)


def test_spacing_within_tolerance_opens(tmp_path, dicom_slices, axial):
    dicom_slices(tmp_path, slices(3), axial([0, 2.0, 4.005]))  # 0.005 mm < 0.01 mm tolerance
    assert read(tmp_path).spacing_mm[2] == pytest.approx(2.0025)


def test_gantry_tilt_and_its_resampling(tmp_path, dicom_slices):
    """Slices 2 mm apart along z, each shifted 2 tan(15 deg) mm further along y."""
    rows, cols, n, step = 12, 5, 6, 2.0
    shift_y = step * np.tan(np.deg2rad(TILT_DEG))
    positions = [(0.0, k * shift_y, k * step) for k in range(n)]

    def f(xyz):  # a linear function of the physical position (mm): resampling keeps it
        return 1000 + 3 * xyz[..., 0] + 40 * xyz[..., 1] + 7 * xyz[..., 2]

    jj, ii = np.mgrid[0:rows, 0:cols]
    images = [
        np.rint(f(np.stack([ii * 1.0, y0 + jj * 1.0, z0 + 0 * ii], axis=-1)))
        for _, y0, z0 in positions
    ]
    dicom_slices(tmp_path, images, positions, modality="MR")
    with pytest.raises(InputError, match="gantry tilt") as err:
        read(tmp_path)
    assert f"{TILT_DEG:.2f} degrees" in str(err.value)

    volume = read(tmp_path, resample=True)
    assert volume.shape == (n, rows, cols)
    np.testing.assert_allclose(volume.direction, np.eye(3), atol=1e-6)
    np.testing.assert_allclose(volume.spacing_mm, (1.0, 1.0, step))
    assert "gantry tilt" in volume.acquisition.resampling
    # every output voxel whose point lies inside the tilted stack holds f(point)
    k, j, i = np.meshgrid(range(n), range(rows), range(cols), indexing="ij")
    inside = j >= np.ceil(k * shift_y)
    points = volume.index_to_physical(np.stack([k, j, i], axis=-1))
    np.testing.assert_allclose(volume.array[inside], f(points)[inside], atol=0.5 + 1e-3)


def test_duplicate_positions(tmp_path, dicom_slices, axial):
    dicom_slices(tmp_path, slices(3), axial([0, 2, 2]))
    with pytest.raises(InputError, match="share the same position"):
        read(tmp_path)


def test_truncated_dicom(tmp_path):
    folder = write_dicom_series(
        Volume(np.zeros((2, 16, 16), np.int16), modality="CT"), tmp_path / "ct"
    )
    path = sorted(folder.iterdir())[1]
    path.write_bytes(path.read_bytes()[:-200])  # cut inside the pixel data
    with pytest.raises(InputError, match=path.name):
        read(folder)
    path.write_bytes(path.read_bytes()[:500])  # cut inside the header
    for source in (path, folder):
        with pytest.raises(InputError, match=f"{path.name} is incomplete"):
            read(source)


@pytest.mark.parametrize("name", ["ct.nii", "ct.nii.gz", "ct.nrrd", "ct.mha"])
def test_truncated_image_files_are_refused(tmp_path, name):
    from napari_calcium.io import write

    volume = Volume(np.arange(20 * 30 * 40, dtype=np.int16).reshape(20, 30, 40), (1, 1, 1))
    path = write(volume, tmp_path / name)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(InputError, match=name.replace(".", r"\.")):
        read(path)
