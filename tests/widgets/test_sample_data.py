"""Sample data: in napari (File > Open Sample) and as the files in sample_data/."""

from pathlib import Path

import numpy as np
import pytest
from npe2 import PluginManifest

from napari_calcium.io import read

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "sample_data"

#: napari sample key -> (layer name, file in sample_data/, read options)
SAMPLES = {
    "coronary_ct": ("coronary CT phantom (CT)", "coronary-ct/ct", {}),
    "ivus_pullback": ("IVUS pullback phantom (IVUS)", "ivus/pullback.dcm", {"ivus": True}),
    "head_ct_mri": ("head CT phantom (CT)", "head/ct", {}),
    "brain_flair_swi": ("brain FLAIR phantom (MR)", "brain/flair.nii.gz", {}),
}


def test_manifest_validates_with_imports():
    manifest = PluginManifest.from_distribution("napari-calcium")
    manifest.validate_imports()
    assert {s.key for s in manifest.contributions.sample_data} == set(SAMPLES)


@pytest.mark.parametrize("key", SAMPLES)
def test_sample_layers_have_the_geometry_of_the_sample_files(make_napari_viewer, key):
    name, relative, options = SAMPLES[key]
    viewer = make_napari_viewer()
    viewer.open_sample("napari-calcium", key)
    layer = viewer.layers[name]
    path = SAMPLE_DATA / relative
    if options.get("ivus"):
        speed = layer.metadata["truth"]["pullback_speed_mm_s"]
        volume = read(path, pullback_speed_mm_s=speed)
    else:
        volume = read(path)
    expected = volume.layer_kwargs()
    assert layer.data.shape == volume.shape
    np.testing.assert_allclose(layer.scale, expected["scale"], atol=1e-4)
    np.testing.assert_allclose(layer.translate, expected["translate"], atol=1e-4)
    np.testing.assert_allclose(layer.affine.affine_matrix, expected["affine"], atol=1e-6)
    assert layer.metadata["truth"]  # the truth travels with the sample
