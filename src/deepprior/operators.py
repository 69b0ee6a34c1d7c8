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

from typing import Callable

import torch
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

    def __init__(self) -> None:
        super().__init__()
        # A buffer even when None, so subclasses assign it and .to(device) moves it.
        self.register_buffer("known", None)

    def observe(self, clean: torch.Tensor) -> torch.Tensor:
        """The noise-free observation ``A(clean)`` (used to simulate a corruption with a known ground truth)."""
        return self(clean)


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


OPERATORS: dict[str, Callable[..., Operator]] = {"identity": Identity, "mask": Mask}


def make_operator(name: str, **kwargs: object) -> Operator:
    """Build a registered operator by name, e.g. ``make_operator("mask", mask=m)``."""
    if name not in OPERATORS:
        raise InputError(f"unknown operator {name!r}; choose one of {', '.join(OPERATORS)}")
    return OPERATORS[name](**kwargs)
