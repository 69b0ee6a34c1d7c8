"""Task presets: which operator a task uses and the paper's network and fitting settings for it.

Values are those of the authors' public code (see ``shared/PAPER.md``); each preset names its source.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import FitConfig, NetConfig
from .errors import InputError


@dataclass(frozen=True)
class Preset:
    """A task: its operator, network and fitting settings, and where the values come from."""

    task: str
    operator: str
    net: NetConfig
    fit: FitConfig
    needs_mask: bool
    source: str


_FIVE = (128,) * 5

PRESETS: dict[str, Preset] = {
    "denoise": Preset(
        "denoise", "identity",
        NetConfig(upsample="bilinear"),
        FitConfig(iterations=3000, lr=0.01, reg_noise_std=1 / 30, ema_weight=0.99, result="ema"),
        needs_mask=False,
        source="paper, Gaussian denoising of F16 (sigma 25); use reg_noise_std 1/20 for sigma 50",
    ),
    "inpaint": Preset(
        "inpaint", "mask",
        NetConfig(channels_skip=_FIVE, upsample="nearest"),
        FitConfig(iterations=6000, lr=0.01, reg_noise_std=0.03, ema_weight=0.99, result="ema"),
        needs_mask=True,
        source="paper, text inpainting of kate: 128 x 5, skips 128 x 5, nearest upsampling",
    ),
    "fill": Preset(
        "fill", "mask",
        NetConfig(channels_skip=(0,) * 5, upsample="nearest", input="meshgrid"),
        FitConfig(iterations=5000, lr=0.01, reg_noise_std=0.03, ema_weight=0.99, result="best"),
        needs_mask=True,
        source="paper, hole filling of vase: meshgrid input, no skips, nearest; keeps the best output by loss",
    ),
    "reconstruct": Preset(
        "reconstruct", "mask",
        NetConfig(upsample="bilinear"),
        FitConfig(iterations=11000, lr=0.001, reg_noise_std=0.03, ema_weight=0.99, result="ema"),
        needs_mask=True,
        source="paper, barbara from 50 % of pixels: standard net, bilinear, lr 0.001",
    ),
}


def get_preset(task: str) -> Preset:
    """The preset of a task, or a clear error naming the tasks there are."""
    if task not in PRESETS:
        raise InputError(f"unknown task {task!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[task]
