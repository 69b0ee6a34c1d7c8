"""What a user would pick instead of DIP, run on the same input and scored the same way (``--compare``)."""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from . import baselines, metrics

# task -> [(name, function(observed, mask, scale, sigma) -> image)]
_Method = Callable[[np.ndarray, "np.ndarray | None", "int | None", float], np.ndarray]
_DENOISERS: list[tuple[str, _Method]] = [
    ("cbm3d", lambda y, m, s, sigma: baselines.cbm3d(y, sigma)),
    ("nlm", lambda y, m, s, sigma: baselines.nlm(y, sigma)),
]
_INPAINTERS: list[tuple[str, _Method]] = [("biharmonic", lambda y, m, s, sigma: baselines.biharmonic(y, m))]
METHODS: dict[str, list[tuple[str, _Method]]] = {
    "denoise": _DENOISERS,
    "dejpeg": _DENOISERS,
    "inpaint": _INPAINTERS,
    "fill": _INPAINTERS,
    "reconstruct": _INPAINTERS,
    "superres": [("bicubic", lambda y, m, s, sigma: baselines.bicubic_upsample(y, s))],
    "flash": [],
}


def run_classical(task: str, observed: np.ndarray, *, mask: np.ndarray | None = None, scale: int | None = None,
                  sigma: float | None = None, ground_truth: np.ndarray | None = None) -> dict[str, dict[str, Any]]:
    """Run the task's classical methods; returns ``{name: {"image", "seconds", "gt"?}}``.

    ``sigma`` (noise std on [0, 1]) is estimated from the image when not given, as a user without the
    ground truth would have to.
    """
    if sigma is None and task in ("denoise", "dejpeg"):
        sigma = baselines.estimate_noise_sigma(observed)
    out: dict[str, dict[str, Any]] = {}
    for name, method in METHODS[task]:
        start = time.perf_counter()
        img = method(observed, mask, scale, sigma or 0.0)
        entry: dict[str, Any] = {"image": img, "seconds": round(time.perf_counter() - start, 3)}
        if sigma is not None:
            entry["sigma"] = sigma
        if ground_truth is not None and ground_truth.shape == img.shape:
            entry["gt"] = metrics.scores(metrics.quantize(img), ground_truth)
            if task == "superres":
                entry["gt"]["psnr_y"] = metrics.psnr_y(metrics.quantize(img), ground_truth)
        out[name] = entry
    return out
