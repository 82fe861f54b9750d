"""Vessel geometry: centrelines, cross-sections, contours and wall metrics."""
