"""User-facing errors: a clear message and what to do about it.

Readers and analyses raise :class:`InputError` for problems in the user's input
(a folder with no images, a missing slice, a pullback without speed ...). The
command line prints the message without a traceback; the napari adapters show it
as a notification.
"""


class InputError(ValueError):
    """A problem with the user's input, with a hint on how to fix it.

    Parameters
    ----------
    message : what is wrong, naming the file or value.
    hint : what the user can do (a flag to pass, a file to check); optional.
    """

    def __init__(self, message: str, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(f"{message} — {hint}" if hint else message)
