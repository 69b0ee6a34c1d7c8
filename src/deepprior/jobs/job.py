"""A :class:`Job`: everything one restoration will do, resolved once by :func:`deepprior.plan`.

Front ends build a Job, may show its :meth:`~Job.estimate`, and hand it to :func:`deepprior.run`; nothing
downstream reads raw settings again. A Job is written to a report's ``config.json`` (:meth:`Job.to_config`)
and rebuilt from it (:func:`deepprior.plan_from_config`), so a result can be rerun exactly.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..config import FitConfig, NetConfig, to_dict
from ..imaging.noise import NoiseEstimate
from ..operators import OPERATORS, Operator, make_operator
from ..version import __version__
from .costs import Estimate, estimate_run
from .presets import Preset, describe
from .tasks import Task
from .tiles import TilePlan
from .uncertainty import calibration_pixels


@dataclass(frozen=True)
class Inputs:
    """The arrays a job restores, checked: images (H, W, C) float32 in [0, 1], the mask (H, W) bool.

    ``ground_truth`` has the result's size (for super-resolution, centre-cropped like ``degrade``); ``kernel``
    is the blur of deblurring, normalised."""

    observation: np.ndarray
    mask: np.ndarray | None = None
    guide: np.ndarray | None = None
    ground_truth: np.ndarray | None = None
    kernel: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class Job:
    """One restoration, resolved: task, preset, configs, device, tiles and inputs.

    Attributes
    ----------
    task : Task
        The task record (its operator, extra inputs, classical methods).
    preset : Preset
        The preset the configs started from (variant, source, every value with its reason).
    scale : int or None
        The super-resolution factor.
    seed : int
        Seeds every fit's weights, input and perturbations (each tile uses the same seed).
    device : torch.device
        Where the fits run.
    net, fit : NetConfig, FitConfig
        The settings of every fit, device-dependent ones resolved (a tile's noise level is in its Tile).
    tiling : TilePlan
        The fits: one tile for the whole image, or several, and how many run at once.
    inputs : Inputs
        The checked arrays.
    memory : int
        Estimated peak bytes of one fit (of the largest tile).
    noise : NoiseEstimate or None
        The estimates of the whole image's noise, where the plan estimated it (a noisy task without a level).
    """

    task: Task
    preset: Preset
    scale: int | None
    seed: int
    device: torch.device
    net: NetConfig
    fit: FitConfig
    tiling: TilePlan
    inputs: Inputs = field(repr=False)
    memory: int = 0
    noise: NoiseEstimate | None = None

    @property
    def factor(self) -> int:
        """The scale of the result against the observation (1 but for super-resolution)."""
        return self.scale or 1

    @property
    def out_shape(self) -> tuple[int, int, int]:
        """(height, width, channels) of the result."""
        h, w, c = self.inputs.observation.shape
        return h * self.factor, w * self.factor, c

    @property
    def keeps_measured(self) -> bool:
        """Whether the returned images take the measured pixels from the observation."""
        return self.fit.keep_measured and OPERATORS[self.task.operator].keeps_pixels

    @property
    def noise_level(self) -> float | None:
        """The whole image's noise std (on [0, 1]): the setting, else the estimate of its noise model."""
        if self.fit.noise_sigma is not None or self.noise is None:
            return self.fit.noise_sigma
        return self.noise.flat_blocks if self.fit.noise_model == "correlated" else self.noise.wavelet

    @functools.cached_property
    def calibration(self) -> np.ndarray | None:
        """(H, W) bool, the measured pixels every fit leaves out to calibrate the uncertainty map; None without
        ``fit.uncertainty`` or where the task calibrates otherwise (:mod:`.uncertainty`). Drawn once per job."""
        if not self.fit.uncertainty:
            return None
        h, w = self.inputs.observation.shape[:2]
        return calibration_pixels(self.task, np.ones((h, w), bool) if self.inputs.mask is None else self.inputs.mask)

    def make_operator(self, mask: np.ndarray | None) -> Operator:
        """The task's operator for the observation, or a tile of it with its part of the mask."""
        if mask is not None:
            return make_operator(self.task.operator, mask=torch.from_numpy(mask.astype(np.float32)))
        if self.scale is not None:
            return make_operator(self.task.operator, factor=self.scale)
        if self.inputs.kernel is not None:
            return make_operator(self.task.operator, kernel=self.inputs.kernel)
        return make_operator(self.task.operator)

    def largest_tile(self) -> tuple[int, int]:
        """(height, width) in result pixels of the largest fit."""
        return (max(t.height for t in self.tiling.tiles) * self.factor,
                max(t.width for t in self.tiling.tiles) * self.factor)

    def estimate(self) -> Estimate:
        """FLOPs, seconds per step (timed on a proxy of the largest tile: a few real steps), memory of one fit,
        and the time of the whole run at its step bound."""
        h, w = self.largest_tile()
        tiles = len(self.tiling.tiles)
        oh, ow, c = self.out_shape
        # A tiled run keeps sums of output, EMA and best (and the network's own three where measured pixels are
        # kept), their weight and the input at the result's size, in float32.
        kinds = 3 + (1 if self.fit.uncertainty else 0)  # output, ema, best (and the spread)
        planes = (kinds * (2 if self.keeps_measured else 1) + 1) * c + 1
        stitched = 4 * oh * ow * planes if tiles > 1 else 0
        return estimate_run(self.net, self.fit, c, h, w, tiles=tiles, workers=self.tiling.workers,
                            device=self.device, stitched=stitched, fits=max(1, self.fit.uncertainty))

    def to_config(self) -> dict[str, Any]:
        """The job as JSON: what a report's config.json holds; :func:`deepprior.plan_from_config` reads it."""
        h, w, c = self.inputs.observation.shape
        return {"deepprior": __version__, "task": self.task.name, "preset": self.preset.variant,
                "preset_source": self.preset.source, "preset_values": describe(self.preset), "scale": self.scale,
                "seed": self.seed, "device": str(self.device), "net_name": "skip", "net": to_dict(self.net),
                "fit": to_dict(self.fit), "tiling": self.tiling.to_config(), "image_size": [w, h, c],
                **({} if self.inputs.kernel is None else {"kernel": self.inputs.kernel.tolist()})}
