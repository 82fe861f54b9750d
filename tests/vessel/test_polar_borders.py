"""Polar grid, polygon geometry and optimal closed paths on shapes known by construction."""

import numpy as np
import pytest

from napari_calcium.vessel.borders import optimal_closed_paths
from napari_calcium.vessel.ivus import _diameters
from napari_calcium.vessel.polar import (
    PolarGrid,
    circular_clean,
    circular_runs,
    polygon_area,
    polygon_centroid,
    polygon_radii,
)


def ellipse(cy, cx, ry, rx, n=720):
    t = np.deg2rad(np.arange(n) * 360.0 / n)
    return np.stack([cy - ry * np.cos(t), cx + rx * np.sin(t)], axis=1)


def test_polygon_area_centroid_and_radii_of_an_ellipse():
    e = ellipse(50.0, 40.0, 10.0, 6.0)
    assert polygon_area(e) == pytest.approx(np.pi * 10 * 6, rel=1e-4)
    assert polygon_centroid(e) == pytest.approx([50.0, 40.0], abs=1e-6)
    # from the centre: 10 px towards 12 o'clock (0 deg), 6 px towards 3 o'clock (90 deg)
    assert polygon_radii(e, (50.0, 40.0), [0.0, 90.0, 180.0, 270.0]) == pytest.approx(
        [10, 6, 10, 6], abs=1e-3
    )


def test_min_max_mean_diameters_through_the_centroid():
    e = ellipse(50.0, 40.0, 10.0, 6.0, 360)
    c = ellipse(20.0, 20.0, 5.0, 5.0, 360)
    d = _diameters(np.stack([e, c]), np.array([[50.0, 40.0], [20.0, 20.0]]))
    assert d[0, :2] == pytest.approx([12.0, 20.0], abs=1e-3)
    assert d[1] == pytest.approx([10.0, 10.0, 10.0], abs=1e-3)


def test_polar_grid_fits_the_frame_and_maps_radii_to_points():
    grid = PolarGrid.fitting((101, 81), (50.0, 40.0), n_angles=4, radial_step_px=2.0)
    assert grid.radii_px[-1] <= 40.0 and grid.n_radii == 21
    points = grid.points(np.array([10.0, 10.0, 10.0, 10.0]))
    assert np.allclose(points, [[40, 40], [50, 50], [60, 40], [50, 30]])


def test_optimal_closed_path_follows_a_known_valley():
    # cost 0 along a sinusoidal radius r(a) = 20 + 5 sin(a), 1 elsewhere
    n_angles, n_radii = 360, 40
    a = np.deg2rad(np.arange(n_angles))
    truth = np.rint(20 + 5 * np.sin(a)).astype(int)
    cost = np.ones((1, n_angles, n_radii), np.float32)
    cost[0, np.arange(n_angles), truth] = 0.0
    cost[0, 90:100, :] = 0.5  # a stretch with no information: smoothness bridges it
    path = optimal_closed_paths(cost, max_step=1)[0]
    outside = np.r_[0:90, 100:360]
    assert np.array_equal(path[outside], truth[outside])
    assert np.all(np.abs(np.diff(np.r_[path, path[:1]])) <= 1)


def test_circular_runs_wrap_and_cleaning():
    mask = np.zeros(36, bool)
    mask[[34, 35, 0, 1]] = True  # wraps through 0
    mask[10] = True  # a one-ray speck
    mask[[20, 21, 23, 24]] = True  # a one-ray gap
    assert sorted(circular_runs(mask)) == [(10, 1), (20, 2), (23, 2), (34, 4)]
    clean = circular_clean(mask, fill_gaps=1, min_run=2)
    assert sorted(circular_runs(clean)) == [(20, 5), (34, 4)]
