"""Fixtures of the widget tests."""

from tests.widgets.coronary_reading import scoring  # noqa: F401
