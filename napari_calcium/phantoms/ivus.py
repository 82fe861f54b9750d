"""IVUS pullback phantoms: speckled frames with lumen, wall, calcium of known geometry.

A pullback is ``(frame, y, x)`` uint8 with the catheter at the frame centre. Tissue is
drawn as mean echo levels times Rayleigh speckle (correlated from frame to frame):
catheter sheath and ring-down at the centre, dark blood in the lumen, plaque (intima),
a thin dark media, bright adventitia (its inner border is the EEM), then
peri-adventitial tissue. Lumen and EEM are circles about one vessel centre, offset from
the catheter, with radii tapering linearly along the pullback (and pulsing with the
heart when ``heart_rate_bpm`` is given).

Lesions (``kind``):

* ``"calcium"``: an annular sector about the vessel centre, from ``start_angle_deg``
  (clockwise from 12 o'clock) over ``arc_deg``, whose leading edge lies at
  ``depth_fraction`` of the plaque+media thickness; a bright echo with an acoustic
  shadow cast along the catheter's rays, optionally with reverberation replicas;
* ``"nodule"``: a calcified disc protruding into the lumen (a calcified nodule);
* ``"fibrous"``: a bright echo that casts no shadow (dense fibrous tissue, not calcium).

The truth (areas, arcs, depths, lesions, expected IVUS calcium score items) is computed
from this construction, never from an analysis of the pixels.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from napari_calcium.volume import Acquisition, Volume

#: Mean echo levels (uint8 grey) of the drawn structures.
LEVELS = {
    "blood": 22.0,
    "plaque": 95.0,
    "media": 35.0,
    "adventitia": 160.0,
    "periadventitia": 75.0,
    "sheath": 220.0,
    "ringdown": 180.0,
    "calcium": 245.0,
    "shadow": 6.0,
    "fibrous": 200.0,
}
CATHETER_RADIUS_MM = 0.45
RINGDOWN_MM = 0.2
MEDIA_MM = 0.15
ADVENTITIA_MM = 0.4
ECHO_MM = 0.1
REVERB_SPACING_MM = 0.25
FIBROUS_MM = 0.25


def arc_grade(arc_deg: float) -> str:
    """Truth arc grade of the seed review (CLINICAL_RULES 0b): I < 90, II 90-180,
    III 180-270, IV >= 270 degrees; a boundary belongs to the grade above ("I < 90")."""
    if arc_deg <= 0:
        return "0"
    for grade, upper in (("I", 90.0), ("II", 180.0), ("III", 270.0)):
        if arc_deg < upper:
            return grade
    return "IV"


def _lens_area(r1: float, r2: float, d: float) -> float:
    """Area of the intersection of two discs of radii r1, r2 with centres d apart."""
    if d >= r1 + r2:
        return 0.0
    if d <= abs(r1 - r2):
        return np.pi * min(r1, r2) ** 2
    a1 = r1**2 * np.arccos((d**2 + r1**2 - r2**2) / (2 * d * r1))
    a2 = r2**2 * np.arccos((d**2 + r2**2 - r1**2) / (2 * d * r2))
    a3 = 0.5 * np.sqrt((-d + r1 + r2) * (d + r1 - r2) * (d - r1 + r2) * (d + r1 + r2))
    return float(a1 + a2 - a3)


def _direction(angle_deg: float) -> np.ndarray:
    t = np.deg2rad(angle_deg)
    return np.array([-np.cos(t), np.sin(t)])


def _cw_angle(vy, vx):
    return np.rad2deg(np.arctan2(vx, -vy)) % 360.0


def _ray_circle_exit(uy, ux, oy, ox, radius):
    """Distance along unit rays (uy, ux) from the catheter to a circle of ``radius``
    whose centre is at (-oy, -ox) from the catheter; the catheter lies inside it."""
    b = uy * oy + ux * ox
    c = oy**2 + ox**2 - radius**2
    return -b + np.sqrt(np.maximum(b * b - c, 0.0))


def default_lesions() -> list[dict]:
    """The lesions of :func:`ivus_pullback` when none are given (a 10 mm pullback)."""
    return [
        {"kind": "calcium", "start_mm": 1.0, "length_mm": 1.5, "start_angle_deg": 0.0,
         "arc_deg": 360.0, "depth_fraction": 0.2, "reverberation": True},
        {"kind": "calcium", "start_mm": 3.5, "length_mm": 5.5, "start_angle_deg": 40.0,
         "arc_deg": 300.0, "depth_fraction": 0.2, "reverberation": False},
    ]  # fmt: skip


def ivus_pullback(
    n_frames: int = 300,
    size: int = 160,
    pixel_spacing_mm: float = 0.05,
    pullback_speed_mm_s: float = 0.5,
    frame_rate_hz: float = 30.0,
    lesions: list[dict] | None = None,
    lumen_radius_mm: tuple[float, float] = (1.35, 1.25),
    eem_radius_mm: tuple[float, float] = (1.7, 1.6),
    vessel_offset_mm: tuple[float, float] = (0.12, -0.09),
    heart_rate_bpm: float | None = None,
    cardiac_amplitude: float = 0.08,
    speckle: bool = True,
    seed: int = 0,
) -> tuple[Volume, dict]:
    """A synthetic IVUS pullback and its truth.

    Parameters
    ----------
    n_frames, size : frames and frame size (pixels); frames are ``(size, size)``.
    pixel_spacing_mm : in-plane pixel size (mm).
    pullback_speed_mm_s, frame_rate_hz : motorised pullback; frame spacing = speed / rate.
    lesions : list of lesion dicts (see module docstring); positions in mm from frame 0.
        Calcium: ``start_mm, length_mm, start_angle_deg, arc_deg, depth_fraction,
        reverberation``; nodule: ``start_mm, length_mm, angle_deg, radius_mm,
        protrusion_mm``; fibrous: as calcium without reverberation.
    lumen_radius_mm, eem_radius_mm : radii at the first and last frame (linear taper).
    vessel_offset_mm : (y, x) offset of the vessel centre from the catheter (mm).
    heart_rate_bpm : when given, radii pulse with the heart: a contraction and
        relaxation over the first half of each cycle, still in the second half; the
        cycle starts (end-diastole) at frame 0.
    cardiac_amplitude : fractional radius change at peak contraction.
    speckle : multiply by Rayleigh speckle (off: noiseless mean levels).
    seed : random seed.

    Returns
    -------
    volume : Volume ``(frame, y, x)`` uint8, modality ``IVUS``, pullback facts set.
    truth : dict with ``frames`` (per frame: ``lumen_area_mm2``, ``vessel_area_mm2``,
        ``calcium_arc_deg`` about the vessel centre, ``depth_fraction``,
        ``superficial``, ``nodule``), ``lesions`` (``start_mm``, ``end_mm``,
        ``length_mm``, ``max_arc_deg``, ``arc_grade``, ``superficial``, ``has_360``,
        ``nodule``, ``vessel_diameter_mm``, ``score_items``, ``score``),
        ``end_diastolic_frames`` and the geometry.
    """
    lesions = default_lesions() if lesions is None else lesions
    rng = np.random.default_rng(seed)
    px = float(pixel_spacing_mm)
    dz = pullback_speed_mm_s / frame_rate_hz
    z = np.arange(n_frames) * dz
    t = np.linspace(0.0, 1.0, n_frames) if n_frames > 1 else np.zeros(1)
    r_lumen0 = lumen_radius_mm[0] + (lumen_radius_mm[1] - lumen_radius_mm[0]) * t
    r_eem0 = eem_radius_mm[0] + (eem_radius_mm[1] - eem_radius_mm[0]) * t
    scale = np.ones(n_frames)
    ed_frames: list[int] = []
    if heart_rate_bpm:
        period = frame_rate_hz * 60.0 / heart_rate_bpm  # frames per cycle
        phase = (np.arange(n_frames) / period) % 1.0
        squeeze = np.where(phase < 0.5, 0.5 * (1 - np.cos(2 * np.pi * phase / 0.5)), 0.0)
        scale = 1.0 - cardiac_amplitude * squeeze
        ed_frames = [int(round(k * period)) for k in range(int(n_frames / period) + 1)]
        ed_frames = [f for f in ed_frames if f < n_frames]

    centre = (size - 1) / 2.0
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    ky, kx = (yy - centre) * px, (xx - centre) * px  # from the catheter (mm)
    rho_k = np.hypot(ky, kx)
    with np.errstate(invalid="ignore", divide="ignore"):
        uy = np.where(rho_k > 0, ky / np.maximum(rho_k, 1e-12), -1.0)
        ux = np.where(rho_k > 0, kx / np.maximum(rho_k, 1e-12), 0.0)
    oy, ox = -vessel_offset_mm[0], -vessel_offset_mm[1]  # catheter relative to vessel centre
    ly, lx = ky + oy, kx + ox  # from the vessel centre (mm)
    rho_l = np.hypot(ly, lx)

    frames = np.empty((n_frames, size, size), np.uint8)
    noise_state = None
    truth_frames = []
    for i in range(n_frames):
        s = scale[i]
        r_l, r_e = s * r_lumen0[i], s * r_eem0[i]
        img = np.full((size, size), LEVELS["periadventitia"])
        img *= np.exp(-np.clip(rho_l - r_e - ADVENTITIA_MM, 0, None) / 3.0)
        img[rho_l < r_e + ADVENTITIA_MM] = LEVELS["adventitia"]
        img[rho_l < r_e] = LEVELS["media"]
        img[rho_l < r_e - MEDIA_MM] = LEVELS["plaque"]
        img[rho_l < r_l] = LEVELS["blood"]
        arc_total, sup_total, depths, nodule = 0.0, 0.0, [], False
        lumen_area = np.pi * r_l**2
        for lesion in lesions:
            if not (lesion["start_mm"] <= z[i] < lesion["start_mm"] + lesion["length_mm"]):
                continue
            kind = lesion["kind"]
            if kind == "nodule":
                rn = lesion["radius_mm"] * s
                dist = r_l + rn - lesion["protrusion_mm"] * s
                ncy, ncx = dist * _direction(lesion["angle_deg"])
                b = uy * (oy - ncy) + ux * (ox - ncx)
                c = (oy - ncy) ** 2 + (ox - ncx) ** 2 - rn**2
                disc = b * b - c
                hit = -b - np.sqrt(np.maximum(disc, 0.0))
                on_ray = (disc >= 0) & (hit > 0)
                _draw_calcium(img, rho_k, hit, on_ray, reverberation=False)
                lumen_area -= _lens_area(r_l, rn, dist)
                # arc about the vessel centre between the catheter's tangent points
                vy, vx = ncy - oy, ncx - ox
                big_d = np.hypot(vy, vx)
                alpha = np.arcsin(rn / big_d)
                tangent = np.sqrt(big_d**2 - rn**2)
                base = np.arctan2(vx, vy)
                pts = [
                    (
                        oy + tangent * np.cos(base + sg * alpha),
                        ox + tangent * np.sin(base + sg * alpha),
                    )
                    for sg in (-1, 1)
                ]
                a0, a1 = (_cw_angle(py, px_) for py, px_ in pts)
                arc = min((a1 - a0) % 360.0, (a0 - a1) % 360.0)
                arc_total += arc
                sup_total += arc
                depths.append(0.0)
                nodule = True
                continue
            r_c = r_l + lesion["depth_fraction"] * (r_e - r_l)
            hit = _ray_circle_exit(uy, ux, oy, ox, r_c)
            hy, hx = oy + hit * uy, ox + hit * ux
            rel = (_cw_angle(hy, hx) - lesion["start_angle_deg"]) % 360.0
            on_ray = (
                rel < lesion["arc_deg"] if lesion["arc_deg"] < 360 else np.ones_like(rel, bool)
            )
            if kind == "fibrous":
                band = on_ray & (rho_k >= hit) & (rho_k < hit + FIBROUS_MM)
                img[band] = LEVELS["fibrous"]
                continue
            _draw_calcium(
                img, rho_k, hit, on_ray, reverberation=lesion.get("reverberation", False)
            )
            arc_total += lesion["arc_deg"]
            if lesion["depth_fraction"] < 0.5:
                sup_total += lesion["arc_deg"]
            depths.append(lesion["depth_fraction"])
        # catheter, sheath and ring-down (drawn last: nothing is seen inside)
        ring = (rho_k >= CATHETER_RADIUS_MM) & (rho_k < CATHETER_RADIUS_MM + RINGDOWN_MM)
        img[ring] = np.maximum(
            img[ring],
            LEVELS["ringdown"] * np.exp(-(rho_k[ring] - CATHETER_RADIUS_MM) / (RINGDOWN_MM / 3)),
        )
        img[np.abs(rho_k - CATHETER_RADIUS_MM) < 0.04] = LEVELS["sheath"]
        img[rho_k < CATHETER_RADIUS_MM - 0.04] = 2.0
        if speckle:
            fresh = rng.standard_normal((2, size, size))
            noise_state = fresh if noise_state is None else 0.8 * noise_state + 0.6 * fresh
            amplitude = np.hypot(noise_state[0], noise_state[1]) / np.sqrt(np.pi / 2)
            amplitude = ndimage.gaussian_filter(amplitude, 0.6)
            amplitude /= amplitude.mean()
            bright = img >= LEVELS["calcium"] - 1  # specular echoes speckle less
            img = np.where(bright, img * (0.85 + 0.15 * amplitude), img * amplitude)
        frames[i] = np.clip(np.rint(img), 0, 255).astype(np.uint8)
        arc_total = min(arc_total, 360.0)
        depth = float(np.min(depths)) if depths else None
        truth_frames.append(
            frame_truth(i, z[i], lumen_area, r_e, arc_total, min(sup_total, 360.0), depth, nodule)
        )

    truth_lesions = [
        lesion_truth(lesion, truth_frames, dz) for lesion in lesions if lesion["kind"] != "fibrous"
    ]
    truth = {
        "frames": truth_frames,
        "lesions": sorted(truth_lesions, key=lambda d: d["start_mm"]),
        "frame_spacing_mm": dz,
        "pullback_speed_mm_s": pullback_speed_mm_s,
        "frame_rate_hz": frame_rate_hz,
        "pixel_spacing_mm": px,
        "catheter_centre_yx_px": [centre, centre],
        "vessel_offset_mm": list(vessel_offset_mm),
        "end_diastolic_frames": ed_frames,
        "angle_convention": "degrees clockwise from 12 o'clock about the vessel centre",
    }
    volume = Volume(
        array=frames,
        spacing_mm=(px, px, dz),
        modality="IVUS",
        acquisition=Acquisition(
            pullback_speed_mm_s=pullback_speed_mm_s, frame_rate_hz=frame_rate_hz
        ),
    )
    return volume, truth


def _draw_calcium(img, rho_k, hit, on_ray, reverberation: bool) -> None:
    """Bright leading edge at ``hit`` along the rays in ``on_ray``, shadow behind it."""
    behind = on_ray & (rho_k >= hit)
    img[behind] = LEVELS["shadow"]
    img[behind & (rho_k < hit + ECHO_MM)] = LEVELS["calcium"]
    if reverberation:
        for k, level in ((1, 140.0), (2, 80.0)):
            start = hit + k * REVERB_SPACING_MM
            img[behind & (rho_k >= start) & (rho_k < start + 0.05)] = level


def frame_truth(
    index: int,
    position_mm: float,
    lumen_area_mm2: float,
    eem_radius_mm: float,
    arc_deg: float,
    superficial_arc_deg: float,
    depth_fraction: float | None,
    nodule: bool,
) -> dict:
    """One frame's truth: areas, EEM diameter, arcs, the shallowest leading edge's depth
    fraction and superficial/deep (< 0.5 of plaque + media: 2001 ACC consensus)."""
    return {
        "index": int(index),
        "position_mm": float(position_mm),
        "lumen_area_mm2": float(lumen_area_mm2),
        "vessel_area_mm2": float(np.pi * eem_radius_mm**2),
        "vessel_diameter_mm": float(2 * eem_radius_mm),
        "calcium_arc_deg": float(arc_deg),
        "superficial_arc_deg": float(superficial_arc_deg),
        "depth_fraction": None if depth_fraction is None else float(depth_fraction),
        "superficial": None if depth_fraction is None else bool(depth_fraction < 0.5),
        "nodule": bool(nodule),
    }


def lesion_truth(lesion: dict, frames: list[dict], dz: float) -> dict:
    """Truth of one lesion from the frames it spans (CLINICAL_RULES 0b and 2.1-2.2).

    Length is the pullback distance of its frames (each frame stands for ``dz``). The IVUS
    calcium score items (Zhang): 360-degree superficial calcium; superficial arc > 270
    degrees continuously over > 5 mm; a calcified nodule; EEM diameter < 3.5 mm at the
    frame of maximum arc (the middle one when several). Superficial: the leading edge in
    the inner half of plaque + media (2001 ACC consensus); a nodule is superficial.
    """
    inside = [
        f
        for f in frames
        if lesion["start_mm"] <= f["position_mm"] < lesion["start_mm"] + lesion["length_mm"]
    ]
    if not inside:
        raise ValueError(f"lesion {lesion} lies outside the pullback")
    nodule = lesion["kind"] == "nodule"
    arcs = np.array([f["calcium_arc_deg"] for f in inside])
    max_arc = float(arcs.max())
    at_max = [f for f in inside if f["calcium_arc_deg"] == max_arc]
    site = at_max[len(at_max) // 2]
    superficial = nodule or lesion["depth_fraction"] < 0.5
    sup_arcs = np.array([f["superficial_arc_deg"] for f in inside])
    run = best = 0
    for meets in sup_arcs > 270.0:
        run = run + 1 if meets else 0
        best = max(best, run)
    items = {
        "superficial_360": bool(superficial and sup_arcs.max() >= 360.0),
        "superficial_arc_length": bool(best * dz > 5.0),
        "calcified_nodule": nodule,
        "small_vessel": bool(site["vessel_diameter_mm"] < 3.5),
    }
    return {
        "kind": lesion["kind"],
        "start_mm": float(inside[0]["position_mm"]),
        "end_mm": float(inside[-1]["position_mm"]),
        "length_mm": float(len(inside) * dz),
        "max_arc_deg": max_arc,
        "arc_grade": arc_grade(max_arc),
        "superficial": bool(superficial),
        "has_360": bool(max_arc >= 360.0),
        "nodule": nodule,
        "superficial_arc_length_mm": float(best * dz),
        "vessel_diameter_mm": float(site["vessel_diameter_mm"]),
        "score_items": items,
        "score": int(sum(items.values())),
    }


def ivus_sample(seed: int = 0) -> tuple[Volume, dict]:
    """The sample-data pullback: 150 frames of 256 x 256 px (0.04 mm), 1 mm/s at 30 fps.

    A superficial 300-degree calcium with reverberations, a calcified nodule and a deep
    120-degree calcium over a 5 mm pullback.
    """
    lesions = [
        {"kind": "calcium", "start_mm": 0.4, "length_mm": 1.2, "start_angle_deg": 30.0,
         "arc_deg": 300.0, "depth_fraction": 0.2, "reverberation": True},
        {"kind": "nodule", "start_mm": 2.3, "length_mm": 0.6, "angle_deg": 200.0,
         "radius_mm": 0.45, "protrusion_mm": 0.35},
        {"kind": "calcium", "start_mm": 3.7, "length_mm": 0.9, "start_angle_deg": 250.0,
         "arc_deg": 120.0, "depth_fraction": 0.75, "reverberation": False},
    ]  # fmt: skip
    return ivus_pullback(
        n_frames=150,
        size=256,
        pixel_spacing_mm=0.04,
        pullback_speed_mm_s=1.0,
        frame_rate_hz=30.0,
        lesions=lesions,
        lumen_radius_mm=(1.5, 1.35),
        eem_radius_mm=(2.25, 2.1),
        seed=seed,
    )
