"""Degradation operators: a task is an operator ``A``, and every task fits ``||A(net(z)) - y||^2``.

Each operator is a pure tensor function with a thin :class:`torch.nn.Module` wrapper whose masks are buffers,
so ``.to(device)`` moves them. ``known`` tells the loss which measured values count (``None``: all).

Examples
--------
>>> import torch
>>> op = Mask(torch.tensor([[1.0, 0.0]]))
>>> op(torch.tensor([[[[0.5, 0.7]]]]))
tensor([[[[0.5000, 0.0000]]]])
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .errors import InputError


def apply_mask(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``A(x) = m * x``: keep the known pixels, zero the missing ones.

    Shape:
        - x: (N, C, H, W); mask: (H, W), (1, 1, H, W) or (1, C, H, W), 1 = known.
    """
    return x * mask


class Operator(nn.Module):
    """Base class: ``forward(x)`` is ``A(x)``; ``known`` marks the measured values the loss compares."""

    #: Whether some pixels are observed as they are (see :meth:`keep_measured`).
    keeps_pixels = False

    def __init__(self) -> None:
        super().__init__()
        # A buffer even when None, so subclasses assign it and .to(device) moves it.
        self.register_buffer("known", None)

    def observe(self, clean: torch.Tensor) -> torch.Tensor:
        """The noise-free observation ``A(clean)`` (used to simulate a corruption with a known ground truth)."""
        return self(clean)

    def out_size(self, height: int, width: int) -> tuple[int, int]:
        """Size of the image the network must produce for an observation of ``height`` x ``width``."""
        return height, width

    def keep_measured(self, x: torch.Tensor, observation: torch.Tensor) -> torch.Tensor:
        """``x`` with the values the operator measures exactly replaced by the observation's.

        Only an operator that observes some pixels as they are (``keeps_pixels``: :class:`Mask`) has such
        values; the others return ``x`` unchanged (a blur or a noisy copy fixes no pixel of the image).
        """
        return x


class Identity(Operator):
    """``A(x) = x``: denoising, where the corruption is noise on every pixel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class Mask(Operator):
    """``A(x) = m * x`` with a binary mask ``m`` (1 = known): inpainting, hole filling, pixel drop.

    Parameters
    ----------
    mask : torch.Tensor
        (H, W) mask, 1 = known, 0 = missing. Stored as a (1, 1, H, W) float buffer.
    """

    keeps_pixels = True

    def __init__(self, mask: torch.Tensor) -> None:
        super().__init__()
        if mask.ndim != 2:
            raise InputError(f"mask must be 2-D (H, W), got shape {tuple(mask.shape)}")
        self.known = mask.to(torch.float32)[None, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != self.known.shape[-2:]:
            raise InputError(f"mask is {self.known.shape[-1]}x{self.known.shape[-2]} but the image is "
                             f"{x.shape[-1]}x{x.shape[-2]}")
        return apply_mask(x, self.known)

    def keep_measured(self, x: torch.Tensor, observation: torch.Tensor) -> torch.Tensor:
        """The known pixels from ``observation``, the missing ones from ``x`` (noise-free masks: the known
        pixels are the answer, so only the missing ones are the network's to fill)."""
        return torch.where(self.known > 0.5, observation.to(x.dtype), x)


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
            raise InputError(f"super-resolution factor must be 2, 4 or 8 (or 3, 16); got {factor}")
        self.factor = factor
        self.register_buffer("kernel", lanczos_kernel(factor))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2] % self.factor or x.shape[-1] % self.factor:
            raise InputError(f"image size {x.shape[-1]}x{x.shape[-2]} is not a multiple of {self.factor}")
        return lanczos_downsample(x, self.factor, self.kernel)

    def out_size(self, height: int, width: int) -> tuple[int, int]:
        return height * self.factor, width * self.factor


OPERATORS: dict[str, Callable[..., Operator]] = {"identity": Identity, "mask": Mask, "downsample": Downsample}


def make_operator(name: str, **kwargs: object) -> Operator:
    """Build a registered operator by name, e.g. ``make_operator("mask", mask=m)``."""
    if name not in OPERATORS:
        raise InputError(f"unknown operator {name!r}; choose one of {', '.join(OPERATORS)}")
    return OPERATORS[name](**kwargs)
