"""The one fitting loop of deepprior: every task runs through :func:`fit` with its own operator.

Each step: perturb the input -> forward -> loss -> backward -> Adam update (:class:`~.stepper.Stepper`, eager
or a replayed CUDA graph) -> moving average of the output; every ``log_every`` steps the
:class:`~.monitor.Monitor` checks for a blow-up, snapshots, scores, records the history row, calls the
callbacks and asks the stop rules.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Iterable

import torch
from torch import nn

from ..config import FitConfig
from .checkpoint import capture, restore
from .monitor import UNDONE, Monitor
from .objective import Objective
from .problem import Problem
from .records import Callback, FitResult
from .stepper import Stepper
from .tricks import OutputEMA

#: (every K steps, save(state)): where :func:`fit` hands its state (:func:`.checkpoint.capture`).
Checkpointer = tuple[int, Callable[[dict[str, Any]], None]]


def fit(problem: Problem, net: nn.Module, net_input: torch.Tensor, cfg: FitConfig, *,
        generator: torch.Generator, callbacks: Iterable[Callback] = (),
        cancel: threading.Event | None = None, checkpoint: Checkpointer | None = None,
        resume: dict[str, Any] | None = None) -> FitResult:
    """Fit ``net`` so that ``problem.operator(net(net_input))`` matches ``problem.observation``.

    Parameters
    ----------
    problem : Problem
        The observation, its operator and optionally a ground truth (scored only) and held-out values.
    net, net_input : nn.Module, torch.Tensor
        The network (on the problem's device) and its fixed input (1, C_in, H, W).
    cfg : FitConfig
        Optimiser, tricks and stopping.
    generator : torch.Generator
        Source of the per-step input perturbation, on the same device.
    callbacks : iterable of Callback
        Called at every logged step with a :class:`StepRecord`; a True return stops the run.
    cancel : threading.Event, optional
        Set from another thread to end the run at its next logged step (``stopped_by = "interrupted"``).
    checkpoint : (every, save), optional
        Every ``every`` steps, ``save(state)`` gets the fit's whole state (:mod:`.checkpoint`).
    resume : dict, optional
        A state ``checkpoint`` saved: the fit goes on from the step after it, as if it had never stopped.

    Returns
    -------
    FitResult
        Ctrl-C (KeyboardInterrupt) ends the run early with ``stopped_by = "interrupted"`` and still returns
        the images of the last completed step; it is raised again only when no step had completed.
    """
    stepper = Stepper(net, net_input, Objective(problem, cfg), cfg, generator)
    ema = OutputEMA(cfg.ema_weight, cfg.ema_warmup)
    monitor = Monitor(problem, cfg, stepper, ema, callbacks, cancel, time.perf_counter())
    out, it, stopped_by = None, 0, "iterations"
    if resume is not None:
        it, out = restore(resume, stepper, ema, monitor)
    try:
        for it in range(it + 1, cfg.iterations + 1):
            out, loss = stepper.step(it)
            # The average includes this step's output, so a logged row, a callback and the returned EMA agree.
            ema_now = ema.update(out)
            if monitor.logs(it):
                action = monitor.log(it, out, loss, ema_now)
                if action == UNDONE:
                    continue  # back at the last good state; this step's output counts for nothing
                if action:
                    stopped_by = action
                    break
            monitor.track(out)
            if checkpoint is not None and it % checkpoint[0] == 0 and it < cfg.iterations:
                checkpoint[1](capture(it, out, stepper, ema, monitor))
    except KeyboardInterrupt:
        stopped_by = "interrupted"
    if out is None:  # interrupted before the first step finished: nothing to return
        raise KeyboardInterrupt
    return monitor.result(out, it, stopped_by)
