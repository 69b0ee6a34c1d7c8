"""The fitting tricks: output EMA, output variance, best snapshot, and backtracking after loss blow-ups.

Each is a small stateful object the loop calls; none knows about the others, so each can be tested on
synthetic sequences. The stopping rules are in :mod:`deepprior.fitting.stopping`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn


class OutputEMA:
    """Exponential moving average of the network output: ``ema = w * ema + (1 - w) * x``.

    The first update sets ``ema = x`` (as the paper's code does), so early iterates are not pulled towards 0.
    Averaging over the input-noise jitter cancels much of the noise the net starts to fit, so the EMA is
    usually cleaner than the last iterate (the paper shows it beside the output for denoising). With ``warmup``
    the weight after ``n`` updates is ``min(weight, (1 + n) / (10 + n))``: a constant 0.99 still gives the
    outputs of the first 200 steps, which are far from the image, several percent of the average at step 500.
    """

    def __init__(self, weight: float, warmup: bool = False) -> None:
        self.weight, self.warmup = weight, warmup
        self.value: torch.Tensor | None = None
        self.updates = 0

    def update(self, x: torch.Tensor) -> torch.Tensor:
        x = x.detach().float()
        if self.value is None:
            self.value = x.clone()
        else:
            w = min(self.weight, (1 + self.updates) / (10 + self.updates)) if self.warmup else self.weight
            self.value.mul_(w).add_(x, alpha=1.0 - w)
        self.updates += 1
        return self.value


class BestSnapshot:
    """Keeps the image with the lowest score seen so far (lower is better).

    Used with the loss on the observation: for hole filling the loss fluctuates strongly from step to step,
    so the best-fitting iterate is kept instead of the last one.
    """

    def __init__(self) -> None:
        self.score = math.inf
        self.image: torch.Tensor | None = None
        self.iteration = 0

    def update(self, score: float, image: torch.Tensor, iteration: int) -> bool:
        """Keep ``image`` if ``score`` is a new minimum; returns whether it was kept."""
        if not score < self.score:  # also rejects NaN
            return False
        self.score, self.image, self.iteration = score, image.detach().float().clone(), iteration
        return True


@dataclass
class BacktrackEvent:
    """One blow-up: when, the loss seen, the loss it was compared with, and the learning rate afterwards."""

    iteration: int
    loss: float
    reference: float
    restored_iteration: int
    lr: float


class Backtracker:
    """Undo loss blow-ups, and make them stop happening.

    Rule (checked at every logged step, before the update is applied): the loss of the current weights is a
    blow-up when it is not finite or exceeds ``factor`` times the loss at the last good check (the paper's
    5 dB drop of PSNR against the observation is ``factor = 10 ** 0.5``). On a blow-up the caller restores
    the weights, the Adam moments, the batch-norm buffers and the output EMA saved at the last good check,
    and does not apply the current update. If the previous blow-up was less than ``window`` steps earlier,
    the learning rate is multiplied by ``lr_decay`` so a run that keeps blowing up settles.

    The paper's version restored only the weights: the bad update was still applied and Adam's moments
    (which caused the jump) were kept, so it fired again and again.
    """

    def __init__(self, factor: float, lr_decay: float, window: int) -> None:
        self.factor, self.lr_decay, self.window = factor, lr_decay, window
        self.reference = math.inf
        self.saved_iteration = 0
        self.events: list[BacktrackEvent] = []
        self._saved: list[torch.Tensor] = []  # copies of the live tensors, in the order of _live()
        self._opt_keys: list[tuple[int, str]] = []  # which optimiser state tensors the copies hold
        self._ema: torch.Tensor | None = None

    def is_blowup(self, loss: float) -> bool:
        """Whether ``loss`` is a blow-up relative to the last good check (never before the first save)."""
        if not self._saved:
            return False
        return not math.isfinite(loss) or loss > self.factor * self.reference

    @staticmethod
    def _live(net: nn.Module, opt: torch.optim.Optimizer,
              inputs: Sequence[torch.Tensor]) -> tuple[list[torch.Tensor], list[tuple[int, str]]]:
        """The tensors a snapshot holds: weights, buffers, trained inputs, and Adam's state (with its keys)."""
        tensors = [*net.parameters(), *net.buffers(), *inputs]
        params = [p for group in opt.param_groups for p in group["params"]]
        keys = [(i, k) for i, p in enumerate(params) for k, v in opt.state.get(p, {}).items() if torch.is_tensor(v)]
        return tensors + [opt.state[params[i]][k] for i, k in keys], keys

    def save(self, loss: float, iteration: int, net: nn.Module, opt: torch.optim.Optimizer,
             ema: torch.Tensor | None, inputs: Sequence[torch.Tensor] = ()) -> None:
        """Record a good state, at logged steps only.

        The copies go into buffers allocated at the first save, all in one fused call (1.9 ms for the thin
        denoising net): deep-copying the state dicts took 17.5 ms, about a tenth of a one-thread run logged every
        10 steps, most of it Python work that also held up the tiles fitted beside it.
        ``inputs`` are trained tensors outside the network (a trained network input), saved alongside.
        """
        self.reference, self.saved_iteration = loss, iteration
        live, keys = self._live(net, opt, inputs)
        with torch.no_grad():
            if keys != self._opt_keys or len(live) != len(self._saved):  # first save, or Adam made its state
                self._saved = [t.detach().clone() for t in live]
            else:
                torch._foreach_copy_(self._saved, [t.detach() for t in live])
        self._opt_keys = keys
        self._ema = None if ema is None else ema.clone()

    def restore(self, loss: float, iteration: int, net: nn.Module, opt: torch.optim.Optimizer,
                ema: OutputEMA, inputs: Sequence[torch.Tensor] = ()) -> BacktrackEvent:
        """Go back to the saved state; lower the learning rate if blow-ups keep coming. Returns the event.

        The saved values are copied into the live tensors, so the snapshot stays intact for the next restore.
        """
        assert self._saved, "restore() before save()"
        lr = opt.param_groups[0]["lr"]
        if self.events and iteration - self.events[-1].iteration < self.window:
            lr *= self.lr_decay
        live, keys = self._live(net, opt, inputs)
        # Keys differ only when the snapshot predates Adam's first step (Adam makes every moment at once, and
        # only this branch removes them): going back there means no moments.
        if keys != self._opt_keys:
            opt.state.clear()
            live = live[:len(live) - len(keys)]
        with torch.no_grad():
            torch._foreach_copy_([t.detach() for t in live], self._saved[:len(live)])
        for group in opt.param_groups:
            group["lr"] = lr
        if self._ema is not None:
            ema.value = self._ema.clone()
        event = BacktrackEvent(iteration, loss, self.reference, self.saved_iteration, lr)
        self.events.append(event)
        return event


class OutputSpread:
    """Per-pixel variance of the raw outputs over the last complete block of ``window`` steps: how much the
    network still changes its mind about each pixel (``FitConfig.uncertainty``).

    Where the observation pins a pixel down, successive outputs agree; where nothing measures it (a hole, the
    pixels between those of a low-resolution image, noise the network has not settled on) they wander. Blocks,
    not a moving average: the first steps' outputs are far from any image, and a moving variance that remembers
    them (a weight of 0.99 keeps 9 % of step 1 at step 240) swamped the late spread on short denoising runs.
    Welford's update per pixel (three tensors of the image's size); a block shorter than half the window, at
    the end of a run, does not replace the last complete one. docs/uncertainty.md measures how well it tracks
    the error.
    """

    def __init__(self, window: int = 100) -> None:
        self.window = window
        self.n = 0
        self.mean: torch.Tensor | None = None
        self.m2: torch.Tensor | None = None
        self.last: torch.Tensor | None = None

    def update(self, x: torch.Tensor) -> None:
        x = x.detach().float()
        if self.n == 0:
            self.mean, self.m2 = x.clone(), torch.zeros_like(x)
        else:
            d = x - self.mean
            self.mean.add_(d, alpha=1.0 / (self.n + 1))
            self.m2.addcmul_(d, x - self.mean)
        self.n += 1
        if self.n == self.window:
            self.last, self.n = self.m2 / self.n, 0

    @property
    def value(self) -> torch.Tensor | None:
        """The spread: the last complete block's, or the current one's when it is long enough or the only one."""
        if self.n >= max(2, self.window // 2) or (self.last is None and self.n >= 2):
            return self.m2 / self.n
        return self.last


class OutputVariance:
    """Exponential moving variance of successive outputs (ES-EMV, Wang et al., TMLR 2023).

    ``mean += a * d; var = (1 - a) * (var + a * mean(d ** 2))`` with ``d = x - mean``: O(1) memory, updated
    every step on the device (no sync). While the network learns the image, successive outputs agree more and
    more and the variance falls; once it starts fitting the noise they scatter again and it rises, so its
    minimum marks the peak without a ground truth.
    """

    def __init__(self, alpha: float = 0.1) -> None:
        self.alpha = alpha
        self.mean: torch.Tensor | None = None
        self.value: torch.Tensor | None = None

    def update(self, x: torch.Tensor) -> None:
        x = x.detach().float()
        if self.mean is None:
            self.mean, self.value = x.clone(), x.new_zeros(())
            return
        d = x - self.mean
        self.mean.add_(d, alpha=self.alpha)
        self.value = (1 - self.alpha) * (self.value + self.alpha * d.square().mean())
