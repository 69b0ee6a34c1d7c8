"""The tasks: each is a degradation operator, the extra inputs it needs, and the classical methods to compare.

A task is data, not a code path: every task runs the same plan, the same loop and the same result schema;
what differs is its operator and its preset (:mod:`deepprior.jobs.presets`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError


@dataclass(frozen=True)
class Task:
    """One restoration task.

    Attributes
    ----------
    name : str
        The command and API name.
    operator : str
        The degradation operator (:data:`deepprior.operators.OPERATORS`).
    needs : tuple of str
        Extra inputs: "mask" (white = known), "scale" (the super-resolution factor), "guide" (an image used as
        the network input), "kernel" (the blur, for deblurring).
    noisy : bool
        The observation carries noise of unknown level: estimate it for the discrepancy stop.
    classical : tuple of str
        What a user would run instead (:data:`deepprior.classical.compare.METHODS`), for ``--compare``.
    summary : str
        One line for help texts.
    """

    name: str
    operator: str
    needs: tuple[str, ...]
    noisy: bool
    classical: tuple[str, ...]
    summary: str


TASKS: dict[str, Task] = {t.name: t for t in [
    Task("denoise", "identity", (), True, ("cbm3d", "nlm"), "Remove Gaussian noise (paper preset: F16, sigma 25)."),
    Task("dejpeg", "identity", (), False, ("cbm3d", "nlm"),
         "Blind removal of JPEG blocking artifacts (paper preset: snail)."),
    Task("inpaint", "mask", ("mask",), False, ("biharmonic",),
         "Fill text or thin regions given by a mask (paper preset: kate text inpainting)."),
    Task("fill", "mask", ("mask",), False, ("biharmonic",),
         "Fill large holes: meshgrid input, no skip connections, keeps the best output by loss."),
    Task("reconstruct", "mask", ("mask",), False, ("biharmonic",),
         "Reconstruct an image with a random fraction of its pixels missing (paper preset: barbara, 50 %)."),
    Task("superres", "downsample", ("scale",), False, ("bicubic",),
         "Super-resolution x2/x4/x8 through the paper's Lanczos-2 downsampler (paper preset: zebra)."),
    Task("flash", "identity", ("guide",), False, (),
         "Flash / no-flash: the flash photo is the network input, the no-flash photo the target."),
    Task("deblur", "blur", ("kernel",), True, ("richardson_lucy", "wiener"),
         "Remove a known blur (Gaussian, motion or a kernel image), and the noise on top of it."),
]}


#: The tasks whose input comes with a mask of the known pixels.
MASK_TASKS = tuple(name for name, t in TASKS.items() if "mask" in t.needs)


def get_task(name: str) -> Task:
    """The task called ``name``, or a clear error."""
    if name not in TASKS:
        raise InputError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}", setting="task")
    return TASKS[name]
