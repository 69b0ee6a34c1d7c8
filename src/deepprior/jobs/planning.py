"""Resolve everything a restoration needs, once: :func:`plan` turns an image, a task and settings into a
:class:`~deepprior.jobs.job.Job`, or raises :class:`~deepprior.errors.InputError` before anything runs.

Examples
--------
>>> import numpy as np, deepprior
>>> noisy = np.random.default_rng(0).random((200, 120, 3), dtype=np.float32)
>>> job = deepprior.plan(noisy, "denoise", workers=2)  # the fast preset: tiles of at most 144 px on a CPU
>>> job.tiling.tile, len(job.tiling.tiles), job.fit.loss, job.fit.precision in ("bf16", "fp32")
((108, 120), 2, 'rmse', True)
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from ..config import FIT_FIELDS, NET_FIELDS, FitConfig, NetConfig, from_dict, replace
from ..errors import InputError
from ..fitting import resolve_execution
from ..imaging.io import as_image, available_memory
from ..imaging.noise import NoiseEstimate, estimate_noise, estimate_noise_sigma
from ..nets import check_size
from ..operators import check_kernel, make_operator
from .costs import estimate_memory
from .job import Inputs, Job
from .presets import get_preset
from .tasks import Task, get_task
from .tiles import TilePlan, choose_tiles, lay_out


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else as given (CUDA checked)."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise InputError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N", setting="device") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError("device cuda asked for, but PyTorch sees no CUDA GPU; use cpu or auto", setting="device")
    if dev.type not in ("cpu", "cuda"):
        raise InputError(f"device {device!r} is not supported; use auto, cpu, cuda or cuda:N", setting="device")
    return dev


def plan(image: np.ndarray, task: str = "denoise", *, mask: np.ndarray | None = None, scale: int | None = None,
         guide: np.ndarray | None = None, kernel: np.ndarray | None = None,
         ground_truth: np.ndarray | None = None, preset: str = "fast",
         seed: int = 0, device: str | torch.device = "cpu", tile: Any = "auto", overlap: int | None = None,
         workers: int | None = None, net: NetConfig | None = None, fit: FitConfig | None = None,
         check_memory: bool = True, **settings: Any) -> Job:
    """Resolve one restoration: the task's operator and preset, the configs with ``settings`` applied, the
    device, the tiles and the checked inputs. Every bad setting or input raises :class:`InputError` here.

    Parameters
    ----------
    image : np.ndarray
        The corrupted image (the observation), (H, W, C) or (H, W), float in [0, 1] or uint8.
    task : str
        "denoise", "dejpeg", "inpaint", "fill", "reconstruct", "superres", "flash" or "deblur".
    mask : np.ndarray, optional
        (H, W) bool, True = known pixel: the mask tasks (inpaint, fill, reconstruct) need it.
    scale : int, optional
        Super-resolution factor (2, 4 or 8); the result is ``scale`` times larger than ``image``.
    guide : np.ndarray, optional
        The network input of flash / no-flash (the flash photo), the size of ``image``.
    kernel : np.ndarray, optional
        The blur of deblurring, (kh, kw), non-negative (normalised here; see
        :func:`deepprior.operators.gaussian_kernel`, :func:`~deepprior.operators.motion_kernel`).
    ground_truth : np.ndarray, optional
        Clean image of the result's size, only ever scored. For super-resolution a slightly larger one (by less
        than ``scale`` px a side) is centre-cropped, as ``deepprior degrade --downscale`` crops.
    preset : {"fast", "paper"}
        "paper": the published network and settings; "fast": measured changes that reach the same quality
        sooner (:data:`deepprior.jobs.presets.PRESETS`).
    seed : int
        Seeds the network weights, the input and the per-step perturbations.
    device : str or torch.device
        "cpu", "cuda", "cuda:1" or "auto".
    tile : "auto", int, (int, int), None or TilePlan
        "auto": as the preset says (the fast denoising preset fits tiles of at most 144 px side by side on a
        CPU) and wherever one fit would not fit in memory; a side or (height, width) in result pixels; None:
        one fit of the whole image; a :class:`~deepprior.jobs.tiles.TilePlan`: exactly those tiles.
    overlap : int, optional
        Pixels shared by neighbouring tiles (default 16 for automatic tiles, else an eighth of the tile).
    workers : int, optional
        Tiles fitted at once (default: one per CPU thread, one at a time on a GPU).
    net, fit : NetConfig, FitConfig, optional
        Start from these instead of the preset's.
    check_memory : bool
        Refuse fits whose estimated memory exceeds what the device has free (and let "auto" tile such images).
    **settings
        Any :class:`NetConfig` or :class:`FitConfig` field, e.g. ``iterations=500, lr=0.02``.
    """
    the_task = get_task(task)
    chosen = get_preset(task, scale, preset)
    unknown = set(settings) - NET_FIELDS - FIT_FIELDS
    if unknown:
        raise InputError(f"unknown settings: {', '.join(sorted(unknown))}", setting=sorted(unknown)[0])
    net_cfg = replace(net or chosen.net, **{k: v for k, v in settings.items() if k in NET_FIELDS})
    fit_cfg = replace(fit or chosen.fit, **{k: v for k, v in settings.items() if k in FIT_FIELDS})
    dev = resolve_device(device)
    fit_cfg = resolve_execution(fit_cfg, dev)
    inputs = _inputs(the_task, image, mask=mask, scale=scale, guide=guide, kernel=kernel, ground_truth=ground_truth)
    if net_cfg.input == "image":
        if inputs.guide is None:
            raise InputError("input 'image' is the guide image, which only the flash task takes", setting="input")
        net_cfg = replace(net_cfg, input_channels=inputs.guide.shape[2])
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**64:
        raise InputError(f"seed must be a whole number from 0 to 2**64 - 1, got {seed!r}", setting="seed")
    h, w = inputs.observation.shape[:2]
    check_size(net_cfg, h * (scale or 1), w * (scale or 1))  # the image itself first: say its size, not a tile's
    free = available_memory(dev) if check_memory else 0.0
    if isinstance(tile, TilePlan):
        tiles = _checked(tile, h, w)
    else:
        sides, lap = choose_tiles(h, w, scale=scale or 1, tile=tile, overlap=overlap, workers=workers, device=dev,
                                  max_side=chosen.tiling.max_side, net=net_cfg if check_memory else None,
                                  precision=fit_cfg.precision, free=free)
        tiles = lay_out(h, w, sides, lap, scale or 1, workers, dev)
    if fit_cfg.method != "dip" and the_task.name != "denoise":
        raise InputError(f"method {fit_cfg.method!r} is for denoising; task {the_task.name!r} takes method 'dip'",
                         setting="method")
    tiles, fit_cfg, noise = _with_noise(tiles, the_task, fit_cfg, inputs.observation)
    job = Job(the_task, chosen, scale, seed, dev, net_cfg, fit_cfg, tiles, inputs, noise=noise)
    return dataclasses.replace(job, memory=_checked_fits(job, free if check_memory else None))


def _checked_fits(job: Job, free: float | None) -> int:
    """Every fit of ``job`` is large enough for its network and blur kernel, and the largest fits in ``free``
    bytes (None: not checked); returns the largest fit's memory."""
    net_cfg, kernel = job.net, job.inputs.kernel
    th, tw = job.largest_tile()
    memory = estimate_memory(net_cfg, th, tw, job.fit.precision)
    for t in {(t.height * job.factor, t.width * job.factor) for t in job.tiling.tiles}:
        check_size(net_cfg, *t)
        if kernel is not None and min(t) <= max(kernel.shape):
            raise InputError(f"a {t[1]}x{t[0]} fit is too small for the {kernel.shape[1]}x{kernel.shape[0]} blur "
                             f"kernel; use larger tiles or none", setting="tile")
    if free is not None and memory > free:
        raise InputError(
            f"not enough memory: a {tw}x{th} fit needs about {memory / 2**30:.1f} GiB for this network but only "
            f"{free / 2**30:.1f} GiB is free on {job.device}; fit it in smaller tiles (e.g. 512 px), crop or "
            f"downscale it, or use fewer channels", setting="tile")
    return memory


