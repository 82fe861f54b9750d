"""Physically based IVUS pullbacks: scatterers, a beam point-spread function, attenuation.

A second IVUS phantom family, built from how an IVUS image forms rather than from drawn
grey levels (:mod:`napari_calcium.phantoms.ivus`), so that an analysis chosen on one
family is tested on another. Each frame is made in five steps.

1. **Anatomy** about the vessel (EEM) centre: blood in the lumen (a wavy circle that may
   sit off the EEM centre: an eccentric plaque), plaque up to the echolucent media band
   (its outer edge is the EEM), bright adventitia, peri-adventitial tissue. Calcium is an
   annular sector whose leading edge lies at a fraction of the plaque + media thickness;
   a calcified nodule is a calcium disc protruding into the lumen; a side branch replaces
   the wall by blood over a sector; the guide wire is a 0.36 mm metal rod in the lumen.
   The radii pulse with the heart (an ungated pullback: a contraction and relaxation
   over the first half of each cycle).
2. **Scattering** on the transducer's polar grid (rays from the catheter, which may sit
   off the vessel centre): each sample is a complex Gaussian scatterer with the tissue's
   backscatter. Blood backscatter relative to tissue rises with frequency (about
   f^2.5 above 20 MHz, so blood speckle is dark at 20 MHz and grey at 40-60 MHz); blood
   speckle is new in each frame, tissue speckle decorrelates over the frame spacing.
   Specular reflectors (the calcium surface, the wire) are coherent layers; a calcium
   surface is rough, so its echo comes from a layer at least 0.05 mm deep.
3. **Propagation**: two-way attenuation accumulated along each ray (dB/mm/MHz per
   tissue, about 0.5-1 dB/cm/MHz for soft tissue and 2 dB/mm/MHz in calcium, as in
   tissue property tables such as Duck 1990); each soft tissue / calcium interface passes
   60 % of the energy both ways (impedances about 1.6 and 7 MRayl). The shadow behind
   calcium is therefore the loss through its interfaces and its thickness: it deepens
   with frequency and thickness. Smooth calcium sends equally spaced, decaying
   reverberation echoes; the wire reflects almost everything and rings.
4. **Beam and receiver**: the field is convolved with the point-spread function, a
   Gaussian pulse along the ray (axial FWHM one wavelength: 77, 38 and 26 um at 20, 40
   and 60 MHz) and a Gaussian beam across it whose width in mm is fixed at the focus
   and grows beyond it (lateral FWHM about 3.2 wavelengths), so its width in angle
   shrinks with depth, over a side-lobe pedestal five times wider (-40 to -30 dB) that
   lets echoes beside a shadow leak into it. Receiver noise is added before the time-gain compensation.
5. **Console**: a time-gain compensation ramp (dB/mm from a start depth, capped) that
   compensates only part of the tissue attenuation and none of the blood's lack of it,
   envelope detection, log compression over the dynamic range, the operator's gain, scan
   conversion to a circular field of view centred on the catheter, the catheter's
   sheath and ring-down.

**Display reference.** A console operator sets gain and dynamic range so that the
speckle of normal tissue reads mid-grey; specular echoes (calcium, wire), 20-30 dB
above tissue, then read near white, and blood reads dark (black at 20 MHz, dark grey
speckle at 40-60 MHz). Here the mean log-compressed speckle of fibrous plaque at the
start of the TGC ramp sits at ``tissue_grey`` (0.45-0.55) of the grey range at
``gain_db = 0``, before the console's grey map (``grey_gamma`` 1-1.4, which darkens the
mid-tones: tissue then reads 0.33-0.55 of the range, calcium stays near white);
``gain_db`` moves every level by the same dB, and depth-dependent brightness comes only
from attenuation against the TGC.

The truth (per-frame lumen and EEM areas, calcium arc about the lumen centroid, the
leading edge's depth fraction and superficial/deep per the 2001 ACC consensus, lesions,
length, arc grade and IVUS calcium score items) is computed from the construction,
never from the pixels. Positions along the pullback are in mm from frame 0; angles are
clockwise from 12 o'clock.

:func:`physical_case` draws a whole configuration (frequency, gain, dynamic range,
noise, TGC, pixel size, vessel size, eccentric plaque and catheter, lesions) from a
seed; :data:`TUNING_SEEDS` and :data:`HELD_OUT_SEEDS` keep the seeds apart.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import ndimage

from napari_calcium.phantoms.ivus import frame_truth, lesion_truth
from napari_calcium.volume import Acquisition, Volume

SPEED_OF_SOUND_MM_US = 1.54

#: Backscatter (dB relative to fibrous plaque) and attenuation (dB/mm/MHz, one way).
TISSUES = {
    "plaque": (0.0, 0.07),
    "media": (-15.0, 0.05),
    "adventitia": (6.0, 0.09),
    "periadventitia": (-3.0, 0.06),
    "calcium": (8.0, 2.0),  # inside calcium: strong scattering, cortical-bone attenuation
}
#: Dense fibrous plaque: bright (10-16 dB above plaque) but no shadow; attenuation (dB/mm/MHz).
FIBROUS_ATTENUATION = 0.1
#: Spread (dB) of the peri-adventitial echogenicity: a mix of fat and connective tissue.
PERIADVENTITIA_TEXTURE_DB = 4.0
#: Blood backscatter (dB relative to plaque) at 20 MHz and the power of frequency by which
#: it rises relative to tissue (Rayleigh scattering by red cells, f^4, against tissue's f^1.5).
BLOOD_DB_20MHZ, BLOOD_FREQUENCY_POWER = -30.0, 2.5
BLOOD_ATTENUATION = 0.02
#: Energy passed, both ways, by one soft tissue / calcium interface (amplitude reflection
#: (7 - 1.6) / (7 + 1.6) = 0.63, so 1 - 0.63**2 = 0.6): 2.2 dB per crossing.
CALCIUM_INTERFACE_LOSS_DB = 2.2
#: Metal guide wire: surface echo (dB above plaque) and the energy it lets through (dB).
WIRE_DB, WIRE_LOSS_DB = 32.0, 45.0
WIRE_RADIUS_MM = 0.18  # a 0.014-inch wire
WIRE_REVERB_SPACING_MM, WIRE_REVERB_DECAY_DB = 0.09, 5.0
#: Each reverberation echo of smooth calcium is this much weaker than the one before.
CALCIUM_REVERB_DECAY_DB = 6.0
CATHETER_RADIUS_MM = 0.45
#: Mean of 20 log10 of Rayleigh speckle of unit mean power: -10 log10(e) * Euler's gamma.
RAYLEIGH_LOG_MEAN_DB = -2.507

#: Seeds whose pullbacks an analysis may be tuned on, and seeds kept aside.
TUNING_SEEDS = (0, 1, 2, 3)
HELD_OUT_SEEDS = (4, 5, 6, 7, 8, 9)


@dataclass
class PhysicalConfig:
    """Everything a physical pullback is made from (see the module docstring).

    Lengths in mm, angles in degrees clockwise from 12 o'clock, levels in dB. Lesions
    (positions along the pullback in mm from frame 0):

    * ``{"kind": "calcium", "start_mm", "length_mm", "start_angle_deg", "arc_deg",
      "depth_fraction", "thickness_mm", "surface_db", "attenuation_db_mm_mhz",
      "reverberation_mm"}`` (``reverberation_mm`` 0: none);
    * ``{"kind": "nodule", "start_mm", "length_mm", "angle_deg", "radius_mm",
      "protrusion_mm", "surface_db"}``;
    * ``{"kind": "fibrous", ...}`` with the calcium sector's geometry and ``echo_db``:
      dense fibrous plaque, bright but casting no shadow (not calcium: no truth arc).

    Side branches: ``{"start_mm", "length_mm", "angle_deg", "width_deg"}``.
    The guide wire: ``{"angle_deg", "drift_deg", "distance_mm"}`` about the catheter.
    """

    n_frames: int = 150
    field_of_view_mm: float = 9.0
    pixel_spacing_mm: float = 0.03
    pullback_speed_mm_s: float = 3.0
    frame_rate_hz: float = 30.0
    frequency_mhz: float = 40.0
    gain_db: float = 0.0
    dynamic_range_db: float = 50.0
    tissue_grey: float = 0.5
    grey_gamma: float = 1.0  # the console's grey map: grey = level ** gamma
    snr_db: float = 40.0  # fibrous plaque over receiver noise before the TGC
    tgc_fraction: float = 0.6  # share of the plaque's two-way attenuation compensated
    tgc_start_mm: float = 1.2
    tgc_max_db: float = 20.0
    blood_db_offset: float = 0.0  # flow and red-cell aggregation change blood echogenicity
    eem_radius_mm: tuple[float, float] = (2.0, 1.9)  # first and last frame (taper)
    lumen_radius_mm: tuple[float, float] = (1.4, 1.35)
    lumen_offset_mm: tuple[float, float] = (0.0, 0.0)  # (y, x) from the EEM centre
    lumen_waviness: float = 0.04
    media_mm: float = 0.2
    adventitia_mm: float = 0.35
    plaque_db: float = 0.0
    plaque_texture_db: float = 3.0
    ringdown_mm: float = 0.25
    catheter_offset_mm: tuple[float, float] = (0.2, -0.15)  # (y, x) from the EEM centre
    wire: dict | None = field(
        default_factory=lambda: {"angle_deg": 140.0, "drift_deg": 0.0, "distance_mm": 0.8}
    )
    lesions: list[dict] = field(default_factory=list)
    side_branches: list[dict] = field(default_factory=list)
    heart_rate_bpm: float | None = None  # radii pulse with the heart (ungated pullback)
    cardiac_amplitude: float = 0.03  # fractional radius change at peak contraction
    side_lobe_db: float = -35.0  # the beam's side-lobe pedestal (two-way, re its peak)
    seed: int = 0


def physical_case(seed: int) -> PhysicalConfig:
    """The pullback configuration of ``seed``: acquisition, anatomy and lesions.

    The frequency cycles 20/40/60 MHz with the seed; gain (-6..+6 dB), dynamic range
    (40-60 dB), tissue grey (0.45-0.55) and grey map (gamma 1-1.4), receiver SNR (30-45 dB), TGC (30-80 % of the
    attenuation, from 0.9-1.5 mm), blood echogenicity (+-3 dB), pixel size (0.025, 0.03,
    0.04 mm) and frame spacing (0.08-0.1 mm, e.g. 3 mm/s at 30 frames/s) are drawn.
    Vessels are small (EEM diameter 2.7-3.2 mm) or large (4.0-4.6 mm, at most 3 % smaller
    at peak contraction, heart rate 55-95 /min) so the score's 3.5 mm item is never on a
    knife edge; the lumen may sit off the EEM centre
    (eccentric plaque) and the catheter off the lumen centre.

    Lesions along a 15 mm pullback: (A) a superficial calcium from 1 mm whose arc cycles
    with the seed over 360, 290-330, 190-250 and 100-170 degrees, 2-4 or 6-7.5 mm long
    (never within 1 mm of the score's 5 mm); (B) a deep calcium of 30-80 or 100-170 or
    190-250 degrees from 10.6 mm; (C) from 13.6 mm a calcified nodule (even seeds) or a
    small superficial calcium of 30-80 degrees (odd seeds). Between A and B, odd seeds add
    a side branch at 8.8 mm, even seeds a dense fibrous plaque at 9 mm (bright, no
    shadow: not calcium); every pullback has a guide wire. Arcs keep 8 degrees
    from the grade boundaries 90/180/270.
    """
    rng = np.random.default_rng(1000 + seed)
    frequency = (20.0, 40.0, 60.0)[seed % 3]
    small = seed % 4 in (0, 3)
    eem_r = float(rng.uniform(2.8, 3.2) if small else rng.uniform(4.0, 4.6)) / 2
    taper = float(rng.uniform(0.0, 0.08))  # radius change over the pullback
    # plaque + media thickness (mean): a plaque burden of about 40-75 %, leaving a lumen
    # radius of at least 0.95 mm
    most = min(1.0, eem_r - taper - 0.95)
    wall = float(rng.uniform(min(0.4, most - 0.05), most))
    lumen_r = eem_r - wall
    ecc = float(rng.uniform(0.0, 0.6)) * max(wall - 0.35, 0.0)  # eccentric plaque
    ecc_dir = rng.uniform(0, 2 * np.pi)
    lumen_offset = (float(-ecc * np.cos(ecc_dir)), float(ecc * np.sin(ecc_dir)))
    # a wavy lumen border, never reaching the media of a thin wall
    waviness = float(rng.uniform(0.0, min(0.06, max(wall - 0.25, 0.0) / (1.5 * lumen_r))))
    ringdown = float(rng.uniform(0.1, 0.3))
    # the catheter stays off the wall: its ring-down ends 0.15 mm short of the lumen border
    room = max(
        (lumen_r - taper) * (1 - 1.5 * waviness) - CATHETER_RADIUS_MM - ringdown - 0.15, 0.0
    )
    cat = float(rng.uniform(0.0, 1.0)) * room
    cat_dir = rng.uniform(0, 2 * np.pi)
    catheter_offset = (
        lumen_offset[0] - cat * np.cos(cat_dir),
        lumen_offset[1] + cat * np.sin(cat_dir),
    )
    # the wire lies beside the catheter, inside the lumen: in the direction with the most room
    wire_angle = float(
        _cw(lumen_offset[0] - catheter_offset[0], lumen_offset[1] - catheter_offset[1])
    )
    wire_angle = (wire_angle + float(rng.uniform(-60, 60))) % 360.0
    wire_room = (lumen_r - taper) * (1 - 1.5 * waviness) + 0.5 * cat - WIRE_RADIUS_MM - 0.03
    wire_distance = min(
        CATHETER_RADIUS_MM + WIRE_RADIUS_MM + float(rng.uniform(0.03, 0.15)), wire_room
    )
    arc_a = [360.0, rng.uniform(290, 330), rng.uniform(190, 250), rng.uniform(100, 170)][seed % 4]
    length_a = float(rng.uniform(6.0, 7.5) if rng.random() < 0.5 else rng.uniform(2.0, 4.0))
    arc_b = float(
        [rng.uniform(30, 80), rng.uniform(100, 170), rng.uniform(190, 250)][(seed // 2) % 3]
    )

    def calcium(start, length, arc, depth):
        return {
            "kind": "calcium",
            "start_mm": float(start),
            "length_mm": float(length),
            "start_angle_deg": float(rng.uniform(0, 360)),
            "arc_deg": float(arc),
            "depth_fraction": float(depth),
            "thickness_mm": float(rng.uniform(0.2, 0.5)),
            "surface_db": float(rng.uniform(20.0, 28.0)),
            "attenuation_db_mm_mhz": float(rng.uniform(1.0, 2.5)),
            "reverberation_mm": float(rng.uniform(0.12, 0.25)) if rng.random() < 0.4 else 0.0,
        }

    lesions = [
        calcium(1.0, length_a, arc_a, rng.uniform(0.05, 0.3)),
        calcium(10.6, rng.uniform(1.0, 2.0), arc_b, rng.uniform(0.65, 0.85)),
    ]
    if seed % 2 == 0:
        lesions.append(
            {
                "kind": "nodule",
                "start_mm": 13.6,
                "length_mm": float(rng.uniform(0.6, 1.0)),
                "angle_deg": float(rng.uniform(0, 360)),
                "radius_mm": float(rng.uniform(0.35, 0.5)),
                "protrusion_mm": float(rng.uniform(0.25, 0.35)),
                "surface_db": float(rng.uniform(22.0, 28.0)),
            }
        )
    else:
        lesions.append(calcium(13.6, rng.uniform(0.8, 1.2), rng.uniform(30, 80), 0.15))
    if seed % 2 == 0:  # dense fibrous plaque between A and B: bright, no shadow, no calcium
        lesions.append(
            {
                "kind": "fibrous",
                "start_mm": 9.0,
                "length_mm": float(rng.uniform(0.8, 1.2)),
                "start_angle_deg": float(rng.uniform(0, 360)),
                "arc_deg": float(rng.uniform(40, 120)),
                "depth_fraction": float(rng.uniform(0.05, 0.3)),
                "thickness_mm": float(rng.uniform(0.15, 0.3)),
                "echo_db": float(rng.uniform(10.0, 16.0)),
            }
        )
    branches = []
    if seed % 2 == 1:
        branches.append(
            {
                "start_mm": 8.8,
                "length_mm": float(rng.uniform(0.6, 1.0)),
                "angle_deg": float(rng.uniform(0, 360)),
                "width_deg": float(rng.uniform(30, 60)),
            }
        )
    speed, rate = [(3.0, 30.0), (2.4, 30.0), (6.0, 60.0)][int(rng.integers(3))]
    return PhysicalConfig(
        n_frames=int(round(15.0 / (speed / rate))),
        field_of_view_mm=float(rng.uniform(8.0, 10.0)),
        pixel_spacing_mm=float(rng.choice([0.025, 0.03, 0.04])),
        pullback_speed_mm_s=speed,
        frame_rate_hz=rate,
        frequency_mhz=frequency,
        gain_db=float(rng.uniform(-6.0, 6.0)),
        dynamic_range_db=float(rng.uniform(40.0, 60.0)),
        tissue_grey=float(rng.uniform(0.45, 0.55)),
        grey_gamma=float(rng.uniform(1.0, 1.4)),
        snr_db=float(rng.uniform(30.0, 45.0)),
        tgc_fraction=float(rng.uniform(0.3, 0.8)),
        tgc_start_mm=float(rng.uniform(0.9, 1.5)),
        blood_db_offset=float(rng.uniform(-3.0, 3.0)),
        eem_radius_mm=(eem_r, eem_r - taper),
        lumen_radius_mm=(lumen_r, lumen_r - taper),
        lumen_offset_mm=lumen_offset,
        lumen_waviness=waviness,
        media_mm=float(rng.uniform(0.12, 0.2)),
        adventitia_mm=float(rng.uniform(0.25, 0.45)),
        plaque_db=float(rng.uniform(-6.0, 2.0)),
        plaque_texture_db=float(rng.uniform(2.0, 5.0)),
        ringdown_mm=ringdown,
        catheter_offset_mm=(float(catheter_offset[0]), float(catheter_offset[1])),
        wire={
            "angle_deg": wire_angle,
            "drift_deg": float(rng.uniform(-20, 20)),
            "distance_mm": wire_distance,
        },
        lesions=lesions,
        side_branches=branches,
        heart_rate_bpm=float(rng.uniform(55.0, 95.0)),
        cardiac_amplitude=float(rng.uniform(0.01, 0.03)),
        side_lobe_db=float(rng.uniform(-40.0, -30.0)),
        seed=int(seed),
    )


def _cw(vy, vx):
    """Angle (deg) clockwise from 12 o'clock of (y, x) vectors (y down)."""
    return np.rad2deg(np.arctan2(vx, -vy)) % 360.0


def _unit(angle_deg):
    t = np.deg2rad(angle_deg)
    return -np.cos(t), np.sin(t)


def _inside(z: float, item: dict) -> bool:
    return item["start_mm"] <= z < item["start_mm"] + item["length_mm"]


def _lumen_shape(phi_deg, offset_yx, radius: float, waviness: float, phase: float):
    """Lumen border radius (mm) about the EEM centre at angles ``phi_deg``: a circle of
    ``radius`` centred at ``offset_yx``, made wavy (star-shaped about the EEM centre)."""
    uy, ux = _unit(phi_deg)
    b = uy * offset_yx[0] + ux * offset_yx[1]
    c = offset_yx[0] ** 2 + offset_yx[1] ** 2 - radius**2
    base = b + np.sqrt(np.maximum(b * b - c, 0.0))
    t = np.deg2rad(phi_deg)
    return base * (1.0 + waviness * np.cos(2 * t + phase) + 0.5 * waviness * np.sin(3 * t))


def physical_pullback(config: PhysicalConfig) -> tuple[Volume, dict]:
    """A physically based IVUS pullback and its construction truth.

    Returns
    -------
    volume : Volume ``(frame, y, x)`` uint8, modality ``IVUS``, pullback speed and rate set;
        the catheter at the frame centre.
    truth : ``frames`` (per frame ``lumen_area_mm2``, ``vessel_area_mm2``,
        ``vessel_diameter_mm``, ``calcium_arc_deg`` and ``superficial_arc_deg`` about the
        lumen centroid, ``depth_fraction``, ``superficial``, ``nodule``,
        ``wire_angle_deg`` and ``wire_half_width_deg`` about the catheter, ``wire_clear``
        (no true calcium within 10 degrees of the wire's sector), ``side_branch``),
        ``lesions`` (:func:`lesion_truth`), the geometry and the configuration.
    """
    c = config
    rng = np.random.default_rng(c.seed)
    dz = c.pullback_speed_mm_s / c.frame_rate_hz
    z = np.arange(c.n_frames) * dz
    t = np.linspace(0.0, 1.0, c.n_frames) if c.n_frames > 1 else np.zeros(1)
    beat = np.ones(c.n_frames)
    if c.heart_rate_bpm:  # contraction and relaxation over the first half of each cycle
        phase = (np.arange(c.n_frames) / (c.frame_rate_hz * 60.0 / c.heart_rate_bpm)) % 1.0
        squeeze = np.where(phase < 0.5, 0.5 * (1 - np.cos(2 * np.pi * phase / 0.5)), 0.0)
        beat = 1.0 - c.cardiac_amplitude * squeeze
    f = c.frequency_mhz
    wavelength = SPEED_OF_SOUND_MM_US / f
    fwhm_axial = wavelength
    # transducer polar grid: 512 rays, samples of a third of the pulse (12.5-25 um)
    n_rays = 512
    dr = float(np.clip(fwhm_axial / 3.0, 0.0125, 0.025))
    r_max = c.field_of_view_mm / 2.0
    r = (np.arange(int(np.ceil(r_max / dr)) + 2) * dr).astype(np.float32)
    ray_deg = np.arange(n_rays) * 360.0 / n_rays
    uy, ux = _unit(ray_deg)
    cat_y, cat_x = c.catheter_offset_mm  # catheter seen from the EEM centre
    py = (cat_y + uy[:, None] * r[None, :]).astype(np.float32)  # about the EEM centre (mm)
    px = (cat_x + ux[:, None] * r[None, :]).astype(np.float32)
    rho = np.hypot(py, px)
    phi = _cw(py, px)
    wave_phase = rng.uniform(0, 2 * np.pi)

    def lumen_at(angle_deg, k):
        """Lumen radius about the EEM centre of frame ``k``: the whole lumen (its offset
        too) scales with the taper."""
        scale = beat[k] * _radius(c.lumen_radius_mm, t[k]) / c.lumen_radius_mm[0]
        return scale * _lumen_shape(
            angle_deg, c.lumen_offset_mm, c.lumen_radius_mm[0], c.lumen_waviness, wave_phase
        )

    lumen_first = (lumen_at(phi, 0) / beat[0]).astype(np.float32)  # polar grid, frame 0

    # beam: Gaussian pulse along the ray; Gaussian beam across it, focused at 1.5 mm
    sigma_axial = fwhm_axial / 2.3548 / dr  # samples
    fwhm_lateral = 3.2 * wavelength * np.sqrt(1.0 + ((r - 1.5) / 2.0) ** 2)
    sigma_angle = fwhm_lateral / 2.3548 / np.maximum(r, 0.05)  # radians per column
    k_ang = np.fft.fftfreq(n_rays) * n_rays  # cycles per turn
    # main lobe plus a side-lobe pedestal five times wider: echoes beside a shadow leak
    # into it, so shadows (above all the wire's narrow one) are not quite black
    side = 10 ** (c.side_lobe_db / 20.0)
    lateral_tf = (
        np.exp(-0.5 * (k_ang[:, None] * sigma_angle[None, :]) ** 2)
        + 5.0 * side * np.exp(-0.5 * (5.0 * k_ang[:, None] * sigma_angle[None, :]) ** 2)
    ) / (1.0 + 5.0 * side)
    lateral_tf = lateral_tf.astype(np.float32)
    # diffuse scatterers keep their mean power through the PSF (DC gain 1): scale by
    # 1 / sqrt(sum h^2) of the axial and lateral kernels
    axial_energy = 1.0 / (2.0 * np.sqrt(np.pi) * sigma_axial)
    diffuse_gain = (1.0 / np.sqrt(axial_energy * (lateral_tf**2).mean(axis=0))).astype(np.float32)
    # a calcium surface is rough on the scale of the pulse: its echo comes from a layer
    # at least 0.05 mm deep (or one pulse length), attenuated like tissue, before the
    # calcium's own attenuation starts
    surface_samples = max(1, int(round(max(fwhm_axial, 0.05) / dr)))

    blood_db = BLOOD_DB_20MHZ + 10 * BLOOD_FREQUENCY_POWER * np.log10(f / 20.0) + c.blood_db_offset
    tgc_db = np.minimum(
        c.tgc_fraction * 2.0 * TISSUES["plaque"][1] * f * np.maximum(r - c.tgc_start_mm, 0.0),
        c.tgc_max_db,
    ).astype(np.float32)
    tgc_gain = (10 ** (tgc_db / 20.0)).astype(np.float32)
    noise_amplitude = np.float32(10 ** (-c.snr_db / 20.0))
    # display: fibrous plaque speckle at tissue_grey of the range at gain 0
    floor_db = RAYLEIGH_LOG_MEAN_DB - c.tissue_grey * c.dynamic_range_db

    # patchy plaque and peri-adventitial echogenicity: smooth fields (0.2 mm by 15 deg)
    def texture():
        g = rng.standard_normal(rho.shape, dtype=np.float32)
        g = ndimage.gaussian_filter(g, (15.0 / 360.0 * n_rays, 0.2 / dr), mode=("wrap", "nearest"))
        return g / max(float(g.std()), 1e-9)

    textures = [texture(), texture()]
    # tissue speckle decorrelates over the frame spacing (elevation beam ~0.15 mm)
    keep = np.float32(np.exp(-0.5 * (dz / 0.15) ** 2))

    # fresh speckle patterns are random windows of one pool of complex Gaussian
    # scatterers (unit mean power): as random as new draws at a fraction of their cost
    n_samples = rho.size
    pool = rng.standard_normal((2, 3 * n_samples), dtype=np.float32) * np.float32(np.sqrt(0.5))
    pool = pool[0] + 1j * pool[1]

    def complex_gaussian():
        start = int(rng.integers(2 * n_samples))
        return pool[start : start + n_samples].reshape(rho.shape)

    size = int(round(c.field_of_view_mm / c.pixel_spacing_mm))
    centre = (size - 1) / 2.0
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    ky, kx = (yy - centre) * c.pixel_spacing_mm, (xx - centre) * c.pixel_spacing_mm
    cart_r = np.hypot(ky, kx) / dr
    cart_a = (_cw(ky, kx) / 360.0 * n_rays) % n_rays
    outside_view = np.hypot(ky, kx) > r_max

    tissue_speckle = complex_gaussian()
    frames = np.empty((c.n_frames, size, size), np.uint8)
    truth_frames = []
    for i in range(c.n_frames):
        r_e = beat[i] * _radius(c.eem_radius_mm, t[i])
        r_l = np.float32(beat[i] * _radius(c.lumen_radius_mm, t[i]) / c.lumen_radius_mm[0])
        r_l = r_l * lumen_first
        # ---- anatomy: backscatter (dB) and one-way attenuation (dB/mm) per sample
        patches = np.cos(z[i] / 3.0) * textures[0] + np.sin(z[i] / 3.0) * textures[1]
        db = TISSUES["periadventitia"][0] + PERIADVENTITIA_TEXTURE_DB * patches
        att = np.full(rho.shape, TISSUES["periadventitia"][1] * f, np.float32)
        for name, inner, outer in (
            ("adventitia", r_e, r_e + c.adventitia_mm),
            ("media", r_e - c.media_mm, r_e),
        ):
            band = (rho >= inner) & (rho < outer)
            db[band], att[band] = TISSUES[name][0], TISSUES[name][1] * f
        plaque = (rho >= r_l) & (rho < r_e - c.media_mm)
        db[plaque] = TISSUES["plaque"][0] + c.plaque_db + c.plaque_texture_db * patches[plaque]
        att[plaque] = TISSUES["plaque"][1] * f
        blood = rho < r_l
        branch = False
        for b in c.side_branches:
            if _inside(z[i], b):
                rel = (phi - b["angle_deg"] + 180.0) % 360.0 - 180.0
                blood |= (np.abs(rel) < b["width_deg"] / 2) & (rho < r_e + c.adventitia_mm + 1.0)
                branch = True
        db[blood], att[blood] = blood_db, BLOOD_ATTENUATION * f
        step_db = np.zeros(rho.shape, np.float32)  # interface losses (two-way)
        specular = np.zeros(rho.shape, np.float32)  # coherent echo amplitude (linear)
        reverb = np.zeros(rho.shape, np.float32)  # reverberation weights behind a surface
        lumen_area, lumen_centroid = _lumen_area_centroid(lambda a, k=i: lumen_at(a, k))
        arc_sets, depths, nodule = [], [], False
        for lesion in c.lesions:
            if not _inside(z[i], lesion):
                continue
            if lesion["kind"] == "nodule":
                ang = lesion["angle_deg"]
                rl_at = float(lumen_at(np.array([ang]), i)[0])
                rn = lesion["radius_mm"]
                dist = rl_at + rn - lesion["protrusion_mm"]
                ny, nx = dist * np.array(_unit(ang))
                body = np.hypot(py - ny, px - nx) < rn
                cut_area, cut_centroid = _disc_in_lumen(ny, nx, rn, lambda a, k=i: lumen_at(a, k))
                lumen_centroid = (lumen_area * lumen_centroid - cut_area * cut_centroid) / (
                    lumen_area - cut_area
                )
                lumen_area -= cut_area
                oy, ox = _unit(np.arange(720) / 2.0)
                arc_sets.append(np.stack([ny + rn * oy, nx + rn * ox], 1))
                depths.append(0.0)
                nodule = True
                reflector = (lesion["surface_db"], TISSUES["calcium"][1] * f, 0.0)
            else:
                depth = lesion["depth_fraction"]
                r_c = r_l + depth * (r_e - r_l)
                rel = (phi - lesion["start_angle_deg"]) % 360.0
                sector = rel < lesion["arc_deg"] if lesion["arc_deg"] < 360 else rel >= 0
                # deep calcium at the plaque base may reach through the media
                body = sector & (rho >= r_c) & (rho < r_c + lesion["thickness_mm"])
                if lesion["kind"] == "fibrous":  # bright, but attenuating like tissue
                    db[body], att[body] = lesion["echo_db"], FIBROUS_ATTENUATION * f
                    continue
                a_deg = lesion["start_angle_deg"] + np.arange(int(lesion["arc_deg"] * 4) + 1) / 4
                ra = lumen_at(a_deg % 360.0, i)
                ey, ex = _unit(a_deg)
                arc_sets.append(
                    np.stack([(ra + depth * (r_e - ra)) * ey, (ra + depth * (r_e - ra)) * ex], 1)
                )
                depths.append(depth)
                reflector = (
                    lesion["surface_db"],
                    lesion["attenuation_db_mm_mhz"] * f,
                    lesion["reverberation_mm"] / dr,
                )
            first = _first_along_ray(body)
            layer = body & (np.cumsum(body, axis=1) <= surface_samples)
            specular[layer] = 10 ** (reflector[0] / 20.0)
            db[body], att[body & ~layer] = TISSUES["calcium"][0], reflector[1]
            step_db[first] += CALCIUM_INTERFACE_LOSS_DB
            step_db[_first_along_ray(_behind(first) & ~body)] += CALCIUM_INTERFACE_LOSS_DB
            if reflector[2] > 0:
                reverb += _reverberations(first, reflector[2], CALCIUM_REVERB_DECAY_DB, 3)
        wire_angle = wire_half = None
        if c.wire:
            wire_angle = (c.wire["angle_deg"] + c.wire["drift_deg"] * t[i]) % 360.0
            wy, wx = c.wire["distance_mm"] * np.array(_unit(wire_angle))
            body = np.hypot(py - cat_y - wy, px - cat_x - wx) < WIRE_RADIUS_MM
            first = _first_along_ray(body)
            specular[first] = 10 ** (WIRE_DB / 20.0)
            step_db[first] += WIRE_LOSS_DB
            reverb += _reverberations(first, WIRE_REVERB_SPACING_MM / dr, WIRE_REVERB_DECAY_DB, 4)
            db[body] = -60.0
            wire_half = float(np.rad2deg(np.arcsin(WIRE_RADIUS_MM / c.wire["distance_mm"])))
        # ---- propagation: attenuation and interface losses along each ray (two-way); an
        # interface's own echo is not behind it
        loss = (10 ** (-(np.cumsum(2.0 * att * dr + step_db, axis=1) - step_db) / 20.0)).astype(
            np.float32
        )
        # ---- scatterers: blood new in every frame, tissue decorrelating slowly; a rough
        # surface echo is partly coherent
        tissue_speckle = keep * tissue_speckle + np.sqrt(1 - keep**2) * complex_gaussian()
        scatter = np.where(blood, complex_gaussian(), tissue_speckle)
        diffuse = (10 ** (db / 20.0)).astype(np.float32) * diffuse_gain[None, :]
        field_ = (diffuse * scatter + specular * (1.0 + 0.3 * scatter)) * loss
        if reverb.any():  # copies of each ray's surface echo, delayed inside the reflector
            field_ += reverb * (specular * loss).max(axis=1, keepdims=True)
        # ---- beam across the ray (FFT along angle, the width in angle of each depth),
        # receiver noise, the pulse along the ray, the TGC
        field_ = np.fft.ifft(np.fft.fft(field_, axis=0) * lateral_tf, axis=0).astype(np.complex64)
        field_ += noise_amplitude * complex_gaussian() * np.float32(1.0 / np.sqrt(axial_energy))
        pair = ndimage.gaussian_filter1d(
            field_.view(np.float32).reshape(n_rays, r.size, 2), sigma_axial, axis=1, mode="nearest"
        )
        envelope = np.hypot(pair[..., 0], pair[..., 1]) * tgc_gain[None, :]
        # ---- console: log compression, gain, dynamic range, catheter, scan conversion
        level_db = 20.0 * np.log10(np.maximum(envelope, 1e-9)) + c.gain_db
        grey = (
            255.0 * np.clip((level_db - floor_db) / c.dynamic_range_db, 0.0, 1.0) ** c.grey_gamma
        )
        grey[:, r < CATHETER_RADIUS_MM - 0.03] = 0.0
        sheath = np.abs(r - CATHETER_RADIUS_MM) < 0.03
        grey[:, sheath] = np.maximum(grey[:, sheath], 200.0)
        ring = (r >= CATHETER_RADIUS_MM) & (r < CATHETER_RADIUS_MM + c.ringdown_mm)
        ringdown = 220.0 * np.exp(-3.0 * (r[ring] - CATHETER_RADIUS_MM) / c.ringdown_mm)
        grey[:, ring] = np.maximum(grey[:, ring], ringdown[None, :])
        padded = np.concatenate([grey, grey[:1]], axis=0)
        image = ndimage.map_coordinates(padded, [cart_a, cart_r], order=1, mode="nearest")
        image[outside_view] = 0.0
        frames[i] = np.clip(np.rint(image), 0, 255).astype(np.uint8)
        # ---- truth of the frame (construction geometry)
        arc = _arc_about(arc_sets, lumen_centroid)
        sup_sets = [s for s, d in zip(arc_sets, depths, strict=True) if d < 0.5]
        depth = float(min(depths)) if depths else None
        wire_clear = None
        if c.wire:
            seen = [_cw(s[:, 0] - cat_y, s[:, 1] - cat_x) for s in arc_sets]
            near = [np.abs((a - wire_angle + 180.0) % 360.0 - 180.0) for a in seen]
            wire_clear = not any(bool((d <= wire_half + 10.0).any()) for d in near)
        truth_frames.append(
            frame_truth(
                i, z[i], lumen_area, r_e, arc, _arc_about(sup_sets, lumen_centroid), depth, nodule
            )
            | {
                "wire_angle_deg": None if wire_angle is None else float(wire_angle),
                "wire_half_width_deg": wire_half,
                "wire_clear": wire_clear,
                "side_branch": branch,
            }
        )
    truth = {
        "frames": truth_frames,
        "lesions": [
            lesion_truth(lesion, truth_frames, dz)
            for lesion in c.lesions
            if lesion["kind"] != "fibrous"
            and any(_inside(fr["position_mm"], lesion) for fr in truth_frames)
        ],
        "frame_spacing_mm": dz,
        "pixel_spacing_mm": c.pixel_spacing_mm,
        "catheter_centre_yx_px": [centre, centre],
        "config": asdict(c),
        "angle_convention": "degrees clockwise from 12 o'clock; arcs about the lumen centroid",
    }
    volume = Volume(
        array=frames,
        spacing_mm=(c.pixel_spacing_mm, c.pixel_spacing_mm, dz),
        modality="IVUS",
        acquisition=Acquisition(
            pullback_speed_mm_s=c.pullback_speed_mm_s, frame_rate_hz=c.frame_rate_hz
        ),
    )
    return volume, truth


def _radius(pair: tuple[float, float], t: float) -> float:
    """A radius tapering linearly from ``pair[0]`` (first frame) to ``pair[1]`` (last)."""
    return pair[0] + (pair[1] - pair[0]) * t


def _first_along_ray(mask: np.ndarray) -> np.ndarray:
    """The first True sample of each ray (row) of ``mask``."""
    out = np.zeros_like(mask)
    has = mask.any(axis=1)
    out[np.flatnonzero(has), mask.argmax(axis=1)[has]] = True
    return out


def _behind(first: np.ndarray) -> np.ndarray:
    """Samples strictly behind the marked sample of each ray."""
    return np.cumsum(first, axis=1) - first > 0


def _reverberations(hit: np.ndarray, spacing: float, decay_db: float, count: int) -> np.ndarray:
    """Weights of ``count`` echoes ``spacing`` samples apart behind each hit, each
    ``decay_db`` weaker than the one before."""
    out = np.zeros(hit.shape, np.float32)
    rows, cols = np.nonzero(hit)
    for k in range(1, count + 1):
        at = cols + int(round(k * max(spacing, 2.0)))
        ok = at < hit.shape[1]
        out[rows[ok], at[ok]] += 10 ** (-k * decay_db / 20.0)
    return out


def _lumen_area_centroid(radius_of, n: int = 1440) -> tuple[float, np.ndarray]:
    """Area (mm2) and centroid (y, x about the EEM centre) of the star-shaped region
    ``r < radius_of(angle)``."""
    a = np.arange(n) * 360.0 / n
    rr = radius_of(a)
    uy, ux = _unit(a)
    step = 2 * np.pi / n
    area = 0.5 * np.sum(rr**2) * step
    moment = np.array([np.sum(rr**3 * uy), np.sum(rr**3 * ux)]) * step / 3.0
    return float(area), moment / area


def _disc_in_lumen(ny, nx, rn, radius_of, n: int = 240) -> tuple[float, np.ndarray]:
    """Area and centroid of the part of a disc (centre (ny, nx), radius rn) in the lumen."""
    g = np.linspace(-rn, rn, n)
    gy, gx = np.meshgrid(ny + g, nx + g, indexing="ij")
    part = (np.hypot(gy - ny, gx - nx) < rn) & (np.hypot(gy, gx) < radius_of(_cw(gy, gx)))
    cell = (g[1] - g[0]) ** 2
    if not part.any():
        return 0.0, np.zeros(2)
    return float(part.sum() * cell), np.array([gy[part].mean(), gx[part].mean()])


def _arc_about(point_sets: list[np.ndarray], centre_yx: np.ndarray) -> float:
    """Angular extent (deg, <= 360) about ``centre_yx`` of ordered, dense point sets, each
    a continuous curve (a calcium leading edge, a nodule's outline) seen as one interval
    of angle; overlapping intervals count once."""
    intervals = []
    for pts in point_sets:
        ang = np.rad2deg(
            np.unwrap(np.deg2rad(_cw(pts[:, 0] - centre_yx[0], pts[:, 1] - centre_yx[1])))
        )
        low, span = float(ang.min()) % 360.0, float(ang.max() - ang.min())
        if span >= 360.0 - 1e-6:
            return 360.0
        intervals += [(low, min(low + span, 360.0))]
        if low + span > 360.0:
            intervals.append((0.0, low + span - 360.0))
    total, end = 0.0, -1.0
    for a, b in sorted(intervals):
        if b > end:
            total += b - max(a, end)
            end = b
    return float(total)
