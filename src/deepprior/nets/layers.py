"""Layer factories shared by the networks: padded convolutions, activations, normalisation."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class ReflectionPad(nn.Module):
    """Mirror padding that keeps its input's dtype under autocast.

    CPU autocast runs ``reflection_pad2d`` in float32, so every padded bfloat16 activation was copied up to
    float32 and back down by the convolution after it (two copies per 3x3 convolution, and the padding itself on
    twice the bytes). Padding only copies values, so the forward pass is unchanged; the backward pass now adds the
    gradients of mirrored border pixels in bfloat16 rather than float32, a rounding difference at the borders.
    """

    def __init__(self, pad: int) -> None:
        super().__init__()
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return F.pad(x, (self.pad,) * 4, mode="reflect")

    def extra_repr(self) -> str:
        return f"pad={self.pad}"


def conv(in_ch: int, out_ch: int, kernel: int, *, stride: int = 1, padding: str = "reflection",
         downsample: str = "stride") -> nn.Module:
    """Convolution that keeps the size (stride 1) or halves it, rounding up (stride 2).

    Reflection padding is a separate layer, as in the paper's code, so the border is mirrored rather than
    zero-filled. With ``downsample`` "avg" or "max" a stride-2 request becomes a stride-1 convolution
    followed by 2x2 pooling (``ceil_mode`` so odd sizes round up like the strided convolution).
    """
    pad = (kernel - 1) // 2
    layers: list[nn.Module] = []
    if pad and padding == "reflection":
        layers.append(ReflectionPad(pad))
    conv_stride = stride if downsample == "stride" else 1
    layers.append(nn.Conv2d(in_ch, out_ch, kernel, stride=conv_stride,
                            padding=pad if padding == "zero" else 0, bias=True))
    if stride == 2 and downsample == "avg":
        layers.append(nn.AvgPool2d(2, ceil_mode=True))
    elif stride == 2 and downsample == "max":
        layers.append(nn.MaxPool2d(2, ceil_mode=True))
    return layers[0] if len(layers) == 1 else nn.Sequential(*layers)


def norm(channels: int, enabled: bool) -> nn.Module:
    """Batch norm (kept in training mode: statistics of the one image) or nothing."""
    return nn.BatchNorm2d(channels) if enabled else nn.Identity()


def act(slope: float) -> nn.Module:
    """LeakyReLU with the given negative slope (paper: 0.2)."""
    return nn.LeakyReLU(slope, inplace=True)


def init_weights(net: nn.Module, generator: torch.Generator) -> None:
    """Re-initialise every convolution from ``generator``, with PyTorch's default distribution.

    PyTorch initialises layers from the global RNG at construction; drawing from an explicit generator makes
    the network a pure function of the seed, whatever else the process has drawn before.
    """
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
            if m.bias is not None:
                fan_in = m.weight.shape[1] * m.weight.shape[2] * m.weight.shape[3]
                bound = 1 / math.sqrt(fan_in)
                with torch.no_grad():
                    m.bias.uniform_(-bound, bound, generator=generator)
