"""The one data model: an image array with its physical geometry.

Conventions (the only place where they are decided):

* ``Volume.array`` is in napari / numpy order ``(z, y, x)``; for an IVUS pullback
  ``(frame, y, x)``.
* Geometry follows SimpleITK / DICOM: the patient coordinate system is **LPS**
  (x to the patient's Left, y to Posterior, z to Superior), in millimetres.
  ``spacing_mm`` and ``origin_mm`` are in **(x, y, z)** order, as SimpleITK's
  ``GetSpacing()`` / ``GetOrigin()``; ``direction`` is the 3x3 matrix whose
  *columns* are the LPS unit vectors of the index axes ``i, j, k`` (array axes
  ``x, y, z`` = ``array`` axes ``2, 1, 0``).
* napari world coordinates are LPS reversed to ``(z, y, x)`` = ``(S, P, L)``
  order, so every layer built by :meth:`Volume.layer_kwargs` is in millimetres and
  two volumes of the same patient overlay where they should.

The physical point of array index ``(k, j, i)`` is
``origin + direction @ (spacing * (i, j, k))``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Flips between the DICOM/ITK patient space (LPS) and the NIfTI/RAS world.
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])

#: Key under which a layer's ``metadata`` carries the geometry of its Volume.
METADATA_KEY = "napari_calcium"

MODALITIES = ("CT", "MR", "US", "IVUS", "LABELS", "OT")


@dataclass(frozen=True)
class Acquisition:
    """Acquisition facts that measurements depend on. ``None`` means unknown.

    Attributes
    ----------
    kvp : tube voltage of a CT (kV).
    slice_thickness_mm : nominal reconstructed slice thickness (DICOM SliceThickness).
    slice_increment_mm : distance between slice centres, from ImagePositionPatient.
    pullback_speed_mm_s : IVUS motorised pullback speed (mm/s).
    frame_rate_hz : IVUS frame rate (frames/s).
    reconstruction_kernel : CT ConvolutionKernel, as written by the scanner.
    manufacturer, series_description : for the report; never patient identity.
    resampling : how the reader resampled the image (e.g. a gantry-tilted or unevenly
        spaced DICOM stack put on a uniform grid), ``None`` when it is as acquired.
    pullback_start_frame, pullback_stop_frame : IVUS frames (0-based, inclusive) between
        which the motorised pullback ran (DICOM IVUS Pullback Start / Stop Frame Number,
        (0018,3103) and (0018,3104)); ``None`` when the whole file is the pullback.
    """

    kvp: float | None = None
    slice_thickness_mm: float | None = None
    slice_increment_mm: float | None = None
    pullback_speed_mm_s: float | None = None
    frame_rate_hz: float | None = None
    reconstruction_kernel: str | None = None
    manufacturer: str | None = None
    series_description: str | None = None
    resampling: str | None = None
    pullback_start_frame: int | None = None
    pullback_stop_frame: int | None = None

    @property
    def frame_spacing_mm(self) -> float | None:
        """IVUS distance between frames along the pullback = speed / frame rate (mm)."""
        if self.pullback_speed_mm_s and self.frame_rate_hz:
            return self.pullback_speed_mm_s / self.frame_rate_hz
        return None

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["frame_spacing_mm"] = self.frame_spacing_mm
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Acquisition:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass(frozen=True, eq=False)
class Volume:
    """An image in physical space.

    Parameters
    ----------
    array : numpy or dask array, ``(z, y, x)`` (IVUS ``(frame, y, x)``); RGB frames are
        converted to grey by the readers, so arrays are always 3-D scalar.
    spacing_mm : (x, y, z) voxel size in mm.
    origin_mm : (x, y, z) LPS position of the centre of voxel (0, 0, 0), in mm.
    direction : 3x3 direction cosines (columns = index axes i, j, k in LPS).
    modality : ``CT``, ``MR``, ``US``, ``IVUS``, ``LABELS`` or ``OT``.
    units : value units, e.g. ``HU`` for CT after rescale, ``a.u.`` otherwise.
    acquisition : :class:`Acquisition` facts.
    """

    array: Any
    spacing_mm: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    modality: str = "OT"
    units: str = "a.u."
    acquisition: Acquisition = field(default_factory=Acquisition)

    def __post_init__(self):
        if getattr(self.array, "ndim", None) != 3:
            raise ValueError(
                f"a Volume holds a 3-D (z, y, x) array; got shape {getattr(self.array, 'shape', None)}"
            )
        spacing = tuple(float(s) for s in self.spacing_mm)
        if len(spacing) != 3 or not all(np.isfinite(spacing)) or min(spacing) <= 0:
            raise ValueError(f"spacing_mm must be three positive numbers, got {self.spacing_mm}")
        direction = np.asarray(self.direction, dtype=float).reshape(3, 3)
        if not np.allclose(direction.T @ direction, np.eye(3), atol=1e-4):
            raise ValueError("direction must be an orthonormal 3x3 matrix")
        if self.modality not in MODALITIES:
            raise ValueError(f"modality must be one of {MODALITIES}, got {self.modality!r}")
        object.__setattr__(self, "spacing_mm", spacing)
        object.__setattr__(self, "origin_mm", tuple(float(o) for o in self.origin_mm))
        object.__setattr__(self, "direction", direction)

    # ------------------------------------------------------------------ basics
    @property
    def shape(self) -> tuple[int, int, int]:
        """Array shape ``(z, y, x)``."""
        return tuple(int(n) for n in self.array.shape)

    @property
    def spacing_zyx_mm(self) -> tuple[float, float, float]:
        """Voxel size in array order ``(z, y, x)``, mm."""
        return tuple(reversed(self.spacing_mm))

    @property
    def voxel_volume_mm3(self) -> float:
        return float(np.prod(self.spacing_mm))

    @property
    def frame_spacing_mm(self) -> float | None:
        """IVUS frame spacing (speed / frame rate), or ``None`` when not known."""
        return self.acquisition.frame_spacing_mm

    def replace(self, **changes) -> Volume:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    def with_array(self, array) -> Volume:
        """Same geometry, other values (e.g. a label image on this grid)."""
        if tuple(array.shape) != self.shape:
            raise ValueError(f"array shape {array.shape} differs from the volume's {self.shape}")
        return self.replace(array=array)

    def with_pullback(
        self,
        pullback_speed_mm_s: float | None = None,
        frame_rate_hz: float | None = None,
        pixel_spacing_mm: float | None = None,
    ) -> Volume:
        """This pullback with user-supplied IVUS geometry recorded and applied.

        Values given here replace those of the file; the frame spacing along the
        pullback (axis 0) becomes ``pullback_speed_mm_s / frame_rate_hz`` when both
        are known, and the in-plane spacing becomes ``pixel_spacing_mm`` when given.
        """
        for name, value in (
            ("pullback_speed_mm_s", pullback_speed_mm_s),
            ("frame_rate_hz", frame_rate_hz),
            ("pixel_spacing_mm", pixel_spacing_mm),
        ):
            if value is not None and not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value}")
        acquisition = dataclasses.replace(
            self.acquisition,
            pullback_speed_mm_s=pullback_speed_mm_s or self.acquisition.pullback_speed_mm_s,
            frame_rate_hz=frame_rate_hz or self.acquisition.frame_rate_hz,
        )
        sx, sy, sz = self.spacing_mm
        if pixel_spacing_mm:
            sx = sy = float(pixel_spacing_mm)
        if acquisition.frame_spacing_mm:
            sz = acquisition.frame_spacing_mm
        return self.replace(spacing_mm=(sx, sy, sz), acquisition=acquisition, modality="IVUS")

    def numpy(self) -> np.ndarray:
        """The array as numpy (computes a dask array)."""
        return np.asarray(self.array)

    # --------------------------------------------------------------- geometry
    @property
    def index_to_physical_matrix(self) -> np.ndarray:
        """4x4 affine from array index ``(z, y, x)`` to LPS ``(x, y, z)`` mm."""
        m = np.eye(4)
        # columns for (k, j, i) = direction columns (2, 1, 0) scaled by spacing.
        m[:3, :3] = (self.direction * np.asarray(self.spacing_mm))[:, ::-1]
        m[:3, 3] = self.origin_mm
        return m

    def index_to_physical(self, index_zyx) -> np.ndarray:
        """LPS ``(x, y, z)`` mm of array indices ``(..., 3)`` given as ``(z, y, x)``."""
        idx = np.asarray(index_zyx, dtype=float)
        m = self.index_to_physical_matrix
        return idx @ m[:3, :3].T + m[:3, 3]

    def physical_to_index(self, points_xyz) -> np.ndarray:
        """Continuous array indices ``(z, y, x)`` of LPS points ``(..., 3)``."""
        pts = np.asarray(points_xyz, dtype=float)
        m = np.linalg.inv(self.index_to_physical_matrix)
        return pts @ m[:3, :3].T + m[:3, 3]

    def same_grid(self, other: Volume, tol_mm: float = 1e-3) -> bool:
        """True when ``other`` has the same shape, spacing, origin and direction."""
        return (
            self.shape == other.shape
            and np.allclose(self.spacing_mm, other.spacing_mm, atol=tol_mm)
            and np.allclose(self.origin_mm, other.origin_mm, atol=tol_mm)
            and np.allclose(self.direction, other.direction, atol=1e-5)
        )

    def grid_differences(self, other: Volume, tol_mm: float = 1e-3) -> list[str]:
        """How ``other``'s grid differs from this one, e.g. ``"origin (1, 2, 3) vs (0, 0, 0) mm"``.

        Empty exactly when :meth:`same_grid` is true; for messages that say why.
        """

        def fmt(values) -> str:
            return "(" + ", ".join(f"{v:g}" for v in values) + ")"

        differences = []
        if self.shape != other.shape:
            differences.append(f"shape (z, y, x) {fmt(other.shape)} vs {fmt(self.shape)}")
        if not np.allclose(self.spacing_mm, other.spacing_mm, atol=tol_mm):
            differences.append(f"spacing {fmt(other.spacing_mm)} vs {fmt(self.spacing_mm)} mm")
        if not np.allclose(self.origin_mm, other.origin_mm, atol=tol_mm):
            differences.append(f"origin {fmt(other.origin_mm)} vs {fmt(self.origin_mm)} mm")
        if not np.allclose(self.direction, other.direction, atol=1e-5):
            differences.append("direction cosines differ")
        return differences

    def geometry_dict(self) -> dict[str, Any]:
        """Geometry and acquisition facts as plain JSON-able values."""
        return {
            "modality": self.modality,
            "shape_zyx": list(self.shape),
            "spacing_mm": list(self.spacing_mm),
            "origin_mm": list(self.origin_mm),
            "direction": self.direction.tolist(),
            "units": self.units,
            "acquisition": self.acquisition.to_dict(),
        }

    # -------------------------------------------------------------- SimpleITK
    def to_sitk(self):
        """A ``SimpleITK.Image`` with the same values and geometry (computes dask)."""
        import SimpleITK as sitk

        image = sitk.GetImageFromArray(self.numpy())
        image.SetSpacing(self.spacing_mm)
        image.SetOrigin(self.origin_mm)
        image.SetDirection(self.direction.flatten().tolist())
        return image

    @classmethod
    def from_sitk(cls, image, **fields) -> Volume:
        """Build a Volume from a 3-D scalar ``SimpleITK.Image``; ``fields`` set the rest."""
        import SimpleITK as sitk

        if image.GetDimension() != 3:
            raise ValueError(f"expected a 3-D image, got {image.GetDimension()}-D")
        if image.GetNumberOfComponentsPerPixel() != 1:
            raise ValueError("expected a scalar image, got a multi-component (e.g. RGB) one")
        return cls(
            array=sitk.GetArrayFromImage(image),
            spacing_mm=image.GetSpacing(),
            origin_mm=image.GetOrigin(),
            direction=np.asarray(image.GetDirection()).reshape(3, 3),
            **fields,
        )

    # ----------------------------------------------------------------- napari
    def layer_kwargs(self) -> dict[str, Any]:
        """napari ``scale``, ``translate``, ``affine`` and ``metadata`` for this volume.

        World coordinates are LPS reversed to ``(z, y, x)``, in mm. ``scale`` is the
        spacing and ``translate`` the origin; a non-identity direction becomes an
        ``affine`` that rotates about the origin, so ``affine(translate + scale *
        index)`` equals the physical point of ``index``.
        """
        rotation = self.direction[::-1, ::-1]  # (z,y,x) rows and columns
        translate = np.asarray(self.origin_mm[::-1])
        affine = np.eye(4)
        affine[:3, :3] = rotation
        affine[:3, 3] = translate - rotation @ translate
        return {
            "scale": self.spacing_zyx_mm,
            "translate": tuple(translate),
            "affine": affine,
            "metadata": {METADATA_KEY: self.geometry_dict()},
        }

    @classmethod
    def from_layer(cls, layer) -> Volume:
        """Rebuild the Volume behind a napari Image/Labels layer (see :meth:`from_layer_data`)."""
        attributes = {
            "name": layer.name,
            "metadata": layer.metadata,
            "scale": layer.scale,
            "translate": layer.translate,
            "affine": layer.affine.affine_matrix,
        }
        modality = "LABELS" if layer.__class__.__name__ == "Labels" else "OT"
        return cls.from_layer_data(layer.data, attributes, modality=modality)

    @classmethod
    def from_layer_data(cls, data, attributes: dict[str, Any], modality: str = "OT") -> Volume:
        """Rebuild a Volume from layer data and its attributes (as napari writers get them).

        Uses the geometry kept in ``attributes["metadata"]`` when present and the
        shape matches (layers made by this plugin, including Labels drawn on them);
        otherwise the layer's own ``scale`` / ``translate`` / ``affine``, read as LPS
        ``(z, y, x)`` millimetres.
        """
        meta = (attributes.get("metadata") or {}).get(METADATA_KEY)
        if meta is not None and tuple(meta["shape_zyx"]) == tuple(data.shape):
            return cls(
                array=data,
                spacing_mm=meta["spacing_mm"],
                origin_mm=meta["origin_mm"],
                direction=np.asarray(meta["direction"]),
                modality=modality if modality == "LABELS" else meta["modality"],
                units="label" if modality == "LABELS" else meta["units"],
                acquisition=Acquisition.from_dict(meta.get("acquisition", {})),
            )
        if data.ndim != 3:
            name = attributes.get("name", "layer")
            raise ValueError(f"{name!r} is {data.ndim}-D; a 3-D (z, y, x) layer is needed")
        affine = attributes.get("affine")
        affine = (
            np.eye(4) if affine is None else np.asarray(getattr(affine, "affine_matrix", affine))
        )
        rotation = affine[:3, :3]
        translate = np.asarray(attributes.get("translate", (0.0, 0.0, 0.0)), dtype=float)
        scale = np.asarray(attributes.get("scale", (1.0, 1.0, 1.0)), dtype=float)
        return cls(
            array=data,
            spacing_mm=tuple(scale[::-1]),
            origin_mm=tuple((rotation @ translate + affine[:3, 3])[::-1]),
            direction=rotation[::-1, ::-1],
            modality=modality,
            units="label" if modality == "LABELS" else "a.u.",
        )


def require_volumes(**arguments) -> None:
    """Raise a clear ``TypeError`` for any argument that is neither a :class:`Volume` nor None.

    The analyses need geometry (spacing, origin, direction) that a bare array or a
    path does not carry.
    """
    for name, value in arguments.items():
        if value is not None and not isinstance(value, Volume):
            raise TypeError(
                f"{name} must be a napari_calcium.Volume, got {type(value).__name__} — read "
                "the image with napari_calcium.read(path), or wrap an array as "
                "Volume(array, spacing_mm=(x, y, z), origin_mm=(x, y, z)) so it carries "
                "its geometry"
            )


def geometry_json(volume: Volume) -> str:
    """The geometry of ``volume`` as indented JSON (for ``napari-calcium info``)."""
    return json.dumps(volume.geometry_dict(), indent=2)
