"""When to stop without a ground truth, and which image to return.

:class:`AutoStop` reads the signals of each logged step; :func:`pick` chooses the returned "best" image at the
end. docs/stopping.md says why these rules and what they were measured against.
"""

from __future__ import annotations

import math

import torch

from ..config import FitConfig
from .tricks import BestSnapshot


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


def pick(cfg: FitConfig, stopper: AutoStop, best: BestSnapshot, ema: torch.Tensor,
         iteration: int) -> tuple[torch.Tensor | None, int]:
    """The "best" image and its step: the snapshot with the lowest loss (``best_by="loss"``), else the stopping
    rule's pick; when no rule fired the run was still improving, so the latest EMA, unless held-out pixels say
    which EMA was best."""
    if cfg.best_by == "loss":
        return best.image, best.iteration
    if stopper.fired:
        return stopper.image, stopper.iteration
    if stopper.held_image is not None:
        return stopper.held_image, stopper.held_iteration
    return ema, iteration
