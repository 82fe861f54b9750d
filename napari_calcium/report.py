"""Writing results: atomic text files and privacy-safe tables."""

from __future__ import annotations

from pathlib import Path

from napari_calcium.io.atomic import atomic_file


def atomic_write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file in the same folder, then rename.

    A crash mid-write leaves either the old file or none, never half a file.
    """
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
