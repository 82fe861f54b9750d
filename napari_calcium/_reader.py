"""napari reader contribution: DICOM folders/files, NIfTI, NRRD, MHA, IVUS TIFF stacks and
frame folders.

``napari_get_reader`` only looks at names (it must be cheap and never raise);
``read_layers`` does the reading through :func:`napari_calcium.read` and turns
problems with the input into a notification instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path

from napari_calcium.errors import InputError

DICOM_EXTENSIONS = (".dcm", ".dicom", ".ima")
FRAME_EXTENSIONS = (".png", ".tif", ".tiff")


def napari_get_reader(path):
    """Return :func:`read_layers` when ``path`` is something this plugin reads, else None."""
    from napari_calcium.io.images import SITK_EXTENSIONS, has_extension
    from napari_calcium.io.ultrasound import TIFF_EXTENSIONS, tiff_frame_count

    if isinstance(path, list | tuple):
        if len(path) != 1:
            return None
        path = path[0]
    path = Path(path)
    if path.is_dir():
        return read_layers if _holds_images(path) else None
    if has_extension(path, SITK_EXTENSIONS + DICOM_EXTENSIONS):
        return read_layers
    if has_extension(path, TIFF_EXTENSIONS):
        # a multi-page TIFF is a pullback; a single image is left to napari's own reader
        return read_layers if tiff_frame_count(path) > 1 else None
    return None


def _holds_images(folder: Path) -> bool:
    """A folder with DICOM files (by extension or the DICM preamble) or frame images."""
    for n, entry in enumerate(folder.iterdir()):
        if n > 50:
            break
        if not entry.is_file():
            continue
        name = entry.name.lower()
        if name.endswith(DICOM_EXTENSIONS + FRAME_EXTENSIONS):
            return True
        try:
            with open(entry, "rb") as handle:
                handle.seek(128)
                if handle.read(4) == b"DICM":
                    return True
        except OSError:
            continue
    return False


def read_layers(path, choose_series=None) -> list[tuple]:
    """Read ``path`` into napari layer data tuples in physical mm.

    A folder holding several DICOM series asks which one to open (``choose_series``
    is called with the list of series and returns a SeriesInstanceUID; by default a
    Qt dialog). Problems with the input are shown as an error notification and
    nothing is added.
    """
    from napari.utils.notifications import show_error, show_info, show_warning

    from napari_calcium.io import read
    from napari_calcium.io.images import SITK_EXTENSIONS, has_extension
    from napari_calcium.widgets.layers import enable_window_level, image_tuple, labels_tuple

    if isinstance(path, list | tuple):
        path = path[0]
    path = Path(path)
    try:
        series_uid = None
        if path.is_dir():
            from napari_calcium.io.dicom import list_series

            series = list_series(path)
            if len(series) > 1:
                series_uid = (choose_series or _ask_series)(series)
                if series_uid is None:
                    return [(None,)]
        volume = read(path, series_uid=series_uid)
    except InputError as err:
        show_error(f"napari-calcium could not open {path.name}: {err}")
        return [(None,)]
    if volume.modality in ("CT", "MR"):
        enable_window_level()
    if volume.modality == "CT" and has_extension(path, SITK_EXTENSIONS):
        from napari_calcium.io.images import hu_evidence

        show_info(
            f"{path.name}: the file does not say its modality; opened as CT (HU) because "
            f"{hu_evidence(volume.array)}"
        )
    if volume.modality == "IVUS" and volume.frame_spacing_mm is None:
        show_warning(
            f"{path.name}: pullback speed and frame rate are not in the file, so distances "
            "along the pullback are unknown (axis 0 is in frames). Set them in the IVUS widget."
        )
    if _is_label_image(path, volume):
        return [labels_tuple(volume, _layer_name(path, volume).rsplit(" (", 1)[0])]
    return [image_tuple(volume, _layer_name(path, volume))]


#: Words in a file name that mark a label image (segmentation), opened as a Labels layer.
LABEL_NAME_WORDS = ("label", "seg", "mask")


def _is_label_image(path: Path, volume) -> bool:
    """Integer values and a name saying labels/segmentation/mask (e.g. ``artery_labels.nii.gz``)."""
    import numpy as np

    name = path.name.lower()
    integer = np.issubdtype(volume.array.dtype, np.integer)
    return (
        integer
        and volume.modality not in ("CT", "IVUS")
        and any(w in name for w in LABEL_NAME_WORDS)
    )


def _layer_name(path: Path, volume) -> str:
    stem = path.name
    for ext in (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd", ".dcm"):
        if stem.lower().endswith(ext):
            stem = stem[: -len(ext)]
            break
    return f"{stem} ({volume.modality})"


def _ask_series(series) -> str | None:
    """Ask the user which series to open (Qt dialog); None when cancelled."""
    from qtpy.QtWidgets import QInputDialog

    labels = [
        f"{s.modality} | {s.description or 'no description'} | {s.n_instances} images | {s.series_uid}"
        for s in series
    ]
    choice, ok = QInputDialog.getItem(
        None, "napari-calcium", "This folder holds several series. Open:", labels, 0, False
    )
    return series[labels.index(choice)].series_uid if ok else None
