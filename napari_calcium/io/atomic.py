"""Atomic writes: a file or folder appears complete under its final name, or not at all.

The one place results are written from: text (:func:`atomic_write_text`), JSON
(:func:`write_json`, numpy values and paths as plain JSON) and CSV tables
(:func:`csv_text`, :func:`write_csv`); volumes go through :func:`napari_calcium.io.write`.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_file(path, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` when the block succeeds.

    ``suffix`` ends the temporary name (writers that pick the format by extension need it).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_folder(folder, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``folder``; rename it to ``folder`` on success.

    An existing empty ``folder`` is replaced; a non-empty one only when ``overwrite``.
    """
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()) and not overwrite:
        raise FileExistsError(f"{folder} exists and is not empty (pass overwrite=True)")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
            os.replace(folder, old)
            os.replace(tmp, folder)
            shutil.rmtree(old)
        else:
            os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def atomic_write_text(path, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file in the same folder, then rename.

    A crash mid-write leaves either the old file or none, never half a file.
    """
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def json_default(value):
    """JSON for the values results hold besides plain ones: numpy scalars and arrays, paths."""
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_text(data, **dumps) -> str:
    """``data`` as indented JSON text (``json.dumps`` keywords override the defaults)."""
    return json.dumps(data, **{"indent": 2, "default": json_default, **dumps})


def write_json(path, data, **dumps) -> Path:
    """Write ``data`` as indented JSON (:func:`json_text`) to ``path``, atomically."""
    return atomic_write_text(path, json_text(data, **dumps) + "\n")


def csv_text(rows, columns=(), restval="") -> str:
    """Rows (dicts of cells) as CSV text with a header, even when there is no row.

    The columns are ``columns`` followed by every other key in first-seen order; a
    missing key or a ``None`` cell is written as ``restval``.
    """
    rows = list(rows)
    names = list(columns)
    for row in rows:
        names += [k for k in row if k not in names]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=names, restval=restval, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: restval if row.get(k) is None else row[k] for k in names if k in row})
    return buffer.getvalue()


def write_csv(path, rows, columns=()) -> Path:
    """Write rows (dicts of cells) as CSV (:func:`csv_text`) to ``path``, atomically."""
    return atomic_write_text(path, csv_text(rows, columns))


def write_points_csv(path, points_mm, header=("x_mm", "y_mm", "z_mm"), digits: int = 4) -> Path:
    """Write points (x, y, z LPS mm, one a row) as CSV, atomically; ``header=None`` for none."""
    rows = [",".join(header)] if header else []
    rows += [",".join(f"{c:.{digits}f}" for c in point) for point in points_mm]
    return atomic_write_text(path, "\n".join(rows) + "\n")
