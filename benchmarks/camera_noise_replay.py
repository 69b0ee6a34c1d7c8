"""Stop rules replayed on recorded fits (see camera_noise_stop.py): each tile's rows go through the AutoStop of
the package with a candidate noise level, and the image scores the EMA each tile's rule picked."""

from __future__ import annotations

import json
import math
import statistics
from typing import Callable

import numpy as np
import torch

from deepprior.fitting.stopping import AutoStop
from deepprior.imaging import metrics
from deepprior.imaging.noise import estimate_noise_sigma


def patch_sigma(img: np.ndarray, block: int = 8, quantile: float = 0.1) -> float:
    """Std of the noise from the flattest blocks: the sample variance of each block (its mean removed) and
    channel, a low quantile of them, corrected for the quantile's bias under white noise (chi-square)."""
    from scipy.stats import chi2

    h, w, c = img.shape
    v = []
    for y in range(0, h - block + 1, block):
        for x in range(0, w - block + 1, block):
            b = img[y:y + block, x:x + block].reshape(-1, c)
            v.extend(b.var(axis=0, ddof=1))
    dof = block * block - 1
    bias = chi2.ppf(quantile, dof) / dof
    return float(math.sqrt(np.quantile(v, quantile) / bias))


def nlf_sigma(img: np.ndarray, block: int = 8, quantile: float = 0.2, bins: int = 6) -> float:
    """Noise that depends on the intensity: blocks binned by their mean, a low quantile of the variances per bin
    (chi-square corrected), and the mean over the image's pixels of the variance of their bin."""
    from scipy.stats import chi2

    h, w, c = img.shape
    means, variances = [], []
    for y in range(0, h - block + 1, block):
        for x in range(0, w - block + 1, block):
            b = img[y:y + block, x:x + block].reshape(-1, c)
            means.extend(b.mean(axis=0))
            variances.extend(b.var(axis=0, ddof=1))
    means, variances = np.asarray(means), np.asarray(variances)
    dof = block * block - 1
    bias = chi2.ppf(quantile, dof) / dof
    edges = np.quantile(means, np.linspace(0, 1, bins + 1))
    per_bin = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = variances[(means >= lo) & (means <= hi)]
        if sel.size:
            per_bin.append(np.quantile(sel, quantile) / bias)
    return float(math.sqrt(np.mean(per_bin)))


ESTIMATORS: dict[str, Callable[[np.ndarray], float]] = {
    "wavelet": lambda img: estimate_noise_sigma(img) * 255,
    "patch": lambda img: patch_sigma(img) * 255,
    "nlf": lambda img: nlf_sigma(img) * 255,
}


def tile_pick(rows: list[dict], noise_var: float | None) -> int:
    """The step whose EMA the package's rule returns for these rows (the last step when no rule fires)."""
    stop = AutoStop(patience=300, rise=1.25, lag=100, min_gain_db=0.05, min_iterations=200, noise_var=noise_var)
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


def replay(record: dict) -> None:
    sigmas = {}
    for run in record["runs"]:
        for n, t in enumerate(run["tiles"]):
            img = np.asarray(t["noisy"], np.float32) / 255
            sigmas[(run["image"], run["noise"], n)] = {k: f(img) for k, f in ESTIMATORS.items()}
    rules: dict[str, Callable[[dict, int], float | None]] = {"none": lambda run, n: None}
    for est in ESTIMATORS:
        for factor in (1.0, 1.02, 1.05, 1.1, 1.2):
            rules[f"{est} x{factor}"] = (lambda e, f: lambda run, n: f * (sigmas[(run["image"], run["noise"], n)][e]
                                                                          / 255) ** 2)(est, factor)
    noises = sorted({r["noise"] for r in record["runs"]})
    out = {}
    for noise in noises:
        runs = [r for r in record["runs"] if r["noise"] == noise]
        peaks = [peak(r) for r in runs]
        line = {"peak": statistics.fmean(peaks), "cbm3d_best": statistics.fmean(r["cbm3d_best"] for r in runs),
                "cbm3d_estimated": statistics.fmean(r["cbm3d_estimated"] for r in runs),
                "true_sigma": statistics.fmean(r["true_sigma"] for r in runs),
                **{f"sigma_{k}": statistics.fmean(sigmas[(r["image"], noise, n)][k] for r in runs
                                                  for n in range(len(r["tiles"]))) for k in ESTIMATORS}}
        for name, rule in rules.items():
            got = [image_psnr(r, [tile_pick(t["rows"], rule(r, n)) for n, t in enumerate(r["tiles"])]) for r in runs]
            line[name] = statistics.fmean(got)
            line[f"{name} worst gap"] = max(p - g for p, g in zip(peaks, got))
        out[noise] = line
        print(f"\n{noise}: peak {line['peak']:.2f}, CBM3D best {line['cbm3d_best']:.2f} / estimated "
              f"{line['cbm3d_estimated']:.2f}; true sigma {line['true_sigma']:.1f}, estimates "
              + ", ".join(f"{k} {line[f'sigma_{k}']:.1f}" for k in ESTIMATORS))
        for name in rules:
            print(f"  {name:>14}: {line[name]:.2f} (gap {line['peak'] - line[name]:.2f}, worst "
                  f"{line[name + ' worst gap']:.2f})")
    print(json.dumps(out))
