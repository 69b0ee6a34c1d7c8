"""The Python API: :func:`restore` runs one task on one image and returns the images, history and scores.

One call per image, no global state: a batch runner can map it over images, and a web page can stream its
``callbacks``. :func:`restore` may fit the image in tiles (the ``fast`` denoising preset does);
:func:`restore_whole` always fits it in one piece.

Examples
--------
>>> import numpy as np, deepprior
>>> noisy = np.random.default_rng(0).random((48, 48, 3), dtype=np.float32)
>>> r = deepprior.restore(noisy, "denoise", iterations=2, channels_down=(8, 8), channels_up=(8, 8),
...                       channels_skip=(2, 2), input_channels=4)
>>> r.image.shape, r.result
((48, 48, 3), 'ema')
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
import torch

from . import metrics
from .config import FitConfig, NetConfig, replace, to_dict
from .costs import estimate_memory
from .errors import InputError
from .fit import Callback, FitResult, fit
from .io import available_memory, from_tensor, to_tensor
from .masks import holdout_mask
from .nets import build_net, check_size, make_input
from .operators import make_operator
from .presets import get_preset
from .baselines import bicubic_upsample, estimate_noise_sigma

_NET_FIELDS = {f.name for f in dataclasses.fields(NetConfig)}
_FIT_FIELDS = {f.name for f in dataclasses.fields(FitConfig)}


@dataclass
class Restoration:
    """Result of :func:`restore`. Images are (H, W, C) float32 arrays in [0, 1].

    ``baseline`` is the corrupted input at the result's size (bicubic upsampling for super-resolution).
    """

    image: np.ndarray
    output: np.ndarray
    ema: np.ndarray
    best: np.ndarray
    result: str
    history: list[dict[str, Any]]
    metrics: dict[str, Any]
    config: dict[str, Any]
    fit: FitResult | None  # None for a tiled run (deepprior.tiling)
    baseline: np.ndarray
    ground_truth: np.ndarray | None = None


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else as given (CUDA checked)."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda asked for, but PyTorch sees no CUDA GPU; use --device cpu or auto")
    return dev


def build_configs(task: str, net: NetConfig | None = None, fit_cfg: FitConfig | None = None, *,
                  scale: int | None = None, preset: str = "fast", **settings: Any) -> tuple[NetConfig, FitConfig]:
    """The task's preset configs, with ``settings`` (any NetConfig / FitConfig field name) applied."""
    preset_obj = get_preset(task, scale, preset)
    unknown = set(settings) - _NET_FIELDS - _FIT_FIELDS
    if unknown:
        raise InputError(f"unknown settings: {', '.join(sorted(unknown))}")
    net = replace(net or preset_obj.net, **{k: v for k, v in settings.items() if k in _NET_FIELDS})
    fit_cfg = replace(fit_cfg or preset_obj.fit, **{k: v for k, v in settings.items() if k in _FIT_FIELDS})
    return net, fit_cfg


