"""The operator interface: a task is a degradation ``A``, and every task fits ``||A(net(z)) - y||^2``.

Each operator is a pure tensor function with a thin :class:`torch.nn.Module` wrapper whose masks and kernels are
buffers, so ``.to(device)`` moves them. ``known`` tells the loss which measured values count (``None``: all).
"""

from __future__ import annotations

import torch
from torch import nn


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
