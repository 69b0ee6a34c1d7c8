"""User-facing errors.

Anything a user can cause (a bad file, a bad option) raises :class:`InputError` with a one-line message that
names the problem and what to do; the CLI prints it and exits non-zero without a traceback.
"""


class InputError(ValueError):
    """A problem with the user's input, reported as one line without a traceback."""
