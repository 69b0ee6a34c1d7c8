"""Typed, frozen settings for the network and the fitting loop.

Defaults are the paper's standard denoising settings (Ulyanov et al., CVPR 2018, authors' code); the
presets in :mod:`deepprior.presets` change what each task needs. Every field says what it does and which way
it pushes the result. The CLI, the web page and the benchmarks only *build* these objects.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .errors import InputError


@dataclass(frozen=True)
class NetConfig:
    """The hourglass ("skip") network and its input.

    Attributes
    ----------
    channels_down, channels_up : tuple of int
        Channels per scale, finest first; their length is the number of scales. More channels fit faster and
        overfit sooner; most of the cost sits at the finest scale.
    channels_skip : tuple of int
        Channels of the skip connection per scale; 0 = no skip at that scale. Skips keep fine detail (text
        inpainting uses 128); no skips (hole filling) make the net fill large regions more smoothly.
    kernel_down, kernel_up, kernel_skip : int
        Convolution sizes of the encoder, decoder and skip branches.
    need_1x1_up : bool
        Extra 1x1 convolution after each decoder convolution (the paper's standard net has it).
    downsample : {"stride", "avg", "max"}
        How each scale halves the resolution: strided convolution (paper) or pooling.
    upsample : {"bilinear", "nearest"} or tuple of them per scale
        Bilinear gives smoother outputs (denoising, SR); nearest is used for inpainting.
    padding : {"reflection", "zero"}
        Border handling of every convolution; reflection avoids dark borders.
    act_slope : float
        Negative slope of the LeakyReLU.
    batch_norm : bool
        Batch norm after every convolution, in training mode (statistics of the one image).
    sigmoid : bool
        Squash the output to [0, 1].
    input : {"noise", "meshgrid", "image"}
        Fixed network input: uniform noise in [0, input_scale], a 2-channel x/y meshgrid in [0, 1] (hole
        filling, where the smooth coordinates interpolate large regions), or a guide image given by the caller
        (flash / no-flash: the flash photo).
    input_channels : int
        Channels of the noise or guide-image input (ignored for meshgrid, which has 2).
    input_scale : float
        Upper bound of the uniform input noise (paper: 0.1).
    input_norm : bool
        Batch norm on the input before the first layer (the Deep Random Projector's "BN seed"): with a trained
        input it keeps the input's scale fixed while its pattern changes.
    freeze_convs : bool
        Keep every convolution at its random initial weights and train only the batch-norm parameters (and
        the input, with ``FitConfig.train_input``): the Deep Random Projector (Li et al., CVPR 2023). Fewer
        trainable parameters fit the image in far fewer steps, and overfit sooner.
    """

    channels_down: tuple[int, ...] = (128, 128, 128, 128, 128)
    channels_up: tuple[int, ...] = (128, 128, 128, 128, 128)
    channels_skip: tuple[int, ...] = (4, 4, 4, 4, 4)
    kernel_down: int = 3
    kernel_up: int = 3
    kernel_skip: int = 1
    need_1x1_up: bool = True
    downsample: str = "stride"
    upsample: str | tuple[str, ...] = "bilinear"
    padding: str = "reflection"
    act_slope: float = 0.2
    batch_norm: bool = True
    sigmoid: bool = True
    input: str = "noise"
    input_channels: int = 32
    input_scale: float = 0.1
    input_norm: bool = False
    freeze_convs: bool = False

    def __post_init__(self) -> None:
        n = len(self.channels_down)
        if n < 1 or len(self.channels_up) != n or len(self.channels_skip) != n:
            raise InputError(
                f"channels down/up/skip must have the same number of scales (got {len(self.channels_down)}, "
                f"{len(self.channels_up)}, {len(self.channels_skip)})"
            )
        if min(self.channels_down + self.channels_up) < 1 or min(self.channels_skip) < 0:
            raise InputError("channel counts must be positive (skip channels may be 0)")
        ups = (self.upsample,) if isinstance(self.upsample, str) else self.upsample
        if isinstance(self.upsample, tuple) and len(ups) != n:
            raise InputError(f"upsample needs one mode per scale ({n}), got {len(ups)}")
        _choice("upsample", ups, ("bilinear", "nearest"))
        _choice("downsample", (self.downsample,), ("stride", "avg", "max"))
        _choice("padding", (self.padding,), ("reflection", "zero"))
        _choice("input", (self.input,), ("noise", "meshgrid", "image"))
        for name in ("kernel_down", "kernel_up", "kernel_skip"):
            k = getattr(self, name)
            if k < 1 or k % 2 == 0:
                raise InputError(f"{name} must be a positive odd number, got {k}")

    @property
    def scales(self) -> int:
        """Number of scales (encoder levels)."""
        return len(self.channels_down)

    @property
    def in_channels(self) -> int:
        """Channels of the network input."""
        return 2 if self.input == "meshgrid" else self.input_channels


@dataclass(frozen=True)
class FitConfig:
    """The fitting loop: optimiser, regularisation tricks, logging and which output is returned.

    Attributes
    ----------
    iterations : int
        Adam steps. Too many overfit the corruption (denoising peaks, then falls); too few under-fit.
    lr : float
        Adam learning rate; higher fits faster but less stably.
    adam_betas : (float, float)
        Adam's decay rates of its running mean of gradients and of squared gradients (PyTorch's and the paper's
        0.9, 0.999). A shorter memory of the squared gradients (0.95) lets the step size follow the gradients as
        they change during the fit instead of the large ones of the first steps, and a shorter momentum damps the
        overshoot; the ``fast`` denoising preset uses it (measured in :data:`deepprior.presets.FAST`).
    reg_noise_std : float
        Std of the fresh Gaussian perturbation added to the input every step. Larger = smoother results and
        later overfitting.
    reg_noise_start, reg_noise_ramp : float, int
        The perturbation starts at ``reg_noise_start`` times ``reg_noise_std`` and reaches it linearly after
        ``reg_noise_ramp`` steps (0 = constant, the paper). A smaller start fits the coarse image sooner.
    ema_weight : float
        Weight of the exponential moving average of the output (0.99 in the paper); higher = smoother average,
        later to follow improvements. 0 disables it (the EMA equals the output).
    ema_warmup : bool
        Ramp the EMA weight up as ``(1 + n) / (10 + n)`` after ``n`` updates, up to ``ema_weight`` (TensorFlow's
        ``ExponentialMovingAverage`` with ``num_updates``), so the first, poor outputs are forgotten sooner; the
        paper keeps the weight constant.
    result : {"ema", "output", "best"}
        Which image is written as the result: the moving average, the last iterate, or the best snapshot.
    best_by : {"auto", "loss"}
        How the best snapshot is chosen without a ground truth: "auto" = the pick of the stopping rule (the
        EMA just after the output variance bottomed out, see :class:`deepprior.tricks.AutoStop`); "loss" =
        lowest loss on the observation over the logged steps (hole filling, whose loss fluctuates).
    stop : {"auto", "none"}
        "auto" stops when the no-reference rule says the output has peaked or converged (``iterations`` is
        then only the upper bound); "none" runs all ``iterations`` and still reports where the rule would
        have stopped.
    stop_peak : bool
        Whether the rule may stop at a peak of the output variance (the sign of a fit starting to reproduce
        noise). On for noisy observations; the presets of noise-free tasks (masks, super-resolution) turn it
        off, where it stopped runs that were still improving; the convergence rule and the cap remain.
    stop_patience : int
        Steps the rule waits for a new variance minimum (and for progress) before stopping. Larger is safer
        against early stops and costs more steps after the peak.
    stop_rise : float
        How far the variance must have risen above its minimum to count as a peak (1.25 = 25 %).
    stop_min_gain_db : float
        A run whose EMA gained less than this (dB of PSNR against the observation) over ``stop_patience``
        steps has converged.
    stop_min_iterations : int
        The rule never stops before this step.
    noise_sigma : float or None
        Noise std of the observation on [0, 1] (25 / 255 for sigma 25). Enables the discrepancy stop (the fit
        has reached the noise level). None: the denoising preset estimates it from the image (scikit-image's
        wavelet estimator); other tasks do without.
    stop_noise_factor : float
        The discrepancy stop fires once the loss is at most this many times the noise variance. 1 is Morozov's
        principle; a little more stops nearer the peak of a fast fit, whose output fits some noise while the
        loss is still above the noise level (at the EMA peaks of the fast denoising preset's 72 x 128 px tiles
        the loss was 1.02-1.06 times the estimated variance at sigma 25, 1.01-1.11 at sigma 50, where the
        wavelet estimate runs low; on 136 px tiles 0.98-1.04 at sigma 25).
    backtrack : bool
        Undo loss blow-ups. See :class:`deepprior.tricks.Backtracker` for the rule.
    backtrack_factor : float
        A checked loss above this many times the last good checked loss is a blow-up (10**0.5 = a 5 dB drop of
        PSNR against the observation, the paper's threshold).
    backtrack_lr_decay : float
        Learning-rate multiplier applied when blow-ups repeat within ``backtrack_window`` steps.
    backtrack_window : int
        Steps within which a second blow-up counts as "keeps happening".
    log_every : int
        Steps between logged records (metrics, history row, callbacks, backtracking check). Each log is a
        device sync and computes metrics, so small values cost time on large images.
    save_every : int
        Steps between intermediate images handed to callbacks / written by the CLI; 0 = never.
    precision : {"auto", "fp32", "bf16", "fp16"}
        Autocast precision of the network. "auto" = bf16 where the device runs it fast (CPUs with AVX512-BF16
        or AMX, CUDA with bf16 support), else fp32. Changes rounding only; weights and Adam stay fp32.
    channels_last : bool or None
        Memory layout of activations; None = on for CPU and CUDA (faster convolutions in oneDNN and cuDNN).
    compile : bool
        Run the network through ``torch.compile``. Off by default: on the 2-core CPU it made a step slower
        (bf16 + channels-last: the fast denoising net at 128 px 0.095 against 0.068 s, the paper's net at 256 px
        0.72 against 0.57 s) and cost 75-100 s of compilation up front (benchmarks/step_time.py --compile).
        Untested on GPUs here.
    cuda_graph : bool or None
        On a CUDA device, capture each step (forward, backward, Adam update) as a CUDA graph after
        :data:`deepprior.cuda_graph.WARMUP_STEPS` eager steps and replay it: the same arithmetic, launched at
        once. None = on where supported (CUDA, not fp16, not compiled); ignored on the CPU.
    train_input : bool
        Optimise the network input too (the Deep Random Projector trains its input seed instead of the
        convolutions); the input-noise perturbation is still added on top when ``reg_noise_std`` > 0.
    loss : {"mse", "rmse"}
        Data term: mean squared error (paper), or its square root (Deep Random Projector). Adam scales steps by
        the running size of past gradients; the MSE's gradients shrink as the fit improves, the square root's
        much less (they are divided by twice the root), so it reaches the same quality in fewer steps (the
        ``fast`` presets use it; measured in :data:`deepprior.presets.FAST`). Logging, stopping and
        backtracking always see the MSE.
    tv_weight : float
        Weight of an anisotropic total-variation term on the output (mean absolute difference of neighbours);
        smooths the result and slows overfitting. 0 = off (paper).
    keep_measured : bool
        Return the measured pixels of a mask task as measured: the images handed back (and scored against a
        ground truth in the history) take the known pixels from the observation and only the missing ones from
        the network (:meth:`deepprior.operators.Operator.keep_measured`; other operators measure no pixel
        exactly and are unaffected). Right for noise-free masks, where the known pixels are the answer; it does
        not change the fit. Scores against the observation still judge the network's own output. The paper
        returns the network's output (off); the ``fast`` mask presets turn it on.
    holdout : float
        Fraction of the measured pixels left out of the loss and used to judge the fit instead (0 = off, the
        paper): their PSNR against the observation (``psnr_holdout_ema`` in the history) estimates how well the
        network predicts pixels it was not fitted to, so the automatic stop can see the peak of the missing
        pixels' quality, which no score of the fitted pixels shows. With it the ``validation`` rule stops once
        that score has not improved for ``stop_patience`` steps, and every rule returns the EMA that scored best
        on the held-out pixels. Drawn at random (seeded) among the measured pixels; with ``keep_measured`` they
        are handed back as measured.
    """

    iterations: int = 3000
    lr: float = 0.01
    adam_betas: tuple[float, float] = (0.9, 0.999)
    reg_noise_std: float = 1.0 / 30.0
    reg_noise_start: float = 1.0
    reg_noise_ramp: int = 0
    ema_weight: float = 0.99
    ema_warmup: bool = False
    result: str = "best"
    best_by: str = "auto"
    stop: str = "auto"
    stop_peak: bool = True
    stop_patience: int = 300
    stop_rise: float = 1.25
    stop_min_gain_db: float = 0.05
    stop_min_iterations: int = 200
    noise_sigma: float | None = None
    stop_noise_factor: float = 1.0
    backtrack: bool = True
    backtrack_factor: float = 10.0**0.5
    backtrack_lr_decay: float = 0.5
    backtrack_window: int = 200
    log_every: int = 10
    save_every: int = 0
    precision: str = "auto"
    channels_last: bool | None = None
    compile: bool = False
    cuda_graph: bool | None = None
    train_input: bool = False
    loss: str = "mse"
    tv_weight: float = 0.0
    keep_measured: bool = False
    holdout: float = 0.0

    def __post_init__(self) -> None:
        if self.iterations < 1:
            raise InputError(f"iterations must be at least 1, got {self.iterations}")
        if not self.lr > 0:
            raise InputError(f"learning rate must be positive, got {self.lr}")
        if len(self.adam_betas) != 2 or not all(0 <= b < 1 for b in self.adam_betas):
            raise InputError(f"Adam betas must be two numbers in [0, 1), got {self.adam_betas}")
        if self.reg_noise_std < 0:
            raise InputError(f"input-noise std must be >= 0, got {self.reg_noise_std}")
        if self.reg_noise_start < 0 or self.reg_noise_ramp < 0:
            raise InputError("input-noise start factor and ramp must be >= 0")
        if not 0 <= self.ema_weight < 1:
            raise InputError(f"EMA weight must be in [0, 1), got {self.ema_weight}")
        if self.log_every < 1 or self.save_every < 0:
            raise InputError("log_every must be >= 1 and save_every >= 0")
        if self.backtrack_factor <= 1:
            raise InputError(f"backtrack factor must be > 1, got {self.backtrack_factor}")
        _choice("result", (self.result,), ("ema", "output", "best"))
        _choice("best_by", (self.best_by,), ("auto", "loss"))
        _choice("stop", (self.stop,), ("auto", "none"))
        if self.stop_noise_factor <= 0:
            raise InputError(f"stop noise factor must be positive, got {self.stop_noise_factor}")
        if self.stop_patience < 1 or self.stop_rise < 1 or self.stop_min_iterations < 0:
            raise InputError("stop patience must be >= 1, stop rise >= 1 and stop min iterations >= 0")
        _choice("precision", (self.precision,), ("auto", "fp32", "bf16", "fp16"))
        _choice("loss", (self.loss,), ("mse", "rmse"))
        if self.tv_weight < 0:
            raise InputError(f"TV weight must be >= 0, got {self.tv_weight}")
        if not 0 <= self.holdout < 0.5:
            raise InputError(f"holdout must be a fraction in [0, 0.5), got {self.holdout}")


def _choice(name: str, values: tuple[Any, ...], allowed: tuple[str, ...]) -> None:
    for v in values:
        if v not in allowed:
            raise InputError(f"{name} must be one of {', '.join(allowed)}; got {v!r}")


def replace(cfg: Any, **changes: Any) -> Any:
    """Return a copy of a config with some fields changed; ``None`` values are ignored (unset CLI options)."""
    return dataclasses.replace(cfg, **{k: v for k, v in changes.items() if v is not None})


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain-JSON view of a config (tuples become lists)."""
    return dataclasses.asdict(cfg)


def from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Rebuild a config from :func:`to_dict` output, turning lists back into tuples."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise InputError(f"unknown {cls.__name__} settings: {', '.join(sorted(unknown))}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


__all__ = ["NetConfig", "FitConfig", "replace", "to_dict", "from_dict"]
