"""User-facing errors.

Anything a user can cause (a bad file, a bad setting) raises :class:`InputError` with a one-line message that
names the problem and what to do. The core never names a command-line flag: ``setting`` says which setting was
at fault, and a front end names it its own way (the CLI appends the flag, a web page can mark the field).
"""

from __future__ import annotations


class InputError(ValueError):
    """A problem with the user's input, reported as one line without a traceback.

    Parameters
    ----------
    message : str
        What is wrong and what to do, in one line.
    setting : str, optional
        The name of the setting at fault (a :class:`~deepprior.NetConfig` or :class:`~deepprior.FitConfig`
        field, or a :func:`~deepprior.plan` argument such as ``"tile"``).
    """

    def __init__(self, message: str, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting
