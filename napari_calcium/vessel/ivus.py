"""IVUS pullback analysis: geometry, borders, calcium, gating, lesions, scores.

Two stages, so that reader corrections recompute quickly:

1. :func:`analyse_pullback` (heavy, chunks of frames): catheter centre, one polar
   grid for every step, lumen border, calcium rays (bright echo + acoustic shadow),
   EEM border, frame-to-frame gating signal. Result: :class:`IvusAnalysis`, which
   holds borders and calcium as radii along the rays of the grid.
2. :func:`measure` (light, from the borders and calcium rays, including reader
   edits): per-frame areas, diameters, calcium arc / depth / nodule flag, lesions along
   the pullback, IVUS calcium score and treatment guidance.

:func:`run_ivus` runs both and returns one JSON-able dict (CLI, batch runs).
Angles: :data:`~napari_calcium.vessel.polar.ANGLE_CONVENTION`. Positions along the
pullback are in mm from the first frame (frame index x frame spacing).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from napari_calcium.errors import InputError
from napari_calcium.scores.ivus import arc_grade, ivus_calcium_score, treatment_guidance
from napari_calcium.vessel import borders, gating
from napari_calcium.vessel.ivus_calcium import (
    detect_rays,
    guide_wire_rays,
    mask_arc_deg,
    nodule_candidate,
    ray_echoes,
)
from napari_calcium.vessel.polar import (
    ANGLE_CONVENTION,
    PolarGrid,
    angles_of,
    circular_clean,
    circular_runs,
    polygon_radii,
    ray_directions,
)
from napari_calcium.volume import Volume, require_volumes

log = logging.getLogger(__name__)

#: Plausible IVUS field of view (mm): a pixel size outside it was not set for the pullback.
FIELD_OF_VIEW_MM = (3.0, 30.0)

#: Rays of the circular median applied to the EEM border across angle.
EEM_ANGULAR_MEDIAN_RAYS = 15

#: The catheter ring is searched within this distance (mm) of the frame centre.
CATHETER_SEARCH_MM = 0.8


@dataclass(frozen=True)
class IvusSettings:
    """Every parameter of the IVUS analysis, with its default (recorded in outputs).

    Geometry and sampling
        n_angles: rays per turn (1 degree at 360). radial_step_mm: sample spacing along
        a ray (never finer than a pixel). chunk_frames: frames per processing chunk.
        catheter_centre_yx_px: ray origin; ``None`` detects it from the catheter ring.
        catheter_exclusion_mm: radius hidden by catheter and ring-down; ``None`` detects it.
    Borders
        lumen_max_step_mm_per_deg, eem_max_step_mm_per_deg: smoothness of the
        optimal paths across angle. lumen_min_spread: frame-normalised level at which
        the blood-to-tissue step saturates (soft plaque counts as tissue).
        max_lumen_radius_mm: lumen search limit from the catheter. min_wall_mm,
        max_wall_mm: EEM search band beyond the lumen. eem_inner_mm, eem_outer_mm: the
        media inside and the adventitia outside the EEM cost compares.
        eem_min_visible_fraction: a frame showing less of its EEM takes it from the
        frames along the pullback. border_median_frames: running median along the
        pullback.
    Calcium (CLINICAL_RULES 0b, 2.1)
        normalise_percentiles: each frame is judged on its own scale, 0 at the lower and
        1 at the upper percentile of its samples outside the catheter (gain, dynamic
        range and overall brightness do not matter). bright_level: an echo is bright at
        >= this level. front_ratio, front_length_mm: the ``front_length_mm`` in front of
        it are darker than ``front_ratio`` x its peak. shadow_ratio, shadow_skip_mm,
        shadow_length_mm: acoustic shadow (the mean over ``shadow_length_mm`` starting
        ``shadow_skip_mm`` behind the echo is at most ``shadow_ratio`` x its peak);
        shadow_dark_level, shadow_dark_fraction: a complete shadow (that share of it
        darker than that level). calcium_passes: passes inside the EEM drawn across
        the complete shadows, where an echo must also hide the adventitia (the mean of
        ``eem_outer_mm`` from the EEM out at most ``adventitia_ratio`` x its peak);
        within ``adventitia_zone_mm`` of the EEM and beyond only a complete shadow
        counts; calcium_beyond_eem_mm, calcium_outside_eem_mm: how far beyond the EEM an
        echo is searched and kept. calcium_over_adventitia: calcium is brighter than
        the frame's adventitia (ACC IVUS consensus), its median echo peak above this
        times the median peak from the visible EEM out. guide_wire_max_width_mm,
        guide_wire_shadow_ratio, guide_wire_min_inside_mm: a bright echo inside the
        lumen with a near-total shadow narrower than this is the guide wire, never
        calcium. max_echo_mm: calcium mask depth. min_calcium_width_mm: narrower runs
        (at the echo) are dropped.
        min_arc_deg, arc_gap_fill_deg: angular cleaning; arc_gap_fill_mm: gaps in
        the calcium narrower than this at the lumen surface (the lateral beam width of
        a 20-40 MHz catheter) are closed, as the beam cannot resolve them. calcium_search_mm: search
        depth beyond the lumen. arc_centre: ``"lumen_centroid"`` (default) or
        ``"catheter"``. superficial_fraction and superficial_tie: leading edge
        superficial when depth fraction < 0.5 (``tie="deep"``: exactly 0.5 is deep).
        nodule_min_protrusion_mm, nodule_max_surface_gap_mm, nodule_min_frames.
    Lesions and grades (2.1)
        lesion_gap_mm: calcium-free gap bridged inside one lesion. arc_grade_bounds_deg
        with arc_grade_upper_inclusive (default False: I < 90, II [90, 180), III
        [180, 270), IV >= 270, as the review's "I < 90" and ">= 270" state it).
        circumferential_arc_deg: circumferential calcium (>= 270, 0b).
        reference_search_mm: proximal / distal reference frames are looked for within
        this distance of a lesion (largest calcium-free lumen).
        full_circle_arc_deg: a 360-degree frame.
    IVUS calcium score (Zhang, 0b / 2.2)
        score_arc_deg with score_arc_inclusive (default ``> 270`` as in 0b),
        score_length_mm (> 5 mm), score_diameter_mm (< 3.5 mm), high_risk_score (>= 2).
    Guidance (0b)
        severe_arc_deg (>= 270), severe_length_mm (> 5 mm), superficial_is_severe: the
        review's severe features, each on its own a reason for plaque modification.
        mild_max_arc_deg: with ``superficial_is_severe=False``, superficial calcium up to
        this arc counts as mild. deep_dominant_fraction:
        deep calcium dominates above this share of calcified frames.
        lithotripsy_max_length_mm, lithotripsy_diameter_range_mm.
    Gating and edits
        heart_rate_range_bpm, edit_propagation_mm (reader corrections fade out over
        this distance to each side).
    """

    n_angles: int = 360
    radial_step_mm: float = 0.04
    chunk_frames: int = 64
    catheter_centre_yx_px: tuple[float, float] | None = None
    catheter_exclusion_mm: float | None = None
    lumen_max_step_mm_per_deg: float = 0.1
    eem_max_step_mm_per_deg: float = 0.05
    max_lumen_radius_mm: float = 4.0
    min_wall_mm: float = 0.15
    max_wall_mm: float = 2.0
    border_median_frames: int = 3
    normalise_percentiles: tuple[float, float] = (10.0, 90.0)
    lumen_min_spread: float = 0.03
    bright_level: float = 1.1
    shadow_ratio: float = 0.6
    front_ratio: float = 0.6
    front_length_mm: float = 0.4
    shadow_length_mm: float = 0.8
    shadow_skip_mm: float = 0.15
    guide_wire_max_width_mm: float = 0.6
    guide_wire_shadow_ratio: float = 0.25
    guide_wire_min_inside_mm: float = 0.15
    eem_inner_mm: float = 0.2
    eem_outer_mm: float = 0.3
    calcium_outside_eem_mm: float = 0.05
    calcium_beyond_eem_mm: float = 0.2
    adventitia_zone_mm: float = 0.1
    adventitia_ratio: float = 0.5
    calcium_over_adventitia: float = 1.0
    calcium_passes: int = 1
    shadow_dark_level: float = 0.3
    shadow_dark_fraction: float = 0.6
    eem_min_visible_fraction: float = 0.5
    max_echo_mm: float = 0.2
    min_arc_deg: float = 5.0
    min_calcium_width_mm: float = 0.25
    arc_gap_fill_deg: float = 3.0
    arc_gap_fill_mm: float = 0.25
    calcium_search_mm: float = 1.5
    arc_centre: str = "lumen_centroid"
    superficial_fraction: float = 0.5
    superficial_tie: str = "deep"
    nodule_min_protrusion_mm: float = 0.2
    nodule_max_surface_gap_mm: float = 0.1
    nodule_min_frames: int = 3
    lesion_gap_mm: float = 0.5
    arc_grade_bounds_deg: tuple[float, float, float] = (90.0, 180.0, 270.0)
    arc_grade_upper_inclusive: bool = False
    circumferential_arc_deg: float = 270.0
    severe_arc_deg: float = 270.0
    severe_length_mm: float = 5.0
    superficial_is_severe: bool = True
    reference_search_mm: float = 10.0
    full_circle_arc_deg: float = 360.0
    score_arc_deg: float = 270.0
    score_arc_inclusive: bool = False
    score_length_mm: float = 5.0
    score_diameter_mm: float = 3.5
    high_risk_score: int = 2
    mild_max_arc_deg: float = 90.0
    deep_dominant_fraction: float = 0.5
    lithotripsy_max_length_mm: float = 60.0
    lithotripsy_diameter_range_mm: tuple[float, float] = (2.5, 4.0)
    heart_rate_range_bpm: tuple[float, float] = (40.0, 150.0)
    edit_propagation_mm: float = 0.5

    def __post_init__(self):
        if self.arc_centre not in ("lumen_centroid", "catheter"):
            raise InputError(
                f"arc_centre must be 'lumen_centroid' or 'catheter', not {self.arc_centre!r}"
            )
        if self.superficial_tie not in ("deep", "superficial"):
            raise InputError(
                f"superficial_tie must be 'deep' or 'superficial', not {self.superficial_tie!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> IvusSettings:
        values = dict(values or {})
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - names
        if unknown:
            raise InputError(f"unknown IVUS settings: {', '.join(sorted(unknown))}")
        for key, value in values.items():
            if isinstance(value, list):
                values[key] = tuple(value)
        return cls(**values)


# ----------------------------------------------------------------- input checks
def pullback_volume(
    frames,
    pixel_spacing_mm: float | None,
    pullback_speed_mm_s: float | None,
    frame_rate_hz: float | None,
    messages: list[str] | None = None,
) -> Volume:
    """A pullback Volume from a list or array of frames, with clear errors.

    Frames may be grey ``(y, x)`` or RGB(A) ``(y, x, 3|4)`` (converted to grey with
    ITU-R BT.601 weights and a message appended to ``messages``); all frames must have
    the same size.
    """
    items = list(frames) if not isinstance(frames, np.ndarray) else None
    if items is not None:
        shapes = {tuple(np.shape(f)) for f in items}
        if len(shapes) > 1:
            sizes = ", ".join(sorted(str(s) for s in shapes))
            raise InputError(
                f"the pullback frames have different sizes ({sizes})",
                "export the pullback again so that every frame has the same size",
            )
        array = np.stack([np.asarray(f) for f in items]) if items else np.empty((0, 0, 0))
    else:
        array = frames
    if array.ndim == 4 and array.shape[-1] in (3, 4):
        rgb = array[..., :3].astype(np.float32)
        array = np.clip(np.rint(rgb @ np.array([0.299, 0.587, 0.114], np.float32)), 0, 255)
        array = array.astype(np.uint8)
        if messages is not None:
            messages.append("RGB frames were converted to grey (ITU-R BT.601 luminance)")
    if array.ndim != 3 or array.shape[0] < 1:
        raise InputError(
            f"an IVUS pullback must be frames (frame, y, x); got shape {array.shape}",
            "give a multi-frame image or a folder of frames",
        )
    volume = Volume(array=array, modality="IVUS")
    return volume.with_pullback(pullback_speed_mm_s, frame_rate_hz, pixel_spacing_mm)


def check_pullback(volume: Volume) -> tuple[float, float]:
    """(pixel spacing, frame spacing) in mm of a pullback, or :class:`InputError`.

    The frame spacing must come from the pullback speed and frame rate, never a guess.
    """
    if volume.frame_spacing_mm is None:
        raise InputError(
            "the pullback speed and frame rate are unknown, so lengths along the pullback "
            "cannot be measured",
            "give them (CLI: --pullback-speed MM_S --frame-rate FPS; widget: speed and "
            "frame rate fields)",
        )
    sx, sy, _ = volume.spacing_mm
    if abs(sx - sy) > 1e-3 * max(sx, sy):
        raise InputError(
            f"the frame pixels are not square ({sx} x {sy} mm)",
            "give the pixel size with --pixel-spacing",
        )
    if min(volume.shape[1:]) < 32:
        raise InputError(f"frames of {volume.shape[1:]} pixels are too small for IVUS analysis")
    fov_mm = min(volume.shape[1:]) * sx
    if not FIELD_OF_VIEW_MM[0] <= fov_mm <= FIELD_OF_VIEW_MM[1]:
        raise InputError(
            f"with {sx:g} mm pixels the frames would span {fov_mm:.1f} mm, not an IVUS field of "
            f"view ({FIELD_OF_VIEW_MM[0]:g}-{FIELD_OF_VIEW_MM[1]:g} mm): the pixel size is missing or wrong",
            "give the pixel size with --pixel-spacing MM (widget: pixel size field)",
        )
    return float(sx), float(volume.frame_spacing_mm)


#: Where the measured span of :func:`pullback_span` comes from.
PULLBACK_SPAN_SOURCE = "DICOM IVUS Pullback Start/Stop Frame Number (0018,3103/3104)"


def pullback_span(volume: Volume, all_frames: bool = False) -> tuple[dict | None, str | None]:
    """The frames of the motorised pullback to measure, and a note for the reader.

    An IVUS file may hold frames recorded before the pullback starts or after it stops
    (the catheter standing still: the same cross-section again and again, which would
    lengthen lesions and skew per-frame statistics). Its DICOM IVUS Pullback Start / Stop
    Frame Number give the pullback (:class:`~napari_calcium.volume.Acquisition`
    ``pullback_start_frame`` / ``pullback_stop_frame``, 0-based, inclusive); only those
    frames are measured unless ``all_frames``. Returns ``({"first", "last", "source"},
    note)`` or ``(None, note)`` (note ``None`` when the file states no pullback frames).
    """
    acq = volume.acquisition
    first, last = acq.pullback_start_frame, acq.pullback_stop_frame
    n = volume.shape[0]
    if first is None or last is None or not 0 <= first <= last < n:
        return None, None
    if (first, last) == (0, n - 1):
        return None, None
    if all_frames:
        return None, (
            f"the file's pullback runs from frame {first} to {last} ({PULLBACK_SPAN_SOURCE}); "
            f"all {n} frames were measured, as asked"
        )
    return {"first": int(first), "last": int(last), "source": PULLBACK_SPAN_SOURCE}, (
        f"only frames {first}-{last} of {n} are measured: the motorised pullback runs there "
        f"({PULLBACK_SPAN_SOURCE}); measure every frame with --all-frames "
        "(Python: all_frames=True; widget: 'measure all frames')"
    )


# ----------------------------------------------------------------- stage 1
@dataclass
class IvusAnalysis:
    """Borders and calcium of a pullback as radii (pixels) along the rays of ``grid``.

    Arrays are ``(frame, angle)``. ``lumen_auto`` / ``eem_auto`` are the automatic
    borders; reader corrections are kept in ``lumen_edits`` / ``eem_edits`` (frame ->
    radii) and :meth:`lumen_px` / :meth:`eem_px` blend them into the neighbours.
    """

    grid: PolarGrid
    pixel_spacing_mm: float
    frame_spacing_mm: float
    lumen_auto: np.ndarray
    eem_auto: np.ndarray
    calcium_edge: np.ndarray
    calcium_end: np.ndarray
    calcium_rays: np.ndarray
    valid: np.ndarray
    gating_signal: np.ndarray
    end_diastolic: list[int]
    cycle_frames: float | None
    gating_note: str | None
    settings: IvusSettings
    wire_rays: np.ndarray
    catheter_exclusion_mm: float
    messages: list[str] = field(default_factory=list)
    lumen_edits: dict[int, np.ndarray] = field(default_factory=dict)
    eem_edits: dict[int, np.ndarray] = field(default_factory=dict)
    nodule_decisions: dict[int, bool] = field(default_factory=dict)
    reference_edits: dict[int, tuple[int | None, int | None]] = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return int(self.lumen_auto.shape[0])

    def lumen_px(self) -> np.ndarray:
        return self._with_edits(self.lumen_auto, self.lumen_edits)

    def eem_px(self) -> np.ndarray:
        eem = self._with_edits(self.eem_auto, self.eem_edits)
        return np.maximum(eem, self.lumen_px() + 1.0)

    def polygons_px(self, kind: str) -> np.ndarray:
        """``(frame, angle, 2)`` (y, x) pixel polygons of the ``"lumen"`` or ``"eem"`` border."""
        radii = self.lumen_px() if kind == "lumen" else self.eem_px()
        return self.grid.points(radii)

    def set_contour(self, kind: str, frame: int, polygon_yx_px) -> None:
        """Record a reader-corrected ``"lumen"`` or ``"eem"`` polygon (pixels) for ``frame``."""
        radii = polygon_radii(polygon_yx_px, self.grid.centre_yx_px, self.grid.angles_deg)
        if np.isnan(radii).all():
            raise InputError(
                f"the corrected {kind} contour of frame {frame} does not surround the catheter"
            )
        ok = np.isfinite(radii)
        a = np.arange(radii.size)
        radii = np.interp(a, a[ok], radii[ok], period=radii.size)
        (self.lumen_edits if kind == "lumen" else self.eem_edits)[int(frame)] = radii

    def _with_edits(self, auto: np.ndarray, edits: dict[int, np.ndarray]) -> np.ndarray:
        """Automatic radii with corrections: edited frames as drawn; frames between two
        edited frames within reach get the linearly interpolated correction; others within
        ``edit_propagation_mm`` of one edited frame get its correction, fading linearly."""
        if not edits:
            return auto
        out = auto.copy()
        reach = max(0, int(round(self.settings.edit_propagation_mm / self.frame_spacing_mm)))
        frames = sorted(edits)
        delta = {f: edits[f] - auto[f] for f in frames}
        for j in range(max(0, frames[0] - reach), min(self.n_frames, frames[-1] + reach + 1)):
            if j in delta:
                out[j] = edits[j]
                continue
            left = [f for f in frames if f < j]
            right = [f for f in frames if f > j]
            fl, fr = (left[-1] if left else None), (right[0] if right else None)
            if fl is not None and fr is not None and fr - fl <= 2 * reach + 1:
                w = (j - fl) / (fr - fl)
                out[j] = auto[j] + (1 - w) * delta[fl] + w * delta[fr]
                continue
            near = min((f for f in (fl, fr) if f is not None), key=lambda f: abs(f - j))
            fade = 1.0 - abs(near - j) / (reach + 1)
            if fade > 0:
                out[j] = auto[j] + fade * delta[near]
        return out


def _detect_catheter(mean_frame: np.ndarray, px_mm: float) -> tuple[float, float] | None:
    """Centre (y, x) of the catheter near the frame centre, or None.

    The transducer itself returns no echo: a dark disc (0.2-0.8 mm in radius) ringed
    by the bright sheath and ring-down. Its centroid is the centre; a bright guide-wire
    echo next to the catheter does not move it. Without such a disc, the centroid of
    the bright ring near the frame centre is taken.
    """
    h, w = mean_frame.shape
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    yy, xx = np.mgrid[0:h, 0:w]
    near = np.hypot(yy - cy, xx - cx) <= CATHETER_SEARCH_MM / px_mm
    values = np.where(near, mean_frame, 0.0)
    if values.max() <= 0:
        return None
    dark = near & (mean_frame <= 0.05 * values.max())
    labels, _ = ndimage.label(dark)
    if labels.max():
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        disc = labels == sizes.argmax()
        radius_mm = np.sqrt(disc.sum() / np.pi) * px_mm
        enclosed = not (ndimage.binary_dilation(disc) & ~near).any()  # ringed, not the lumen
        if 0.2 <= radius_mm <= CATHETER_SEARCH_MM and enclosed:
            return float(yy[disc].mean()), float(xx[disc].mean())
    bright = values >= 0.6 * values.max()
    if bright.sum() < 8:
        return None
    return float(yy[bright].mean()), float(xx[bright].mean())


def _ring_down_end(polar: np.ndarray, step_mm: float) -> int:
    """Radius index (samples) where the catheter's sheath and ring-down end.

    The ring-down is the same in every frame, while blood and tissue beyond it change
    as the catheter moves: across frames taken all along the pullback, the echo near
    the catheter that barely varies (median over the rays of its spread across frames
    below a tenth of its mean; log-compressed speckle varies by more) is ring-down,
    and it ends where the spread rises. When no such
    steady band follows the sheath (a single frame, or a speckled ring-down), the
    profile of the darkest angles is used: the sheath and ring-down are bright at every
    angle and some angles show blood beyond them, so it falls there.
    """
    inner = max(2, int(1.2 / step_mm))
    profile = np.percentile(polar.mean(axis=0), 10, axis=0)
    peak = int(np.argmax(profile[:inner]))
    margin = max(1, int(round(0.05 / step_mm)))
    if polar.shape[0] >= 3:
        spread = polar.std(axis=0) / np.maximum(polar.mean(axis=0), 1.0)
        varies = np.flatnonzero(np.median(spread, axis=0)[peak : peak + inner] >= 0.1)
        if varies.size and varies[0] * step_mm >= 0.1:
            return peak + int(varies[0]) + margin
    after = profile[peak : peak + inner]
    floor = after.min()
    falls = np.flatnonzero(after < floor + 0.25 * (profile[peak] - floor))
    return peak + (int(falls[0]) if falls.size else 0) + margin


def _calibrate(volume: Volume, settings: IvusSettings, px_mm: float, messages: list[str]):
    """Catheter centre, polar grid and catheter exclusion radius (samples)."""
    n = volume.shape[0]
    picks = np.unique(np.linspace(0, n - 1, min(n, 32)).round().astype(int))
    sample = np.asarray(volume.array[picks], dtype=np.float32)
    usable = sample.reshape(len(picks), -1).std(axis=1) > 1.0
    if not usable.any():
        raise InputError("every frame of the pullback is blank", "check the file")
    sample = sample[usable]
    centre = settings.catheter_centre_yx_px
    if centre is None:
        centre = _detect_catheter(sample.mean(axis=0), px_mm)
        if centre is None:
            h, w = volume.shape[1:]
            centre = ((h - 1) / 2.0, (w - 1) / 2.0)
            messages.append("no catheter ring found: the frame centre is used as catheter centre")
    step_px = max(1.0, settings.radial_step_mm / px_mm)
    grid = PolarGrid.fitting(volume.shape[1:], centre, settings.n_angles, step_px)
    polar = grid.sample(sample)
    step_mm = step_px * px_mm
    if settings.catheter_exclusion_mm is not None:
        exclusion = int(np.ceil(settings.catheter_exclusion_mm / step_mm))
    else:
        exclusion = _ring_down_end(polar, step_mm)
    if float(np.percentile(polar[:, :, exclusion:], 75)) <= 0:
        raise InputError("the pullback has no echo beyond the catheter", "check the file")
    return grid, exclusion


def _detect_chunk(polar, before, exclusion, lumen_max, settings, samples, px_mm, grid):
    """Lumen, EEM and calcium of a chunk of polar frames ``(frame, angle, radius)``.

    ``before`` is the frame before the first one ``(1, angle, radius)`` (or ``None``: no
    motion cue, e.g. a single frame).

    1. Each frame is put on its own scale (:func:`borders.normalise_frames`).
    2. Guide-wire candidates: narrow shadowing echoes between the catheter and the
       largest lumen radius; the lumen cost across them is bridged from the rays beside.
    3. Lumen: optimal path of a two-region cost (blood inside, tissue outside,
       :func:`borders.lumen_cost`), the blood's level and speckle measured first next to
       the catheter and then inside the lumen found; where blood speckle decorrelates
       from frame to frame and tissue does not, that motion tells them apart. A
       candidate whose echo lies inside the lumen is the guide wire (never calcium).
    4. Calcium: the first bright echo from the lumen out, when the ray is dark behind
       it (:func:`detect_rays`), off the wire; runs narrower than the beam dropped.
    5. EEM: optimal path of the outer edge of the echolucent media, its cost behind
       shadows drawn across from the visible rays (interpolated, and flagged by the
       caller); a shadowing echo beyond that EEM is not calcium.

    Returns radius indices (frame, angle): lumen (sub-sample), EEM (``nan`` where the
    frame shows too little of it), calcium leading edge and echo end (``nan`` where
    none), and the calcium, wire and hidden-EEM ray masks.
    """
    s = settings
    deg = grid.angle_step_deg
    step_mm = grid.radial_step_px * px_mm
    stacked = polar if before is None else np.concatenate([before, polar])
    norm_all = borders.normalise_frames(stacked, exclusion, s.normalise_percentiles)
    angular_all = ndimage.uniform_filter1d(norm_all, 5, axis=1, mode="wrap")
    smooth_all = ndimage.uniform_filter1d(angular_all, 3, axis=2, mode="nearest")
    first = 0 if before is None else 1
    norm, angular, smooth = norm_all[first:], angular_all[first:], smooth_all[first:]
    across = ndimage.uniform_filter1d(norm, 3, axis=1, mode="wrap")
    n, A, R = norm.shape
    # the bright runs on each ray and their surroundings, judged by every pass below
    echoes = ray_echoes(
        across, bright_level=s.bright_level, front_length=samples(s.front_length_mm),
        shadow_skip=samples(s.shadow_skip_mm), shadow_length=samples(s.shadow_length_mm),
        max_echo=samples(s.max_echo_mm), adventitia_length=samples(s.eem_outer_mm),
        dark_level=s.shadow_dark_level, echo_profile=norm,
    )  # fmt: skip
    window = samples(0.15)
    lumen_step = max(1, int(round(s.lumen_max_step_mm_per_deg * deg / step_mm)))
    eem_step = max(1, int(round(s.eem_max_step_mm_per_deg * deg / step_mm)))
    gap = int(round(s.arc_gap_fill_deg / deg))
    min_run = max(1, int(round(s.min_arc_deg / deg)))
    full = np.ones((n, A), int)
    # 2. guide-wire candidates
    # the wire passes almost nothing: its shadow is far darker than calcium's
    w_idx, _ = detect_rays(
        echoes, full * exclusion, full * (lumen_max - 1), shadow_ratio=s.guide_wire_shadow_ratio,
        front_ratio=s.front_ratio, dark_fraction=s.shadow_dark_fraction,
    )  # fmt: skip
    narrow = np.zeros((n, A), bool)
    for k in np.flatnonzero(np.isfinite(w_idx).any(axis=1)):
        narrow[k] = guide_wire_rays(
            np.isfinite(w_idx[k]), w_idx[k], np.full(A, np.inf), step_mm,
            s.guide_wire_max_width_mm, 0.0,
        )  # fmt: skip
    free = ndimage.binary_dilation(narrow, np.ones((1, 5), bool), border_value=0)
    # 3. lumen
    band = smooth[..., exclusion:lumen_max]
    inside = borders.near_catheter_blood(band, window)
    motion = informative = None
    if before is not None:
        motion = borders.temporal_correlation(
            smooth_all[..., exclusion:lumen_max], (9, max(1, window // 2))
        )
        # the cue holds when the blood next to the catheter decorrelates and tissue does not
        blood_motion = np.array([np.median(motion[i][inside[i]]) for i in range(n)])
        held = np.percentile(motion[:, ::4].reshape(n, -1), 75, axis=1)
        informative = (blood_motion <= 0.3) & (held >= 0.7)
    r = np.arange(band.shape[-1])
    for _ in range(2):
        level, spread = borders.blood_statistics(band, inside)
        cost = borders.lumen_cost(
            band, 2 * window, level, np.maximum(spread, s.lumen_min_spread), motion, informative
        )
        cost = borders.bridge_hidden_rays(cost, free, 0.0)
        path = borders.optimal_closed_paths(cost, lumen_step)
        inside = (r >= window) & (r < path[..., None] - window)
    l_idx = exclusion + path
    wire = np.zeros((n, A), bool)
    for k in np.flatnonzero(narrow.any(axis=1)):
        wire[k] = guide_wire_rays(
            narrow[k], w_idx[k], l_idx[k], step_mm, s.guide_wire_max_width_mm,
            s.guide_wire_min_inside_mm,
        )  # fmt: skip
    wire = ndimage.binary_dilation(wire, np.ones((1, 7), bool), border_value=0)
    # 4. EEM cost
    low = l_idx + samples(s.min_wall_mm)
    high = np.minimum(l_idx + samples(s.max_wall_mm), R - 1)
    inner, outer = samples(s.eem_inner_mm), samples(s.eem_outer_mm)
    a0, b0 = int(low.min()), int(high.max()) + 1
    eem_cost = borders.eem_cost(smooth[..., max(0, a0 - inner) : b0 + outer], inner, outer)
    eem_cost = eem_cost[..., a0 - max(0, a0 - inner) :][..., : b0 - a0]

    def eem_path(free):
        """EEM path (radius indices) with the cost behind the ``free`` rays (and two on
        each side) drawn across angle from the visible rays, and those hidden rays."""
        hidden = ndimage.binary_dilation(free, np.ones((1, 5), bool), border_value=0)
        cost = borders.bridge_hidden_rays(eem_cost, hidden, s.eem_min_visible_fraction)
        seen = np.isfinite(cost[..., 0])
        cost[~seen] = 0.0  # frames that show too little of the EEM: filled along the pullback
        cost = borders.restrict(cost, low - a0, high - a0)
        path = a0 + borders.optimal_closed_paths(cost, eem_step)
        return hidden, np.where(seen, path, np.nan)

    # 5. calcium, in two passes. First only echoes with a complete shadow (as dark as
    # the blood), which the adventitia never has; the EEM drawn across their shadows
    # then bounds the second pass, in which a shadow need only be darker than the
    # echo inside the EEM, and complete within ``adventitia_zone_mm`` of it and beyond.
    reach = np.minimum(l_idx + samples(s.calcium_search_mm), R - 1)
    # gaps narrower than the beam at the lumen surface are not resolved: closed
    lumen_mm = np.maximum(np.median(l_idx, axis=1) * step_mm, 0.1)
    beam_gap = np.round(np.rad2deg(s.arc_gap_fill_mm / lumen_mm) / deg).astype(int)

    def calcium(reach, eem_idx):
        e_idx, x_idx = detect_rays(
            echoes, l_idx - samples(0.1), reach, shadow_ratio=s.shadow_ratio,
            front_ratio=s.front_ratio, eem_idx=eem_idx,
            eem_zone=round(s.adventitia_zone_mm / step_mm), adventitia_ratio=s.adventitia_ratio,
            dark_fraction=s.shadow_dark_fraction,
        )  # fmt: skip
        shadow = np.isfinite(e_idx) & ~wire
        for k in np.flatnonzero(shadow.any(axis=1)):
            shadow[k] = circular_clean(shadow[k], max(gap, beam_gap[k]), min_run)
        e_idx[~shadow] = np.nan
        x_idx[~shadow] = np.nan
        return e_idx, x_idx, shadow

    e_idx, x_idx, shadow = calcium(reach, None)
    for _ in range(s.calcium_passes):
        _, first_eem = eem_path(shadow | wire)
        known = np.isfinite(first_eem)
        eem_at = np.where(known, np.nan_to_num(first_eem), -R).astype(int)  # unknown: at EEM
        beyond = np.where(known, eem_at + int(round(s.calcium_beyond_eem_mm / step_mm)), R)
        e_idx, x_idx, shadow = calcium(np.minimum(reach, beyond), eem_at)
    # 6. EEM, bridged behind calcium and the wire
    hidden, m_idx = eem_path(shadow | wire)
    outside = np.zeros_like(shadow)
    tolerance = samples(s.calcium_outside_eem_mm)
    # calcium is brighter than the adventitia (ACC IVUS consensus, Mintz et al. 2001):
    # each frame's reference is the median echo peak from its visible EEM out
    echo_len = samples(s.max_echo_mm)
    peak_from = lambda start: np.take_along_axis(  # noqa: E731
        norm, np.clip(start[..., None] + np.arange(echo_len), 0, R - 1), axis=2
    ).max(axis=2)
    echo_peak = peak_from(np.nan_to_num(e_idx).astype(int))
    visible = np.isfinite(m_idx) & ~hidden
    adventitia = peak_from(np.nan_to_num(m_idx).astype(int))
    for k in np.flatnonzero(shadow.any(axis=1)):
        reference = np.median(adventitia[k, visible[k]]) if visible[k].any() else -np.inf
        for start, length in circular_runs(shadow[k]):
            idx = (start + np.arange(length)) % A
            edges = e_idx[k, idx]
            width_mm = np.deg2rad(length * deg) * np.nanmedian(edges) * step_mm
            depth = edges - m_idx[k, idx]  # nan where the EEM is drawn along the pullback
            beyond = np.isfinite(depth).any() and np.nanmedian(depth) > tolerance
            dim = np.median(echo_peak[k, idx]) <= s.calcium_over_adventitia * reference
            if beyond or dim or width_mm < s.min_calcium_width_mm:
                outside[k, idx] = True
    if outside.any():
        shadow &= ~outside
        e_idx[outside] = np.nan
        x_idx[outside] = np.nan
        hidden, m_idx = eem_path(shadow | wire)
    # a lumen border lies between the last sample inside and the first outside
    l_pos = borders.refine_rising_edge(angular, l_idx, window, 1.0, exclusion)
    if informative is not None:  # blood as bright as tissue: no brightness step to refine on
        l_pos = np.where(informative[:, None], l_idx - 0.5, l_pos)
    return l_pos, m_idx, e_idx, x_idx, shadow, wire, hidden


def analyse_pullback(
    volume: Volume,
    settings: IvusSettings | None = None,
    progress: Callable[[int, int], None] | None = None,
    messages: list[str] | None = None,
) -> IvusAnalysis:
    """Borders, calcium rays and gating signal of every frame of a pullback.

    Parameters
    ----------
    volume : pullback ``(frame, y, x)`` with pixel spacing and frame spacing (pullback
        speed / frame rate) known; numpy or dask.
    settings : :class:`IvusSettings` (defaults when ``None``).
    progress : called as ``progress(frames_done, n_frames)`` after each chunk.
    messages : list that receives notes for the reader (blank frames, conversions).
    """
    steps = analysis_steps(volume, settings, messages)
    while True:
        try:
            done, total = next(steps)
        except StopIteration as finished:
            return finished.value
        if progress is not None:
            progress(done, total)


def analysis_steps(
    volume: Volume, settings: IvusSettings | None = None, messages: list[str] | None = None
) -> Generator[tuple[int, int], None, IvusAnalysis]:
    """:func:`analyse_pullback` as a generator: yields ``(frames_done, n_frames)`` after
    each chunk and returns the :class:`IvusAnalysis` (for GUI workers)."""
    settings = settings or IvusSettings()
    messages = [] if messages is None else messages
    px_mm, dz_mm = check_pullback(volume)
    grid, exclusion = _calibrate(volume, settings, px_mm, messages)
    step_mm = grid.radial_step_px * px_mm
    log.info(
        "IVUS: %d frames, catheter centre (%.1f, %.1f) px, %d rays x %d samples of %.3f mm, "
        "catheter and ring-down %.2f mm",
        volume.shape[0], *grid.centre_yx_px, grid.n_angles, grid.n_radii, step_mm,
        exclusion * step_mm,
    )  # fmt: skip
    samples = lambda mm: max(1, int(round(mm / step_mm)))  # noqa: E731
    n, h, w = volume.shape
    A, R = grid.n_angles, grid.n_radii
    lumen = np.full((n, A), np.nan)
    eem = np.full((n, A), np.nan)
    edge = np.full((n, A), np.nan)
    end = np.full((n, A), np.nan)
    shadowed = np.zeros((n, A), bool)
    wire_rays = np.zeros((n, A), bool)
    eem_hidden = np.zeros((n, A), bool)
    valid = np.ones(n, bool)
    signal = np.full(n, np.nan)
    previous = None
    previous_polar = None
    lumen_max = max(exclusion + 3 * samples(0.15), min(R, samples(settings.max_lumen_radius_mm)))
    for i0 in range(0, n, settings.chunk_frames):
        i1 = min(n, i0 + settings.chunk_frames)
        polar_all = grid.sample(np.asarray(volume.array[i0:i1]))
        small = gating.block_mean(polar_all, 4)
        signal[i0:i1] = gating.motion_signal(small, previous)
        previous = small[-1]
        ok = (small.max(axis=(1, 2)) - small.min(axis=(1, 2))) > 1.0
        for k in np.flatnonzero(~ok):
            messages.append(f"frame {i0 + k} is blank: marked invalid and left out")
        valid[i0:i1] = ok
        if not ok.any():
            yield i1, n
            continue
        polar = polar_all[ok] if not ok.all() else polar_all
        # each frame is compared with the one before it (the first with the second)
        before = previous_polar if previous_polar is not None else polar[1:2]
        previous_polar = polar[-1:]
        found = _detect_chunk(
            polar, before if before.shape[0] else None, exclusion, lumen_max, settings,
            samples, px_mm, grid,
        )  # fmt: skip
        l_idx, m_idx, e_idx, x_idx, shadow, wire, hidden = found
        rows = np.arange(i0, i1)[ok]
        lumen[rows] = l_idx * grid.radial_step_px
        eem[rows] = (m_idx - 0.5) * grid.radial_step_px
        edge[rows] = e_idx * grid.radial_step_px
        end[rows] = x_idx * grid.radial_step_px
        shadowed[rows] = shadow
        wire_rays[rows] = wire
        eem_hidden[rows] = hidden
        yield i1, n

    # borders: smooth along the pullback; the EEM of frames that show too little of it
    # (a ring of shadow) and of blank frames is interpolated from the frames where
    # that ray is visible
    if valid.any():
        lumen = borders.fill_along_frames(lumen, np.isfinite(lumen))
        lumen = borders.smooth_along_frames(lumen, settings.border_median_frames)
        seen = np.isfinite(eem)
        eem = borders.fill_along_frames(np.where(seen, eem, 0.0), seen)
        # spikes left by rays whose shadow went undetected: circular median across angle
        eem = ndimage.median_filter(eem, size=(1, EEM_ANGULAR_MEDIAN_RAYS), mode="wrap")
        eem = borders.smooth_along_frames(eem, settings.border_median_frames + 2)
    if (~valid).any():
        messages.append(f"{int((~valid).sum())} blank frame(s) marked invalid")
    ed, cycle, gating_note = gating.end_diastolic_frames(
        signal,
        volume.acquisition.frame_rate_hz or 1.0 / dz_mm,
        settings.heart_rate_range_bpm,
        valid=valid,
    )
    return IvusAnalysis(
        grid=grid,
        pixel_spacing_mm=px_mm,
        frame_spacing_mm=dz_mm,
        lumen_auto=lumen,
        eem_auto=eem,
        calcium_edge=edge,
        calcium_end=end,
        calcium_rays=shadowed,
        valid=valid,
        gating_signal=signal,
        end_diastolic=ed,
        cycle_frames=cycle,
        gating_note=gating_note,
        settings=settings,
        wire_rays=wire_rays,
        catheter_exclusion_mm=float(exclusion * step_mm),
        messages=messages,
    )


# ----------------------------------------------------------------- stage 2
def _polar_polygon_measures(radii: np.ndarray, grid: PolarGrid):
    """Area (px^2) and centroid (y, x) of star polygons given by radii ``(frame, angle)``."""
    theta = np.deg2rad(360.0 / grid.n_angles)
    r0, r1 = radii, np.roll(radii, -1, axis=1)
    tri = 0.5 * r0 * r1 * np.sin(theta)  # fan triangles from the catheter
    pts = grid.points(radii)
    nxt = np.roll(pts, -1, axis=1)
    c = np.asarray(grid.centre_yx_px)
    tri_centroid = (c + pts + nxt) / 3.0
    area = tri.sum(axis=1)
    centroid = (tri[..., None] * tri_centroid).sum(axis=1) / np.maximum(area, 1e-12)[:, None]
    return area, centroid


def _diameters(points: np.ndarray, centroid: np.ndarray, n_dir: int = 90) -> np.ndarray:
    """Min, max, mean chord (px) through the centroid of star polygons, ``(frame, 3)``.

    ``points`` ``(frame, angle, 2)`` and ``centroid`` ``(frame, 2)``; the radius about the
    centroid is interpolated at ``2 * n_dir`` angles (all frames in one search).
    """
    n = points.shape[0]
    rel = points - centroid[:, None, :]
    phi = angles_of(rel)
    rho = np.hypot(rel[..., 0], rel[..., 1])
    order = np.argsort(phi, axis=1)
    phi = np.take_along_axis(phi, order, axis=1)
    rho = np.take_along_axis(rho, order, axis=1)
    phi = np.concatenate([phi[:, -1:] - 360.0, phi, phi[:, :1] + 360.0], axis=1)
    rho = np.concatenate([rho[:, -1:], rho, rho[:, :1]], axis=1)
    offset = 1000.0 * np.arange(n)[:, None]  # rows never overlap: one sorted search
    flat = (phi + offset).ravel()
    targets = np.arange(2 * n_dir) * (180.0 / n_dir)
    m = phi.shape[1]
    rows = np.arange(n)[:, None] * m
    hi = np.searchsorted(flat, (targets[None] + offset).ravel()).reshape(n, -1)
    hi = np.clip(hi, rows + 1, rows + m - 1)
    p0, p1 = flat[hi - 1], flat[hi]
    r0, r1 = rho.ravel()[hi - 1], rho.ravel()[hi]
    t = np.clip(((targets[None] + offset) - p0) / np.maximum(p1 - p0, 1e-9), 0.0, 1.0)
    r = r0 + t * (r1 - r0)
    chords = r[:, :n_dir] + r[:, n_dir:]
    return np.stack([chords.min(axis=1), chords.max(axis=1), chords.mean(axis=1)], axis=1)


def frame_weights_mm(positions_mm: np.ndarray, frame_spacing_mm: float) -> np.ndarray:
    """Pullback length each measured frame stands for: half the distance to each
    measured neighbour (one frame spacing at the ends when all frames are measured)."""
    p = np.asarray(positions_mm, dtype=float)
    if p.size == 1:
        return np.array([frame_spacing_mm])
    gaps = np.diff(p)
    before = np.concatenate([[gaps[0]], gaps]) / 2.0
    after = np.concatenate([gaps, [gaps[-1]]]) / 2.0
    return before + after


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) index pairs of runs of True in a 1-D array."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def measure(
    analysis: IvusAnalysis,
    frames: list[int] | np.ndarray | None = None,
    span: dict | None = None,
) -> dict[str, Any]:
    """Per-frame measurements, lesions, IVUS calcium score and guidance.

    Parameters
    ----------
    analysis : result of :func:`analyse_pullback` (with any reader corrections).
    frames : frame indices to measure (e.g. the gated end-diastolic frames); all frames
        when ``None``. Lengths are always physical pullback distance.
    span : the motorised pullback of :func:`pullback_span` (``first`` .. ``last``): frames
        outside it are not measured; recorded as ``pullback_span``.
    """
    s = analysis.settings
    grid = analysis.grid
    px = analysis.pixel_spacing_mm
    dz = analysis.frame_spacing_mm
    n = analysis.n_frames
    chosen = np.arange(n) if frames is None else np.unique(np.asarray(frames, dtype=int))
    if span is not None:
        chosen = chosen[(chosen >= span["first"]) & (chosen <= span["last"])]
    lumen = analysis.lumen_px()
    eem = analysis.eem_px()
    lumen_area, lumen_c = _polar_polygon_measures(np.nan_to_num(lumen), grid)
    eem_area, eem_c = _polar_polygon_measures(np.nan_to_num(eem), grid)
    lumen_pts = grid.points(np.nan_to_num(lumen))
    eem_pts = grid.points(np.nan_to_num(eem))
    catheter = np.asarray(grid.centre_yx_px)
    angles = grid.angles_deg
    lumen_d = _diameters(lumen_pts, lumen_c) * px
    eem_d = _diameters(eem_pts, eem_c) * px
    per_frame = []
    for i in chosen:
        row: dict[str, Any] = {
            "index": int(i),
            "position_mm": float(i * dz),
            "valid": bool(analysis.valid[i]),
            "lumen_edited": int(i) in analysis.lumen_edits,
            "eem_edited": int(i) in analysis.eem_edits,
        }
        if not analysis.valid[i]:
            row.update(dict.fromkeys(MEASURES, None))
            row["nodule_candidate"] = False
            per_frame.append(row)
            continue
        la, va = lumen_area[i] * px * px, eem_area[i] * px * px
        lmin, lmax, lmean = (float(v) for v in lumen_d[i])
        vmin, vmax, vmean = (float(v) for v in eem_d[i])
        about = lumen_c[i] if s.arc_centre == "lumen_centroid" else catheter
        rays = analysis.calcium_rays[i]
        e = analysis.calcium_edge[i]
        arc = mask_arc_deg(rays, e, angles, catheter, about) if rays.any() else 0.0
        depth, superficial, sup_arc, nodule = None, None, 0.0, False
        if arc > 0:
            frac = (e - lumen[i]) / np.maximum(eem[i] - lumen[i], 1e-6)
            frac = np.clip(frac, 0.0, 1.0)
            depth = float(np.nanmedian(frac[rays])) if np.isfinite(frac[rays]).any() else None
            is_sup = _superficial(frac, s)
            superficial = None if depth is None else bool(_superficial(np.array([depth]), s)[0])
            sup_mask = circular_clean(
                rays & is_sup, int(round(s.arc_gap_fill_deg / grid.angle_step_deg)), 1
            )
            sup_arc = (
                mask_arc_deg(sup_mask & rays, e, angles, catheter, about)
                if sup_mask.any()
                else 0.0
            )
            nodule, _ = nodule_candidate(
                rays,
                e,
                lumen[i],
                px * 1.0,
                s.nodule_min_protrusion_mm,
                s.nodule_max_surface_gap_mm,
            )
        row.update(
            {
                "lumen_area_mm2": float(la),
                "vessel_area_mm2": float(va),
                "plaque_media_area_mm2": float(va - la),
                "plaque_burden_percent": float(100.0 * (va - la) / va) if va > 0 else None,
                "lumen_diameter_min_mm": lmin,
                "lumen_diameter_max_mm": lmax,
                "lumen_diameter_mean_mm": lmean,
                "vessel_diameter_min_mm": vmin,
                "vessel_diameter_max_mm": vmax,
                "vessel_diameter_mean_mm": vmean,
                "calcium_arc_deg": float(arc),
                "superficial_arc_deg": float(sup_arc),
                "calcium_depth_fraction": depth,
                "superficial": superficial,
                "nodule_candidate": bool(nodule),
            }
        )
        per_frame.append(row)
    lesions = find_lesions(per_frame, dz, s, analysis.nodule_decisions, analysis.reference_edits)
    target = max(
        lesions, key=lambda d: (d["ivus_calcium_score"]["total"], d["max_arc_deg"]), default=None
    )
    score = (
        target["ivus_calcium_score"]
        if target
        else ivus_calcium_score(0.0, 0.0, False, None, **_score_kwargs(s))
    )
    # The pullback's guidance follows its most demanding lesion (severe > mild-moderate > mild).
    demanding = max(
        lesions,
        key=lambda d: (GUIDANCE_RANK[d["guidance"]["category"]], d["ivus_calcium_score"]["total"]),
        default=None,
    )
    guidance = (
        demanding["guidance"]
        if demanding
        else treatment_guidance(None, score, **_guidance_kwargs(s))
    )
    return {
        "frames": n,
        "frames_measured": len(per_frame),
        "pullback_span": span,
        "frame_spacing_mm": dz,
        "pixel_spacing_mm": px,
        "pullback_length_mm": float(n * dz),
        "catheter_centre_yx_px": list(grid.centre_yx_px),
        "angle_convention": ANGLE_CONVENTION
        + (
            " — arcs measured about the lumen centroid"
            if s.arc_centre == "lumen_centroid"
            else " — arcs about the catheter"
        ),
        "per_frame": per_frame,
        "lesions": lesions,
        "target_lesion": None if target is None else target["id"],
        "ivus_calcium_score": score,
        "guidance": guidance,
        "invalid_frames": [int(i) for i in np.flatnonzero(~analysis.valid)],
        "end_diastolic_frames": list(analysis.end_diastolic),
        "cycle_frames": analysis.cycle_frames,
        "messages": list(analysis.messages),
        "settings": {
            **s.to_dict(),
            "catheter_centre_yx_px": list(grid.centre_yx_px),
            "catheter_exclusion_mm": analysis.catheter_exclusion_mm,
        },
    }


MEASURES = (
    "lumen_area_mm2",
    "vessel_area_mm2",
    "plaque_media_area_mm2",
    "plaque_burden_percent",
    "calcium_arc_deg",
    "superficial_arc_deg",
    "calcium_depth_fraction",
    "superficial",
)


def _superficial(frac: np.ndarray, s: IvusSettings) -> np.ndarray:
    """Leading edge in the inner part of plaque+media (CLINICAL_RULES 2.1; tie per setting)."""
    with np.errstate(invalid="ignore"):
        if s.superficial_tie == "deep":
            return frac < s.superficial_fraction
        return frac <= s.superficial_fraction


def _score_kwargs(s: IvusSettings) -> dict[str, Any]:
    return {
        "arc_threshold_deg": s.score_arc_deg,
        "arc_inclusive": s.score_arc_inclusive,
        "length_threshold_mm": s.score_length_mm,
        "diameter_threshold_mm": s.score_diameter_mm,
        "full_circle_arc_deg": s.full_circle_arc_deg,
        "high_risk_score": s.high_risk_score,
    }


#: Order of the guidance categories, least to most demanding.
GUIDANCE_RANK = {
    "none": 0,
    "mild_superficial": 1,
    "mild_moderate": 2,
    "severe_superficial": 3,
    "severe_deep": 3,
}


def _guidance_kwargs(s: IvusSettings) -> dict[str, Any]:
    return {
        "mild_max_arc_deg": s.mild_max_arc_deg,
        "severe_arc_deg": s.severe_arc_deg,
        "severe_length_mm": s.severe_length_mm,
        "superficial_is_severe": s.superficial_is_severe,
        "circumferential_arc_deg": s.circumferential_arc_deg,
        "deep_dominant_fraction": s.deep_dominant_fraction,
        "lithotripsy_max_length_mm": s.lithotripsy_max_length_mm,
        "lithotripsy_diameter_range_mm": s.lithotripsy_diameter_range_mm,
        "high_risk_score": s.high_risk_score,
    }


def _meets_score_arc(arc: float, s: IvusSettings) -> bool:
    return arc >= s.score_arc_deg if s.score_arc_inclusive else arc > s.score_arc_deg


def _decision(decisions: dict[int, Any], first: int, last: int):
    """The reader's decision recorded on a frame of ``first..last`` (the last one made), or None."""
    inside = [f for f in decisions if first <= f <= last]
    return decisions[max(inside)] if inside else None


def reference_frames(
    rows: list[dict],
    lesion_rows: tuple[int, int],
    calcified: np.ndarray,
    s: IvusSettings,
    between: tuple[int, int] | None = None,
) -> tuple[int | None, int | None]:
    """Distal and proximal reference frames of a lesion (indices into ``rows``).

    The reference is the frame with the largest lumen within ``reference_search_mm`` of
    the lesion on each side, outside any calcium (ACC IVUS consensus, Mintz et al. 2001,
    CLINICAL_RULES 2.1: the most normal-looking cross-section, the largest lumen,
    within 10 mm of the lesion and in the same segment). ``between`` = (end of the
    lesion before, start of the lesion after) in ``rows``: the search does not cross a
    neighbouring lesion, whose far side is another segment. Motorised pullbacks run from
    distal to proximal, so frames before the lesion are distal.
    """
    a, b = lesion_rows
    lo, hi = between if between is not None else (0, len(rows))
    pos = np.array([r["position_mm"] for r in rows])
    sides = []
    for side, edge in ((np.arange(lo, a), a), (np.arange(b, hi), b - 1)):
        near = side[(np.abs(pos[side] - pos[edge]) <= s.reference_search_mm) & ~calcified[side]]
        areas = [rows[j]["lumen_area_mm2"] for j in near]
        sides.append(int(near[np.argmax(areas)]) if near.size else None)
    return sides[0], sides[1]


def find_lesions(
    per_frame: list[dict],
    frame_spacing_mm: float,
    s: IvusSettings,
    nodule_decisions: dict[int, bool] | None = None,
    reference_edits: dict[int, tuple[int | None, int | None]] | None = None,
) -> list[dict]:
    """Lesions: runs of calcified measured frames, bridging gaps <= ``lesion_gap_mm``.

    ``nodule_decisions`` maps a frame to the reader's call on the calcified-nodule
    candidate of the lesion holding it (True confirmed, False rejected); a candidate
    without a call is shown and not counted in the IVUS calcium score (the CN call is
    the reader's, CLINICAL_RULES 2.2). ``reference_edits`` maps a frame of a lesion to
    the (distal, proximal) reference frame indices the reader chose; otherwise they are
    found by :func:`reference_frames`.

    Each measured frame stands for half the distance to its measured neighbours
    (:func:`frame_weights_mm`), so lengths are pullback distance with all or gated frames.
    """
    rows = [r for r in per_frame if r["valid"]]
    if not rows:
        return []
    pos = np.array([r["position_mm"] for r in rows])
    weight = frame_weights_mm(pos, frame_spacing_mm)
    calcified = np.array([r["calcium_arc_deg"] >= s.min_arc_deg for r in rows])
    spans: list[list[int]] = []
    for a, b in _runs(calcified):
        if spans:
            prev_end = spans[-1][1] - 1
            gap = (pos[a] - pos[prev_end]) - (weight[prev_end] / 2 + weight[a] / 2)
            if gap <= s.lesion_gap_mm + 1e-9:
                spans[-1][1] = b
                continue
        spans.append([a, b])
    lesions = []
    for number, (a, b) in enumerate(spans, start=1):
        idx = np.arange(a, b)
        cal = idx[calcified[idx]]
        arcs = np.array([rows[j]["calcium_arc_deg"] for j in cal])
        max_arc = float(arcs.max())
        at_max = cal[np.round(arcs) == np.round(max_arc)]
        site = int(at_max[len(at_max) // 2])
        sup_flags = [bool(rows[j]["superficial"]) for j in cal]
        sup_fraction = float(np.mean(sup_flags))
        nodule_frames = int(sum(rows[j]["nodule_candidate"] for j in cal))
        # longest continuous run of frames whose superficial arc meets the score threshold
        meets = np.array([_meets_score_arc(rows[j]["superficial_arc_deg"], s) for j in idx])
        sup_len = max(
            (
                pos[a + q - 1] - pos[a + p] + weight[a + p] / 2 + weight[a + q - 1] / 2
                for p, q in _runs(meets)
            ),
            default=0.0,
        )
        max_sup_arc = float(max(rows[j]["superficial_arc_deg"] for j in cal))
        length = float(pos[b - 1] - pos[a] + weight[a] / 2 + weight[b - 1] / 2)
        lesion = {
            "id": number,
            "start_frame": rows[a]["index"],
            "end_frame": rows[b - 1]["index"],
            "start_mm": float(pos[a]),
            "end_mm": float(pos[b - 1]),
            "length_mm": length,
            "calcified_frames": int(cal.size),
            "max_arc_deg": max_arc,
            "max_arc_frame": rows[site]["index"],
            "arc_grade": arc_grade(max_arc, s.arc_grade_bounds_deg, s.arc_grade_upper_inclusive),
            "superficial": sup_fraction >= 0.5,
            "superficial_frame_fraction": sup_fraction,
            "max_superficial_arc_deg": max_sup_arc,
            "superficial_arc_length_mm": float(sup_len),
            "circumferential": max_arc >= s.circumferential_arc_deg,
            "full_circle": max_sup_arc >= s.full_circle_arc_deg
            or max_arc >= s.full_circle_arc_deg,
            "nodule_candidate": nodule_frames >= s.nodule_min_frames,
            "nodule_frames": nodule_frames,
            "vessel_diameter_mm": rows[site]["vessel_diameter_mean_mm"],
            "min_lumen_area_mm2": float(min(rows[j]["lumen_area_mm2"] for j in idx)),
        }
        first, last = lesion["start_frame"], lesion["end_frame"]
        call = _decision(nodule_decisions or {}, first, last)
        lesion["nodule_confirmed"] = None if call is None else bool(call)
        lesion["nodule_counted"] = call is True
        chosen = _decision(reference_edits or {}, first, last)
        by_index = {r["index"]: k for k, r in enumerate(rows)}
        if chosen is not None:
            refs = tuple(by_index.get(f) if f is not None else None for f in chosen)
            lesion["reference_source"] = "reader"
        else:
            between = (
                spans[number - 2][1] if number > 1 else 0,
                spans[number][0] if number < len(spans) else len(rows),
            )
            refs = reference_frames(rows, (a, b), calcified, s, between)
            lesion["reference_source"] = "automatic"
        diameters = [rows[k]["vessel_diameter_mean_mm"] for k in refs if k is not None]
        lesion["distal_reference_frame"] = None if refs[0] is None else rows[refs[0]]["index"]
        lesion["proximal_reference_frame"] = None if refs[1] is None else rows[refs[1]]["index"]
        lesion["reference_vessel_diameter_mm"] = float(np.mean(diameters)) if diameters else None
        lesion["ivus_calcium_score"] = ivus_calcium_score(
            max_sup_arc,
            float(sup_len),
            lesion["nodule_counted"],
            lesion["vessel_diameter_mm"],
            nodule_candidate=lesion["nodule_candidate"],
            **_score_kwargs(s),
        )
        lesion["guidance"] = treatment_guidance(
            lesion, lesion["ivus_calcium_score"], **_guidance_kwargs(s)
        )
        lesions.append(lesion)
    return lesions


def run_ivus(
    volume: Volume,
    settings: IvusSettings | dict | None = None,
    *,
    gated: bool = False,
    all_frames: bool = False,
    progress: Callable[[int, int], None] | None = None,
    messages: list[str] | None = None,
    analysis_out: list | None = None,
) -> dict[str, Any]:
    """The whole IVUS analysis of a pullback as one JSON-able dict.

    Parameters
    ----------
    volume : pullback ``(frame, y, x)`` with pullback speed and frame rate known.
    settings : :class:`IvusSettings` or a dict of its fields.
    gated : measure only the end-diastolic frames found by image-based gating.
    all_frames : measure the frames outside the motorised pullback too, when the file
        states where it starts and stops (:func:`pullback_span`).
    progress : ``progress(frames_done, n_frames)``.
    messages : notes collected while reading (e.g. an RGB conversion) to report.
    analysis_out : when a list is given, the :class:`IvusAnalysis` is appended to it.

    Returns
    -------
    dict with ``frame_spacing_mm``, ``frames``, ``per_frame``, ``lesions``,
    ``ivus_calcium_score``, ``guidance``, ``settings``, ``angle_convention`` and more.
    """
    require_volumes(volume=volume)
    if not isinstance(settings, IvusSettings):
        settings = IvusSettings.from_dict(settings)
    analysis = analyse_pullback(volume, settings, progress, messages=list(messages or []))
    frames = None
    if gated:
        if not analysis.end_diastolic:
            raise InputError(
                f"the pullback cannot be gated: {analysis.gating_note or 'no cardiac cycle found'}",
                "run without --gated (all frames)",
            )
        frames = analysis.end_diastolic
    span, note = pullback_span(volume, all_frames)
    if note is not None:
        analysis.messages.append(note)
    result = measure(analysis, frames, span)
    result["gated"] = bool(gated)
    result["acquisition"] = volume.acquisition.to_dict()
    if analysis_out is not None:
        analysis_out.append(analysis)
    return result


def calcium_mask(analysis: IvusAnalysis, frame_shape: tuple[int, int], frames=None) -> np.ndarray:
    """Calcium mask ``(frame, y, x)`` uint8 (1 = calcium) of the chosen frames (all by default).

    Along each calcium ray the mask covers the bright echo, from the leading edge to the
    last sample above half its peak; the shadow and the reverberation replicas behind
    it are not calcium.
    """
    chosen = np.arange(analysis.n_frames) if frames is None else np.asarray(frames, int)
    h, w = frame_shape
    out = np.zeros((len(chosen), h, w), np.uint8)
    directions = ray_directions(analysis.grid.angles_deg)
    centre = np.asarray(analysis.grid.centre_yx_px)
    for k, i in enumerate(chosen):
        rays = np.flatnonzero(analysis.calcium_rays[i] & np.isfinite(analysis.calcium_edge[i]))
        if rays.size == 0:
            continue
        step = analysis.grid.radial_step_px
        start = analysis.calcium_edge[i, rays]
        last = np.maximum(analysis.calcium_end[i, rays] - step, start)
        steps = np.arange(0.0, np.max(last - start) + 0.5, 0.5)
        radius = start[:, None] + steps[None, :]
        keep = radius <= last[:, None]
        points = centre + radius[..., None] * directions[rays][:, None, :]
        yx = np.rint(points[keep]).astype(int)
        inside = (yx[:, 0] >= 0) & (yx[:, 0] < h) & (yx[:, 1] >= 0) & (yx[:, 1] < w)
        out[k, yx[inside, 0], yx[inside, 1]] = 1
    return out


def longitudinal_view(
    volume: Volume, centre_yx_px, angle_deg: float, chunk_frames: int = 256
) -> np.ndarray:
    """L-mode image ``(frame, position along the cut)`` through the catheter at an angle.

    The cut runs from ``angle_deg + 180`` through the catheter centre to ``angle_deg``
    (clockwise from 12 o'clock), one sample per pixel, so column ``j`` is at
    ``(j - half) * pixel spacing`` mm from the catheter towards ``angle_deg``.
    """
    n, h, w = volume.shape
    cy, cx = centre_yx_px
    half = int(np.floor(min(cy, cx, h - 1 - cy, w - 1 - cx)))
    t = np.arange(-half, half + 1, dtype=float)
    d = ray_directions(angle_deg)
    rows, cols = cy + t * d[0], cx + t * d[1]
    out = np.empty((n, t.size), np.float32)
    for i0 in range(0, n, chunk_frames):
        frames = np.asarray(volume.array[i0 : i0 + chunk_frames], dtype=np.float32)
        m = frames.shape[0]
        stacked = (rows[None] + h * np.arange(m)[:, None]).ravel()
        out[i0 : i0 + m] = ndimage.map_coordinates(
            frames.reshape(m * h, w), [stacked, np.tile(cols, m)], order=1
        ).reshape(m, t.size)
    return out


def contours_dict(analysis: IvusAnalysis) -> dict[str, Any]:
    """Lumen and EEM borders as radii (mm) along the rays from the catheter centre."""
    px = analysis.pixel_spacing_mm
    return {
        "angle_convention": ANGLE_CONVENTION,
        "catheter_centre_yx_px": list(analysis.grid.centre_yx_px),
        "pixel_spacing_mm": px,
        "frame_spacing_mm": analysis.frame_spacing_mm,
        "angles_deg": analysis.grid.angles_deg.tolist(),
        "point": "(y, x) px = centre + radius_mm / pixel_spacing_mm * (-cos(angle), sin(angle))",
        "lumen_radius_mm": np.round(analysis.lumen_px() * px, 4).tolist(),
        "eem_radius_mm": np.round(analysis.eem_px() * px, 4).tolist(),
        "edited_lumen_frames": sorted(analysis.lumen_edits),
        "edited_eem_frames": sorted(analysis.eem_edits),
    }


def per_frame_csv(result: dict[str, Any]) -> str:
    """The per-frame table of a :func:`run_ivus` result as CSV text (units in column names)."""
    from napari_calcium.io.atomic import csv_text

    return csv_text(result["per_frame"])
