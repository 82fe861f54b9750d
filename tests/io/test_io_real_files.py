"""Real scanner files (shared/data/real, see its README): the facts stated there."""

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from napari_calcium.io import read


def test_siemens_ct_spacing_from_positions_not_thickness(real_data):
    folder = real_data / "ct_siemens_20slices"
    volume = read(folder)
    assert volume.shape == (20, 512, 512)
    assert volume.modality == "CT" and volume.units == "HU"
    np.testing.assert_allclose(volume.spacing_mm[:2], (0.9765625, 0.9765625))
    assert volume.spacing_mm[2] == pytest.approx(2.0, abs=1e-6)  # not SliceThickness 3
    assert volume.acquisition.slice_thickness_mm == 3.0
    assert volume.acquisition.slice_increment_mm == pytest.approx(2.0, abs=1e-6)
    assert volume.acquisition.kvp == 120
    assert "Br38f" in volume.acquisition.reconstruction_kernel
    assert volume.origin_mm[2] == pytest.approx(-804.5)
    assert volume.array.min() == -1024 and volume.array.max() == 1839
    # SimpleITK (GDCM) reading the same files agrees point by point
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    image = reader.Execute()
    for k, j, i in [(0, 0, 0), (19, 511, 511), (7, 100, 300)]:
        np.testing.assert_allclose(
            volume.index_to_physical((k, j, i)),
            image.TransformIndexToPhysicalPoint((i, j, k)),
            atol=1e-4,
        )
        assert volume.array[k, j, i] == image.GetPixel(i, j, k)


def test_siemens_mr_three_slices(real_data):
    volume = read(real_data / "mr_siemens_3slices")
    assert volume.shape == (3, 512, 512) and volume.modality == "MR"
    np.testing.assert_allclose(volume.spacing_mm, (0.41015625, 0.41015625, 1.5), atol=1e-4)
    assert volume.array.min() == 0 and volume.array.max() == 507


def test_enhanced_mr_per_frame_geometry(real_data):
    path = real_data / "mr_enhanced" / "enh.dcm"
    volume = read(path)
    assert volume.shape == (6, 64, 64) and volume.modality == "MR"
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    frames = ds.PerFrameFunctionalGroupsSequence
    positions = np.array(
        [[float(v) for v in f.PlanePositionSequence[0].ImagePositionPatient] for f in frames]
    )
    order = np.argsort(positions @ volume.direction[:, 2])
    for k, frame in enumerate(order):  # each slice sits where its frame says
        np.testing.assert_allclose(
            volume.index_to_physical((k, 0, 0)), positions[frame], atol=1e-3
        )
    spacing = frames[0].PixelMeasuresSequence[0].PixelSpacing
    np.testing.assert_allclose(volume.spacing_mm[:2], (spacing[1], spacing[0]))


def test_ge_ct_single_slice(real_data):
    volume = read(real_data / "pydicom" / "CT_small.dcm")
    assert volume.shape == (1, 128, 128) and volume.units == "HU"
    np.testing.assert_allclose(volume.spacing_mm[:2], (0.661468, 0.661468))
    # stored 128..2191 with RescaleIntercept -1024
    assert volume.array.min() == 128 - 1024 and volume.array.max() == 2191 - 1024


def test_enhanced_ct_rescale_from_functional_groups(real_data):
    path = real_data / "pydicom" / "eCT_Supplemental.dcm"
    ds = pydicom.dcmread(path)
    assert "RescaleIntercept" not in ds  # only in the functional groups
    volume = read(path)
    assert volume.shape == (2, 512, 512) and volume.units == "HU"
    np.testing.assert_allclose(volume.spacing_mm[:2], (0.388672, 0.388672))
    # IOP (-1,0,0, 0,1,0): normal = row x col = (0,0,-1); frames at z -159 and -149,
    # so along the normal frame 2 (z -149) comes first.
    np.testing.assert_allclose(volume.direction[:, 2], (0, 0, -1))
    assert volume.origin_mm[2] == pytest.approx(-149.0)
    stored = ds.pixel_array.astype(int)
    np.testing.assert_array_equal(volume.array, stored[::-1] - 1024)


def test_rgb_ultrasound_becomes_grey(real_data):
    path = real_data / "pydicom" / "US1_UNCR.dcm"
    volume = read(path)
    assert volume.modality == "IVUS" and volume.shape == (1, 480, 640)
    assert volume.array.dtype == np.uint8
    rgb = pydicom.dcmread(path).pixel_array.astype(float)
    grey = np.rint(0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2])
    np.testing.assert_array_equal(volume.numpy()[0], grey)


def test_aloka_ultrasound_region_calibration(real_data):
    volume = read(real_data / "pydicom" / "gdcm-US-ALOKA-16.dcm")
    # two 2-D regions with PhysicalDeltaX/Y 0.0382653... cm (units 3 = cm)
    expected_mm = 10 * 0.03826530650258064
    np.testing.assert_allclose(volume.spacing_mm[:2], (expected_mm, expected_mm))
    assert volume.shape == (1, 480, 640)


def test_no_patient_identity_in_info(real_data, capsys):
    """US1_UNCR.dcm names its patient and ID; `info` output carries neither."""
    from napari_calcium.cli import main

    path = real_data / "pydicom" / "US1_UNCR.dcm"
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    for identity in (str(ds.PatientName), ds.PatientID):
        assert identity and identity not in out
