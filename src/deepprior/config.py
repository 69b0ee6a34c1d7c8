"""Typed, frozen settings of the network and of the fitting loop.

Defaults are the paper's standard denoising settings (Ulyanov et al., CVPR 2018, authors' code); the presets
in :mod:`deepprior.jobs.presets` change what each task needs. Each field says what it does and which way it
pushes the result (its help, in :func:`deepprior.fields.setting`, is also its command-line help). Front ends
and benchmarks only *build* these objects; :func:`deepprior.plan` resolves them once per run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .errors import InputError
from .fields import FLOAT, INT, check_choices, documented, ints, modes, over_255, setting, two_floats, word


@documented
@dataclass(frozen=True)
class NetConfig:
    """The hourglass ("skip") network and its input."""

    channels_down: tuple[int, ...] = setting(
        (128, 128, 128, 128, 128), parse=ints, metavar="128,128,... or 128x5",
        help="Encoder channels per scale, finest first; their number is the number of scales. More channels fit "
             "faster and overfit sooner; most of the cost sits at the finest scale.")
    channels_up: tuple[int, ...] = setting(
        (128, 128, 128, 128, 128), parse=ints, metavar="LIST", help="Decoder channels per scale.")
    channels_skip: tuple[int, ...] = setting(
        (4, 4, 4, 4, 4), parse=ints, metavar="LIST",
        help="Skip-connection channels per scale (0 = none there). Skips keep fine detail (text inpainting uses "
             "128); no skips (hole filling) fill large regions more smoothly.")
    kernel_down: int = setting(3, parse=INT, help="Convolution size of the encoder (odd).")
    kernel_up: int = setting(3, parse=INT, help="Convolution size of the decoder (odd).")
    kernel_skip: int = setting(1, parse=INT, help="Convolution size of the skip branches (odd).")
    need_1x1_up: bool = setting(True, help="An extra 1x1 convolution after each decoder convolution (the paper's "
                                           "standard net has it).")
    downsample: str = setting("stride", parse=word, choices=("stride", "avg", "max"),
                              help="How each scale halves the resolution: strided convolution (paper) or pooling.")
    upsample: str | tuple[str, ...] = setting(
        "bilinear", parse=modes, choices=("bilinear", "nearest"), metavar="MODE or MODE,MODE,...",
        help="Upsampling, one mode or one per scale: bilinear gives smoother outputs (denoising, "
             "super-resolution), nearest suits inpainting.")
    padding: str = setting("reflection", parse=word, choices=("reflection", "zero"),
                           help="Border handling of every convolution; reflection avoids dark borders.")
    act_slope: float = setting(0.2, parse=FLOAT, help="Negative slope of the LeakyReLU activations.")
    batch_norm: bool = setting(True, help="Batch norm after every convolution, with the statistics of the one "
                                          "image.")
    sigmoid: bool = setting(True, help="Squash the output to [0, 1].")
    input: str = setting(
        "noise", parse=word, choices=("noise", "meshgrid", "image"),
        help="Fixed network input: uniform noise, a 2-channel x/y meshgrid (hole filling: the smooth coordinates "
             "interpolate large regions), or the guide image (flash / no-flash: the flash photo).")
    input_channels: int = setting(32, parse=INT, help="Channels of the noise input (a guide image brings its "
                                                      "own).")
    input_scale: float = setting(0.1, parse=FLOAT, help="Upper bound of the uniform input noise.")
    input_norm: bool = setting(False, help="Batch norm on the input before the first layer (the Deep Random "
                                           "Projector's 'BN seed'): keeps a trained input at its scale.")
    freeze_convs: bool = setting(
        False, off="--train-convs",
        help="Keep every convolution at its random weights and train only batch norm (and the input, with "
             "train_input): the Deep Random Projector (Li et al., CVPR 2023). Fits in far fewer steps and "
             "overfits sooner.")

    def __post_init__(self) -> None:
        n = len(self.channels_down)
        if n < 1 or len(self.channels_up) != n or len(self.channels_skip) != n:
            raise InputError(
                f"channels down/up/skip must have the same number of scales (got {len(self.channels_down)}, "
                f"{len(self.channels_up)}, {len(self.channels_skip)})", setting="channels_up")
        if min(self.channels_down + self.channels_up) < 1 or min(self.channels_skip) < 0:
            raise InputError("channel counts must be positive (skip channels may be 0)", setting="channels_down")
        if isinstance(self.upsample, tuple) and len(self.upsample) != n:
            raise InputError(f"upsample needs one mode per scale ({n}), got {len(self.upsample)}",
                             setting="upsample")
        check_choices(self)
        for name in ("kernel_down", "kernel_up", "kernel_skip"):
            k = getattr(self, name)
            if k < 1 or k % 2 == 0:
                raise InputError(f"{name} must be a positive odd number, got {k}", setting=name)
        if self.input_channels < 1:
            raise InputError(f"input_channels must be at least 1, got {self.input_channels}",
                             setting="input_channels")

    @property
    def scales(self) -> int:
        """Number of scales (encoder levels)."""
        return len(self.channels_down)

    @property
    def in_channels(self) -> int:
        """Channels of the network input."""
        return 2 if self.input == "meshgrid" else self.input_channels


@documented
@dataclass(frozen=True)
class FitConfig:
    """The fitting loop: optimiser, regularisation tricks, stopping, logging and which image is returned.

    Fields set to ``"auto"`` or None that depend on the device (``precision``, ``channels_last``,
    ``cuda_graph``) are resolved by :func:`deepprior.plan`, so a run's ``config.json`` records what ran.
    """

    iterations: int = setting(
        3000, parse=INT, flag=None,
        help="Adam steps: exactly this many with stop='none', at most this many with stop='auto'. Too many "
             "overfit the corruption; too few under-fit.")
    lr: float = setting(0.01, parse=FLOAT, help="Adam learning rate; higher fits faster but less stably.")
    adam_betas: tuple[float, float] = setting(
        (0.9, 0.999), parse=two_floats, metavar="B1,B2",
        help="Adam's decay rates of its mean gradient and mean squared gradient (paper: 0.9,0.999). Shorter "
             "memories let the step size follow the fit as it changes.")
    reg_noise_std: float = setting(
        1.0 / 30.0, parse=FLOAT, flag="--reg-noise",
        help="Std of the fresh Gaussian perturbation added to the input every step. Larger = smoother results "
             "and later overfitting.")
    reg_noise_start: float = setting(
        1.0, parse=FLOAT, help="The perturbation starts at this fraction of reg_noise_std and ramps up "
                               "(see reg_noise_ramp).")
    reg_noise_ramp: int = setting(
        0, parse=INT, help="Steps over which the perturbation rises to reg_noise_std (0 = constant, the paper). "
                           "A smaller start fits the coarse image sooner.")
    ema_weight: float = setting(
        0.99, parse=FLOAT, flag="--ema",
        help="Weight of the moving average of the output (0 = off); higher = smoother average, later to follow "
             "improvements.")
    ema_warmup: bool = setting(
        False, help="Ramp the moving average's weight up as (1 + n) / (10 + n) after n updates, to ema_weight, "
                    "so the first, poor outputs are forgotten sooner (the paper keeps it constant).")
    result: str = setting("best", parse=word, choices=("ema", "output", "best"),
                          help="The image returned: the moving average, the last output, or the best snapshot "
                               "(see best_by).")
    best_by: str = setting(
        "auto", parse=word, choices=("auto", "loss"),
        help="How the best snapshot is chosen without a ground truth: auto = the stopping rule's pick; loss = "
             "the lowest loss on the observation (hole filling, whose loss fluctuates).")
    stop: str = setting(
        "auto", parse=word, flag=None, choices=("auto", "none"),
        help="auto: stop when a no-reference rule says the output has peaked or converged; none: run all "
             "iterations and still report where the rule would have stopped.")
    stop_peak: bool = setting(
        True, help="Let the stop fire at a peak of the output variance (a fit starting to reproduce noise). On "
                   "for noisy inputs; off for masks and super-resolution, where it stopped runs still improving.")
    stop_patience: int = setting(
        300, parse=INT, help="Steps the stop waits for a new variance minimum (and for progress). Larger is "
                             "safer against early stops and costs more steps after the peak.")
    stop_rise: float = setting(1.25, parse=FLOAT, help="How far the variance must rise above its minimum to "
                                                       "count as a peak (1.25 = 25 %).")
    stop_min_gain_db: float = setting(
        0.05, parse=FLOAT, help="A run whose moving average gained less than this (dB against the observation) "
                                "over stop_patience steps has converged.")
    stop_min_iterations: int = setting(200, parse=INT, help="The stop never fires before this step.")
    noise_sigma: float | None = setting(
        None, parse=over_255, metavar="SIGMA",
        help="Noise std of the input, on [0, 1] (the command line takes the 0-255 scale: 25 means 25/255). "
             "Enables the discrepancy stop (the fit has reached the noise level); unset, denoising estimates it.")
    stop_noise_factor: float = setting(
        1.0, parse=FLOAT,
        help="The discrepancy stop fires once the loss is at most this many times the noise variance (1 is "
             "Morozov's principle; a little more stops nearer the peak of a fast fit).")
    noise_model: str = setting(
        "auto", parse=word, choices=("auto", "white", "correlated"),
        help="The noise the discrepancy stop assumes: white (its level estimated per tile, at the finest scale) or "
             "correlated, as cameras make it (the flattest blocks of the whole image, the stop at "
             "stop_correlated_factor times their variance); auto tells them apart from the two estimates. A given "
             "noise_sigma is white unless this says correlated.")
    stop_correlated_factor: float = setting(
        1.0, parse=FLOAT,
        help="The discrepancy stop's factor on correlated noise (stop_noise_factor's, for camera noise): the "
             "fast fit peaked at a loss about 1.25 times its flat-block variance (docs/stopping.md#camera-noise).")
    backtrack: bool = setting(True, help="Undo loss blow-ups: restore the last good weights, Adam state and "
                                         "moving average, and lower the learning rate if they recur.")
    backtrack_factor: float = setting(
        10.0**0.5, parse=FLOAT, help="A loss above this many times the last good one is a blow-up (10**0.5: a 5 "
                                     "dB drop of PSNR against the observation, the paper's threshold).")
    backtrack_lr_decay: float = setting(0.5, parse=FLOAT, help="Learning-rate multiplier when blow-ups repeat "
                                                               "within backtrack_window steps.")
    backtrack_window: int = setting(200, parse=INT, help="Steps within which a second blow-up counts as a "
                                                         "repeat.")
    log_every: int = setting(
        10, parse=INT, help="Steps between logged records (metrics, history row, callbacks, checks). Each is a "
                            "device sync and scores images, so small values cost time on large images.")
    save_every: int = setting(0, parse=INT, help="Steps between intermediate images handed to callbacks (the "
                                                 "command line writes them); 0 = never.")
    precision: str = setting(
        "auto", parse=word, choices=("auto", "fp32", "bf16", "fp16"),
        help="Autocast precision of the network: auto = bf16 where the device runs it natively, else fp32. "
             "Changes rounding only; weights and Adam stay fp32.")
    channels_last: bool | None = setting(
        None, help="Channels-last memory layout of activations (faster convolutions in oneDNN and cuDNN); unset "
                   "= on for CPU and CUDA.")
    compile: bool = setting(False, help="Run the network through torch.compile (off: slower on the CPUs "
                                        "measured, and minutes of compilation; docs/benchmarks.md).")
    cuda_graph: bool | None = setting(
        None, help="On CUDA, capture each step as a CUDA graph and replay it: the same arithmetic, launched at "
                   "once. Unset = on where supported (CUDA, not fp16, not compiled); ignored on CPUs.")
    train_input: bool = setting(
        False, off="--fixed-input",
        help="Optimise the network input too (the Deep Random Projector); the perturbation still applies.")
    loss: str = setting(
        "mse", parse=word, choices=("mse", "rmse"),
        help="Data term: mean squared error (paper) or its square root, whose gradients shrink less as the fit "
             "improves, so Adam reaches the same quality in fewer steps. Logs and stops always see the MSE.")
    tv_weight: float = setting(
        0.0, parse=FLOAT, flag="--tv", help="Weight of a total-variation term on the output: smooths the result "
                                            "and slows overfitting (0 = off, the paper).")
    keep_measured: bool = setting(
        False, help="Mask tasks: return the known pixels as measured, so the network fills only the missing ones "
                    "(right for noise-free masks; the fit itself is unchanged, and scores against the input "
                    "still judge the network's own output). Other tasks measure no pixel exactly.")
    holdout: float = setting(
        0.0, parse=FLOAT,
        help="Fraction of the measured pixels left out of the loss and used to judge the fit: the 'validation' "
             "stop fires when their score stops improving, and every rule returns the moving average that "
             "scored best on them (0 = off).")
    method: str = setting(
        "dip", parse=word, choices=("dip", "dip+cbm3d"),
        help="Denoising: dip = the network's result alone; dip+cbm3d = a weighted mean of it and CBM3D told the "
             "noise as DIP's fit found it. Camera noise: half each, CBM3D told the noise's spectrum (read from the "
             "input minus DIP's result): 0.04-0.18 dB above CBM3D at its best level on 128 px crops. White noise: "
             "0.3 DIP + 0.7 CBM3D, CBM3D told the level: 0.1 dB above CBM3D on 128 px crops at sigma 25 and 50 "
             "(docs/stopping.md#dip--cbm3d). Costs one CBM3D run after the fit.")
    uncertainty: int = setting(
        0, parse=INT, metavar="K",
        help="Estimate each pixel's error and write it as a map (uncertainty.npy / .png in the report): 1 = from "
             "how much one fit's outputs still move at each pixel, almost free; K >= 2 = K fits with seeds seed, "
             "seed + 1, ... (K times the time), whose mean is returned (a better image) and whose spread joins "
             "the map. Calibrated on measured pixels left out of the fit. Denoising with dip+cbm3d maps where "
             "DIP's and CBM3D's images disagree, at no cost (0 = off; docs/uncertainty.md).")

    def __post_init__(self) -> None:
        checks = [
            ("iterations", self.iterations >= 1, "must be at least 1"),
            ("lr", self.lr > 0, "must be positive"),
            ("adam_betas", len(self.adam_betas) == 2 and all(0 <= b < 1 for b in self.adam_betas),
             "must be two numbers in [0, 1)"),
            ("reg_noise_std", self.reg_noise_std >= 0, "must be >= 0"),
            ("reg_noise_start", self.reg_noise_start >= 0, "must be >= 0"),
            ("reg_noise_ramp", self.reg_noise_ramp >= 0, "must be >= 0"),
            ("ema_weight", 0 <= self.ema_weight < 1, "must be in [0, 1)"),
            ("log_every", self.log_every >= 1, "must be at least 1"),
            ("save_every", self.save_every >= 0, "must be >= 0"),
            ("backtrack_factor", self.backtrack_factor > 1, "must be > 1"),
            ("backtrack_lr_decay", 0 < self.backtrack_lr_decay <= 1, "must be in (0, 1]"),
            ("stop_noise_factor", self.stop_noise_factor > 0, "must be positive"),
            ("stop_correlated_factor", self.stop_correlated_factor > 0, "must be positive"),
            ("stop_patience", self.stop_patience >= 1, "must be at least 1"),
            ("stop_rise", self.stop_rise >= 1, "must be >= 1"),
            ("stop_min_iterations", self.stop_min_iterations >= 0, "must be >= 0"),
            ("noise_sigma", self.noise_sigma is None or self.noise_sigma > 0, "must be positive"),
            ("tv_weight", self.tv_weight >= 0, "must be >= 0"),
            ("holdout", 0 <= self.holdout < 0.5, "must be a fraction in [0, 0.5)"),
            ("uncertainty", 0 <= self.uncertainty <= 16, "must be 0 (off), 1 (one fit) or a number of fits up to 16"),
        ]
        for name, ok, rule in checks:
            if not ok:
                raise InputError(f"{_NAMES.get(name, name)} {rule}, got {getattr(self, name)!r}", setting=name)
        check_choices(self)


#: How messages name the fields whose names are terse.
_NAMES = {"lr": "learning rate", "adam_betas": "Adam betas", "reg_noise_std": "input-noise std",
          "ema_weight": "EMA weight", "tv_weight": "TV weight", "stop_noise_factor": "stop noise factor",
          "holdout": "holdout fraction"}


def replace(cfg: Any, **changes: Any) -> Any:
    """A copy of a config with some fields changed; ``None`` values are ignored (unset options)."""
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


NET_FIELDS = frozenset(f.name for f in dataclasses.fields(NetConfig))
FIT_FIELDS = frozenset(f.name for f in dataclasses.fields(FitConfig))

__all__ = ["NetConfig", "FitConfig", "replace", "to_dict", "from_dict", "NET_FIELDS", "FIT_FIELDS"]
