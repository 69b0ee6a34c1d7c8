"""Super-resolution: Lanczos-2 blur and subsampling, the paper's downsampler."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..errors import InputError
from .base import Operator


def lanczos_kernel(factor: int, support: int = 2) -> torch.Tensor:
    """1-D Lanczos kernel of the paper's downsampler: width ``4 * factor``, phase 0.5, normalised to sum 1.

    The paper's code builds the 2-D kernel as the product of this kernel with itself (``lanczos2``,
    ``phase=0.5``), so applying it separably is the same operator at a fraction of the cost.
    """
    width = 4 * factor  # kernel_width 4f + 1 with phase 0.5 gives 4f taps
    center = (4 * factor + 2) / 2.0
    taps = []
    for i in range(1, width + 1):
        d = abs(i + 0.5 - center) / factor
        v = 1.0 if d == 0 else support * math.sin(math.pi * d) * math.sin(math.pi * d / support) / (math.pi * d) ** 2
        taps.append(v)
    k = torch.tensor(taps, dtype=torch.float64)
    return (k / k.sum()).float()


def lanczos_downsample(x: torch.Tensor, factor: int, kernel: torch.Tensor | None = None) -> torch.Tensor:
    """Downsample by an integer ``factor`` with the paper's Lanczos-2 kernel.

    Replication padding of ``1.5 * factor`` px keeps the output at exactly ``H / factor`` x ``W / factor``
    (the paper's ``preserve_size``); the two 1-D passes are strided depthwise convolutions.

    Shape:
        - x: (N, C, H, W) with H, W multiples of ``factor``.
        - Output: (N, C, H / factor, W / factor).
    """
    k = lanczos_kernel(factor) if kernel is None else kernel
    k = k.to(device=x.device, dtype=x.dtype)
    c = x.shape[1]
    pad = (len(k) - factor) // 2
    x = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), stride=(1, factor), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), stride=(factor, 1), groups=c)


class Downsample(Operator):
    """``A(x) = (k * x) downarrow_f``: Lanczos-2 blur and subsampling by ``factor`` (super-resolution).

    The network produces the high-resolution image (``factor`` times the observation's size); the loss
    compares its downsampled version with the low-resolution input. ``deepprior degrade --downscale`` uses
    the same operator, so simulated inputs match exactly.
    """

    def __init__(self, factor: int) -> None:
        super().__init__()
        if factor not in (2, 3, 4, 8, 16):
            raise InputError(f"super-resolution factor must be 2, 4 or 8 (or 3, 16); got {factor}", setting="scale")
        self.factor = factor
        self.register_buffer("kernel", lanczos_kernel(factor))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2] % self.factor or x.shape[-1] % self.factor:
            raise InputError(f"image size {x.shape[-1]}x{x.shape[-2]} is not a multiple of {self.factor}")
        return lanczos_downsample(x, self.factor, self.kernel)

    def out_size(self, height: int, width: int) -> tuple[int, int]:
        return height * self.factor, width * self.factor
