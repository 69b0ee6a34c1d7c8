"""The noise level of an image, estimated without a ground truth."""

from __future__ import annotations

import numpy as np


def estimate_noise_sigma(img: np.ndarray) -> float:
    """Noise std (on [0, 1]) of an image with additive white Gaussian noise (scikit-image's wavelet estimate).

    It assumes white noise: on camera noise, correlated by demosaicing, it reads low.
    """
    from skimage.restoration import estimate_sigma

    return float(estimate_sigma(img, channel_axis=-1, average_sigmas=True))
