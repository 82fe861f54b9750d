"""Calcium candidates and their connected components.

Two labelings are used by coronary scoring (CLINICAL_RULES 1.1):

* per axial slice, 2-D components (in-plane connectivity 4 or 8) — the Agatston
  "slice-lesions", each with its own area and peak;
* 3-D components (connectivity 6, 18 or 26) — lesions for volume, mass and
  radiomics.

Scored calcium is sparse (a few thousand voxels in a 10^8-voxel CT), so components
are found on the list of candidate voxels: neighbour pairs are matched with a
sorted search and joined with :func:`scipy.sparse.csgraph.connected_components`.
This costs time in the number of candidate voxels, not in the size of the CT.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse import csgraph

#: Allowed connectivities: neighbours counted in-plane (2-D) and in 3-D.
CONNECTIVITY_2D = {4: 1, 8: 2}
CONNECTIVITY_3D = {6: 1, 18: 2, 26: 3}


def candidate_mask(ct_array, threshold_hu: float, inclusive: bool = True) -> np.ndarray:
    """Voxels at (``inclusive``) or above the HU threshold (CLINICAL_RULES 1.1 rule 2)."""
    ct_array = np.asarray(ct_array)
    return ct_array >= threshold_hu if inclusive else ct_array > threshold_hu


def candidate_lesions(
    ct_array, threshold_hu: float = 130.0, inclusive: bool = True, connectivity_3d: int = 26
) -> tuple[np.ndarray, int]:
    """3-D connected candidate regions of a whole CT, for display and click-to-assign.

    Parameters
    ----------
    ct_array : ``(z, y, x)`` HU.
    threshold_hu, inclusive : the candidate threshold (``>=`` when inclusive).
    connectivity_3d : 6, 18 or 26.

    Returns
    -------
    labels : int32 ``(z, y, x)``, 0 outside candidates, 1..n per region.
    n : number of regions.
    """
    structure = ndimage.generate_binary_structure(3, _check(connectivity_3d, CONNECTIVITY_3D))
    labels, n = ndimage.label(
        candidate_mask(ct_array, threshold_hu, inclusive), structure=structure, output=np.int32
    )
    return labels, int(n)


def forward_offsets(connectivity_2d: int, connectivity_3d: int | None) -> np.ndarray:
    """Half of the neighbourhood ``(dz, dy, dx)``: the offsets after the centre in C order.

    ``connectivity_3d=None`` keeps in-plane neighbours only (per-slice components). A
    3-D connectivity must contain the in-plane one, so that every slice-lesion lies
    inside one 3-D lesion (8 in-plane needs 18 or 26).
    """
    rank2 = _check(connectivity_2d, CONNECTIVITY_2D)
    structure = np.zeros((3, 3, 3), bool)
    structure[1] = ndimage.generate_binary_structure(2, rank2)
    if connectivity_3d is not None:
        rank3 = _check(connectivity_3d, CONNECTIVITY_3D)
        full = ndimage.generate_binary_structure(3, rank3)
        if np.any(structure & ~full):
            raise ValueError(
                f"3-D connectivity {connectivity_3d} does not contain in-plane connectivity "
                f"{connectivity_2d}; use 18 or 26 with 8"
            )
        structure |= full
    offsets = np.argwhere(structure) - 1
    keep = [tuple(o) > (0, 0, 0) for o in offsets]
    return offsets[keep]


def sparse_components(
    flat_index: np.ndarray,
    shape: tuple[int, int, int],
    offsets: np.ndarray,
    groups: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Connected components of a sparse set of voxels.

    Parameters
    ----------
    flat_index : sorted, unique C-order flat indices of the voxels in a ``(z, y, x)`` grid.
    shape : the grid shape ``(z, y, x)``.
    offsets : forward neighbour offsets ``(dz, dy, dx)`` from :func:`forward_offsets`.
    groups : optional value per voxel (e.g. the artery); voxels join only within a group.

    Returns
    -------
    labels : int64, one per voxel, 1..n, numbered in order of each component's first voxel.
    n : number of components.
    """
    flat_index = np.asarray(flat_index, dtype=np.int64)
    n_voxels = flat_index.size
    if n_voxels == 0:
        return np.zeros(0, np.int64), 0
    nz, ny, nx = shape
    z, y, x = np.unravel_index(flat_index, shape)
    rows, cols = [], []
    for dz, dy, dx in offsets:
        ok = (z + dz < nz) & (y + dy >= 0) & (y + dy < ny) & (x + dx >= 0) & (x + dx < nx)
        neighbour = flat_index + (dz * ny + dy) * nx + dx
        pos = np.minimum(np.searchsorted(flat_index, neighbour), n_voxels - 1)
        hit = ok & (flat_index[pos] == neighbour)
        if groups is not None:
            hit &= groups[pos] == groups
        rows.append(np.flatnonzero(hit))
        cols.append(pos[hit])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    graph = sparse.coo_matrix(
        (np.ones(rows.size, np.int8), (rows, cols)), shape=(n_voxels, n_voxels)
    ).tocsr()
    n, labels = csgraph.connected_components(graph, directed=False)
    # number components by their first voxel (C order) for stable ids
    _, first = np.unique(labels, return_index=True)
    rank = np.empty(n, np.int64)
    rank[np.argsort(first)] = np.arange(1, n + 1)
    return rank[labels], int(n)


def _check(connectivity: int, allowed: dict[int, int]) -> int:
    if connectivity not in allowed:
        raise ValueError(f"connectivity must be one of {sorted(allowed)}, got {connectivity}")
    return allowed[connectivity]
