"""Deblurring: ``A(x) = k * x``, convolution with a known blur kernel.

The kernel is normalised to sum 1 and applied per channel; the image is mirrored at its borders first, so the
blurred image has the size of the sharp one and no dark frame (a photo's blur reaches beyond its edges, which a
mirror approximates). ``deepprior degrade --blur`` uses the same operator, so simulated inputs match exactly.

Examples
--------
>>> import torch
>>> op = Blur(gaussian_kernel(1.0))
>>> x = torch.zeros(1, 1, 9, 9); x[..., 4, 4] = 1.0
>>> y = op(x)
>>> tuple(y.shape), round(float(y.sum()), 4), float(y[0, 0, 4, 4]) < 1
((1, 1, 9, 9), 1.0, True)
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError
from .base import Operator

#: The largest kernel side accepted: beyond it a blur is better handled by downscaling first.
MAX_SIDE = 99


def gaussian_kernel(sigma: float) -> np.ndarray:
    """A Gaussian blur of std ``sigma`` px, cut at 3 sigma (an odd side of at least 3), normalised."""
    if not (math.isfinite(sigma) and 0 < sigma <= MAX_SIDE / 6):
        raise InputError(f"a Gaussian blur needs a sigma in (0, {MAX_SIDE / 6:.0f}] px, got {sigma}", setting="kernel")
    r = max(1, math.ceil(3 * sigma))
    t = np.arange(-r, r + 1, dtype=np.float64)
    g = np.exp(-(t**2) / (2 * sigma**2))
    k = np.outer(g, g)
    return (k / k.sum()).astype(np.float32)


def motion_kernel(length: float, angle: float) -> np.ndarray:
    """A straight motion blur: a line of ``length`` px at ``angle`` degrees (0 = horizontal, counter-clockwise),
    drawn with 16 sub-samples per pixel so that any angle is smooth, normalised."""
    if not (math.isfinite(length) and 1 <= length <= MAX_SIDE and math.isfinite(angle)):
        raise InputError(f"a motion blur needs a length from 1 to {MAX_SIDE} px and an angle, got {length}, {angle}",
                         setting="kernel")
    r = math.ceil(length / 2)
    side = 2 * r + 1
    k = np.zeros((side, side), np.float64)
    a = math.radians(angle)
    for s in np.linspace(-length / 2, length / 2, max(2, int(length * 16))):
        x, y = r + s * math.cos(a), r - s * math.sin(a)
        x0, y0 = math.floor(x), math.floor(y)
        for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):  # bilinear splat of the sub-sample
            wx, wy = (1 - abs(x - x0 - dx)), (1 - abs(y - y0 - dy))
            if 0 <= x0 + dx < side and 0 <= y0 + dy < side:
                k[y0 + dy, x0 + dx] += max(wx, 0) * max(wy, 0)
    return (k / k.sum()).astype(np.float32)


def parse_kernel(spec: str) -> np.ndarray:
    """``"gaussian:SIGMA"`` or ``"motion:LENGTH,ANGLE"`` as a kernel (a kernel image is read by the front end)."""
    kind, _, args = spec.partition(":")
    try:
        values = [float(v) for v in args.split(",")] if args else []
    except ValueError:
        values = []
    if kind == "gaussian" and len(values) == 1:
        return gaussian_kernel(values[0])
    if kind == "motion" and len(values) == 2:
        return motion_kernel(*values)
    raise InputError(f"a blur kernel is gaussian:SIGMA, motion:LENGTH,ANGLE or a kernel image; got {spec!r}",
                     setting="kernel")


def check_kernel(kernel: np.ndarray) -> np.ndarray:
    """A kernel as the operator takes it: 2-D, odd sides (padded by a zero row or column), finite, non-negative,
    normalised to sum 1."""
    k = np.asarray(kernel, np.float64)
    if k.ndim != 2 or min(k.shape) < 1 or max(k.shape) > MAX_SIDE:
        raise InputError(f"a blur kernel must be 2-D and at most {MAX_SIDE} px a side; got shape {k.shape}",
                         setting="kernel")
    if not np.isfinite(k).all() or k.min() < 0 or k.sum() <= 0:
        raise InputError("a blur kernel must be finite and non-negative, with some weight", setting="kernel")
    k = np.pad(k, ((0, 1 - k.shape[0] % 2), (0, 1 - k.shape[1] % 2)))
    return (k / k.sum()).astype(np.float32)


def blur(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """``k * x`` per channel, the image mirrored at its borders so the size stays.

    Shape:
        - x: (N, C, H, W) with H and W larger than half the kernel; kernel: (kh, kw), odd sides.
        - Output: (N, C, H, W).
    """
    kh, kw = kernel.shape
    c = x.shape[1]
    padded = F.pad(x, (kw // 2, kw // 2, kh // 2, kh // 2), mode="reflect")
    # conv2d correlates: flip the kernel so this is a convolution (it matters for asymmetric kernels).
    weight = kernel.flip(0, 1).to(x)[None, None].expand(c, 1, kh, kw)
    return F.conv2d(padded, weight, groups=c)


class Blur(Operator):
    """``A(x) = k * x``: a known blur (deblurring).

    Parameters
    ----------
    kernel : numpy.ndarray or torch.Tensor
        (kh, kw), non-negative; normalised to sum 1 (see :func:`check_kernel`). Stored as a buffer.
    """

    def __init__(self, kernel: np.ndarray | torch.Tensor) -> None:
        super().__init__()
        k = kernel.detach().cpu().numpy() if isinstance(kernel, torch.Tensor) else kernel
        self.register_buffer("kernel", torch.from_numpy(check_kernel(k)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kh, kw = self.kernel.shape
        if x.shape[-2] <= kh // 2 or x.shape[-1] <= kw // 2:
            raise InputError(f"image {x.shape[-1]}x{x.shape[-2]} is too small for a {kw}x{kh} blur kernel")
        return blur(x, self.kernel)
