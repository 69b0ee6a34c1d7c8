"""The paper's hourglass network ("skip"): an encoder-decoder with optional skip connections."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import NetConfig
from .layers import act, conv, norm


class _Scale(nn.Module):
    """One scale of the hourglass: the skip branch, the deeper branch (down, next scale, up) and the merge.

    The deeper branch is upsampled to the exact size of this scale's input, so any image size works (the
    paper's code needs sizes divisible by 2**scales and crops the input instead).
    """

    def __init__(self, in_ch: int, i: int, cfg: NetConfig, deeper: nn.Module | None) -> None:
        super().__init__()
        down, up, skip = cfg.channels_down[i], cfg.channels_up[i], cfg.channels_skip[i]
        bn, slope = cfg.batch_norm, cfg.act_slope
        self.skip = None
        if skip:
            self.skip = nn.Sequential(conv(in_ch, skip, cfg.kernel_skip, padding=cfg.padding), norm(skip, bn),
                                      act(slope))
        self.down = nn.Sequential(
            conv(in_ch, down, cfg.kernel_down, stride=2, padding=cfg.padding, downsample=cfg.downsample),
            norm(down, bn), act(slope),
            conv(down, down, cfg.kernel_down, padding=cfg.padding), norm(down, bn), act(slope),
        )
        self.deeper = deeper
        self.mode = cfg.upsample if isinstance(cfg.upsample, str) else cfg.upsample[i]
        merged = skip + (cfg.channels_up[i + 1] if deeper is not None else down)
        layers = [norm(merged, bn), conv(merged, up, cfg.kernel_up, padding=cfg.padding), norm(up, bn), act(slope)]
        if cfg.need_1x1_up:
            layers += [conv(up, up, 1), norm(up, bn), act(slope)]
        self.up = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self.down(x)
        if self.deeper is not None:
            d = self.deeper(d)
        align = False if self.mode == "bilinear" else None
        d = F.interpolate(d, size=x.shape[-2:], mode=self.mode, align_corners=align)
        if self.skip is not None:
            d = torch.cat([self.skip(x), d], dim=1)
        return self.up(d)


class SkipNet(nn.Module):
    """Encoder-decoder of the Deep Image Prior paper, every part set by a :class:`NetConfig`.

    Each scale: down = conv(stride 2) -> BN -> LeakyReLU -> conv -> BN -> LeakyReLU; skip = conv1x1 -> BN ->
    LeakyReLU; up = BN -> conv -> BN -> LeakyReLU [-> conv1x1 -> BN -> LeakyReLU]. Output: conv1x1 [-> sigmoid].
    With the default config and RGB output it has the paper's 2,217,831 parameters.

    Shape:
        - Input: (N, cfg.in_channels, H, W), any H, W with ceil(side / 2**scales) >= 2.
        - Output: (N, out_channels, H, W).
    """

    def __init__(self, cfg: NetConfig, out_channels: int) -> None:
        super().__init__()
        self.cfg = cfg
        deeper: nn.Module | None = None
        for i in reversed(range(cfg.scales)):
            in_ch = cfg.in_channels if i == 0 else cfg.channels_down[i - 1]
            deeper = _Scale(in_ch, i, cfg, deeper)
        self.body = deeper
        self.input_norm = nn.BatchNorm2d(cfg.in_channels) if cfg.input_norm else nn.Identity()
        self.head = conv(cfg.channels_up[0], out_channels, 1)
        self.sigmoid = cfg.sigmoid

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.body(self.input_norm(z))
        # The 1x1 head and sigmoid run in float32 even under autocast: they are cheap, and bfloat16's
        # 8-bit mantissa would otherwise quantise the output about as coarsely as the 8-bit image itself.
        with torch.autocast(z.device.type, enabled=False):
            y = self.head(h.float())
        return torch.sigmoid(y) if self.sigmoid else y