def restore(
    image: np.ndarray,
    task: str = "denoise",
    *,
    tile: int | tuple[int, int] | str | None = "auto",
    overlap: int | None = None,
    workers: int | None = None,
    **kwargs: Any,
) -> Restoration:
    """Restore one image with the Deep Image Prior: one fit of the whole image, or overlapping tiles.

    Takes the arguments of :func:`restore_whole` (the image, task, mask, scale, guide, ground truth, preset,
    seed, device, configs, callbacks and any config field), plus:

    tile : "auto", int, (int, int) or None
        "auto" (default): the preset decides. The ``fast`` denoising preset fits tiles of at most 144 px, and
        splits a smaller image so that every CPU thread fits a tile of its own (a 128 px image: two 72 x 128
        tiles on two threads); measured to reach the same quality sooner (README, *Speed*). Other presets fit the
        whole image. An int or (height, width): tiles of that size (:func:`deepprior.tiling.restore_tiled`).
        None: the whole image in one fit.
    overlap : int, optional
        Pixels shared by neighbouring tiles (default: an eighth of the tile, 16 for automatic tiles).
    workers : int, optional
        Tiles fitted at once (default: one per CPU thread, one at a time on a GPU).
    """
    from .tiling import restore_tiled

    a = np.asarray(image)
    scale = kwargs.get("scale")
    net_cfg = precision = None
    if tile == "auto" and kwargs.get("check_memory", True):
        settings = {k: v for k, v in kwargs.items() if k in _NET_FIELDS | _FIT_FIELDS}
        net_cfg, fit_cfg = build_configs(task, kwargs.get("net"), kwargs.get("fit_config"), scale=scale,
                                         preset=kwargs.get("preset", "fast"), **settings)
        precision = fit_cfg.precision
    plan = None if a.ndim < 2 else tile_plan(
        a.shape[0], a.shape[1], task, tile=tile, overlap=overlap, workers=workers, scale=scale,
        preset=kwargs.get("preset", "fast"), device=kwargs.get("device", "cpu"), net=net_cfg,
        precision=precision or "auto")
    if plan is None:
        return restore_whole(image, task, **kwargs)
    return restore_tiled(image, task, tile=plan[0], overlap=plan[1], workers=workers, **kwargs)


