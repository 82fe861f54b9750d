"""Vessel cross-sections: polar sampling, lumen / wall contours, calcium arcs, gating."""