def plan_from_config(config: dict[str, Any], image: np.ndarray, *, mask: np.ndarray | None = None,
                     guide: np.ndarray | None = None, ground_truth: np.ndarray | None = None,
                     device: str | torch.device | None = None) -> Job:
    """The :class:`Job` a report's config.json describes (:meth:`Job.to_config`), for the same image: the same
    configs, seed, tiles and noise levels, so the run repeats exactly (on the device recorded, unless
    ``device`` says otherwise)."""
    try:
        w, h, c = config["image_size"]
        if tuple(np.asarray(image).shape[:2]) != (h, w):
            shape = np.asarray(image).shape
            raise InputError(f"the configuration is of a {w}x{h} image, this one is {shape[1]}x{shape[0]}")
        kernel = None if "kernel" not in config else np.asarray(config["kernel"], np.float32)
        return plan(image, config["task"], mask=mask, scale=config["scale"], guide=guide, kernel=kernel,
                    ground_truth=ground_truth, preset=config["preset"], seed=config["seed"],
                    device=config["device"] if device is None else device,
                    tile=TilePlan.from_config(config["tiling"]), net=from_dict(NetConfig, config["net"]),
                    fit=from_dict(FitConfig, config["fit"]))
    except (KeyError, TypeError, ValueError) as e:
        if isinstance(e, InputError):
            raise
        raise InputError(f"not a deepprior configuration ({type(e).__name__}: {e})") from None


