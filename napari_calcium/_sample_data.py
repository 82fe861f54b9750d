"""napari sample data (File > Open Sample): the phantoms, generated in memory.

Each phantom is deterministic and its truth is in the layer metadata under
``"truth"``, the same values written beside the files in ``sample_data/``.
"""

from __future__ import annotations

from napari_calcium.widgets.layers import enable_window_level, image_tuple, labels_tuple


def _with_truth(layer_tuple, truth):
    data, kwargs, kind = layer_tuple
    kwargs["metadata"] = {**kwargs["metadata"], "truth": truth}
    return data, kwargs, kind


def coronary_ct() -> list[tuple]:
    """Cardiac CT phantom (3 mm slices, HU) with the reader's artery labels."""
    from napari_calcium.phantoms.coronary import coronary_ct as make

    ct, arteries, truth = make()
    enable_window_level()
    return [
        _with_truth(image_tuple(ct, "coronary CT phantom (CT)"), truth),
        labels_tuple(arteries, "coronary arteries"),
    ]


def ivus_pullback() -> list[tuple]:
    """IVUS pullback phantom with calcium of known arc, depth and length."""
    from napari_calcium.phantoms.ivus import ivus_sample

    volume, truth = ivus_sample()
    return [_with_truth(image_tuple(volume, "IVUS pullback phantom (IVUS)"), truth)]


def head_ct_mri() -> list[tuple]:
    """Head CT, whole-head T1 MRI and vessel-wall MRI slab of one synthetic head.

    The two MRIs share one physical space, a known rigid transform away from the CT's.
    """
    from napari_calcium.phantoms.head import head_ct_mri as make
    from napari_calcium.phantoms.head import vessel_wall_mri

    ct, mri, truth = make()
    slab = vessel_wall_mri(truth)
    labels_ct, labels_mri = truth.pop("labels_ct"), truth.pop("labels_mri")
    enable_window_level()
    return [
        _with_truth(image_tuple(ct, "head CT phantom (CT)"), truth),
        labels_tuple(labels_ct, "head structures on CT (labels)", visible=False),
        labels_tuple(labels_mri, "head structures on MRI (labels)", visible=False),
        image_tuple(mri, "head T1 MRI phantom (MR)", blending="additive"),
        image_tuple(slab, "head vessel-wall MRI slab (MR)", blending="additive"),
    ]


def brain_flair_swi() -> list[tuple]:
    """Brain FLAIR and SWI phantom with white-matter hyperintensities and microbleeds,
    and its region map (1 lobar, 2 deep, 3 infratentorial) for counting microbleeds."""
    from napari_calcium.phantoms.brain import brain_flair_swi as make
    from napari_calcium.phantoms.brain import brain_region_map

    flair, swi, truth = make()
    enable_window_level()
    return [
        _with_truth(image_tuple(flair, "brain FLAIR phantom (MR)"), truth),
        image_tuple(swi, "brain SWI phantom (MR)", visible=False),
        labels_tuple(
            brain_region_map(), "regions (1 lobar, 2 deep, 3 infratentorial)", visible=False
        ),
    ]
