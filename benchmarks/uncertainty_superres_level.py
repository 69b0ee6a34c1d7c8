"""Could super-resolution's map take its level from the input alone? Tried, not kept (docs/uncertainty.md).

The left-out low-resolution pixels set the map's level today, and the factor that would have calibrated it
ranged 3-24 over six crops. An image's error after enlarging is mostly the detail above the input's Nyquist
limit, which the input's own spectrum might predict: each predictor below sees only the 24 px input of a 96 px
crop, and is scored by how closely one constant maps it to the true mean squared error of bicubic x4 (on many
crops: no fit needed) and of the DIP results of the six crops docs/uncertainty.md scores (their RMSE from
docs/bench/uncertainty_tune.json and uncertainty_eval.json). The calibration target asks for 0.67-1.5x.

    python benchmarks/uncertainty_superres_level.py --data ../shared/data \
        --out docs/bench/uncertainty_superres_level.json

Predictors: ``coarse`` the input downscaled x2 and enlarged back by bicubic, its MSE against the input (the
same loss one scale down); ``detail`` the input's energy above a Gaussian blur of 1 px; ``spectrum`` a power
law fitted to the input's radial power spectrum (0.08-0.45 cycles/px) integrated over the band the x4 result
adds. Crops: the centre and four 100 px offsets of each image of the 9-image set and Set14.
"""

from __future__ import annotations

import argparse
import json
import pathlib

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.stats import spearmanr

from deepprior.classical.methods import bicubic_upsample
from deepprior.imaging.degrade import downscale_image
from deepprior.imaging.io import load_image

SIZE, FACTOR = 96, 4
OFFSETS = [(0, 0), (-100, -100), (100, 100), (-100, 100), (100, -100)]
#: The six crops' DIP x4 RMSE (uncertainty=1, seed 0, centre crops; the files named in the docstring).
DIP_FILES = ("docs/bench/uncertainty_tune.json", "docs/bench/uncertainty_eval.json")


def crop(img: np.ndarray, offset: tuple[int, int]) -> np.ndarray | None:
    h, w = img.shape[:2]
    t, left = (h - SIZE) // 2 + offset[0], (w - SIZE) // 2 + offset[1]
    if t < 0 or left < 0 or t + SIZE > h or left + SIZE > w:
        return None
    return img[t:t + SIZE, left:left + SIZE]


def predictors(y: np.ndarray) -> dict[str, float]:
    """The input-only predictors of one low-resolution image (H, W, C)."""
    up = np.clip(bicubic_upsample(downscale_image(y, 2), 2), 0, 1)
    grey = y.mean(axis=2) - y.mean()
    n = grey.shape[0]
    win = np.outer(np.hanning(n), np.hanning(n))
    power = np.abs(np.fft.fftshift(np.fft.fft2(grey * win))) ** 2 / (win ** 2).sum()
    fy, fx = np.meshgrid(np.arange(n) - n // 2, np.arange(n) - n // 2, indexing="ij")
    r = np.hypot(fy, fx) / n
    band = (r > 0.08) & (r < 0.45)
    slope, log_a = np.polyfit(np.log(r[band]), np.log(power[band]), 1)
    # The band the result adds, 0.5-2 cycles per input pixel, per result pixel (1 / FACTOR^2 of the area).
    f = np.linspace(0.5, FACTOR / 2, 400)
    added = np.trapezoid(2 * np.pi * f * np.exp(log_a) * f ** slope, f) / FACTOR ** 2
    return {"coarse": float(((up - y) ** 2).mean()),
            "detail": float(((y - gaussian_filter(y, (1, 1, 0))) ** 2).mean()),
            "spectrum": float(added), "slope": float(slope)}


def fit_score(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """How well ``truth = c * pred`` holds with the best constant (the geometric mean of the ratios): the
    spread of log ratios and the share of crops within 1.5x (the calibration target's 0.67-1.5)."""
    logr = np.log(truth) - np.log(pred)
    c = float(np.exp(np.median(logr)))
    return {"constant": c, "log_ratio_sd": float(logr.std()), "ratio_range": [float(np.exp(logr.min()) / c),
                                                                               float(np.exp(logr.max()) / c)],
            "within_1.5x": float(np.mean(np.abs(logr - np.log(c)) < np.log(1.5))),
            "rank_corr": float(spearmanr(pred, truth)[0])}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=pathlib.Path, default=pathlib.Path("../shared/data"))
    ap.add_argument("--out", type=pathlib.Path, required=True)
    args = ap.parse_args()
    dip = {}
    for name in DIP_FILES:
        for row in json.loads(pathlib.Path(name).read_text())["rows"]:
            if row["task"] == "superres":
                dip[row["image"]] = row["k1"]["rmse"] ** 2
    paths = sorted((args.data / "benchmarks/denoise9").glob("*_GT.png")) + sorted(
        (args.data / "benchmarks/set14/x4").glob("*_GT.png"))
    rows = []
    for path in paths:
        img, name = load_image(path), path.name.split("_GT")[0]
        for offset in OFFSETS:
            gt = crop(img, offset)
            if gt is None:
                continue
            y = downscale_image(gt, FACTOR)
            row = {"image": name, "set": path.parent.name, "offset": offset,
                   "bicubic_mse": float(((np.clip(bicubic_upsample(y, FACTOR), 0, 1) - gt) ** 2).mean()),
                   **predictors(y)}
            if offset == (0, 0) and path.parent.name == "denoise9" and name in dip:
                row["dip_mse"] = dip[name]
            rows.append(row)
    keys = ("coarse", "detail", "spectrum")
    summary = {"crops": len(rows),
               "bicubic": {k: fit_score(np.array([r[k] for r in rows]), np.array([r["bicubic_mse"] for r in rows]))
                           for k in keys}}
    six = [r for r in rows if "dip_mse" in r]
    summary["dip_six_crops"] = {k: fit_score(np.array([r[k] for r in six]), np.array([r["dip_mse"] for r in six]))
                                for k in (*keys, "bicubic_mse")}
    args.out.write_text(json.dumps({"command": "python benchmarks/uncertainty_superres_level.py --data "
                                               f"../shared/data --out {args.out}",
                                    "summary": summary, "rows": rows}, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
