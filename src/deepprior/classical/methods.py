"""The classical methods users pick instead of DIP: CBM3D, non-local means, biharmonic inpainting, bicubic,
Richardson-Lucy and Wiener deconvolution."""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..errors import InputError


def bicubic_upsample(img: np.ndarray, factor: int) -> np.ndarray:
    """Bicubic upsampling (Pillow, a = -0.5, as MATLAB's ``imresize``) of an (h, w, C) image in [0, 1].

    Each channel is resized in 32-bit float, so no 8-bit rounding happens before scoring.
    """
    h, w, c = img.shape
    size = (w * factor, h * factor)
    chans = [np.asarray(Image.fromarray(img[..., i].astype(np.float32), mode="F").resize(size, Image.BICUBIC))
             for i in range(c)]
    return np.clip(np.stack(chans, -1), 0.0, 1.0).astype(np.float32)


def cbm3d(noisy: np.ndarray, sigma: float, threads: int = 0) -> np.ndarray:
    """(C)BM3D denoising with noise std ``sigma`` on [0, 1] (the ``bm3d`` package).

    ``threads``: 0 = as many as the machine has, whose sums land in varying order (results differ by up to
    1e-6 from one call to the next on small images); 1 = the same result every time."""
    return _bm3d(noisy, sigma, threads)


def _bm3d(noisy: np.ndarray, noise: float | np.ndarray, threads: int) -> np.ndarray:
    try:
        import bm3d
    except ImportError:
        raise InputError("CBM3D needs the bm3d package: pip install bm3d") from None
    profile = bm3d.BM3DProfile()
    profile.num_threads = threads
    if noisy.shape[2] == 3:
        out = bm3d.bm3d_rgb(noisy, sigma_psd=noise, profile=profile)
    else:
        grey = noise if np.ndim(noise) == 0 else noise[..., 0]
        out = bm3d.bm3d(noisy[..., 0], sigma_psd=grey, profile=profile)[..., None]
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def noise_spectrum(residual: np.ndarray, smooth: float = 2.0) -> np.ndarray:
    """The power spectrum of the noise in ``residual`` (H, W, C), as bm3d takes it: ``E|FFT(noise)|^2`` per
    channel, unnormalised (its mean over frequencies is H * W times the noise variance), estimated by the
    residual's periodogram smoothed over neighbouring frequencies (wrapping round, as the FFT does)."""
    from scipy.ndimage import gaussian_filter

    r = residual.astype(np.float64) - residual.mean(axis=(0, 1))
    power = np.abs(np.fft.fft2(r, axes=(0, 1))) ** 2
    return np.stack([gaussian_filter(power[..., c], smooth, mode="wrap") for c in range(r.shape[2])], -1)


def cbm3d_spectrum(noisy: np.ndarray, spectrum: np.ndarray, threads: int = 0) -> np.ndarray:
    """(C)BM3D told the noise's power spectrum (:func:`noise_spectrum`; one per channel) instead of one level:
    bm3d's filters for correlated noise, as demosaicing and JPEG leave it. ``threads`` as :func:`cbm3d`'s."""
    if not hasattr(np, "trapz"):  # bm3d 4.0.3 reads a spectrum with np.trapz, which numpy 2.4 removed
        np.trapz = np.trapezoid
    return _bm3d(noisy, spectrum, threads)


def nlm(noisy: np.ndarray, sigma: float) -> np.ndarray:
    """Non-local means (scikit-image, fast mode, h = 0.8 sigma as its documentation suggests)."""
    from skimage.restoration import denoise_nl_means

    out = denoise_nl_means(noisy, h=0.8 * sigma, sigma=sigma, fast_mode=True, patch_size=5, patch_distance=6,
                           channel_axis=-1)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def biharmonic(img: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Biharmonic inpainting of the missing pixels (scikit-image); known pixels are kept."""
    from skimage.restoration import inpaint_biharmonic

    out = inpaint_biharmonic(img, ~known, channel_axis=-1)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def _per_channel(img: np.ndarray, kernel: np.ndarray, fn) -> np.ndarray:
    """``fn`` on each channel, mirrored at its borders by the kernel's size first and cropped back after: both
    deconvolutions otherwise assume zeros (Richardson-Lucy) or a wrap-around (Wiener) beyond the edges, and ring
    there."""
    p = max(kernel.shape)
    out = []
    for c in range(img.shape[2]):
        ch = np.pad(img[..., c].astype(np.float64), p, mode="reflect")
        out.append(fn(ch)[p:-p, p:-p])
    return np.clip(np.stack(out, -1), 0.0, 1.0).astype(np.float32)


def richardson_lucy(img: np.ndarray, kernel: np.ndarray, iterations: int = 30) -> np.ndarray:
    """Richardson-Lucy deconvolution (scikit-image) with ``kernel``, per channel; ``iterations`` trades
    sharpness against amplified noise (scikit-image's examples use 30)."""
    from skimage.restoration import richardson_lucy as rl

    return _per_channel(img, kernel, lambda ch: rl(ch, kernel.astype(np.float64), num_iter=iterations))


def wiener(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Wiener deconvolution with its regularisation estimated from the image (scikit-image's
    ``unsupervised_wiener``), per channel."""
    from skimage.restoration import unsupervised_wiener

    return _per_channel(img, kernel, lambda ch: unsupervised_wiener(ch, kernel.astype(np.float64), rng=0)[0])
