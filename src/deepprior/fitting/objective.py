"""The objective of a step: the data term on the fitted values, its square root if asked, and a TV term."""

from __future__ import annotations

import torch

from ..config import FitConfig
from .problem import Problem


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Anisotropic total variation per pixel: sum of absolute neighbour differences over the element count."""
    dh = (x[..., 1:, :] - x[..., :-1, :]).abs().sum()
    dw = (x[..., :, 1:] - x[..., :, :-1]).abs().sum()
    return (dh + dw) / x.numel()


class Objective:
    """``mean((A(x) - y)^2)`` over the values that are fitted (measured and not held out), or its square root
    (``loss="rmse"``), plus ``tv_weight`` times the total variation of ``x``.

    The square root's gradients shrink less as the fit improves, so Adam, which scales its steps by the size
    of past gradients, keeps moving: fewer steps to the same quality (docs/benchmarks.md). Logs, stops and
    backtracking always read the MSE.
    """

    def __init__(self, problem: Problem, cfg: FitConfig) -> None:
        y, known = problem.observation, problem.operator.known
        self.operator, self.observation = problem.operator, y
        # The weight of each value: 0 for those left out (the operator already zeroes unmeasured ones).
        left_out = problem.left_out
        self.weight = None if left_out is None else 1.0 - left_out.to(y)
        fitted = known if self.weight is None else self.weight if known is None else known * self.weight
        # Mean over the fitted values only; the denominator is fixed, so it is computed once.
        self.denom = None if fitted is None else fitted.expand_as(y).sum().clamp_min(1)
        self.rmse, self.tv_weight = cfg.loss == "rmse", cfg.tv_weight

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(MSE on the fitted values, the objective to minimise) for the network's output ``x``."""
        residual = self.operator(x) - self.observation
        if self.weight is not None:
            residual = residual * self.weight
        mse = residual.square().mean() if self.denom is None else residual.square().sum() / self.denom
        objective = mse.clamp_min(1e-12).sqrt() if self.rmse else mse
        return mse, objective + self.tv_weight * total_variation(x) if self.tv_weight > 0 else objective
