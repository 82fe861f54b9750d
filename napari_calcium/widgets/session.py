"""napari layers to and from :mod:`napari_calcium.session` records (any widget can use them).

A record keeps what a reading needs: the array, the layer's geometry (``scale``,
``translate``, ``affine``, ``metadata`` with the plugin's physical geometry) and its
display (opacity, visibility, blending; contrast limits, colormap and gamma of images;
the colours of labels). Image, Labels and Points layers are supported.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from napari_calcium.errors import InputError
from napari_calcium.session import SessionLayer

KINDS = ("image", "labels", "points")


def layer_record(layer) -> SessionLayer:
    """The session record of a napari Image, Labels or Points layer."""
    kind = type(layer).__name__.lower()
    if kind not in KINDS:
        raise InputError(f"layer {layer.name!r} is a {kind} layer; sessions keep {KINDS}")
    properties: dict[str, Any] = {
        "opacity": float(layer.opacity),
        "visible": bool(layer.visible),
        "blending": str(layer.blending),
        "scale": [float(v) for v in layer.scale],
        "translate": [float(v) for v in layer.translate],
        "affine": np.asarray(layer.affine.affine_matrix, float).tolist(),
        "metadata": _json(layer.metadata),
    }
    if kind == "image":
        properties["contrast_limits"] = [float(v) for v in layer.contrast_limits]
        properties["colormap"] = layer.colormap.name
        properties["gamma"] = float(layer.gamma)
    elif kind == "labels":
        colors = getattr(layer.colormap, "color_dict", None)
        if colors is not None:
            properties["colormap"] = {
                "none" if k is None else str(int(k)): np.asarray(v, float).tolist()
                for k, v in colors.items()
            }
    else:
        properties["size"] = np.asarray(layer.size, float).tolist()
        properties["face_color"] = np.asarray(layer.face_color, float).tolist()
    return SessionLayer(layer.name, kind, np.asarray(layer.data), properties)


def add_record(viewer, record: SessionLayer):
    """Add a session record to the viewer as a layer (replacing one of the same name)."""
    if record.kind not in KINDS:
        raise InputError(f"session layer {record.name!r} has unknown kind {record.kind!r}")
    if record.name in viewer.layers:
        viewer.layers.remove(record.name)
    p = dict(record.properties)
    kwargs = {
        "name": record.name,
        "opacity": p["opacity"],
        "visible": p["visible"],
        "blending": p["blending"],
        "scale": p["scale"],
        "translate": p["translate"],
        "affine": np.asarray(p["affine"]),
        "metadata": p["metadata"],
    }
    if record.kind == "image":
        kwargs.update(
            contrast_limits=p["contrast_limits"], colormap=p["colormap"], gamma=p["gamma"]
        )
        return viewer.add_image(record.data, **kwargs)
    if record.kind == "labels":
        if "colormap" in p:
            kwargs["colormap"] = {
                None if k == "none" else int(k): np.asarray(v) for k, v in p["colormap"].items()
            }
        return viewer.add_labels(record.data, **kwargs)
    kwargs.update(size=np.asarray(p["size"]), face_color=np.asarray(p["face_color"]))
    return viewer.add_points(record.data, **kwargs)


def _json(value):
    """Metadata as plain JSON values (arrays become lists, other objects their text)."""
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
