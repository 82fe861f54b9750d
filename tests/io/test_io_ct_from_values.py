"""NIfTI / NRRD / MHA carry no modality: a CT is recognised by its Hounsfield units.

The bands (air -1000, water 0, soft tissue 20-60 HU) come from the HU scale, not from
these files. Real CTs and MRIs from other sources, and phantoms built here for the
test (padding outside the field of view, a phase image, a z-scored MRI, raw stored
values), check that it holds beyond the files it was first tried on.
"""

import numpy as np
import pytest

from napari_calcium import Volume, read, write
from napari_calcium.io.images import hu_evidence


def _round_trip(volume: Volume, tmp_path, name="image.nii.gz") -> Volume:
    return read(write(volume, tmp_path / name))


@pytest.mark.parametrize("patient", ["STS_001", "STS_002", "STS_003"])
def test_real_ct_nifti_opens_as_ct_and_its_mri_does_not(real_data, patient):
    folder = real_data / "ibsi_sts" / patient
    ct = read(folder / "CT_image.nii.gz")
    assert (ct.modality, ct.units) == ("CT", "HU")
    for name in ("MR_T1_image.nii.gz", "CT_mask.nii.gz", "MR_T1_mask.nii.gz"):
        other = read(folder / name)
        assert (other.modality, other.units) == ("OT", "a.u."), name


def test_real_dicom_ct_and_mr_saved_as_nifti(real_data, tmp_path):
    """Siemens and GE CT (HU after the rescale) and Siemens MR, saved without a modality."""
    for source, expected in (
        (real_data / "ct_siemens_20slices", "CT"),
        (real_data / "pydicom" / "CT_small.dcm", "CT"),
        (real_data / "mr_siemens_3slices", "OT"),
        (real_data / "mr_enhanced" / "enh.dcm", "OT"),
    ):
        volume = read(source)
        saved = _round_trip(volume.replace(modality="OT", units="a.u."), tmp_path)
        assert saved.modality == expected, source.name


def test_totalsegmentator_contrast_ct(local_data):
    ct = read(local_data("totalseg/ct_cropped.nii.gz"))
    assert (ct.modality, ct.units) == ("CT", "HU")
    assert read(local_data("totalseg/heart.nii.gz")).modality == "OT"  # a mask


def test_flair_from_niivue_is_not_ct(local_data):
    assert read(local_data("niivue/FLAIR.nii.gz")).modality == "OT"


def _body(shape=(12, 96, 96), seed=3):
    """An ellipse of soft tissue (40 HU) with a bone ring (900 HU) in air (-1000 HU)."""
    rng = np.random.default_rng(seed)
    z, y, x = np.indices(shape)
    r = np.hypot((y - shape[1] / 2) / 30, (x - shape[2] / 2) / 40)
    hu = np.where(r < 1, 40.0, -1000.0)
    hu[(r > 0.8) & (r < 0.9)] = 900.0
    return hu + rng.normal(0, 15, shape), r


@pytest.mark.parametrize("padding", [None, -2048, -3024, -32768])
def test_phantom_ct_with_or_without_padding_outside_the_field_of_view(tmp_path, padding):
    hu, r = _body()
    if padding is not None:
        hu[r > 1.15] = padding  # the corners outside a circular field of view
    ct = _round_trip(Volume(hu.astype(np.int16)), tmp_path)
    assert (ct.modality, ct.units) == ("CT", "HU")
    assert "Hounsfield" in hu_evidence(ct.array)


def test_images_that_are_not_ct_in_hu(tmp_path):
    hu, r = _body()
    rng = np.random.default_rng(5)
    cases = {
        # magnitude MRI: dark background, brighter tissue
        "mri": np.where(r < 1, 600.0, 5.0) + rng.normal(0, 10, hu.shape),
        # z-scored (intensity-normalised) MRI: negative values, but nowhere near -1000
        "zscored mri": (hu - hu.mean()) / hu.std(),
        # a phase image spread evenly over -4096..4095
        "phase": rng.uniform(-4096, 4095, hu.shape),
        # the same CT as raw stored values, without the rescale intercept (air near 24)
        "raw ct": np.clip(hu + 1024, 0, None),
        # a CT cropped inside the body (no air): not recognised, opened with a modality
        "ct without air": np.full(hu.shape, 40.0) + rng.normal(0, 15, hu.shape),
        "labels": (r < 1).astype(float),
    }
    for name, values in cases.items():
        volume = _round_trip(Volume(values.astype(np.float32)), tmp_path, f"{name}.nii.gz")
        assert volume.modality == "OT", name
        assert hu_evidence(values) is None, name


def test_an_explicit_modality_wins(tmp_path):
    hu, _ = _body()
    path = write(Volume(hu.astype(np.int16)), tmp_path / "ct.nrrd")
    assert read(path).modality == "CT"
    assert read(path, modality="MR").modality == "MR"
