"""PSNR, SSIM and MSE on images in [0, 1] (data range 1, i.e. 255 on the 8-bit scale).

Arrays are (H, W, C) float; SSIM comes from scikit-image. ``known`` restricts MSE / PSNR to measured pixels
(a bool (H, W) mask) when scoring against an observation with missing pixels.
"""

from __future__ import annotations

import math

import numpy as np
from skimage.metrics import structural_similarity


def quantize(x: np.ndarray) -> np.ndarray:
    """Round to the 8-bit grid, as the written PNG will be (the paper scores its 8-bit outputs)."""
    return np.round(np.clip(x, 0.0, 1.0) * 255.0) / 255.0


def mse(a: np.ndarray, b: np.ndarray, known: np.ndarray | None = None) -> float:
    """Mean squared error, over the ``known`` pixels only when a mask is given."""
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch {a.shape} vs {b.shape}")
    d = (a.astype(np.float64) - b.astype(np.float64)) ** 2
    if known is not None:
        return float(d[known].mean()) if known.any() else float("nan")
    return float(d.mean())


def psnr_from_mse(err: float) -> float:
    """PSNR in dB for data range 1; infinite for a perfect match."""
    if not math.isfinite(err):
        return float("nan")
    return float("inf") if err <= 0 else -10.0 * math.log10(err)


def psnr(a: np.ndarray, b: np.ndarray, known: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio in dB (data range 1)."""
    return psnr_from_mse(mse(a, b, known))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Structural similarity (scikit-image, Gaussian-free 7x7 window, data range 1), mean over channels."""
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    win = min(7, a.shape[0], a.shape[1])
    win -= 1 - win % 2  # scikit-image needs an odd window no larger than the image
    return float(structural_similarity(a, b, data_range=1.0, channel_axis=-1, win_size=win))


def scores(x: np.ndarray, ref: np.ndarray, known: np.ndarray | None = None) -> dict[str, float]:
    """``{"psnr", "ssim", "mse"}`` of ``x`` against ``ref``; MSE/PSNR over ``known`` pixels when given."""
    err = mse(x, ref, known)
    return {"psnr": psnr_from_mse(err), "ssim": ssim(x, ref), "mse": err}


def psnr_y(a: np.ndarray, b: np.ndarray, border: int = 4) -> float:
    """The super-resolution protocol of the paper: PSNR on the luma channel with a ``border`` px frame removed.

    Y = 0.299 R + 0.587 G + 0.114 B, then Y' = (219 Y + 16) / 255 (MATLAB's studio range) on [0, 1] data.
    Greyscale images are their own luma.
    """

    def luma(x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float64)
        y = x[..., 0] if x.shape[-1] == 1 else x[..., :3] @ np.array([0.299, 0.587, 0.114])
        y = (219.0 * y + 16.0) / 255.0
        return y[border:-border, border:-border] if border else y

    return psnr(luma(a), luma(b))
