"""Stop rules replayed on recorded fits (see camera_noise_stop.py): each tile's rows go through the package's
AutoStop with a candidate noise level, and the image scores the EMA each tile's rule picked.

``replay`` scores the rule that ships (the fast denoising preset's factors and minimum step, the noise model of
:func:`deepprior.imaging.noise.estimate_noise`) against the rule before it (the wavelet estimate of each tile),
the run's own peak and CBM3D; ``--sweep`` also tries other factors and minimum steps.
"""

from __future__ import annotations

import statistics

import numpy as np
import torch

from deepprior.fitting.stopping import AutoStop
from deepprior.imaging import metrics
from deepprior.imaging.noise import estimate_noise, estimate_noise_sigma
from deepprior.jobs import get_preset


def tile_pick(rows: list[dict], noise_var: float | None, min_iterations: int = 200) -> int:
    """The step whose EMA the package's rule returns for these rows (the last step when no rule fires)."""
    stop = AutoStop(patience=300, rise=1.25, lag=100, min_gain_db=0.05, min_iterations=min_iterations,
                    noise_var=noise_var)
    for r in rows:
        v = r["variance"] if r["variance"] is not None else float("nan")
        if stop.decide(r["iteration"], v, r["psnr_obs_ema"], torch.tensor(float(r["iteration"])), r["loss"]):
            break
    return int(stop.image.item()) if stop.fired else rows[-1]["iteration"]


def image_psnr(run: dict, picks: list[int]) -> float:
    """PSNR of the image whose tiles return their EMA at ``picks`` (pixel-weighted mean of the tiles' MSE)."""
    num = den = 0.0
    for t, it in zip(run["tiles"], picks):
        row = next(r for r in t["rows"] if r["iteration"] == it)
        n = t["box"][2] * t["box"][3]
        num, den = num + n * row["mse_ema"], den + n
    return metrics.psnr_from_mse(num / den)


def peak(run: dict) -> float:
    """The run's own peak: the best PSNR of the stitched EMA over the logged steps."""
    steps = [r["iteration"] for r in run["tiles"][0]["rows"]]
    return max(image_psnr(run, [s] * len(run["tiles"])) for s in steps)


def whole_noisy(run: dict) -> np.ndarray:
    """The whole noisy crop, put back together from its tiles."""
    h = max(t["box"][0] + t["box"][2] for t in run["tiles"])
    w = max(t["box"][1] + t["box"][3] for t in run["tiles"])
    img = np.zeros((h, w, 3), np.float32)
    for t in run["tiles"]:
        y, x, th, tw = t["box"]
        img[y:y + th, x:x + tw] = np.asarray(t["noisy"], np.float32) / 255
    return img


def rule_psnr(run: dict, info: dict, factor: float, correlated_factor: float, min_iterations: int,
              white_only: bool = False) -> tuple[float, int]:
    """(PSNR, steps in all) of the rule: white noise at ``factor`` x each tile's wavelet variance (from step 200,
    as before), correlated noise at ``correlated_factor`` x the whole image's flat-block variance (from
    ``min_iterations``); ``white_only``: every image as white (the rule before the noise model)."""
    picks = []
    for n, t in enumerate(run["tiles"]):
        if info["model"] == "correlated" and not white_only:
            picks.append(tile_pick(t["rows"], correlated_factor * info["flat"] ** 2, min_iterations))
        else:
            picks.append(tile_pick(t["rows"], factor * info["tiles"][n] ** 2, 200 if white_only else min_iterations))
    return image_psnr(run, picks), sum(picks)


def replay(record: dict, sweep: bool = False, data=None) -> dict:
    fit = get_preset("denoise").fit
    info = {}
    for run in record["runs"]:
        e = estimate_noise(whole_noisy(run))
        info[(run["image"], run["noise"])] = {
            "model": e.model, "flat": e.flat_blocks, "wavelet": e.wavelet,
            "tiles": [estimate_noise_sigma(np.asarray(t["noisy"], np.float32) / 255) for t in run["tiles"]]}
    rows = []
    for run in record["runs"]:
        i = info[(run["image"], run["noise"])]
        new, new_steps = rule_psnr(run, i, fit.stop_noise_factor, fit.stop_correlated_factor, fit.stop_min_iterations)
        old, old_steps = rule_psnr(run, i, fit.stop_noise_factor, 0, 200, white_only=True)
        cbm3d_flat = nlm_flat = None
        if data is not None:  # CBM3D and non-local means given the level the package estimates, as --compare does
            from deepprior.classical.methods import cbm3d, nlm
            from deepprior.imaging.io import load_image

            full = load_image(data / "benchmarks" / "denoise9" / f"{run['image']}_GT.png")
            h, w = full.shape[:2]
            gt = full[(h - 128) // 2:(h + 128) // 2, (w - 128) // 2:(w + 128) // 2]
            level = i["flat"] if i["model"] == "correlated" else i["wavelet"]
            cbm3d_flat = metrics.psnr(metrics.quantize(cbm3d(whole_noisy(run), level)), gt)
            nlm_flat = metrics.psnr(metrics.quantize(nlm(whole_noisy(run), level)), gt)
        rows.append({"image": run["image"], "noise": run["noise"], "input": run["psnr_input"], "peak": peak(run),
                     "cbm3d_package_estimate": cbm3d_flat, "nlm_package_estimate": nlm_flat,
                     "returned": new, "steps": new_steps, "returned_before": old, "steps_before": old_steps,
                     "cbm3d_best": run["cbm3d_best"], "cbm3d_best_sigma": run["cbm3d_best_sigma"],
                     "cbm3d_estimated": run["cbm3d_estimated"], "true_sigma": run["true_sigma"],
                     "model": i["model"], "flat_blocks_sigma": i["flat"] * 255, "wavelet_sigma": i["wavelet"] * 255})
    summary = {}
    for noise in sorted({r["noise"] for r in rows}):
        rs = [r for r in rows if r["noise"] == noise]
        summary[noise] = {k: round(statistics.fmean(r[k] for r in rs), 2) for k in rows[0]
                          if isinstance(rows[0][k], (int, float)) and k != "cbm3d_best_sigma"}
        summary[noise]["worst_gap"] = round(max(r["peak"] - r["returned"] for r in rs), 2)
        summary[noise]["correlated"] = sum(r["model"] == "correlated" for r in rs)
        print(noise, summary[noise])
    if sweep:
        for mi in (200, 100, 50):
            for cf in (1.0, 1.1, 1.25, 1.4):
                gaps = {noise: [peak(r) - rule_psnr(r, info[(r["image"], noise)], fit.stop_noise_factor, cf, mi)[0]
                                for r in record["runs"] if r["noise"] == noise] for noise in summary}
                print(f"min {mi}, factor {cf}: " + ", ".join(f"{n} {statistics.fmean(g):.2f} (worst {max(g):.2f})"
                                                           for n, g in gaps.items()))
    return {"preset": {"stop_noise_factor": fit.stop_noise_factor,
                       "stop_correlated_factor": fit.stop_correlated_factor,
                       "stop_min_iterations": fit.stop_min_iterations},
            "iterations": record["iterations"], "summary": summary, "rows": rows}

