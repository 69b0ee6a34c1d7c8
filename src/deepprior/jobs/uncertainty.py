"""The uncertainty map of a run (``FitConfig.uncertainty``): each pixel's predicted error, calibrated, and, with
a ground truth, how well it matches the error it predicts.

The raw map is the variance of the returned image's pixels as the fits see it: how much one fit's outputs still
moved at each pixel over its last steps (:class:`~deepprior.fitting.tricks.OutputSpread`), plus, with K fits,
the variance between their images. It ranks pixels well but its level is not an error: calibration scales it.
On noise-free observations (masks, super-resolution) a few measured values are left out of every fit and their
residuals say how large the error is where the network predicts rather than fits; on noisy ones that residual
is mostly the noise itself (a 5 % error in the noise level is more than the whole error of a good denoising),
so a factor measured on other images scales the map. Denoising's combined default (DIP + CBM3D) maps instead
where the two images disagree (:func:`disagreement_std`). docs/uncertainty.md has the evaluation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..imaging.io import to_tensor
from ..imaging.masks import holdout_mask
from ..operators import Operator
from .tasks import Task

#: Fraction of the measured values left out of each fit to calibrate the map (noise-free tasks only).
CALIBRATION_FRACTION = 0.05

#: The factor on the raw map, per task: for noisy tasks the whole calibration, for the others a correction of
#: the left-out values' scale (a left-out pixel sits next to measured ones and is predicted better than the
#: middle of a stroke; a left-out low-resolution pixel sees none of the detail super-resolution invents). The
#: geometric means of the factors that would have calibrated each of three 96 px crops per task, not those the
#: evaluation scores (benchmarks/uncertainty_eval.py tune, docs/bench/uncertainty_tune.json); the tasks not
#: measured take their nearest kin's.
FACTOR = {"denoise": 2.0, "dejpeg": 2.0, "deblur": 2.0, "flash": 2.0,
          "inpaint": 1.5, "fill": 1.5, "reconstruct": 0.9, "superres": 13.0}

#: A missing pixel's variance grows with its distance to the nearest fitted one, as this power: in a 24 px hole
#: of a smooth 48 px image the error's std rose from 10 to 28 grey levels between 1.5 and 7.5 px in, while
#: one fit's spread rose only from 5.4 to 6.8 (docs/uncertainty.md). Left-out values lie next to fitted ones
#: (distance 1, weight 1), so they still calibrate the map's level.
DISTANCE_POWER = 1.0


def distance_weight(fitted: np.ndarray) -> np.ndarray:
    """(H, W) float32: each pixel's distance in px to the nearest pixel the fit saw, at least 1, to the power
    :data:`DISTANCE_POWER` (1 on and next to measured pixels)."""
    from scipy.ndimage import distance_transform_edt

    return (np.maximum(distance_transform_edt(~fitted), 1.0) ** DISTANCE_POWER).astype(np.float32)


#: The map of the combined denoising (``method="dip+cbm3d"``): the variance of its error is this factor times
#: the local mean square of DIP's result minus CBM3D's, smoothed by a Gaussian of :data:`DISAGREEMENT_SMOOTH` px.
#: Where two denoisers that err differently disagree, at least one is wrong; the mix's error followed that
#: closely enough for one factor to calibrate it (with one fit or two), and ranked as one fit's spread ranked
#: DIP's own error (docs/uncertainty.md). The geometric mean of the factors that would have calibrated three
#: 96 px crops, not those the evaluation scores (benchmarks/uncertainty_eval.py tune).
DISAGREEMENT_FACTOR = 2.1
DISAGREEMENT_SMOOTH = 2.0


def disagreement_std(dip: np.ndarray, other: np.ndarray, fits: int,
                     between: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """The combined denoising's map from DIP's result and CBM3D's (H, W, C): (H, W) float32 std, and its facts.
    With K fits ``dip`` is their mean and ``between`` the variance between them: the square difference is then
    the mean over the fits of each one's from CBM3D's, so the map's level does not fall with K."""
    from scipy.ndimage import gaussian_filter

    square = (dip.astype(np.float64) - other.astype(np.float64)) ** 2
    if between is not None:
        square += between
    var = np.maximum(gaussian_filter(square.mean(axis=2), DISAGREEMENT_SMOOTH, mode="reflect"), 0.0)
    std = np.sqrt(var * DISAGREEMENT_FACTOR).astype(np.float32)
    return std, {"fits": fits, "method": "disagreement of DIP and CBM3D", "factor": DISAGREEMENT_FACTOR,
                 "calibrated_by": "task factor", "scale": DISAGREEMENT_FACTOR, **_level(std)}


def _level(std: np.ndarray) -> dict[str, float]:
    """The map's mean and RMS predicted std, as metrics.json keeps them."""
    return {"mean_std": float(std.mean()), "rms_std": float(np.sqrt(np.mean(std.astype(np.float64) ** 2)))}


def calibrates_on_pixels(task: Task) -> bool:
    """Whether the map is scaled by left-out measured values or by the task factor alone: only a noise-free
    observation through an operator that loses something (a mask, a downsampling) has measured values that
    tell the error; an identity's observation (a JPEG, a no-flash photo) differs from the answer everywhere."""
    return not task.noisy and task.operator != "identity"


