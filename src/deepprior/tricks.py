"""The fitting tricks: output EMA, best snapshot, and backtracking after loss blow-ups.

Each is a small stateful object the loop in :mod:`deepprior.fit` calls; none knows about the others, so each
can be tested on synthetic sequences.
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


class AutoStop:
    """When to stop without a ground truth, from two signals read at logged steps.

    * **Peak** (the run has started to fit the corruption): the output variance of :class:`OutputVariance`
      made no new minimum for ``patience`` steps *and* has risen to ``rise`` times that minimum. The rise
      test keeps the rule from firing on the small bumps of the early variance (seen on pixel-drop runs,
      where plain ES-EMV stopped at step 375 of a run still rising at 2500). The pick is the EMA ``lag``
      steps after the minimum: the EMA trails the raw output by about one time constant (100 steps at
      weight 0.99), and in our denoising runs its peak came that much after the variance minimum.
    * **Converged** (nothing left to gain): the EMA's PSNR against the observation rose by less than
      ``min_gain_db`` over the last ``patience`` steps. The pick is the current EMA.
    * **Discrepancy** (when the noise variance of the observation is known or estimated, ``noise_var``):
      Morozov's principle, the fit has reached the noise level: the loss of two successive logged steps is at
      most ``noise_var``. The pick is the current EMA. Checked first; in our sigma 25 and 50 denoising runs it
      picked the EMA within 0.1 dB of its peak, where the variance minimum was 1 dB off at sigma 50. With a
      noise level the peak rule waits ``2 * patience``, as a fallback for noise estimates that are too low,
      and picks the EMA at the step it fires (the fit is still short of the noise level then).

    * **Validation** (with pixels held out of the loss, ``FitConfig.holdout``): the EMA's PSNR on the held-out
      pixels made no new maximum for ``patience`` steps. Those pixels are predicted, not fitted, like the
      missing ones, so their score rises and falls with the quality of what the network fills in. With held-out
      pixels every rule picks the EMA that scored best on them (:attr:`held_image`).

    ``peak=False`` turns the peak rule off, for observations without noise (masks, super-resolution): there
    the fit of the measured values has nothing to overfit, and the variance of successive outputs can rise
    while the network is still learning texture (on a 50 % pixel-drop barbara crop the peak rule fired at step
    425 with the EMA at 26.8 dB; the run reached 33.2 dB by step 3000).

    None fires before ``min_iterations``. :meth:`decide` returns the name of the rule ("discrepancy", "peak",
    "validation", "converged") or "" and fires once: after that the pick is frozen, so a run that goes on
    (``stop="none"``) still reports where and what the rule would have returned.
    """

    def __init__(self, patience: int, rise: float, lag: int, min_gain_db: float, min_iterations: int,
                 noise_var: float | None = None, peak: bool = True) -> None:
        self.patience, self.rise, self.lag, self.noise_var, self.peak = patience, rise, lag, noise_var, peak
        self._below = 0  # successive logged steps with the loss at or under the noise level
        # With a noise level the discrepancy rule is the better judge; the variance rule waits twice as long
        # and only catches runs whose noise estimate was too low (e.g. non-white noise).
        self.peak_patience = patience * (2 if noise_var is not None else 1)
        self.min_gain_db, self.min_iterations = min_gain_db, min_iterations
        self.min_variance = math.inf
        self.min_iteration = 0
        self.image: torch.Tensor | None = None
        self.iteration = 0
        self.fired = ""
        self.fired_at = 0
        self._fit: list[tuple[int, float]] = []  # (iteration, EMA PSNR vs observation)
        self.held_db = -math.inf  # the best EMA PSNR on held-out pixels so far, its step and image
        self.held_iteration = 0
        self.held_image: torch.Tensor | None = None

    def decide(self, iteration: int, variance: float, ema_fit_db: float, ema: torch.Tensor,
               loss: float = math.inf, held_db: float | None = None) -> str:
        """Feed one logged step; returns the rule's name the first time it fires.

        ``held_db``: the EMA's PSNR on the held-out pixels, when the fit holds some out.
        """
        if self.fired:
            return ""
        if held_db is not None and held_db > self.held_db:
            self.held_db, self.held_iteration, self.held_image = held_db, iteration, ema.detach().clone()
        self._below = self._below + 1 if self.noise_var is not None and loss <= self.noise_var else 0
        if math.isfinite(variance) and variance < self.min_variance:
            self.min_variance, self.min_iteration = variance, iteration
        if iteration <= self.min_iteration + self.lag or self.iteration < self.min_iteration:
            self.image, self.iteration = ema.detach().clone(), iteration
        self._fit.append((iteration, ema_fit_db))
        if iteration < self.min_iterations:
            return ""
        if self._below >= 2:
            self.image, self.iteration = ema.detach().clone(), iteration
            self.fired = "discrepancy"
        elif (self.peak and iteration - self.min_iteration >= self.peak_patience
              and variance >= self.rise * self.min_variance):
            self.fired = "peak"
            if self.noise_var is not None:
                # The fit has not reached the noise level yet, so the EMA is still improving: take it now
                # rather than the one after the variance minimum (3.5 dB too early on a baboon crop).
                self.image, self.iteration = ema.detach().clone(), iteration
        elif self.held_image is not None and iteration - self.held_iteration >= self.patience:
            self.fired = "validation"
        else:
            old = [db for it, db in self._fit if it <= iteration - self.patience]
            if old and ema_fit_db - old[-1] < self.min_gain_db:
                self.image, self.iteration = ema.detach().clone(), iteration
                self.fired = "converged"
        if self.fired:
            self.fired_at = iteration
            if self.held_image is not None:  # the held-out pixels judge better than any rule's own pick
                self.image, self.iteration = self.held_image, self.held_iteration
        return self.fired
