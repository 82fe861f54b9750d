"""Physical geometry of what read() returns, against SimpleITK and nibabel reading the same files."""

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from napari_calcium.io import read, write_dicom_series
from napari_calcium.volume import LPS_TO_RAS, Acquisition, Volume

# Oblique: 20 degrees about the oblique axis (1, 2, 3); right-handed.
DIRECTION = np.asarray(
    sitk.VersorTransform((1, 2, 3), np.deg2rad(20.0)).GetMatrix(), dtype=float
).reshape(3, 3)
SPACING_MM = (0.6, 0.8, 2.5)  # (x, y, z)
ORIGIN_MM = (12.3, -45.6, 78.9)
SHAPE = (4, 12, 16)  # (z, y, x)
INDICES = [(0, 0, 0), (3, 11, 15), (1, 2, 3), (2, 0, 15), (3, 7, 0)]


def intended_hu():
    """Even HU from -1024 upward, so that slope 2 / intercept -1024 stores them exactly."""
    return (-1024 + 2 * (37 * np.arange(np.prod(SHAPE)) % 1500)).reshape(SHAPE).astype(np.int16)


def sitk_series(folder):
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


def assert_same_points(volume, image):
    for k, j, i in INDICES:
        np.testing.assert_allclose(
            volume.index_to_physical((k, j, i)),
            image.TransformIndexToPhysicalPoint((i, j, k)),
            atol=1e-4,
        )
        assert volume.array[k, j, i] == image.GetPixel(i, j, k)


def test_hand_built_oblique_series(tmp_path, dicom_slices):
    hu = intended_hu()
    stored = (hu.astype(int) + 1024) // 2  # slope 2, intercept -1024
    positions = [
        np.asarray(ORIGIN_MM) + k * SPACING_MM[2] * DIRECTION[:, 2] for k in range(SHAPE[0])
    ]
    dicom_slices(
        tmp_path / "s",
        list(stored),
        positions,
        orientation=(*DIRECTION[:, 0], *DIRECTION[:, 1]),
        pixel_spacing=(SPACING_MM[1], SPACING_MM[0]),
        slope=2,
        intercept=-1024,
    )
    volume = read(tmp_path / "s")
    assert volume.modality == "CT" and volume.units == "HU"
    assert volume.array.dtype == np.int16  # integral slope/intercept
    np.testing.assert_array_equal(volume.array, hu)
    np.testing.assert_allclose(volume.spacing_mm, SPACING_MM, atol=1e-6)
    assert_same_points(volume, sitk_series(tmp_path / "s"))
    # physical point from the construction itself
    k, j, i = 3, 4, 5
    expected = np.asarray(ORIGIN_MM) + DIRECTION @ (np.asarray(SPACING_MM) * (i, j, k))
    np.testing.assert_allclose(volume.index_to_physical((k, j, i)), expected, atol=1e-4)


def test_non_integer_rescale_gives_float32(tmp_path, dicom_slices):
    stored = np.arange(2 * 3 * 4, dtype=np.uint16).reshape(2, 3, 4)
    dicom_slices(tmp_path / "s", list(stored), [(0, 0, 0), (0, 0, 1.5)], slope=0.5, intercept=-3)
    volume = read(tmp_path / "s")
    assert volume.array.dtype == np.float32
    np.testing.assert_array_equal(volume.array, stored * 0.5 - 3)


@pytest.mark.parametrize("compress", [False, True])
def test_written_oblique_series(tmp_path, compress):
    hu = intended_hu()
    volume = Volume(
        hu,
        SPACING_MM,
        ORIGIN_MM,
        DIRECTION,
        modality="CT",
        units="HU",
        acquisition=Acquisition(kvp=120),
    )
    folder = write_dicom_series(
        volume, tmp_path / "ct", rescale_slope=2.0, rescale_intercept=-1024.0, compress=compress
    )
    assert len(list(folder.iterdir())) == SHAPE[0]
    back = read(folder)
    np.testing.assert_array_equal(back.array, hu)
    assert back.same_grid(volume, tol_mm=1e-4)
    assert back.acquisition.kvp == 120
    assert back.acquisition.slice_increment_mm == pytest.approx(SPACING_MM[2])
    assert_same_points(back, sitk_series(folder))


def test_written_series_is_anonymous(tmp_path):
    import pydicom

    folder = write_dicom_series(Volume(intended_hu(), modality="CT"), tmp_path / "ct")
    ds = pydicom.dcmread(next(folder.iterdir()))
    assert str(ds.PatientName) == "ANONYMOUS^PHANTOM"
    assert "PatientBirthDate" not in ds
    assert ds.RescaleIntercept == -1024 and ds.PixelRepresentation == 0  # uint16 stored


def test_nifti_oblique_sform(tmp_path):
    """NIfTI written by nibabel with an oblique sform (RAS): read() gives the LPS points."""
    array_zyx = np.arange(np.prod(SHAPE), dtype=np.float32).reshape(SHAPE)
    affine_lps = np.eye(4)
    affine_lps[:3, :3] = DIRECTION * np.asarray(SPACING_MM)
    affine_lps[:3, 3] = ORIGIN_MM
    affine_ras = np.diag([*np.diag(LPS_TO_RAS), 1.0]) @ affine_lps
    image = nib.Nifti1Image(array_zyx.transpose(2, 1, 0), affine_ras)
    image.set_sform(affine_ras, code=1)
    image.set_qform(affine_ras, code=1)
    path = tmp_path / "oblique.nii.gz"
    nib.save(image, path)

    volume = read(path)
    np.testing.assert_array_equal(volume.array, array_zyx)
    itk = sitk.ReadImage(str(path))
    for k, j, i in INDICES:
        from_nibabel = LPS_TO_RAS @ (affine_ras @ (i, j, k, 1))[:3]
        np.testing.assert_allclose(volume.index_to_physical((k, j, i)), from_nibabel, atol=1e-4)
        np.testing.assert_allclose(
            volume.index_to_physical((k, j, i)),
            itk.TransformIndexToPhysicalPoint((i, j, k)),
            atol=1e-4,
        )


def test_series_writer_is_atomic(tmp_path):
    first = Volume(intended_hu(), modality="CT")
    folder = write_dicom_series(first, tmp_path / "ct")
    with pytest.raises(FileExistsError):
        write_dicom_series(first, folder)
    second = first.with_array(np.full(SHAPE, 40, np.int16))
    write_dicom_series(second, folder, overwrite=True)
    np.testing.assert_array_equal(read(folder).array, 40)
    assert [p.name for p in tmp_path.iterdir()] == ["ct"]  # no temporary folders left
