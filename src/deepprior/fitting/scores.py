"""The scores of a history row: the network's images against the observation, and the images as returned
against the ground truth, with SSIM only while it stays cheap."""

from __future__ import annotations

import time

import numpy as np
import torch

from ..imaging import metrics
from .problem import Problem

#: Most of a run's wall time that SSIM scores of logged rows may take; PSNR and MSE are in every row. At 512 px
#: SSIM costs 0.24 s a row on the CPU, more than ten replayed steps of the paper's network on a GPU.
SSIM_SHARE = 0.1


def _np(t: torch.Tensor) -> np.ndarray:
    """(1, C, H, W) tensor -> (H, W, C) float32 array on the CPU."""
    return t.detach().float()[0].permute(1, 2, 0).cpu().numpy()


class RowScores:
    """Scores one logged step. The observation, its measured and held-out values and the ground truth are
    copied to the CPU once."""

    def __init__(self, problem: Problem, start: float) -> None:
        y, known = problem.observation, problem.operator.known
        self.operator, self.start = problem.operator, start
        self.obs = _np(y)
        self.known = None if known is None else _np(known.expand_as(y)) > 0.5
        self.held = None if problem.holdout is None else _np(problem.holdout.to(y).expand_as(y)) > 0.5
        self.gt = None if problem.ground_truth is None else _np(problem.ground_truth)
        self.ssim_seconds = 0.0

    def __call__(self, own: tuple[torch.Tensor, torch.Tensor],
                 shown: tuple[torch.Tensor, torch.Tensor]) -> dict[str, float]:
        """The network's ``own`` output and EMA against the observation (measured values; held-out ones apart),
        and the ``shown`` ones (as returned) against the ground truth."""
        now = time.perf_counter()
        with_ssim = self.gt is not None and self.ssim_seconds <= SSIM_SHARE * (now - self.start)
        row: dict[str, float] = {}
        with torch.no_grad():
            for name, img, given in zip(("output", "ema"), own, shown):
                seen = _np(self.operator(img))
                row[f"psnr_obs_{name}"] = metrics.psnr(seen, self.obs, self.known)
                if self.held is not None:
                    row[f"psnr_holdout_{name}"] = metrics.psnr(seen, self.obs, self.held)
                if self.gt is not None:
                    x = _np(given)
                    err = metrics.mse(x, self.gt)
                    row.update({f"psnr_{name}": metrics.psnr_from_mse(err), f"mse_{name}": err})
                    if with_ssim:
                        row[f"ssim_{name}"] = metrics.ssim(x, self.gt)
        if with_ssim:
            self.ssim_seconds += time.perf_counter() - now
        return row
