"""Docks that fit any screen: a widget's content in a scroll area, its labels wrapped.

napari docks a widget at the size its content asks for, and a dock whose minimum
size exceeds the screen grows the main window past it (a one-line result label
of 2000 px makes a 2000 px window that cannot be shrunk back). :func:`fit_dock`
moves the content into a :class:`~qtpy.QtWidgets.QScrollArea` (scroll bars as
needed in both directions) and wraps every label, so the dock asks for little and
shows the rest by scrolling. magicgui's ``Container(scrollable=True)`` is not used:
napari docks ``container.native``, the widget *inside* magicgui's scroll area, so
the scroll area never reaches the dock.
"""

from __future__ import annotations

from qtpy.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

#: Name of the scroll area that :func:`fit_dock` puts in a widget.
SCROLL_NAME = "dock scroll area"


def fit_dock(widget) -> QScrollArea:
    """Put a dock widget's content in a scroll area and wrap its labels.

    ``widget`` is a ``QWidget`` with a layout or a magicgui ``Container`` (its
    ``native`` widget is used). The layout moves, with every widget in it, onto an
    inner widget inside the scroll area (Qt reparents a layout given to
    ``QWidget.setLayout``), so code that adds to the layout later keeps working.
    Call it once, at the end of ``__init__``; labels added later should be made
    with :func:`wrapped`.

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
    return scroll


def wrapped(label):
    """Wrap a ``QLabel`` (or magicgui ``Label``) at word boundaries; returns it."""
    native = getattr(label, "native", label)
    native.setWordWrap(True)
    return label
