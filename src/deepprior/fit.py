"""The one fitting loop of deepprior: every task runs through :func:`fit` with its own operator.

Read :func:`fit` top to bottom: perturb input -> forward -> EMA -> loss -> (logged step: backtrack check,
snapshot, metrics, callbacks) -> backward -> step. On CUDA, forward, loss, backward and step run at once as a
replayed CUDA graph (:mod:`deepprior.cuda_graph`) before the EMA and the logged-step checks; the outcome is the same.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
import torch
from torch import nn

from . import metrics
from .config import FitConfig
from .cuda_graph import GraphedStep, graph_supported
from .operators import Operator
from .tricks import AutoStop, BacktrackEvent, Backtracker, BestSnapshot, OutputEMA, OutputVariance

#: Most of a run's wall time that SSIM scores of logged rows may take (see the loop); PSNR and MSE are in every row.
SSIM_SHARE = 0.1


@dataclass
class StepRecord:
    """What a callback sees at a logged step.

    ``row`` is the history row (iteration, seconds, loss, lr, metrics, event). ``output`` and ``ema`` are the
    current images (1, C, H, W) as the run will return them (``FitConfig.keep_measured`` applied), valid during
    the call only. ``save`` is true on ``save_every`` steps.
    """

    row: dict[str, float | int | str]
    output: torch.Tensor
    ema: torch.Tensor
    save: bool


#: A callback gets each logged step; returning True stops the run (``stopped_by = "callback"``).
Callback = Callable[[StepRecord], "bool | None"]


@dataclass
class FitResult:
    """The outcome of :func:`fit`: the three candidate images, the history and why the run stopped.

    ``best`` is the snapshot chosen without a ground truth (``best_by``); ``stop_rule`` / ``stop_iteration``
    say whether and when the automatic rule fired (also when ``stop="none"`` let the run go on). The images are
    the network's own, before ``FitConfig.keep_measured`` (which the history's ground-truth scores and the
    callbacks' images already include; :func:`deepprior.api.restore_whole` applies it to the result).
    """

    output: torch.Tensor
    ema: torch.Tensor
    best: torch.Tensor
    best_iteration: int
    iterations: int
    seconds: float
    stopped_by: str
    precision: str
    channels_last: bool
    history: list[dict[str, float | int | str]] = field(default_factory=list)
    events: list[BacktrackEvent] = field(default_factory=list)
    stop_rule: str = ""
    stop_iteration: int = 0
    cuda_graph: bool = False
    cuda_graph_error: str = ""

    def image(self, which: str) -> torch.Tensor:
        """One of ``"output"``, ``"ema"``, ``"best"``."""
        return {"output": self.output, "ema": self.ema, "best": self.best}[which]


def resolve_precision(precision: str, device: torch.device) -> str:
    """Turn ``"auto"`` into bf16 where the hardware runs it natively, else fp32."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu" and torch.backends.mkldnn.is_available():
        return "bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32"
    return "fp32"


