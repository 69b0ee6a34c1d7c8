"""What every run returns: a :class:`Restoration`, whose ``metrics`` (a report's metrics.json) have one schema
for whole and tiled runs alike, built here and nowhere else (docs/report.md lists every key)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..imaging import metrics
from ..imaging.io import from_tensor, to_tensor
from .job import Job
from .combine import combine
from .stitch import Stitcher
from .uncertainty import calibrated_std, disagreement_std, distance_weight, evaluate, measure_calibration

_KINDS = ("output", "ema", "best")


@dataclass
class Restoration:
    """The result of :func:`deepprior.run`. Images are (H, W, C) float32 arrays in [0, 1].

    ``image`` is the one the job returns, named by ``result``: ``FitConfig.result`` (one of ``output``, ``ema``,
    ``best``), or ``combined`` where ``FitConfig.method`` mixed that one with CBM3D's (:mod:`.combine`);
    ``baseline`` is the corrupted input at the result's size (bicubic upsampling for super-resolution);
    ``history`` has the logged rows of every fit, each with its ``tile`` index; ``metrics`` is metrics.json.
    ``uncertainty`` (with ``FitConfig.uncertainty``) is the map: (H, W) float32, each pixel's predicted error
    std on the 0-1 scale (NaN in tiles an interrupted run never fitted).
    """

    image: np.ndarray
    output: np.ndarray
    ema: np.ndarray
    best: np.ndarray
    result: str
    history: list[dict[str, Any]]
    metrics: dict[str, Any]
    baseline: np.ndarray
    ground_truth: np.ndarray | None
    job: Job
    uncertainty: np.ndarray | None = None

    @property
    def config(self) -> dict[str, Any]:
        """The job as config.json holds it (:meth:`Job.to_config`)."""
        return self.job.to_config()


def restoration(job: Job, stitcher: Stitcher, *, interrupted: bool, seconds: float,
                images: dict[str, np.ndarray] | None = None, fits: int = 1,
                history: list[dict[str, Any]] | None = None) -> Restoration:
    """The :class:`Restoration` of a run whose tiles ``stitcher`` holds; ``images`` (the mean of ``fits`` fits'
    images, spread included) and ``history`` replace the stitcher's when the run made several."""
    images = stitcher.images() if images is None else images
    history = [row for o in stitcher.outcomes for row in o.history] if history is None else history
    m = run_facts(job, stitcher, interrupted, seconds)
    returned = job.fit.result
    if job.fit.method != "dip":
        if interrupted:  # Ctrl-C asks for the result now, and skipped tiles hold the input: DIP's result alone
            m["method"] = {"name": job.fit.method, "applied": False, "why": "interrupted"}
        else:
            images["combined"], other, m["method"] = combine(job, images[job.fit.result])
            if other is not None:
                images["cbm3d"] = other
            m["method"].update(applied=True, dip_result=job.fit.result)
            returned = m["result"] = "combined"
            m["seconds"] = round(seconds + m["method"]["seconds"], 3)
    m.update(scores(job, images, stitcher.baseline))
    std = None
    if "spread" in images:
        std, m["uncertainty"] = uncertainty_map(job, images, fits)
    curve = stitcher.curve()
    if curve is not None:
        m["curve"] = curve
        if curve:
            peak = max(curve, key=lambda r: max(r["psnr_output"], r["psnr_ema"]))
            m["oracle_psnr"] = max(peak["psnr_output"], peak["psnr_ema"])
            m["oracle_iteration"] = peak["iteration"]
    return Restoration(image=images[returned], output=images["output"], ema=images["ema"],
                       best=images["best"], result=returned, history=history, metrics=m,
                       baseline=stitcher.baseline, ground_truth=job.inputs.ground_truth, job=job, uncertainty=std)


def uncertainty_map(job: Job, images: dict[str, np.ndarray], fits: int) -> tuple[np.ndarray, dict[str, Any]]:
    """The calibrated map of a run and its facts (and, with a ground truth, its evaluation): the returned
    image's spread, scaled by the left-out values' residuals of the network's own image (:mod:`.uncertainty`);
    where DIP's result was combined with CBM3D's, the two images' disagreement."""
    if "cbm3d" in images:
        std, facts = disagreement_std(images[job.fit.result], images["cbm3d"], fits, images.get("between"))
        if job.inputs.ground_truth is not None:
            facts["evaluation"] = evaluate(std, images["combined"], job.inputs.ground_truth)
        return std, facts
    own = "own_" if job.keeps_measured else ""
    spread, own_spread = images["spread"], images[own + "spread"]
    if job.inputs.mask is not None:  # far inside a hole the error outgrows the spread
        fitted = job.inputs.mask if job.calibration is None else job.inputs.mask & ~job.calibration
        weight = distance_weight(fitted)[..., None]
        spread, own_spread = spread * weight, own_spread * weight
    calibration = measure_calibration(job.make_operator(job.inputs.mask), job.inputs.observation, job.calibration,
                                      np.nan_to_num(images[own + job.fit.result]), np.nan_to_num(own_spread))
    std, facts = calibrated_std(job.task, spread, calibration, fits)
    if job.inputs.ground_truth is not None:
        missing = None if job.inputs.mask is None else ~job.inputs.mask
        if np.isfinite(std).all():  # a run with tiles never fitted has no map there to judge
            facts["evaluation"] = evaluate(std, images[job.fit.result], job.inputs.ground_truth, missing)
    return std, facts


