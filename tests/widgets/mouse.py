"""Real Qt mouse events on a napari canvas (the path a user's mouse takes)."""

from qtpy.QtCore import QEvent, QPointF, Qt
from qtpy.QtGui import QMouseEvent
from qtpy.QtWidgets import QApplication

BUTTONS = {"left": Qt.MouseButton.LeftButton, "right": Qt.MouseButton.RightButton}


def _send(widget, kind, pos, button, buttons):
    point = QPointF(*pos)
    event = QMouseEvent(
        kind, point, widget.mapToGlobal(point), button, buttons, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(widget, event)


def drag(qtbot, canvas, start, end, button="left", steps=2):
    """Press at ``start``, move to ``end`` in ``steps`` moves, release (canvas pixels x, y)."""
    pressed = BUTTONS[button]
    none = Qt.MouseButton.NoButton
    _send(canvas, QEvent.Type.MouseButtonPress, start, pressed, pressed)
    for k in range(1, steps + 1):
        pos = tuple(s + (e - s) * k / steps for s, e in zip(start, end, strict=True))
        qtbot.wait(20)  # napari handles one move per event-loop turn
        _send(canvas, QEvent.Type.MouseMove, pos, none, pressed)
    qtbot.wait(20)
    _send(canvas, QEvent.Type.MouseButtonRelease, end, pressed, none)
    qtbot.wait(20)


def click(qtbot, canvas, pos, button="left"):
    """Press and release at ``pos`` (canvas pixels x, y) without moving."""
    pressed = BUTTONS[button]
    _send(canvas, QEvent.Type.MouseButtonPress, pos, pressed, pressed)
    qtbot.wait(20)
    _send(canvas, QEvent.Type.MouseButtonRelease, pos, pressed, Qt.MouseButton.NoButton)
    qtbot.wait(20)


def wait_for_layout(qtbot, widget, quiet_ms=200, timeout_ms=5000):
    """Wait until ``widget`` keeps its size for ``quiet_ms`` (a new dock is laid out in
    several steps; a click computed from a stale size lands elsewhere)."""
    waited, size = 0, None
    while waited < timeout_ms:
        qtbot.wait(quiet_ms)
        waited += quiet_ms
        if widget.size() == size:
            return
        size = widget.size()
