"""One training step: perturb the input, forward, loss, backward, Adam update; eagerly or as a CUDA graph.

Both ways run the same operations in the same order and return the step's output and loss (those of the
weights before the update). On CUDA the whole step is captured once as a graph and replayed
(:mod:`deepprior.fitting.cuda_graph`): the same arithmetic, launched at once. A capture CUDA refuses falls back
to eager steps, and the run says so.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

from ..config import FitConfig
from .cuda_graph import GraphedStep, graph_supported
from .objective import Objective
from .precision import resolve_channels_last, resolve_precision


class Perturbation:
    """The fresh Gaussian noise added to the network input at each step (``reg_noise_std``, ramped up from
    ``reg_noise_start`` over ``reg_noise_ramp`` steps).

    Drawn in place into one buffer: at 256 px, normal_() into a plain contiguous buffer took 13 ms where a
    fresh randn took 20 ms and randn_like of the channels-last input 75 ms (2-core CPU). A buffer in the
    input's channels-last layout would make the addition cheaper but place the random numbers in other pixels,
    changing every seeded result.
    """

    def __init__(self, net_input: torch.Tensor, cfg: FitConfig, generator: torch.Generator) -> None:
        self.net_input, self.cfg, self.generator = net_input, cfg, generator
        self.jitter = torch.empty(net_input.shape, device=net_input.device, dtype=net_input.dtype)
        # The size as a tensor too, so that a graph replay reads the current value of the ramp.
        self.std_now = torch.zeros((), device=net_input.device)
        self.std = 0.0

    def draw(self, iteration: int) -> None:
        """New noise for this step."""
        cfg = self.cfg
        if cfg.reg_noise_std > 0:
            ramp = min(1.0, iteration / cfg.reg_noise_ramp) if cfg.reg_noise_ramp else 1.0
            self.std = cfg.reg_noise_std * (cfg.reg_noise_start + (1 - cfg.reg_noise_start) * ramp)
            self.jitter.normal_(generator=self.generator)
            self.std_now.fill_(self.std)

    def eager_input(self) -> torch.Tensor:
        """This step's input (a Python float scale, as the eager loop always computed it)."""
        return self.net_input + self.std * self.jitter if self.cfg.reg_noise_std > 0 else self.net_input

    def graph_input(self) -> torch.Tensor:
        """This step's input as a graph records it: read from the buffers it replays on."""
        return self.net_input + self.std_now * self.jitter if self.cfg.reg_noise_std > 0 else self.net_input


class Stepper:
    """Sets a network up for fitting (layout, trained input, fused Adam, autocast) and runs its steps.

    ``net``, ``opt`` and ``inputs`` (a trained network input) are what backtracking snapshots and restores;
    after a restore, :meth:`reset` makes a graph capture again (the tensors it held were replaced).
    """

    def __init__(self, net: nn.Module, net_input: torch.Tensor, objective: Objective, cfg: FitConfig,
                 generator: torch.Generator) -> None:
        device = net_input.device
        self.precision = resolve_precision(cfg.precision, device)
        self.amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)
        self.channels_last = resolve_channels_last(cfg.channels_last, device)
        if self.channels_last:
            net = net.to(memory_format=torch.channels_last)
            net_input = net_input.contiguous(memory_format=torch.channels_last)
        net.train()  # batch norm uses the statistics of the one image, as in the paper
        params = [p for p in net.parameters() if p.requires_grad]
        self.inputs: tuple[torch.Tensor, ...] = ()
        if cfg.train_input:
            net_input = net_input.detach().clone().requires_grad_(True)
            params.append(net_input)
            self.inputs = (net_input,)
        self.graphed = cfg.cuda_graph is not False and graph_supported(device, self.precision, cfg.compile)
        # The fused kernel updates all tensors in one pass: the same arithmetic, without ~10 small ops per tensor.
        self.opt = torch.optim.Adam(params, lr=cfg.lr, betas=tuple(cfg.adam_betas),
                                    fused=device.type in ("cpu", "cuda"), capturable=self.graphed)
        # The compiled module shares its parameters and buffers with ``net``; snapshots keep using ``net``.
        self.forward = torch.compile(net) if cfg.compile else net
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.precision == "fp16")
        self.net, self.objective, self.device = net, objective, device
        self.perturbation = Perturbation(net_input, cfg, generator)
        self.graph = GraphedStep(lambda: self._compute(self.perturbation.graph_input()),
                                 self.opt) if self.graphed else None
        self.graph_error = ""

    def _compute(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Forward and loss: (output in float32, MSE on the fitted values, objective)."""
        # No autocast weight cache under a graph: cached casts would outlive the capture they were made in.
        autocast = (torch.autocast(self.device.type, dtype=self.amp_dtype, cache_enabled=not self.graphed)
                    if self.amp_dtype is not None else contextlib.nullcontext())
        with autocast:
            y = self.forward(z).float()
        mse, objective = self.objective(y)
        return y, mse, objective

    def step(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor]:
        """One step with its update applied; returns its output and loss, detached (under a graph: the graph's
        own buffers, overwritten by the next step)."""
        self.perturbation.draw(iteration)
        if self.graph is not None:
            try:
                return self.graph.step()
            except RuntimeError as e:  # a capture CUDA refused: go on eagerly, and say so in the result
                self.graph, self.graph_error = None, str(e).splitlines()[0][:200]
        out, loss, objective = self._compute(self.perturbation.eager_input())
        self.opt.zero_grad(set_to_none=True)
        self.scaler.scale(objective).backward()
        self.scaler.step(self.opt)
        self.scaler.update()
        return out.detach(), loss.detach()

    def reset(self) -> None:
        """After the optimiser's state or learning rate was replaced: the next graph step captures again."""
        if self.graph is not None:
            self.graph.reset()

    @property
    def graph_captured(self) -> bool:
        """Whether steps ran as a replayed CUDA graph."""
        return self.graph is not None and self.graph.captures > 0