def fit(
    observation: torch.Tensor,
    operator: Operator,
    net: nn.Module,
    net_input: torch.Tensor,
    cfg: FitConfig,
    *,
    generator: torch.Generator,
    ground_truth: torch.Tensor | None = None,
    callbacks: Iterable[Callback] = (),
    holdout: torch.Tensor | None = None,
) -> FitResult:
    """Fit ``net`` so that ``operator(net(net_input))`` matches ``observation``.

    Parameters
    ----------
    observation : torch.Tensor
        The corrupted image ``y``, (1, C, h, w), on the device the fit runs on.
    operator : Operator
        The degradation ``A``; its ``known`` buffer (if any) selects the values the loss compares.
    net, net_input : nn.Module, torch.Tensor
        The network (already on the device) and its fixed input (1, C_in, H, W).
    cfg : FitConfig
        Optimiser and trick settings.
    generator : torch.Generator
        Source of the per-step input perturbation, on the same device.
    ground_truth : torch.Tensor, optional
        Clean image (1, C, H, W); only scored in the history, never used for fitting or selection.
    callbacks : iterable of Callback
        Called at every logged step; a True return stops the run.
    holdout : torch.Tensor, optional
        1 where a measured value is left out of the loss and scored instead (``FitConfig.holdout``; see
        :func:`deepprior.masks.holdout_mask`), broadcastable to the observation.

    Returns
    -------
    FitResult
        Ctrl-C (KeyboardInterrupt) ends the run early with ``stopped_by = "interrupted"`` and still returns
        the images of the last completed step.
    """
    device = observation.device
    precision = resolve_precision(cfg.precision, device)
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    channels_last = cfg.channels_last if cfg.channels_last is not None else device.type in ("cpu", "cuda")
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
        net_input = net_input.contiguous(memory_format=torch.channels_last)
    net.train()  # batch norm uses the statistics of the one image, as in the paper
    params = [p for p in net.parameters() if p.requires_grad]
    inputs: tuple[torch.Tensor, ...] = ()
    if cfg.train_input:
        net_input = net_input.detach().clone().requires_grad_(True)
        params.append(net_input)
        inputs = (net_input,)
    # The fused kernel updates all tensors in one pass: the same arithmetic, without ~10 small ops per tensor.
    graphed = (cfg.cuda_graph is not False) and graph_supported(device, precision, cfg.compile)
    opt = torch.optim.Adam(params, lr=cfg.lr, betas=tuple(cfg.adam_betas), fused=device.type in ("cpu", "cuda"),
                           capturable=graphed)
    # The compiled module shares its parameters and buffers with ``net``; snapshots keep using ``net``.
    forward = torch.compile(net) if cfg.compile else net
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    known = operator.known
    # The loss's weight of each value: 0 for held-out ones (the operator already zeroes unmeasured ones).
    weight = None if holdout is None else 1.0 - holdout.to(observation)
    fitted = known if weight is None else weight if known is None else known * weight
    # Mean over the fitted values only; the denominator is fixed, so compute it once.
    denom = None if fitted is None else fitted.expand_as(observation).sum().clamp_min(1)
    gt_np = None if ground_truth is None else _np(ground_truth)
    obs_np = _np(observation)
    known_np = None if known is None else _np(known.expand_as(observation)) > 0.5
    held_np = None if holdout is None else _np(holdout.to(observation).expand_as(observation)) > 0.5

    def shown(img: torch.Tensor) -> torch.Tensor:
        """An image as the user gets it: with the measured pixels kept, when the config asks for that."""
        return operator.keep_measured(img, observation) if cfg.keep_measured else img

    ema, best, variance = OutputEMA(cfg.ema_weight, cfg.ema_warmup), BestSnapshot(), OutputVariance()
    lag = round(1 / (1 - cfg.ema_weight)) if cfg.ema_weight > 0 else 0
    noise_var = cfg.stop_noise_factor * cfg.noise_sigma**2 if cfg.noise_sigma else None
    stopper = AutoStop(cfg.stop_patience, cfg.stop_rise, lag, cfg.stop_min_gain_db, cfg.stop_min_iterations,
                       noise_var, peak=cfg.stop_peak)
    backtracker = Backtracker(cfg.backtrack_factor, cfg.backtrack_lr_decay, cfg.backtrack_window)
    history: list[dict[str, float | int | str]] = []
    out = net_input.new_zeros(())
    stopped_by, it = "iterations", 0
    graph: GraphedStep | None = None
    graph_error = ""
    ssim_seconds = 0.0
    start = time.perf_counter()
    try:
        # Refilled in place each step: at 256 px, normal_() into a plain contiguous buffer took 13 ms where a
        # fresh randn took 20 ms and randn_like of the channels-last input 75 ms (2-core CPU). (A buffer of the
        # input's channels-last layout would make the addition cheaper, 0.09 against 0.74 ms at 72 x 128 px, but
        # fills the same random numbers into other pixels: every seeded result would change, and the fast
        # inpainting of one crop moved by 0.6 dB with it.)
        jitter = torch.empty(net_input.shape, device=device, dtype=net_input.dtype)
        # The perturbation's size as a tensor, so that a graph replay reads the current value (it ramps).
        std_now = torch.zeros((), device=device)

        def step_objective(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            """Forward and loss of one step: (output in float32, MSE on the measured values, objective)."""
            # No autocast weight cache under a graph: cached casts would outlive the capture they were made in.
            autocast = (torch.autocast(device.type, dtype=amp_dtype, cache_enabled=not graphed)
                        if amp_dtype is not None else contextlib.nullcontext())
            with autocast:
                y = forward(z).float()
            residual = operator(y) - observation
            if weight is not None:
                residual = residual * weight
            mse = residual.square().mean() if denom is None else residual.square().sum() / denom
            obj = mse.clamp_min(1e-12).sqrt() if cfg.loss == "rmse" else mse
            return y, mse, obj + cfg.tv_weight * _tv(y) if cfg.tv_weight > 0 else obj

        graph = GraphedStep(lambda: step_objective(net_input + std_now * jitter if cfg.reg_noise_std > 0
                                                   else net_input), opt) if graphed else None
        for it in range(1, cfg.iterations + 1):
            if cfg.reg_noise_std > 0:
                ramp = min(1.0, it / cfg.reg_noise_ramp) if cfg.reg_noise_ramp else 1.0
                std = cfg.reg_noise_std * (cfg.reg_noise_start + (1 - cfg.reg_noise_start) * ramp)
                jitter.normal_(generator=generator)
            stepped = graph is not None
            if stepped:  # forward, backward and update of the step at once
                std_now.fill_(std if cfg.reg_noise_std > 0 else 0.0)
                try:
                    out, loss = graph.step()
                except RuntimeError as e:  # a capture CUDA refused: go on eagerly, and say so in the metrics
                    graph, stepped, graph_error = None, False, str(e).splitlines()[0][:200]
            if not stepped:
                out, loss, objective = step_objective(net_input + std * jitter if cfg.reg_noise_std > 0
                                                      else net_input)
            # The average includes this step's output, so a logged row, a callback and the returned EMA agree.
            ema_now = ema.update(out)

            save = cfg.save_every > 0 and it % cfg.save_every == 0
            if it == 1 or it % cfg.log_every == 0 or it == cfg.iterations or save:
                # .item() is a device sync point, so the checks below run only at logged steps.
                loss_value = loss.item()
                event = ""
                if cfg.backtrack and backtracker.is_blowup(loss_value):
                    # A replayed step has applied its update already; restoring the snapshot undoes it too.
                    ev = backtracker.restore(loss_value, it, net, opt, ema, inputs)
                    if graph is not None:
                        graph.reset()  # the optimiser's state tensors and learning rate were replaced
                    event = f"backtrack to {ev.restored_iteration}, lr {ev.lr:.3g}"
                    history.append({"iteration": it, "seconds": time.perf_counter() - start,
                                    "loss": loss_value, "lr": ev.lr, "event": event})
                    continue  # the bad update is never applied
                if cfg.backtrack:
                    backtracker.save(loss_value, it, net, opt, ema.value, inputs)
                best.update(loss_value, out, it)
                row = {"iteration": it, "seconds": time.perf_counter() - start, "loss": loss_value,
                       "lr": opt.param_groups[0]["lr"], "event": event,
                       "variance": float(variance.value) if variance.value is not None else float("nan")}
                # SSIM against the ground truth only while it has taken under SSIM_SHARE of the run so far: at
                # 512 px it costs 0.24 s per row on the CPU, more than ten replayed steps of the paper's net.
                with_ssim = gt_np is not None and ssim_seconds <= SSIM_SHARE * (time.perf_counter() - start)
                t_metrics = time.perf_counter()
                returned = (shown(out.detach()), shown(ema_now))  # once per logged step: scored and handed on
                row.update(_log_metrics(out, ema_now, operator, obs_np, known_np, gt_np, with_ssim, returned,
                                        held_np))
                ssim_seconds += (time.perf_counter() - t_metrics) if with_ssim else 0.0
                history.append(row)
                reason = stopper.decide(it, row["variance"], row["psnr_obs_ema"], ema_now, loss_value,
                                        row.get("psnr_holdout_ema"))
                if reason:
                    row["event"] = f"auto-stop rule: {reason}"
                record = StepRecord(row, *returned, save)
                if any([bool(cb(record)) for cb in callbacks]):
                    stopped_by = "callback"
                    break
                if reason and cfg.stop == "auto":
                    stopped_by = reason
                    break

            if not stepped:
                opt.zero_grad(set_to_none=True)
                scaler.scale(objective).backward()
                scaler.step(opt)
                scaler.update()
            variance.update(out)
    except KeyboardInterrupt:
        stopped_by = "interrupted"

    seconds = time.perf_counter() - start
    # A copy: under a graph ``out`` is the graph's own buffer.
    last = out.detach().float().clone() if out.ndim == 4 else None
    if last is None:  # interrupted before the first forward finished
        raise KeyboardInterrupt
    ema_img = ema.value if ema.value is not None else last
    pick, pick_it = (stopper.image, stopper.iteration) if cfg.best_by == "auto" else (best.image, best.iteration)
    if cfg.best_by == "auto" and not stopper.fired:
        # No peak seen: the run was still improving, so the latest EMA is the best, unless held-out pixels say
        # which was.
        held = stopper.held_image is not None
        pick, pick_it = (stopper.held_image, stopper.held_iteration) if held else (ema_img, it)
    return FitResult(
        output=last, ema=ema_img, best=pick if pick is not None else last, best_iteration=pick_it or it,
        iterations=it, seconds=seconds, stopped_by=stopped_by, precision=precision, channels_last=channels_last,
        history=history, events=backtracker.events, stop_rule=stopper.fired, stop_iteration=stopper.fired_at,
        cuda_graph=graph is not None and graph.captures > 0, cuda_graph_error=graph_error,
    )


def _tv(x: torch.Tensor) -> torch.Tensor:
    """Anisotropic total variation per pixel: sum of absolute neighbour differences over the element count."""
    dh = (x[..., 1:, :] - x[..., :-1, :]).abs().sum()
    dw = (x[..., :, 1:] - x[..., :, :-1]).abs().sum()
    return (dh + dw) / x.numel()


def _np(t: torch.Tensor) -> np.ndarray:
    """(1, C, H, W) tensor -> (H, W, C) float32 array on the CPU."""
    return t.detach().float()[0].permute(1, 2, 0).cpu().numpy()


def _log_metrics(out: torch.Tensor, ema: torch.Tensor, operator: Operator, obs: np.ndarray,
                 known: np.ndarray | None, gt: np.ndarray | None, with_ssim: bool = True,
                 returned: tuple[torch.Tensor, torch.Tensor] | None = None,
                 held: np.ndarray | None = None) -> dict[str, float]:
    """Scores for one history row: the network's images against the observation (measured values; and the
    ``held``-out values apart), and the images as the user gets them (``returned``: output and EMA with the
    measured pixels kept; default the same images) against the ground truth."""
    row: dict[str, float] = {}
    with torch.no_grad():
        for name, img, given in zip(("output", "ema"), (out, ema), returned or (out, ema)):
            seen = _np(operator(img))
            row[f"psnr_obs_{name}"] = metrics.psnr(seen, obs, known)
            if held is not None:
                row[f"psnr_holdout_{name}"] = metrics.psnr(seen, obs, held)
            if gt is not None:
                x = _np(given)
                err = metrics.mse(x, gt)
                row.update({f"psnr_{name}": metrics.psnr_from_mse(err), f"mse_{name}": err})
                if with_ssim:
                    row[f"ssim_{name}"] = metrics.ssim(x, gt)
    return row
