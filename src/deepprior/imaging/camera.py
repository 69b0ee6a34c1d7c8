"""Camera-like noise with a known ground truth: what a phone or camera photo carries, not white Gaussian noise.

A sensor counts photons at each photosite behind a colour filter (Bayer, RGGB): the count's noise grows with
the light (shot noise, variance proportional to the signal) on top of a constant read noise. Demosaicing
interpolates the two colours each photosite did not measure from its neighbours, which spreads every
photosite's noise over its neighbours and across the channels: the noise becomes spatially correlated. The
camera then applies its tone curve (sRGB's, here) and saves a JPEG, which smooths what is left of the finest
detail. :func:`camera_noise` follows these steps on a clean sRGB image; only the noise goes through the
mosaic, so the clean image itself is neither demosaiced nor blurred and stays the ground truth.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import convolve

from .degrade import jpeg_roundtrip

#: Share of the noise variance at mid-grey that is shot noise (the rest is read noise).
SHOT_SHARE = 0.8
#: The JPEG quality a camera saves at.
JPEG_QUALITY = 90

_GREEN = np.array([[0, 0.25, 0], [0.25, 1, 0.25], [0, 0.25, 0]])
_RED_BLUE = np.array([[0.25, 0.5, 0.25], [0.5, 1, 0.5], [0.25, 0.5, 0.25]])


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """The sRGB tone curve, undone."""
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """The sRGB tone curve."""
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)


def bayer_channels(h: int, w: int) -> np.ndarray:
    """The colour (0 red, 1 green, 2 blue) each photosite of an RGGB mosaic measures, (h, w)."""
    cfa = np.ones((h, w), np.int64)
    cfa[0::2, 0::2], cfa[1::2, 1::2] = 0, 2
    return cfa


def demosaic(mosaic: np.ndarray, cfa: np.ndarray) -> np.ndarray:
    """Bilinear demosaicing of an (h, w) mosaic: each colour where it was not measured is the mean of its
    nearest measurements (the standard kernels). Returns (h, w, 3)."""
    out = []
    for c, kernel in ((0, _RED_BLUE), (1, _GREEN), (2, _RED_BLUE)):
        out.append(convolve(np.where(cfa == c, mosaic, 0.0), kernel, mode="mirror"))
    return np.stack(out, -1)


def _variance_at_mid_grey(level: float) -> float:
    """The linear-light noise variance at a photosite that gives about ``level`` (0-255 scale) of noise std at
    mid-grey in the final image: demosaicing keeps 0.58 of the variance on average (measured pixels keep all
    of it, interpolated ones a half or a quarter), and the tone curve's slope at mid-grey is 1.08."""
    return (level / 255.0 / 1.08) ** 2 / 0.58


def camera_noise(img: np.ndarray, level: float, seed: int, jpeg: int | None = JPEG_QUALITY) -> np.ndarray:
    """``img`` (H, W, C) in [0, 1], sRGB, as a camera would have recorded it with noise of about ``level``
    (std on the 0-255 scale at mid-grey): shot and read noise on a Bayer mosaic in linear light, bilinear
    demosaicing of that noise, the sRGB tone curve, 8 bits and a JPEG at ``jpeg`` quality (None: no JPEG).
    Greyscale images have no mosaic: their noise stays white until the JPEG. Seeded."""
    rng = np.random.default_rng(seed)
    img = np.asarray(img, np.float64)
    h, w, c = img.shape
    lin = srgb_to_linear(img)
    mid = srgb_to_linear(np.float64(0.5))
    var_mid = _variance_at_mid_grey(level)
    shot, read = SHOT_SHARE * var_mid / mid, (1 - SHOT_SHARE) * var_mid
    if c == 3:
        cfa = bayer_channels(h, w)
        measured = np.take_along_axis(lin, cfa[..., None], axis=-1)[..., 0]
        noise = demosaic(rng.standard_normal((h, w)) * np.sqrt(shot * measured + read), cfa)
    else:
        noise = rng.standard_normal((h, w, 1)) * np.sqrt(shot * lin + read) * np.sqrt(0.58)
    out = linear_to_srgb(lin + noise).astype(np.float32)
    out = np.round(out * 255) / 255  # the camera's 8 bits
    return jpeg_roundtrip(out, jpeg) if jpeg else out.astype(np.float32)
