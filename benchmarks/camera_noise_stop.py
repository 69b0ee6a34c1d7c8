"""Stopping on camera noise: record fixed-length fits once, then replay stop rules on them offline.

The fit does not depend on the stop rule (``stop="none"`` runs every step; the rule only picks), so one
recorded history per tile serves every rule. ``record`` corrupts 128 px centre crops of the paper's 9 denoising
images with camera-like noise (``deepprior degrade --camera-noise``) at several levels and with white Gaussian
noise, runs the default denoising preset (its tiles included) for a fixed number of steps, and keeps each
tile's logged rows, its noisy crop (for noise estimators) and CBM3D given the estimated and the best sigma.
``replay`` scores rules: the image's PSNR at each tile's pick, against the run's own peak and CBM3D.

    python benchmarks/camera_noise_stop.py record --data ../shared/data --out /tmp/camera_record.json   # ~1 h
    python benchmarks/camera_noise_stop.py replay /tmp/camera_record.json --data ../shared/data \
        --out docs/bench/camera_noise_stop.json

The record (about 2 MB: every logged row and the noisy crops) is not kept in the repository; the replay's
JSON is.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import numpy as np

import deepprior
from deepprior.classical.methods import cbm3d
from deepprior.imaging import metrics
from deepprior.imaging.camera import camera_noise
from deepprior.imaging.degrade import add_noise
from deepprior.imaging.io import load_image
from deepprior.imaging.noise import estimate_noise_sigma

IMAGES = ["F16", "baboon", "hill", "kodim01", "kodim02", "kodim03", "kodim12", "lena", "peppers"]
NOISES = ["camera:8", "camera:15", "camera:25", "white:25"]
_KEEP = ("iteration", "loss", "variance", "psnr_obs_ema", "mse_ema", "psnr_ema")


def corrupt(gt: np.ndarray, noise: str, seed: int = 0) -> np.ndarray:
    kind, level = noise.split(":")
    return camera_noise(gt, float(level), seed) if kind == "camera" else add_noise(gt, float(level), seed)


def best_cbm3d(noisy: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    """CBM3D's PSNR at the sigma (0-255 scale) that scores best against the ground truth, found on a grid and
    refined around its best: what no user could choose, the classical method's ceiling."""
    scores: dict[float, float] = {}

    def score(s: float) -> float:
        if s not in scores:
            scores[s] = metrics.psnr(metrics.quantize(cbm3d(noisy, s / 255)), gt)
        return scores[s]

    for s in (4, 7, 10, 14, 19, 25, 32, 40):
        score(s)
    best = max(scores, key=scores.get)
    for s in (best - 2, best - 1, best + 1, best + 2):
        if s > 0:
            score(s)
    best = max(scores, key=scores.get)
    return best, scores[best]


def record(args: argparse.Namespace) -> None:
    out = {"iterations": args.iterations, "runs": []}
    for name in args.images:
        full = load_image(args.data / "benchmarks" / "denoise9" / f"{name}_GT.png")
        h, w = full.shape[:2]
        gt = full[(h - 128) // 2:(h + 128) // 2, (w - 128) // 2:(w + 128) // 2]
        for noise in args.noises:
            y = corrupt(gt, noise)
            start = time.perf_counter()
            r = deepprior.restore(y, "denoise", ground_truth=gt, stop="none", iterations=args.iterations,
                                  log_every=10)
            seconds = time.perf_counter() - start
            est = estimate_noise_sigma(y) * 255
            s_best, p_best = best_cbm3d(y, gt)
            tiles = []
            for t in r.metrics["per_tile"]:
                rows = [{k: row.get(k) for k in _KEEP} for row in r.history if row["tile"] == t["tile"]]
                box = (t["y"], t["x"], t["height"], t["width"])
                tiles.append({"box": box, "rows": rows,
                              "noisy": np.round(y[box[0]:box[0] + box[2], box[1]:box[1] + box[3]] * 255)
                              .astype(int).tolist()})
            run = {"image": name, "noise": noise, "seconds": round(seconds, 1),
                   "true_sigma": float(np.std((y - gt) * 255)), "wavelet_sigma": est,
                   "psnr_input": metrics.psnr(metrics.quantize(y), gt),
                   "cbm3d_estimated": metrics.psnr(metrics.quantize(cbm3d(y, est / 255)), gt),
                   "cbm3d_best": p_best, "cbm3d_best_sigma": s_best, "tiles": tiles}
            out["runs"].append(run)
            print(json.dumps({k: v for k, v in run.items() if k != "tiles"}), flush=True)
            args.out.write_text(json.dumps(out) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="verb", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("--data", type=pathlib.Path, default=pathlib.Path("../shared/data"))
    rec.add_argument("--images", nargs="*", default=IMAGES)
    rec.add_argument("--noises", nargs="*", default=NOISES)
    rec.add_argument("--iterations", type=int, default=2000)
    rec.add_argument("--out", type=pathlib.Path, required=True)
    rep = sub.add_parser("replay")
    rep.add_argument("record", type=pathlib.Path)
    rep.add_argument("--sweep", action="store_true", help="also try other factors and minimum steps")
    rep.add_argument("--out", type=pathlib.Path)
    rep.add_argument("--data", type=pathlib.Path, help="also score CBM3D at the level the package estimates")
    args = ap.parse_args()
    if args.verb == "record":
        record(args)
    else:
        from camera_noise_replay import replay  # the rules under study, beside this script

        result = replay(json.loads(args.record.read_text()), sweep=args.sweep, data=args.data)
        if args.out:
            args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    main()
