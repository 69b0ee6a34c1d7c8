"""What a user would pick instead of DIP, run on the same input and scored the same way (``--compare``)."""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from ..imaging import metrics
from ..imaging.noise import estimate_noise_sigma
from . import methods

#: name -> function(observed, mask, scale, sigma) -> image; which ones a task runs is in its Task record.
_Method = Callable[[np.ndarray, "np.ndarray | None", "int | None", float], np.ndarray]
METHODS: dict[str, _Method] = {
    "cbm3d": lambda y, m, s, sigma: methods.cbm3d(y, sigma),
    "nlm": lambda y, m, s, sigma: methods.nlm(y, sigma),
    "biharmonic": lambda y, m, s, sigma: methods.biharmonic(y, m),
    "bicubic": lambda y, m, s, sigma: methods.bicubic_upsample(y, s),
}
#: Methods that need the noise level (estimated from the image when not given).
NEEDS_SIGMA = {"cbm3d", "nlm"}


def run_classical(names: tuple[str, ...], observed: np.ndarray, *, mask: np.ndarray | None = None,
                  scale: int | None = None, sigma: float | None = None, ground_truth: np.ndarray | None = None,
                  psnr_y: bool = False) -> dict[str, dict[str, Any]]:
    """Run the named classical methods; returns ``{name: {"image", "seconds", "sigma"?, "gt"?}}``.

    ``sigma`` (noise std on [0, 1]) is estimated from the image when a method needs it and it is not given, as
    a user without the ground truth would have to. ``psnr_y`` adds the super-resolution protocol's Y-PSNR.
    """
    if sigma is None and NEEDS_SIGMA & set(names):
        sigma = estimate_noise_sigma(observed)
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        start = time.perf_counter()
        img = METHODS[name](observed, mask, scale, sigma or 0.0)
        entry: dict[str, Any] = {"image": img, "seconds": round(time.perf_counter() - start, 3)}
        if sigma is not None:
            entry["sigma"] = sigma
        if ground_truth is not None and ground_truth.shape == img.shape:
            entry["gt"] = metrics.scores(metrics.quantize(img), ground_truth)
            if psnr_y:
                entry["gt"]["psnr_y"] = metrics.psnr_y(metrics.quantize(img), ground_truth)
        out[name] = entry
    return out
