"""Docks that fit any screen: a widget's content in a scroll area, its labels wrapped.

napari docks a widget at the size its content asks for, and a dock whose minimum
size exceeds the screen grows the main window past it (a one-line result label
of 2000 px makes a 2000 px window that cannot be shrunk back). :func:`fit_dock`
moves the content into a :class:`~qtpy.QtWidgets.QScrollArea` (scroll bars as
needed in both directions), wraps every label and lets choice boxes be narrower than
their longest choice, so the dock asks for little and shows the rest by scrolling.
magicgui gives its labels a fixed size policy (the one-line width of their text):
wrapping alone would not let them narrow. magicgui's ``Container(scrollable=True)`` is not used:
napari docks ``container.native``, the widget *inside* magicgui's scroll area, so
the scroll area never reaches the dock.
"""

from __future__ import annotations

import re

from qtpy.QtWidgets import (
    QComboBox,
    QFrame,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

#: Name of the scroll area that :func:`fit_dock` puts in a widget.
SCROLL_NAME = "dock scroll area"
#: A choice box is at least this many characters wide (longer choices are elided in
#: the box and shown whole in its list).
COMBO_MIN_CHARACTERS = 12
#: :func:`breakable` lets a line break inside a word of more than this many characters.
LONG_WORD = 16


def fit_dock(widget) -> QScrollArea:
    """Put a dock widget's content in a scroll area and wrap its labels.

    ``widget`` is a ``QWidget`` with a layout or a magicgui ``Container`` (its
    ``native`` widget is used). The layout moves, with every widget in it, onto an
    inner widget inside the scroll area (Qt reparents a layout given to
    ``QWidget.setLayout``), so code that adds to the layout later keeps working.
    Call it once, at the end of ``__init__``; labels added later should be made
    with :func:`wrapped`. A label wraps at spaces: text with long words (file paths,
    ITK names) goes through :func:`breakable`.

    Returns
    -------
    QScrollArea
        The scroll area (named :data:`SCROLL_NAME`).
    """
    native = getattr(widget, "native", widget)
    content = QWidget()
    layout = native.layout()
    if layout is not None:
        content.setLayout(layout)
    scroll = QScrollArea()
    scroll.setObjectName(SCROLL_NAME)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setWidget(content)
    outer = QVBoxLayout(native)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.addWidget(scroll)
    for label in content.findChildren(QLabel):
        wrapped(label)
    for box in content.findChildren(QComboBox):
        box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        box.setMinimumContentsLength(COMBO_MIN_CHARACTERS)
    return scroll


def wrapped(label):
    """Wrap a ``QLabel`` (or magicgui ``Label``) at word boundaries, narrowing down to
    its longest word and never shorter than its wrapped text (a short dock scrolls
    instead of cutting the lines off); returns it."""
    native = getattr(label, "native", label)
    native.setWordWrap(True)
    native.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
    return label


def breakable(text: str, every: int = LONG_WORD) -> str:
    """``text`` with a zero-width space after every ``every`` characters of each longer
    word, so a wrapped label can break a file path or an ITK optimizer name."""

    def split(match):
        word = match.group(0)
        return "\u200b".join(word[k : k + every] for k in range(0, len(word), every))

    return re.sub(rf"\S{{{every + 1},}}", split, text)
