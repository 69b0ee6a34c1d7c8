"""Networks, built by name through a small registry (``build_net("skip", cfg, out_channels)``)."""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from ..config import NetConfig
from ..errors import InputError
from .layers import init_weights
from .skip import SkipNet

NETS: dict[str, Callable[[NetConfig, int], nn.Module]] = {"skip": SkipNet}


def build_net(name: str, cfg: NetConfig, out_channels: int, *, generator: torch.Generator) -> nn.Module:
    """Build a registered network with weights drawn from ``generator``."""
    if name not in NETS:
        raise InputError(f"unknown network {name!r}; choose one of {', '.join(NETS)}")
    net = NETS[name](cfg, out_channels)
    init_weights(net, generator)
    if cfg.freeze_convs:
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                m.requires_grad_(False)
    return net


def check_size(cfg: NetConfig, height: int, width: int) -> None:
    """Refuse images too small for the network's depth (the coarsest scale needs at least 2 px a side)."""
    coarsest = min(math.ceil(height / 2**cfg.scales), math.ceil(width / 2**cfg.scales))
    pad = max(cfg.kernel_down, cfg.kernel_up) // 2
    if coarsest < max(2, pad + 1):
        need = 2**cfg.scales * max(2, pad + 1)
        raise InputError(
            f"image of {width}x{height} is too small for a {cfg.scales}-scale network (needs about {need} px "
            f"a side); use fewer scales or a larger image"
        )


def make_input(cfg: NetConfig, height: int, width: int, *, generator: torch.Generator,
               device: torch.device, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The fixed network input: uniform noise in [0, input_scale] or an x/y meshgrid in [0, 1].

    A guide-image input (``cfg.input == "image"``) is the caller's image itself and is not made here.

    Shape:
        - Output: (1, cfg.in_channels, height, width).
    """
    if cfg.input == "image":
        raise ValueError("an image input is given by the caller, not generated")
    if cfg.input == "meshgrid":
        ys = torch.linspace(0, 1, height, device=device, dtype=dtype)
        xs = torch.linspace(0, 1, width, device=device, dtype=dtype)
        yy, xx = torch.meshgrid(ys, xs, indexing="ij")
        return torch.stack([xx, yy])[None]
    z = torch.rand((1, cfg.input_channels, height, width), generator=generator, device=device, dtype=dtype)
    return z * cfg.input_scale


__all__ = ["NETS", "build_net", "check_size", "make_input", "SkipNet"]
