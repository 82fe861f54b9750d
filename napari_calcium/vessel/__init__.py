"""Vessel geometry: centrelines and cross-sections (CT/MRI), IVUS polar sampling,
lumen / wall contours, calcium arcs, gating and wall metrics."""
