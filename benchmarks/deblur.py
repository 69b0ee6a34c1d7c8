"""Deblurring against Richardson-Lucy and Wiener on the same blurred, slightly noisy inputs.

Centre crops of the paper's denoising images, blurred with the deblurring operator itself (``deepprior degrade
--blur``) and given a little white noise; each is restored by ``deepprior deblur`` with each preset (its
automatic stop) and by scikit-image's Richardson-Lucy (30 iterations) and unsupervised Wiener, the borders
mirrored for both. JSON out.

    python benchmarks/deblur.py --data ../shared/data --out docs/bench/deblur.json
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import time

import deepprior
from deepprior.classical.methods import richardson_lucy, wiener
from deepprior.imaging import metrics
from deepprior.imaging.degrade import add_noise, blur_image
from deepprior.imaging.io import load_image
from deepprior.operators import parse_kernel


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=pathlib.Path, default=pathlib.Path("../shared/data"))
    ap.add_argument("--images", nargs="*", default=["F16", "baboon", "kodim03", "peppers"])
    ap.add_argument("--kernels", nargs="*", default=["gaussian:1.6", "motion:9,30"])
    ap.add_argument("--noise", type=float, default=2.0, help="std of the white noise on the 0-255 scale")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--presets", nargs="*", default=["fast", "paper"])
    ap.add_argument("--max-iters", type=int)
    ap.add_argument("--out", type=pathlib.Path)
    args = ap.parse_args()
    rows = []
    for name in args.images:
        full = load_image(args.data / "benchmarks" / "denoise9" / f"{name}_GT.png")
        h, w, s = full.shape[0], full.shape[1], args.size
        gt = full[(h - s) // 2:(h + s) // 2, (w - s) // 2:(w + s) // 2]
        for spec in args.kernels:
            k = parse_kernel(spec)
            y = add_noise(blur_image(gt, k), args.noise, seed=0)
            row = {"image": name, "kernel": spec, "input": metrics.psnr(metrics.quantize(y), gt),
                   "richardson_lucy": metrics.psnr(metrics.quantize(richardson_lucy(y, k)), gt),
                   "wiener": metrics.psnr(metrics.quantize(wiener(y, k)), gt)}
            for preset in args.presets:
                start = time.perf_counter()
                extra = {} if args.max_iters is None else {"iterations": args.max_iters}
                r = deepprior.restore(y, "deblur", kernel=k, ground_truth=gt, preset=preset, **extra)
                m = r.metrics
                row[preset] = {"psnr": m[m["result"]]["gt"]["psnr"], "oracle": m.get("oracle_psnr"),
                               "iterations": m["iterations"], "stopped_by": m["stopped_by"],
                               "seconds": round(time.perf_counter() - start, 1)}
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.out:
                args.out.write_text(json.dumps({"noise": args.noise, "size": args.size, "rows": rows}, indent=2))
    for preset in args.presets:
        gain = [r[preset]["psnr"] - max(r["richardson_lucy"], r["wiener"]) for r in rows]
        print(f"{preset}: mean {statistics.fmean(r[preset]['psnr'] for r in rows):.2f} dB, "
              f"over the better classical method {statistics.fmean(gain):+.2f} dB (worst {min(gain):+.2f})")


if __name__ == "__main__":
    main()
