"""A fit's whole state at the end of a step, and putting it back: weights, Adam, the grad scaler, trained
inputs, the perturbation's generator, the output EMA and variance, the best snapshot, the backtracker, the stop
rules and the history. A fit resumed from it takes the same steps as one never stopped (bitwise on a CPU)."""

from __future__ import annotations

import time
from typing import Any

import torch


def capture(iteration: int, out: torch.Tensor, stepper: Any, ema: Any, monitor: Any) -> dict[str, Any]:
    """The state after step ``iteration`` (whose output is ``out``); tensors are copies."""
    objects = _objects(ema, monitor)
    return {
        "iteration": iteration, "out": out.detach().clone(),
        "net": {k: v.detach().clone() for k, v in stepper.net.state_dict().items()},
        "opt": stepper.opt.state_dict(), "scaler": stepper.scaler.state_dict(),
        "inputs": [t.detach().clone() for t in stepper.inputs],
        "generator": stepper.perturbation.generator.get_state(),
        "perturbation": {"std": stepper.perturbation.std, "std_now": stepper.perturbation.std_now.clone()},
        "parts": {name: {k: _copy(v) for k, v in vars(obj).items()} for name, obj in objects.items()},
        "history": [dict(r) for r in monitor.history],
        "elapsed": time.perf_counter() - monitor.start,
    }


def restore(state: dict[str, Any], stepper: Any, ema: Any, monitor: Any) -> tuple[int, torch.Tensor]:
    """Put ``state`` back into a fresh loop's objects; returns (its last iteration, that step's output)."""
    dev = stepper.device
    stepper.net.load_state_dict(state["net"])
    stepper.opt.load_state_dict(state["opt"])
    stepper.scaler.load_state_dict(state["scaler"])
    with torch.no_grad():
        for live, saved in zip(stepper.inputs, state["inputs"]):
            live.copy_(saved.to(dev))
    stepper.perturbation.generator.set_state(state["generator"])
    stepper.perturbation.std = state["perturbation"]["std"]
    stepper.perturbation.std_now.copy_(state["perturbation"]["std_now"].to(dev))
    objects = _objects(ema, monitor)
    for name, obj in objects.items():
        if name not in state["parts"]:
            continue  # saved by a fit that kept no spread
        obj.__dict__.update({k: _to(v, dev) for k, v in state["parts"][name].items()})
    monitor.history[:] = state["history"]
    monitor.start = time.perf_counter() - state["elapsed"]
    stepper.reset()
    return state["iteration"], state["out"].to(dev)


def _objects(ema: Any, monitor: Any) -> dict[str, Any]:
    """The loop's small state objects by name (the spread only where the fit keeps one)."""
    objects = {"ema": ema, "variance": monitor.variance, "spread": monitor.spread, "best": monitor.best,
               "backtracker": monitor.backtracker, "stopper": monitor.stopper}
    return {k: v for k, v in objects.items() if v is not None}


def _copy(v: Any) -> Any:
    if torch.is_tensor(v):
        return v.detach().clone()
    if isinstance(v, list):
        return [_copy(x) for x in v]
    return v


def _to(v: Any, dev: torch.device) -> Any:
    if torch.is_tensor(v):
        return v.to(dev)
    if isinstance(v, list):
        return [_to(x, dev) for x in v]
    return v