def _inputs(task: Task, image: np.ndarray, *, mask: np.ndarray | None, scale: int | None,
            guide: np.ndarray | None, kernel: np.ndarray | None, ground_truth: np.ndarray | None) -> Inputs:
    """Check the task's inputs against each other and convert them."""
    y = as_image(image, "image")
    h, w, c = y.shape
    given = {"mask": mask, "scale": scale, "guide": guide, "kernel": kernel}
    for name, value in given.items():
        if name in task.needs and value is None:
            raise InputError(f"task {task.name!r} needs a {name}" + (" (white = known, black = missing)"
                                                                       if name == "mask" else ""), setting=name)
        if name not in task.needs and value is not None:
            raise InputError(f"task {task.name!r} takes no {name}", setting=name)
    if mask is not None:
        mask = np.asarray(mask, bool)
        if mask.shape != (h, w):
            raise InputError(f"mask is {_size(mask)} but the image is {w}x{h}", setting="mask")
        if not mask.any():
            raise InputError("mask marks every pixel as missing; nothing to fit", setting="mask")
        if mask.all():
            raise InputError("mask marks no pixel as missing (all white), so there is nothing to fill; black "
                             "marks the missing pixels", setting="mask")
    if guide is not None:
        guide = as_image(guide, "guide image")
        if guide.shape[:2] != (h, w):
            raise InputError(f"guide image is {_size(guide)} but the image is {w}x{h}", setting="guide")
    f = scale or 1
    if scale is not None:
        make_operator(task.operator, factor=scale)  # refuses factors it has no kernel for
    truth = None if ground_truth is None else as_image(ground_truth, "ground truth")
    if truth is not None:
        truth = _centre_crop(truth, h * f, w * f, slack=f) if scale else truth
        if truth.shape[2] != c:
            raise InputError(f"ground truth has {truth.shape[2]} channel(s) but the image has {c}",
                             setting="ground_truth")
        if truth.shape != (h * f, w * f, c):
            raise InputError(f"ground truth is {_size(truth)}x{truth.shape[2]} but the result will be "
                             f"{w * f}x{h * f}x{c}", setting="ground_truth")
    return Inputs(y, mask, guide, truth, None if kernel is None else check_kernel(kernel))


def _checked(tiles: TilePlan, h: int, w: int) -> TilePlan:
    """A caller's (or a config's) tile plan, if its tiles lie in an h x w observation and cover it."""
    covered = np.zeros((h, w), bool)
    for t in tiles.tiles:
        if t.top < 0 or t.left < 0 or t.height < 1 or t.width < 1 or t.top + t.height > h or t.left + t.width > w:
            raise InputError(f"tile {t.index} ({t.height}x{t.width} at {t.top},{t.left}) does not lie in the "
                             f"{w}x{h} image", setting="tile")
        covered[t.observed()] = True
    if not tiles.tiles or not covered.all() or tiles.workers < 1:
        raise InputError(f"the tiles do not cover the {w}x{h} image (or no worker fits them)", setting="tile")
    return tiles


def _with_noise(tiles: TilePlan, task: Task, fit_cfg: FitConfig,
                observation: np.ndarray) -> tuple[TilePlan, FitConfig, NoiseEstimate | None]:
    """Each tile's noise level and the noise model, resolved: the settings where given; else, for a noisy task,
    the whole image's two estimates decide the model, and white noise is estimated per tile (each tile stops at
    its own level) while correlated noise takes the flattest blocks of the whole image (a tile has too few)."""
    estimate = None
    model = "white" if fit_cfg.noise_model == "auto" else fit_cfg.noise_model
    recorded = all(t.noise_sigma is not None for t in tiles.tiles)  # a config's plan: its levels stand
    if fit_cfg.noise_sigma is None and task.noisy and not recorded:
        estimate = estimate_noise(observation)
        model = estimate.model if fit_cfg.noise_model == "auto" else fit_cfg.noise_model

    def sigma(t: Any) -> float | None:
        if t.noise_sigma is not None:
            return t.noise_sigma
        if estimate is None:
            return fit_cfg.noise_sigma
        return estimate.flat_blocks if model == "correlated" else estimate_noise_sigma(observation[t.observed()])

    tiles = dataclasses.replace(tiles, tiles=tuple(dataclasses.replace(t, noise_sigma=sigma(t)) for t in tiles.tiles))
    return tiles, dataclasses.replace(fit_cfg, noise_model=model), estimate


def _centre_crop(img: np.ndarray, h: int, w: int, slack: int) -> np.ndarray:
    """Centre-crop ``img`` to (h, w) when it is larger by less than ``slack`` px (as ``degrade`` crops)."""
    dh, dw = img.shape[0] - h, img.shape[1] - w
    if 0 <= dh < slack and 0 <= dw < slack and (dh or dw):
        top, left = dh // 2, dw // 2
        return img[top:top + h, left:left + w]
    return img


def _size(a: np.ndarray) -> str:
    return f"{a.shape[1]}x{a.shape[0]}"
