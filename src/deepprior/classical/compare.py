"""What a user would pick instead of DIP, run on the same input and scored the same way (``--compare``)."""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from ..imaging import metrics
from ..imaging.noise import patch_noise_sigma
from . import methods

#: name -> function(observed, inputs) -> image, where inputs holds "mask", "scale", "sigma" and "kernel"; which
#: methods a task runs is in its Task record.
_Method = Callable[[np.ndarray, dict[str, Any]], np.ndarray]
METHODS: dict[str, _Method] = {
    "cbm3d": lambda y, i: methods.cbm3d(y, i["sigma"]),
    "nlm": lambda y, i: methods.nlm(y, i["sigma"]),
    "biharmonic": lambda y, i: methods.biharmonic(y, i["mask"]),
    "bicubic": lambda y, i: methods.bicubic_upsample(y, i["scale"]),
    "richardson_lucy": lambda y, i: methods.richardson_lucy(y, i["kernel"]),
    "wiener": lambda y, i: methods.wiener(y, i["kernel"]),
}
#: Methods that need the noise level (estimated from the image when not given).
NEEDS_SIGMA = {"cbm3d", "nlm"}


def run_classical(names: tuple[str, ...], observed: np.ndarray, *, mask: np.ndarray | None = None,
                  scale: int | None = None, sigma: float | None = None, kernel: np.ndarray | None = None,
                  ground_truth: np.ndarray | None = None, psnr_y: bool = False) -> dict[str, dict[str, Any]]:
    """Run the named classical methods; returns ``{name: {"image", "seconds", "sigma"?, "gt"?}}``.

    ``sigma`` (noise std on [0, 1]) is estimated from the image when a method needs it and it is not given, as
    a user without the ground truth would have to. ``psnr_y`` adds the super-resolution protocol's Y-PSNR.
    """
    if sigma is None and NEEDS_SIGMA & set(names):
        sigma = patch_noise_sigma(observed)
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        start = time.perf_counter()
        img = METHODS[name](observed, {"mask": mask, "scale": scale, "sigma": sigma or 0.0, "kernel": kernel})
        entry: dict[str, Any] = {"image": img, "seconds": round(time.perf_counter() - start, 3)}
        if sigma is not None:
            entry["sigma"] = sigma
        if ground_truth is not None and ground_truth.shape == img.shape:
            entry["gt"] = metrics.scores(metrics.quantize(img), ground_truth)
            if psnr_y:
                entry["gt"]["psnr_y"] = metrics.psnr_y(metrics.quantize(img), ground_truth)
        out[name] = entry
    return out
