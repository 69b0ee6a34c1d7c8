"""Simulated corruptions with a known ground truth (what ``deepprior degrade`` writes): Gaussian noise, Lanczos
downscaling and blur (the super-resolution and deblurring operators themselves), JPEG compression; camera-like
noise is in :mod:`deepprior.imaging.camera`. Pure functions on (H, W, C) float images in [0, 1], seeded where
random.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from .io import from_tensor, to_tensor, to_uint8
from ..operators import Blur, Downsample


def add_noise(img: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    """Additive white Gaussian noise of std ``sigma`` on the 0-255 scale, clipped to [0, 1]."""
    rng = np.random.default_rng(seed)
    return np.clip(img + rng.normal(0.0, sigma / 255.0, img.shape), 0.0, 1.0).astype(np.float32)


def centre_crop_multiple(img: np.ndarray, f: int) -> np.ndarray:
    """Centre-crop (H, W, C) to the largest multiple of ``f`` on each side."""
    h, w = img.shape[:2]
    top, left = (h % f) // 2, (w % f) // 2
    return img[top:top + h - h % f, left:left + w - w % f]


def downscale_image(hr: np.ndarray, f: int) -> np.ndarray:
    """The low-resolution image that the super-resolution operator sees: Lanczos-2 downsampling by ``f``."""
    return np.clip(from_tensor(Downsample(f)(to_tensor(hr))), 0.0, 1.0)  # Lanczos lobes overshoot at edges


def blur_image(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """The blurred image the deblurring operator sees: ``kernel`` (normalised) over ``img``, borders mirrored."""
    return np.clip(from_tensor(Blur(kernel)(to_tensor(img))), 0.0, 1.0)


def jpeg_roundtrip(img: np.ndarray, quality: int) -> np.ndarray:
    """Compress and decompress with Pillow's JPEG encoder at ``quality`` (4:2:0 chroma, the usual default)."""
    buf = io.BytesIO()
    Image.fromarray(to_uint8(img)[..., 0] if img.shape[2] == 1 else to_uint8(img)).save(
        buf, format="JPEG", quality=quality)
    return load_image_bytes(buf.getvalue())


def load_image_bytes(data: bytes) -> np.ndarray:
    """Decode an encoded 8-bit image to (H, W, C) float in [0, 1]."""
    arr = np.asarray(Image.open(io.BytesIO(data))).astype(np.float32) / 255.0
    return arr[..., None] if arr.ndim == 2 else arr