def calibration_pixels(task: Task, known: np.ndarray) -> np.ndarray | None:
    """(H, W) bool over the whole observation, True = left out of every fit for calibration; None where the
    task calibrates otherwise. The same pixels whatever the run's seed (a random stream of their own, apart
    from the ``holdout`` pixels'), so the K fits of ``uncertainty=K`` all leave out the ones their mean is
    calibrated on, and every tile takes its part of them."""
    if not calibrates_on_pixels(task):
        return None
    held = holdout_mask(known, CALIBRATION_FRACTION, seed=0, stream=2)
    return held if held.any() else None


@dataclass
class Calibration:
    """Sums over one fit's calibration values: the squared residual of the returned image and the predicted
    variance there, both in the observation's space."""

    values: int = 0
    residual2: float = 0.0
    variance: float = 0.0



def measure_calibration(operator: Operator, observation: np.ndarray, left_out: np.ndarray | None,
                        image: np.ndarray, variance: np.ndarray) -> Calibration:
    """The calibration sums of a run: ``image`` is the network's own returned image (H, W, C), ``variance``
    its raw per-value variance; both pass through the operator to meet the left-out observed values."""
    if left_out is None:
        return Calibration()
    with torch.no_grad():
        y = to_tensor(observation)
        cal = torch.from_numpy(left_out.astype(np.float32))[None, None].expand_as(y)
        r2 = ((operator(to_tensor(image)) - y).square() * cal).sum()
        v = (operator(to_tensor(variance)) * cal).sum()
    return Calibration(int(cal.sum().item()), float(r2.item()), float(v.item()))


def calibrated_std(task: Task, variance: np.ndarray, calibration: Calibration,
                   fits: int) -> tuple[np.ndarray, dict[str, Any]]:
    """The map: (H, W) float32, the predicted standard deviation of each pixel on the image's 0-1 scale (the
    channels' variances averaged), and the facts metrics.json keeps of how it was made."""
    raw = variance.mean(axis=2) if variance.ndim == 3 else variance
    factor = FACTOR.get(task.name, 1.0)
    facts: dict[str, Any] = {"fits": fits, "method": "output spread" if fits == 1 else f"spread of {fits} fits",
                             "factor": factor}
    if calibration.values and calibration.variance > 0:
        held = max(calibration.residual2 / calibration.values, 0.0) / (calibration.variance / calibration.values)
        scale, facts["calibrated_by"] = factor * held, "left-out measured values"
        facts.update(held_scale=held, calibration_values=calibration.values,
                     calibration_rmse=math.sqrt(calibration.residual2 / calibration.values))
    else:
        scale, facts["calibrated_by"] = factor, "task factor"
    facts["scale"] = scale
    std = np.sqrt(np.maximum(raw, 0.0) * scale).astype(np.float32)
    facts.update(_level(std))
    return std, facts


def evaluate(std: np.ndarray, image: np.ndarray, ground_truth: np.ndarray,
             missing: np.ndarray | None = None, bins: int = 10) -> dict[str, Any]:
    """How well the map predicts the error of ``image``: Spearman rank correlation of predicted std and actual
    error (root mean over channels), per pixel and after 7x7 smoothing of both (predicted variance and squared
    error); the calibration ratio (mean squared error / mean predicted variance: 1 is calibrated); UCE (Laves
    et al. 2020: the bin-weighted mean of |mean predicted variance - mean squared error| over ``bins``
    equal-count bins of predicted variance) and the bins themselves (the reliability plot). ``missing`` adds
    the same scores over the unmeasured pixels only."""
    from scipy.ndimage import uniform_filter
    from scipy.stats import spearmanr

    err2 = ((image.astype(np.float64) - ground_truth) ** 2).mean(axis=2)
    var = std.astype(np.float64) ** 2
    # Clipped: the filter's rounding leaves tiny negative values beside exact zeros.
    smooth_var = np.maximum(uniform_filter(var, 7, mode="reflect"), 0)
    smooth_err2 = np.maximum(uniform_filter(err2, 7, mode="reflect"), 0)

    def scores(where: np.ndarray) -> dict[str, Any]:
        v, e = var[where], err2[where]
        if v.size < 2 or np.ptp(v) == 0 or np.ptp(e) == 0:
            return {"pixels": int(v.size)}
        order = np.argsort(v, kind="stable")
        groups = [g for g in np.array_split(order, min(bins, v.size)) if g.size]
        table = [{"predicted_variance": float(v[g].mean()), "mse": float(e[g].mean()), "pixels": int(g.size)}
                 for g in groups]
        return {
            "pixels": int(v.size),
            "spearman": float(spearmanr(np.sqrt(v), np.sqrt(e))[0]),
            "spearman_7x7": float(spearmanr(np.sqrt(smooth_var[where]), np.sqrt(smooth_err2[where]))[0]),
            "calibration_ratio": float(e.mean() / max(v.mean(), 1e-20)),
            "uce": float(sum(b["pixels"] * abs(b["predicted_variance"] - b["mse"]) for b in table) / v.size),
            "mse": float(e.mean()), "mean_predicted_variance": float(v.mean()), "bins": table}

    out = scores(np.ones(var.shape, bool))
    if missing is not None and missing.any():
        out["missing"] = scores(missing)
    return out
