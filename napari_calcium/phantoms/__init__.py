"""Deterministic synthetic data whose truth is known by construction.

One module per kind of study; each function returns Volumes in physical space
and a ``truth`` dict (plain JSON values, units in the key names) that the tests and
the sample-data README check results against:

* :mod:`.coronary` — cardiac CT with coronary arteries, calcified lesions and bone;
* :mod:`.ivus` — IVUS pullbacks with lumen, wall and calcium of known arc/depth/length;
* :mod:`.ivus_physical` — IVUS pullbacks made from ultrasound physics (scatterers, beam,
  attenuation, shadow, console display), a second family for validation;
* :mod:`.head` — a head CT and vessel-wall MRI related by a known rigid transform;
* :mod:`.vessel` — a curved intracranial artery on CT (IEL-type, intimal-type and
  spotty calcifications) and on vessel-wall MRI (eccentric stenosing plaque);
* :mod:`.brain` — FLAIR and SWI with white-matter hyperintensities and microbleeds.
"""
