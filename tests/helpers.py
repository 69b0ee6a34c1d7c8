"""Tiny synthetic images and a small network config shared by the tests."""

from __future__ import annotations

import numpy as np

# Two scales of 16 channels: fast enough for dozens of steps on 48 px images.
SMALL = dict(channels_down=(16, 16), channels_up=(16, 16), channels_skip=(4, 4), input_channels=8)


def smooth_image(h: int = 48, w: int = 40, c: int = 3, seed: int = 0) -> np.ndarray:
    """A smooth colour image with a few soft shapes, in [0, 1]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([0.3 + 0.4 * xx, 0.3 + 0.4 * yy, 0.5 + 0.2 * np.sin(4 * xx)], -1)[..., :c]
    for _ in range(3):
        cy, cx, r = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.2)
        img += 0.2 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / r**2)[..., None]
    return np.clip(img, 0, 1).astype(np.float32)
