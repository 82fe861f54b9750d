"""A last 3-mm slab that the scan covers only partly is scored over the covered thickness.

Hand arithmetic on tiny CTs: 0.5-mm pixels (0.25 mm²), a 0 HU background with one air
voxel, one 4 x 4 pixel lesion (4 mm²) labelled LAD, calibration c = 1 mg/cm³ per HU.
Before the rule, resample3mm scored such a slab as 3 mm of tissue: 1.5-mm slices ending
at 4.5 mm doubled Agatston, volume and mass, 1-mm slices ending at 4 mm tripled them.
"""

import numpy as np
import pytest

from napari_calcium.calcium import CoronarySettings, run_coronary
from napari_calcium.calcium.coronary import slab_coverage_mm
from napari_calcium.volume import Acquisition, Volume


def score(ct, dz, mode):
    acquisition = Acquisition(kvp=120, slice_thickness_mm=dz, slice_increment_mm=dz)
    volume = Volume(ct, (0.5, 0.5, dz), modality="CT", units="HU", acquisition=acquisition)
    labels = volume.replace(array=(ct >= 130).astype(np.uint8) * 2)
    settings = CoronarySettings(slice_mode=mode, calibration_mg_cm3_per_hu=1.0)
    return run_coronary(volume, labels, settings)


def thin_ct(n_slices, lesion_slices, hu=400):
    ct = np.zeros((n_slices, 12, 12), np.int16)
    ct[0, 0, 0] = -1000
    ct[lesion_slices, 4:8, 4:8] = hu
    return ct


def test_slab_coverage():
    assert list(slab_coverage_mm(3, 1.5)) == [3.0, 1.5]  # 4.5 mm
    assert list(slab_coverage_mm(4, 1.0)) == [3.0, 1.0]  # 4 mm
    assert list(slab_coverage_mm(8, 0.625)) == pytest.approx([3.0, 2.0])  # 5 mm
    assert list(slab_coverage_mm(16, 0.625)) == pytest.approx([3.0, 3.0, 3.0, 1.0])
    assert list(slab_coverage_mm(6, 1.0)) == [3.0, 3.0]  # ends on a slab boundary


@pytest.mark.parametrize(
    ("n_slices", "dz", "agatston", "volume_mm3", "mass_mg"),
    [
        # 1.5 mm, slices [0,1.5) [1.5,3) [3,4.5), lesion in the last:
        # 4 mm² x 4 x 1.5/3 = 8; 16 px x 0.25 x 1.5 = 6 mm³; 1.0 x 0.006 cm³ x 400 = 2.4 mg
        (3, 1.5, 8.0, 6.0, 2.4),
        # 1.0 mm, slices up to 4 mm, lesion in [3,4): 4 x 4 x 1/3; 4 mm³; 1.6 mg
        (4, 1.0, 16 / 3, 4.0, 1.6),
    ],
)
def test_lesion_in_the_partial_last_slab(n_slices, dz, agatston, volume_mm3, mass_mg):
    ct = thin_ct(n_slices, [n_slices - 1])
    native = score(ct, dz, "native")
    resampled = score(ct, dz, "resample3mm")
    for result in (native, resampled):
        assert result["agatston"] == pytest.approx(agatston)
        assert result["volume_mm3"] == pytest.approx(volume_mm3)
        assert result["mass_mg"] == pytest.approx(mass_mg)
    # the partial slab is named in the result: slab 1 covers [3, 3 + dz) mm
    assert resampled["settings"]["partial_slabs"] == [
        {"index": 1, "covered_mm": dz, "z_from_mm": 3.0, "z_to_mm": 3.0 + dz}
    ]
    assert resampled["slice_lesions"][0]["scored_thickness_mm"] == dz
    assert any("ends inside a 3-mm slab" in w for w in resampled["warnings"])
    assert native["settings"]["partial_slabs"] == []


def test_0_625mm_slices_ending_inside_a_slab():
    # 8 slices = 5 mm: slab [3, 5) covers 2 mm. Lesion at 1000 HU in slices 5-7 = [3.125, 5).
    ct = thin_ct(8, [5, 6, 7], hu=1000)
    native = score(ct, 0.625, "native")
    # native: 3 slices x 4 mm² x 4 x 0.625/3 = 10; 3 x 16 x 0.25 x 0.625 = 7.5 mm³; 7.5 mg
    assert native["agatston"] == pytest.approx(10.0)
    assert native["volume_mm3"] == pytest.approx(7.5)
    assert native["mass_mg"] == pytest.approx(7.5)
    resampled = score(ct, 0.625, "resample3mm")
    # slab 1 averages its covered 2 mm: slice 4 overlaps it by 0.125 mm at 0 HU, slices 5-7
    # by 1.875 mm at 1000 HU -> 937.5 HU, weight 4; scored over 2 mm:
    # 4 mm² x 4 x 2/3 = 10.667; 16 x 0.25 x 2 = 8 mm³; mass 1.0 x 0.008 x 937.5 = 7.5 mg
    assert resampled["slice_lesions"][0]["peak_hu"] == pytest.approx(937.5)
    assert resampled["agatston"] == pytest.approx(4 * 4 * 2 / 3)
    assert resampled["volume_mm3"] == pytest.approx(8.0)
    # mass is the integral of HU over the covered tissue: equal in both modes
    assert resampled["mass_mg"] == pytest.approx(native["mass_mg"])
    assert resampled["settings"]["partial_slabs"][0]["covered_mm"] == pytest.approx(2.0)


@pytest.mark.parametrize(("n_slices", "dz"), [(3, 1.5), (4, 1.0)])
def test_full_slabs_are_unchanged(n_slices, dz):
    # a lesion in the first, complete slab scores as a 3-mm slab whatever the scan length
    per_slab = round(3.0 / dz)
    ct = thin_ct(n_slices, list(range(per_slab)))
    resampled = score(ct, dz, "resample3mm")
    assert resampled["agatston"] == pytest.approx(4 * 4)  # 4 mm² x 4, one full slab
    assert resampled["volume_mm3"] == pytest.approx(16 * 0.25 * 3.0)
    native = score(ct, dz, "native")
    assert native["agatston"] == pytest.approx(resampled["agatston"])
