"""Which noise level should CBM3D be told on white noise: the wavelet estimate, the patch estimate, or the truth?

Part one, whole images: the paper's 9 denoising images under white Gaussian noise (one draw, seed 0, clipped to
[0, 1] as the bench makes it), each level estimate's value and CBM3D's PSNR told it (8-bit, against the clean
image). Part two, 128 px centre crops: DIP's fit as the default runs it (fast preset, automatic stop, seed 0), and
the default's mix (DIP weighted 0.3) with CBM3D told each estimate; the run's own image is the patch estimate's
mix, checked against the one made here.

    python benchmarks/denoise_noise_level.py --data ../shared/data --out docs/bench/denoise_noise_level.json
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import statistics
import time

import numpy as np
import torch

import deepprior
from deepprior.classical.methods import cbm3d
from deepprior.imaging import metrics
from deepprior.imaging.degrade import add_noise
from deepprior.imaging.io import load_image
from deepprior.imaging.noise import estimate_noise_sigma, patch_noise_sigma
from deepprior.jobs.combine import DIP_WEIGHT

LEVELS = (25.0, 50.0)


def score(img: np.ndarray, gt: np.ndarray) -> float:
    return metrics.psnr(metrics.quantize(img), gt)


def levels(y: np.ndarray, level: float) -> dict[str, float]:
    """The levels CBM3D is told, on [0, 1]: the truth and each estimate of ``y``."""
    return {"true": level / 255, "wavelet": estimate_noise_sigma(y), "patch": patch_noise_sigma(y)}


def whole(name: str, gt: np.ndarray, level: float) -> dict:
    """Each estimate of one whole noisy image and CBM3D's PSNR told it, with its seconds."""
    y = add_noise(gt, level, 0)
    row = {"image": name, "level": level, "input": score(y, gt)}
    for key, sigma in levels(y, level).items():
        start = time.perf_counter()
        row[key] = {"sigma": sigma * 255, "cbm3d": score(cbm3d(y, sigma, threads=2), gt),
                    "seconds": round(time.perf_counter() - start, 1)}
    return row


def crop(name: str, gt: np.ndarray, level: float) -> dict:
    """The default's fit of one noisy crop and its mix with CBM3D told each estimate."""
    y = add_noise(gt, level, 0)
    start = time.perf_counter()
    r = deepprior.restore(y, "denoise", preset="fast", seed=0, **({"reg_noise_std": 1 / 20} if level >= 50 else {}))
    seconds = time.perf_counter() - start
    w = DIP_WEIGHT["white"]
    row = {"image": name, "level": level, "input": score(y, gt), "dip": score(r.best, gt), "seconds": round(seconds, 1)}
    for key, sigma in levels(y, level).items():
        other = cbm3d(y, sigma, threads=1)
        mix = (w * r.best + (1 - w) * other).astype(np.float32)
        if key == "patch":
            assert np.array_equal(mix, r.image), "the run's image is not the patch estimate's mix"
        row[key] = {"sigma": sigma * 255, "cbm3d": score(other, gt), "default": score(mix, gt)}
    return row


def summary(rows: list[dict], fields: tuple[str, ...]) -> dict:
    out = {}
    for level in LEVELS:
        mine = [r for r in rows if r["level"] == level]
        out[str(level)] = {key: {f: statistics.fmean(r[key][f] for r in mine) for f in fields}
                           for key in ("true", "wavelet", "patch")}
        out[str(level)]["sigma_error_pct"] = {
            key: statistics.fmean(abs(r[key]["sigma"] / level - 1) * 100 for r in mine) for key in ("wavelet", "patch")}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=pathlib.Path, default=pathlib.Path("../shared/data"))
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--out", type=pathlib.Path, required=True)
    args = ap.parse_args()
    paths = sorted((args.data / "benchmarks" / "denoise9").glob("*_GT.png"))
    whole_rows, crop_rows = [], []
    for level in LEVELS:
        for path in paths:
            whole_rows.append(whole(path.stem.removesuffix("_GT"), load_image(path), level))
            print(json.dumps(whole_rows[-1]), flush=True)
    for level in LEVELS:
        for path in paths:
            full = load_image(path)
            h, w, s = *full.shape[:2], args.size
            crop_rows.append(crop(path.stem.removesuffix("_GT"), full[(h - s) // 2:(h + s) // 2,
                                                                      (w - s) // 2:(w + s) // 2], level))
            print(json.dumps(crop_rows[-1]), flush=True)
    out = {"command": f"python benchmarks/denoise_noise_level.py --data ../shared/data --size {args.size}",
           "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
                      f"torch {torch.__version__}, {torch.backends.cpu.get_cpu_capability()}",
           "date": time.strftime("%Y-%m-%d"), "size": args.size,
           "whole": {"summary": summary(whole_rows, ("sigma", "cbm3d")), "rows": whole_rows},
           "crops": {"summary": summary(crop_rows, ("sigma", "cbm3d", "default")), "rows": crop_rows}}
    args.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
