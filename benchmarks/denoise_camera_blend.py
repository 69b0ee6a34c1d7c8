"""The default denoising (DIP + CBM3D told the noise DIP found) against DIP alone and CBM3D at its best sigma.

For centre crops of the paper's 9 denoising images under camera-like noise (``deepprior degrade
--camera-noise``) and white noise, this runs ``deepprior.restore(y, "denoise")`` (the fast preset, its
automatic stop, ``method="dip+cbm3d"``) once and reads from the one run both DIP's own result (``best``) and
the combined one it returns, then CBM3D given the level deepprior estimates (what ``--compare`` gives it) and
CBM3D given the sigma that scores best against the ground truth (a grid widened until the best is inside it:
the classical method's ceiling, which no user can choose).

    python benchmarks/denoise_camera_blend.py --data ../shared/data --out docs/bench/denoise_camera_blend.json
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys
import time

import numpy as np

import deepprior
from deepprior.classical.methods import cbm3d
from deepprior.imaging import metrics
from deepprior.imaging.io import load_image

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from camera_noise_stop import IMAGES, corrupt  # noqa: E402

NOISES = ["camera:8", "camera:15", "camera:25", "white:25", "white:50"]


def best_cbm3d(noisy: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    """CBM3D's best PSNR over sigmas (0-255 scale) and that sigma: a grid in steps of about 12 %, widened
    upwards while its best is its largest, then refined by 1 either side."""
    scores: dict[float, float] = {}

    def score(s: float) -> float:
        if s not in scores:
            scores[s] = metrics.psnr(metrics.quantize(cbm3d(noisy, s / 255)), gt)
        return scores[s]

    grid = [4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 21, 24, 27, 30, 34, 38, 43, 48, 54, 60]
    for s in grid:
        score(s)
    while max(scores, key=scores.get) == max(scores):
        score(round(max(scores) * 1.12))
    best = max(scores, key=scores.get)
    for s in (best - 1, best + 1):
        if s > 0:
            score(s)
    best = max(scores, key=scores.get)
    return best, scores[best]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=pathlib.Path, default=pathlib.Path("../shared/data"))
    ap.add_argument("--images", nargs="*", default=IMAGES)
    ap.add_argument("--noises", nargs="*", default=NOISES)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--out", type=pathlib.Path, required=True)
    args = ap.parse_args()
    rows = []
    for name in args.images:
        full = load_image(args.data / "benchmarks" / "denoise9" / f"{name}_GT.png")
        h, w = full.shape[:2]
        s = args.size
        gt = full[(h - s) // 2:(h + s) // 2, (w - s) // 2:(w + s) // 2]
        for noise in args.noises:
            y = corrupt(gt, noise)
            t0 = time.perf_counter()
            r = deepprior.restore(y, "denoise", ground_truth=gt)
            seconds = time.perf_counter() - t0
            m = r.metrics
            level = m["noise"]["sigma"]
            score = lambda img: metrics.psnr(metrics.quantize(img), gt)  # noqa: E731
            sigma, top = best_cbm3d(y, gt)
            row = {"image": name, "noise": noise, "model": m["noise"]["model"], "level": level * 255,
                   "true_std": float(np.std((y - gt) * 255)), "input": m["input"]["gt"]["psnr"],
                   "dip": m["best"]["gt"]["psnr"], "dip_oracle": m.get("oracle_psnr"),
                   "default": m["combined"]["gt"]["psnr"], "cbm3d_estimated": score(cbm3d(y, level)),
                   "cbm3d_best": top, "cbm3d_best_sigma": sigma, "seconds": round(seconds, 1),
                   "seconds_cbm3d_part": m["method"]["seconds"], "iterations": m["iterations"]}
            rows.append(row)
            print(json.dumps({k: (round(v, 2) if isinstance(v, float) else v) for k, v in row.items()}), flush=True)
            summary = {}
            for n in args.noises:
                mine = [x for x in rows if x["noise"] == n]
                if mine:
                    summary[n] = {k: statistics.fmean(x[k] for x in mine)
                                  for k in ("input", "dip", "default", "cbm3d_estimated", "cbm3d_best", "seconds")}
                    summary[n]["images"] = len(mine)
                    summary[n]["default_minus_cbm3d_best"] = summary[n]["default"] - summary[n]["cbm3d_best"]
            args.out.write_text(json.dumps({"size": s, "summary": summary, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
