"""Reading sessions: one patient's layers, edits and widget settings, saved and reloaded whole.

A session is a folder (written atomically, :func:`~napari_calcium.io.atomic.atomic_folder`):

* ``session.json`` — ``format``, ``version``, ``software``, one entry per layer (``name``,
  ``kind`` = napari layer type, ``file``, ``dtype``, ``shape``, ``properties``: the
  layer's display state and geometry as JSON values) and ``widgets``: one JSON dict per
  widget (its settings and choices), keyed by the widget's name;
* ``layer-000.npy`` ... — each layer's array, exactly (NumPy format, no pickles).

Arrays are kept bit for bit and geometry as float64 JSON numbers, so a reloaded reading
scores exactly as the saved one. Any widget can store its state under its own key; the
format knows nothing of coronary scoring. No patient identity is written unless a widget
puts it in its own state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from napari_calcium.errors import InputError
from napari_calcium.io.atomic import atomic_folder

FORMAT = "napari-calcium session"
VERSION = 1
MANIFEST = "session.json"


@dataclass
class SessionLayer:
    """One layer of a session: its napari type, name, array and JSON-able properties."""

    name: str
    kind: str
    data: np.ndarray
    properties: dict[str, Any] = field(default_factory=dict)


def save_session(
    folder, layers: list[SessionLayer], widgets: dict[str, dict], overwrite: bool = True
) -> Path:
    """Write a session folder (replacing an existing one when ``overwrite``); returns it."""
    from napari_calcium import __version__

    entries = []
    with atomic_folder(folder, overwrite=overwrite) as tmp:
        for i, layer in enumerate(layers):
            name = f"layer-{i:03d}.npy"
            data = np.asarray(layer.data)
            np.save(tmp / name, data, allow_pickle=False)
            entries.append(
                {
                    "name": layer.name,
                    "kind": layer.kind,
                    "file": name,
                    "dtype": str(data.dtype),
                    "shape": list(data.shape),
                    "properties": layer.properties,
                }
            )
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "software": f"napari-calcium {__version__}",
            "layers": entries,
            "widgets": widgets,
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return Path(folder)


def load_session(folder) -> tuple[list[SessionLayer], dict[str, dict]]:
    """Read a session folder: its layers and the widgets' state.

    Refuses (``InputError``) a folder that is not a session, a newer format version, or
    a layer file that is missing or does not match its recorded dtype and shape.
    """
    folder = Path(folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(
            f"{folder} is not a napari-calcium session ({MANIFEST}: {err})",
            "choose a folder written by 'Save session'",
        ) from err
    if manifest.get("format") != FORMAT or not isinstance(manifest.get("version"), int):
        raise InputError(f"{folder / MANIFEST} is not a napari-calcium session file")
    if manifest["version"] > VERSION:
        raise InputError(
            f"session format version {manifest['version']} is newer than this software reads "
            f"({VERSION})",
            "update napari-calcium",
        )
    layers = []
    for entry in manifest["layers"]:
        path = folder / entry["file"]
        try:
            data = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise InputError(
                f"session layer {entry['name']!r}: cannot read {path}: {err}"
            ) from err
        if str(data.dtype) != entry["dtype"] or list(data.shape) != entry["shape"]:
            raise InputError(
                f"session layer {entry['name']!r}: {path.name} holds {data.dtype} "
                f"{list(data.shape)}, the session recorded {entry['dtype']} {entry['shape']}"
            )
        layers.append(SessionLayer(entry["name"], entry["kind"], data, entry["properties"]))
    return layers, manifest.get("widgets", {})
