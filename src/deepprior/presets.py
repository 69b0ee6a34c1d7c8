"""Task presets: which operator a task uses and the paper's network and fitting settings for it.

Values are those of the authors' public code (see ``shared/PAPER.md``); each preset names its source.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .config import FitConfig, NetConfig
from .errors import InputError


@dataclass(frozen=True)
class Preset:
    """A task: its operator, network and fitting settings, what it needs, and where the values come from.

    ``needs`` lists the extra inputs of the task: "mask" (a binary mask), "scale" (the super-resolution
    factor) or "guide" (an image used as the network input).
    """

    task: str
    operator: str
    net: NetConfig
    fit: FitConfig
    needs: tuple[str, ...]
    source: str
    estimate_noise: bool = False  # estimate the observation's noise level for the discrepancy stop
    tile: int | None = None  # restore(tile="auto") fits tiles of at most this side (px), one per worker

    @property
    def needs_mask(self) -> bool:
        """Whether the task needs a mask."""
        return "mask" in self.needs


_FIVE = (128,) * 5

PRESETS: dict[str, Preset] = {
    "denoise": Preset(
        "denoise", "identity",
        NetConfig(upsample="bilinear"),
        FitConfig(iterations=3000, lr=0.01, reg_noise_std=1 / 30, ema_weight=0.99, result="best"),
        needs=(),
        source="paper, Gaussian denoising of F16 (sigma 25); use reg_noise_std 1/20 for sigma 50",
        estimate_noise=True,
    ),
    "dejpeg": Preset(
        "dejpeg", "identity",
        NetConfig(channels_down=(8, 16, 32, 64, 128), channels_up=(8, 16, 32, 64, 128),
                  channels_skip=(0, 0, 0, 4, 4), upsample="bilinear", input_channels=3),
        FitConfig(iterations=2400, lr=0.01, reg_noise_std=1 / 30, ema_weight=0.99, result="best"),
        needs=(),
        source="paper, blind JPEG-artifact removal of snail: 8/16/32/64/128 channels, skips 0/0/0/4/4",
    ),
    "inpaint": Preset(
        "inpaint", "mask",
        NetConfig(channels_skip=_FIVE, upsample="nearest"),
        FitConfig(iterations=6000, lr=0.01, reg_noise_std=0.03, ema_weight=0.99, result="best",
                  stop_peak=False),
        needs=("mask",),
        source="paper, text inpainting of kate: 128 x 5, skips 128 x 5, nearest upsampling",
    ),
    "fill": Preset(
        "fill", "mask",
        NetConfig(channels_skip=(0,) * 5, upsample="nearest", input="meshgrid"),
        FitConfig(iterations=5000, lr=0.01, reg_noise_std=0.03, ema_weight=0.99, result="best", best_by="loss",
                  stop_peak=False),
        needs=("mask",),
        source="paper, hole filling of vase: meshgrid input, no skips, nearest; keeps the best output by loss",
    ),
    "reconstruct": Preset(
        "reconstruct", "mask",
        NetConfig(upsample="bilinear"),
        FitConfig(iterations=11000, lr=0.001, reg_noise_std=0.03, ema_weight=0.99, result="best",
                  stop_peak=False),
        needs=("mask",),
        source="paper, barbara from 50 % of pixels: standard net, bilinear, lr 0.001",
    ),
    "superres": Preset(
        "superres", "downsample",
        NetConfig(upsample="bilinear"),
        FitConfig(iterations=2000, lr=0.01, reg_noise_std=0.03, ema_weight=0.99, result="best",
                  stop_peak=False),
        needs=("scale",),
        source="paper, x4 super-resolution of zebra: standard net, Lanczos-2 downsampler, 2000 steps",
    ),
    "flash": Preset(
        "flash", "identity",
        NetConfig(upsample=("nearest", "nearest", "bilinear", "bilinear", "bilinear"), input="image",
                  input_channels=3),
        FitConfig(iterations=600, lr=0.1, reg_noise_std=0.0, ema_weight=0.99, result="output"),
        needs=("guide",),
        source="paper, flash / no-flash (cave): the flash image is the input, 128 x 5, skips 4, "
               "nearest at the two finest scales, lr 0.1, 600 steps",
    ),
}

# x8 differs from x4 only in its fitting settings; derived so the two cannot drift apart.
PRESETS["superres-x8"] = dataclasses.replace(
    PRESETS["superres"],
    fit=dataclasses.replace(PRESETS["superres"].fit, iterations=4000, reg_noise_std=0.05),
    source="paper, x8 super-resolution: input noise 0.05, 4000 steps",
)

#: Tasks users call by name (``superres-x8`` is chosen by ``superres`` with ``scale=8``).
TASKS = ("denoise", "dejpeg", "inpaint", "fill", "reconstruct", "superres", "flash")

_THIN = {"channels_down": (16, 32, 64, 64, 64), "channels_up": (16, 32, 64, 64, 64)}
_LIGHT = {"channels_down": (32, 64, 128, 128, 128), "channels_up": (32, 64, 128, 128, 128)}

#: The ``fast`` preset: changes (NetConfig or FitConfig fields) to the paper's settings where we measured that
#: they reach the paper preset's quality sooner (benchmarks/time_to_quality.py, 128 px crops of several images,
#: 2-core CPU; README, *Speed*). Tasks not listed run the paper's settings: no measurement yet says a change
#: keeps their quality.
FAST: dict[str, tuple[dict, str]] = {
    "denoise": ({"channels_down": (16, 32, 64, 64), "channels_up": (16, 32, 64, 64), "channels_skip": (4,) * 4,
                 "loss": "rmse", "tile": 144, "ema_warmup": True, "adam_betas": (0.85, 0.9), "stop_noise_factor": 1.02},
                "a thin network of 4 scales (16/32/64/64 channels; the 5-scale 16/32/64/64/64 had 4.0x cheaper steps "
                "at 128 px than the paper's, and the fifth scale cost 12 % of a tile's step for no fewer steps), the "
                "square-root loss (fewer steps), Adam with shorter memories (betas 0.85, 0.9: 1.6-1.8x fewer steps), "
                "tiles of at most 144 px fitted side by side, one per CPU thread (smaller fits need fewer steps, and "
                "two one-thread fits run 1.8x the work of one two-thread fit), an EMA whose weight ramps up to 0.99 (a "
                "tile stopped early no longer returns an average still holding its first outputs: +1.0 dB on the "
                "whole 512 px F16), and the discrepancy stop at 1.02 times the noise variance (replayed on 16 "
                "recorded tiles of 72 x 128 and 136 px: 0.08 dB under the EMA's peak on average at both sizes, "
                "against 0.18 and 0.14 dB with 1; 1.04 suited the small tiles, 0.03 dB, but not the large, 0.21 dB); "
                "reached the paper preset's peak - 0.3 dB 10.3-12.5x sooner on 4 images, returning -0.10 to +0.36 dB "
                "against the paper preset's image after 1200 steps (the preset "
                "before these betas, 4 scales and stop factor: 5.1-7.7x in the same run)"),
    "inpaint": ({**_THIN, "channels_skip": (16, 32, 64, 64, 64), "loss": "rmse", "lr": 0.02, "keep_measured": True,
                 "iterations": 1500},
                "16/32/64/64/64 channels and skips (5.7x cheaper steps at 128 px), the square-root loss, lr 0.02, "
                "and the known pixels returned as measured (the thin net is slow to fit their fine detail, quick to "
                "fill the missing ones); reached the paper preset's peak (over 1500 steps) - 0.3 dB 45-54x sooner "
                "on kate and library, and 15-19x sooner the same peak of the paper preset with its known pixels "
                "kept too (like for like; without keeping them: 7.8-8.4x); at most 1500 steps: the kept images "
                "peaked after 500-1300 steps on both crops and three seeds of kate (the fit of the known pixels "
                "goes on improving, so the convergence stop did not fire), and the paper's 6000 returned 0.4-0.8 dB "
                "less in 4x the time"),
    "reconstruct": ({**_THIN, "loss": "rmse", "lr": 0.02, "adam_betas": (0.85, 0.9), "keep_measured": True,
                     "iterations": 3000},
                    "16/32/64/64/64 channels (3.4x cheaper steps at 128 px), the square-root loss, lr 0.02 with "
                    "Adam's shorter memories (betas 0.85, 0.9) and the known pixels returned as measured: reached "
                    "the peak of the paper preset (over 1500 steps) with its known pixels kept too (like for like) "
                    "minus 0.3 dB after 450 / 890 / 630 steps on 3 crops (barbara, boat, house; 50 % pixels), "
                    "9.7x / 5.2x / 5.5x sooner than the paper preset the same day (lr 0.01 with the paper's betas, "
                    "the preset before: 580 / 1130 / 830 steps, 7.3x / 4.4x / 4.1x), and returned 30.63 / 31.69 / "
                    "38.52 dB after 3000 steps (before: 29.98 / 31.71 / 38.29); on the quick inpaint11 crops (96 px) "
                    "31.85 dB on average against 31.88. At most 3000 steps, as no stop rule fires (the fit of the "
                    "known pixels keeps improving): barbara peaked earlier (31.23 dB by step 1500). Holding 5 % of "
                    "the known pixels out to stop at the peak (--holdout) returned within 0.03 dB of each run's "
                    "peak on the 128 px crops but cost 0.3-0.5 dB on the 96 px ones, so it is not part of the preset"),
    "superres": ({**_LIGHT, "loss": "rmse", "adam_betas": (0.85, 0.9)},
                 "a lighter network (32/64/128/128/128 channels: the paper's 128 except at the two finest scales), "
                 "the square-root loss and Adam's shorter memories (betas 0.85, 0.9): reached the paper preset's "
                 "peak (over 1500 steps) - 0.3 dB 2.67x and 3.64x sooner on zebra and monarch x4 (660 / 670 "
                 "steps against 930 / 1030) and 5.38x and 4.45x at x8 (140 / 360 against 360 / 830), paper and "
                 "fast in one run per scale, and peaked 0.15-2.0 dB higher; the paper's network with that loss "
                 "alone (the preset before) was 1.7-2.8x sooner, the thin network with the betas 3.3-7.8x but "
                 "peaked no higher than the paper's on monarch"),
    "fill": ({"loss": "rmse", "keep_measured": True},
             "the square-root loss and the known pixels returned as measured: reached the paper preset's peak (over "
             "1500 steps) - 0.3 dB 7.8-28x sooner on 3 crops (vase; three seeded blobs on hill and kodim12), mostly "
             "by keeping the known pixels: with them kept too, the paper preset peaks after 70-770 steps and is about "
             "as quick (0.8x and 2.7x on two crops; on vase the fast preset peaked 0.04 dB under that target); the "
             "thin network never reached it on kodim12"),
}

VARIANTS = ("fast", "paper")
_PRESET_FIELDS = {"tile"}  # FAST changes that belong to the preset itself, not to its configs


def get_preset(task: str, scale: int | None = None, variant: str = "fast") -> Preset:
    """The preset of a task (the x8 settings for ``superres`` with ``scale=8``), or a clear error.

    ``variant`` "paper" is the exact published network and fitting settings; "fast" (the default) applies
    the measured changes in :data:`FAST` where a task has them.
    """
    if task not in TASKS:
        raise InputError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    if variant not in VARIANTS:
        raise InputError(f"unknown preset {variant!r}; choose fast or paper")
    preset = PRESETS["superres-x8" if task == "superres" and scale == 8 else task]
    if variant == "fast" and task in FAST:
        changes, why = FAST[task]
        net_fields = {f.name for f in dataclasses.fields(NetConfig)}
        own = {k: v for k, v in changes.items() if k in _PRESET_FIELDS}
        net = dataclasses.replace(preset.net, **{k: v for k, v in changes.items() if k in net_fields})
        fit = dataclasses.replace(preset.fit, **{k: v for k, v in changes.items()
                                                 if k not in net_fields and k not in own})
        preset = dataclasses.replace(preset, net=net, fit=fit, source=f"fast: {why}; based on {preset.source}",
                                     **own)
    return preset
