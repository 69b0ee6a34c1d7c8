"""One fitting step (forward, loss, backward, Adam update) captured as a CUDA graph and replayed.

Why: on a GPU a DIP step is a few hundred small kernels, and launching them from Python costs more than running
them. On a lent H200 the paper's network took 18-21 ms per step at both 256 and 512 px (bf16, eager, two runs):
the time hardly depends on the image size, so the launches, not the arithmetic, set the pace. A replayed graph
launches the whole step at once and computes exactly what the eager step computes.

The caller fills the graph's inputs in place before each replay (the input perturbation is drawn outside the
graph, from the same seeded generator as in eager mode) and reads its outputs after. Anything that replaces a
tensor the graph holds (loading an optimiser state, changing the learning rate) needs :meth:`GraphedStep.reset`;
the next step captures again.
"""

from __future__ import annotations

from typing import Callable

import torch

#: Eager steps before the first capture: cuDNN picks its kernels and Adam creates its state on the first calls.
WARMUP_STEPS = 3


def graph_supported(device: torch.device, precision: str, compiled: bool) -> bool:
    """Whether a fit on ``device`` can run as a graph: CUDA, no fp16 loss scaler (it syncs to check for
    overflows), no torch.compile (which makes graphs of its own)."""
    return device.type == "cuda" and precision != "fp16" and not compiled


class GraphedStep:
    """Run ``compute`` + backward + ``opt.step()`` as one training step: eagerly for the first
    :data:`WARMUP_STEPS` calls, then captured once and replayed.

    ``compute()`` returns (output, loss, objective) from tensors that stay in place between steps (parameters,
    the fixed input, the perturbation buffer); ``opt`` must be created with ``capturable=True``. Follows
    PyTorch's whole-network capture recipe: the warm-up steps run on a side stream and keep no reference to
    their autograd graph. (A first try that warmed up in the fit loop itself, whose variables still held the
    last eager step's graph, had its first capture in a process refused on an H200.)
    """

    def __init__(self, compute: Callable[[], tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
                 opt: torch.optim.Optimizer) -> None:
        self.compute, self.opt = compute, opt
        self.graph: torch.cuda.CUDAGraph | None = None
        self.output = self.loss = None
        self.calls = self.captures = 0

    def step(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One step with its update applied; returns the step's output and loss (before the update), detached.
        After the warm-up they are the graph's own buffers, overwritten by the next step."""
        self.calls += 1
        if self.calls <= WARMUP_STEPS:
            return self._eager()
        if self.graph is None:
            self._capture()
        self.graph.replay()
        return self.output, self.loss

    def reset(self) -> None:
        """Drop the graph (after tensors it holds were replaced); the next :meth:`step` captures again."""
        self.graph = self.output = self.loss = None

    def _eager(self) -> tuple[torch.Tensor, torch.Tensor]:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            self.opt.zero_grad(set_to_none=True)
            output, loss, objective = self.compute()
            objective.backward()
            self.opt.step()
        torch.cuda.current_stream().wait_stream(side)
        return output.detach(), loss.detach()

    def _capture(self) -> None:
        # Gradients set to None: the captured backward writes fresh ones into the graph's memory instead of
        # adding to tensors from outside it.
        self.opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            output, loss, objective = self.compute()
            objective.backward()
            self.opt.step()
        self.graph, self.output, self.loss = graph, output.detach(), loss.detach()
        self.captures += 1