def run_facts(job: Job, stitcher: Stitcher, interrupted: bool, seconds: float) -> dict[str, Any]:
    """How the run went: its settings in brief, its tiles, and their steps and stops summed up."""
    fitted = [o.facts for o in stitcher.outcomes]
    f = job.factor
    skipped = [{"tile": t.index, "y": t.top * f, "x": t.left * f, "height": t.height * f, "width": t.width * f,
                "iterations": 0, "stopped_by": "skipped", "seconds": 0.0} for t in stitcher.skipped]
    tiles = sorted(fitted + skipped, key=lambda t: t["tile"])
    one = len(tiles) == 1
    rules = {t["stop_rule"] for t in fitted}
    stops = [t["stop_iteration"] for t in fitted]
    return {
        "task": job.task.name, "preset": job.preset.variant, "seed": job.seed, "device": str(job.device),
        "precision": job.fit.precision, "result": job.fit.result,
        "tiles": len(tiles), "tile": None if job.tiling.tile is None else list(job.tiling.tile),
        "overlap": job.tiling.overlap, "workers": job.tiling.workers,
        "iterations": sum(t["iterations"] for t in tiles), "seconds": round(seconds, 3),
        # One tile: its own reason; several: each stopped on its own ("tiles"), or the run was interrupted.
        "stopped_by": tiles[0]["stopped_by"] if one else "interrupted" if interrupted else "tiles",
        "interrupted": interrupted, "tiles_not_run": [t["tile"] for t in skipped],
        "stop_rule": rules.pop() if len(rules) == 1 else None,
        "stop_iteration": sum(stops) if stops and not skipped and all(stops) else None,
        "best_iteration": fitted[0]["best_iteration"] if one else None,
        "backtracks": sum(t["backtracks"] for t in fitted),
        "cuda_graph": bool(fitted) and all(t["cuda_graph"] for t in fitted),
        "cuda_graph_error": next((t["cuda_graph_error"] for t in fitted if t["cuda_graph_error"]), None),
        "kept_measured": job.keeps_measured, "masked_input": job.inputs.mask is not None,
        "holdout_pixels": sum(t["holdout_pixels"] for t in fitted),
        "noise": noise_facts(job),
        "per_tile": tiles,
    }


def noise_facts(job: Job) -> dict[str, Any] | None:
    """What the discrepancy stop assumed of the noise: its model, its level (std on [0, 1]), whether the plan
    estimated it, and both estimates of the whole image; None for a task without a noise level."""
    if job.noise_level is None:
        return None
    facts: dict[str, Any] = {"model": job.fit.noise_model, "sigma": job.noise_level, "estimated": job.noise is not None}
    if job.noise is not None:
        facts.update(wavelet=job.noise.wavelet, flat_blocks=job.noise.flat_blocks, ratio=job.noise.ratio)
    return facts


def scores(job: Job, images: dict[str, np.ndarray], baseline: np.ndarray) -> dict[str, Any]:
    """8-bit scores of each image against the observation (the network's own images, on the measured values)
    and the ground truth; ``input`` scores the corrupted input at the result's size (for super-resolution its
    bicubic upsampling, also under ``bicubic``, and every ground-truth entry adds the paper's ``psnr_y``)."""
    gt, obs = job.inputs.ground_truth, job.inputs.observation
    operator = job.make_operator(job.inputs.mask)
    y = to_tensor(obs)
    known = None if operator.known is None else from_tensor(operator.known.expand_as(y)) > 0.5

    def vs_gt(img: np.ndarray) -> dict[str, float]:
        s = metrics.scores(img, gt)
        if job.scale:
            s["psnr_y"] = metrics.psnr_y(img, gt)
        return s

    out: dict[str, Any] = {}
    for name in _KINDS + (("combined",) if "combined" in images else ()):
        q = metrics.quantize(images[name])
        # The kept images match the observation by construction: the observation judges the network's own.
        own = metrics.quantize(images[f"own_{name}"]) if job.keeps_measured else q
        with torch.no_grad():
            seen = from_tensor(operator(to_tensor(own)))
        out[name] = {"observation": metrics.scores(seen, obs, known)}
        if gt is not None:
            out[name]["gt"] = vs_gt(q)
    if gt is not None:
        out["input"] = {"gt": vs_gt(metrics.quantize(baseline))}
        if job.scale:
            out["bicubic"] = out["input"]
        out["table"] = {"final_vs_gt": out["output"]["gt"]["psnr"], "ema_vs_gt": out["ema"]["gt"]["psnr"],
                        "final_vs_observation": out["output"]["observation"]["psnr"],
                        "ema_vs_observation": out["ema"]["observation"]["psnr"]}
    return out
