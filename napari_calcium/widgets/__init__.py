"""napari adapters: layer conversion and one thin widget per workflow.

Nothing in here computes science; widgets resolve layers into
:class:`~napari_calcium.Volume` objects, call the core functions (off the GUI
thread when slow) and put the results back as editable layers and ``features``.
"""
