"""Images moved by a known rigid transform (napari_calcium.phantoms.moved)."""

import numpy as np

from napari_calcium.phantoms.moved import move_header
from napari_calcium.volume import Volume


def test_header_move_puts_each_voxel_where_the_motion_takes_it():
    """Every voxel keeps its value and lands at R·(p − c) + c + t, c the field-of-view
    centre: rotation of 90 deg about z takes x to y, written out here by hand."""
    array = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    volume = Volume(array, spacing_mm=(1.0, 2.0, 3.0), origin_mm=(10.0, -5.0, 7.0))
    moved, transform = move_header(volume, (0.0, 0.0, 90.0), (1.0, 2.0, 3.0))
    np.testing.assert_array_equal(moved.numpy(), array)
    index = np.array([[0, 0, 0], [3, 4, 5], [1, 2, 3]])
    before = volume.index_to_physical(index)
    centre = np.array([10.0 + 2.5, -5.0 + 4.0, 7.0 + 4.5])
    rotation = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    expected = (before - centre) @ rotation.T + centre + np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(moved.index_to_physical(index), expected, atol=1e-9)
    np.testing.assert_allclose(
        [transform.TransformPoint(tuple(p)) for p in before], expected, atol=1e-9
    )
