"""The noise level of an image, estimated without a ground truth, and whether the noise is white.

Three estimates answer different questions. scikit-image's wavelet estimate reads the finest scale of the image,
where white noise has its share of power and a smooth photo has little; fine texture adds to it (baboon at sigma
25: 27.4), and it reads low for noise that demosaicing and JPEG have spread over neighbouring pixels (2-3x low
on camera-like noise). The patch estimate reads the directions of patch space the image leaves empty, which
white noise fills evenly: texture fills few of them (baboon: 25.7). The flat-block estimate reads the variance of
pixels themselves in the flattest 8 x 8 blocks: it sees correlated noise whole, and texture pushes it up. The
flat-block over wavelet ratio says which kind of noise an image has: about 1 for white noise, about 2 or more for
camera noise (docs/stopping.md#camera-noise).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Flat-block over wavelet estimate from which the noise counts as correlated. White noise measured 0.99-1.08
#: on the 9 denoising crops; camera-like noise 1.5-2.9 (docs/stopping.md#camera-noise).
CORRELATED_RATIO = 1.6


def estimate_noise_sigma(img: np.ndarray) -> float:
    """Noise std (on [0, 1]) of an image with additive white Gaussian noise (scikit-image's wavelet estimate).

    It assumes white noise: on camera noise, correlated by demosaicing, it reads low.
    """
    from skimage.restoration import estimate_sigma

    return float(estimate_sigma(img, channel_axis=-1, average_sigmas=True))


def patch_noise_sigma(img: np.ndarray, patch: int = 5, max_patches: int = 200_000) -> float:
    """Noise std (on [0, 1]) of an image with additive white noise, from the eigenvalues of the covariance of
    its ``patch`` x ``patch`` patches (all channels in one vector; Chen, Zhu and Heng, ICCV 2015). White noise adds
    its variance to every eigenvalue, the image only to a few, so the noise's variance is the mean of the largest
    set of smallest eigenvalues whose mean is also their median. Patches on a grid of at most about
    ``max_patches`` (every one up to about 450 x 450 px), their sums gathered a band of rows at a time so memory
    stays small on large photos. With fewer than ten patches per dimension the eigenvalues are too noisy, and
    the wavelet estimate answers instead."""
    from numpy.lib.stride_tricks import sliding_window_view

    x = np.asarray(img, np.float64)
    h, w, c = x.shape
    dim = c * patch * patch
    rows, cols = h - patch + 1, w - patch + 1
    stride = max(1, math.ceil(math.sqrt(max(rows, 0) * max(cols, 0) / max_patches)))
    if rows < 1 or cols < 1 or ((rows - 1) // stride + 1) * ((cols - 1) // stride + 1) < 10 * dim:
        return estimate_noise_sigma(img)
    windows = sliding_window_view(x, (patch, patch), axis=(0, 1))[::stride, ::stride]  # (R, C, c, p, p), a view
    total, gram, n = np.zeros(dim), np.zeros((dim, dim)), 0
    band = max(1, 20_000 // windows.shape[1])
    for r in range(0, windows.shape[0], band):
        block = windows[r:r + band].reshape(-1, dim)
        total += block.sum(axis=0)
        gram += block.T @ block
        n += len(block)
    mean = total / n
    eigen = np.sort(np.linalg.eigvalsh(gram / n - np.outer(mean, mean)))
    for k in range(dim, 0, -1):
        level = eigen[:k].mean()
        if (eigen[:k] > level).sum() == (eigen[:k] < level).sum():
            break
    return float(math.sqrt(max(level, 0.0)))


def flat_block_sigma(img: np.ndarray, block: int = 8, quantile: float = 0.1) -> float:
    """Noise std (on [0, 1]) from the flattest blocks: each ``block`` x ``block`` block's sample variance per
    channel (its mean removed), their ``quantile``, corrected for that quantile's bias under white noise (a
    chi-square of block**2 - 1 degrees of freedom). Robust to spatially correlated noise; texture raises it."""
    from scipy.stats import chi2

    h, w, c = img.shape
    hb, wb = h // block, w // block
    if hb < 1 or wb < 1:
        return estimate_noise_sigma(img)
    blocks = img[:hb * block, :wb * block].reshape(hb, block, wb, block, c).transpose(0, 2, 4, 1, 3)
    variances = blocks.reshape(-1, block * block).var(axis=1, ddof=1)
    dof = block * block - 1
    return float(math.sqrt(np.quantile(variances, quantile) / (chi2.ppf(quantile, dof) / dof)))


@dataclass(frozen=True)
class NoiseEstimate:
    """What an image's noise looks like: its ``model`` ("white" or "correlated"), the level each estimate gives
    (std on [0, 1]), and their ratio (flat-block over wavelet)."""

    model: str
    wavelet: float
    flat_blocks: float

    @property
    def ratio(self) -> float:
        return self.flat_blocks / max(self.wavelet, 1e-12)


def estimate_noise(img: np.ndarray) -> NoiseEstimate:
    """Both estimates of ``img`` and the model their ratio says."""
    wavelet, flat = estimate_noise_sigma(img), flat_block_sigma(img)
    model = "correlated" if flat >= CORRELATED_RATIO * wavelet else "white"
    return NoiseEstimate(model, wavelet, flat)
