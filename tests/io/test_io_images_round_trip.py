"""NIfTI / NRRD / MHA: read -> write -> read keeps arrays and geometry."""

import numpy as np
import pytest
import SimpleITK as sitk

from napari_calcium.io import read, write
from napari_calcium.volume import Volume

DIRECTION = np.asarray(sitk.VersorTransform((0, 1, 1), np.deg2rad(30)).GetMatrix()).reshape(3, 3)


@pytest.mark.parametrize("suffix", [".nii.gz", ".nrrd", ".mha"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_round_trip(tmp_path, suffix, dtype):
    rng = np.random.default_rng(7)
    array = (rng.random((3, 4, 5)) * 250).astype(dtype)
    volume = Volume(array, (0.5, 0.7, 2.0), (-12.5, 30.25, -804.5), DIRECTION, modality="LABELS")
    first = read(write(volume, tmp_path / f"a{suffix}"))
    second = read(write(first, tmp_path / f"b{suffix}"))
    for back in (first, second):
        assert back.array.dtype == dtype
        np.testing.assert_array_equal(back.array, array)
        assert back.same_grid(volume, tol_mm=1e-4)
    np.testing.assert_array_equal(second.array, first.array)
    assert second.same_grid(first, tol_mm=1e-6)


def test_write_is_atomic_and_checks_extension(tmp_path):
    from napari_calcium.errors import InputError

    with pytest.raises(InputError, match="unknown extension"):
        write(Volume(np.zeros((2, 2, 2))), tmp_path / "x.png")
    write(Volume(np.zeros((2, 2, 2), np.uint8)), tmp_path / "x.mha")
    assert [p.name for p in tmp_path.iterdir()] == ["x.mha"]  # no temporary left behind


def test_write_leaves_only_the_file_and_refuses_two_file_formats(tmp_path):
    from napari_calcium.errors import InputError

    volume = Volume(np.ones((2, 3, 4), np.uint8), (0.5, 0.5, 1.0))
    write(volume, tmp_path / "v.nii.gz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.nii.gz"]
    with pytest.raises(InputError, match="single-file"):
        write(volume, tmp_path / "v.mhd")


def test_written_files_get_the_usual_permissions(tmp_path):
    import os
    import stat

    mask = os.umask(0o022)
    try:
        path = write(Volume(np.ones((2, 2, 2), np.uint8)), tmp_path / "v.nrrd")
    finally:
        os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