def tile_plan(h: int, w: int, task: str, *, tile: int | tuple[int, int] | list[int] | str | None = "auto",
              overlap: int | None = None, workers: int | None = None, scale: int | None = None,
              preset: str = "fast", device: str | torch.device = "cpu", net: NetConfig | None = None,
              precision: str = "auto") -> tuple[tuple[int, int], int] | None:
    """The tiles :func:`restore` fits an ``h`` x ``w`` observation in: ((tile height, width), overlap) in result
    pixels, or None for one fit of the whole image. Arguments as in :func:`restore`; ``net`` and ``precision``
    (the run's network and autocast setting) let "auto" tile an image too large for the device's free memory."""
    from .tiling import AUTO_OVERLAP, default_overlap, plan_tiles, worker_slots

    f = scale or 1
    if tile is None:
        return None
    if tile == "auto":
        dev = resolve_device(device)
        max_side = get_preset(task, scale, preset).tile
        overlap = AUTO_OVERLAP if overlap is None else overlap
        need = workers or worker_slots(dev)
        # Small tiles side by side pay on CPUs (measured: README, *Speed*). On a GPU steps are launch-bound (the
        # fast net: 2.7 ms at 256 px, 5.1 ms at 512 on an H200, four times the pixels for twice the time) and
        # tiles run one after another, so there the whole image is one fit unless it does not fit in memory.
        if max_side is not None and dev.type == "cpu":
            auto = plan_tiles(h * f, w * f, max_side, overlap, min_tiles=need, scale=f)
            return None if auto == (h * f, w * f) else (auto, overlap)
        side = None if net is None else memory_side(net, h * f, w * f, precision, dev, need)
        if side is None:
            return None
        auto = plan_tiles(h * f, w * f, side, min(overlap, side // 4), scale=f)
        return auto, min(overlap, side // 4)
    if isinstance(tile, (list, tuple)) and len(tile) == 2:
        sides = (int(tile[0]), int(tile[1]))
    elif isinstance(tile, int) and not isinstance(tile, bool):
        sides = (tile, tile)
    else:
        raise InputError(f"tile must be 'auto', a size in pixels, (height, width) or None; got {tile!r}")
    return sides, default_overlap(min(sides), f) if overlap is None else overlap


#: Share of the free memory an automatic plan may use: the estimate errs high (by 10-60 % where measured), but
#: other programs and the allocator's fragmentation need room too.
MEMORY_SHARE = 0.8


def memory_side(net: NetConfig, h: int, w: int, precision: str, device: torch.device, workers: int = 1) -> int | None:
    """None when one h x w fit fits in ``device``'s free memory; else the largest square tile side (a multiple of
    32, at least 64) of which ``workers`` fits at once do, or None when even that does not (the memory check then
    refuses the image)."""
    from .fit import resolve_precision

    prec = resolve_precision(precision, device)
    free = MEMORY_SHARE * available_memory(device)
    if estimate_memory(net, h, w, prec) <= free:
        return None
    budget = free / max(1, workers)
    side = (min(max(h, w), 8192) // 32) * 32
    while side > 64 and estimate_memory(net, side, side, prec) > budget:
        side -= 32
    return side if side >= 64 and estimate_memory(net, side, side, prec) <= budget else None


def restore_whole(
    image: np.ndarray,
    task: str = "denoise",
    *,
    mask: np.ndarray | None = None,
    scale: int | None = None,
    guide: np.ndarray | None = None,
    ground_truth: np.ndarray | None = None,
    preset: str = "fast",
    seed: int = 0,
    device: str | torch.device = "cpu",
    net: NetConfig | None = None,
    fit_config: FitConfig | None = None,
    callbacks: Iterable[Callback] = (),
    check_memory: bool = True,
    **settings: Any,
) -> Restoration:
    """Restore one image with the Deep Image Prior in one fit of the whole image.

    Parameters
    ----------
    image : np.ndarray
        Corrupted image (the observation), (H, W, C) or (H, W), float in [0, 1] or uint8.
    task : str
        "denoise", "dejpeg", "inpaint", "fill", "reconstruct", "superres" or "flash"
        (see :mod:`deepprior.presets`).
    mask : np.ndarray, optional
        (H, W) bool, True = known pixel. Required by the mask tasks (inpaint, fill, reconstruct).
    scale : int, optional
        Super-resolution factor (2, 4 or 8); the result is ``scale`` times larger than ``image``.
    guide : np.ndarray, optional
        Image used as the network input (flash / no-flash: the flash photo), same size as ``image``.
    preset : {"fast", "paper"}
        "paper": the published network and settings; "fast": a lighter net and loss where measured to reach
        the same quality sooner (:data:`deepprior.presets.FAST`).
    ground_truth : np.ndarray, optional
        Clean image of the result's shape; used only for scores, never for fitting or selection. For
        super-resolution a slightly larger one (by less than ``scale`` px a side) is centre-cropped.
    seed : int
        Seeds the network weights, the input and the per-step perturbations.
    device : str or torch.device
        "cpu", "cuda", "cuda:1" or "auto".
    net, fit_config : NetConfig, FitConfig, optional
        Start from these instead of the task's preset.
    callbacks : iterable of callables
        Called at every logged step with a :class:`deepprior.fit.StepRecord`; return True to stop.
    check_memory : bool
        Refuse to start when the estimated peak memory exceeds what the device has free.
    **settings
        Any :class:`NetConfig` or :class:`FitConfig` field, e.g. ``iterations=500, lr=0.02``.
    """
    preset_name = preset
    preset = get_preset(task, scale, preset_name)
    net_cfg, fit_cfg = build_configs(task, net, fit_config, scale=scale, preset=preset_name, **settings)
    dev = resolve_device(device)
    y_np = _as_image(image, "image")
    h, w, c = y_np.shape
    if preset.estimate_noise and fit_cfg.noise_sigma is None:
        fit_cfg = replace(fit_cfg, noise_sigma=estimate_noise_sigma(y_np))
    operator = _make_operator(preset, task, (h, w), mask=mask, scale=scale, guide=guide)
    out_h, out_w = operator.out_size(h, w)
    gt_np = None if ground_truth is None else _as_image(ground_truth, "ground truth")
    if gt_np is not None:
        if task == "superres":
            gt_np = _centre_crop(gt_np, out_h, out_w, slack=scale or 1)
        if gt_np.shape != (out_h, out_w, c):
            raise InputError(f"ground truth is {_size(gt_np)}x{gt_np.shape[2]} but the result will be "
                             f"{out_w}x{out_h}x{c}")
    guide_np = None
    if net_cfg.input == "image":
        guide_np = _as_image(guide, "guide image")
        net_cfg = replace(net_cfg, input_channels=guide_np.shape[2])
    check_size(net_cfg, out_h, out_w)
    if check_memory:
        _check_memory(net_cfg, out_h, out_w, fit_cfg, dev)

    gen_cpu = torch.Generator().manual_seed(seed)
    gen_dev = torch.Generator(device=dev).manual_seed(seed)
    model = build_net("skip", net_cfg, c, generator=gen_cpu).to(dev)
    if guide_np is not None:
        z = to_tensor(guide_np, device=dev)
    else:
        z = make_input(net_cfg, out_h, out_w, generator=gen_dev, device=dev)
    operator = operator.to(dev)
    y = to_tensor(y_np, device=dev)
    gt = None if gt_np is None else to_tensor(gt_np, device=dev)

    held = None
    if fit_cfg.holdout > 0:  # in the observation's pixels: the known ones of a mask, else any
        held_np = holdout_mask(np.ones((h, w), bool) if mask is None else mask, fit_cfg.holdout, seed=seed)
        held = torch.from_numpy(held_np.astype(np.float32))[None, None].to(dev) if held_np.any() else None
    result = fit(y, operator, model, z, fit_cfg, generator=gen_dev, ground_truth=gt, callbacks=callbacks,
                 holdout=held)

    fitted = {k: from_tensor(result.image(k)) for k in ("output", "ema", "best")}
    kept = fit_cfg.keep_measured and operator.keeps_pixels
    images = {k: from_tensor(operator.keep_measured(result.image(k), y)) for k in fitted} if kept else fitted
    baseline = bicubic_upsample(y_np, scale) if task == "superres" else y_np
    config = {"task": task, "seed": seed, "device": str(dev), "net_name": "skip", "preset": preset_name,
              "preset_source": preset.source,
              "scale": scale, "net": to_dict(net_cfg), "fit": to_dict(fit_cfg), "image_size": [w, h, c]}
    summary = summarize(task, result, images, y, operator, gt_np, baseline, seed, str(dev), fit_cfg.result,
                        fitted=fitted if kept else None)
    summary["holdout_pixels"] = 0 if held is None else int(held.sum())
    return Restoration(image=images[fit_cfg.result], result=fit_cfg.result, history=result.history,
                       metrics=summary, config=config, fit=result, baseline=baseline,
                       ground_truth=gt_np, **images)


def _make_operator(preset: Any, task: str, size: tuple[int, int], *, mask: np.ndarray | None,
                   scale: int | None, guide: np.ndarray | None) -> Any:
    """Check the task's extra inputs and build its operator."""
    given = {"mask": mask, "scale": scale, "guide": guide}
    for name, value in given.items():
        if name in preset.needs and value is None:
            raise InputError(f"task {task!r} needs a {name}" + (" (white = known, black = missing)"
                                                                  if name == "mask" else ""))
        if name not in preset.needs and value is not None:
            raise InputError(f"task {task!r} takes no {name}")
    h, w = size
    if mask is not None:
        if mask.shape != (h, w):
            raise InputError(f"mask is {mask.shape[1]}x{mask.shape[0]} but the image is {w}x{h}")
        if not mask.any():
            raise InputError("mask marks every pixel as missing; nothing to fit")
        return make_operator(preset.operator, mask=torch.from_numpy(mask.astype(np.float32)))
    if guide is not None and np.asarray(guide).shape[:2] != (h, w):
        g = np.asarray(guide)
        raise InputError(f"guide image is {g.shape[1]}x{g.shape[0]} but the image is {w}x{h}")
    if scale is not None:
        return make_operator(preset.operator, factor=scale)
    return make_operator(preset.operator)


def _centre_crop(img: np.ndarray, h: int, w: int, slack: int) -> np.ndarray:
    """Centre-crop ``img`` to (h, w) when it is larger by less than ``slack`` px (as ``degrade`` crops)."""
    dh, dw = img.shape[0] - h, img.shape[1] - w
    if 0 <= dh < slack and 0 <= dw < slack and (dh or dw):
        top, left = dh // 2, dw // 2
        return img[top:top + h, left:left + w]
    return img


def summarize(task: str, result: FitResult, images: dict[str, np.ndarray], observation: torch.Tensor,
              operator: Any, gt: np.ndarray | None, baseline: np.ndarray, seed: int, device: str,
              chosen: str, fitted: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """The content of ``metrics.json``: run facts and 8-bit scores of each image against GT and observation.

    ``input`` scores the corrupted input at the result's size (for super-resolution: its bicubic upsampling,
    also under ``bicubic``); super-resolution adds the paper's ``psnr_y`` to every ground-truth entry.
    ``fitted``: the network's own images where ``images`` kept the measured pixels; the scores against the
    observation judge those (the kept images match it by construction).
    """
    obs_np = from_tensor(observation)
    known = None if operator.known is None else from_tensor(operator.known.expand_as(observation)) > 0.5
    out: dict[str, Any] = {
        "task": task, "iterations": result.iterations, "seconds": round(result.seconds, 3), "device": device,
        "seed": seed, "precision": result.precision, "cuda_graph": result.cuda_graph,
        "cuda_graph_error": result.cuda_graph_error or None,
        "stopped_by": result.stopped_by, "result": chosen,
        "best_iteration": result.best_iteration, "backtracks": len(result.events),
        "stop_rule": result.stop_rule or None, "stop_iteration": result.stop_iteration or None,
        "kept_measured": fitted is not None,
    }
    rows = [r for r in result.history if "psnr_output" in r]
    if rows:
        peak = max(rows, key=lambda r: max(r["psnr_output"], r["psnr_ema"]))
        out["oracle_psnr"] = max(peak["psnr_output"], peak["psnr_ema"])
        out["oracle_iteration"] = peak["iteration"]

    def vs_gt(img: np.ndarray) -> dict[str, float]:
        s = metrics.scores(img, gt)
        if task == "superres":
            s["psnr_y"] = metrics.psnr_y(img, gt)
        return s

    for name, img in images.items():
        q = metrics.quantize(img)
        with torch.no_grad():
            own = q if fitted is None else metrics.quantize(fitted[name])
            seen = from_tensor(operator(to_tensor(own, device=observation.device)))
        entry = {"observation": metrics.scores(seen, obs_np, known)}
        if gt is not None:
            entry["gt"] = vs_gt(q)
        out[name] = entry
    if gt is not None:
        out["input"] = {"gt": vs_gt(metrics.quantize(baseline))}
        if task == "superres":
            out["bicubic"] = out["input"]
        out["table"] = {
            "final_vs_gt": out["output"]["gt"]["psnr"], "ema_vs_gt": out["ema"]["gt"]["psnr"],
            "final_vs_observation": out["output"]["observation"]["psnr"],
            "ema_vs_observation": out["ema"]["observation"]["psnr"],
        }
    out["masked_input"] = known is not None
    return out


def _as_image(a: np.ndarray, what: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[2] not in (1, 3):
        raise InputError(f"{what} must be (H, W), (H, W, 1) or (H, W, 3); got shape {a.shape}")
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    if not np.issubdtype(a.dtype, np.floating):
        raise InputError(f"{what} must be uint8 or float in [0, 1]; got {a.dtype}")
    if a.size and (np.nanmin(a) < -1e-6 or np.nanmax(a) > 1 + 1e-6 or np.isnan(a).any()):
        raise InputError(f"{what} values must lie in [0, 1]")
    return a.astype(np.float32)


def _size(a: np.ndarray) -> str:
    return f"{a.shape[1]}x{a.shape[0]}"


def _check_memory(net: NetConfig, h: int, w: int, fit_cfg: FitConfig, dev: torch.device) -> None:
    from .fit import resolve_precision

    need = estimate_memory(net, h, w, resolve_precision(fit_cfg.precision, dev))
    have = available_memory(dev)
    if need > have:
        raise InputError(
            f"not enough memory: a {w}x{h} image needs about {need / 2**30:.1f} GiB for this network but only "
            f"{have / 2**30:.1f} GiB is free on {dev}; restore it in tiles (--tile 512), crop or downscale it, or use "
            f"fewer channels"
        )
