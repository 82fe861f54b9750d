"""Cohorts: batch runs over many subjects, their tables and statistics."""
