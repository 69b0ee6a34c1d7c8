"""Which share of DIP's result should the combined denoising (DIP + CBM3D) give on white noise?

For centre crops of the paper's 9 denoising images under white Gaussian noise (one draw, seed 0) this fits DIP
alone (``method="dip"``, the fast preset and its automatic stop, seed 0) and runs CBM3D told the level deepprior
estimates (as the combination does), then scores their weighted means for DIP weights 0 to 1, the best weight per
image (chosen with the ground truth, so a ceiling no user reaches), the correlation of the two errors, and what
SURE (Stein's unbiased risk estimate, with a Monte-Carlo divergence from a second CBM3D run on the input plus 0.1
sigma of extra noise) makes of CBM3D's error when told the estimated level: the estimate a weight chosen without
the ground truth would need. The images of each fit are kept in ``--cache`` so the scoring can be changed without
fitting again.

    python benchmarks/denoise_blend_weight.py --data ../shared/data --levels 25 50 --size 128 \
        --cache bench-out/blend-weight --out docs/bench/denoise_blend_weight.json
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
from deepprior.imaging.noise import estimate_noise_sigma

WEIGHTS = [round(0.1 * k, 1) for k in range(11)]


def fit(gt: np.ndarray, level: float, path: pathlib.Path) -> dict[str, np.ndarray]:
    """DIP's and CBM3D's images of one noisy crop, from ``path`` if an earlier run left them there."""
    if path.exists():
        with np.load(path) as z:
            return dict(z)
    y = add_noise(gt, level, 0)
    t0 = time.perf_counter()
    r = deepprior.restore(y, "denoise", preset="fast", seed=0, method="dip",
                          **({"reg_noise_std": 1 / 20} if level >= 50 else {}))
    seconds = time.perf_counter() - t0
    sigma = estimate_noise_sigma(y)
    out = {"gt": gt, "y": y, "dip": r.image, "cb": cbm3d(y, sigma, threads=1), "sigma_est": np.float64(sigma),
           "t_dip": np.float64(seconds)}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **out)
    return out


def row(name: str, level: float, z: dict[str, np.ndarray]) -> dict:
    x = z["gt"].astype(np.float64)
    d, c = z["dip"].astype(np.float64), z["cb"].astype(np.float64)
    by_weight = {w: metrics.psnr(w * d + (1 - w) * c, x) for w in WEIGHTS}
    # The best weight in closed form: the minimum of |w (d - c) + c - x|^2 over w.
    best_w = float(np.clip(np.sum((c - d) * (c - x)) / np.sum((d - c) ** 2), 0, 1))
    ed, ec = (d - x).ravel(), (c - x).ravel()
    sigma, y = float(z["sigma_est"]), z["y"].astype(np.float64)
    probe = np.random.default_rng(1).standard_normal(y.shape)
    nudged = cbm3d((y + 0.1 * sigma * probe).astype(np.float32), sigma, threads=1).astype(np.float64)
    divergence = np.mean(probe * (nudged - c)) / (0.1 * sigma)
    sure = np.mean((y - c) ** 2) - sigma ** 2 + 2 * sigma ** 2 * divergence
    return {"image": name, "level": level, "sigma_estimated": float(z["sigma_est"]) * 255,
            "input": metrics.psnr(z["y"], x), "dip": by_weight[1.0], "cbm3d": by_weight[0.0],
            "by_weight": {str(w): p for w, p in by_weight.items()}, "best_weight": best_w,
            "best": metrics.psnr(best_w * d + (1 - best_w) * c, x),
            "error_correlation": float(np.corrcoef(ed, ec)[0, 1]),
            "cbm3d_sure": metrics.psnr_from_mse(sure) if sure > 0 else float("inf")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=pathlib.Path, default=pathlib.Path("../shared/data"))
    ap.add_argument("--levels", nargs="*", type=float, default=[25.0, 50.0])
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--cache", type=pathlib.Path, default=pathlib.Path("bench-out/blend-weight"))
    ap.add_argument("--out", type=pathlib.Path, required=True)
    args = ap.parse_args()
    rows = []
    for level in args.levels:
        for path in sorted((args.data / "benchmarks" / "denoise9").glob("*_GT.png")):
            full = load_image(path)
            h, w, s = *full.shape[:2], args.size
            gt = full[(h - s) // 2:(h + s) // 2, (w - s) // 2:(w + s) // 2]
            z = fit(gt, level, args.cache / f"c{int(level)}_{s}" / f"{path.stem}.npz")
            rows.append(row(path.stem.removesuffix("_GT"), level, z))
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "by_weight"}), flush=True)
    summary = {}
    for level in args.levels:
        mine = [r for r in rows if r["level"] == level]
        summary[str(level)] = {
            "images": len(mine), **{k: statistics.fmean(r[k] for r in mine)
                                    for k in ("input", "dip", "cbm3d", "best", "best_weight", "error_correlation")},
            "sure_error_db": statistics.fmean(abs(r["cbm3d_sure"] - r["cbm3d"]) for r in mine),
            "by_weight": {str(w): statistics.fmean(r["by_weight"][str(w)] for r in mine) for w in WEIGHTS}}
    out = {"command": "python benchmarks/denoise_blend_weight.py --data ../shared/data --levels "
                      f"{' '.join(str(int(v)) for v in args.levels)} --size {args.size}",
           "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
                      f"torch {torch.__version__}", "size": args.size, "summary": summary, "rows": rows}
    args.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
