"""Masks: ``A(x) = m * x`` for inpainting, hole filling and pixel drop.

Examples
--------
>>> import torch
>>> op = Mask(torch.tensor([[1.0, 0.0]]))
>>> op(torch.tensor([[[[0.5, 0.7]]]]))
tensor([[[[0.5000, 0.0000]]]])
"""

from __future__ import annotations

import torch

from ..errors import InputError
from .base import Operator


def apply_mask(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``A(x) = m * x``: keep the known pixels, zero the missing ones.

    Shape:
        - x: (N, C, H, W); mask: (H, W), (1, 1, H, W) or (1, C, H, W), 1 = known.
    """
    return x * mask


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
