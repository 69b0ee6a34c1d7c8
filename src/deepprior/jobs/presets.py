"""Task presets, as data: per task, the paper's values and the ``fast`` variant's changes, each with its reason.

A preset is a list of :class:`Value` records, each naming the part it sets (``net``: :class:`NetConfig`,
``fit``: :class:`FitConfig`, ``tiling``: :class:`Tiling`), the field, the value and one line on why. The
configs' defaults are the paper's standard denoising settings, so the paper presets list only what differs
from them. ``fast`` values apply on top of the paper's; super-resolution adds values keyed by scale (x8).
The measurements behind every ``fast`` value are in docs/benchmarks.md (the section named in ``measured``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..config import FitConfig, NetConfig
from ..errors import InputError
from .tasks import get_task


@dataclass(frozen=True)
class Tiling:
    """How a preset tiles by itself (``tile="auto"``).

    Attributes
    ----------
    max_side : int or None
        On a CPU, fit tiles of at most this side (result px), side by side, one per worker; None = the whole
        image, unless it does not fit in memory.
    """

    max_side: int | None = None


@dataclass(frozen=True)
class Value:
    """One value of a preset: the part it sets ("net", "fit" or "tiling"), the field, the value and why."""

    part: str
    name: str
    value: Any
    why: str


def net(name: str, value: Any, why: str) -> Value:
    return Value("net", name, value, why)


def fit(name: str, value: Any, why: str) -> Value:
    return Value("fit", name, value, why)


def tiling(name: str, value: Any, why: str) -> Value:
    return Value("tiling", name, value, why)


@dataclass(frozen=True)
class TaskPresets:
    """A task's presets: the paper's values, the fast variant's changes, values per scale, and where the fast
    values were measured."""

    source: str
    paper: tuple[Value, ...]
    fast: tuple[Value, ...] = ()
    scales: Mapping[int, tuple[Value, ...]] = field(default_factory=dict)
    measured: str = ""


_NOISE_FREE = fit("stop_peak", False, "no noise to overfit: the variance-peak stop fired on runs still improving "
                                      "(docs/stopping.md)")
_RMSE = fit("loss", "rmse", "the square-root loss: fewer steps to the same quality")
_BETAS = fit("adam_betas", (0.85, 0.9), "Adam with shorter memories follows the fit: fewer steps")
_KEEP = fit("keep_measured", True, "the known pixels are the answer: the network fills only the missing ones")
_THIN = (16, 32, 64, 64, 64)
_DOCS = "docs/benchmarks.md"

PRESETS: dict[str, TaskPresets] = {
    "denoise": TaskPresets(
        source="paper, Gaussian denoising of F16 (sigma 25; at sigma 50 it perturbs the input by 1/20); the configs' "
               "defaults are its settings",
        paper=(),
        fast=(
            net("channels_down", (16, 32, 64, 64),
                "a thin net: over 4x cheaper steps at 128 px (a fifth scale: 12 % more)"),
            net("channels_up", (16, 32, 64, 64), "as channels_down"),
            net("channels_skip", (4, 4, 4, 4), "the paper's skips, one per scale"),
            _RMSE,
            fit("ema_warmup", True, "a tile stopped early returns an average free of its first outputs"),
            _BETAS,
            fit("stop_noise_factor", 1.02, "stops nearest the EMA's peak on tiles of 72-144 px"),
            fit("stop_correlated_factor", 1.25, "camera noise: the EMA peaked at about 1.25x the flat-block variance"),
            fit("stop_min_iterations", 100, "camera noise on smooth images peaked by steps 70-180"),
            fit("method", "dip+cbm3d", "DIP mixed with CBM3D told the noise DIP found: above CBM3D on camera noise "
                                       "and, by 0.1 dB, white-noise crops"),
            tiling("max_side", 144, "small fits side by side, one per CPU thread, need fewer steps in all"),
        ),
        measured=f"{_DOCS}#fast-denoising"),
    "dejpeg": TaskPresets(
        source="paper, blind JPEG-artifact removal of snail",
        paper=(
            net("channels_down", (8, 16, 32, 64, 128), "the paper's narrow fine scales for JPEG"),
            net("channels_up", (8, 16, 32, 64, 128), "as channels_down"),
            net("channels_skip", (0, 0, 0, 4, 4), "no skips at the fine scales, where the blocks are"),
            net("input_channels", 3, "the paper's input for JPEG"),
            fit("iterations", 2400, "the paper's step count"),
        ),
        measured=f"{_DOCS}#fast-presets; the square-root loss measured worse there"),
    "inpaint": TaskPresets(
        source="paper, text inpainting of kate",
        paper=(
            net("channels_skip", (128,) * 5, "wide skips keep the fine detail around thin text"),
            net("upsample", "nearest", "the paper's upsampling for inpainting"),
            fit("iterations", 6000, "the paper's step count"),
            fit("reg_noise_std", 0.03, "the paper's perturbation for inpainting"),
            _NOISE_FREE,
        ),
        fast=(
            net("channels_down", _THIN, "a thin net: 5.7x cheaper steps at 128 px"),
            net("channels_up", _THIN, "as channels_down"),
            net("channels_skip", _THIN, "skips as wide as the thin net"),
            _RMSE,
            fit("lr", 0.02, "the thin net takes a larger step"),
            _KEEP,
            fit("iterations", 1500, "the kept images peaked after 500-1300 steps; 6000 returned less"),
        ),
        measured=f"{_DOCS}#fast-inpainting"),
    "fill": TaskPresets(
        source="paper, hole filling of vase",
        paper=(
            net("channels_skip", (0,) * 5, "no skips: large holes filled smoothly from the coarse scales"),
            net("upsample", "nearest", "the paper's upsampling for inpainting"),
            net("input", "meshgrid", "smooth coordinates interpolate across a large hole"),
            fit("iterations", 5000, "the paper's step count"),
            fit("reg_noise_std", 0.03, "the paper's perturbation for inpainting"),
            fit("best_by", "loss", "the loss fluctuates: keep the snapshot that fits the known pixels best"),
            _NOISE_FREE,
        ),
        fast=(_RMSE, _KEEP),
        measured=f"{_DOCS}#fast-hole-filling"),
    "reconstruct": TaskPresets(
        source="paper, barbara from 50 % of its pixels",
        paper=(
            fit("iterations", 11000, "the paper's step count"),
            fit("lr", 0.001, "the paper's learning rate for pixel drop"),
            fit("reg_noise_std", 0.03, "the paper's perturbation for pixel drop"),
            _NOISE_FREE,
        ),
        fast=(
            net("channels_down", _THIN, "a thin net: 3.4x cheaper steps at 128 px"),
            net("channels_up", _THIN, "as channels_down"),
            _RMSE,
            fit("lr", 0.02, "with the betas, the fastest of the rates tried"),
            _BETAS,
            _KEEP,
            fit("iterations", 3000, "no stop rule fires on kept pixels; the crops peaked by 1500-4000 steps"),
        ),
        measured=f"{_DOCS}#fast-pixel-drop"),
    "superres": TaskPresets(
        source="paper, x4 super-resolution of zebra",
        paper=(
            fit("iterations", 2000, "the paper's step count at x4"),
            fit("reg_noise_std", 0.03, "the paper's perturbation for super-resolution"),
            _NOISE_FREE,
        ),
        scales={8: (
            fit("iterations", 4000, "the paper's step count at x8"),
            fit("reg_noise_std", 0.05, "the paper's perturbation at x8"),
        )},
        fast=(
            net("channels_down", (32, 64, 128, 128, 128), "the paper's 128 but at the two finest scales"),
            net("channels_up", (32, 64, 128, 128, 128), "as channels_down"),
            _RMSE,
            _BETAS,
        ),
        measured=f"{_DOCS}#fast-super-resolution"),
    "deblur": TaskPresets(
        source="no deblurring experiment in the paper: its denoising settings (blur with a little noise)",
        paper=(),
        fast=(
            net("channels_down", (32, 64, 128, 128), "four scales, 32-128 channels: 28.71 dB where 16-64 gave 28.11"),
            net("channels_up", (32, 64, 128, 128), "as channels_down"),
            net("channels_skip", (4, 4, 4, 4), "the paper's skips, one per scale"),
            _RMSE,
            fit("ema_warmup", True, "an average free of the first outputs"),
            _BETAS,
        ),
        measured=f"{_DOCS}#deblurring"),
    "flash": TaskPresets(
        source="paper, flash / no-flash (cave)",
        paper=(
            net("upsample", ("nearest", "nearest", "bilinear", "bilinear", "bilinear"),
                "nearest at the two finest scales keeps the flash photo's detail"),
            net("input", "image", "the flash photo is the network input"),
            net("input_channels", 3, "an RGB flash photo"),
            fit("iterations", 600, "the paper's step count"),
            fit("lr", 0.1, "the paper's learning rate for flash / no-flash"),
            fit("reg_noise_std", 0.0, "no perturbation: the input is an image, not noise"),
            fit("result", "output", "the paper returns the last output"),
        ),
        measured=f"{_DOCS}#fast-presets; no ground truth to measure a fast variant against"),
}

VARIANTS = ("fast", "paper")


@dataclass(frozen=True)
class Preset:
    """A task's preset resolved for one variant (and scale): its configs, its tiling, and every value applied
    with its reason."""

    task: str
    variant: str
    net: NetConfig
    fit: FitConfig
    tiling: Tiling
    source: str
    values: tuple[Value, ...]


def get_preset(task: str, scale: int | None = None, variant: str = "fast") -> Preset:
    """The preset of ``task`` for ``variant`` ("paper": the published settings; "fast": the measured changes
    on top), with the values of ``scale`` where the task has some (super-resolution x8)."""
    entry = PRESETS[get_task(task).name]
    if variant not in VARIANTS:
        raise InputError(f"unknown preset {variant!r}; choose fast or paper", setting="preset")
    values = entry.paper + entry.scales.get(scale or 0, ()) + (entry.fast if variant == "fast" else ())
    parts: dict[str, dict[str, Any]] = {"net": {}, "fit": {}, "tiling": {}}
    for v in values:
        parts[v.part][v.name] = v.value
    source = entry.source if variant == "paper" or not entry.fast else (
        f"fast ({entry.measured}), on {entry.source}")
    return Preset(task, variant, NetConfig(**parts["net"]), FitConfig(**parts["fit"]), Tiling(**parts["tiling"]),
                  source, values)


def describe(preset: Preset) -> list[dict[str, Any]]:
    """The preset's values as JSON rows (setting, value, why), for config.json and the docs."""
    return [{"setting": f"{v.part}.{v.name}", "value": list(v.value) if isinstance(v.value, tuple) else v.value,
             "why": v.why} for v in preset.values]


__all__ = ["PRESETS", "VARIANTS", "Preset", "TaskPresets", "Tiling", "Value", "get_preset", "describe"]
